"""Tests of the data registry and resolve_data_file, on the real files and a real HTTP server."""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evolcoder.data import (
    DATA_FILES,
    DataError,
    cache_dir,
    fetch_all,
    resolve_data_file,
    verify_all,
)

SHARED_DATA = Path(os.environ.get("EVOLCODER_DATA_DIR") or Path(__file__).parents[2].parent / "shared" / "data")
VERIFIED_KEYS = [key for key, entry in DATA_FILES.items() if entry.sha256 is not None]
HUMANEVAL = DATA_FILES["humaneval"]


@pytest.fixture
def shared() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data folder {SHARED_DATA} is missing")
    return SHARED_DATA


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cache mode with an empty cache under tmp_path; returns the cache's data folder."""
    monkeypatch.delenv("EVOLCODER_DATA_DIR", raising=False)
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    return tmp_path / "cache" / "data"


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, requests: list[str], **kwargs) -> None:
        self.requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server:
    """A static file server on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self, directory: Path) -> None:
        self.requests: list[str] = []
        handler = partial(_Handler, directory=str(directory), requests=self.requests)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[[Path], _Server]]:
    servers: list[_Server] = []

    def start(directory: Path) -> _Server:
        servers.append(_Server(directory))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _corrupt_copy(source: Path, dest: Path) -> bytes:
    """Write ``source`` to ``dest`` with one byte changed; return the new bytes."""
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    return bytes(data)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/HumanEval.jsonl.gz"


# --- registry ---------------------------------------------------------------------------------


def test_registry_has_the_expected_keys() -> None:
    assert set(DATA_FILES) == {
        "humaneval",
        "humaneval_plus",
        "humaneval_plus_mini",
        "mbpp",
        "mbpp_sanitized",
        "mbpp_plus",
        "ds1000",
        "code_alpaca_2k",
        "code_alpaca_20k",
        "seaborn_exercise",
        "seaborn_penguins",
        "seaborn_planets",
        "seaborn_tips",
    }
    for key, entry in DATA_FILES.items():
        assert entry.key == key
        assert entry.url.startswith("https://github.com/")
        assert entry.url.rsplit("/", 1)[1] in {
            Path(entry.filename).name,
            Path(entry.filename).name.replace("-v0.1.10", "").replace("-v0.2.0", ""),
        }
        assert entry.filename.startswith("seaborn-data/") == key.startswith("seaborn_")
    assert DATA_FILES["code_alpaca_20k"].sha256 is None


@pytest.mark.parametrize("key", VERIFIED_KEYS)
def test_registry_checksums_match_the_shared_files(shared: Path, key: str) -> None:
    entry = DATA_FILES[key]
    data = (shared / entry.filename).read_bytes()
    assert _sha256(data) == entry.sha256
    assert len(data) == entry.size


# --- data-folder mode -------------------------------------------------------------------------


def test_folder_mode_returns_the_verified_file(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = shared / HUMANEVAL.filename
    assert resolve_data_file("humaneval", shared) == expected
    assert resolve_data_file("humaneval", str(shared)) == expected
    assert resolve_data_file("seaborn_tips", shared) == shared / "seaborn-data" / "tips.csv"
    monkeypatch.setenv("EVOLCODER_DATA_DIR", str(shared))
    assert resolve_data_file("humaneval") == expected


def test_folder_mode_missing_file_names_file_folder_and_url(
    tmp_path: Path, serve: Callable[[Path], _Server], shared: Path
) -> None:
    server = serve(shared)
    url = f"{server.url}/{HUMANEVAL.filename}"
    with pytest.raises(DataError) as info:
        resolve_data_file("humaneval", tmp_path, url=url)
    message = str(info.value)
    assert HUMANEVAL.filename in message
    assert str(tmp_path) in message
    assert HUMANEVAL.url in message
    assert "\n" not in message
    assert server.requests == []  # the data-folder mode never downloads


def test_folder_mode_corrupt_copy_is_a_checksum_error(shared: Path, tmp_path: Path) -> None:
    bad = _corrupt_copy(shared / HUMANEVAL.filename, tmp_path / HUMANEVAL.filename)
    with pytest.raises(DataError, match="checksum mismatch") as info:
        resolve_data_file("humaneval", tmp_path)
    message = str(info.value)
    assert HUMANEVAL.filename in message
    assert HUMANEVAL.sha256 in message
    assert _sha256(bad) in message


def test_unknown_key_lists_the_valid_keys() -> None:
    with pytest.raises(DataError, match="unknown data file 'humaneval2'") as info:
        resolve_data_file("humaneval2")
    assert all(key in str(info.value) for key in DATA_FILES)


def test_fetch_all_and_verify_all_in_a_folder(shared: Path, tmp_path: Path) -> None:
    paths = fetch_all(data_dir=shared)
    assert list(paths) == VERIFIED_KEYS
    assert all(path == shared / DATA_FILES[key].filename for key, path in paths.items())
    assert fetch_all(["mbpp"], data_dir=shared) == {"mbpp": shared / "mbpp.jsonl"}

    status = verify_all(shared)
    assert status == {key: "ok" for key in VERIFIED_KEYS} | {"code_alpaca_20k": "missing"}

    shutil.copy(shared / "mbpp.jsonl", tmp_path / "mbpp.jsonl")
    _corrupt_copy(shared / HUMANEVAL.filename, tmp_path / HUMANEVAL.filename)
    status = verify_all(tmp_path)
    assert status["mbpp"] == "ok"
    assert status["humaneval"] == "checksum mismatch"
    assert status["ds1000"] == "missing"


# --- cache mode -------------------------------------------------------------------------------


def test_cache_dir_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "explicit"
    assert (tmp_path / "explicit").stat().st_mode & 0o777 == 0o700
    monkeypatch.delenv("EVOLCODER_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "evolcoder"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "evolcoder"
    assert (tmp_path / "home" / ".cache" / "evolcoder").stat().st_mode & 0o777 == 0o700


def test_cache_downloads_once_then_reuses(cache: Path, shared: Path, serve: Callable[[Path], _Server]) -> None:
    server = serve(shared)
    url = f"{server.url}/{HUMANEVAL.filename}"
    path = resolve_data_file("humaneval", url=url)
    assert path == cache / HUMANEVAL.filename
    assert path.read_bytes() == (shared / HUMANEVAL.filename).read_bytes()
    assert server.requests == [f"/{HUMANEVAL.filename}"]
    assert sorted(p.name for p in cache.iterdir()) == [HUMANEVAL.filename]  # no temp file left

    assert resolve_data_file("humaneval", url=url) == path
    assert resolve_data_file("humaneval", download=False) == path
    assert len(server.requests) == 1
    assert verify_all()["humaneval"] == "ok"


def test_cache_downloads_into_a_subfolder(cache: Path, shared: Path, serve: Callable[[Path], _Server]) -> None:
    server = serve(shared)
    path = resolve_data_file("seaborn_tips", url=f"{server.url}/seaborn-data/tips.csv")
    assert path == cache / "seaborn-data" / "tips.csv"
    assert path.read_bytes() == (shared / "seaborn-data" / "tips.csv").read_bytes()


def test_cache_wrong_bytes_leave_no_file(
    cache: Path, shared: Path, tmp_path: Path, serve: Callable[[Path], _Server]
) -> None:
    bad_dir = tmp_path / "bad"
    bad = _corrupt_copy(shared / HUMANEVAL.filename, bad_dir / HUMANEVAL.filename)
    server = serve(bad_dir)
    with pytest.raises(DataError, match="checksum mismatch") as info:
        resolve_data_file("humaneval", url=f"{server.url}/{HUMANEVAL.filename}")
    assert HUMANEVAL.sha256 in str(info.value)
    assert _sha256(bad) in str(info.value)
    assert not (cache / HUMANEVAL.filename).exists()
    assert list(cache.iterdir()) == []


def test_cache_http_error(cache: Path, tmp_path: Path, serve: Callable[[Path], _Server]) -> None:
    server = serve(tmp_path / "cache")  # has no HumanEval file: 404
    url = f"{server.url}/nowhere/{HUMANEVAL.filename}"
    with pytest.raises(DataError, match="404") as info:
        resolve_data_file("humaneval", url=url)
    assert url in str(info.value)
    assert not (cache / HUMANEVAL.filename).exists()


def test_cache_server_down_names_url_and_env_var(cache: Path) -> None:
    url = _closed_port_url()
    with pytest.raises(DataError) as info:
        resolve_data_file("humaneval", url=url)
    message = str(info.value)
    assert HUMANEVAL.filename in message
    assert "is not in the cache" in message
    assert str(cache) in message
    assert url in message
    assert "EVOLCODER_DATA_DIR" in message
    assert "\n" not in message
    assert list(cache.iterdir()) == []


def test_cache_no_download_when_turned_off(cache: Path, shared: Path, serve: Callable[[Path], _Server]) -> None:
    server = serve(shared)
    with pytest.raises(DataError, match="downloading is turned off"):
        resolve_data_file("humaneval", download=False, url=f"{server.url}/{HUMANEVAL.filename}")
    assert server.requests == []


def test_cache_corrupt_file_is_downloaded_again(cache: Path, shared: Path, serve: Callable[[Path], _Server]) -> None:
    source = shared / HUMANEVAL.filename
    _corrupt_copy(source, cache / HUMANEVAL.filename)
    assert verify_all()["humaneval"] == "checksum mismatch"
    server = serve(shared)
    path = resolve_data_file("humaneval", url=f"{server.url}/{HUMANEVAL.filename}")
    assert path.read_bytes() == source.read_bytes()
    assert len(server.requests) == 1


def test_cache_corrupt_file_and_server_down(cache: Path, shared: Path) -> None:
    _corrupt_copy(shared / HUMANEVAL.filename, cache / HUMANEVAL.filename)
    with pytest.raises(DataError, match="is corrupt in the cache"):
        resolve_data_file("humaneval", url=_closed_port_url())


def test_cache_file_without_checksum_gets_a_json_sanity_check(
    cache: Path, tmp_path: Path, serve: Callable[[Path], _Server]
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    server = serve(served)
    url = f"{server.url}/code_alpaca_20k.json"

    (served / "code_alpaca_20k.json").write_text('[{"instruction": "x", "input": "", "output": "y"')
    with pytest.raises(DataError, match="not valid JSON"):
        resolve_data_file("code_alpaca_20k", url=url)
    assert not (cache / "code_alpaca_20k.json").exists()

    (served / "code_alpaca_20k.json").write_text('[{"instruction": "x", "input": "", "output": "y"}]')
    path = resolve_data_file("code_alpaca_20k", url=url)
    assert path.read_bytes() == (served / "code_alpaca_20k.json").read_bytes()


def test_the_cli_starts_without_the_http_client() -> None:
    """Every command imports the data layer; only a download needs httpx (≈85 ms of imports)."""
    probe = "import sys, evolcoder.cli; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""Find a data file on disk, downloading and verifying it when needed.

There are two modes:

* **Data folder** (``data_dir`` argument, else ``$EVOLCODER_DATA_DIR``): the file must already be
  in that folder. It is verified but never downloaded, so an offline run stays offline.
* **Cache** (the default): files live in ``cache_dir() / "data"``. A missing or corrupt file is
  downloaded from its official URL to a temporary file next to its final place, verified, and
  then moved into place with ``os.replace``, so no partial or unverified file ever appears under
  the final name.

Every failure is raised as ``DataError`` with a one-line message meant for the user.
"""

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from evolcoder.data.registry import DATA_FILES, DataFile
from evolcoder.errors import UserError

ENV_DATA_DIR = "EVOLCODER_DATA_DIR"
ENV_CACHE_DIR = "EVOLCODER_CACHE_DIR"

_CHUNK_SIZE = 1 << 16
_TIMEOUT_SECONDS, _CONNECT_SECONDS = 30.0, 10.0
_HINT = f"point {ENV_DATA_DIR} / --data-dir at a folder that has it"


class DataError(UserError):
    """A data file is unknown, missing, corrupt or could not be downloaded."""


class _DownloadError(Exception):
    """A download failed; the message is the reason, to be put into a DataError."""


def cache_dir() -> Path:
    """The evolcoder cache folder, created (mode 0o700) if needed.

    ``$EVOLCODER_CACHE_DIR``, else ``$XDG_CACHE_HOME/evolcoder``, else ``~/.cache/evolcoder``.
    """
    explicit = os.environ.get(ENV_CACHE_DIR)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if explicit:
        path = Path(explicit).expanduser()
    elif xdg:
        path = Path(xdg).expanduser() / "evolcoder"
    else:
        path = Path.home() / ".cache" / "evolcoder"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def data_dir_from_env() -> Path | None:
    """The folder named by ``$EVOLCODER_DATA_DIR``, or None when it is unset or empty."""
    value = os.environ.get(ENV_DATA_DIR)
    return Path(value).expanduser() if value else None


def resolve_data_file(
    key: str,
    data_dir: Path | str | None = None,
    *,
    download: bool = True,
    url: str | None = None,
    progress: bool = True,
) -> Path:
    """Return the path of a verified copy of the registry file ``key``.

    With a data folder (``data_dir``, else ``$EVOLCODER_DATA_DIR``) the file must be there.
    Otherwise the cache is used and the file is downloaded from ``url`` (default: the
    registry's official URL) unless ``download`` is False. A progress bar is shown on stderr
    only when ``progress`` is True and stderr is a terminal.
    """
    entry = _entry(key)
    folder = Path(data_dir).expanduser() if data_dir is not None else data_dir_from_env()
    if folder is not None:
        return _from_folder(entry, folder)
    return _from_cache(entry, url=url or entry.url, download=download, progress=progress)


def fetch_all(keys: list[str] | None = None, data_dir: Path | str | None = None) -> dict[str, Path]:
    """Resolve several files (default: every file with a known sha256); stop at the first error.

    Files without a sha256 (``code_alpaca_20k``) are left out by default because they cannot
    be verified; name them in ``keys`` to fetch them anyway.
    """
    if keys is None:
        keys = [key for key, entry in DATA_FILES.items() if entry.sha256 is not None]
    return {key: resolve_data_file(key, data_dir) for key in keys}


def verify_all(data_dir: Path | str | None = None) -> dict[str, str]:
    """Check every registry file without downloading: key -> "ok", "missing" or "checksum mismatch".

    Looks in ``data_dir``, else ``$EVOLCODER_DATA_DIR``, else the cache. For a file without a
    sha256, "checksum mismatch" means it failed the sanity check (size, JSON).
    """
    folder = Path(data_dir).expanduser() if data_dir is not None else data_dir_from_env()
    if folder is None:
        folder = cache_dir() / "data"
    status = {}
    for key, entry in DATA_FILES.items():
        path = folder / entry.filename
        if not path.is_file():
            status[key] = "missing"
        elif _problem(path, entry) is not None:
            status[key] = "checksum mismatch"
        else:
            status[key] = "ok"
    return status


def _entry(key: str) -> DataFile:
    try:
        return DATA_FILES[key]
    except KeyError:
        valid = ", ".join(sorted(DATA_FILES))
        raise DataError(f"unknown data file {key!r}; valid keys are: {valid}") from None


def _from_folder(entry: DataFile, folder: Path) -> Path:
    path = folder / entry.filename
    if not path.is_file():
        raise DataError(
            f"{entry.filename} is not in the data folder {folder}; "
            f"download it from {entry.url} into that folder "
            f"(or unset {ENV_DATA_DIR} / --data-dir to use the download cache)"
        )
    problem = _problem(path, entry)
    if problem is not None:
        raise DataError(f"{entry.filename} in {folder} is not the expected file: {problem}")
    return path


def _from_cache(entry: DataFile, *, url: str, download: bool, progress: bool) -> Path:
    folder = cache_dir() / "data"
    path = folder / entry.filename
    state = "is not in the cache"
    if path.is_file():
        problem = _problem(path, entry)
        if problem is None:
            return path
        state = f"is corrupt in the cache ({problem})"
    if not download:
        raise DataError(
            f"{entry.filename} {state} ({folder}) and downloading is turned off. "
            f"Download it from {url} into that folder yourself or {_HINT}."
        )
    try:
        _download(entry, url, path, progress=progress)
    except _DownloadError as exc:
        raise DataError(
            f"{entry.filename} {state} ({folder}) and could not be downloaded from {url} "
            f"({exc}). Download it there yourself or {_HINT}."
        ) from None
    return path


def _download(entry: DataFile, url: str, dest: Path, *, progress: bool) -> None:
    """Download ``url`` to ``dest`` via a verified temporary file in the same folder."""
    try:
        dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise _DownloadError(f"cannot write to {dest.parent}: {exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, label=entry.filename, progress=progress)
        problem = _problem(tmp, entry)
        if problem is not None:
            raise _DownloadError(f"the downloaded file is wrong: {problem}")
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _DownloadError(f"cannot write to {dest.parent}: {exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stream(url: str, out: BinaryIO, *, label: str, progress: bool) -> None:
    import httpx  # here, not at the top: every command imports this module, few download (≈85 ms)

    show = progress and sys.stderr.isatty()
    timeout = httpx.Timeout(_TIMEOUT_SECONDS, connect=_CONNECT_SECONDS)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
            response.raise_for_status()
            length = response.headers.get("content-length")
            # With a Content-Encoding the length counts compressed bytes, not what we write.
            compressed = "content-encoding" in response.headers
            total = int(length) if length and length.isdigit() and not compressed else None
            with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not show, leave=False) as bar:
                for chunk in response.iter_bytes(_CHUNK_SIZE):
                    out.write(chunk)
                    bar.update(len(chunk))
    except httpx.HTTPStatusError as exc:
        status = exc.response
        raise _DownloadError(f"HTTP {status.status_code} {status.reason_phrase}") from None
    except httpx.HTTPError as exc:
        raise _DownloadError(str(exc) or type(exc).__name__) from None


def _problem(path: Path, entry: DataFile) -> str | None:
    """Why ``path`` is not a good copy of ``entry``, or None when it is.

    With a known sha256 this is a full checksum (and size) check. Without one only a sanity
    check is possible: the size if known, non-empty, and for ``.json`` that the file parses.
    """
    digest, size = _sha256(path)
    if entry.sha256 is not None:
        if digest == entry.sha256 and (entry.size is None or size == entry.size):
            return None
        return f"checksum mismatch: sha256 is {digest} ({size} bytes), expected {entry.sha256} ({entry.size} bytes)"
    if entry.size is not None and size != entry.size:
        return f"size mismatch: {size} bytes, expected {entry.size}"
    if size == 0:
        return "the file is empty"
    if entry.filename.endswith(".json"):  # not path.suffix: a download is a .part file
        try:
            with path.open("rb") as f:
                json.load(f)
        except ValueError as exc:
            return f"not valid JSON ({exc})"
    return None


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file (data files, training data, stage outputs)."""
    return _sha256(Path(path))[0]


def _sha256(path: Path) -> tuple[str, int]:
    """The sha256 hex digest and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size

"""The separate, pinned Python environment that DS-1000 programs run in.

DS-1000 needs old library versions (pandas 1.5, numpy 1.26, tensorflow 2.16, ...) that must not
constrain evolcoder's own dependencies, so its programs run in an environment of their own: a
venv under ``cache_dir()/envs/ds1000-<hash of the pins>``, created once with ``python -m venv``
and pip (``evolcoder setup ds1000``, or on first use). Changing a pin changes the folder, so a
stale environment is never reused. ``$EVOLCODER_DS1000_PYTHON`` points at an existing interpreter
instead (its versions are recorded, not enforced).

Creation is atomic: the venv is built in a temporary folder beside its final place, the marker
file is written last and the folder is then renamed into place, all under a file lock so two
processes never build it at once. A folder without the marker is never used.

``run_program`` runs one DS-1000 test program in that interpreter as a plain subprocess, the
official way (one fresh process, a scratch working folder, CPU only). It has **no sandbox** and
exists to validate the environment with the *reference* solutions; candidate solutions must only
ever run in the sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from evolcoder.data.fetch import cache_dir
from evolcoder.resume import write_json_atomic

ENV_PYTHON = "EVOLCODER_DS1000_PYTHON"
PYTHON_VERSION = "3.11"

# Installed first and alone: ``torch==2.13.0`` resolves to the CPU wheel on local disk, while a
# looser spec (or resolving it together with the rest) can pull a multi-GB CUDA build.
TORCH_REQUIREMENT = "torch==2.13.0"

# What the issue lists, exactly: the versions DS-1000's reference solutions were run with here
# (999/1000 pass offline). DS-1000 itself pins torch 2.2.0, which has no wheel in this registry.
REQUIREMENTS: tuple[str, ...] = (
    "numpy==1.26.4",
    "pandas==1.5.3",
    "scipy==1.12.0",
    "scikit-learn==1.4.0",
    "matplotlib==3.8.4",
    "tensorflow-cpu==2.16.1",
    "seaborn==0.13.2",
    "statsmodels==0.14.1",
    "xgboost==2.0.3",
    "gensim==4.3.2",
    "pyyaml==6.0.3",  # problem 15 imports yaml; the issue names no version
)

# Everything else pip installs, pinned too (pip's resolution of the pins above on Python 3.11 when
# this list was written, checked by running the reference solutions), so that two machines build
# the same environment. Only pip itself is left as the venv brings it.
CONSTRAINTS: tuple[str, ...] = (
    "absl-py==2.5.1",
    "astunparse==1.6.3",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "cloudpickle==3.1.3",
    "contourpy==1.3.3",
    "cycler==0.12.1",
    "filelock==4.3.1",
    "flatbuffers==25.12.19",
    "fonttools==4.68.0",
    "fsspec==2026.9.0",
    "gast==0.7.0",
    "google-pasta==0.2.0",
    "grpcio==1.85.3",
    "h5py==3.16.0",
    "idna==3.20",
    "jinja2==3.1.6",
    "joblib==1.6.0",
    "keras==3.15.1",
    "kiwisolver==1.5.1",
    "libclang==18.1.1",
    "markdown==3.11.3",
    "markdown-it-py==4.3.0",
    "markupsafe==3.0.4",
    "mdurl==0.1.2",
    "ml-dtypes==0.3.2",
    "mpmath==1.3.0",
    "namex==0.1.0",
    "networkx==3.6.1",
    "opt-einsum==3.4.0",
    "optree==0.20.0",
    "packaging==26.4",
    "patsy==1.0.3",
    "pillow==13.0.0",
    "protobuf==4.25.9",
    "pygments==2.21.0",
    "pyparsing==3.3.3",
    "python-dateutil==4.0.0",
    "pytz==2026.6",
    "requests==2.34.2",
    "rich==15.0.0",
    "setuptools==84.2.1",
    "six==1.17.0",
    "smart-open==9.0.2",
    "sympy==1.14.0",
    "tensorboard==2.16.2",
    "tensorboard-data-server==0.7.2",
    "tensorflow-io-gcs-filesystem==0.37.1",
    "termcolor==3.3.0",
    "threadpoolctl==3.8.0",
    "typing-extensions==4.16.0",
    "tzdata==2026.6",
    "urllib3==2.8.0",
    "werkzeug==3.1.9",
    "wheel==0.48.0",
    "wrapt==2.5.2",
)

MARKER = "evolcoder-env.json"  # written last: its presence means the environment is complete
VERSIONS_FILE = "evolcoder-versions.json"

# Set for every DS-1000 program: CPU only, no display, quiet TensorFlow, one thread per library.
PROGRAM_ENV: dict[str, str] = {
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "Agg",
    "CUDA_VISIBLE_DEVICES": "-1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KMP_DUPLICATE_LIB_OK": "TRUE",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
}


class DS1000EnvError(Exception):
    """The DS-1000 environment is missing, broken or could not be created (one-line message)."""


def pins() -> dict:
    """Everything that decides the environment's content (hashed into its folder name)."""
    return {
        "python": PYTHON_VERSION,
        "first": [TORCH_REQUIREMENT],
        "requirements": list(REQUIREMENTS),
        "constraints": list(CONSTRAINTS),
    }


def pins_hash(spec: Mapping | None = None) -> str:
    data = json.dumps(spec if spec is not None else pins(), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:12]


def env_dir() -> Path:
    """Where the managed environment lives (it may not exist yet)."""
    return cache_dir() / "envs" / f"ds1000-{pins_hash()}"


def env_python(folder: Path | None = None) -> Path:
    return (folder or env_dir()) / "bin" / "python"


def is_complete(folder: Path | None = None) -> bool:
    folder = folder or env_dir()
    return (folder / MARKER).is_file() and env_python(folder).exists()


def pinned_versions() -> dict[str, str]:
    """Distribution name -> pinned version, for the pins the issue lists (torch first)."""
    result = {}
    for requirement in (TORCH_REQUIREMENT, *REQUIREMENTS):
        name, _, version = requirement.partition("==")
        result[name] = version
    return result


def ensure_env(progress: bool = True) -> Path:
    """The interpreter of the DS-1000 environment, creating the environment first if needed.

    ``$EVOLCODER_DS1000_PYTHON`` wins when set (it must exist). Otherwise the managed environment
    is created under the cache on first use: about 3 GB on disk and a few minutes, once.
    A one-line notice goes to stderr when the environment is created (or waited for); with
    ``progress`` pip's output follows it.
    """
    override = os.environ.get(ENV_PYTHON)
    if override:
        python = Path(override).expanduser().absolute()
        if not (python.is_file() and os.access(python, os.X_OK)):
            raise DS1000EnvError(f"{ENV_PYTHON}={override} is not an executable file")
        return python
    folder = env_dir()
    if is_complete(folder):
        return env_python(folder)
    with _lock(folder):
        if not is_complete(folder):  # another process may have built it while we waited
            _create(folder, progress)
    return env_python(folder)


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"waiting for another process that is creating the DS-1000 environment {folder}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(message: str) -> None:
    print(f"evolcoder: {message}", file=sys.stderr, flush=True)


def base_python() -> str:
    """A Python 3.11 interpreter to create the venv with: this one, else ``python3.11`` on PATH."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON_VERSION:
        return sys.executable  # venv uses the base interpreter even when run from a venv
    name = f"python{PYTHON_VERSION}"
    found = shutil.which(name)
    if found is None:
        raise DS1000EnvError(
            f"the DS-1000 environment needs Python {PYTHON_VERSION} (its pinned wheels exist "
            f"for it), but this is Python {platform.python_version()} and {name} is not on PATH; "
            f"install it or point {ENV_PYTHON} at a prepared interpreter"
        )
    return found


def _create(folder: Path, progress: bool) -> None:
    """Build the environment in a temporary folder beside ``folder``, then rename it into place."""
    parent = folder.parent
    for stale in parent.glob(f".{folder.name}.tmp-*"):  # left by a build that was killed
        shutil.rmtree(stale, ignore_errors=True)
    if folder.exists():  # incomplete (no marker): not ours to trust
        shutil.rmtree(folder, ignore_errors=True)
    tmp = parent / f".{folder.name}.tmp-{os.getpid()}"
    log = parent / f"{folder.name}.log"
    started = time.monotonic()
    # Always said, so a build is never silent; ``progress`` only adds pip's output.
    _say(
        f"creating the DS-1000 environment (pinned numpy 1.26.4, pandas 1.5.3, tensorflow-cpu 2.16.1, "
        f"torch 2.13.0 CPU, ...) in {folder}: about 3 GB and several minutes, once. Log: {log}"
    )
    try:
        with open(log, "w", encoding="utf-8") as log_file:
            venv = [base_python(), "-m", "venv", "--prompt", folder.name, str(tmp)]
            _step(venv, "python -m venv", log_file, progress)
            python = str(env_python(tmp))
            constraints = tmp / "evolcoder-constraints.txt"
            pinned = [TORCH_REQUIREMENT, *REQUIREMENTS, *CONSTRAINTS]
            constraints.write_text("\n".join(pinned) + "\n", encoding="utf-8")
            pip = [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", "-c", str(constraints)]
            if not (progress and sys.stderr.isatty()):
                pip += ["--progress-bar", "off"]
            _step([*pip, TORCH_REQUIREMENT], f"pip install {TORCH_REQUIREMENT}", log_file, progress)
            _step([*pip, *REQUIREMENTS], "pip install of the DS-1000 libraries", log_file, progress)
            versions = _query_versions(python)
            wrong = version_mismatches(versions)
            if wrong:
                raise DS1000EnvError(f"the new DS-1000 environment has the wrong versions: {'; '.join(wrong)}")
        _fix_scripts(tmp, folder)
        (tmp / VERSIONS_FILE).write_text(json.dumps(versions, indent=1, sort_keys=True) + "\n")
        marker = {
            "pins": pins(),
            "hash": pins_hash(),
            "base_python": _base_of(tmp),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(time.monotonic() - started, 1),
            "bytes": folder_size(tmp),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")  # last: the folder is complete
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _say(f"DS-1000 environment ready in {marker['seconds']:.0f} s ({marker['bytes'] / 1e9:.1f} GB): {folder}")


def _base_of(venv: Path) -> str:
    """The interpreter a venv was made from (its ``pyvenv.cfg``), for the record."""
    config = {}
    with contextlib.suppress(OSError):
        for line in (venv / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            config[key.strip()] = value.strip()
    return config.get("executable") or config.get("home") or base_python()


def _step(command: list[str], what: str, log_file, progress: bool) -> None:
    """Run one creation step; its output goes to the log (and to stderr with ``progress``)."""
    log_file.write(f"$ {' '.join(command)}\n")
    log_file.flush()
    tail: list[str] = []
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        log_file.write(line)
        tail = (tail + [line.rstrip()])[-5:]
        if progress:
            sys.stderr.write(line)
    code = proc.wait()
    log_file.flush()
    if code != 0:
        last = next((line for line in reversed(tail) if line.strip()), "no output")
        raise DS1000EnvError(f"creating the DS-1000 environment failed at {what} (exit {code}): {last}")


def _fix_scripts(tmp: Path, folder: Path) -> None:
    """Point the venv's scripts (shebangs, activate) at the final folder instead of the temporary one."""
    old, new = str(tmp).encode(), str(folder).encode()
    for path in (tmp / "bin").iterdir():
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))


def folder_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


_VERSIONS_SCRIPT = """
import importlib.metadata as m, json, platform, sys
out = {"python": platform.python_version()}
for name in sys.argv[1:]:
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


def _query_versions(python: str | Path) -> dict[str, str | None]:
    try:
        proc = subprocess.run(
            [str(python), "-s", "-c", _VERSIONS_SCRIPT, *pinned_versions()],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DS1000EnvError(f"cannot run the DS-1000 interpreter {python}: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise DS1000EnvError(f"the DS-1000 interpreter {python} failed to report its versions: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def env_versions(python: str | Path | None = None) -> dict[str, str | None]:
    """``python`` and the version of every pinned library, as installed in that environment.

    Asked from inside the environment (``importlib.metadata``) and cached in a JSON file: inside
    the managed environment (written when it was built), else under ``cache_dir()/envs``, keyed by
    the interpreter path and refreshed when its site-packages change. A missing library is None.
    """
    python = Path(python).absolute() if python is not None else ensure_env(progress=False)
    folder = python.parent.parent
    if (folder / MARKER).is_file() and (folder / VERSIONS_FILE).is_file():
        return json.loads((folder / VERSIONS_FILE).read_text())
    stamp = _site_packages_stamp(folder)
    key = hashlib.sha256(str(python).encode()).hexdigest()[:12]
    cached = cache_dir() / "envs" / f"versions-{key}.json"
    if stamp is not None and cached.is_file():
        with contextlib.suppress(ValueError, KeyError):
            data = json.loads(cached.read_text())
            if data["python_path"] == str(python) and data["stamp"] == stamp:
                return data["versions"]
    versions = _query_versions(python)
    if stamp is not None:
        cached.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        record = {"python_path": str(python), "stamp": stamp, "versions": versions}
        write_json_atomic(cached, record, indent=1, sort_keys=True)
    return versions


def _site_packages_stamp(prefix: Path) -> list | None:
    """Changes whenever a package is added to or removed from the environment at ``prefix``."""
    folders = sorted(prefix.glob("lib/python3*/site-packages"))
    if not folders:
        return None
    return [[str(f), f.stat().st_mtime_ns] for f in folders]


def version_mismatches(versions: Mapping[str, str | None]) -> list[str]:
    """Pinned libraries whose installed version differs ("name: 1.0 (pinned 2.0)")."""
    wrong = []
    for name, pinned in pinned_versions().items():
        found = versions.get(name)
        if found is None or found.split("+")[0] != pinned:
            wrong.append(f"{name}: {found or 'missing'} (pinned {pinned})")
    return wrong


def describe_env(python: str | Path | None = None) -> dict:
    """What a result should record about the environment it ran in."""
    override = os.environ.get(ENV_PYTHON)
    python = Path(python).absolute() if python is not None else ensure_env(progress=False)
    managed = (python.parent.parent / MARKER).is_file()
    return {
        "python_path": str(python),
        "source": "managed" if managed else (ENV_PYTHON if override else "given"),
        "pins_hash": pins_hash() if managed else None,
        "versions": env_versions(python),
    }


@dataclass(frozen=True)
class ProgramResult:
    """How one DS-1000 test program ended."""

    passed: bool  # ran to its end: test_execution (and test_string) raised nothing
    returncode: int | None  # None when it was killed for time
    timed_out: bool
    seconds: float
    output: str  # stdout and stderr together, the last ``max_output`` characters


def program_env(workdir: Path | str, seaborn_data: Path | str | None = None) -> dict[str, str]:
    """The environment variables a DS-1000 program runs with (nothing else is inherited but PATH)."""
    workdir = str(workdir)
    env = dict(PROGRAM_ENV)
    env.update(
        PATH=os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        HOME=workdir,
        TMPDIR=workdir,
        MPLCONFIGDIR=os.path.join(workdir, ".matplotlib"),
    )
    if seaborn_data is not None:
        env["SEABORN_DATA"] = str(seaborn_data)
    return env


def run_program(
    program: str,
    python: str | Path | None = None,
    *,
    seaborn_data: Path | str | None = None,
    timeout: float = 120.0,
    max_output: int = 20_000,
) -> ProgramResult:
    """Run one DS-1000 test program in a fresh interpreter of the DS-1000 environment.

    NOT SANDBOXED: only for trusted programs (the reference solutions, to validate the
    environment). The program runs the official way: one fresh process, a scratch working folder
    (the Matplotlib tests write ``output.png`` / ``ans.png`` there), no GPU. It is fed on stdin and
    passes only when it reaches its end (a token printed after the tests), so ``exit(0)`` midway
    fails, as an exception does.
    """
    python = str(python) if python is not None else str(ensure_env(progress=False))
    token = secrets.token_hex(16)
    source = f"{program}\nimport sys as _ds1000_sys\n_ds1000_sys.stdout.write('\\n{token}\\n')\n"
    with tempfile.TemporaryDirectory(prefix="evolcoder-ds1000-") as workdir:
        started = time.monotonic()
        proc = subprocess.Popen(
            [python, "-s", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=program_env(workdir, seaborn_data),
            start_new_session=True,
        )
        timed_out = False
        try:
            out, _ = proc.communicate(source.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        seconds = time.monotonic() - started
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the program left behind
    text = out.decode("utf-8", "replace")
    reached_end = f"\n{token}\n" in text
    text = text.replace(f"\n{token}\n", "\n")
    passed = not timed_out and proc.returncode == 0 and reached_end
    return ProgramResult(
        passed=passed,
        returncode=None if timed_out else proc.returncode,
        timed_out=timed_out,
        seconds=round(seconds, 3),
        output=text[-max_output:],
    )

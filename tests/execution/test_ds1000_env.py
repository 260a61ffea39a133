"""The pinned DS-1000 environment: pins, its place in the cache, creation, overrides, running programs.

The fast tests never build the real environment; ``test_reference_solutions_pass_in_the_env``
(slow) creates it on first use in the evolcoder cache (about 3 GB, minutes, once) and runs
reference solutions there.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

from evolcoder.bench import ds1000
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.execution import ds1000_env
from evolcoder.execution.ds1000_env import DS1000EnvError

# The versions the issue lists (measured there: 999/1000 reference solutions pass offline).
ISSUE_PINS = {
    "torch": "2.13.0",
    "numpy": "1.26.4",
    "pandas": "1.5.3",
    "scipy": "1.12.0",
    "scikit-learn": "1.4.0",
    "matplotlib": "3.8.4",
    "tensorflow-cpu": "2.16.1",
    "seaborn": "0.13.2",
    "statsmodels": "0.14.1",
    "xgboost": "2.0.3",
    "gensim": "4.3.2",
}


@pytest.fixture
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ds1000_env.ENV_PYTHON, raising=False)


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty evolcoder cache for this test alone (environments built here must not leak)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(folder))
    return folder


def test_pins_are_what_the_issue_lists() -> None:
    pinned = ds1000_env.pinned_versions()
    assert {k: v for k, v in pinned.items() if k != "pyyaml"} == ISSUE_PINS
    assert "pyyaml" in pinned  # problem 15 imports yaml
    assert ds1000_env.TORCH_REQUIREMENT == "torch==2.13.0"  # exact: the CPU wheel, installed first
    assert ds1000_env.PYTHON_VERSION == "3.11"
    everything = [ds1000_env.TORCH_REQUIREMENT, *ds1000_env.REQUIREMENTS, *ds1000_env.CONSTRAINTS]
    assert all(r.count("==") == 1 for r in everything)  # every package pinned exactly
    names = [r.split("==")[0].lower() for r in everything]
    assert len(names) == len(set(names))
    assert not any(name.startswith("nvidia") for name in names)  # no CUDA build


def test_env_dir_is_in_the_cache_and_changes_with_the_pins(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = ds1000_env.env_dir()
    assert folder.parent == own_cache / "envs"
    assert folder.name == f"ds1000-{ds1000_env.pins_hash()}"
    assert len(ds1000_env.pins_hash()) == 12
    assert ds1000_env.env_dir() == folder  # stable
    seen = {folder}
    changed = [r.replace("pandas==1.5.3", "pandas==1.5.2") for r in ds1000_env.REQUIREMENTS]
    with monkeypatch.context() as patch:
        patch.setattr(ds1000_env, "REQUIREMENTS", tuple(changed))
        seen.add(ds1000_env.env_dir())
    with monkeypatch.context() as patch:
        patch.setattr(ds1000_env, "CONSTRAINTS", (*ds1000_env.CONSTRAINTS[:-1], "wrapt==1.16.0"))
        seen.add(ds1000_env.env_dir())
    with monkeypatch.context() as patch:
        patch.setattr(ds1000_env, "TORCH_REQUIREMENT", "torch==2.2.0")
        seen.add(ds1000_env.env_dir())
    assert len(seen) == 4
    assert ds1000_env.env_dir() == folder


def test_override_points_at_an_existing_interpreter(
    own_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ds1000_env.ENV_PYTHON, sys.executable)
    assert ds1000_env.ensure_env(progress=False) == Path(sys.executable).absolute()
    assert not ds1000_env.env_dir().exists()  # nothing built
    versions = ds1000_env.env_versions(sys.executable)
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert set(versions) == {"python", *ds1000_env.pinned_versions()}
    import numpy

    assert versions["numpy"] == numpy.__version__
    assert any(p.name.startswith("versions-") for p in (own_cache / "envs").iterdir())  # cached beside

    def no_query(python):
        raise AssertionError("asked again")

    monkeypatch.setattr(ds1000_env, "_query_versions", no_query)
    assert ds1000_env.env_versions(sys.executable) == versions
    info = ds1000_env.describe_env()
    assert info["source"] == ds1000_env.ENV_PYTHON and info["versions"] == versions

    monkeypatch.setenv(ds1000_env.ENV_PYTHON, str(tmp_path / "missing" / "python"))
    with pytest.raises(DS1000EnvError, match="EVOLCODER_DS1000_PYTHON"):
        ds1000_env.ensure_env(progress=False)


def test_version_mismatches() -> None:
    good = dict(ds1000_env.pinned_versions(), torch="2.13.0+cpu", python="3.11.7")
    assert ds1000_env.version_mismatches(good) == []
    bad = dict(good, pandas="2.2.0", gensim=None)
    assert ds1000_env.version_mismatches(bad) == [
        "pandas: 2.2.0 (pinned 1.5.3)",
        "gensim: missing (pinned 4.3.2)",
    ]


@pytest.fixture
def fake_build(own_cache: Path, no_override: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Creation with a real ``python -m venv`` (no pip) and the pip steps only recorded."""
    steps: list[str] = []
    real_step = ds1000_env._step

    def step(command, what, log_file, progress):
        steps.append(what)
        if what == "python -m venv":
            real_step([*command, "--without-pip"], what, log_file, progress)

    def versions(python):
        return dict(ds1000_env.pinned_versions(), python="3.11.0")

    monkeypatch.setattr(ds1000_env, "_step", step)
    monkeypatch.setattr(ds1000_env, "_query_versions", versions)
    return steps


def test_creation_is_atomic_and_happens_once(fake_build: list[str], capfd: pytest.CaptureFixture) -> None:
    folder = ds1000_env.env_dir()
    python = ds1000_env.ensure_env(progress=True)
    assert python == folder / "bin" / "python" and os.access(python, os.X_OK)
    assert fake_build == [
        "python -m venv",
        "pip install torch==2.13.0",  # torch first, alone
        "pip install of the DS-1000 libraries",
    ]
    err = capfd.readouterr().err
    assert "creating the DS-1000 environment" in err and "several minutes" in err
    marker = json.loads((folder / ds1000_env.MARKER).read_text())
    assert marker["hash"] == ds1000_env.pins_hash() and marker["pins"] == ds1000_env.pins()
    assert json.loads((folder / ds1000_env.VERSIONS_FILE).read_text())["numpy"] == "1.26.4"
    assert ds1000_env.env_versions(python)["pandas"] == "1.5.3"  # read from the file written at build time
    assert not list(folder.parent.glob(".ds1000-*"))  # no temporary folder left
    assert "tmp-" not in (folder / "bin" / "activate").read_text()  # scripts point at the final folder
    assert ds1000_env.describe_env(python)["source"] == "managed"
    assert ds1000_env.ensure_env(progress=False) == python
    assert len(fake_build) == 3  # not built again


def test_concurrent_callers_build_once(fake_build: list[str]) -> None:
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ds1000_env.ensure_env(progress=False))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(set(results)) == 1
    assert fake_build.count("python -m venv") == 1


def test_a_failed_creation_leaves_nothing(own_cache: Path, no_override: None, monkeypatch: pytest.MonkeyPatch) -> None:
    real_step = ds1000_env._step

    def step(command, what, log_file, progress):
        if what.startswith("pip"):
            raise DS1000EnvError(f"creating the DS-1000 environment failed at {what} (exit 1): no such version")
        real_step([*command, "--without-pip"], what, log_file, progress)

    monkeypatch.setattr(ds1000_env, "_step", step)
    with pytest.raises(DS1000EnvError, match="no such version"):
        ds1000_env.ensure_env(progress=False)
    folder = ds1000_env.env_dir()
    assert not folder.exists()
    assert not list(folder.parent.glob(".ds1000-*"))
    assert (folder.parent / f"{folder.name}.log").is_file()
    # An incomplete folder (no marker) is never used: it is rebuilt.
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(sys.executable)
    assert not ds1000_env.is_complete(folder)


def test_run_program_reports_how_a_program_ended(tmp_path: Path) -> None:
    # The runner itself, with this interpreter (trusted one-liners only: it is not a sandbox).
    ok = ds1000_env.run_program("print('hello')\n", sys.executable, seaborn_data=tmp_path, timeout=30)
    assert ok.passed and ok.returncode == 0 and not ok.timed_out and ok.output.strip() == "hello"
    failing = ds1000_env.run_program("assert 1 == 2\n", sys.executable, timeout=30)
    assert not failing.passed and failing.returncode == 1 and "AssertionError" in failing.output
    early_exit = ds1000_env.run_program("import sys\nsys.exit(0)\n", sys.executable, timeout=30)
    assert early_exit.returncode == 0 and not early_exit.passed  # did not reach the end of the tests
    slow = ds1000_env.run_program("import time\ntime.sleep(30)\n", sys.executable, timeout=1)
    assert slow.timed_out and not slow.passed and slow.returncode is None and slow.seconds < 10
    env = ds1000_env.run_program(
        "import os, json\nprint(json.dumps({k: os.environ.get(k) for k in "
        "('HOME', 'MPLBACKEND', 'SEABORN_DATA', 'CUDA_VISIBLE_DEVICES', 'EVOLCODER_DATA_DIR')}))\n"
        "print(os.getcwd())\n",
        sys.executable,
        seaborn_data=tmp_path,
        timeout=30,
    )
    seen, cwd = env.output.strip().splitlines()
    seen = json.loads(seen)
    assert seen["MPLBACKEND"] == "Agg" and seen["CUDA_VISIBLE_DEVICES"] == "-1"
    assert seen["SEABORN_DATA"] == str(tmp_path)
    assert seen["HOME"] == cwd and seen["EVOLCODER_DATA_DIR"] is None  # a scratch folder, nothing inherited
    assert not Path(cwd).exists()  # removed afterwards


def _chosen_tasks() -> list[ds1000.DS1000Task]:
    tasks = ds1000.load(data_dir_from_env())
    chosen = []
    for library in ds1000.LIBRARIES:
        chosen += [t for t in tasks if t.library == library and t.problem_id not in ds1000.NEEDS_NETWORK][:2]
    by_id = {t.problem_id: t for t in tasks}
    chosen.append(by_id[519])  # seaborn.load_dataset: needs SEABORN_DATA
    chosen.append(by_id[11])  # has test_string
    chosen.append(next(t for t in tasks if t.is_function and t.library == "Tensorflow"))
    return chosen


@pytest.mark.slow
def test_reference_solutions_pass_in_the_env(no_override: None) -> None:
    python = ds1000_env.ensure_env(progress=True)  # built on first use, in the evolcoder cache
    versions = ds1000_env.env_versions(python)
    assert ds1000_env.version_mismatches(versions) == []
    assert versions["python"].startswith("3.11.")
    data = data_dir_from_env()
    seaborn_data = ds1000.seaborn_data_dir(data)
    failures = []
    for task in _chosen_tasks():
        # As a chat model would answer: the code comes out of the fenced block again.
        answer = f"Here is the solution:\n```python\n{task.reference}```\nIt works because ..."
        code = ds1000.postprocess(answer, task)
        result = ds1000_env.run_program(ds1000.program(task, code), python, seaborn_data=seaborn_data)
        if not result.passed:
            failures.append(f"{task.task_id} ({task.library}): {result.output[-1500:]}")
    assert not failures, "\n\n".join(failures)

    wrong = {
        0: "result = df\n",  # Pandas: rows not reordered
        291: "result = None\n",  # Numpy
        511: "plt.plot(x, y)\n",  # Matplotlib: no legend
        932: "pass\n",  # Pytorch: learning rate left as it was
    }
    tasks = {t.problem_id: t for t in ds1000.load(data)}
    for problem_id, code in wrong.items():
        result = ds1000_env.run_program(ds1000.program(tasks[problem_id], code), python, seaborn_data=seaborn_data)
        assert not result.passed and not result.timed_out, problem_id
        assert "Traceback" in result.output, problem_id
    result = ds1000.run_reference(tasks[666], python, data)  # Tensorflow, through the convenience wrapper
    assert result.passed, result.output[-1500:]

"""``evolcoder eval --benchmark ds1000``: DS-1000 programs in the data-science sandbox profile.

These run in the pinned DS-1000 environment, created on first use in the evolcoder cache (minutes,
once; CI keeps it in ``.ci-cache``). The slow test runs all 1000 reference solutions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evolcoder.bench import ds1000
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval.judge import FAIL, PASS, judge_program
from evolcoder.execution.ds1000_env import pinned_versions, version_mismatches
from evolcoder.execution.ds1000_sandbox import ds1000_sandbox
from evolcoder.execution.worker import Worker


def cli(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "evolcoder.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tasks() -> dict[int, ds1000.DS1000Task]:
    return {t.problem_id: t for t in ds1000.load(data_dir_from_env())}


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def evaluate(samples: Path, out: Path, *extra: str) -> dict:
    result = cli("eval", "--benchmark", "ds1000", "--samples", str(samples), "--output-dir", str(out), *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((out / "eval_results.json").read_text())


def verdicts(out: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    return {r["task_id"]: r for r in rows}


def sample_of_every_library(tasks: dict[int, ds1000.DS1000Task]) -> list[ds1000.DS1000Task]:
    chosen = []
    for library in ds1000.LIBRARIES:
        of_library = [t for t in tasks.values() if t.library == library and t.problem_id not in ds1000.NEEDS_NETWORK]
        chosen += [of_library[0], of_library[len(of_library) // 2], of_library[-1]]
    chosen.append(tasks[519])  # seaborn.load_dataset: reads SEABORN_DATA through the sandbox
    chosen.append(tasks[11])  # has test_string
    chosen.append(next(t for t in tasks.values() if t.is_function and t.library == "Tensorflow"))
    return chosen


def test_reference_solutions_of_every_library_pass_in_the_sandbox(tmp_path: Path, tasks: dict) -> None:
    chosen = sample_of_every_library(tasks)
    # As a chat model answers, in DS-1000's own answer format: the code is cut out again.
    rows = [{"id": t.problem_id, "code": f"<code>\n{t.reference}</code>\nThat's it."} for t in chosen]
    results = evaluate(write_samples(tmp_path / "refs.jsonl", rows), tmp_path / "eval")

    failed = {tid: r["base_fail_tests"] for tid, r in verdicts(tmp_path / "eval").items() if r["base_status"] != PASS}
    assert not failed
    assert results["pass_at_k"]["base"]["pass@1"] == 1.0
    assert set(results["per_library"]) == set(ds1000.LIBRARIES)
    assert sum(row["n_tasks"] for row in results["per_library"].values()) == len({t.task_id for t in chosen})
    assert set(results["per_perturbation"]) <= set(ds1000.PERTURBATIONS)
    # Every result says which environment the programs ran in, and which protections held.
    versions = results["environment"]["versions"]
    assert set(pinned_versions()) <= set(versions) and version_mismatches(versions) == []
    assert all(results["sandbox"][p] for p in ("pid_namespace", "network_namespace", "read_only_root", "audit_hook"))


def test_wrong_answers_fail_and_the_network_problem_fails_with_its_reason(tmp_path: Path, tasks: dict) -> None:
    wrong = {
        0: "result = df\n",  # Pandas: rows not reordered
        291: "result = None\n",  # Numpy
        511: "plt.plot(x, y)\n",  # Matplotlib: no legend
        932: "pass\n",  # Pytorch: learning rate left as it was
        666: "result = 1 / 0\n",  # Tensorflow: raises
        292: "import sys\nsys.exit(0)\n" + tasks[292].reference,  # leaves before the tests: not a pass
        293: "import os\nos._exit(0)\n",  # leaves without a word
    }
    rows = [{"task_id": ds1000.task_id(p), "solution": code} for p, code in wrong.items()]
    rows.append({"task_id": "DS1000/819", "solution": tasks[819].reference})
    rows.append({"task_id": "DS1000/1", "solution": tasks[1].reference})  # one right answer among them
    results = evaluate(write_samples(tmp_path / "s.jsonl", rows), tmp_path / "eval")

    rows = verdicts(tmp_path / "eval")
    assert rows["DS1000/1"]["base_status"] == PASS
    # Matplotlib (511) and the optimizer problems (932) are judged beside the candidate, the rest apart.
    assert {tid for tid, row in rows.items() if row["in_process"]} == {"DS1000/511", "DS1000/932"}
    assert results["in_process"] == {"n_tasks": 2, "task_ids": ["DS1000/511", "DS1000/932"]}
    for problem_id in wrong:
        assert rows[ds1000.task_id(problem_id)]["base_status"] == FAIL, problem_id
    assert "exited before its end" in rows["DS1000/292"]["base_fail_tests"][0]
    assert rows["DS1000/819"]["base_status"] == FAIL
    # Its test fetches its input, in the test process: the sandbox's network namespace has no route out.
    assert "urlopen error" in rows["DS1000/819"]["base_fail_tests"][0]
    assert results["needs_network"] == ["DS1000/819"]
    assert results["pass_at_k"]["base"]["pass@1"] == pytest.approx(1 / len(rows))


def test_library_and_limit_select_the_samples(tmp_path: Path, tasks: dict) -> None:
    rows = [{"task_id": t.task_id, "solution": t.reference} for t in tasks.values() if t.problem_id < 300]
    samples = write_samples(tmp_path / "s.jsonl", rows)  # Pandas (0-290) and a few Numpy problems
    results = evaluate(samples, tmp_path / "eval", "--library", "numpy", "--limit", "3")
    assert results["n_tasks"] == 3 and list(results["per_library"]) == ["Numpy"]
    assert sorted(verdicts(tmp_path / "eval")) == ["DS1000/291", "DS1000/292", "DS1000/293"]

    wrong = cli("eval", "--benchmark", "humaneval", "--samples", str(samples), "--library", "numpy")
    assert wrong.returncode == 2 and "--library" in wrong.stderr


# ---------------------------------------------------------------------------------------------
# the data-science profile keeps every protection DS-1000 does not need
# ---------------------------------------------------------------------------------------------

PROBES = {
    # What DS-1000 needs: a writable working folder, the seaborn data, Agg, no GPU.
    "writes its working folder": "import os\nopen('out.png', 'wb').write(b'x')\nassert os.path.getsize('out.png')",
    "reads the seaborn data": "import os; assert os.listdir(os.environ['SEABORN_DATA'])",
    "plots with Agg": "import matplotlib; assert matplotlib.get_backend().lower() == 'agg'",
    "sees no GPU": "import os; assert os.environ['CUDA_VISIBLE_DEVICES'] == '-1'",
    "fresh numpy randomness": "import numpy as np; print(np.random.randint(1 << 30))",
    # What it does not get.
    "cannot write the repository": f"""
try:
    open({str(Path(__file__).resolve())!r}, 'a')
except OSError:
    pass
else:
    raise AssertionError('wrote a file outside its folder')
""",
    "cannot see the benchmark files": "import os\nassert not [f for f in os.listdir(DATA) if '.json' in f]",
    "cannot see the home folder": "import os\nassert not os.path.exists(HOME_FILE)",
    "cannot connect": """
import socket
try:
    socket.create_connection(('127.0.0.1', 22), timeout=1)
except (OSError, PermissionError):
    pass
else:
    raise AssertionError('connected')
""",
    "cannot start programs": """
import subprocess
try:
    subprocess.run(['/bin/true'])
except PermissionError:
    pass
else:
    raise AssertionError('started a program')
""",
}


def test_the_profile_allows_what_ds1000_needs_and_blocks_the_rest(tmp_path: Path) -> None:
    data = data_dir_from_env()
    home_file = Path.home() / ".evolcoder-probe"
    home_file.write_text("secret")
    profile = ds1000_sandbox(ds1000.seaborn_data_dir(data), hidden_paths=(str(data),))
    worker = Worker(0, profile.policy, profile.preload, profile.python, profile.env)
    try:
        prelude = f"DATA = {str(data.resolve())!r}\nHOME_FILE = {str(home_file)!r}\n"
        outcomes = {}
        for name, code in PROBES.items():  # the candidate's code, run whole beside the tests and apart
            outcomes[name] = judge_program(worker, prelude + code, profile.limits, apart=False)
            outcomes[f"{name} (apart)"] = judge_program(worker, f"exec({prelude + code!r}, {{}})", profile.limits)
        request = {"kind": "program", "code": PROBES["fresh numpy randomness"]}
        draws = {worker.run(request, profile.limits).output_head for _ in range(3)}
    finally:
        worker.close()
        home_file.unlink()
    failed = {name: v.reason for name, v in outcomes.items() if v.status != PASS}
    assert not failed
    assert len(draws) == 3  # each run draws its own numbers, as a fresh interpreter would


@pytest.mark.slow
def test_all_reference_solutions(tmp_path: Path) -> None:
    """999/1000 offline: problem 819 downloads a scikit-learn dataset."""
    samples = tmp_path / "refs.jsonl"
    made = cli("reference-samples", "--benchmark", "ds1000", "--output", str(samples))
    assert made.returncode == 0, made.stderr
    results = evaluate(samples, tmp_path / "eval", "--no-progress")
    failed = sorted(tid for tid, r in verdicts(tmp_path / "eval").items() if r["base_status"] != PASS)
    assert failed == ["DS1000/819"]
    assert results["n_tasks"] == 1000
    # Judged beside the candidate: the 155 Matplotlib problems and the 4 whose result is an optimizer.
    assert results["in_process"]["n_tasks"] == 155 + len(ds1000.RESULTS_THAT_DO_NOT_CROSS) == 159
    for library, row in results["per_library"].items():
        assert row["n_tasks"] == ds1000.LIBRARY_COUNTS[library]
        assert row["passed_tasks"] == row["n_tasks"] - (library == "Sklearn"), library

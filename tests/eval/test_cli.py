"""``evolcoder eval`` as a user runs it: a subprocess, real data, real sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.base import Task
from evolcoder.data.fetch import data_dir_from_env

pytestmark = pytest.mark.usefixtures("private_cache")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "evolcoder.cli", *args]


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2 and exactly one line on stderr, ``evolcoder: error: ...``, naming the fragments."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stderr.endswith("\n")
    [line] = lines
    assert line.startswith("evolcoder: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert "Traceback" not in result.stdout + result.stderr
    return line


def humaneval(n: int) -> list[Task]:
    return get_benchmark("humaneval").load(data_dir_from_env())[:n]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# user errors: exit code 2, one line
# ---------------------------------------------------------------------------------------------


def test_malformed_samples_file(tmp_path: Path) -> None:
    good = json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"})
    samples = tmp_path / "samples.jsonl"
    samples.write_text(good + "\n" + good + "\n" + '{"task_id": "HumanEval/0", "completion": \n')
    result = cli("eval", "--benchmark", "humaneval", "--samples", str(samples), "--no-progress", cwd=tmp_path)
    assert_user_error(result, f"{samples}:3")
    assert not (tmp_path / "samples_eval" / "eval_results.json").exists()


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"completion": "x"}, "task_id"),
        ({"task_id": "HumanEval/999", "completion": "x"}, "task_id"),
        ({"task_id": "HumanEval/0", "solution": 42}, "solution"),
        ({"task_id": "HumanEval/0", "text": "x"}, "completion"),
    ],
)
def test_bad_rows(tmp_path: Path, row: dict, fragment: str) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/1", "completion": "x"}, row])
    result = cli("eval", "--benchmark", "humaneval", "--samples", str(samples), cwd=tmp_path)
    assert_user_error(result, f"{samples}:2", fragment)


def test_bad_row_in_an_mbpp_file(tmp_path: Path) -> None:
    samples = write_rows(
        tmp_path / "samples.jsonl", [{"task_id": 11, "solution": "x"}, {"task_id": 7, "solution": "x"}]
    )
    result = cli("eval", "--benchmark", "mbpp", "--samples", str(samples), cwd=tmp_path)
    assert_user_error(result, f"{samples}:2", "task_id")


def test_empty_and_missing_samples_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert_user_error(cli("eval", "--benchmark", "mbpp+", "--samples", str(empty), cwd=tmp_path), str(empty))
    missing = tmp_path / "missing.jsonl"
    assert_user_error(cli("eval", "--benchmark", "mbpp+", "--samples", str(missing), cwd=tmp_path), str(missing))


def test_unknown_benchmark(tmp_path: Path) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    result = cli("eval", "--benchmark", "humaneval++", "--samples", str(samples), cwd=tmp_path)
    assert_user_error(result, "humaneval++")


def test_missing_benchmark(tmp_path: Path) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    result = cli("eval", "--samples", str(samples), cwd=tmp_path)
    assert_user_error(result, "benchmark")


def test_bad_option_values(tmp_path: Path) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    base = ["eval", "--benchmark", "humaneval", "--samples", str(samples)]
    assert_user_error(cli(*base, "--workers", "0", cwd=tmp_path), "--workers")
    assert_user_error(cli(*base, "--k", "0", cwd=tmp_path), "--k")


def test_config_with_an_unknown_key(tmp_path: Path) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    config = tmp_path / "eval.yaml"
    config.write_text(f"benchmark: humaneval\nsamples: {samples}\nworkerz: 2\n")
    result = cli("eval", "--config", str(config), cwd=tmp_path)
    assert_user_error(result, "workerz", str(config))


def test_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("- humaneval\n- samples.jsonl\n")
    assert_user_error(cli("eval", "--config", str(config), cwd=tmp_path), str(config))


def test_missing_data_folder(tmp_path: Path) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = cli("eval", "--benchmark", "humaneval", "--samples", str(samples), "--data-dir", str(empty), cwd=tmp_path)
    assert_user_error(result)


# ---------------------------------------------------------------------------------------------
# good runs
# ---------------------------------------------------------------------------------------------


def test_a_small_run_prints_pass_at_k_and_writes_results(tmp_path: Path) -> None:
    tasks = humaneval(3)
    rows = [{"task_id": t.task_id, "solution": t.reference} for t in tasks]
    rows.append({"task_id": tasks[0].task_id, "completion": "    return None\n"})
    samples = write_rows(tmp_path / "gen.jsonl", rows)
    result = cli(
        "eval", "--benchmark", "humaneval", "--samples", str(samples), "--workers", "2", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    results_file = tmp_path / "gen_eval" / "eval_results.json"  # the default output folder
    assert results_file.is_file()
    assert str(results_file) in result.stdout
    out = result.stdout
    assert "humaneval pass@k" in out
    assert "pass@1" in out
    assert "pass@10" not in out  # not enough samples per task
    assert "3/164 (subset)" in out
    assert "83.3" in out  # mean(1/2, 1, 1)
    results = json.loads(results_file.read_text())
    assert results["pass_at_k"]["base"]["pass@1"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert results["n_samples"] == 4 and results["n_tasks"] == 3 and results["subset"] is True
    assert (tmp_path / "gen_eval" / "verdicts.jsonl").read_text().count("\n") == 4


def test_a_plus_run_prints_base_and_plus_rows(tmp_path: Path) -> None:
    tasks = get_benchmark("mbpp+").load(data_dir_from_env())[:2]
    rows = [{"task_id": t.task_id, "solution": t.reference} for t in tasks]
    samples = write_rows(tmp_path / "gen.jsonl", rows)
    out_dir = tmp_path / "results"
    result = cli(
        "eval",
        "--benchmark",
        "mbpp+",
        "--samples",
        str(samples),
        "--output-dir",
        str(out_dir),
        "--no-progress",
        "--workers",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "mbpp+ (base)" in result.stdout
    assert "mbpp+ (base + plus)" in result.stdout
    assert "100.0" in result.stdout
    results = json.loads((out_dir / "eval_results.json").read_text())
    assert results["pass_at_k"] == {"base": {"pass@1": 1.0}, "plus": {"pass@1": 1.0}}


def test_yaml_config_and_flags(tmp_path: Path) -> None:
    tasks = humaneval(2)
    rows = [{"task_id": t.task_id, "solution": t.reference} for t in tasks for _ in range(2)]
    samples = write_rows(tmp_path / "gen.jsonl", rows)
    out_dir = tmp_path / "out"
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"benchmark: humaneval\nsamples: {samples}\noutput-dir: {out_dir}\nworkers: 2\nprogress: false\nk: [1, 10]\n"
    )
    result = cli("eval", "--config", str(config), "--k", "1", "--k", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((out_dir / "eval_results.json").read_text())
    assert results["pass_at_k"]["base"] == {"pass@1": 1.0, "pass@2": 1.0}  # the flags win
    assert results["config"]["workers"] == 2


def test_reference_samples_command_then_eval(tmp_path: Path) -> None:
    samples = tmp_path / "ref.jsonl"
    result = cli("reference-samples", "--benchmark", "mbpp", "--output", str(samples), "--limit", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["Mbpp/11", "Mbpp/12", "Mbpp/13"]
    result = cli(
        "eval", "--benchmark", "mbpp", "--samples", str(samples), "--workers", "2", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "ref_eval" / "eval_results.json").read_text())
    assert results["pass_at_k"]["base"] == {"pass@1": 1.0}


# ---------------------------------------------------------------------------------------------
# killed and restarted
# ---------------------------------------------------------------------------------------------

BUSY = "import time as _time\n_end = _time.process_time() + 0.25\nwhile _time.process_time() < _end:\n    pass\n"


def test_a_killed_run_resumes(tmp_path: Path) -> None:
    tasks = humaneval(8)
    # 40 samples, each burning ~0.25 s of CPU while loading: a run takes several seconds.
    rows = [{"task_id": t.task_id, "solution": BUSY + t.reference + f"\n# copy {i}\n"} for i in range(5) for t in tasks]
    samples = write_rows(tmp_path / "samples.jsonl", rows)
    out_dir = tmp_path / "out"
    verdicts = out_dir / "verdicts.jsonl"
    args = ["eval", "--benchmark", "humaneval", "--samples", str(samples), "--output-dir", str(out_dir)]
    args += ["--workers", "2", "--no-progress"]

    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(command(*args), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if verdicts.exists() and verdicts.read_bytes().count(b"\n") >= 2:
                    break
                time.sleep(0.01)
            assert proc.poll() is None, "the run ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = verdicts.read_bytes()
    complete = before[: before.rfind(b"\n") + 1]
    assert 2 <= complete.count(b"\n") < len(rows)
    assert not (out_dir / "eval_results.json").exists()

    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = verdicts.read_bytes()
    assert after.startswith(complete)  # what was finished was kept, not judged again
    lines = [json.loads(line) for line in after.splitlines()]
    keys = [r["key"] for r in lines]
    assert len(keys) == len(set(keys)) == len(rows)
    assert len({r["run"] for r in lines}) == 1

    results = json.loads((out_dir / "eval_results.json").read_text())
    assert results["n_samples"] == len(rows)
    judged = Counter((e["task_id"], e["solution"]) for es in results["eval"].values() for e in es)
    assert judged == Counter((r["task_id"], r["solution"]) for r in rows)
    assert all(e["base_status"] == "pass" for es in results["eval"].values() for e in es)
    assert results["pass_at_k"]["base"]["pass@1"] == 1.0

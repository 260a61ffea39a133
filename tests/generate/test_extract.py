"""``evolcoder extract`` as a user runs it: a subprocess on real raw answers, then ``evolcoder eval``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evolcoder.bench import ds1000, get_benchmark
from evolcoder.bench.extract import extract_program, parses
from evolcoder.data.fetch import data_dir_from_env

pytestmark = pytest.mark.usefixtures("private_cache")
REAL = data_dir_from_env() / "real-samples"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "evolcoder.cli", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_raw_chat_answers_become_programs_that_eval_judges(tmp_path: Path) -> None:
    raw_rows = read_jsonl(REAL / "mapcoder-analogical-raw_humaneval.raw.jsonl")[:8]
    rows = [{"task_id": r["task_id"], "response": r["solution"], "model": "gpt-3.5-turbo"} for r in raw_rows]
    raw = write_jsonl(tmp_path / "raw.jsonl", rows)
    done = cli(
        "extract", "--benchmark", "humaneval+", "--samples", str(raw), "--output", "programs.jsonl", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "8 rows: 8 programs parse, 8 define the task's function" in done.stdout
    programs = read_jsonl(tmp_path / "programs.jsonl")
    tasks = {t.task_id: t for t in get_benchmark("humaneval+").load(data_dir_from_env())}
    for row, source in zip(programs, rows, strict=True):
        task = tasks[row["task_id"]]
        assert set(row) == {"task_id", "solution", "raw", "model"} and row["model"] == "gpt-3.5-turbo"
        assert row["raw"] == source["response"]  # the model's text is kept beside the program
        assert row["solution"] == extract_program(source["response"], task.entry_point, task.prompt)
    judged = cli("eval", "--benchmark", "humaneval+", "--samples", "programs.jsonl", "--output-dir", "ev", cwd=tmp_path)
    assert judged.returncode == 0, judged.stderr
    assert len(read_jsonl(tmp_path / "ev" / "verdicts.jsonl")) == 8


def test_completion_rows_continue_the_prompt(tmp_path: Path) -> None:
    """CodeGen's real completions (the solution minus the prompt) are read as the prompt continued."""
    tasks = {t.task_id: t for t in get_benchmark("humaneval").load(data_dir_from_env())}
    rows = []
    for row in read_jsonl(REAL / "codet-codegen16b_humaneval.jsonl")[:10]:
        prompt = tasks[row["task_id"]].prompt
        assert row["solution"].startswith(prompt)
        rows.append({"task_id": row["task_id"], "completion": row["solution"][len(prompt) :]})
    raw = write_jsonl(tmp_path / "raw.jsonl", rows)
    done = cli("extract", "--benchmark", "humaneval", "--samples", str(raw), "--output", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for out, source in zip(read_jsonl(tmp_path / "out.jsonl"), rows, strict=True):
        task = tasks[out["task_id"]]
        assert out["raw"] == source["completion"] and "completion" not in out
        assert out["solution"] == extract_program(task.prompt + source["completion"], task.entry_point, "")
        assert out["solution"].startswith(task.prompt) and parses(out["solution"])


def test_mbpp_numbers_and_ds1000_answers(tmp_path: Path) -> None:
    mbpp_raw = read_jsonl(REAL / "mapcoder-analogical-raw_mbpp.raw.jsonl")[0]
    number = int(mbpp_raw["task_id"].split("/")[1])
    raw = write_jsonl(tmp_path / "mbpp.jsonl", [{"task_id": number, "solution": mbpp_raw["solution"]}])
    assert (
        cli("extract", "--benchmark", "mbpp+", "--samples", str(raw), "--output", "m.jsonl", cwd=tmp_path).returncode
        == 0
    )
    assert read_jsonl(tmp_path / "m.jsonl")[0]["task_id"] == mbpp_raw["task_id"]

    task = ds1000.load(data_dir_from_env())[0]
    answer = f"Sure.\n```python\n{task.reference}\n```\nThis works."
    raw = write_jsonl(tmp_path / "ds.jsonl", [{"task_id": task.task_id, "response": answer}])
    assert (
        cli("extract", "--benchmark", "ds1000", "--samples", str(raw), "--output", "d.jsonl", cwd=tmp_path).returncode
        == 0
    )
    assert read_jsonl(tmp_path / "d.jsonl")[0]["solution"] == ds1000.postprocess(answer, task)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "raw.jsonl:2: invalid JSON"),
        ('["a list"]', "raw.jsonl:2: expected a JSON object"),
        ('{"response": "x"}', "raw.jsonl:2: field 'task_id' is missing"),
        ('{"task_id": "HumanEval/999", "response": "x"}', "raw.jsonl:2: field 'task_id': unknown task"),
        ('{"task_id": "HumanEval/1", "text": "x"}', "raw.jsonl:2: needs a 'response', 'solution' or 'completion'"),
        ('{"task_id": "HumanEval/1", "completion": 3}', "raw.jsonl:2: field 'completion' must be a string"),
    ],
)
def test_bad_rows_are_one_line_errors_and_write_nothing(tmp_path: Path, line: str, fragment: str) -> None:
    good = json.dumps({"task_id": "HumanEval/0", "response": "```python\ndef f():\n    pass\n```"})
    (tmp_path / "raw.jsonl").write_text(good + "\n" + line + "\n")
    (tmp_path / "out.jsonl").write_text("earlier programs\n")
    done = cli("extract", "--benchmark", "humaneval", "--samples", "raw.jsonl", "--output", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 2 and fragment in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert (tmp_path / "out.jsonl").read_text() == "earlier programs\n"  # nothing lost or half-written


def test_output_over_the_input_is_refused(tmp_path: Path) -> None:
    rows = [{"task_id": "HumanEval/0", "response": "def has_close_elements(a, b):\n    return False\n"}]
    raw = write_jsonl(tmp_path / "raw.jsonl", rows)
    before = raw.read_text()
    done = cli("extract", "--benchmark", "humaneval", "--samples", "raw.jsonl", "--output", str(raw), cwd=tmp_path)
    assert done.returncode == 2 and "is the samples file itself" in done.stderr
    assert raw.read_text() == before
    missing = cli("extract", "--benchmark", "humaneval", "--samples", "nope.jsonl", "--output", "o.jsonl", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.jsonl: samples file not found" in missing.stderr


def test_output_that_is_a_folder_is_a_one_line_error(tmp_path: Path) -> None:
    rows = [{"task_id": "HumanEval/0", "response": "def has_close_elements(a, b):\n    return False\n"}]
    write_jsonl(tmp_path / "raw.jsonl", rows)
    (tmp_path / "out").mkdir()
    done = cli("extract", "--benchmark", "humaneval", "--samples", "raw.jsonl", "--output", "out", cwd=tmp_path)
    assert done.returncode == 2 and "out: --output is a folder" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and list((tmp_path / "out").iterdir()) == []

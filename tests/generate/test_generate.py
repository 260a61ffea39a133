"""``evolcoder generate`` with the real embedded GGUF: rows, determinism, resume after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.prompts import ALPACA_HEADER, base_prompt, chat_messages, paper_prompt
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.errors import UserError
from evolcoder.generate.config import GenerateConfig
from evolcoder.generate.runner import generate


def config(output: Path, **overrides) -> GenerateConfig:
    values = dict(benchmark="humaneval+", output=output, max_new_tokens=16, limit=2, progress=False)
    values.update(overrides)
    return GenerateConfig(**values)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_paper_prompts_follow_the_template() -> None:
    humaneval = get_benchmark("humaneval").load(data_dir_from_env())[0]
    prompt = paper_prompt(humaneval)
    assert prompt.startswith(ALPACA_HEADER + "\n\n### Instruction:\nCreate a Python script for this problem:\n")
    assert prompt.endswith(humaneval.prompt + "\n\n### Response:")
    mbpp = get_benchmark("mbpp").load(data_dir_from_env())[0]
    assert mbpp.description in paper_prompt(mbpp) and mbpp.asserts[0] in paper_prompt(mbpp)
    assert base_prompt(humaneval) == humaneval.prompt
    assert base_prompt(mbpp).startswith('"""\n' + mbpp.description)
    assert chat_messages(mbpp)[0]["role"] == "user"


def test_rows_are_deterministic_when_greedy_and_resume_appends_only_new(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generate(config(first))
    generate(config(second))
    assert first.read_text() == second.read_text()
    written = rows(first)
    assert [(r["task_id"], r["sample_index"]) for r in written] == [("HumanEval/0", 0), ("HumanEval/1", 0)]
    for row in written:
        assert {"solution", "raw", "completion_tokens", "finish_reason"} <= set(row)
        assert 0 < row["completion_tokens"] <= 16
    before = first.read_bytes()
    generate(config(first, limit=3))
    assert first.read_bytes().startswith(before) and len(rows(first)) == 3
    generate(config(first, limit=3))
    assert len(rows(first)) == 3


def test_resume_with_other_sampling_settings_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "s.jsonl"
    generate(config(path, limit=1))
    before = path.read_bytes()
    with pytest.raises(UserError, match=r"--temperature 0\.0 → 0\.8: cannot resume .*use a new --output"):
        generate(config(path, limit=2, temperature=0.8))
    with pytest.raises(UserError, match="--max-new-tokens 16 → 32"):
        generate(config(path, limit=2, max_new_tokens=32))
    assert path.read_bytes() == before  # nothing appended under other settings
    assert json.loads((tmp_path / "s.jsonl.settings.json").read_text())["temperature"] == 0.0
    capsys.readouterr()
    generate(config(path, limit=1))  # finished: a no-op that says so, and loads no model
    assert "already complete" in capsys.readouterr().err and path.read_bytes() == before


def test_a_line_cut_by_a_kill_is_redone(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    generate(config(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])  # the second row, half written
    generate(config(path))
    assert [r["task_id"] for r in rows(path)] == ["HumanEval/0", "HumanEval/1"]


def test_kill_and_resume_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "evolcoder.cli",
        "generate",
        "--benchmark",
        "mbpp+",
        "--output",
        str(path),
        "--limit",
        "5",
        "--n",
        "2",
        "--temperature",
        "0.8",
        "--max-new-tokens",
        "48",
        "--concurrency",
        "1",  # backend calls of 4 tasks: the kill lands between two calls
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600  # a loaded machine: the model load and 4 tasks can take minutes
    while time.monotonic() < deadline and (not path.exists() or path.read_bytes().count(b"\n") < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= path.read_bytes().count(b"\n") < 10
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    counts = Counter((r["task_id"], r["sample_index"]) for r in rows(path))
    assert len(counts) == 10 and set(counts.values()) == {1}
    # The resumed file holds the same samples as an uninterrupted run (same seeds, same batches).
    whole = tmp_path / "whole.jsonl"
    subprocess.run([*cmd[:7], str(whole), *cmd[8:]], check=True, capture_output=True, timeout=300)
    key = lambda r: (r["task_id"], r["sample_index"])  # noqa: E731
    assert sorted(rows(path), key=key) == sorted(rows(whole), key=key)


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    for flags, word in ((["--prompt-style", "poem"], "--prompt-style"), (["--temperature", "-1"], "--temperature")):
        cmd = [
            sys.executable,
            "-m",
            "evolcoder.cli",
            "generate",
            "--benchmark",
            "humaneval",
            "--output",
            str(tmp_path / "x.jsonl"),
            *flags,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 2 and word in done.stderr and len(done.stderr.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="--task-ids"):
        generate(config(tmp_path / "y.jsonl", task_ids=["HumanEval/999"]))


class _Scripted:
    """A backend that answers with fixed text, recording what it was asked (prompts, stops)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls: list[tuple[list, object]] = []

    def complete(self, prompts: list[str], params) -> list:
        from evolcoder.llm import Generation

        self.calls.append((prompts, params))
        return [[Generation(self.answer, 10, 5, "stop")] * params.n for _ in prompts]

    chat = complete


def test_ds1000_prompts_stops_and_post_processing(tmp_path: Path) -> None:
    from evolcoder.bench import ds1000

    numpy_tasks = ds1000.load(data_dir_from_env(), "numpy", limit=2)
    backend = _Scripted("result = a.sum()\n</code>\nEND SOLUTION\nprint(result)")
    out = generate(config(tmp_path / "ds.jsonl", benchmark="ds1000", library=["numpy"], prompt_style="base"), backend)
    [(prompts, params)] = backend.calls
    assert prompts == [t.prompt for t in numpy_tasks]  # DS-1000's completion prompt as given
    assert "</code>" in params.stop and "\nEND SOLUTION" in params.stop
    written = rows(out)
    assert [r["task_id"] for r in written] == [t.task_id for t in numpy_tasks]
    assert all(r["solution"] == "result = a.sum()\n" for r in written)  # cut at </code>, raw kept beside
    assert written[0]["raw"] == backend.answer

    # Chat answers: the model's fenced block is the solution; --library only fits DS-1000.
    backend = _Scripted("Sure!\n```python\nresult = np.max(a)\n```\nThis takes the maximum.")
    out = generate(config(tmp_path / "chat.jsonl", benchmark="ds1000", library="numpy", prompt_style="chat"), backend)
    assert all(r["solution"].strip() == "result = np.max(a)" for r in rows(out))
    with pytest.raises(ValueError, match="--library"):
        config(tmp_path / "x.jsonl", library=["numpy"])


def test_ds1000_with_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "ds.jsonl"
    generate(config(out, benchmark="ds1000", library=["pandas"], limit=1, max_new_tokens=24, prompt_style="base"))
    [row] = rows(out)
    assert row["task_id"] == "DS1000/0" and row["completion_tokens"] > 0
    assert "</code>" not in row["solution"]

"""``evolcoder evolve --verify tests``: the real sandbox, a scripted teacher (a test double, served over
real HTTP) for the exact cases, and the embedded teacher for one real verified round."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from evolcoder.evol import verify
from evolcoder.evol.config import EvolveConfig
from evolcoder.evol.pipeline import evolve, read_round
from evolcoder.records import (
    FAILED_OWN_TESTS,
    NO_FUNCTION_TO_TEST,
    PASSED,
    TESTS_CANNOT_FAIL,
    TESTS_DO_NOT_PARSE,
    Attempt,
)

from .scripted_teacher import CASES, reply, scripted_teacher


def seed_file(path: Path, words: list[str]) -> Path:
    rows = [
        {"instruction": f"{word}: write a small Python function for this task number {i}.", "input": "", "output": "x"}
        for i, word in enumerate(words)
    ]
    path.write_text(json.dumps(rows))
    return path


def config(tmp_path: Path, url: str, seeds: Path, **options) -> EvolveConfig:
    settings = dict(
        output_dir=tmp_path / "evolve",
        seed_data=str(seeds),
        teacher_backend="openai",
        teacher="scripted",
        base_url=url,
        api_key_env="NO_SUCH_KEY",
        concurrency=2,
        verify="tests",
        verify_attempts=2,
        decontaminate=[],
        dedup_threshold=0,
        progress=False,
    )
    return EvolveConfig(**(settings | options))


def by_word(rows: list[dict]) -> dict[str, Attempt]:
    return {next(w for w in [*CASES, "NOCODE"] if w in row["original"]): Attempt.from_row(row) for row in rows}


def test_each_case_gets_its_outcome(tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    holder: dict = {}

    def script(prompt: str, seed: int) -> str:
        return reply(prompt, seed).replace("MARKER", repr(str(marker))).replace("PORT", str(holder["port"]))

    words = [*CASES, "NOCODE"]
    words.remove("SLOW")
    with scripted_teacher(script) as teacher:
        holder["port"] = teacher.port
        cfg = config(tmp_path, teacher.url, seed_file(tmp_path / "seeds.json", words))
        evolve(cfg)
    attempts = by_word(list(read_round(cfg, 1).values()))

    passes = attempts["PASSES"]
    assert passes.kept and passes.verify_attempts == 1 and "assert add(1, 2) == 3" in passes.tests
    assert [run["outcome"] for run in passes.verify] == [PASSED]

    second = attempts["SECOND"]  # wrong at first, right when asked again
    assert second.kept and second.verify_attempts == 2
    assert [run["outcome"] for run in second.verify] == [FAILED_OWN_TESTS, PASSED]
    assert "a * b" in second.answer and "a + b" in second.verify[0]["answer"]
    assert "AssertionError" in second.verify[0]["detail"]

    never = attempts["NEVER"]
    assert not never.kept and never.reason == FAILED_OWN_TESTS and never.verify_attempts == 2
    assert never.tests is not None and not never.tests  # no passing tests kept (ABSENT)

    for word, why in [("WEAK", "returns None"), ("SWALLOW", "raises")]:
        weak = attempts[word]
        assert not weak.kept and weak.reason == TESTS_CANNOT_FAIL, word
        assert why in weak.verify[0]["detail"], weak.verify[0]
    assert "fewer than 3" in attempts["SINGLE"].verify[0]["detail"]
    assert "never use square" in attempts["UNCALLED"].verify[0]["detail"]
    assert attempts["SINGLE"].reason == attempts["UNCALLED"].reason == TESTS_CANNOT_FAIL

    loops = attempts["LOOPS"]
    assert loops.reason == FAILED_OWN_TESTS and "limit" in loops.verify[0]["detail"].lower()

    escapes = attempts["ESCAPES"]
    assert escapes.reason == FAILED_OWN_TESTS and not marker.exists()
    assert "socket" in escapes.verify[0]["detail"].lower() or "blocked" in escapes.verify[0]["detail"].lower()

    repeats = attempts["REPEATS"]  # the repeated (right) definition is dropped: the wrong answer is tested
    assert repeats.reason == FAILED_OWN_TESTS and "def cube" not in repeats.verify[0]["tests"]

    assert attempts["NOCODE"].reason == NO_FUNCTION_TO_TEST
    assert not any("NOCODE" in prompt for prompt in teacher.tests_prompts())  # no tests asked for

    # the dataset keeps the tests beside each kept pair, and the card counts the outcomes
    pairs = [json.loads(line) for line in (cfg.output_dir / "round_1" / "data.jsonl").read_text().splitlines()]
    evolved = {p["id"]: p for p in pairs if p["source"] == "round_1"}
    assert {pair["tests"] != "" for pair in evolved.values()} == {True} and len(evolved) == 2
    assert all(p["tests"] == "" for p in pairs if p["source"] == "seed")
    alpaca = json.loads((cfg.output_dir / "round_1" / "alpaca.json").read_text())
    assert "tests" not in alpaca[0]
    import datasets

    assert "tests" in datasets.load_from_disk(str(cfg.output_dir / "round_1" / "hf")).column_names
    card = (cfg.output_dir / "round_1" / "README.md").read_text()
    assert "## Verification" in card and "| failed_own_tests |" in card


def test_tests_are_cleaned_and_checked() -> None:
    code = 'def f(x):\n    return x\n\nclass Box:\n    pass\n\nif __name__ == "__main__":\n    print(f(input()))'
    assert verify.defined_names(code) == ["f", "Box"]
    assert "def f(x)" in verify.signatures(code, ["f"]) and "return" not in verify.signatures(code, ["f"])
    reply_text = "```python\nfrom solution import f\n\n@decorated\ndef f(x):\n    return 1\n\nassert f(1) == 1\n```"
    assert verify.extract_tests(reply_text, ["f"]) == "assert f(1) == 1"
    assert verify.static_check("assert f(1 ==", ["f"], 1) == (TESTS_DO_NOT_PARSE, "the tests are not valid Python")
    assert verify.static_check("x = f(1)\nassert x == 1\nassert x\nassert 1", ["f"], 3) is None
    assert verify.furthest([NO_FUNCTION_TO_TEST, FAILED_OWN_TESTS, TESTS_CANNOT_FAIL]) == FAILED_OWN_TESTS


def test_the_answer_demo_block_does_not_run_before_the_tests() -> None:
    sandbox = verify.Sandbox(1)
    try:
        code = 'import sys\n\ndef f(x):\n    return x + 1\n\nif __name__ == "__main__":\n    sys.exit(0)'
        tests = "assert f(1) == 2\nassert f(2) == 3\nassert f(0) == 1"
        assert [j.outcome for j in verify.judge(sandbox.run, [verify.Case(code, tests, ["f"])], 3)] == [PASSED]
        # tests that exit early do not pass: a program passes only by reaching its end
        early = "import sys\nsys.exit(0)\nassert f(1) == 5\nassert f(2) == 5\nassert f(3) == 5"
        assert verify.judge(sandbox.run, [verify.Case(code, early, ["f"])], 3)[0].outcome == FAILED_OWN_TESTS
    finally:
        sandbox.close()


def test_kill_in_the_middle_of_verification_and_resume(tmp_path: Path) -> None:
    words = ["SLOW", "PASSES", "SLOW", "NEVER", "SLOW", "SECOND"]
    with scripted_teacher() as teacher:
        seeds = seed_file(tmp_path / "seeds.json", words)
        flags = [
            "--output-dir", str(tmp_path / "evolve"), "--seed-data", str(seeds), "--teacher-backend", "openai",
            "--teacher", "scripted", "--base-url", teacher.url, "--api-key-env", "NO_SUCH_KEY",
            "--concurrency", "1", "--verify", "tests", "--verify-attempts", "2", "--sandbox-workers", "1",
            "--decontaminate", "", "--dedup-threshold", "0", "--no-progress",
        ]  # fmt: skip
        command = [sys.executable, "-m", "evolcoder.cli", "evolve", *flags]
        process = subprocess.Popen(command, env=os.environ | {"PYTHONUNBUFFERED": "1"}, start_new_session=True)
        deadline = time.monotonic() + 120
        while len(teacher.tests_prompts()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the second item's slow tests are running in the sandbox now
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        path = tmp_path / "evolve" / "rounds" / "round_1.jsonl"
        before = path.read_text().splitlines() if path.exists() else []
        assert len(before) < len(words)  # killed before the end
        assert subprocess.run(command, timeout=300).returncode == 0
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(Counter(row["id"] for row in rows).values()) == [1] * len(words)  # none lost, none twice
    assert rows[: len(before)] == [json.loads(line) for line in before]  # what was written stays
    outcomes = {row["id"]: row["verify"][-1]["outcome"] for row in rows}
    assert list(outcomes.values()).count(PASSED) == 5  # SLOW x3, PASSES, SECOND; NEVER fails


def test_verify_run_is_todays_run_code(tmp_path: Path) -> None:
    with scripted_teacher() as teacher:
        cfg = config(tmp_path, teacher.url, seed_file(tmp_path / "seeds.json", ["PASSES", "NOCODE"]), verify="run")
        evolve(cfg)
    attempts = by_word(list(read_round(cfg, 1).values()))
    assert attempts["PASSES"].kept and attempts["NOCODE"].kept  # runs to its end; no code runs nothing
    assert attempts["PASSES"].verify is None or not attempts["PASSES"].verify  # no tests asked for


def verified_real_round(tmp_path: Path, **teacher) -> None:
    """One verified round of four seeds with a real teacher; what any teacher's round must satisfy:
    every try recorded, the reason of an eliminated item its furthest outcome."""
    settings = dict(
        output_dir=tmp_path / "evolve",
        limit=4,
        answer_max_tokens=160,
        tests_max_tokens=128,
        verify="tests",
        verify_attempts=2,
        decontaminate=[],
        progress=False,
    )
    cfg = EvolveConfig(**(settings | teacher))
    evolve(cfg)
    rows = list(read_round(cfg, 1).values())
    assert len(rows) == 4
    for row in map(Attempt.from_row, rows):
        if row.verify:  # it survived the text rules
            assert 1 <= row.verify_attempts == len(row.verify) <= cfg.verify_attempts
            assert row.kept == (row.verify[-1]["outcome"] == PASSED)
            assert row.kept or row.reason == verify.furthest([run["outcome"] for run in row.verify])
            assert all(run["tests"] for run in row.verify if run["outcome"] in (PASSED, FAILED_OWN_TESTS))
        else:
            assert not row.kept
    assert "## Verification" in (cfg.output_dir / "round_1" / "README.md").read_text()


def test_a_verified_round_through_a_real_openai_compatible_server(server_url: str, tmp_path: Path) -> None:
    teacher = dict(teacher_backend="openai", teacher="smollm2", base_url=server_url, concurrency=3)
    verified_real_round(tmp_path, evolve_max_tokens=64, **teacher)


def test_one_real_verified_round_with_the_embedded_teacher(tmp_path: Path) -> None:
    verified_real_round(tmp_path, concurrency=4, evolve_max_tokens=96)

"""``evolcoder evolutions`` on verified attempts: the tries and the tests, cut like the other blocks."""

from __future__ import annotations

import json
from pathlib import Path

from evolcoder.evol.config import EvolutionsConfig
from evolcoder.evol.show import LINES_SHOWN, show
from evolcoder.records import FAILED_OWN_TESTS, PASSED, Attempt, VerifyRun


def _write(folder: Path, attempts: list[Attempt]) -> Path:
    rounds = folder / "rounds"
    rounds.mkdir(parents=True)
    (rounds / "round_1.jsonl").write_text("".join(json.dumps(a.to_row()) + "\n" for a in attempts))
    return folder


def _attempt(seed: str, **fields) -> Attempt:
    common = dict(id=f"{seed}@r1", seed_id=seed, round=1, depth=0, heuristic="constraints", original="Do it.")
    return Attempt(**(common | fields))


def test_long_tests_are_cut_and_tries_listed(tmp_path: Path) -> None:
    tests = "\n".join(f"assert f({i}) == {i}" for i in range(LINES_SHOWN + 4))
    detail = "AssertionError: " + "x" * 300
    runs = [
        VerifyRun(attempt=1, outcome=FAILED_OWN_TESTS, detail=detail, answer="def f(x): return 0", tests=tests),
        VerifyRun(attempt=2, outcome=PASSED, answer="def f(x): return x", tests=tests),
    ]
    kept = _attempt("s0", answer="def f(x): return x", kept=True, verify=runs, verify_attempts=2, tests=tests)
    plain = _attempt("s1", answer="def g(): pass", kept=False, reason="unchanged")
    out = show(EvolutionsConfig(folder=_write(tmp_path / "evolve", [kept, plain]), limit=1))
    assert "2 evolution attempts, 1 kept, 1/1 passed verification (1 on a later try)" in out
    assert "eliminated: unchanged 1" in out  # eliminated before verification: a text rule's reason
    assert "   try 2: passed" in out
    first = next(line for line in out.splitlines() if "try 1:" in line)
    assert first.startswith("   try 1: failed_own_tests: AssertionError: x") and first.endswith("…")
    assert len(first) <= 100 + len("   try 1: failed_own_tests: ")
    block = out.split(" tests passed:\n")[1]
    assert block.splitlines()[LINES_SHOWN - 1] == f"   assert f({LINES_SHOWN - 1}) == {LINES_SHOWN - 1}"
    assert block.splitlines()[LINES_SHOWN] == "   … (4 more lines)"


def test_unverified_attempts_show_no_verification(tmp_path: Path) -> None:
    attempts = [_attempt("s0", answer="def f(): pass", kept=True)]
    out = show(EvolutionsConfig(folder=_write(tmp_path / "evolve", attempts), limit=1))
    assert out.splitlines()[:2] == ["1 evolution attempts, 1 kept", "  constraints        1/1 kept"]
    assert "verification" not in out and "tests" not in out

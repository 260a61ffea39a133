"""A small, schema-true experiment folder as `evolcoder run` writes it, built file by file.

The files use the formats of the real commands: eval_results.json as ``evolcoder.eval.runner._results``
writes it, metrics.jsonl rows as the training callback logs them, the round dataset's stats.json as
``evolcoder.evol.dataset.write_round_dataset`` writes it and the attempt records of
``evolcoder.evol.pipeline.attempt``; summary.json follows ``evolcoder.run.summary``.

``verify=True`` makes the experiment of a run with ``--verify tests``: its evolve settings say so and
its attempts carry verification tries (``records.VerifyRun``) as ``evolve`` writes them; the pattern of
outcomes is ``verified_case``'s, so a test can count what the report should show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evolcoder.evol.filters import SHORT_ANSWER, UNCHANGED
from evolcoder.evol.templates import HEURISTICS
from evolcoder.records import FAILED_OWN_TESTS, TESTS_CANNOT_FAIL, Attempt, VerifyRun
from evolcoder.records import PASSED as TRY_PASSED  # PASSED here is the test scores

# (model, benchmark) -> tasks passed, out of N_TASKS[benchmark]
PASSED = {
    ("base", "humaneval+"): (3, 2),  # (base tests passed, base and plus passed)
    ("seed-sft", "humaneval+"): (6, 5),
    ("evol-sft", "humaneval+"): (9, 8),
    ("base", "mbpp+"): (4, 3),
    ("seed-sft", "mbpp+"): (5, 5),
    ("evol-sft", "mbpp+"): (7, 6),
}
N_TASKS = {"humaneval+": 20, "mbpp+": 30}
DS1000_LIBS = {"Pandas": (2, 10), "Numpy": (3, 10), "Matplotlib": (5, 10)}
DEV = [(0, 2), (1, 4), (2, 3)]  # (round, dev tasks passed of 40)
LABELS = {"base": "base", "seed-sft": "SFT on seed (round 0)", "evol-sft": "SFT on evolved round 1"}


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def eval_results(benchmark: str, n_tasks: int, base_passed: int, plus_passed: int) -> dict:
    prefix = "HumanEval" if benchmark.startswith("humaneval") else "Mbpp"
    evals = {}
    for i in range(n_tasks):
        task_id = f"{prefix}/{i}"
        base = "pass" if i < base_passed else "fail"
        plus = ("pass" if i < plus_passed else "fail") if benchmark.endswith("+") else None
        evals[task_id] = [
            {
                "task_id": task_id,
                "solution": "def f():\n    return 1\n",
                "base_status": base,
                "plus_status": plus,
                "base_fail_tests": [] if base == "pass" else [[1]],
                "plus_fail_tests": [] if plus in ("pass", None) else [[2]],
            }
        ]
    plus_k = {"pass@1": plus_passed / n_tasks} if benchmark.endswith("+") else {}
    return {
        "date": "2025-01-01 00:00",
        "benchmark": benchmark,
        "hash": "0" * 64,
        "samples_file": "samples.jsonl",
        "n_samples": n_tasks,
        "n_tasks": n_tasks,
        "n_tasks_total": 164 if prefix == "HumanEval" else 378,
        "subset": True,
        "eval": evals,
        "pass_at_k": {"base": {"pass@1": base_passed / n_tasks}, "plus": plus_k},
        "config": {"benchmark": benchmark},
        "sandbox": {},
        "harness_version": 1,
    }


def _test_rows(exp: Path, model: str, benchmark: str, passed: dict) -> list[dict]:
    base_passed, plus_passed = passed[(model, benchmark)]
    n = N_TASKS[benchmark]
    relative = f"test/{model}/{benchmark}/eval/eval_results.json"
    results = eval_results(benchmark, n, base_passed, plus_passed)
    write_json(exp / relative, results)
    setting = {"mode": "greedy", "n": 1, "temperature": 0.0}
    common = {"model": model, "n_tasks": n, "n_samples": 1, "setting": setting, "results": relative}
    return [
        common | {"benchmark": benchmark[:-1], "pass@1": results["pass_at_k"]["base"]["pass@1"], "passed": base_passed},
        common | {"benchmark": benchmark, "pass@1": results["pass_at_k"]["plus"]["pass@1"], "passed": plus_passed},
    ]


def _ds1000_row(model: str) -> dict:
    per_library = {lib: {"pass@1": p / n, "passed": p, "n": n} for lib, (p, n) in DS1000_LIBS.items()}
    passed = sum(p for p, _ in DS1000_LIBS.values())
    n = sum(n for _, n in DS1000_LIBS.values())
    return {
        "model": model,
        "benchmark": "ds1000",
        "n_tasks": n,
        "n_samples": 1,
        "setting": {"mode": "greedy", "n": 1, "temperature": 0.0},
        "pass@1": passed / n,
        "passed": passed,
        "results": f"test/{model}/ds1000/eval/eval_results.json",
        "per_library": per_library,
    }


ATTEMPTS = list(HEURISTICS) * 2  # each round's attempts: seed s{i} with heuristic ATTEMPTS[i]
WRONG = "def f():\n    return 0\n"
RIGHT = "def f():\n    return 1\n"
TESTS = "assert f() == 1\nassert f() + 1 == 2\nassert f() * 2 == 2"


def verified_case(i: int) -> tuple[list[str], str | None]:
    """Attempt i's verification outcomes (one per try) and the reason it was eliminated (None: kept).

    Every third attempt is eliminated: the odd ones by a text rule before verification (no tries),
    the even ones in verification; the kept ones pass at once, except i % 4 == 1, passed on try 2.
    """
    if i % 3 == 0:
        if i % 2:
            return [], UNCHANGED
        outcome = FAILED_OWN_TESTS if i % 12 == 0 else TESTS_CANNOT_FAIL
        return [outcome, outcome], outcome
    return ([FAILED_OWN_TESTS, TRY_PASSED] if i % 4 == 1 else [TRY_PASSED]), None


def _attempt(k: int, i: int, heuristic: str, verify: bool) -> dict:
    reason = None if i % 3 else (UNCHANGED if i % 2 else SHORT_ANSWER)
    extra: dict = {}
    if verify:
        outcomes, reason = verified_case(i)
        runs = [
            VerifyRun(
                attempt=n,
                outcome=outcome,
                detail=None if outcome == TRY_PASSED else f"AssertionError: try {n} of s{i}",
                answer=RIGHT if outcome == TRY_PASSED or reason else WRONG,
                tests=TESTS,
            )
            for n, outcome in enumerate(outcomes, 1)
        ]
        if runs:
            extra = {"verify": runs, "verify_attempts": len(runs)}
        if runs and reason is None:
            extra["tests"] = TESTS
    attempt = Attempt(
        id=f"s{i}-r{k}",
        seed_id=f"s{i}",
        round=k,
        depth=k,
        heuristic=heuristic,
        original="Write a function.",
        instruction="Write a faster function.",
        answer=RIGHT if verify else "def f(): pass",
        kept=reason is None,
        reason=reason,
        prompt_tokens=10,
        completion_tokens=20,
        **extra,
    )
    return attempt.to_row()


def _round(exp: Path, k: int, dev_passed: int, verify: bool = False) -> dict:
    folder = f"rounds/round_{k}"
    write_json(
        exp / folder / "stats.json",
        {"round": k, "complete": True, "stopped": None, "pairs": 20 + 5 * k, "removed": {}, "by_source": {"seed": 20}},
    )
    train = exp / folder / "train"
    train.mkdir(parents=True)
    rows = [
        {"step": s, "loss": 2.0 - 0.1 * s + 0.05 * k, "learning_rate": 1e-4, "grad_norm": 1.0} for s in range(1, 11)
    ]
    (train / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 11, "lo', encoding="utf-8"
    )
    if k:
        attempts = [_attempt(k, i, heuristic, verify) for i, heuristic in enumerate(ATTEMPTS)]
        path = exp / "evolve" / "rounds" / f"round_{k}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(a) + "\n" for a in attempts), encoding="utf-8")
    return {
        "round": k,
        "n_pairs": 20 + 5 * k,
        "dataset": f"{folder}/data.jsonl",
        "evolve_stats": f"{folder}/stats.json" if k else None,
        "train_dir": f"{folder}/train",
        "dev_pass@1": dev_passed / 40,
        "dev_passed": dev_passed,
        "dev_n": 40,
    }


def make_experiment(
    root: Path,
    name: str = "cpu-mini",
    with_test: bool = True,
    verify: bool = False,
    passed: dict | None = None,
    config: dict | None = None,
) -> Path:
    """An experiment folder; ``passed`` replaces some of ``PASSED``, ``config`` adds to the manifest's."""
    exp = root / name
    exp.mkdir(parents=True)
    setting = "tests" if verify else "none"
    manifest_config = {"name": name, "verify": setting, "evolve": {"verify_attempts": 2}} | (config or {})
    write_json(exp / "manifest.json", {"config": manifest_config, "git_commit": "abc"})
    if verify:  # evolve's own record of its settings (older folders have no verify key)
        write_json(exp / "evolve" / "evolve_config.json", {"verify": setting, "verify_attempts": 2, "seed": 0})
    summary = {
        "schema": 1,
        "name": name,
        "manifest": "manifest.json",
        "base_model": "SmolLM2-135M-Instruct (default)",
        "dev": {"benchmark": "mbpp", "task_ids": "Mbpp/511-974 subset", "n_tasks": 40},
        "rounds": [_round(exp, k, dev_passed, verify) for k, dev_passed in DEV],
        "best_round": 1,
        "models": {key: {"label": label, "path": "x"} for key, label in LABELS.items()},
    }
    if with_test:
        scores = PASSED | (passed or {})
        rows = [row for model in LABELS for bench in N_TASKS for row in _test_rows(exp, model, bench, scores)]
        summary["test"] = rows + [_ds1000_row("evol-sft")]
    write_json(exp / "summary.json", summary)
    return exp


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    return make_experiment(tmp_path / "runs")


@pytest.fixture
def partial_experiment(tmp_path: Path) -> Path:
    """A run killed before the test stage: rounds and dev results, no test results."""
    return make_experiment(tmp_path / "runs", name="killed", with_test=False)


@pytest.fixture
def make_exp() -> Callable[..., Path]:
    return make_experiment

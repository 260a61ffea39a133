"""``EXP/summary.json``: the experiment's results in the schema ``evolcoder report`` reads.

Written after every stage, from what this invocation has run or found up to date, so a partial
run is reportable (keys of stages not reached are missing). Paths are relative to EXP; pass@1 is
a fraction. A HumanEval+ (MBPP+) evaluation also gives the HumanEval (MBPP) row: its base tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolcoder.records import (
    ABSENT,
    PASS,
    STATS_FILE,
    SUMMARY_FILE,
    DatasetStats,
    DevSet,
    ModelEntry,
    RunSetting,
    ScoreRow,
    Summary,
    SummaryRound,
)
from evolcoder.run.stages import write_json

if TYPE_CHECKING:
    from evolcoder.run.config import RunConfig
    from evolcoder.run.pipeline import State

ROW_ORDER = ("humaneval", "humaneval+", "mbpp", "mbpp+", "ds1000")
DEV_IDS = "Mbpp/511-974"
N_DEV_TASKS = 464


def dev_scores(results_file: Path) -> dict[str, Any]:
    """pass@1, samples passed and tasks of a dev evaluation."""
    results = json.loads(results_file.read_text())
    rows = [row for rows in results["eval"].values() for row in rows]
    return {
        "pass@1": results["pass_at_k"]["base"]["pass@1"],
        "passed": sum(row["base_status"] == PASS for row in rows),
        "n": results["n_tasks"],
    }


def model_label(config: RunConfig) -> str:
    if config.student_label:
        return config.student_label
    return "SmolLM2-135M-Instruct (default)" if config.student == "default" else config.student


def build_summary(config: RunConfig, exp: Path, state: State) -> dict[str, Any]:
    tests = [row for model, bench in state.test for row in test_rows(config, exp, model, bench)]
    tests.sort(key=lambda row: (_model_order(row["model"]), _bench_order(row["benchmark"])))
    summary = Summary(
        schema=Summary.SCHEMA,
        name=config.name,
        manifest="manifest.json",
        base_model=model_label(config),
        dev=_dev(config),
        rounds=[_round(exp, k, state) for k in state.reached],
        best_round=state.best_round if state.best_round is not None else ABSENT,
        models=_models(config, state),
        test=tests,
    )
    return summary.to_row()


def write_summary(config: RunConfig, exp: Path, state: State) -> dict[str, Any]:
    summary = build_summary(config, exp, state)
    write_json(exp / SUMMARY_FILE, summary)
    return summary


def _dev(config: RunConfig) -> DevSet:
    if config.dev_benchmark != "mbpp-dev":
        return DevSet(benchmark=config.dev_benchmark, task_ids="all" if not config.dev_limit else "subset")
    n = min(config.dev_limit or N_DEV_TASKS, N_DEV_TASKS)
    ids = DEV_IDS + (" subset" if n < N_DEV_TASKS else "")
    return DevSet(benchmark="mbpp", task_ids=ids, n_tasks=n)


def _round(exp: Path, k: int, state: State) -> SummaryRound:
    folder = f"rounds/round_{k}"
    entry: dict[str, Any] = {}
    if f"dataset/round_{k}" in state.finished:
        stats = DatasetStats.from_row(json.loads((exp / folder / STATS_FILE).read_text()), require=("pairs",))
        entry |= {"n_pairs": stats.pairs, "dataset": f"{folder}/data.jsonl"}
        entry["evolve_stats"] = f"{folder}/{STATS_FILE}" if k else None
    if f"train/round_{k}" in state.finished:
        entry["train_dir"] = f"{folder}/train"
    if k in state.dev:
        scores = state.dev[k]
        entry |= {"dev_pass1": scores["pass@1"], "dev_passed": scores["passed"], "dev_n": scores["n"]}
    return SummaryRound(round=k, **entry)


def _models(config: RunConfig, state: State) -> dict[str, ModelEntry]:
    models = {"base": ModelEntry(label="base", path=config.student)}
    if 0 in state.reached:
        models["seed-sft"] = ModelEntry(label="SFT on seed (round 0)", path="rounds/round_0/train")
    if state.best_round is not None:
        k = state.best_round
        models["evol-sft"] = ModelEntry(label=f"SFT on evolved round {k}", path=f"rounds/round_{k}/train")
    return models


def _model_order(model: str) -> int:
    return ("base", "seed-sft", "evol-sft").index(model) if model in ("base", "seed-sft", "evol-sft") else 9


def _bench_order(bench: str) -> int:
    return ROW_ORDER.index(bench) if bench in ROW_ORDER else len(ROW_ORDER)


def test_rows(config: RunConfig, exp: Path, model: str, bench: str) -> list[dict[str, Any]]:
    """The summary rows one evaluation gives: a + benchmark also gives its base benchmark's row
    (unless that benchmark was evaluated on its own)."""
    relative = f"test/{model}/{bench}/eval/eval_results.json"
    results = json.loads((exp / relative).read_text())
    rows = []
    if bench.endswith("+") and bench[:-1] not in config.test_benchmarks:
        rows.append(_row(config, model, bench[:-1], results, "base", relative))
    rows.append(_row(config, model, bench, results, "plus" if bench.endswith("+") else "base", relative))
    if _has_libraries(bench):
        rows[-1]["per_library"] = per_library(config, results, bench)
    return rows


def _row(config: RunConfig, model: str, bench: str, results: dict, tests: str, relative: str) -> dict[str, Any]:
    rows = [row for rows in results["eval"].values() for row in rows]
    if tests == "plus":
        passed = sum(row["base_status"] == PASS and row["plus_status"] == PASS for row in rows)
    else:
        passed = sum(row["base_status"] == PASS for row in rows)
    mode = "greedy" if config.temperature == 0 else "sampled"
    return ScoreRow(
        model=model,
        benchmark=bench,
        n_tasks=results["n_tasks"],
        n_samples=config.n,
        setting=RunSetting(mode=mode, n=config.n, temperature=config.temperature),
        pass1=results["pass_at_k"][tests]["pass@1"],
        passed=passed,
        results=relative,
    ).to_row()


def _has_libraries(bench: str) -> bool:
    from evolcoder.bench import BENCHMARKS, traits

    return bench in BENCHMARKS and bool(traits(bench).libraries)


def per_library(config: RunConfig, results: dict, bench: str) -> dict[str, dict[str, Any]]:
    """pass@1 per library of a benchmark with libraries (DS-1000: the paper's table), from the
    verdicts and the tasks' metadata."""
    from evolcoder.bench import get_benchmark

    library_of = {task.task_id: task.library for task in get_benchmark(bench).load(config.data_dir)}
    counts: dict[str, list[int]] = {}
    for task_id, rows in results["eval"].items():
        tally = counts.setdefault(library_of[task_id], [0, 0])
        tally[0] += sum(row["base_status"] == PASS for row in rows)
        tally[1] += len(rows)
    return {lib: {"pass@1": passed / n, "passed": passed, "n": n} for lib, (passed, n) in sorted(counts.items())}

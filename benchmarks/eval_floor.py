"""The floor of an EvalPlus-style evaluation: the samples' own time on the same inputs, in-process.

What ``evolcoder eval`` does for one sample and input set — define the solution, call its entry
point on each stored input in order with a CPU limit of max(1 s, 4 x the reference's time), compare
the output with the reference's (``bench.compare.Comparator``, the same comparison), stop at the
first failure — done here with no sandbox, no fork per run and no data crossing a pipe: long-lived
worker processes (as many as evolcoder's workers) call the functions directly. The reference's
outputs and times are computed the same way first, untimed.

What is left between this and ``evolcoder eval`` is the price of its isolation and bookkeeping.
Used by ``eval_speed.py --real-samples``; runnable alone::

    .venv/bin/python benchmarks/eval_floor.py humaneval+ ../shared/data/real-samples/ldb_humaneval.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_SECONDS, FACTOR, LOAD_SECONDS = 1.0, 4.0, 10.0  # eval.judge.TimeLimits' defaults
STUCK_SECONDS = 300.0  # no result for this long: a sample killed its worker

_TASKS: dict[str, Any] = {}
_EXPECTED: dict[str, dict[str, tuple[list, list[float]]]] = {}
_DATASET = ""


class _OverTime(BaseException):
    pass


def _on_cpu_alarm(signum: int, frame: Any) -> None:
    raise _OverTime


def _timed_call(fn: Any, args: list, seconds: float) -> tuple[bool, Any, float]:
    """(finished, output, CPU seconds) of ``fn(*args)`` under a CPU-time limit."""
    started = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        return True, fn(*args), time.process_time() - started
    except _OverTime:
        return False, None, time.process_time() - started
    except BaseException:  # noqa: BLE001 - the sample's own error: a failed input
        return False, None, time.process_time() - started
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _define(code: str) -> dict | None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        compiled = compile(code, "<solution>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    finished, _, _ = _timed_call(exec, [compiled, namespace], LOAD_SECONDS)
    return namespace if finished else None


def _inputs(task: Any, input_set: str) -> list:
    return task.base_inputs if input_set == "base" else task.plus_inputs


def reference_outputs(task: Any) -> dict[str, tuple[list, list[float]]]:
    """The reference's outputs and CPU seconds on both input sets, in this process."""
    namespace = _define(task.reference)
    fn = namespace[task.entry_point]
    result = {}
    for input_set in ("base", "plus"):
        outputs, seconds = [], []
        for args in _inputs(task, input_set):
            _, output, used = _timed_call(fn, copy.deepcopy(list(args)), 60.0)
            outputs.append(output)
            seconds.append(used)
        result[input_set] = (outputs, seconds)
    return result


def _judge_set(task: Any, code: str, input_set: str, comparator_type: Any) -> bool:
    namespace = _define(code)
    if namespace is None or not callable(namespace.get(task.entry_point)):
        return False
    fn = namespace[task.entry_point]
    outputs, seconds = _EXPECTED[task.task_id][input_set]
    comparator = comparator_type(_DATASET, task.entry_point, task.atol)
    for args, expected, reference_seconds in zip(_inputs(task, input_set), outputs, seconds, strict=False):
        finished, output, _ = _timed_call(fn, copy.deepcopy(list(args)), max(MIN_SECONDS, FACTOR * reference_seconds))
        if not finished or not comparator.matches(args, output, expected):
            return False
    return True


def judge_sample(sample: dict) -> tuple[str, bool, bool, float]:
    """(task id, base passed, plus passed, CPU seconds) of one sample (after ``prepare``)."""
    from evolcoder.bench.compare import Comparator

    task = _TASKS[sample["task_id"]]
    started = time.process_time()
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - what the sample prints
    try:
        base = _judge_set(task, sample["solution"], "base", Comparator)
        plus = _judge_set(task, sample["solution"], "plus", Comparator)
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    return sample["task_id"], base, plus, time.process_time() - started


@dataclass
class FloorRun:
    wall_s: float
    cpu_s: float
    verdicts: list[tuple[str, bool, bool]] = field(default_factory=list)  # in the samples' order


def prepare(benchmark: str, samples: list[dict], data_dir: Path | None = None) -> None:
    """Load the samples' tasks and their reference outputs (untimed), for ``judge_sample``."""
    global _DATASET
    from evolcoder.bench import get_benchmark

    tasks = {t.task_id: t for t in get_benchmark(benchmark).load(data_dir)}
    _DATASET = benchmark.rstrip("+")
    for task_id in dict.fromkeys(s["task_id"] for s in samples):
        _TASKS[task_id] = tasks[task_id]
        if task_id not in _EXPECTED:
            _EXPECTED[task_id] = reference_outputs(tasks[task_id])
    signal.signal(signal.SIGPROF, _on_cpu_alarm)


def read_samples(samples_path: Path) -> list[dict]:
    return [json.loads(line) for line in samples_path.read_text().splitlines() if line.strip()]


def run_floor(benchmark: str, samples_path: Path, workers: int, data_dir: Path | None = None) -> FloorRun:
    """Judge the samples in-process over ``workers`` processes; only the judging is timed."""
    samples = read_samples(samples_path)
    prepare(benchmark, samples, data_dir)
    # Slowest tasks first, as evolcoder orders them, so no long one is left for the end.
    order = sorted(
        range(len(samples)), key=lambda i: -sum(sum(s) for _, s in _EXPECTED[samples[i]["task_id"]].values())
    )
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.imap(judge_sample, [samples[i] for i in order], chunksize=1)
        judged = [results.next(timeout=STUCK_SECONDS) for _ in order]
    wall = time.perf_counter() - started
    verdicts: list[tuple[str, bool, bool]] = [("", False, False)] * len(samples)
    for i, (task_id, base, plus, _) in zip(order, judged, strict=False):
        verdicts[i] = (task_id, base, plus)
    return FloorRun(wall, sum(r[3] for r in judged), verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=["humaneval+", "mbpp+"])
    parser.add_argument("samples", type=Path)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    run = run_floor(args.benchmark, args.samples, args.workers)
    passed = sum(1 for _, base, plus in run.verdicts if base and plus)
    print(f"floor: {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU, {passed}/{len(run.verdicts)} pass base and plus")
    return 0


if __name__ == "__main__":
    sys.exit(main())

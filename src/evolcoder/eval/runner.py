"""``evolcoder eval``: judge a samples file on a benchmark, resumably, and score it with pass@k.

Flow: load the benchmark's tasks → read and check the samples → (EvalPlus benchmarks) expected
outputs from the cache or the reference solutions → judge each sample in the sandbox pool,
appending one verdict line per sample to ``verdicts.jsonl`` → ``eval_results.json`` in
EvalPlus's schema, and a pass@k table.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evolcoder.bench import BENCHMARKS, get_benchmark
from evolcoder.bench.base import Task
from evolcoder.bench.mbpp import called_names
from evolcoder.data import DATA_FILES, cache_dir, resolve_data_file
from evolcoder.eval import groundtruth
from evolcoder.eval.judge import (
    PASS,
    InputPayloads,
    SetVerdict,
    TimeLimits,
    judge_asserts,
    judge_check,
    judge_io,
)
from evolcoder.eval.passk import default_ks, mean_pass_at_k
from evolcoder.eval.samples import Sample, read_samples
from evolcoder.execution.isolation import Limits, Policy
from evolcoder.execution.values import to_jsonable
from evolcoder.execution.worker import Worker, WorkerPool
from evolcoder.jsonl import complete_lines

HARNESS_VERSION = 1


@dataclass
class EvalConfig:
    """Options of ``evolcoder eval`` (also accepted from a YAML file)."""

    benchmark: str
    samples: Path
    output_dir: Path | None = None  # default: <samples stem>_eval next to the samples file
    workers: int | None = None  # default: every core
    details: bool = False  # run every test instead of stopping at the first failure
    data_dir: Path | None = None  # default: $EVOLCODER_DATA_DIR, else the download cache
    k: list[int] = field(default_factory=lambda: [1, 10, 100])
    min_time_limit: float = 1.0  # CPU seconds per test input, at least
    time_limit_factor: float = 4.0  # x the reference solution's CPU time on that input
    memory_mb: int = 4096
    progress: bool = True

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"--benchmark {self.benchmark!r} is unknown; choose one of: {', '.join(BENCHMARKS)}")
        self.samples = Path(self.samples)
        self.output_dir = Path(self.output_dir) if self.output_dir else None
        self.data_dir = Path(self.data_dir) if self.data_dir else None
        if self.workers is not None and self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if not self.k or any(int(k) < 1 for k in self.k):
            raise ValueError("--k values must be positive integers")
        if self.min_time_limit <= 0 or self.time_limit_factor <= 0:
            raise ValueError("--min-time-limit and --time-limit-factor must be positive")

    def resolved_output_dir(self) -> Path:
        return self.output_dir or self.samples.with_name(self.samples.stem + "_eval")


def _run_key(config: EvalConfig, data_sha: str) -> str:
    parts = [
        config.benchmark,
        data_sha,
        config.details,
        config.min_time_limit,
        config.time_limit_factor,
        config.memory_mb,
        HARNESS_VERSION,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def read_done(path: Path, run_key: str) -> dict[str, dict]:
    """Verdicts already written by an earlier (possibly killed) run with the same settings."""
    done: dict[str, dict] = {}
    for line in complete_lines(path):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("run") == run_key and "key" in row:
            done[row["key"]] = row
    return done


def _fail_tests(verdict: SetVerdict | None, task: Task, input_set: str, details: bool) -> list:
    if verdict is None or verdict.status == PASS:
        return []
    failed = verdict.failed if details else verdict.failed[:1]
    if task.kind == "io":
        inputs = task.base_inputs if input_set == "base" else task.plus_inputs
        return [to_jsonable(inputs[i]) for i in failed if i < len(inputs)]
    if task.kind == "asserts":
        return [task.asserts[i] for i in failed if i < len(task.asserts)]
    return [verdict.reason] if verdict.reason else []


class _Judge:
    """Judges one sample with a worker; built once per run."""

    def __init__(self, config: EvalConfig, dataset: str | None, tasks: dict[str, Task], expected: dict) -> None:
        self.config = config
        self.dataset = dataset
        self.tasks = tasks
        self.expected = expected
        self.times = TimeLimits(min_seconds=config.min_time_limit, factor=config.time_limit_factor)
        self.limits = Limits(memory_bytes=config.memory_mb << 20)
        self.payloads = InputPayloads()

    def __call__(self, worker: Worker, sample: Sample) -> tuple[Sample, SetVerdict, SetVerdict | None]:
        task = self.tasks[sample.task_id]
        fail_fast = not self.config.details
        if task.kind == "check":
            return sample, judge_check(worker, task, sample.solution, self.limits, self.times), None
        if task.kind == "asserts":
            guarded = called_names(task.asserts)
            base = judge_asserts(worker, task, sample.solution, self.limits, self.times, fail_fast, guarded)
            return sample, base, None
        sets = self.expected[task.task_id]
        args = (self.limits, self.times, fail_fast)
        base_inputs, plus_inputs = self.payloads.get(task, "base"), self.payloads.get(task, "plus")
        base = judge_io(worker, task, self.dataset, sample.solution, "base", sets["base"], base_inputs, *args)
        plus = judge_io(worker, task, self.dataset, sample.solution, "plus", sets["plus"], plus_inputs, *args)
        return sample, base, plus


def _longest_first(todo: list[Sample], expected: dict) -> list[Sample]:
    """Start the samples of slow tasks first (by the reference's time), so no long one is last."""

    def reference_seconds(sample: Sample) -> float:
        sets = expected.get(sample.task_id, {})
        return sum(sum(e.seconds) for e in sets.values())

    return sorted(todo, key=reference_seconds, reverse=True)


def _row(run_key: str, sample: Sample, task: Task, base: SetVerdict, plus: SetVerdict | None, details: bool) -> dict:
    row = {
        "run": run_key,
        "key": sample.key,
        "task_id": sample.task_id,
        "completion_id": sample.completion_id,
        "solution": sample.solution,
        "base_status": base.status,
        "plus_status": plus.status if plus else None,
        "base_fail_tests": _fail_tests(base, task, "base", details),
        "plus_fail_tests": _fail_tests(plus, task, "plus", details),
        "base_reason": base.reason,
        "plus_reason": plus.reason if plus else None,
    }
    if details:
        row["base_details"] = base.details
        row["plus_details"] = plus.details if plus else None
    return row


def probe_sandbox(policy: Policy) -> dict:
    """Which protections the sandbox has on this machine (recorded with the results)."""
    worker = Worker(policy=policy)
    try:
        return worker.run({"kind": "script", "code": "pass"}, Limits(wall_seconds=30)).protections
    finally:
        worker.close()


def evaluate(config: EvalConfig) -> dict[str, Any]:
    module = get_benchmark(config.benchmark)
    data_key = module.DATA_KEYS[0]
    data_path = resolve_data_file(data_key, config.data_dir)
    data_sha = DATA_FILES[data_key].sha256 or groundtruth.file_sha256(data_path)
    all_tasks = {t.task_id: t for t in module.load(config.data_dir)}
    samples = read_samples(config.samples, all_tasks)
    out_dir = config.resolved_output_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    run_key = _run_key(config, data_sha)
    verdict_path = out_dir / "verdicts.jsonl"
    done = read_done(verdict_path, run_key)
    todo = [s for s in samples if s.key not in done]
    used = {s.task_id for s in samples}
    tasks = {tid: t for tid, t in all_tasks.items() if tid in used}
    policy = Policy(hidden_paths=(os.path.expanduser("~"), str(data_path.parent), str(cache_dir())))
    workers = config.workers or os.cpu_count() or 1
    dataset = getattr(module, "DATASET", None)

    io_tasks = [t for t in tasks.values() if t.kind == "io"]
    with WorkerPool(workers, policy) as pool:
        if io_tasks and todo:
            with tqdm(
                total=2 * len(io_tasks), desc="expected outputs", disable=not config.progress, leave=False
            ) as bar:
                expected = groundtruth.load_or_compute(config.benchmark, dataset, io_tasks, data_sha, pool, bar.update)
        else:
            expected = {}
        judge = _Judge(config, dataset, tasks, expected)
        todo = _longest_first(todo, expected)
        with (
            open(verdict_path, "a", encoding="utf-8") as out,
            tqdm(
                total=len(samples),
                initial=len(samples) - len(todo),
                desc=f"eval {config.benchmark}",
                unit="sample",
                disable=not config.progress,
            ) as bar,
        ):
            for sample, base, plus in pool.imap_unordered(judge, todo):
                row = _row(run_key, sample, tasks[sample.task_id], base, plus, config.details)
                out.write(json.dumps(row) + "\n")
                out.flush()
                done[sample.key] = row
                bar.update(1)
    results = _results(config, samples, done, data_sha, len(all_tasks), probe_sandbox(policy))
    _write_json_atomic(out_dir / "eval_results.json", results)
    return results


def _results(config: EvalConfig, samples: list[Sample], done: dict, data_sha: str, n_total: int, sandbox: dict) -> dict:
    per_task: dict[str, list[dict]] = {}
    for sample in samples:
        row = done[sample.key]
        per_task.setdefault(sample.task_id, []).append(row)
    has_plus = config.benchmark.endswith("+")
    evals = {}
    counts_base, counts_plus = [], []
    for task_id, rows in per_task.items():
        rows.sort(key=lambda r: r["completion_id"])
        evals[task_id] = [
            {
                k: r[k]
                for k in ("task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests")
            }
            for r in rows
        ]
        counts_base.append((len(rows), sum(r["base_status"] == PASS for r in rows)))
        counts_plus.append((len(rows), sum(r["base_status"] == PASS and r["plus_status"] == PASS for r in rows)))
    ks = default_ks(min(n for n, _ in counts_base), sorted(set(config.k)))
    pass_at_k = {"base": {f"pass@{k}": mean_pass_at_k(counts_base, k) for k in ks}}
    pass_at_k["plus"] = {f"pass@{k}": mean_pass_at_k(counts_plus, k) for k in ks} if has_plus else {}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "benchmark": config.benchmark,
        "hash": data_sha,
        "samples_file": str(config.samples),
        "n_samples": len(samples),
        "n_tasks": len(per_task),
        "n_tasks_total": n_total,
        "subset": len(per_task) < n_total,
        "eval": evals,
        "pass_at_k": pass_at_k,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "sandbox": sandbox,
        "harness_version": HARNESS_VERSION,
    }


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)

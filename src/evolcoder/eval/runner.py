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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evolcoder.bench import get_benchmark, task_traits, traits
from evolcoder.bench.base import Task
from evolcoder.bench.mbpp import called_names
from evolcoder.data import DATA_FILES, cache_dir, file_sha256, resolve_data_file
from evolcoder.eval import failures, groundtruth
from evolcoder.eval.config import EvalConfig
from evolcoder.eval.judge import (
    PASS,
    InputPayloads,
    SetVerdict,
    TimeLimits,
    judge_asserts,
    judge_check,
    judge_io_sets,
    judge_program,
)
from evolcoder.eval.passk import default_ks, mean_pass_at_k
from evolcoder.eval.samples import InputError, Sample, read_samples
from evolcoder.execution.isolation import Limits, Policy
from evolcoder.execution.values import to_jsonable
from evolcoder.execution.worker import Worker, WorkerPool
from evolcoder.jsonl import read_rows
from evolcoder.records import (
    ABSENT,
    EVAL_SETTINGS_FILE,
    FAILURE_KEYS,
    RESULT_KEYS,
    RESULTS_FILE,
    VERDICTS_FILE,
    Verdict,
)
from evolcoder.resume import check_settings, write_json_atomic
from evolcoder.system import collector_paused, long_lived_data, usable_cpus

HARNESS_VERSION = 5  # 2: code compiled as Python compiles a file; huge outputs of equal numbers match
# 3: HumanEval's check and MBPP's asserts run in a process apart from the candidate's (execution.apart)
# 4: DS-1000's test programs too, but for the problems of bench.ds1000.judged_in_process
# 5: each failing test set says why (base_failure / plus_failure)


def judged_in_process(task: Task) -> bool:
    """Where a task is judged. HumanEval's check, MBPP's asserts and DS-1000's test programs run in
    a test process the candidate cannot reach; the EvalPlus benchmarks compare outputs here, in the
    harness. The DS-1000 problems whose results cannot cross as data (Matplotlib figures, a PyTorch
    optimizer) run beside the candidate: their verdicts say ``in_process``."""
    return task_traits(task).judged_in_process(task)


def _run_key(config: EvalConfig, data_sha: str, environment: str = "") -> str:
    parts = [
        config.benchmark,
        data_sha,
        config.details,
        config.min_time_limit,
        config.time_limit_factor,
        config.memory_mb,
        HARNESS_VERSION,
    ]
    if environment:  # DS-1000: verdicts hold for the environment they ran in
        parts.append(environment)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _settings(config: EvalConfig, data_sha: str, environment: str) -> dict[str, Any]:
    """What shapes the verdicts of a folder: another benchmark, samples file or judging setting would mix them.

    The task selection (``--limit``, ``--library``) is not among them: ``eval_results.json`` is
    recomputed from the selected samples, whose verdicts are keyed by their content.
    """
    return {
        "benchmark": config.benchmark,
        "samples": str(config.samples.resolve()),
        "details": config.details,
        "min_time_limit": config.min_time_limit,
        "time_limit_factor": config.time_limit_factor,
        "memory_mb": config.memory_mb,
        "harness_version": HARNESS_VERSION,
        "data_sha256": data_sha,
        "environment": environment,
    }


def read_done(path: Path, run_key: str) -> dict[str, dict]:
    """Verdicts already written by an earlier (possibly killed) run with the same settings."""
    done: dict[str, dict] = {}
    for _, row in read_rows(path):
        verdict = Verdict.from_row(row or {})
        if verdict.run == run_key and verdict.key is not ABSENT:
            done[verdict.key] = row
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

    def __init__(
        self, config: EvalConfig, dataset: str | None, tasks: dict[str, Task], expected: dict, limits: Limits
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.tasks = tasks
        self.expected = expected
        self.times = TimeLimits(min_seconds=config.min_time_limit, factor=config.time_limit_factor)
        self.limits = limits
        self.payloads = InputPayloads()

    def __call__(self, worker: Worker, sample: Sample) -> tuple[Sample, SetVerdict, SetVerdict | None]:
        task = self.tasks[sample.task_id]
        fail_fast = not self.config.details
        test_program = task_traits(task).program
        if test_program is not None:  # DS-1000: a test program of the benchmark's own
            program = test_program(task, sample.solution)
            return sample, judge_program(worker, program, self.limits, apart=not judged_in_process(task)), None
        if task.kind == "check":
            return sample, judge_check(worker, task, sample.solution, self.limits, self.times, apart=True), None
        if task.kind == "asserts":
            guarded = called_names(task.asserts)
            base = judge_asserts(worker, task, sample.solution, self.limits, self.times, fail_fast, guarded, apart=True)
            return sample, base, None
        sets = self.expected[task.task_id]
        args = (self.payloads, self.limits, self.times, fail_fast)
        base, plus = judge_io_sets(worker, task, self.dataset, sample.solution, sets, *args)
        return sample, base, plus


def _longest_first(todo: list[Sample], expected: dict) -> list[Sample]:
    """Start the samples of slow tasks first (by the reference's time), so no long one is last."""

    def reference_seconds(sample: Sample) -> float:
        sets = expected.get(sample.task_id, {})
        return sum(sum(e.seconds) for e in sets.values())

    return sorted(todo, key=reference_seconds, reverse=True)


def _row(run_key: str, sample: Sample, task: Task, base: SetVerdict, plus: SetVerdict | None, details: bool) -> dict:
    return Verdict(
        run=run_key,
        key=sample.key,
        task_id=sample.task_id,
        completion_id=sample.completion_id,
        solution=sample.solution,
        base_status=base.status,
        plus_status=plus.status if plus else None,
        base_fail_tests=_fail_tests(base, task, "base", details),
        plus_fail_tests=_fail_tests(plus, task, "plus", details),
        base_reason=base.reason,
        plus_reason=plus.reason if plus else None,
        in_process=judged_in_process(task),
        base_failure=base.failure,
        plus_failure=plus.failure if plus else None,
        base_details=base.details if details else ABSENT,
        plus_details=(plus.details if plus else None) if details else ABSENT,
    ).to_row()


@dataclass
class _Sandbox:
    """How a benchmark's samples run: the pool's settings and each run's limits."""

    policy: Policy
    limits: Limits
    preload: tuple[str, ...] = ()
    python: str | None = None  # default: this interpreter
    env: dict[str, str] = field(default_factory=dict)
    environment: dict | None = None  # DS-1000: the pinned environment, recorded with the results


def _sandbox(config: EvalConfig, data_path: Path) -> _Sandbox:
    hidden = (os.path.expanduser("~"), str(data_path.parent), str(cache_dir()))
    own_sandbox = traits(config.benchmark).sandbox
    if own_sandbox is None:
        return _Sandbox(Policy(hidden_paths=hidden), Limits(memory_bytes=config.memory_mb << 20))
    profile, environment = own_sandbox(config.data_dir, hidden, config.memory_mb << 20, config.progress)
    return _Sandbox(profile.policy, profile.limits, profile.preload, profile.python, profile.env, environment)


def select_samples(samples: list[Sample], tasks: list[Task], config: EvalConfig) -> list[Sample]:
    """``--library`` and ``--limit``: the samples of the selected tasks (the first K that have samples)."""
    if not config.library and config.limit is None:
        return samples
    wanted = {t.task_id for t in tasks}
    if config.library:
        wanted = {t.task_id for t in get_benchmark(config.benchmark).load(config.data_dir, config.library)}
    present = {s.task_id for s in samples}
    chosen = [t.task_id for t in tasks if t.task_id in wanted and t.task_id in present][: config.limit]
    keep = set(chosen)
    selected = [s for s in samples if s.task_id in keep]
    if not selected:
        raise InputError(f"{config.samples}: no samples for the selected tasks")
    return selected


def probe_sandbox(worker: Worker, _: object = None) -> dict:
    """Which protections the sandbox has on this machine (recorded with the results)."""
    return worker.run({"kind": "script", "code": "pass"}, Limits(wall_seconds=30)).protections


def _probe_alone(policy: Policy, python: str | None, env: dict[str, str]) -> dict:
    worker = Worker(policy=policy, python=python, env=env)  # no preloads: a quick start
    try:
        return probe_sandbox(worker)
    finally:
        worker.close()


def evaluate(config: EvalConfig) -> dict[str, Any]:
    module = get_benchmark(config.benchmark)
    data_key = module.DATA_KEYS[0]
    data_path = resolve_data_file(data_key, config.data_dir)
    data_sha = DATA_FILES[data_key].sha256 or file_sha256(data_path)
    with collector_paused():
        task_list = module.load(config.data_dir)
    all_tasks = {t.task_id: t for t in task_list}
    samples = select_samples(read_samples(config.samples, all_tasks), task_list, config)
    sandbox = _sandbox(config, data_path)
    out_dir = config.resolved_output_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    environment = json.dumps(sandbox.environment, sort_keys=True) if sandbox.environment else ""
    run_key = _run_key(config, data_sha, environment)
    settings = _settings(config, data_sha, environment)
    check_settings(out_dir / EVAL_SETTINGS_FILE, settings, way_out="use a new --output-dir")
    verdict_path = out_dir / VERDICTS_FILE
    done = read_done(verdict_path, run_key)
    todo = [s for s in samples if s.key not in done]
    used = {s.task_id for s in samples}
    tasks = {tid: t for tid, t in all_tasks.items() if tid in used}
    workers = config.workers or usable_cpus()
    dataset = getattr(module, "DATASET", None)

    io_tasks = [t for t in tasks.values() if t.kind == "io"]
    pool_options = dict(preload=sandbox.preload, python=sandbox.python, env=sandbox.env)
    with WorkerPool(workers, sandbox.policy, **pool_options) as pool:
        if todo:
            pool.start()  # the fork servers boot while the expected outputs load
        if io_tasks and todo:
            with tqdm(
                total=2 * len(io_tasks), desc="expected outputs", disable=not config.progress, leave=False
            ) as bar:
                expected = groundtruth.load_or_compute(config.benchmark, dataset, io_tasks, data_sha, pool, bar.update)
        else:
            expected = {}
        judge = _Judge(config, dataset, tasks, expected, sandbox.limits)
        todo = _longest_first(todo, expected)
        with (
            long_lived_data(),  # the tasks and expected outputs: no full collection walks them again
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
        # On one of the fork servers that judged (started already), else on one of its own.
        protections = next(pool.imap_unordered(probe_sandbox, [None])) if todo else None
    if protections is None:
        protections = _probe_alone(sandbox.policy, sandbox.python, sandbox.env)
    results = _results(config, samples, done, data_sha, len(all_tasks), protections)
    if traits(config.benchmark).result_groups:
        results.update(_breakdown(config, samples, done, tasks))
    if sandbox.environment is not None:  # DS-1000's pinned environment
        results["environment"] = sandbox.environment
    _write_json_atomic(out_dir / RESULTS_FILE, results)
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
        evals[task_id] = [{k: r.get(k) for k in (*RESULT_KEYS, *FAILURE_KEYS)} for r in rows]
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
        "in_process": _in_process_summary(per_task),
        "failures": _failure_summary(per_task, has_plus),
    }


def _failure_summary(per_task: dict[str, list[dict]], has_plus: bool) -> dict[str, dict[str, int]]:
    """How the failing samples divide, per test set: ``{"base": {"wrong_output": 12, ...}, "plus": ...}``.

    The plus set counts only samples that passed the base tests (as pass@k on base + plus does).
    """
    rows = [row for task_rows in per_task.values() for row in task_rows]
    summary = {"base": failures.breakdown(r.get("base_failure") for r in rows if r["base_status"] != PASS)}
    if has_plus:
        plus = [r.get("plus_failure") for r in rows if r["base_status"] == PASS and r.get("plus_status") != PASS]
        summary["plus"] = failures.breakdown(plus)
    return summary


def _in_process_summary(per_task: dict[str, list[dict]]) -> dict:
    """How many tasks were judged with their tests beside the candidate, and which."""
    task_ids = sorted(tid for tid, rows in per_task.items() if any(r.get("in_process") for r in rows))
    return {"n_tasks": len(task_ids), "task_ids": task_ids}


def _breakdown(config: EvalConfig, samples: list[Sample], done: dict, tasks: dict[str, Task]) -> dict:
    """pass@k per group of the benchmark's result_groups (DS-1000: per library and per perturbation
    type, as DS-1000 and the paper report it), and the tasks that cannot pass offline."""
    counts: dict[str, list[int]] = {}
    for sample in samples:
        n_c = counts.setdefault(sample.task_id, [0, 0])
        n_c[0] += 1
        n_c[1] += done[sample.key]["base_status"] == PASS
    ks = default_ks(min(n for n, _ in counts.values()), sorted(set(config.k)))

    def table(attribute: str, order: tuple[str, ...]) -> dict:
        groups: dict[str, list[tuple[int, int]]] = {}
        for task_id, (n, c) in counts.items():
            groups.setdefault(getattr(tasks[task_id], attribute), []).append((n, c))
        rows = {}
        for name in [*order, *sorted(set(groups) - set(order))]:
            if name in groups:
                group = groups[name]
                rows[name] = {
                    "n_tasks": len(group),
                    "passed_tasks": sum(c > 0 for _, c in group),
                    **{f"pass@{k}": mean_pass_at_k(group, k) for k in ks},
                }
        return rows

    bench = traits(config.benchmark)
    tables = {key: table(attribute, order) for key, attribute, order in bench.result_groups}
    network = sorted(task_id for task_id in bench.network_task_ids if task_id in counts)
    return {**tables, "needs_network": network}  # cannot pass offline: the sandbox has no network


def _write_json_atomic(path: Path, data: dict) -> None:
    write_json_atomic(path, data, indent=None)

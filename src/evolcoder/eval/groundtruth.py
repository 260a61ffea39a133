"""Expected outputs of the EvalPlus benchmarks: the reference solutions run once, cached on disk.

The reference runs in the same sandbox as candidates (same interpreter, same hash seed, so set
orders agree), one input at a time, recording its output and its CPU seconds; the latter set the
candidates' time limits. The cache file is keyed by the data file's sha256 and this module's
version, written atomically, and readable by its owner only (a sandbox must not read answers).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from itertools import count
from pathlib import Path

from evolcoder.bench.base import Task
from evolcoder.bench.compare import NOT_NONE_ENTRY_POINTS
from evolcoder.data import cache_dir
from evolcoder.eval.judge import PREPARED_VERSION, Expected, InputPayloads, inputs_json
from evolcoder.execution.isolation import Limits
from evolcoder.execution.values import decode
from evolcoder.execution.worker import Worker, WorkerPool
from evolcoder.jsonl import atomic_write
from evolcoder.system import collector_paused

GROUND_TRUTH_VERSION = 4  # bump whenever the wire format or the reference run changes (4: pickled digests)
REFERENCE_SECONDS_PER_INPUT = 60.0


class GroundTruthError(RuntimeError):
    pass


def cache_path(benchmark: str, data_sha256: str) -> Path:
    folder = cache_dir() / "groundtruth"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    safe = benchmark.replace("+", "plus")
    return folder / f"{safe}-{data_sha256[:16]}-v{GROUND_TRUTH_VERSION}.pkl"


def load_or_compute(
    benchmark: str,
    dataset: str,
    tasks: list[Task],
    data_sha256: str,
    pool: WorkerPool,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, Expected]]:
    """Expected outputs for every task, from the cache or computed now (and then cached)."""
    path = cache_path(benchmark, data_sha256)
    cached = _read_cache(path)
    missing = [t for t in tasks if t.task_id not in cached]
    if missing:
        jobs = [(t, s) for t in missing for s in ("base", "plus")]
        payloads = InputPayloads()
        for task, input_set, expected in pool.imap_unordered(_reference_job(dataset, payloads), jobs):
            cached.setdefault(task.task_id, {})[input_set] = expected
            if progress:
                progress(1)
    unprepared = [e for sets in cached.values() for e in sets.values() if e.wire is None]
    for expected in unprepared:  # what judging derives from the outputs is cached with them
        expected.prepare()
    unencoded = _add_inputs_text(tasks, cached)  # and so are the inputs, as the sandbox receives them
    if missing or unprepared or unencoded:
        _write_cache(path, cached)
    return {t.task_id: cached[t.task_id] for t in tasks}


def _add_inputs_text(tasks: list[Task], cached: dict[str, dict[str, Expected]]) -> int:
    """Give each set of ``tasks`` its inputs' wire text where it has none; how many it gave."""
    added = 0
    for task in tasks:
        for input_set, expected in cached[task.task_id].items():
            if expected.inputs_text is None:
                expected.inputs_text = inputs_json(task, input_set)
                added += 1
    return added


def _reference_job(dataset: str, payloads: InputPayloads):
    def run(worker: Worker, job: tuple[Task, str]) -> tuple[Task, str, Expected]:
        task, input_set = job
        payload = payloads.get(task, input_set, REFERENCE_SECONDS_PER_INPUT)
        return task, input_set, run_reference(worker, task, dataset, input_set, payload)

    return run


def run_reference(worker: Worker, task: Task, dataset: str, input_set: str, payload: bytes) -> Expected:
    inputs = task.base_inputs if input_set == "base" else task.plus_inputs
    outputs: list = [None] * len(inputs)
    seconds: list[float] = [0.0] * len(inputs)
    seen: set[int] = set()
    errors: list[str] = []

    def on_record(record: dict) -> bool:
        if "os" in record:  # outputs of consecutive inputs (driver._Writer.queue_output)
            for i, output, spent in zip(count(record["i"]), record["os"], record["cs"], strict=False):
                outputs[i] = decode(output)
                seconds[i] = float(spent)
                seen.add(i)
        elif "i" in record:
            errors.append(f"input {record['i']}: {record.get('e') or 'timeout'}")
        elif "load_error" in record:
            errors.append(record["load_error"])
        return True

    budget = REFERENCE_SECONDS_PER_INPUT * max(1, len(inputs))
    request = {
        "kind": "function_io",
        "code": task.reference,
        "entry_point": task.entry_point,
        "fail_fast": False,
        "output_not_none": dataset == "mbpp" and task.entry_point in NOT_NONE_ENTRY_POINTS,
    }
    # The reference is trusted: EvalPlus runs it with no memory limit, and Mbpp/255 needs >4 GiB.
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limits = Limits(cpu_seconds=budget, wall_seconds=budget * 2, memory_bytes=memory, max_output_bytes=1 << 30)
    outcome = worker.run(request, limits, on_record, payload=payload)
    if errors or len(seen) != len(inputs):
        detail = errors[0] if errors else (outcome.reason or f"exit code {outcome.exit_code}")
        raise GroundTruthError(f"reference solution of {task.task_id} failed on its {input_set} inputs: {detail}")
    return Expected(outputs, seconds)


def _read_cache(path: Path) -> dict[str, dict[str, Expected]]:
    if not path.exists():
        return {}
    try:
        with open(path, "rb") as f, collector_paused():
            raw = pickle.load(f)  # our own file, owner-only, never visible inside a sandbox
            return {task_id: {s: _expected(v) for s, v in sets.items()} for task_id, sets in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, EOFError, AttributeError, pickle.UnpicklingError):
        return {}  # a damaged cache is recomputed


def _expected(raw: dict) -> Expected:
    """One cached set; its derivations are kept only if Expected.prepare still derives the same."""
    inputs_text = raw.get("inputs_text")  # (depends on the wire format alone: GROUND_TRUTH_VERSION)
    if raw.get("prepared") != PREPARED_VERSION:
        return Expected(raw["outputs"], raw["seconds"], inputs_text=inputs_text)
    return Expected(raw["outputs"], raw["seconds"], raw["wire"], raw["floats_at"], inputs_text)


def _write_cache(path: Path, expected: dict[str, dict[str, Expected]]) -> None:
    raw = {task_id: {s: _raw(e) for s, e in sets.items()} for task_id, sets in expected.items()}
    with atomic_write(path, "wb", chmod=0o600) as f:  # owner-only from its creation
        pickle.dump(raw, f, protocol=pickle.HIGHEST_PROTOCOL)


def _raw(expected: Expected) -> dict:
    raw = {"outputs": expected.outputs, "seconds": expected.seconds}
    if expected.wire is not None and expected.floats_at is not None:
        raw |= {"wire": expected.wire, "floats_at": expected.floats_at, "prepared": PREPARED_VERSION}
    if expected.inputs_text is not None:
        raw["inputs_text"] = expected.inputs_text
    return raw

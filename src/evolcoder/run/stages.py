"""Stages of an experiment: each one is skipped when its output is whole and its inputs are unchanged.

A stage names what it reads (``inputs``: the config parts it uses and the output hashes of the
stages before it) and what it writes (``outputs``, paths under the experiment folder). Its record,
``EXP/stages/<name>.json``, keeps the hash of those inputs and, once it has finished, the hash of
its outputs. Running a stage then means:

- record complete, same input hash, outputs still hash the same: skip it, return the output hash;
- record of a run with the same input hash that did not finish (a kill): run it again in place,
  so the commands resume their own append-only files;
- otherwise (other inputs, or outputs nobody recorded): delete its outputs and run it afresh.

Downstream stages take the output hash as an input, so a changed config reruns exactly the stages
whose inputs it changes, and the ones below them whose upstream output changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from evolcoder.data import file_sha256
from evolcoder.jsonl import write_json_atomic
from evolcoder.records import COMPLETE, RUNNING, StageRecord, given

RECORDS_DIR = "stages"


@dataclass
class Stage:
    name: str  # e.g. "train/round_1"; unique in the experiment
    kind: str  # evolve, dataset, train, dev-gen, dev-eval, test-gen, test-eval
    inputs: dict[str, Any]  # JSON-ready: config parts and upstream output hashes
    outputs: list[str]  # paths relative to the experiment folder, removed before a fresh run
    work: Callable[[], None]
    fingerprint: Callable[[], str | None]  # hash of the finished outputs, None when they are missing
    round: int | None = None


def hash_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def hash_file(path: Path) -> str | None:
    return file_sha256(path) if path.is_file() else None


def hash_lines(path: Path) -> str | None:
    """Order-free hash of a JSONL file's whole lines (concurrent writers append in any order)."""
    if not path.is_file():
        return None
    lines = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if line.endswith("\n")]
    return hash_json(sorted(lines))  # kept as first written: a changed hash would rerun finished stages


def record_path(exp: Path, name: str) -> Path:
    return exp / RECORDS_DIR / (name.replace("/", "__") + ".json")


def read_record(exp: Path, name: str) -> dict | None:
    """The stage's record as written (a ``StageRecord`` row), or None when missing or unreadable."""
    try:
        record = json.loads(record_path(exp, name).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def stage_record(exp: Path, name: str) -> StageRecord | None:
    record = read_record(exp, name)
    return StageRecord.from_row(record) if record else None


def write_json(path: Path, data: Any) -> None:
    """Write beside, then rename: a kill never leaves half a file."""
    write_json_atomic(path, data, default=str)


def up_to_date(exp: Path, stage: Stage) -> str | None:
    """The output hash when the stage can be skipped, else None."""
    record = stage_record(exp, stage.name)
    if not record or record.status != COMPLETE or record.input_hash != hash_json(stage.inputs):
        return None
    output_hash = stage.fingerprint()
    return output_hash if output_hash is not None and output_hash == record.output_hash else None


def remove_outputs(exp: Path, stage: Stage) -> None:
    for relative in stage.outputs:
        path = exp / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def run_stage(exp: Path, stage: Stage, progress: Progress | None = None) -> str:
    """Skip, resume or (re)run one stage; returns the hash of its outputs."""
    input_hash = hash_json(stage.inputs)
    done = up_to_date(exp, stage)
    if done is not None:
        if progress:
            progress.skipped(stage)
        return done
    record = stage_record(exp, stage.name)
    resuming = bool(record) and record.input_hash == input_hash and record.status == RUNNING
    if not resuming:
        remove_outputs(exp, stage)
    if progress:
        progress.started(stage, resuming)
    running = StageRecord(
        stage=stage.name,
        kind=stage.kind,
        round=stage.round,
        input_hash=input_hash,
        inputs=stage.inputs,
        outputs=stage.outputs,
        status=RUNNING,
        started=time.time(),
    )
    write_json(record_path(exp, stage.name), running.to_row())
    stage.work()
    output_hash = stage.fingerprint()
    if output_hash is None:
        raise RuntimeError(f"stage {stage.name} finished without its outputs ({', '.join(stage.outputs)})")
    seconds = round(time.time() - running.started, 2)
    complete = replace(running, status=COMPLETE, output_hash=output_hash, seconds=seconds)
    write_json(record_path(exp, stage.name), complete.to_row())
    if progress:
        progress.finished(stage, seconds)
    return output_hash


# ---- the progress view ----------------------------------------------------------------------


@dataclass
class Progress:
    """One line per stage on stderr: its place in the plan, its round, elapsed time and an ETA.

    The ETA sums, over the stages still planned, the mean duration of stages of the same kind:
    measured in this run, else recorded by an earlier run of the experiment (stage records).
    """

    exp: Path
    plan: list[tuple[str, str]]  # (name, kind) of every stage that may run, in order
    enabled: bool = True
    durations: dict[str, list[float]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.console = Console(file=sys.stderr, highlight=False)
        for name, kind in self.plan:
            record = stage_record(self.exp, name)
            if record and given(record.seconds) is not None:
                self.durations.setdefault(kind, []).append(float(record.seconds))

    def drop(self, names: set[str]) -> None:
        """Stages that will not run after all (early stopping)."""
        self.plan = [(name, kind) for name, kind in self.plan if name not in names]

    def eta(self) -> float | None:
        every = [s for values in self.durations.values() for s in values]
        if not every:
            return None
        overall = sum(every) / len(every)
        left = [kind for name, kind in self.plan if name not in self.done]
        return sum(_mean(self.durations.get(kind)) or overall for kind in left)

    def _line(self, stage: Stage, what: str) -> None:
        if not self.enabled:
            return
        names = [name for name, _ in self.plan]
        place = f"[{names.index(stage.name) + 1 if stage.name in names else '?'}/{len(self.plan)}]"
        round_text = f" round {stage.round}" if stage.round is not None else ""
        eta = self.eta()
        timing = f"elapsed {_clock(time.monotonic() - self.t0)}" + (f", ETA {_clock(eta)}" if eta is not None else "")
        self.console.print(f"[bold]{place}[/bold] {stage.kind}{round_text} {stage.name}: {what} ({timing})")

    def skipped(self, stage: Stage) -> None:
        self.done.add(stage.name)
        self._line(stage, "up to date, skipped")

    def started(self, stage: Stage, resuming: bool) -> None:
        self._line(stage, "resuming" if resuming else "running")

    def finished(self, stage: Stage, seconds: float) -> None:
        self.durations.setdefault(stage.kind, []).append(seconds)
        self.done.add(stage.name)
        self._line(stage, f"done in {_clock(seconds)}")


def _mean(values: list[float] | None) -> float | None:
    return sum(values) / len(values) if values else None


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"

"""Read EvalPlus-format sample files: JSONL rows ``{task_id, solution}`` or ``{task_id, completion}``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from evolcoder.bench.base import Task


class InputError(ValueError):
    """Bad user input; the message is one line naming file, line and field."""


@dataclass(frozen=True)
class Sample:
    task_id: str
    solution: str  # the whole program to test
    line: int  # 1-based line in the samples file
    completion_id: int  # index among the samples of the same task, in file order

    @property
    def key(self) -> str:
        """Identifies this sample across runs: its place and its content."""
        digest = hashlib.sha256(f"{self.task_id}\0{self.solution}".encode()).hexdigest()[:16]
        return f"{self.line}:{digest}"


def normalize_task_id(raw: object, tasks: dict[str, Task]) -> str | None:
    """Accept ``HumanEval/3``, ``Mbpp/11``, and bare MBPP numbers (``11`` or "11")."""
    text = str(raw).strip()
    if text in tasks:
        return text
    if text.isdigit() and f"Mbpp/{text}" in tasks:
        return f"Mbpp/{text}"
    return None


def read_samples(path: Path, tasks: dict[str, Task]) -> list[Sample]:
    if not path.is_file():
        raise InputError(f"{path}: samples file not found")
    samples: list[Sample] = []
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8", errors="strict") as f:
        try:
            lines = list(f)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        if "task_id" not in row:
            raise InputError(f"{where}: field 'task_id' is missing")
        task_id = normalize_task_id(row["task_id"], tasks)
        if task_id is None:
            raise InputError(f"{where}: field 'task_id': unknown task {row['task_id']!r} for this benchmark")
        if "solution" in row:
            field, text = "solution", row["solution"]
        elif "completion" in row:
            field, text = "completion", row["completion"]
        else:
            raise InputError(f"{where}: needs a 'solution' or a 'completion' field")
        if not isinstance(text, str):
            raise InputError(f"{where}: field '{field}' must be a string, got {type(text).__name__}")
        solution = text if field == "solution" else tasks[task_id].prompt + text
        completion_id = counts.get(task_id, 0)
        counts[task_id] = completion_id + 1
        samples.append(Sample(task_id, solution, number, completion_id))
    if not samples:
        raise InputError(f"{path}: no samples in the file")
    return samples

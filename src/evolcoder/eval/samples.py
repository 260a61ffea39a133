"""Read EvalPlus-format sample files: JSONL rows ``{task_id, solution}`` or ``{task_id, completion}``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evolcoder.bench import task_traits
from evolcoder.bench.base import Task
from evolcoder.errors import UserError


class InputError(UserError):
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
    for prefix in ("Mbpp/", "DS1000/"):
        if text.isdigit() and f"{prefix}{text}" in tasks:
            return f"{prefix}{text}"
    return None


def json_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of a JSONL file, in order; a bad line is an
    InputError when it is reached, so the first error in the file is the one reported."""
    if not path.is_file():
        raise InputError(f"{path}: samples file not found")
    with open(path, "rb") as f:
        raw_lines = list(f)
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}:{number}: not UTF-8 text ({exc.reason} at byte {exc.start + 1})") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def read_samples(path: Path, tasks: dict[str, Task]) -> list[Sample]:
    samples: list[Sample] = []
    counts: dict[str, int] = {}
    for number, row in json_rows(path):
        where = f"{path}:{number}"
        id_field = "task_id" if "task_id" in row or "id" not in row else "id"  # DS-1000's own files: "id"
        task_id = task_id_of(row, where, tasks, id_field)
        task = tasks[task_id]
        field, text = text_of(row, where, task_traits(task).sample_fields)
        solution = text if field == "solution" else _complete(task, text)
        completion_id = counts.get(task_id, 0)
        counts[task_id] = completion_id + 1
        samples.append(Sample(task_id, solution, number, completion_id))
    if not samples:
        raise InputError(f"{path}: no samples in the file")
    return samples


def task_id_of(row: dict, where: str, tasks: dict[str, Task], id_field: str = "task_id") -> str:
    """The row's task id, normalised; a missing or unknown id is an InputError naming ``where``."""
    if id_field not in row:
        raise InputError(f"{where}: field 'task_id' is missing")
    task_id = normalize_task_id(row[id_field], tasks)
    if task_id is None:
        raise InputError(f"{where}: field '{id_field}': unknown task {row[id_field]!r} for this benchmark")
    return task_id


def text_of(row: dict, where: str, fields: tuple[str, ...]) -> tuple[str, str]:
    """(field, text) of the first of ``fields`` the row has; its value must be a string."""
    field = next((name for name in fields if name in row), None)
    if field is None:
        quoted = [f"'{name}'" for name in fields]
        raise InputError(f"{where}: needs a {', '.join(quoted[:-1])} or {quoted[-1]} field")
    text = row[field]
    if not isinstance(text, str):
        raise InputError(f"{where}: field '{field}' must be a string, got {type(text).__name__}")
    return field, text


def _complete(task: Task, completion: str) -> str:
    """A completion as a solution: the prompt continued, or where the benchmark post-processes its
    answers the code itself (DS-1000: cut at ``</code>`` / ``END SOLUTION`` as its own harness does)."""
    postprocess = task_traits(task).postprocess
    if postprocess is not None:
        return postprocess(completion, task)
    return task.prompt + completion

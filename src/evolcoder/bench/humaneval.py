"""HumanEval (Chen et al. 2021): 164 function-completion problems tested by their ``check``."""

from __future__ import annotations

from pathlib import Path

from evolcoder.bench.base import Task, read_jsonl
from evolcoder.data import resolve_data_file

NAME = "humaneval"
DATA_KEYS = ("humaneval",)


def load(data_dir: Path | str | None = None) -> list[Task]:
    path = resolve_data_file("humaneval", data_dir)
    return [
        Task(
            task_id=row["task_id"],
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            reference=row["prompt"] + row["canonical_solution"],
            kind="check",
            test=row["test"],
        )
        for row in read_jsonl(path)
    ]

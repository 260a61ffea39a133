"""HumanEval+ v0.1.10 (EvalPlus): HumanEval's problems with 80x more inputs.

Solutions are judged on outputs: the reference solution's outputs on the ``base_input`` (the
original tests' inputs) and on the ``plus_input`` are the expected values.
"""

from __future__ import annotations

from pathlib import Path

from evolcoder.bench.base import Task, read_jsonl
from evolcoder.data import resolve_data_file

NAME = "humaneval+"
DATA_KEYS = ("humaneval_plus",)
DATASET = "humaneval"  # which EvalPlus special oracles apply


def load(data_dir: Path | str | None = None) -> list[Task]:
    path = resolve_data_file("humaneval_plus", data_dir)
    return [
        Task(
            task_id=row["task_id"],
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            reference=row["prompt"] + row["canonical_solution"],
            kind="io",
            base_inputs=row["base_input"],
            plus_inputs=row["plus_input"],
            atol=float(row["atol"] or 0),
        )
        for row in read_jsonl(path)
    ]

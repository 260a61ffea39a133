"""What every benchmark module provides: its tasks, loaded from verified data files."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Task:
    """One benchmark problem and the material to test a solution of it.

    ``kind`` says how solutions are judged: ``check`` (HumanEval's check function), ``asserts``
    (MBPP's assert lines) or ``io`` (EvalPlus: outputs on stored inputs compared with the
    reference's outputs, base and plus inputs judged separately).
    """

    task_id: str
    prompt: str  # what a completion continues: solution = prompt + completion
    entry_point: str
    reference: str  # the canonical solution as a whole program
    kind: str
    description: str = ""  # the problem in words (MBPP); HumanEval's is in its prompt
    test: str = ""  # kind "check"
    setup: str = ""  # kind "asserts"
    asserts: tuple[str, ...] = ()
    base_inputs: list[Any] = field(default_factory=list, repr=False)  # kind "io"
    plus_inputs: list[Any] = field(default_factory=list, repr=False)
    atol: float = 0.0


def read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)

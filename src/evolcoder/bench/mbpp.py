"""MBPP (Austin et al. 2021): the 500 test problems (task ids 11-510) with their assert tests.

Task ids are written ``Mbpp/<n>`` as in MBPP+; sample files may also say ``<n>``.
"""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

from evolcoder.bench.base import Task
from evolcoder.data import resolve_data_file

NAME = "mbpp"
DATA_KEYS = ("mbpp",)
TEST_IDS = range(11, 511)


def _parse(source: str) -> ast.AST:
    # MBPP's code has invalid escapes ("\d" in plain strings); Python >= 3.12 warns on stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def called_names(asserts: tuple[str, ...]) -> list[str]:
    """Names of the functions the assert lines call, in order of first use."""
    names: dict[str, None] = {}
    for line in asserts:
        for node in ast.walk(_parse(line)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names.setdefault(node.func.id, None)
    return list(names)


def _entry_point(code: str, asserts: tuple[str, ...]) -> str:
    defined = {n.name for n in ast.walk(_parse(code)) if isinstance(n, ast.FunctionDef)}
    for name in called_names(asserts):
        if name in defined:
            return name
    return called_names(asserts)[0]


def load(data_dir: Path | str | None = None) -> list[Task]:
    return load_split(TEST_IDS, data_dir)


def load_split(task_ids: range, data_dir: Path | str | None = None) -> list[Task]:
    """The problems of ``mbpp.jsonl`` with these task ids (the test split, or train + validation)."""
    path = resolve_data_file("mbpp", data_dir)
    tasks = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["task_id"] not in task_ids:
                continue
            asserts = tuple(row["test_list"])
            tasks.append(
                Task(
                    task_id=f"Mbpp/{row['task_id']}",
                    prompt="",
                    entry_point=_entry_point(row["code"], asserts),
                    reference=row["code"],
                    kind="asserts",
                    description=row["text"],
                    setup=row["test_setup_code"],
                    asserts=asserts,
                )
            )
    return tasks

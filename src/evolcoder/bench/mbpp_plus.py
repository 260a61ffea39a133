"""MBPP+ v0.2.0 (EvalPlus): 378 sanitized MBPP problems with many more inputs.

JSON cannot hold tuples, sets or complex numbers, so EvalPlus stores some tasks' inputs as lists
and rebuilds the real argument types when loading. ``_ARGUMENT_SHAPES`` records, per task, which
arguments are tuples (or sets, or complex numbers) — the same rebuilding EvalPlus 0.3.1 does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from evolcoder.bench.base import Task, read_jsonl
from evolcoder.data import resolve_data_file

NAME = "mbpp+"
DATA_KEYS = ("mbpp_plus",)
DATASET = "mbpp"  # which EvalPlus special oracles apply


def _all_args_tuples(args: list) -> list:
    return [tuple(a) for a in args]


def _first_arg_list_of_tuples(args: list) -> list:
    return [[tuple(x) for x in a] for a in args]


def _first_arg_list_of_tuples_then_rest(args: list) -> list:
    return [[tuple(x) for x in args[0]], *args[1:]]


def _second_arg_tuple(args: list) -> list:
    return [args[0], tuple(args[1]), *args[2:]]


def _first_arg_tuple(args: list) -> list:
    return [tuple(args[0]), *args[1:]]


def _tuples_of_tuples(args: list) -> list:
    return [tuple(tuple(x) for x in a) for a in args]


def _mixed_items_to_tuples(args: list) -> list:
    return [tuple(tuple(x) if isinstance(x, list) else x for x in args[0])]


def _sets(args: list) -> list:
    return [[set(x) if isinstance(x, list) and x else {} for x in args[0]]]


def _float_complex(args: list) -> tuple:
    return (float(args[0]), complex(args[1]))


def _complex(args: list) -> list:
    return [complex(args[0])]


def _dict_values_tuples(args: list) -> list:
    return [{k: tuple(v) for k, v in args[0].items()}, *args[1:]]


def _deep_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_deep_tuples(x) for x in value)
    return value


_SHAPES: dict[Callable, tuple[int, ...]] = {
    _all_args_tuples: (
        2,
        116,
        132,
        143,
        222,
        261,
        273,
        394,
        399,
        421,
        424,
        429,
        470,
        560,
        579,
        596,
        616,
        630,
        726,
        740,
        744,
        809,
    ),
    _first_arg_list_of_tuples: (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780),
    _first_arg_list_of_tuples_then_rest: (75, 413, 444, 753),
    _second_arg_tuple: (106, 750),
    _sets: (115,),
    _float_complex: (124,),
    _first_arg_tuple: (250, 307, 405, 446, 617, 720, 763, 808),
    _tuples_of_tuples: (259, 401, 445),
    _mixed_items_to_tuples: (278,),
    _complex: (252,),
    _dict_values_tuples: (722,),
    _deep_tuples: (580, 615, 791),
}
_ARGUMENT_SHAPES = {number: fn for fn, numbers in _SHAPES.items() for number in numbers}


def rebuild_inputs(task_id: str, inputs: list) -> list:
    number = int(task_id.split("/")[-1])
    shape = _ARGUMENT_SHAPES.get(number)
    if shape is None:
        return inputs
    if shape is _deep_tuples:
        return [_deep_tuples(args) for args in inputs]
    return [shape(args) for args in inputs]


def load(data_dir: Path | str | None = None) -> list[Task]:
    path = resolve_data_file("mbpp_plus", data_dir)
    tasks = []
    for row in read_jsonl(path):
        task_id = row["task_id"]
        tasks.append(
            Task(
                task_id=task_id,
                prompt=row["prompt"],
                entry_point=row["entry_point"],
                reference=row["prompt"] + row["canonical_solution"],
                kind="io",
                description=row["prompt"].strip().strip('"').strip(),
                base_inputs=rebuild_inputs(task_id, row["base_input"]),
                plus_inputs=rebuild_inputs(task_id, row["plus_input"]),
                atol=float(row["atol"] or 0),
            )
        )
    return tasks

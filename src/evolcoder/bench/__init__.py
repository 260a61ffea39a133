"""Benchmarks: one module each, all behind the same small interface (NAME, DATA_KEYS, load).

A module may also provide hooks (see :class:`Traits`) where it differs from the EvalPlus-style
benchmarks; generic code asks :func:`traits` or :func:`task_traits` for them, never a benchmark's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from types import ModuleType
from typing import TYPE_CHECKING, Any

from evolcoder.errors import UserError

if TYPE_CHECKING:
    from evolcoder.bench.base import Task

BENCHMARKS = {
    "humaneval": "evolcoder.bench.humaneval",
    "humaneval+": "evolcoder.bench.humaneval_plus",
    "mbpp": "evolcoder.bench.mbpp",
    "mbpp+": "evolcoder.bench.mbpp_plus",
    "ds1000": "evolcoder.bench.ds1000",
    "mbpp-dev": "evolcoder.bench.mbpp_dev",
}


def get_benchmark(name: str) -> ModuleType:
    if name not in BENCHMARKS:
        raise UserError(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS)}")
    return importlib.import_module(BENCHMARKS[name])


def _never(task: Task) -> bool:
    return False


@dataclass(frozen=True)
class Traits:
    """What generic code asks of a benchmark instead of its name.

    A benchmark module overrides a default by defining the attribute of the field's name, upper
    case for a value (``LIBRARIES``), as is for a function (``postprocess``). A function left
    ``None`` means the generic behaviour of the code that asks.
    """

    name: str
    # What --library selects from; a benchmark without libraries rejects --library.
    libraries: tuple[str, ...] = ()
    default_memory_mb: int = 4096  # the sandbox's address-space limit unless --memory-mb is given
    completion_stops: tuple[str, ...] | None = None  # stops of the base prompt style; None: generic ones
    sample_fields: tuple[str, ...] = ("solution", "completion")  # where a samples row holds its text
    # Extra pass@k tables of eval_results.json: (key, task attribute grouped by, order of the groups).
    result_groups: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    network_task_ids: frozenset[str] = frozenset()  # tasks that cannot pass offline (the sandbox has no network)
    instruction: Callable[[Task], str] | None = None  # the task in words, for the paper and chat prompts
    postprocess: Callable[[str, Task], str] | None = None  # the code in a model's text, whatever its form
    program: Callable[[Task, str], str] | None = None  # a solution's whole test program, judged as one
    judged_in_process: Callable[[Task], bool] = _never  # its test program runs beside the candidate
    sandbox: Callable[..., tuple[Any, dict]] | None = None  # (profile, environment) of a sandbox of its own
    setup_missing: Callable[[], str | None] | None = None  # why its environment is not ready, or None


_FUNCTIONS = ("instruction", "postprocess", "program", "judged_in_process", "sandbox", "setup_missing")
_GENERIC = Traits(name="")  # the defaults: tasks of the EvalPlus-style kinds (check, asserts, io)


def traits(name: str) -> Traits:
    """The hooks of benchmark ``name``, with defaults for those its module does not define."""
    module = get_benchmark(name)
    given = {}
    for hook in fields(Traits):
        if hook.name == "name":
            continue
        attribute = hook.name if hook.name in _FUNCTIONS else hook.name.upper()
        if hasattr(module, attribute):
            given[hook.name] = getattr(module, attribute)
    return Traits(name=name, **given)


def task_traits(task: Task) -> Traits:
    """The hooks that apply to ``task``. A benchmark whose tasks are judged their own way names
    their ``kind`` after itself (DS-1000: ``ds1000``); other tasks get the defaults."""
    return traits(task.kind) if task.kind in BENCHMARKS else _GENERIC

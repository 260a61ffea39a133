"""Benchmarks: one module each, all behind the same small interface (NAME, DATA_KEYS, load)."""

from __future__ import annotations

import importlib
from types import ModuleType

from evolcoder.errors import UserError

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

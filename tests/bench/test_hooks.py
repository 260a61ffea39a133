"""Benchmark hooks (bench.Traits): every benchmark's resolve, DS-1000's differ where it differs."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolcoder.bench import BENCHMARKS, Traits, ds1000, task_traits, traits
from evolcoder.bench.base import Task
from evolcoder.bench.prompts import instruction
from evolcoder.errors import UserError
from evolcoder.eval.config import EvalConfig
from evolcoder.generate.config import BASE_STOPS, GenerateConfig


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_every_benchmark_has_its_traits(name: str) -> None:
    found = traits(name)
    assert isinstance(found, Traits) and found.name == name
    assert found.default_memory_mb >= 64
    assert {"solution", "completion"} <= set(found.sample_fields)
    for attribute, _, order in found.result_groups:
        assert attribute and order


@pytest.mark.parametrize("name", [n for n in BENCHMARKS if n != "ds1000"])
def test_the_evalplus_style_benchmarks_keep_the_defaults(name: str) -> None:
    assert traits(name) == Traits(name=name)


def test_ds1000_has_hooks_of_its_own() -> None:
    found = traits("ds1000")
    assert found.libraries == ds1000.LIBRARIES
    assert found.default_memory_mb == 8192
    assert found.completion_stops == ds1000.COMPLETION_STOPS
    assert found.sample_fields == ("solution", "completion", "code")
    assert [key for key, _, _ in found.result_groups] == ["per_library", "per_perturbation"]
    assert found.network_task_ids == {"DS1000/819"}
    assert found.postprocess is ds1000.postprocess and found.program is ds1000.program
    assert found.judged_in_process is ds1000.judged_in_process
    assert found.sandbox is ds1000.sandbox and found.setup_missing is ds1000.setup_missing


def test_a_task_finds_its_benchmark_by_kind() -> None:
    plain = Task("HumanEval/0", "def f():\n", "f", "", "check")
    assert task_traits(plain) == Traits(name="")
    assert not task_traits(plain).judged_in_process(plain)
    problem = ds1000.DS1000Task("DS1000/0", "Problem\n<code>\n", "", "x = 1\n", "ds1000", library="Matplotlib")
    assert task_traits(problem).name == "ds1000"
    assert task_traits(problem).judged_in_process(problem)
    assert instruction(problem) == problem.prompt
    assert instruction(plain) == "Create a Python script for this problem:\ndef f():\n"


def test_library_applies_only_to_a_benchmark_with_libraries() -> None:
    with pytest.raises(UserError, match="--library selects DS-1000 problems; it does not apply to humaneval"):
        EvalConfig(benchmark="humaneval", samples=Path("s.jsonl"), library=["numpy"])
    with pytest.raises(UserError, match="it does not apply to mbpp"):
        GenerateConfig(benchmark="mbpp", output=Path("o.jsonl"), library=["numpy"])
    assert EvalConfig(benchmark="ds1000", samples=Path("s.jsonl"), library=["numpy"]).library == ["numpy"]


def test_memory_and_stops_come_from_the_benchmark() -> None:
    assert EvalConfig(benchmark="ds1000", samples=Path("s.jsonl")).memory_mb == 8192
    assert EvalConfig(benchmark="mbpp+", samples=Path("s.jsonl")).memory_mb == 4096
    assert EvalConfig(benchmark="ds1000", samples=Path("s.jsonl"), memory_mb=1024).memory_mb == 1024
    base = {"output": Path("o.jsonl"), "prompt_style": "base"}
    assert GenerateConfig(benchmark="ds1000", **base).sampling().stop == ds1000.COMPLETION_STOPS
    assert GenerateConfig(benchmark="humaneval", **base).sampling().stop == BASE_STOPS
    assert GenerateConfig(benchmark="ds1000", output=Path("o.jsonl")).sampling().stop != ds1000.COMPLETION_STOPS

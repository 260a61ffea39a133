"""The benchmark loaders, on the real data files."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolcoder.bench import BENCHMARKS, get_benchmark
from evolcoder.bench.base import Task
from evolcoder.bench.mbpp import called_names
from evolcoder.bench.mbpp_plus import rebuild_inputs
from evolcoder.data.fetch import data_dir_from_env

_loaded: dict[str, list[Task]] = {}


def tasks_of(benchmark: str) -> list[Task]:
    if benchmark not in _loaded:
        _loaded[benchmark] = get_benchmark(benchmark).load(data_dir_from_env())
    return _loaded[benchmark]


def by_id(benchmark: str) -> dict[str, Task]:
    return {t.task_id: t for t in tasks_of(benchmark)}


@pytest.mark.parametrize(
    ("benchmark", "count", "kind"),
    [("humaneval", 164, "check"), ("humaneval+", 164, "io"), ("mbpp", 500, "asserts"), ("mbpp+", 378, "io")],
)
def test_counts_and_kinds(benchmark: str, count: int, kind: str) -> None:
    tasks = tasks_of(benchmark)
    assert len(tasks) == count
    assert len({t.task_id for t in tasks}) == count
    assert {t.kind for t in tasks} == {kind}
    assert all(t.entry_point.isidentifier() for t in tasks)
    assert all(f"def {t.entry_point}" in t.reference for t in tasks)


def test_benchmark_registry() -> None:
    assert set(BENCHMARKS) == {"humaneval", "humaneval+", "mbpp", "mbpp+", "mbpp-dev", "ds1000"}
    with pytest.raises(ValueError):
        get_benchmark("apps")


def test_humaneval_ids_and_tests() -> None:
    tasks = tasks_of("humaneval")
    assert [t.task_id for t in tasks] == [f"HumanEval/{i}" for i in range(164)]
    for task in tasks:
        assert "def check(candidate)" in task.test
        assert task.reference.startswith(task.prompt)
        assert task.prompt.rstrip().endswith(('"""', "'''"))
    assert tasks[0].entry_point == "has_close_elements"


def test_humaneval_plus_has_base_and_plus_inputs() -> None:
    tasks = tasks_of("humaneval+")
    assert [t.task_id for t in tasks] == [f"HumanEval/{i}" for i in range(164)]
    for task in tasks:
        assert task.base_inputs and isinstance(task.base_inputs, list)
        assert task.plus_inputs and isinstance(task.plus_inputs, list)
        assert all(isinstance(args, list) for args in task.base_inputs + task.plus_inputs)
        assert task.reference.startswith(task.prompt)
    first = tasks[0]
    assert first.base_inputs[0] == [[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3]
    assert len(first.base_inputs) == 7
    assert len(first.plus_inputs) > 100
    assert sum(len(t.plus_inputs) for t in tasks) > 80 * sum(len(t.base_inputs) for t in tasks) / 2


def test_humaneval_plus_prompts_match_humaneval() -> None:
    plain, plus = by_id("humaneval"), by_id("humaneval+")
    assert set(plain) == set(plus)
    same_entry = sum(plain[i].entry_point == plus[i].entry_point for i in plain)
    assert same_entry == 164


def test_humaneval_plus_tolerances() -> None:
    tasks = by_id("humaneval+")
    assert tasks["HumanEval/32"].atol == pytest.approx(1e-4)  # find_zero
    assert tasks["HumanEval/32"].entry_point == "find_zero"
    assert tasks["HumanEval/2"].atol == pytest.approx(1e-6)
    assert tasks["HumanEval/0"].atol == 0.0
    assert all(isinstance(t.atol, float) for t in tasks.values())


def test_mbpp_ids_are_11_to_510() -> None:
    tasks = tasks_of("mbpp")
    assert [t.task_id for t in tasks] == [f"Mbpp/{i}" for i in range(11, 511)]


def test_mbpp_tasks_have_three_asserts_on_the_entry_point() -> None:
    for task in tasks_of("mbpp"):
        assert len(task.asserts) >= 3
        assert all(line.lstrip().startswith("assert") for line in task.asserts)
        assert task.prompt == ""
        assert task.entry_point in called_names(task.asserts)
    first = by_id("mbpp")["Mbpp/11"]
    assert first.entry_point == "remove_Occ"
    assert first.asserts[0] == 'assert remove_Occ("hello","l") == "heo"'


def test_called_names_in_order_of_first_use() -> None:
    asserts = ("assert set(f(1, g(2))) == set((1,))", "assert h(f(3)) == 1")
    assert called_names(asserts) == ["set", "f", "g", "h"]


def test_mbpp_plus_ids() -> None:
    tasks = tasks_of("mbpp+")
    numbers = [int(t.task_id.removeprefix("Mbpp/")) for t in tasks]
    assert all(t.task_id.startswith("Mbpp/") for t in tasks)
    assert numbers == sorted(numbers)
    assert numbers[:4] == [2, 3, 4, 6]
    for task in tasks:
        assert task.base_inputs
        # Upstream stores Mbpp/793's plus inputs as an empty object: no plus tests.
        assert task.plus_inputs or task.task_id == "Mbpp/793"
    assert len(by_id("mbpp+")["Mbpp/793"].plus_inputs) == 0


def test_mbpp_plus_task_2_inputs_are_tuples() -> None:
    task = by_id("mbpp+")["Mbpp/2"]
    assert task.entry_point == "similar_elements"
    assert task.base_inputs[0] == [(3, 4, 5, 6), (5, 7, 4, 10)]
    for args in task.base_inputs + task.plus_inputs:
        assert all(type(a) is tuple for a in args)


def test_mbpp_plus_other_argument_shapes() -> None:
    tasks = by_id("mbpp+")
    # a list of tuples as the first argument
    for args in tasks["Mbpp/63"].base_inputs:
        assert type(args[0]) is list and all(type(x) is tuple for x in args[0])
    # a tuple as the first argument, the rest unchanged
    for args in tasks["Mbpp/250"].base_inputs:
        assert type(args[0]) is tuple
    # a float and a complex number
    for args in tasks["Mbpp/124"].base_inputs + tasks["Mbpp/124"].plus_inputs:
        assert type(args) is tuple and type(args[0]) is float and type(args[1]) is complex
    # tasks without a shape keep their lists
    for args in tasks["Mbpp/3"].base_inputs:
        assert type(args) is list


def test_rebuild_inputs_leaves_unknown_tasks_alone() -> None:
    inputs = [[[1, 2], [3]]]
    assert rebuild_inputs("Mbpp/3", inputs) is inputs
    assert rebuild_inputs("Mbpp/2", inputs) == [[(1, 2), (3,)]]


def test_load_reads_the_data_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLCODER_DATA_DIR", str(data_dir_from_env()))
    assert len(get_benchmark("humaneval").load()) == 164


def test_load_from_a_folder_without_the_file(tmp_path: Path) -> None:
    from evolcoder.data import DataError

    with pytest.raises(DataError):
        get_benchmark("mbpp+").load(tmp_path)

"""The ground-truth cache holds what judging derives from the expected outputs (judge.Expected.prepare),
so an eval does not derive it again: the wire forms, the NaN's "no wire" marker among them, and
where the float outputs are. Reference outputs come from the real sandbox on real HumanEval+ tasks."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.data import DATA_FILES
from evolcoder.eval import groundtruth
from evolcoder.eval.judge import (
    _NO_WIRE,
    PREPARED_VERSION,
    Expected,
    InputPayloads,
    TimeLimits,
    expected_wire,
    judge_io,
)
from evolcoder.execution.isolation import Limits
from evolcoder.execution.values import decode
from evolcoder.execution.worker import Worker, WorkerPool
from evolcoder.records import FAIL, PASS

TASK_IDS = ("HumanEval/0", "HumanEval/2", "HumanEval/12")  # bools, floats, strings and None


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list:
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(tmp_path / "cache"))
    return [t for t in get_benchmark("humaneval+").load() if t.task_id in TASK_IDS]


SHA = DATA_FILES[get_benchmark("humaneval+").DATA_KEYS[0]].sha256


def _load(tasks: list) -> dict[str, dict[str, Expected]]:
    with WorkerPool(1) as pool:
        return groundtruth.load_or_compute("humaneval+", "humaneval", tasks, SHA, pool)


def _cache_file() -> Path:
    return groundtruth.cache_path("humaneval+", SHA)


def test_computed_ground_truth_is_cached_with_its_derivations(tasks: list) -> None:
    fresh = _load(tasks)
    raw = pickle.loads(_cache_file().read_bytes())
    assert set(raw) == set(TASK_IDS)
    for task_id, sets in fresh.items():
        for input_set, expected in sets.items():
            stored = raw[task_id][input_set]
            assert stored["prepared"] == PREPARED_VERSION
            assert stored["wire"] == expected_wire(Expected(expected.outputs, expected.seconds))
            assert stored["floats_at"] == [i for i, out in enumerate(expected.outputs) if isinstance(out, float)]
    assert fresh["HumanEval/2"]["plus"].floats_at == list(range(len(fresh["HumanEval/2"]["plus"].outputs)))
    assert fresh["HumanEval/0"]["plus"].floats_at == []
    reread = _load(tasks)  # from the cache: derivations read, not derived
    assert reread["HumanEval/12"]["base"].wire == fresh["HumanEval/12"]["base"].wire


def test_an_older_cache_gains_the_derivations_without_running_references(tasks: list) -> None:
    _load(tasks)
    path = _cache_file()
    raw = pickle.loads(path.read_bytes())
    for sets in raw.values():
        for stored in sets.values():
            for key in ("wire", "floats_at", "prepared"):
                stored.pop(key)
    raw["HumanEval/2"]["base"]["prepared"] = PREPARED_VERSION - 1  # derived by an older rule: redone
    raw["HumanEval/2"]["base"]["wire"] = raw["HumanEval/2"]["base"]["floats_at"] = ["stale"]
    path.write_bytes(pickle.dumps(raw))
    sets = _load(tasks)
    upgraded = pickle.loads(path.read_bytes())
    for task_id in TASK_IDS:
        for input_set in ("base", "plus"):
            assert upgraded[task_id][input_set]["prepared"] == PREPARED_VERSION
            assert upgraded[task_id][input_set]["outputs"] == raw[task_id][input_set]["outputs"]
    assert sets["HumanEval/2"]["base"].wire != ["stale"]


def test_a_nan_keeps_its_no_wire_marker_through_the_cache(tmp_path: Path) -> None:
    nan = float("nan")
    expected = Expected([1, nan, [1.0, 2.0], (1, 2), "x" * 70_000], [0.0] * 5).prepare()
    path = tmp_path / "cache.pkl"
    groundtruth._write_cache(path, {"T/0": {"base": expected}})
    read = groundtruth._read_cache(path)["T/0"]["base"]
    assert read.wire[1] is _NO_WIRE  # the very marker judge_io tests with "is"
    assert read.wire[0] == 1 and read.wire[3] == expected.wire[3] and read.wire[4] == expected.wire[4]
    assert read.floats_at == [1, 2]
    assert [read.any_floats(a, b) for a, b in ((0, 1), (0, 2), (2, 3), (3, 5), (1, 1))] == [
        False,
        True,
        True,
        False,
        False,
    ]


def test_the_inputs_travel_as_cached_text_that_the_fork_server_reads_back(tasks: list) -> None:
    sets = _load(tasks)
    raw = pickle.loads(_cache_file().read_bytes())
    for task in tasks:
        for input_set, inputs in (("base", task.base_inputs), ("plus", task.plus_inputs)):
            text = raw[task.task_id][input_set]["inputs_text"]
            assert decode(json.loads(text)) == inputs  # what the sandbox decodes is the stored inputs
            assert sets[task.task_id][input_set].inputs_text == text
            payload = InputPayloads().get(task, input_set, [2.5] * len(inputs), text)
            assert json.loads(payload) == {"inputs": json.loads(text), "cpu_limits": [2.5] * len(inputs)}
    for sets_raw in raw.values():  # a cache written before the inputs were kept gains them on load
        for stored in sets_raw.values():
            stored.pop("inputs_text")
    _cache_file().write_bytes(pickle.dumps(raw))
    _load(tasks)
    assert all(
        "inputs_text" in s for sets_raw in pickle.loads(_cache_file().read_bytes()).values() for s in sets_raw.values()
    )


def test_a_function_io_run_fed_cached_inputs_judges_as_before(tasks: list) -> None:
    """The payload spliced from the cached text gives the sandbox the same inputs: a real solution
    passes both sets, and a wrong one fails on the input where it first differs."""
    sets = _load(tasks)
    task = next(t for t in tasks if t.task_id == "HumanEval/0")
    solution = task.reference
    wrong = (
        solution + "\n_real = has_close_elements\ndef has_close_elements(n, t):\n    return len(n) < 3 or _real(n, t)\n"
    )
    payloads, times = InputPayloads(), TimeLimits()
    worker = Worker()
    try:
        for input_set in ("base", "plus"):
            expected = sets[task.task_id][input_set]
            args = (task, "humaneval", solution, input_set, expected, payloads, Limits(), times, True)
            assert judge_io(worker, *args).status == PASS
        inputs = task.plus_inputs
        first_short = next(
            i for i, (n, t) in enumerate(inputs) if len(n) < 3 and not sets[task.task_id]["plus"].outputs[i]
        )
        verdict = judge_io(
            worker, task, "humaneval", wrong, "plus", sets[task.task_id]["plus"], payloads, Limits(), times, True
        )
        assert verdict.status == FAIL and verdict.failed == [first_short]
    finally:
        worker.close()

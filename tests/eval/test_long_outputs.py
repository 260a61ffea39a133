"""Long outputs of numbers travel as digests where equality decides with no tolerance (values.encode_output's
``digest_numbers``, judge.expected_wire): same verdicts as comparing the whole lists. HumanEval/100
(make_a_pile), whose plus set returns a list of a million ints, judged in the real sandbox."""

from __future__ import annotations

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.data import DATA_FILES
from evolcoder.eval import groundtruth
from evolcoder.eval.judge import Expected, InputPayloads, TimeLimits, judge_io_sets
from evolcoder.execution.isolation import Limits
from evolcoder.execution.worker import Worker, WorkerPool
from evolcoder.records import FAIL, PASS

SHA = DATA_FILES[get_benchmark("humaneval+").DATA_KEYS[0]].sha256
TASK_ID = "HumanEval/100"


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOLCODER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        task = next(t for t in get_benchmark("humaneval+").load() if t.task_id == TASK_ID)
        with WorkerPool(1) as pool:
            expected = groundtruth.load_or_compute("humaneval+", "humaneval", [task], SHA, pool)[TASK_ID]
    return task, expected


@pytest.fixture
def worker() -> Worker:
    worker = Worker()
    yield worker
    worker.close()


def _judge(worker: Worker, task, expected: dict[str, Expected], solution: str):
    return judge_io_sets(worker, task, "humaneval", solution, expected, InputPayloads(), Limits(), TimeLimits(), True)


def _long_at(expected: Expected) -> int:
    return next(i for i, output in enumerate(expected.outputs) if isinstance(output, list) and len(output) >= 65_536)


def test_the_long_expected_list_is_compared_by_its_digest(judged) -> None:
    task, expected = judged
    at = _long_at(expected["plus"])
    assert expected["plus"].wire[at].keys() == {"h", "n"}  # its wire is the digest
    assert isinstance(expected["plus"].outputs[at], list)  # and the list is kept whole for failures


def test_the_reference_and_an_equal_list_of_floats_pass(judged, worker: Worker) -> None:
    task, expected = judged
    base, plus = _judge(worker, task, expected, task.reference)
    assert (base.status, plus.status) == (PASS, PASS)
    as_floats = f"{task.reference}\n_real = make_a_pile\ndef make_a_pile(n):\n    return [float(x) for x in _real(n)]\n"
    base, plus = _judge(worker, task, expected, as_floats)
    assert (base.status, plus.status) == (PASS, PASS)  # [1.0, ...] == [1, ...], as EvalPlus compares


def test_a_long_list_wrong_in_its_last_number_fails_at_that_input(judged, worker: Worker) -> None:
    task, expected = judged
    at = _long_at(expected["plus"])
    wrong_last = (
        f"{task.reference}\n_real = make_a_pile\ndef make_a_pile(n):\n"
        "    pile = _real(n)\n    if len(pile) >= 65_536:\n        pile[-1] += 1\n    return pile\n"
    )
    base, plus = _judge(worker, task, expected, wrong_last)
    assert base.status == PASS
    assert plus.status == FAIL and plus.failed == [at]
    assert plus.failure.test == at and "sha256" in plus.failure.actual  # it came as a digest
    as_tuple = f"{task.reference}\n_real = make_a_pile\ndef make_a_pile(n):\n    return tuple(_real(n))\n"
    base, plus = _judge(worker, task, expected, as_tuple)
    assert base.status == FAIL  # a tuple is not a list, long or short

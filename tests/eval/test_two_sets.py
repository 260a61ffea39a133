"""Both input sets of a program judged in one sandbox (judge.judge_io_sets, Worker.run_two_sets,
zygote._two_sets): each set in a fresh process under its own limits, a failure stopping its own set
alone, and the verdicts those of two separate runs. Real HumanEval+ tasks, their real references and
real model programs, in the real sandbox."""

from __future__ import annotations

import json
import os
import time

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.data import DATA_FILES
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval import groundtruth
from evolcoder.eval.judge import Expected, InputPayloads, TimeLimits, judge_io, judge_io_sets
from evolcoder.execution.isolation import Limits, Policy
from evolcoder.execution.worker import Worker, WorkerPool
from evolcoder.records import FAIL, PASS, TIMEOUT

from ..execution.test_sandbox import SECCOMP_PROBE

TASK_IDS = ("HumanEval/0", "HumanEval/2", "HumanEval/12", "HumanEval/31", "HumanEval/55", "HumanEval/107")
SHA = DATA_FILES[get_benchmark("humaneval+").DATA_KEYS[0]].sha256
REAL_SAMPLES = ("ldb_humaneval.jsonl", "codet-codegen16b_humaneval.jsonl")


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, dict[str, Expected]]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOLCODER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        tasks = {t.task_id: t for t in get_benchmark("humaneval+").load() if t.task_id in TASK_IDS}
        with WorkerPool(1) as pool:
            expected = groundtruth.load_or_compute("humaneval+", "humaneval", list(tasks.values()), SHA, pool)
    return tasks, expected


@pytest.fixture
def worker() -> Worker:
    worker = Worker()
    yield worker
    worker.close()


def _real_programs() -> list[dict]:
    programs = []
    for name in REAL_SAMPLES:
        with open(data_dir_from_env() / "real-samples" / name, encoding="utf-8") as f:
            programs += [row for row in map(json.loads, f) if row["task_id"] in TASK_IDS]
    return programs


def _both(worker: Worker, task, expected: dict, solution: str, times: TimeLimits | None = None, fail_fast=True):
    times = times or TimeLimits()
    return judge_io_sets(worker, task, "humaneval", solution, expected, InputPayloads(), Limits(), times, fail_fast)


def _wrapped(task, body: str) -> str:
    """The reference, with its entry point wrapped: ``body`` may call the original as ``_real``."""
    return f"{task.reference}\n_real = {task.entry_point}\ndef {task.entry_point}(*args):\n{body}"


def test_real_programs_get_the_verdicts_of_two_separate_runs(judged, worker: Worker) -> None:
    tasks, expected = judged
    programs = _real_programs()
    statuses = set()
    for program in programs:
        task, sets = tasks[program["task_id"]], expected[program["task_id"]]
        together = _both(worker, task, sets, program["solution"])
        apart = [
            judge_io(worker, task, "humaneval", program["solution"], s, sets[s], InputPayloads(), Limits(),
                     TimeLimits(), True)
            for s in ("base", "plus")
        ]  # fmt: skip
        for one, other in zip(together, apart, strict=True):
            if "time limit" in (one.reason or "") + (other.reason or ""):  # where a timer decides, CPU noise
                assert one.status == other.status, program["solution"]  # may move the first failing input
                continue
            assert (one.status, one.failed, one.reason) == (other.status, other.failed, other.reason), program
            statuses.add(one.status)
    assert len(programs) >= 20 and statuses == {PASS, FAIL}  # real passes and real failures both met


def test_a_wrong_base_output_stops_the_base_set_alone(judged, worker: Worker) -> None:
    """The wrong output reaches the harness while the next base input sleeps: the base set's process
    is killed at once, and the plus set still runs, and passes."""
    tasks, expected = judged
    task = tasks["HumanEval/0"]  # its first base inputs are not among its plus inputs
    first, second = task.base_inputs[0], task.base_inputs[1]
    body = (
        f"    if list(args) == {second!r}:\n        import time\n        time.sleep(60)\n"
        f"    if list(args) == {first!r}:\n        return -1\n    return _real(*args)\n"
    )
    started = time.monotonic()
    base, plus = _both(worker, task, expected[task.task_id], _wrapped(task, body))
    assert base.status == FAIL and base.failed == [0] and base.reason == "wrong output on test 0"
    assert plus.status == PASS
    assert time.monotonic() - started < 20  # the sleep was cut short, not waited out (60 s)


def test_a_base_set_killed_at_its_cpu_limit_is_a_timeout_and_plus_is_still_judged(judged, worker: Worker) -> None:
    """With its per-input CPU timer blocked, the base set's process runs into its own CPU limit
    (RLIMIT_CPU, set for it alone); the plus set runs after it with its own, and passes."""
    tasks, expected = judged
    task = tasks["HumanEval/0"]
    body = (
        f"    if list(args) == {task.base_inputs[0]!r}:\n        import signal\n"
        "        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPROF})\n        while True:\n            pass\n"
        "    return _real(*args)\n"
    )
    times = TimeLimits(min_seconds=0.2, load_seconds=0.5, wall_factor=10)  # the CPU limit comes first
    base, plus = _both(worker, task, expected[task.task_id], _wrapped(task, body), times)
    assert base.status == TIMEOUT and base.reason == "cpu time limit exceeded"
    assert plus.status == PASS


def test_each_set_starts_in_a_process_that_has_run_nothing_yet(judged, worker: Worker) -> None:
    """A program that goes wrong after as many calls as the longer set has inputs passes both sets:
    the plus set does not run where the base set ran."""
    tasks, expected = judged
    task = tasks["HumanEval/0"]
    calls = max(len(task.base_inputs), len(task.plus_inputs))
    body = (
        "    global _calls\n    _calls = globals().get('_calls', 0) + 1\n"
        f"    return _real(*args) if _calls <= {calls} else not _real(*args)\n"
    )
    assert [v.status for v in _both(worker, task, expected[task.task_id], _wrapped(task, body))] == [PASS, PASS]


def test_a_base_process_that_exits_fails_base_alone(judged, worker: Worker) -> None:
    tasks, expected = judged
    task = tasks["HumanEval/12"]
    body = f"    if list(args) == {task.base_inputs[1]!r}:\n        import os\n        os._exit(3)\n"
    body += "    return _real(*args)\n"
    base, plus = _both(worker, task, expected[task.task_id], _wrapped(task, body))
    assert base.status == FAIL and base.reason == "exited with code 3 before the tests finished"
    assert plus.status == PASS


def test_a_base_process_cannot_answer_for_the_plus_set(judged, worker: Worker) -> None:
    """The base set's process finds the result writer and sends the plus set's "done" as the plus
    set's process would (``"s": 1``): the plus set is judged on the outputs it returns itself."""
    tasks, expected = judged
    task = tasks["HumanEval/0"]
    forger = (
        "import gc, os\n"
        "def _forge():\n"
        "    for obj in gc.get_objects():\n"
        "        if type(obj).__name__ == '_Writer':\n"
        '            head = obj._head.replace(\',"b":[\', \',"s":1,"b":[\')\n'
        '            os.write(obj._fd, (head + \'{"ready":true},{"done":true}]}\\n\').encode())\n'
        "_forged = []\n"
    )
    body = (
        "    if not _forged:\n        _forged.append(_forge())\n"
        f"    return _real(*args) if list(args) in {task.base_inputs!r} else not _real(*args)\n"
    )  # right on the base inputs, wrong on every other
    base, plus = _both(worker, task, expected[task.task_id], forger + _wrapped(task, body))
    assert base.status == PASS and plus.status == FAIL


def test_with_a_supervisor_process_per_run_the_sets_stay_apart(judged) -> None:
    """Not root, or namespaces off: a supervisor process per run passes the stop on the same way."""
    tasks, expected = judged
    task = tasks["HumanEval/0"]
    first, second = task.base_inputs[0], task.base_inputs[1]
    body = (
        f"    if list(args) == {second!r}:\n        import time\n        time.sleep(60)\n"
        f"    if list(args) == {first!r}:\n        return not _real(*args)\n    return _real(*args)\n"
    )
    worker = Worker(policy=Policy(namespaces=False))
    try:
        started = time.monotonic()
        base, plus = _both(worker, task, expected[task.task_id], _wrapped(task, body))
        assert (base.status, base.failed, plus.status) == (FAIL, [0], PASS)
        assert time.monotonic() - started < 20
        assert [v.status for v in _both(worker, task, expected[task.task_id], task.reference)] == [PASS, PASS]
    finally:
        worker.close()


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe uses x86_64 system call numbers")
def test_both_sets_run_under_the_seccomp_filter(judged) -> None:
    """pid 1 installs the filter once, before it forks the base set's process: the base set runs in
    that child, the plus set in pid 1, and each must be filtered. The program defines its function
    only where the probe's system calls are denied; without the filter both sets fail."""
    tasks, expected = judged
    task = tasks["HumanEval/0"]
    program = f"{SECCOMP_PROBE}\n{task.reference}"
    for policy, verdicts in ((Policy(), [PASS, PASS]), (Policy(seccomp=False), [FAIL, FAIL])):
        worker = Worker(policy=policy)
        try:
            assert [v.status for v in _both(worker, task, expected[task.task_id], program)] == verdicts
        finally:
            worker.close()

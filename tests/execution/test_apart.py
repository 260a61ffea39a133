"""Forgers: wrong solutions that try to change their own verdict, on real HumanEval, MBPP and DS-1000 tasks.

Each forger is run twice: with the tests beside the candidate (the old way, ``apart=False``), where the
in-process forgers do pass — which shows they are real attacks — and apart (execution.apart), where
none of them may pass.
"""

from __future__ import annotations

from contextlib import closing

import pytest

from evolcoder.bench import ds1000, get_benchmark
from evolcoder.bench.base import Task
from evolcoder.bench.mbpp import called_names
from evolcoder.eval.judge import FAIL, PASS, TIMEOUT, TimeLimits, judge_asserts, judge_check, judge_program
from evolcoder.execution.isolation import Limits
from evolcoder.execution.worker import Worker

pytestmark = pytest.mark.timeout(120)

SLOT = 46
LIMITS = Limits(wall_seconds=20, cpu_seconds=10, memory_bytes=1 << 30)
TIMES = TimeLimits(script_seconds=3, load_seconds=2)

# Each attack runs when the candidate's function is first called; afterwards the function returns a
# wrong answer, so the verdict is PASS only if the attack worked.
SEND_DONE = """
def _forge_with(writer):
    writer.send({"done": True, "ok": True})
    for i in range(64):
        writer.send({"i": i, "ok": True})
    writer.send({"done": True})
    import os
    os._exit(0)
"""
FRAME_WALK = (
    SEND_DONE
    + """
def _attack():
    import sys
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "_Writer":
                _forge_with(value)
        frame = frame.f_back
"""
)
GC_SCAN = (
    SEND_DONE
    + """
def _attack():
    import gc
    for obj in gc.get_objects():
        if type(obj).__name__ == "_Writer":
            _forge_with(obj)
"""
)
PATCHED_CLASS = """
def _attack():
    import sys
    driver = sys.modules["evolcoder.execution.driver"]
    original = driver._Writer.send
    def send(self, record):
        if "ok" in record:
            record["ok"] = True
        record.pop("e", None)
        if record.get("done") and "ok" not in record:  # MBPP: every assert passed, then done
            for i in range(64):
                original(self, {"i": i, "ok": True})
        return original(self, record)
    driver._Writer.send = send
"""
REWRITTEN_TESTS = """
def _attack():
    import gc
    for obj in gc.get_objects():
        if type(obj) is list and obj and all(type(x) is str and x.startswith("assert") for x in obj):
            obj[:] = ["assert True"] * len(obj)
        if type(obj) is dict and type(obj.get("test")) is str and "def check" in obj["test"]:
            obj["test"] = "def check(candidate):\\n    pass\\n"
"""
TOKEN_THROUGH_PROC = """
def _attack():
    import gc, json, os
    tokens = {o.get("token") for o in gc.get_objects() if type(o) is dict and type(o.get("token")) is str}
    tokens |= {o for o in gc.get_objects() if type(o) is str and len(o) == 32}
    forged = b"".join(
        (json.dumps({"done": True, "ok": True, "k": t}) + "\\n").encode() for t in tokens if t
    )
    for pid in ("1", "self"):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
                os.write(target, forged)
            except OSError:
                pass
    os._exit(0)
"""
SIGNAL_TESTS = """
def _attack():
    import ctypes, signal
    libc = ctypes.CDLL(None)
    for pid in (1, -1, 0):
        libc.kill(pid, signal.SIGKILL)  # past the audit hook: a direct system call
"""
PROC_MEM = """
def _attack():
    # Overwrite the test process's memory through /proc: every writable mapping filled with zeros.
    try:
        maps = open("/proc/1/maps").read().splitlines()
        with open("/proc/1/mem", "r+b", buffering=0) as mem:
            for line in maps:
                span, perms = line.split()[:2]
                if "w" in perms:
                    start, end = (int(x, 16) for x in span.split("-"))
                    mem.seek(start)
                    mem.write(bytes(min(end - start, 1 << 16)))
    except OSError:
        pass
"""
PTRACE = """
def _attack():
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    PTRACE_ATTACH, PTRACE_POKEDATA = 16, 5
    for pid in (1, os.getppid()):
        if libc.ptrace(PTRACE_ATTACH, pid, 0, 0) == 0:
            libc.ptrace(PTRACE_POKEDATA, pid, 0, 0)
"""
IN_PROCESS_FORGERS = {"frame_walk": FRAME_WALK, "gc_scan": GC_SCAN, "patched_class": PATCHED_CLASS}
FORGERS = {
    **IN_PROCESS_FORGERS,
    "rewritten_tests": REWRITTEN_TESTS,
    "token_through_proc": TOKEN_THROUGH_PROC,
    "signal_tests": SIGNAL_TESTS,
    "proc_mem": PROC_MEM,
    "ptrace": PTRACE,
}


@pytest.fixture(scope="module")
def worker():
    with closing(Worker(slot=SLOT)) as apart_worker:
        yield apart_worker


@pytest.fixture(scope="module")
def humaneval_task() -> Task:
    return {t.task_id: t for t in get_benchmark("humaneval").load(None)}["HumanEval/0"]


@pytest.fixture(scope="module")
def mbpp_task() -> Task:
    return {t.task_id: t for t in get_benchmark("mbpp").load(None)}["Mbpp/11"]


def wrong_humaneval(attack: str) -> str:
    return attack + "\ndef has_close_elements(numbers, threshold):\n    _attack()\n    return True\n"


def wrong_mbpp(attack: str) -> str:
    return attack + "\ndef remove_Occ(s, ch):\n    _attack()\n    return s\n"


def check_verdict(worker: Worker, task: Task, solution: str, apart: bool) -> str:
    return judge_check(worker, task, solution, LIMITS, TIMES, apart=apart).status


def asserts_verdict(worker: Worker, task: Task, solution: str, apart: bool) -> str:
    guarded = called_names(task.asserts)
    return judge_asserts(worker, task, solution, LIMITS, TIMES, True, guarded, apart=apart).status


def test_the_references_pass_apart(worker, humaneval_task, mbpp_task):
    assert check_verdict(worker, humaneval_task, humaneval_task.reference, apart=True) == PASS
    assert asserts_verdict(worker, mbpp_task, mbpp_task.reference, apart=True) == PASS


@pytest.mark.parametrize("name", sorted(IN_PROCESS_FORGERS))
def test_the_forgers_are_real_in_process(worker, humaneval_task, mbpp_task, name):
    """The attacks that reach the verdict writer do pass with the tests beside the candidate."""
    attack = IN_PROCESS_FORGERS[name]
    assert check_verdict(worker, humaneval_task, wrong_humaneval(attack), apart=False) == PASS
    assert asserts_verdict(worker, mbpp_task, wrong_mbpp(attack), apart=False) == PASS


@pytest.mark.parametrize("name", sorted(FORGERS))
def test_no_forger_passes_humaneval_check_apart(worker, humaneval_task, name):
    assert check_verdict(worker, humaneval_task, wrong_humaneval(FORGERS[name]), apart=True) in (FAIL, TIMEOUT)


@pytest.mark.parametrize("name", sorted(FORGERS))
def test_no_forger_passes_mbpp_asserts_apart(worker, mbpp_task, name):
    assert asserts_verdict(worker, mbpp_task, wrong_mbpp(FORGERS[name]), apart=True) in (FAIL, TIMEOUT)


PROBE_TEST = "def check(candidate):\n    assert candidate() == 'denied', candidate()\n"
PROBE = """
import ctypes, errno, os, signal
def probe():
    libc = ctypes.CDLL(None, use_errno=True)
    outcomes = []
    outcomes.append(libc.kill(1, signal.SIGKILL) == -1 and ctypes.get_errno() == errno.EPERM)
    outcomes.append(libc.ptrace(16, 1, 0, 0) == -1 and ctypes.get_errno() == errno.EPERM)
    for path in ("/proc/1/mem", "/proc/1/environ", "/proc/1/fd/3"):
        try:
            open(path, "rb").close()
            outcomes.append(False)
        except PermissionError:
            outcomes.append(True)
    outcomes.append(os.getuid() != 0)
    return "denied" if all(outcomes) else repr(outcomes)
"""


def test_the_candidate_cannot_reach_the_test_process(worker):
    """Each reach into the test process fails with a permission error (the probe reports each one)."""
    task = Task("probe", "", "probe", PROBE, "check", test=PROBE_TEST)
    verdict = judge_check(worker, task, PROBE, LIMITS, TIMES, apart=True)
    assert verdict.status == PASS, verdict.reason


def test_the_test_process_has_a_uid_of_its_own(worker, humaneval_task):
    records = []
    outcome = worker.run(
        {"kind": "check", "code": humaneval_task.reference, "entry_point": humaneval_task.entry_point},
        LIMITS,
        lambda r: records.append(r) or True,
        tests={"test": humaneval_task.test},
    )
    assert outcome.protections["tests_apart"] is True
    assert outcome.protections["test_uid"] not in (-1, outcome.protections["uid"])
    assert outcome.protections["seccomp"] is True


def test_candidate_objects_cross_as_references(worker):
    """Instances of the candidate's classes and generators stay in its process, used through references."""
    code = (
        "class Node:\n    def __init__(self, v):\n        self.v = v\n        self.next = None\n"
        "def total(node):\n    return node.v + (total(node.next) if node.next else 0)\n"
        "def count(n):\n    yield from range(n)\n"
    )
    setup = "a = Node(1)\na.next = Node(2)\n"
    asserts = ("assert total(a) == 3", "assert list(count(3)) == [0, 1, 2]", "assert a.next.v == 2", "assert a != 1")
    task = Task("refs", "", "total", code, "asserts", setup=setup, asserts=asserts)
    verdict = judge_asserts(worker, task, code, LIMITS, TIMES, False, ["total", "count"], apart=True)
    assert verdict.status == PASS, verdict.reason


def test_an_exception_inside_the_candidate_is_the_tests_to_judge(worker):
    code = "def f(x):\n    raise ValueError('no')\n"
    test = (
        "def check(candidate):\n    try:\n        candidate(1)\n    except ValueError:\n        return\n"
        "    assert False\n"
    )
    task = Task("raises", "", "f", code, "check", test=test)
    assert judge_check(worker, task, code, LIMITS, TIMES, apart=True).status == PASS


def test_a_candidate_that_dies_cannot_be_caught_as_an_exception(worker):
    """``except Exception`` in a test does not turn a dead candidate into a pass."""
    code = "import os\ndef f(x):\n    os._exit(0)\n"
    test = "def check(candidate):\n    try:\n        candidate(1)\n    except Exception:\n        pass\n"
    task = Task("dies", "", "f", code, "check", test=test)
    assert judge_check(worker, task, code, LIMITS, TIMES, apart=True).status == FAIL


def test_a_candidate_that_spins_times_out(worker):
    code = "def f(x):\n    while True:\n        pass\n"
    task = Task("spins", "", "f", code, "check", test="def check(candidate):\n    assert candidate(1) == 2\n")
    verdict = judge_check(worker, task, code, LIMITS, TimeLimits(script_seconds=1, load_seconds=1), apart=True)
    assert verdict.status == TIMEOUT


# ---------------------------------------------------------------------------------------------
# DS-1000: the test program runs in the test process; only its exec of the candidate's code does not
# ---------------------------------------------------------------------------------------------

STOLEN_ANSWER = """
def _attack():
    # The test's own frame holds the expected result: copy it into the candidate's result.
    import sys
    frame = sys._getframe()
    while frame is not None:
        if "expected_result" in frame.f_locals and "test_env" in frame.f_locals:
            frame.f_locals["test_env"]["result"] = frame.f_locals["expected_result"]
            raise _Done()
        frame = frame.f_back
class _Done(Exception):
    pass
"""
PATCHED_TEST = """
def _attack():
    # Make the benchmark's comparison agree with anything.
    import sys
    frame = sys._getframe()
    while frame is not None:
        if "exec_test" in frame.f_globals:
            frame.f_globals["exec_test"] = lambda result, ans: 1
        frame = frame.f_back
"""
# DS1000/112 compares with ``assert result == ans``: a list that equals anything passes beside the tests.
LYING_SOLUTION = "class _Agreeable(list):\n    def __eq__(self, other):\n        return True\n\ndf = _Agreeable()\n"
LYING_PROBLEM = 112
DS1000_FORGERS = {**FORGERS, "stolen_answer": STOLEN_ANSWER, "patched_test": PATCHED_TEST}
DS1000_IN_PROCESS_FORGERS = {**IN_PROCESS_FORGERS, "patched_test": PATCHED_TEST}
DS1000_PROBLEM = 291  # NumPy: ``result = a.shape``, four test inputs


@pytest.fixture(scope="module")
def ds1000_worker():
    from evolcoder.data.fetch import data_dir_from_env
    from evolcoder.execution.ds1000_sandbox import ds1000_sandbox

    data = data_dir_from_env()
    profile = ds1000_sandbox(ds1000.seaborn_data_dir(data), hidden_paths=(str(data),))
    with closing(Worker(SLOT + 1, profile.policy, profile.preload, profile.python, profile.env)) as ds_worker:
        yield ds_worker, profile.limits


@pytest.fixture(scope="module")
def ds1000_tasks() -> dict[int, ds1000.DS1000Task]:
    from evolcoder.data.fetch import data_dir_from_env

    return {t.problem_id: t for t in ds1000.load(data_dir_from_env())}


@pytest.fixture(scope="module")
def ds1000_task(ds1000_tasks) -> ds1000.DS1000Task:
    return ds1000_tasks[DS1000_PROBLEM]


def ds1000_verdict(ds1000_worker, task: ds1000.DS1000Task, solution: str, apart: bool) -> str:
    worker, limits = ds1000_worker
    return judge_program(worker, ds1000.program(task, solution), limits, apart=apart).status


def wrong_ds1000(attack: str) -> str:
    """The attack, tried where an exception cannot stop it, then a wrong result."""
    return attack + "\ntry:\n    _attack()\nexcept BaseException:\n    pass\nresult = (0,)\n"


def test_the_ds1000_reference_passes_apart(ds1000_worker, ds1000_task):
    assert ds1000_verdict(ds1000_worker, ds1000_task, ds1000_task.reference, apart=True) == PASS
    assert ds1000_verdict(ds1000_worker, ds1000_task, "result = (0,)\n", apart=True) == FAIL


@pytest.mark.parametrize("name", sorted(DS1000_IN_PROCESS_FORGERS))
def test_the_ds1000_forgers_are_real_in_process(ds1000_worker, ds1000_task, name):
    assert ds1000_verdict(ds1000_worker, ds1000_task, wrong_ds1000(DS1000_IN_PROCESS_FORGERS[name]), False) == PASS


def test_the_stolen_answer_is_real_in_process(ds1000_worker, ds1000_task):
    """Copying the expected result out of the test's frame passes beside the tests (no exception
    handler around it there: the result it set is left in place)."""
    solution = STOLEN_ANSWER + "\ntry:\n    _attack()\nexcept _Done:\n    pass\n"
    assert ds1000_verdict(ds1000_worker, ds1000_task, solution, apart=False) == PASS
    assert ds1000_verdict(ds1000_worker, ds1000_task, solution, apart=True) == FAIL


def test_a_result_that_lies_about_equality_does_not_cross(ds1000_worker, ds1000_tasks):
    """A list subclass whose ``==`` agrees with anything passes beside the tests; apart it crosses as an
    opaque value, equal to nothing."""
    task = ds1000_tasks[LYING_PROBLEM]
    assert ds1000_verdict(ds1000_worker, task, LYING_SOLUTION, apart=False) == PASS
    assert ds1000_verdict(ds1000_worker, task, LYING_SOLUTION, apart=True) == FAIL
    assert ds1000_verdict(ds1000_worker, task, task.reference, apart=True) == PASS


@pytest.mark.parametrize("name", sorted(DS1000_FORGERS))
def test_no_forger_passes_ds1000_apart(ds1000_worker, ds1000_task, name):
    assert ds1000_verdict(ds1000_worker, ds1000_task, wrong_ds1000(DS1000_FORGERS[name]), True) in (FAIL, TIMEOUT)

"""Hostile programs against the real sandbox: no mocks, real forks, real namespaces.

Each hostile run checks that (a) the call returns and the harness and its fork server survive,
(b) the run is judged failing, (c) the reason is the expected one where there is one, and then
that the same worker still runs a normal program.

These tests run as root on Linux, where the sandbox drops each run to uid 61000 + slot.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from evolcoder.execution.isolation import Limits, Policy, needed_paths
from evolcoder.execution.values import Opaque, decode, digest_of, encode
from evolcoder.execution.worker import HELD_INPUT_SETS, RunOutcome, Worker, WorkerPool, inputs_payload

pytestmark = pytest.mark.timeout(60)

UID_BASE = 61000
SLOT = 40  # the default-policy worker: uid 61040 (evaluations running beside use 61000+)
BARE_SLOT = 41  # the worker without the audit hook (the OS layer alone): uid 61041
ENV_SLOT = 42

FAST = Limits(
    wall_seconds=5,
    cpu_seconds=1,
    memory_bytes=1 << 30,
    max_output_bytes=1 << 20,
    tmp_bytes=16 << 20,
)
REPO = Path(__file__).resolve().parents[2]

WRONG = "def f(x):\n    return x\n"  # f(1) == 1, the test wants 2
RIGHT = "def f(x):\n    return x + 1\n"
CHECK = "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n"


def check_request(code: str, test: str = CHECK) -> dict:
    return {"kind": "check", "code": code, "test": test, "entry_point": "f"}


def script(code: str) -> dict:
    return {"kind": "script", "code": code}


def each_input(record: dict) -> list[dict]:
    """A record, or the outputs of a run of inputs (driver._Writer.queue_output) one record each."""
    if "os" not in record:
        return [record]
    pairs = enumerate(zip(record["os"], record["cs"], strict=True), record["i"])
    return [{"i": i, "o": o, "c": c} for i, (o, c) in pairs]


def run(worker: Worker, request: dict, limits: Limits = FAST) -> tuple[list[dict], RunOutcome]:
    """Run ``request``; its records with the outputs of each input apart (``each_input``)."""
    records: list[dict] = []

    def on_record(record: dict) -> bool:
        records.extend(each_input(record))
        return True

    started = time.monotonic()
    outcome = worker.run(request, limits, on_record)
    elapsed = time.monotonic() - started
    assert elapsed < limits.wall_seconds + 3, f"the run took {elapsed:.1f}s"
    return records, outcome


def passed(records: list[dict]) -> bool:
    return any(r.get("done") is True and r.get("ok") is True for r in records)


def first_done(records: list[dict]) -> dict:
    done = [r for r in records if r.get("done")]
    assert done, f"no done record in {records}"
    return done[0]


def zygote_pid(worker: Worker) -> int:
    if worker._proc is None or worker._proc.poll() is not None:
        assert_healthy(worker)  # starts it
    return worker._proc.pid


def assert_healthy(worker: Worker) -> None:
    """A normal, correct program still passes on this worker."""
    records, outcome = run(worker, check_request(RIGHT))
    assert records == [{"done": True, "ok": True}], (records, outcome)
    assert outcome.exit_code == 0 and outcome.reason is None


def run_hostile(worker: Worker, request: dict, limits: Limits = FAST) -> tuple[list[dict], RunOutcome]:
    """Run a hostile request; the fork server must survive it and serve a normal run afterwards."""
    server = zygote_pid(worker)
    records, outcome = run(worker, request, limits)
    assert worker._proc is not None and worker._proc.poll() is None, "the fork server died"
    assert worker._proc.pid == server, "the fork server was replaced"
    assert_healthy(worker)
    assert worker._proc.pid == server
    return records, outcome


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if uid in [int(x) for x in line.split()[1:]]:
                            pids.append(int(entry))
                        break
        except OSError:
            continue
    return pids


def assert_no_survivors(uid: int) -> None:
    deadline = time.monotonic() + 3
    left = processes_of(uid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = processes_of(uid)
    assert left == [], f"processes of uid {uid} survived the run: {left}"


@pytest.fixture(scope="module")
def worker():
    w = Worker(slot=SLOT)
    yield w
    w.close()


@pytest.fixture(scope="module")
def bare_worker():
    """The OS layer alone: no Python audit hook."""
    w = Worker(slot=BARE_SLOT, policy=Policy(block_python_events=False))
    yield w
    w.close()


@pytest.fixture(params=["default", "no_audit_hook"])
def any_worker(request, worker, bare_worker):
    return worker if request.param == "default" else bare_worker


# ------------------------------------------------------------------------------------------------
# Sanity
# ------------------------------------------------------------------------------------------------


def test_normal_script_passes_with_every_protection(worker):
    records, outcome = run(worker, script("print('hi')"))
    assert records == [{"done": True, "ok": True}]
    assert outcome.exit_code == 0 and outcome.reason is None and outcome.protocol_error is None
    assert outcome.output_head == "hi\n"
    p = outcome.protections
    assert p["uid"] == UID_BASE + SLOT
    for key in (
        "pid_namespace",
        "network_namespace",
        "mount_namespace",
        "read_only_root",
        "private_tmp",
        "no_new_privs",
        "rlimits",
        "audit_hook",
        "seccomp",
    ):
        assert p[key] is True, key
    assert os.path.realpath(os.path.expanduser("~")) in p["hidden_paths"]


def test_bare_worker_has_no_audit_hook_but_the_os_layer(bare_worker):
    records, outcome = run(bare_worker, script("pass"))
    assert passed(records)
    p = outcome.protections
    assert p["audit_hook"] is False
    assert p["uid"] == UID_BASE + BARE_SLOT
    assert p["pid_namespace"] and p["network_namespace"] and p["read_only_root"]


def test_check_mode_right_and_wrong(worker):
    assert_healthy(worker)
    records, _ = run(worker, check_request(WRONG))
    done = first_done(records)
    assert done["ok"] is False and done["e"].startswith("AssertionError")
    assert done["line"] == "assert candidate(1) == 2"


def test_function_io_mode(worker):
    request = {
        "kind": "function_io",
        "code": RIGHT,
        "entry_point": "f",
        "inputs": [[1], [2], [10**30]],
        "cpu_limits": 1.0,
        "fail_fast": True,
    }
    records, outcome = run(worker, request)
    assert records[0] == {"ready": True}
    assert [r["i"] for r in records[1:-1]] == [0, 1, 2]
    assert [decode(r["o"]) for r in records[1:-1]] == [2, 3, 10**30 + 1]
    assert records[-1] == {"done": True}
    assert outcome.exit_code == 0


def test_function_io_sends_the_outputs_of_consecutive_inputs_as_one_record(worker):
    request = {
        "kind": "function_io",
        "code": "def f(x):\n    return 10 // (x - 3)\n",
        "entry_point": "f",
        "inputs": [[1], [2], [3], [4], [5]],
        "cpu_limits": 1.0,
        "fail_fast": False,
    }
    raw: list[dict] = []
    outcome = worker.run(request, FAST, lambda r: raw.append(r) or True)
    assert outcome.exit_code == 0
    runs = [r for r in raw if "os" in r]
    assert [(r["i"], r["os"]) for r in runs] == [(0, [-5, -10]), (3, [10, 5])]
    assert all(len(r["cs"]) == len(r["os"]) and all(0 <= c < 1 for c in r["cs"]) for r in runs)
    error = next(r for r in raw if r.get("i") == 2)
    assert error["e"].startswith("ZeroDivisionError") and raw.index(runs[0]) < raw.index(error) < raw.index(runs[1])


MUTATES = "def f(xs, tag):\n    xs.append(tag)\n    return xs\n"


def run_inputs(worker: Worker, inputs: list) -> list:
    """The outputs of MUTATES on ``inputs``, sent as a payload as the harness sends them."""
    request = {"kind": "function_io", "code": MUTATES, "entry_point": "f", "fail_fast": True}
    records: list[dict] = []
    payload = inputs_payload(json.dumps(encode(inputs)).encode(), [1.0] * len(inputs))
    outcome = worker.run(request, FAST, lambda r: records.extend(each_input(r)) or True, payload=payload)
    assert outcome.exit_code == 0, outcome
    return [decode(r["o"]) for r in records if "o" in r]


def test_function_io_inputs_held_by_the_fork_server_are_fresh_in_every_run():
    """The fork server decodes a payload once and keeps it; a run that changes its inputs changes its
    own copy only, the next runs with the same payload get them as sent, and a payload dropped from
    what the fork server holds (or a restarted fork server) is sent and decoded again."""
    w = Worker(slot=SLOT)
    try:
        sets = [[[[i], "a"], [[i, i], "b"]] for i in range(HELD_INPUT_SETS + 2)]
        for _ in range(3):
            assert run_inputs(w, sets[0]) == [[0, "a"], [0, 0, "b"]]
        for inputs in [*sets, sets[0], *reversed(sets)]:  # past what is held, and back
            i = inputs[0][0][0]
            assert run_inputs(w, inputs) == [[i, "a"], [i, i, "b"]]
        w._proc.kill()
        w._proc.wait()
        assert run_inputs(w, sets[-1]) == [[len(sets) - 1, "a"], [len(sets) - 1] * 2 + ["b"]]
    finally:
        w.close()


@pytest.mark.parametrize("digest_text", [False, True])
def test_function_io_sends_long_text_as_a_digest_when_asked(worker, digest_text):
    request = {
        "kind": "function_io",
        "code": "def f(n, kind):\n    return {'str': 'x' * n, 'bytes': b'x' * n, 'list': ['x'] * n}[kind]\n",
        "entry_point": "f",
        "inputs": [[10, "str"], [100_000, "str"], [100_000, "bytes"], [100_000, "list"]],
        "cpu_limits": 1.0,
        "fail_fast": True,
        "digest_text": digest_text,
    }
    records, outcome = run(worker, request)
    outputs = [decode(r["o"]) for r in records if "o" in r]
    assert outputs[0] == "x" * 10
    if digest_text:
        assert outputs[1] == digest_of("x" * 100_000) and outputs[2] == digest_of(b"x" * 100_000)
    else:
        assert outputs[1:3] == ["x" * 100_000, b"x" * 100_000]
    assert outputs[3] == ["x"] * 100_000  # text only: a list travels whole below DIGEST_THRESHOLD_BYTES
    assert outcome.exit_code == 0


def test_asserts_mode(worker):
    request = {
        "kind": "asserts",
        "code": RIGHT,
        "asserts": ["assert f(1) == 2", "assert f(2) == 99", "assert f(3) == 4"],
        "guarded_names": ["f"],
        "fail_fast": True,
    }
    records, _ = run(worker, request)
    assert records == [
        {"ready": True},
        {"i": 0, "ok": True},
        {"i": 1, "ok": False, "e": "AssertionError: "},
        {"done": True},
    ]


ANNOTATED = "def f(x: List[int]) -> int:\n    return x + 1\n"  # `List` is never imported


@pytest.mark.parametrize(
    "make_request",
    [
        lambda code: check_request(code),
        lambda code: {
            "kind": "function_io",
            "code": code,
            "entry_point": "f",
            "inputs": [[1]],
            "cpu_limits": 1.0,
            "fail_fast": True,
        },
        lambda code: {
            "kind": "asserts",
            "code": code,
            "asserts": ["assert f(1) == 2"],
            "guarded_names": ["f"],
            "fail_fast": True,
        },
        lambda code: script(code + "assert f(1) == 2\n"),
    ],
    ids=["check", "function_io", "asserts", "script"],
)
def test_code_compiles_as_python_runs_a_file(worker, make_request):
    """The driver's own ``from __future__`` flags must not reach the judged code: an annotation
    naming an unimported type fails at definition time, as ``python file.py`` fails."""
    records, outcome = run(worker, make_request(ANNOTATED))
    assert "NameError: name 'List' is not defined" in json.dumps(records) + outcome.output_head
    assert not _passed(records, outcome)
    with_future = "from __future__ import annotations\n" + ANNOTATED  # the program's own choice holds
    records, outcome = run(worker, make_request(with_future))
    assert _passed(records, outcome), records


def _passed(records: list[dict], outcome: RunOutcome) -> bool:
    failed = [r for r in records if r.get("ok") is False or "e" in r or r.get("error")]
    return outcome.exit_code == 0 and records[-1].get("done") is True and not failed


# ------------------------------------------------------------------------------------------------
# Time
# ------------------------------------------------------------------------------------------------


def test_infinite_loop_hits_the_cpu_limit(worker):
    limits = Limits(wall_seconds=10, cpu_seconds=1, memory_bytes=1 << 30)
    records, outcome = run_hostile(worker, script("while True:\n    pass\n"), limits)
    assert not passed(records)
    assert records == []
    assert outcome.reason == "cpu time limit exceeded"
    assert outcome.exit_code in (-signal.SIGKILL, -signal.SIGXCPU)
    assert outcome.wall_seconds < limits.wall_seconds


def test_cpu_limit_stops_the_program_at_cpu_seconds(worker):
    """RLIMIT_CPU's soft limit (SIGXCPU) should end the run at ``cpu_seconds``, not a second
    later. (Fails today: see the report.)"""
    limits = Limits(wall_seconds=10, cpu_seconds=1, memory_bytes=1 << 30)
    _, outcome = run(worker, script("while True:\n    pass\n"), limits)
    assert outcome.reason == "cpu time limit exceeded"
    assert outcome.cpu_seconds < limits.cpu_seconds + 0.5, outcome


def test_infinite_loop_in_candidate_during_check(worker):
    code = "def f(x):\n    while True:\n        pass\n"
    records, outcome = run_hostile(worker, check_request(code), Limits(wall_seconds=10, cpu_seconds=1))
    assert not passed(records)
    assert outcome.reason == "cpu time limit exceeded"


def test_function_io_per_call_cpu_limit(worker):
    request = {
        "kind": "function_io",
        "code": "def f(x):\n    while True:\n        pass\n",
        "entry_point": "f",
        "inputs": [[1], [2]],
        "cpu_limits": 0.2,
        "fail_fast": True,
    }
    records, outcome = run_hostile(worker, request)
    assert records[0] == {"ready": True}
    assert records[1]["i"] == 0 and records[1]["t"] is True
    assert not any("o" in r for r in records)  # the run did not complete
    assert outcome.reason is None


def test_function_io_endless_definition(worker):
    request = {
        "kind": "function_io",
        "code": "while True:\n    pass\n",
        "entry_point": "f",
        "inputs": [[1]],
        "cpu_limits": 1.0,
        "load_cpu_seconds": 0.2,
    }
    records, _ = run_hostile(worker, request)
    assert records == [{"load_error": "timeout while defining the solution"}]


SLOW_SECOND = "def f(x):\n    if x == 2:\n        while True:\n            pass\n    return x\n"


def test_function_io_record_arrives_while_the_next_input_runs(worker):
    """A queued output is sent within the batch interval, not when the next (slow) input ends: so
    the harness sees a wrong first output and stops the run instead of waiting out the second."""
    request = {"kind": "function_io", "code": SLOW_SECOND, "entry_point": "f", "inputs": [[1], [2]]}
    request.update(cpu_limits=3.0, fail_fast=True)
    arrived: dict[int, float] = {}
    started = time.monotonic()

    def on_record(record: dict) -> bool:
        if record.get("i") == 0:
            arrived[0] = time.monotonic() - started
            return False  # as the harness does on a wrong output: stop the run
        return True

    outcome = worker.run(request, Limits(wall_seconds=20, cpu_seconds=10), on_record)
    assert arrived[0] < 1.0, arrived  # input 1 spins for 3 s of CPU before its time limit
    assert outcome.reason == "stopped by the harness"
    assert outcome.wall_seconds < 2.0


def test_function_io_timer_loses_and_repeats_no_record(worker):
    """Thousands of short inputs: the batch timer fires in the middle of queueing and writing,
    and every output still arrives exactly once, in order."""
    code = "def f(x):\n    for _ in range(3000):\n        pass\n    return x * 2\n"
    n = 4000
    request = {"kind": "function_io", "code": code, "entry_point": "f", "inputs": [[i] for i in range(n)]}
    request.update(cpu_limits=1.0, fail_fast=True)
    records, outcome = run(worker, request, Limits(wall_seconds=30, cpu_seconds=10))
    outputs = [r for r in records if "i" in r]
    assert [r["i"] for r in outputs] == list(range(n))
    assert [decode(r["o"]) for r in outputs] == [2 * i for i in range(n)]
    assert records[-1] == {"done": True} and outcome.exit_code == 0


def test_function_io_keeps_the_programs_own_alarm_handler(worker):
    """A program with a SIGALRM handler of its own gets no alarms but its own."""
    code = (
        "import signal, time\n"
        "alarms = []\n"
        "signal.signal(signal.SIGALRM, lambda *a: alarms.append(1))\n"
        "def f(x):\n"
        "    end = time.monotonic() + 0.03\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "    return len(alarms)\n"
    )
    request = {"kind": "function_io", "code": code, "entry_point": "f", "inputs": [[1]] * 5, "cpu_limits": 1.0}
    records, outcome = run(worker, request)
    assert [decode(r["o"]) for r in records if "o" in r] == [0] * 5
    assert outcome.exit_code == 0


def test_sleep_hits_the_wall_limit(worker):
    limits = Limits(wall_seconds=2, cpu_seconds=1, memory_bytes=1 << 30)
    started = time.monotonic()
    records, outcome = run_hostile(worker, check_request("import time\ntime.sleep(100)\n" + RIGHT), limits)
    assert time.monotonic() - started < 5
    assert not passed(records)
    assert outcome.reason == "wall time limit exceeded"
    assert outcome.exit_code == -signal.SIGKILL


def _process_tree_during_a_run(worker: Worker, limits: Limits = FAST) -> tuple[list[list[int]], RunOutcome]:
    """The NSpid lines of the fork server's descendants (child, grandchild...) while a run sleeps."""
    server = zygote_pid(worker)
    result: list[RunOutcome] = []
    thread = threading.Thread(
        target=lambda: result.append(run(worker, script("import time\ntime.sleep(1.5)"), limits)[1])
    )
    thread.start()
    deadline = time.monotonic() + 3
    chain: list[list[int]] = []
    while time.monotonic() < deadline:
        time.sleep(0.05)
        chain, pid = [], server
        try:
            while children := Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                pid = int(children[-1])  # the newest (the process of an earlier run may still be exiting)
                status = Path(f"/proc/{pid}/status").read_text()
                chain.append([int(x) for x in status.split("NSpid:")[1].splitlines()[0].split()])
        except OSError:
            continue  # a process ended while it was read
        if chain and (chain[-1][-1] == 1 or len(chain) >= 2):
            break
    thread.join()
    return chain, result[0]


def test_the_fork_server_supervises_each_sandbox_itself(worker):
    """As root with namespaces, no supervisor process per run: the fork server's child is the
    sandbox, pid 1 of a pid namespace of its own, and each run gets a fresh one."""
    chain, outcome = _process_tree_during_a_run(worker)
    assert outcome.exit_code == 0 and outcome.reason is None
    assert len(chain) == 1 and len(chain[0]) == 2 and chain[0][1] == 1, chain
    again, _ = _process_tree_during_a_run(worker)
    assert again[0][0] != chain[0][0]
    namespaces = []
    for _ in range(2):
        _, outcome = run(worker, script("import os\nprint(os.readlink('/proc/self/ns/pid'))"))
        namespaces.append(outcome.output_head.strip())
    assert namespaces[0].startswith("pid:[") and namespaces[0] != namespaces[1]
    assert os.readlink("/proc/self/ns/pid") not in namespaces


def test_without_namespaces_a_supervisor_process_runs_the_sandbox():
    """The other way (namespaces off, or not root): a supervisor forked per run watches the sandbox."""
    with closing(Worker(slot=SLOT + 8, policy=Policy(namespaces=False))) as plain:
        chain, outcome = _process_tree_during_a_run(plain)
        assert outcome.exit_code == 0 and outcome.reason is None
        assert outcome.protections["pid_namespace"] is False and outcome.protections["uid"] == UID_BASE + SLOT + 8
        assert len(chain) == 2 and all(len(nspid) == 1 for nspid in chain), chain
        records, outcome = run(plain, check_request("import time\ntime.sleep(100)\n" + RIGHT), Limits(wall_seconds=1))
        assert outcome.reason == "wall time limit exceeded" and not passed(records)
        assert_no_survivors(UID_BASE + SLOT + 8)
        assert_healthy(plain)


NOT_ROOT = """
import json, sys
from evolcoder.execution.isolation import Limits, Policy
from evolcoder.execution.worker import Worker
worker = Worker(policy=Policy(hidden_paths=()))
code = "import os\\nprint(os.getpid(), os.listdir('/tmp/work'))\\nopen('/tmp/work/x', 'w').write('1')\\n"
runs = [worker.run({"kind": "script", "code": code}, Limits(wall_seconds=5, cpu_seconds=2)) for _ in range(2)]
slow = worker.run({"kind": "script", "code": "import time\\ntime.sleep(60)"}, Limits(wall_seconds=1, cpu_seconds=2))
worker.close()
print(json.dumps([[r.exit_code, r.reason, r.output_head, r.protections] for r in runs + [slow]]))
"""


def test_not_root_a_supervisor_per_run_enters_a_user_namespace():
    """Not root, the fork server forks a supervisor per run, which enters a user namespace with the
    others. Run as nobody, with the system's Python (this interpreter may be in a folder nobody can read)."""
    python, setpriv = Path("/usr/bin/python3"), shutil.which("setpriv")
    if not python.exists() or setpriv is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", str(python), "-c"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")}
    probe = subprocess.run([*as_nobody, "import evolcoder.execution.worker"], env=env, capture_output=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"the source tree cannot be imported as nobody: {probe.stderr.decode()[-200:]}")
    userns = subprocess.run(
        [setpriv, *as_nobody[1:4], "unshare", "--user", "--map-root-user", "true"], env=env, cwd="/"
    )
    if userns.returncode != 0:
        pytest.skip("unprivileged user namespaces are not allowed here")
    done = subprocess.run([*as_nobody, NOT_ROOT], env=env, capture_output=True, text=True, cwd="/", timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    *runs, slow = json.loads(done.stdout.splitlines()[-1])
    for exit_code, reason, output, protections in runs:
        assert (exit_code, reason) == (0, None), output
        assert output == "1 []\n"  # pid 1 of its namespace; a fresh /tmp (the last run's file is gone)
        for key in ("pid_namespace", "network_namespace", "mount_namespace", "read_only_root", "private_tmp"):
            assert protections[key] is True, key
        assert protections["no_new_privs"] and protections["seccomp"] and protections["rlimits"]
    assert slow[1] == "wall time limit exceeded"


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------

FORK_BOMB = "import os\nwhile True:\n    os.fork()\n"


def test_fork_bomb_is_refused_by_the_audit_hook(worker):
    records, outcome = run_hostile(worker, script(FORK_BOMB))
    assert not passed(records)
    assert first_done(records)["e"] == "PermissionError: fork is disabled in the sandbox"
    assert_no_survivors(UID_BASE + SLOT)


def test_real_fork_bomb_is_contained(bare_worker):
    records, outcome = run_hostile(bare_worker, script(FORK_BOMB))
    assert not passed(records)
    assert records, "the bomb's processes should have reported their failures"
    assert all(r.get("ok") is False for r in records)
    assert any("Resource temporarily unavailable" in (r.get("e") or "") for r in records)
    assert_no_survivors(UID_BASE + BARE_SLOT)


def test_spinning_fork_bomb_is_contained(bare_worker):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    limits = Limits(wall_seconds=3, cpu_seconds=1, memory_bytes=1 << 30)
    records, outcome = run_hostile(bare_worker, script(code), limits)
    assert not passed(records)
    assert outcome.reason in ("cpu time limit exceeded", "wall time limit exceeded")
    assert_no_survivors(UID_BASE + BARE_SLOT)


# Each call returns -1 with EPERM under the seccomp filter; without it each succeeds for a
# process on itself (reading its own memory, a keyring, a new user namespace, a bpf-free probe).
SECCOMP_PROBE = """
import ctypes, ctypes.util, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

source, target = ctypes.create_string_buffer(b"secret", 8), ctypes.create_string_buffer(8)
local, remote = IoVec(ctypes.addressof(target), 8), IoVec(ctypes.addressof(source), 8)
L = ctypes.c_long  # syscall() is variadic: every argument must fill a 64-bit register
me, one, zero = L(os.getpid()), L(1), L(0)
calls = {
    "process_vm_readv": lambda: libc.syscall(L(310), me, ctypes.byref(local), one, ctypes.byref(remote), one, zero),
    "process_vm_writev": lambda: libc.syscall(L(311), me, ctypes.byref(local), one, ctypes.byref(remote), one, zero),
    "ptrace": lambda: libc.syscall(L(101), zero, zero, zero, zero),  # PTRACE_TRACEME
    "unshare": lambda: libc.syscall(L(272), L(0x10000000)),  # CLONE_NEWUSER
    "io_uring_setup": lambda: libc.syscall(L(425), one, ctypes.byref(ctypes.create_string_buffer(120))),
    "userfaultfd": lambda: libc.syscall(L(323), zero),
}
for name, call in calls.items():
    ret = call()
    print(name, ret, ctypes.get_errno())
    assert ret == -1 and ctypes.get_errno() == 1, name
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe uses x86_64 system call numbers")
def test_seccomp_denies_reaching_into_processes_and_the_kernel(bare_worker):
    records, outcome = run(bare_worker, script(SECCOMP_PROBE))
    assert passed(records), outcome.output_head
    assert outcome.protections["seccomp"] is True


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe uses x86_64 system call numbers")
def test_the_seccomp_probe_succeeds_without_the_filter():
    """The probe above can fail: without the filter, reading its own memory works."""
    plain = Worker(slot=ENV_SLOT, policy=Policy(block_python_events=False, seccomp=False))
    try:
        records, outcome = run(plain, script(SECCOMP_PROBE))
    finally:
        plain.close()
    assert not passed(records)
    assert "process_vm_readv 8 0" in outcome.output_head
    assert outcome.protections["seccomp"] is False


def test_native_fork_bomb_bypassing_the_audit_hook_is_contained(worker):
    code = "import ctypes\nlibc = ctypes.CDLL(None)\nwhile True:\n    libc.fork()\n"
    limits = Limits(wall_seconds=2, cpu_seconds=1, memory_bytes=1 << 30)
    records, outcome = run_hostile(worker, script(code), limits)
    assert not passed(records)
    assert outcome.reason in ("cpu time limit exceeded", "wall time limit exceeded")
    assert_no_survivors(UID_BASE + SLOT)


def test_detached_children_do_not_outlive_the_run(bare_worker):
    code = (
        "import os, time\n"
        "for _ in range(5):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(1000)\n"
        "        os._exit(0)\n"
        "raise SystemExit(3)\n"
    )
    started = time.monotonic()
    records, outcome = run_hostile(bare_worker, script(code))
    assert time.monotonic() - started < 3  # the run ends with its main process, not at wall time
    assert first_done(records) == {"done": True, "ok": False, "e": "SystemExit: 3"}
    assert_no_survivors(UID_BASE + BARE_SLOT)


KILL_CALLS = {
    "parent": "os.kill(os.getppid(), 9)",
    "own_group": "os.killpg(0, 9)",
    "pid_1": "os.kill(1, 9)",
    "everyone": "os.kill(-1, 9)",
    "sigterm_group": "os.killpg(0, 15)",
}


@pytest.mark.parametrize("call", list(KILL_CALLS.values()), ids=list(KILL_CALLS))
def test_killing_its_parent_does_not_help(any_worker, call):
    code = f"import os\ntry:\n    {call}\nexcept OSError:\n    pass\n" + WRONG
    records, outcome = run_hostile(any_worker, check_request(code))
    assert not passed(records)
    done = first_done(records)
    assert done["ok"] is False and done["e"].startswith("AssertionError")


def test_killing_host_processes_by_pid_does_not_help(any_worker):
    targets = [os.getpid(), zygote_pid(any_worker)]
    code = (
        "import os\n"
        f"for pid in {targets!r}:\n"
        "    for sig in (9, 15):\n"
        "        try:\n"
        "            os.kill(pid, sig)\n"
        "        except OSError:\n"
        "            pass\n" + WRONG
    )
    records, _ = run_hostile(any_worker, check_request(code))
    assert not passed(records)
    assert first_done(records)["e"].startswith("AssertionError")


@pytest.mark.parametrize(
    "exit_call",
    [
        "import sys\nsys.exit(0)",
        "import os\nos._exit(0)",
        "raise SystemExit",
        "raise KeyboardInterrupt",
    ],
    ids=["sys_exit", "os_exit", "raise_systemexit", "keyboard_interrupt"],
)
def test_exit_before_the_tests_run_is_not_a_pass(worker, exit_call):
    records, outcome = run_hostile(worker, check_request(exit_call + "\n" + RIGHT))
    assert not passed(records)
    if records:
        assert first_done(records)["ok"] is False


@pytest.mark.parametrize(
    "body",
    ["import sys\n    sys.exit(0)", "import os\n    os._exit(0)", "raise SystemExit(0)"],
    ids=["sys_exit", "os_exit", "raise_systemexit"],
)
def test_exit_from_inside_the_candidate_is_not_a_pass(worker, body):
    code = f"def f(x):\n    {body}\n"
    records, _ = run_hostile(worker, check_request(code))
    assert not passed(records)


# ------------------------------------------------------------------------------------------------
# Memory and output
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "x = bytearray(10**12)\n",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))\n",
        "x = [0] * (10**11)\n",
        "x = 'a' * (10**12)\n",
    ],
    ids=["huge", "growing", "huge_list", "huge_str"],
)
def test_memory_exhaustion_fails(worker, code):
    # Zeroing 1 GiB in 10 MB steps takes about a CPU second here: give the CPU limit room, so
    # only the memory limit can end the run.
    limits = Limits(**{**FAST.__dict__, "cpu_seconds": 10, "wall_seconds": 20})
    records, outcome = run_hostile(worker, script(code), limits)
    assert not passed(records)
    done = first_done(records)
    assert done["e"].startswith("MemoryError")


def test_memory_exhaustion_inside_the_candidate(worker):
    code = "def f(x):\n    return len(bytearray(10**12)) + x\n"
    records, _ = run_hostile(worker, check_request(code))
    assert not passed(records)
    assert first_done(records)["e"].startswith("MemoryError")


@pytest.mark.parametrize("fd", [1, 2])
def test_output_flood_through_os_write(worker, fd):
    code = f"import os\nwhile True:\n    os.write({fd}, b'x' * 65536)\n"
    records, outcome = run_hostile(worker, script(code))
    assert not passed(records)
    assert outcome.reason == "output limit exceeded"
    assert outcome.exit_code == -signal.SIGKILL
    assert 0 < len(outcome.output_head) <= 4096


def test_output_flood_through_print_in_a_script(worker):
    records, outcome = run_hostile(worker, script("while True:\n    print('y' * 1000)\n"))
    assert not passed(records)
    assert outcome.reason == "output limit exceeded"


def test_output_flood_through_print_in_check_is_swallowed_but_still_fails(worker):
    code = "while True:\n    print('y' * 1000)\n" + RIGHT
    records, outcome = run_hostile(worker, check_request(code), Limits(wall_seconds=4, cpu_seconds=1))
    assert not passed(records)
    assert outcome.output_head == ""  # print went to the sink
    assert outcome.reason in ("cpu time limit exceeded", "wall time limit exceeded")


def test_garbage_on_the_result_channel_is_a_protocol_error(worker):
    code = (
        "import os\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, b'not json at all\\n')\n"
        "    except OSError:\n"
        "        pass\n" + RIGHT
    )
    records, outcome = run_hostile(worker, check_request(code))
    assert not passed(records)
    assert outcome.reason == "protocol error"
    assert outcome.protocol_error and outcome.protocol_error.startswith("unreadable record")


@pytest.mark.parametrize("batch", ['"b":{"done":true}', '"b":[{"done":true},1]', '"done":true'])
def test_a_line_that_is_not_a_batch_of_records_is_a_protocol_error(worker, batch):
    """Records travel in batches, one line each: ``{"k": token, "b": [record, ...]}``. A line with the
    run's token (the program can find it in its own process) but no list of objects is refused."""
    code = (
        "def f(x):\n"
        "    import gc, os\n"
        "    for obj in gc.get_objects():\n"
        "        if type(obj).__name__ == '_Writer':\n"
        "            line = obj._head.split(',\"b\":[')[0] + " + repr("," + batch + "}\n") + "\n"
        "            os.write(obj._fd, line.encode())\n"
        "    return x + 1\n"
    )
    request = {"kind": "function_io", "code": code, "entry_point": "f", "inputs": [[1]], "cpu_limits": 1.0}
    records, outcome = run_hostile(worker, request)
    assert outcome.reason == "protocol error"
    assert outcome.protocol_error and outcome.protocol_error.startswith("unreadable record")
    assert not any(r.get("done") for r in records)


def test_forged_verdict_on_the_result_channel_is_not_a_pass(worker):
    """A solution that writes its own ``{"done": true, "ok": true}`` to the result pipe and leaves
    before the tests run must not be taken as passing. (Fails today: see the report.)"""
    code = (
        "import os\n"
        "for name in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        '        os.write(int(name), b\'{"done": true, "ok": true}\\n\')\n'
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n" + WRONG
    )
    records, _ = run_hostile(worker, check_request(code))
    assert not passed(records)


# ------------------------------------------------------------------------------------------------
# File system
# ------------------------------------------------------------------------------------------------


def _outside_dirs() -> dict[str, str]:
    return {
        "etc": "/etc",
        "repo": str(REPO),
        "package": str(REPO / "src" / "evolcoder" / "execution"),
        "venv": sys.prefix,
        "python_install": sys.base_prefix,
        "home": os.path.expanduser("~"),
        "root_dir": "/",
    }


@pytest.mark.parametrize("where", list(_outside_dirs()))
def test_writing_outside_its_folder_fails(worker, where):
    path = os.path.join(_outside_dirs()[where], f"evolcoder_probe_{uuid.uuid4().hex}")
    code = f"with open({path!r}, 'w') as f:\n    f.write('escaped')\n"
    try:
        records, _ = run_hostile(worker, script(code))
        assert not passed(records)
        assert "Error" in first_done(records)["e"]
        assert not os.path.exists(path)
    finally:
        if os.path.exists(path):
            os.remove(path)


def test_writing_to_the_harness_tmp_stays_private(worker):
    tmp = tempfile.gettempdir()
    tag = uuid.uuid4().hex
    sentinel = os.path.join(tmp, f"evolcoder_host_{tag}")
    probe = os.path.join(tmp, f"evolcoder_probe_{tag}")
    with open(sentinel, "w") as f:
        f.write("host secret")
    code = (
        f"with open({probe!r}, 'w') as f:\n    f.write('escaped')\nwith open({sentinel!r}) as f:\n    print(f.read())\n"
    )
    try:
        records, outcome = run_hostile(worker, script(code))
        assert not passed(records)
        assert first_done(records)["e"].startswith("FileNotFoundError")  # the harness's /tmp is not there
        assert "host secret" not in outcome.output_head
        assert not os.path.exists(probe)
    finally:
        for path in (sentinel, probe):
            if os.path.exists(path):
                os.remove(path)


def test_writing_into_a_harness_temp_folder_fails(worker, tmp_path):
    path = tmp_path / "probe"
    records, _ = run_hostile(worker, script(f"open({str(path)!r}, 'w').write('escaped')\n"))
    assert not passed(records)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_writing_inside_its_folder_works_and_is_fresh_each_run(worker):
    code = (
        "import os\n"
        "assert not os.path.exists('data.txt')\n"
        "with open('data.txt', 'w') as f:\n"
        "    f.write('hello')\n"
        "with open('data.txt') as f:\n"
        "    assert f.read() == 'hello'\n"
        "os.mkdir('sub')\n"
        "with open(os.path.join('sub', 'x'), 'wb') as f:\n"
        "    f.write(b'1' * 1000)\n"
        "assert os.path.getsize('sub/x') == 1000\n"
    )
    for _ in range(2):  # the second run must not find the first run's files
        records, outcome = run(worker, script(code))
        assert records == [{"done": True, "ok": True}], (records, outcome)


def test_file_size_limit(worker):
    limits = Limits(wall_seconds=5, cpu_seconds=1, memory_bytes=1 << 30, max_file_bytes=1 << 20)
    code = "with open('big', 'wb') as f:\n    f.write(b'x' * (2 << 20))\n"
    records, _ = run_hostile(worker, script(code), limits)
    assert not passed(records)
    assert "File too large" in first_done(records)["e"]


def test_private_tmp_size_limit(worker):
    limits = Limits(wall_seconds=5, cpu_seconds=1, memory_bytes=1 << 30, tmp_bytes=1 << 20)
    code = "with open('/tmp/fill', 'wb') as f:\n    for _ in range(64):\n        f.write(bytes(1 << 16))\n"
    records, _ = run_hostile(worker, script(code), limits)
    assert not passed(records)
    assert "No space left" in first_done(records)["e"]


def test_home_folder_shows_nothing_of_the_host(worker):
    home = os.path.realpath(os.path.expanduser("~"))
    host_names = set(os.listdir(home))
    # The interpreter's own folders below home are bound back, read-only; nothing else may show.
    needed = {p[len(home) + 1 :].split("/")[0] for p in needed_paths() if p.startswith(home + "/")}
    private = sorted(host_names - needed)
    listing_code = f"import json, os\nprint(json.dumps(sorted(os.listdir({home!r}))))\n"
    records, outcome = run(worker, script(listing_code))
    assert passed(records)
    seen = set(json.loads(outcome.output_head))
    assert seen <= needed
    assert not seen & set(private)
    # A hostile program succeeds only if it finds one of the host's private files.
    probe_code = (
        "import os\n"
        f"found = [n for n in {private!r} if os.path.lexists(os.path.join({home!r}, n))]\n"
        "print(found)\n"
        "assert found\n"
    )
    records, outcome = run_hostile(worker, script(probe_code))
    assert not passed(records)
    assert outcome.output_head == "[]\n"


def test_a_hidden_folder_made_after_the_fork_server_started_is_hidden_too():
    """The mount template is made when the fork server starts; a hidden folder that appears later
    (a cache the first runs fill with expected outputs) is covered from the next run on."""
    later = Path("/var/lib") / f"evolcoder-test-{uuid.uuid4().hex[:8]}"
    with closing(Worker(slot=SLOT + 9, policy=Policy(hidden_paths=(str(later),)))) as w:
        try:
            assert_healthy(w)  # the fork server and its template exist before the folder
            later.mkdir()
            (later / "answers.json").write_text("[42]")
            records, outcome = run(w, script(f"print(open({str(later / 'answers.json')!r}).read())"))
            assert not passed(records) and first_done(records)["e"].startswith("FileNotFoundError"), records
            assert str(later) in outcome.protections["hidden_paths"]
        finally:
            shutil.rmtree(later, ignore_errors=True)


def test_readable_paths_are_bound_back_read_only_below_hidden_folders_and_tmp():
    """Folders a program may read (DS-1000's seaborn data; the interpreter when it lives in a
    checkout or cache below /tmp, as in CI) show in the sandbox, read-only, below a hidden folder
    and below /tmp, which every sandbox gets fresh; their hidden siblings do not."""
    base = Path(tempfile.mkdtemp(dir="/tmp", prefix="evolcoder-readable-"))
    try:
        os.chmod(base, 0o755)  # traversable, as a git checkout in /tmp is
        below_hidden, below_tmp = base / "data" / "shared", base / "cache" / "env"
        for folder in (below_hidden, below_tmp):
            folder.mkdir(parents=True)
            (folder / "table.csv").write_text("a,b\n1,2\n")
        (base / "data" / "answers.jsonl").write_text("secret")
        policy = Policy(
            hidden_paths=(os.path.expanduser("~"), str(base / "data")),
            readable_paths=(str(below_hidden), str(below_tmp)),
        )
        code = "import os\n"
        for folder in (below_hidden, below_tmp):
            code += (
                f"assert open({str(folder / 'table.csv')!r}).read().startswith('a,b')\n"
                f"try:\n    open({str(folder / 'new.csv')!r}, 'w')\nexcept OSError:\n    pass\n"
                "else:\n    raise AssertionError('wrote into a read-only folder')\n"
            )
        code += f"assert not os.path.exists({str(base / 'data' / 'answers.jsonl')!r})\n"
        w = Worker(slot=SLOT + 7, policy=policy)
        try:
            records, _ = run(w, script(code))
        finally:
            w.close()
        assert passed(records), records
    finally:
        import shutil

        shutil.rmtree(base)


def test_environment_is_scrubbed(monkeypatch):
    secret = f"evolcoder-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("EVOLCODER_TEST_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    w = Worker(slot=ENV_SLOT)  # started after the secret was set
    try:
        dump = (
            "import os\n"
            "print(dict(os.environ))\n"
            "for p in ('/proc/self/environ', '/proc/1/environ'):\n"
            "    try:\n"
            "        with open(p, 'rb') as f:\n"
            "            print(f.read())\n"
            "    except OSError as exc:\n"
            "        print(p, type(exc).__name__)\n"
        )
        records, outcome = run(w, script(dump))
        assert passed(records)
        assert "PYTHONHASHSEED" in outcome.output_head  # the dump really ran
        assert secret not in outcome.output_head
        assert "PYTHONPATH" not in outcome.output_head  # the fork server's own variables are gone too
        assert "EVOLCODER_TEST_SECRET" not in outcome.output_head
        leak = "import os\ndef f():\n    return os.environ.get('EVOLCODER_TEST_SECRET')\n"
        test = f"def check(candidate):\n    assert candidate() == {secret!r}\n"
        records, _ = run_hostile(w, check_request(leak, test))
        assert not passed(records)
    finally:
        w.close()


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    # The server really is reachable from the host.
    probe = socket.create_connection(server.getsockname(), timeout=2)
    conn, _ = server.accept()
    conn.close()
    probe.close()
    server.setblocking(False)
    yield server
    server.close()


def accepted_nothing(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_socket_to_a_local_server_fails(any_worker, listener):
    port = listener.getsockname()[1]
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'escaped')\n"
    records, _ = run_hostile(any_worker, script(code))
    assert not passed(records)
    error = first_done(records)["e"]
    if any_worker.policy.block_python_events:
        assert error == "PermissionError: network access is disabled in the sandbox"
    else:
        assert error.startswith("OSError")  # the network namespace has no way out
    assert accepted_nothing(listener)


def test_native_socket_bypassing_the_audit_hook_fails(worker, listener):
    port = listener.getsockname()[1]
    code = (
        "import ctypes, socket, struct\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)\n"
        "assert fd >= 0\n"
        f"addr = struct.pack('=H', socket.AF_INET) + struct.pack('!H', {port})\n"
        "addr += socket.inet_aton('127.0.0.1') + bytes(8)\n"
        "rc = libc.connect(fd, addr, len(addr))\n"
        "print(rc, ctypes.get_errno())\n"
        "assert rc == 0\n"
    )
    records, _ = run_hostile(worker, script(code))
    assert not passed(records)
    assert first_done(records)["e"].startswith("AssertionError")
    assert accepted_nothing(listener)


def test_listening_socket_is_not_reachable_from_the_host(bare_worker):
    """A program that binds a server inside the sandbox is not reachable from outside."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import socket, time\n"
        "s = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port}))\n"
        "s.listen()\n"
        "time.sleep(0.5)\n"
    )
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(r=run(bare_worker, script(code))))
    thread.start()
    time.sleep(0.2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    thread.join()
    assert_healthy(bare_worker)


LEAVE_BEHIND = """
import ctypes, fcntl, socket, struct
server = socket.socket(socket.AF_UNIX)
server.bind("\\0evolcoder-left-behind")
server.listen()
libc = ctypes.CDLL(None, use_errno=True)
print("shm", libc.shmget(0x5EED, 4096, 0o1000 | 0o666) >= 0)  # IPC_CREAT
try:  # SIOCSIFFLAGS: bring the loopback up
    fcntl.ioctl(socket.socket(), 0x8914, struct.pack("16sH22x", b"lo", 1))
    print("lo up")
except OSError as exc:
    print("lo refused", exc.errno)
"""
FIND_LEFTOVERS = """
import ctypes, socket
socket.socket(socket.AF_UNIX).bind("\\0evolcoder-left-behind")  # EADDRINUSE if the last one lived on
libc = ctypes.CDLL(None, use_errno=True)
print("shm", libc.shmget(0x5EED, 0, 0), ctypes.get_errno())
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except OSError as exc:
    print("connect", exc.errno)
"""


def test_nothing_a_run_leaves_in_its_namespaces_reaches_the_next_run(bare_worker):
    """The network namespace is made once per fork server and entered by each run: what a run
    opens there ends with it, and it cannot bring the loopback up. System V IPC objects, which
    outlive their processes, are in a namespace of each run's own."""
    _, outcome = run(bare_worker, script(LEAVE_BEHIND))
    assert outcome.exit_code == 0, outcome.output_head
    assert outcome.output_head.split("\n")[:2] == ["shm True", f"lo refused {errno.EPERM}"]
    _, outcome = run(bare_worker, script(FIND_LEFTOVERS))
    assert outcome.exit_code == 0, outcome.output_head
    assert outcome.output_head.split("\n")[:2] == [f"shm -1 {errno.ENOENT}", f"connect {errno.ENETUNREACH}"]


# ------------------------------------------------------------------------------------------------
# Equality tricks
# ------------------------------------------------------------------------------------------------

EQ_TRICKS = {
    "object_eq_true": (
        "class E:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __ne__(self, other):\n"
        "        return False\n"
        "    __hash__ = object.__hash__\n"
        "def f(x):\n"
        "    return E()\n"
    ),
    "int_subclass_eq_true": (
        "class E(int):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __ne__(self, other):\n"
        "        return False\n"
        "    __hash__ = int.__hash__\n"
        "def f(x):\n"
        "    return E(0)\n"
    ),
    "str_subclass_eq_true": (
        "class E(str):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = str.__hash__\n"
        "def f(x):\n"
        "    return E('nope')\n"
    ),
    "list_subclass_lying_iter": (
        "class E(list):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __iter__(self):\n"
        "        return iter([2])\n"
        "def f(x):\n"
        "    return E([0])\n"
    ),
    "class_attribute_liar": (
        "class E:\n"
        "    __class__ = property(lambda self: int)\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = object.__hash__\n"
        "def f(x):\n"
        "    return E()\n"
    ),
    "tuple_subclass_eq_true": (
        "class E(tuple):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = tuple.__hash__\n"
        "def f(x):\n"
        "    return E((0,))\n"
    ),
}

METACLASS_TRICK = (
    "class Meta(type):\n"
    "    def __getattribute__(cls, name):\n"
    "        if name == '__eq__':\n"
    "            return object.__eq__\n"
    "        if name == '__ne__':\n"
    "            return object.__ne__\n"
    "        return type.__getattribute__(cls, name)\n"
    "class E(metaclass=Meta):\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "    __hash__ = object.__hash__\n"
    "def f(x):\n"
    "    return E()\n"
)


@pytest.mark.parametrize("code", list(EQ_TRICKS.values()), ids=list(EQ_TRICKS))
def test_eq_override_does_not_pass_check(worker, code):
    records, _ = run_hostile(worker, check_request(code))
    assert not passed(records)
    assert first_done(records)["ok"] is False


@pytest.mark.parametrize("code", list(EQ_TRICKS.values()), ids=list(EQ_TRICKS))
def test_eq_override_does_not_pass_asserts(worker, code):
    request = {
        "kind": "asserts",
        "code": code,
        "asserts": ["assert f(1) == 2"],
        "guarded_names": ["f"],
    }
    records, _ = run_hostile(worker, request)
    assert not any(r.get("ok") is True for r in records)


@pytest.mark.parametrize("code", list(EQ_TRICKS.values()), ids=list(EQ_TRICKS))
def test_eq_override_in_function_io_decodes_unequal(worker, code):
    request = {
        "kind": "function_io",
        "code": code,
        "entry_point": "f",
        "inputs": [[1]],
        "cpu_limits": 1.0,
    }
    records, _ = run_hostile(worker, request)
    assert records[0] == {"ready": True} and records[-1] == {"done": True}
    result = records[1]
    assert result["i"] == 0
    if "o" in result:
        value = decode(result["o"])
        assert value != 2
        assert not value == 2  # noqa: SIM201
        assert value != [2]
    else:
        assert "e" in result  # could not even be encoded: an error, never a match


def test_function_io_opaque_object(worker):
    request = {
        "kind": "function_io",
        "code": EQ_TRICKS["object_eq_true"],
        "entry_point": "f",
        "inputs": [[1]],
        "cpu_limits": 1.0,
    }
    records, _ = run(worker, request)
    value = decode(records[1]["o"])
    assert isinstance(value, Opaque)


@pytest.mark.parametrize("kind", ["check", "asserts"])
def test_metaclass_hiding_eq_does_not_pass(worker, kind):
    """A metaclass can make ``type(x).__eq__`` look like ``object.__eq__`` while the real slot
    returns True, so ``guard_value`` lets the object through. (Fails today: see the report.)"""
    if kind == "check":
        records, _ = run_hostile(worker, check_request(METACLASS_TRICK))
        assert not passed(records)
    else:
        request = {
            "kind": "asserts",
            "code": METACLASS_TRICK,
            "asserts": ["assert f(1) == 2"],
            "guarded_names": ["f"],
        }
        records, _ = run_hostile(worker, request)
        assert not any(r.get("ok") is True for r in records)


SHADOW_TRICKS = {
    "patch_builtins_module": ("import builtins\nbuiltins.abs = lambda x: 0\ndef f(x):\n    return 0.0\n"),
    "global_named_abs": "def abs(x):\n    return 0\ndef f(x):\n    return 0.0\n",
}


@pytest.mark.parametrize("kind", ["check", "asserts"])
@pytest.mark.parametrize("code", list(SHADOW_TRICKS.values()), ids=list(SHADOW_TRICKS))
def test_shadowing_builtins_used_by_the_test_does_not_pass(worker, code, kind):
    """HumanEval-style float tests read ``abs(candidate(x) - y) < 1e-6``; a wrong solution that
    replaces ``abs`` must not pass them. (Fails today: see the report.)"""
    if kind == "check":
        test = "def check(candidate):\n    assert abs(candidate(3.5) - 0.5) < 1e-6\n"
        records, _ = run_hostile(worker, check_request(code, test))
        assert not passed(records)
    else:
        request = {
            "kind": "asserts",
            "code": code,
            "asserts": ["assert abs(f(3.5) - 0.5) < 1e-6"],
            "guarded_names": ["f"],
        }
        records, _ = run_hostile(worker, request)
        assert not any(r.get("ok") is True for r in records)


# ------------------------------------------------------------------------------------------------
# Pool
# ------------------------------------------------------------------------------------------------


def _fork_servers_of(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in children if b"evolcoder.execution.zygote" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_a_started_pool_boots_every_fork_server_before_its_first_request():
    others = set(_fork_servers_of(os.getpid()))  # other tests' workers, if any are alive
    with WorkerPool(3) as pool:
        pool.start()
        deadline = time.monotonic() + 30
        while len(set(_fork_servers_of(os.getpid())) - others) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = set(_fork_servers_of(os.getpid())) - others
        assert len(started) == 3
        heads = pool.imap_unordered(lambda w, n: run(w, script(f"print({n} * {n})"))[1].output_head, range(6))
        squares = sorted(int(head) for head in heads)
        assert set(_fork_servers_of(os.getpid())) - others == started  # the requests ran on them, no new one
    assert squares == [0, 1, 4, 9, 16, 25]


def test_pool_runs_twenty_requests_concurrently():
    code = "import time\ndef f(x):\n    time.sleep(0.1)\n    return x * x\n"

    def job(w: Worker, n: int):
        request = {
            "kind": "function_io",
            "code": code,
            "entry_point": "f",
            "inputs": [[n], [n + 1]],
            "cpu_limits": 1.0,
        }
        started = time.monotonic()
        records, outcome = run(w, request)
        return n, records, outcome, (started, time.monotonic())

    with WorkerPool(2) as pool:
        results = list(pool.imap_unordered(job, range(20)))
    assert sorted(n for n, *_ in results) == list(range(20))
    uids = set()
    for n, records, outcome, _ in results:
        outputs = [decode(r["o"]) for r in records if "o" in r]
        assert outputs == [n * n, (n + 1) * (n + 1)]
        assert records[-1] == {"done": True}
        assert outcome.exit_code == 0 and outcome.reason is None
        uids.add(outcome.protections["uid"])
    assert uids <= {UID_BASE, UID_BASE + 1}
    spans = sorted(span for *_, span in results)
    overlapping = any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert overlapping, "the two workers never ran at the same time"

"""The fork server: a clean, warm Python process that forks one sandbox per request.

Started by the harness as ``python -I -m evolcoder.execution.zygote FD``. It pre-imports what every run
needs once, then for each request forks:

    zygote ── supervisor (enters new namespaces, enforces wall time and output size)
                  └── sandbox (pid 1 of its pid namespace: limits, no privileges, runs the driver)

As root with namespaces (isolation.PreparedNamespaces) the zygote is the supervisor itself, one
fork fewer per run: ``zygote ── sandbox``, the sandbox entering the other namespaces itself (a mount
template and a network namespace made once per zygote).

When the sandbox process ends, the kernel kills everything left in its pid namespace, so nothing
it started survives it. The zygote stays small (forks are cheap) and never holds expected outputs: a forked sandbox
inherits its memory, and must not find the answers there. Test inputs come with each request.

Pipes per request, created by the harness and passed over the control socket:
``result`` (sandbox → harness, JSON lines), ``status`` (supervisor → harness, one final line the
sandbox cannot forge), ``cancel`` (harness → supervisor; EOF kills the run) and ``tests`` (a memfd
with the tests of a request judged apart, read only by the test process; see execution.apart).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from evolcoder.execution import apart, driver, isolation, values

HEADER = struct.Struct("!II")  # JSON message length, payload length
SANDBOX_WORKDIR = "/tmp/work"  # in a sandbox's own /tmp (namespaces)
N_FDS = 4


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def recv_message(sock: socket.socket) -> tuple[dict | None, list[int], bytes]:
    """One message: a JSON object, up to four passed file descriptors and a raw payload."""
    head, fds, _flags, _addr = socket.recv_fds(sock, HEADER.size, N_FDS)
    if not head:
        return None, fds, b""
    rest = _recv_exact(sock, HEADER.size - len(head)) if len(head) < HEADER.size else b""
    if rest is None:
        return None, fds, b""
    size, payload_size = HEADER.unpack(head + rest)
    body = _recv_exact(sock, size)
    payload = _recv_exact(sock, payload_size)
    if body is None or payload is None:
        return None, fds, b""
    return json.loads(body), fds, payload


def send_message(sock: socket.socket, message: dict, fds: list[int] = (), payload: bytes = b"") -> None:
    body = json.dumps(message).encode()
    socket.send_fds(sock, [HEADER.pack(len(body), len(payload))], list(fds))
    sock.sendall(body)
    if payload:
        sock.sendall(payload)


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    hello, _, _ = recv_message(sock)
    if hello is None:
        return
    for module in hello.get("preload", []):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a program that imports it meets the error itself
            pass
    policy = isolation.Policy(**_tuples(hello["policy"]))
    if policy.seccomp:
        isolation.preload_seccomp()
    slot = int(hello["slot"])
    namespaces = isolation.PreparedNamespaces.open(policy)
    if namespaces is None:
        # Supervisors are reaped by the kernel; each resets this after fork.
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    else:  # every sandbox works in the same folder of its own /tmp: its environment is made once, here
        isolation.clean_environment(SANDBOX_WORKDIR, policy)
    held = HeldInputs()
    while True:
        request, fds, payload = recv_message(sock)
        if request is None:
            return
        limits = isolation.Limits(**request.pop("limits"))
        run = _Run(request, payload, limits, policy, isolation.sandbox_uid(policy, slot), *fds)
        try:
            held.attach(run)
        except (KeyError, ValueError, RecursionError) as exc:
            for fd in (run.result_fd, run.tests_fd):
                os.close(fd)
            _report(run, {"exit": None, "reason": f"inputs not readable: {exc!r}"[:300]}, time.monotonic())
            continue
        if namespaces is not None:
            _supervise_here(run, namespaces, sock)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                _supervise(run)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)


def _tuples(d: dict) -> dict:
    return {
        k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v for k, v in d.items()
    }


class HeldInputs:
    """Input sets decoded once here and kept for the next requests (worker._HeldInputs decides which).

    A ``function_io`` request names its inputs (``inputs_key``) and carries them with their CPU
    limits (the payload, worker.inputs_payload) only the first time. Decoding them here, before
    the fork, saves each sandbox the decoding: it gets its own copy of the decoded values by fork,
    so what one run does to its inputs no later run sees.
    """

    def __init__(self) -> None:
        self._held: dict[int, dict] = {}

    def attach(self, run: _Run) -> None:
        """Give ``run.request`` its decoded ``inputs`` and ``cpu_limits`` (and its second set, under
        ``then``, its own); KeyError if never sent. A second set's payload ends the run's payload
        (``then["payload_bytes"]`` long), and is attached first, as the harness named it first."""
        payload, run.payload = run.payload, b""
        then = run.request.get("then")
        if then is not None:
            size = then.pop("payload_bytes", 0)
            if size:
                payload, then_payload = payload[:-size], payload[-size:]
            else:
                then_payload = b""
            self._attach(then, then_payload)
        self._attach(run.request, payload)

    def _attach(self, request: dict, payload: bytes) -> None:
        for key in request.pop("forget", ()):
            self._held.pop(key, None)
        key = request.pop("inputs_key", None)
        if key is None:
            return
        if payload:
            sent = json.loads(payload)
            self._held[key] = {"inputs": values.decode(sent["inputs"]), "cpu_limits": sent["cpu_limits"]}
        request.update(self._held[key])


@dataclass
class _Run:
    """One request, as its supervisor and its sandbox see it."""

    request: dict
    payload: bytes
    limits: isolation.Limits
    policy: isolation.Policy
    uid: int | None  # the slot's own uid, when root (decided before a user namespace makes us "root")
    result_fd: int
    status_fd: int
    cancel_fd: int
    tests_fd: int
    skip_r: int | None = None  # two input sets: where the supervisor says "stop the first" (_two_sets)


def _supervise_here(run: _Run, namespaces: isolation.PreparedNamespaces, sock: socket.socket) -> None:
    """Supervise a run from the fork server itself (root, namespaces): the sandbox is its child, pid 1
    of a new pid namespace, and enters the other namespaces itself; no supervisor process per run."""
    started = time.monotonic()
    namespaces.refresh(run.policy)
    out_r, out_w = os.pipe()
    skip_w = _skip_pipe(run)
    try:
        child = namespaces.fork()
    except OSError as exc:
        for fd in (out_r, out_w, run.result_fd, run.tests_fd, run.skip_r, skip_w):
            if fd is not None:
                os.close(fd)
        _report(run, {"exit": None, "reason": f"sandbox not started: {exc}"[:300]}, started)
        return
    if child == 0:
        sock.close()
        os.setsid()  # out of the harness's process group: a Ctrl-C there is not the program's
        protections = isolation.Protections()
        _in_child(run, out_r, out_w, protections, enter=lambda: namespaces.enter(run.policy, run.limits, protections))
    for fd in (out_w, run.result_fd, run.tests_fd, run.skip_r):
        if fd is not None:
            os.close(fd)
    status = _watch(child, run.limits, started, out_r, run.cancel_fd, skip_w)
    os.close(out_r)
    _report(run, status, started)


def _skip_pipe(run: _Run) -> int | None:
    """A request with two input sets gets a pipe from its supervisor to its sandbox's pid 1, which
    stops the first set when the harness asks (``_watch``); returns the supervisor's end."""
    if run.request.get("then") is None:
        return None
    run.skip_r, skip_w = os.pipe()
    os.set_blocking(skip_w, False)
    return skip_w


def _supervise(run: _Run) -> None:
    """A supervisor process per run (not root, or namespaces off): it enters the namespaces, a user
    namespace among them when not root, and its child is the sandbox."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    started = time.monotonic()
    os.setsid()
    protections = isolation.Protections()
    in_namespaces = isolation.unshare_namespaces(run.policy, protections)
    out_r, out_w = os.pipe()
    skip_w = _skip_pipe(run)
    workdir = None
    if not in_namespaces:
        import tempfile

        workdir = tempfile.mkdtemp(prefix="evolcoder-sandbox-")
        if run.uid is not None:
            os.chown(workdir, run.uid, run.uid)
    child = os.fork()
    if child == 0:
        _in_child(run, out_r, out_w, protections, in_namespaces=in_namespaces, workdir=workdir)
    for fd in (out_w, run.result_fd, run.tests_fd, run.skip_r):
        if fd is not None:
            os.close(fd)
    status = _watch(child, run.limits, started, out_r, run.cancel_fd, skip_w)
    if workdir is not None:
        _kill_group(child)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    _report(run, status, started)
    os._exit(0)


def _in_child(run: _Run, out_r: int, out_w: int, protections, enter=None, in_namespaces=True, workdir=None) -> None:
    """The sandbox process: drop the supervisor's descriptors, run, and exit (never return)."""

    def work() -> None:
        for fd in (run.status_fd, run.cancel_fd, out_r):
            os.close(fd)
        _sandbox(run, out_w, in_namespaces, workdir, protections, enter)

    _run_then_exit(work)


def _run_then_exit(work: Callable[[], None]) -> NoReturn:
    """Run ``work`` in a forked process and exit: 0 if it returned, 71 with its traceback (on the
    output pipe, which the harness shows) if it raised."""
    code = 71
    try:
        work()
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def _report(run: _Run, status: dict, started: float) -> None:
    """The run's final status line, from the supervisor, which the sandbox cannot reach."""
    status["wall"] = time.monotonic() - started
    os.write(run.status_fd, (json.dumps(status) + "\n").encode())
    os.close(run.status_fd)
    os.close(run.cancel_fd)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _optional(fd: int | None) -> tuple[int, ...]:
    return () if fd is None else (fd,)


def _watch(child: int, limits, started: float, out_r: int, cancel_fd: int, skip_w: int | None = None) -> dict:
    """Wait for the sandbox; kill it on wall time, output flood or cancellation (EOF on ``cancel_fd``).

    A byte on ``cancel_fd`` instead asks to stop the first of two input sets: it is passed on to the
    sandbox's pid 1 through ``skip_w`` (closed here once used), which kills the first set's process
    if it still runs (``_two_sets``)."""
    pidfd = os.pidfd_open(child)
    head = bytearray()
    total = 0
    reason = None
    watched = [pidfd, out_r, cancel_fd]
    while True:
        remaining = limits.wall_seconds - (time.monotonic() - started)
        if remaining <= 0:
            reason = "wall time limit exceeded"
            break
        ready, _, _ = select.select(watched, [], [], remaining)
        if out_r in ready:
            chunk = os.read(out_r, 1 << 16)
            if not chunk:
                watched.remove(out_r)
            total += len(chunk)
            if len(head) < 4096:
                head += chunk[: 4096 - len(head)]
            if total > limits.max_output_bytes:
                reason = "output limit exceeded"
                break
        if cancel_fd in ready:
            if not os.read(cancel_fd, 64):
                reason = "cancelled"
                break
            if skip_w is not None:
                try:
                    os.write(skip_w, b"s")
                except OSError:  # pid 1 is past the first set (or gone): nothing to stop
                    pass
                os.close(skip_w)
                skip_w = None
        if pidfd in ready:
            break
    if skip_w is not None:
        os.close(skip_w)
    if reason is not None:
        os.kill(child, signal.SIGKILL)
        _kill_group(child)
    _, wait_status, usage = os.wait4(child, 0)
    os.close(pidfd)
    exit_code = os.waitstatus_to_exitcode(wait_status)
    cpu = usage.ru_utime + usage.ru_stime
    if reason is None and exit_code in (-signal.SIGXCPU, -signal.SIGKILL):
        reason = "cpu time limit exceeded" if cpu >= limits.cpu_seconds - 0.05 else "killed"
    return {
        "exit": exit_code,
        "reason": reason,
        "cpu": cpu,
        "max_rss_kb": usage.ru_maxrss,
        "output_bytes": total,
        "output_head": head.decode("utf-8", "replace"),
    }


def _sandbox(run: _Run, out_w: int, in_namespaces: bool, workdir, protections, enter) -> None:
    """Runs as the sandboxed process: isolate, then hand over to the driver.

    ``enter``: enters the namespaces and sets up the file system, when the supervisor has not
    entered them (``_supervise_here``).
    """
    request, limits, policy, uid = run.request, run.limits, run.policy, run.uid
    result_fd, tests_fd = run.result_fd, run.tests_fd
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    if enter is not None:
        enter()  # the namespaces and the file system (isolation.PreparedNamespaces)
    elif in_namespaces:
        isolation.setup_filesystem(policy, limits, protections)
    else:
        os.setpgid(0, 0)
    if in_namespaces:
        workdir = SANDBOX_WORKDIR
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
    os.chdir(workdir)
    isolation.set_limits(limits, dedicated_uid=uid is not None, protections=protections)
    if request.get("apart"):
        _tests_apart(request, policy, uid, result_fd, tests_fd, workdir, protections)
        return
    os.close(tests_fd)
    isolation.drop_privileges(uid, protections)
    isolation.clean_environment(workdir, policy)
    isolation.close_fds_except({result_fd, *_optional(run.skip_r)})
    if request.get("then") is not None:
        _two_sets(request, result_fd, run.skip_r, policy, protections)
        return
    _run_set(request, result_fd, policy, protections)


def _run_set(request: dict, result_fd: int, policy, protections) -> None:
    _lock_down(policy, protections, python_events=policy.block_python_events)
    # Sent before any untrusted code runs, so the harness can trust this first record.
    record = {"protections": protections.as_dict()}
    driver.send_record(result_fd, record, request.get("token", ""), request.get("set", 0))
    driver.run_request(request, result_fd)


def _two_sets(request: dict, result_fd: int, skip_r: int, policy, protections) -> None:
    """Judge two input sets of one program in one sandbox (base, then plus), each in a fresh process.

    The isolation is set up once, the seccomp filter included: the first set's process inherits it
    (``_install_seccomp`` then knows it is on).
    The first set runs in a forked child, under its own CPU limit; this process (pid 1) waits for
    it, or kills it when the harness says it has seen enough (``skip_r``), reports how it ended
    (``set_end``), and then runs the second set itself, as a process that has run no candidate code
    yet. The second set's records carry ``"s": 1``.
    """
    then = request.pop("then")
    second = {**request, **then, "set": 1}
    _install_seccomp(policy, protections)
    child = os.fork()
    if child == 0:
        os.close(skip_r)
        _run_then_exit(lambda: _first_set(request, result_fd, policy, protections))
    ended = _first_set_ended(child, skip_r, isolation.whole_cpu_seconds(float(request["cpu_seconds"])))
    os.close(skip_r)
    driver.send_record(result_fd, {"set_end": ended}, request.get("token", ""))
    # RLIMIT_CPU counts this process alone; each set's limit only lowers the run's, which covers
    # both (Worker.run_two_sets): without privileges a limit cannot be raised.
    own = resource.getrusage(resource.RUSAGE_SELF)
    isolation.set_cpu_limit(own.ru_utime + own.ru_stime + float(then["cpu_seconds"]))
    _run_set(second, result_fd, policy, protections)


def _first_set(request: dict, result_fd: int, policy, protections) -> None:
    isolation.set_cpu_limit(float(request["cpu_seconds"]))
    _run_set(request, result_fd, policy, protections)


def _first_set_ended(child: int, skip_r: int, cpu_limit: float) -> dict:
    """How the first set's process ended: its exit, CPU seconds, whether it ran out of CPU time,
    and whether it was stopped here (the harness asked)."""
    pidfd = os.pidfd_open(child)
    ready, _, _ = select.select([pidfd, skip_r], [], [])
    skipped = pidfd not in ready
    if skipped:
        os.kill(child, signal.SIGKILL)
    _, wait_status, usage = os.wait4(child, 0)
    os.close(pidfd)
    ended = _how_it_ended(wait_status, usage, cpu_limit)
    return {**ended, "timeout": ended["timeout"] and not skipped, "skipped": skipped}


def _how_it_ended(wait_status: int, usage: resource.struct_rusage, cpu_limit: float) -> dict:
    """A waited-for child's exit, CPU seconds, and whether its CPU limit killed it."""
    code = os.waitstatus_to_exitcode(wait_status)
    cpu = usage.ru_utime + usage.ru_stime
    timeout = code in (-signal.SIGKILL, -signal.SIGXCPU) and cpu >= cpu_limit - 0.05
    return {"exit": code, "cpu": cpu, "timeout": timeout}


def _lock_down(policy, protections, python_events: bool) -> None:
    _install_seccomp(policy, protections)
    if python_events:
        isolation.install_audit_hook(protections)


def _install_seccomp(policy, protections) -> bool:
    """The seccomp filter, where the policy asks for it; whether it is on. Once per process tree:
    a filter this process installed before a fork (``_two_sets``) is on in the child too, and a
    second one would only slow every system call."""
    if protections.seccomp:
        return True
    return policy.seccomp and isolation.install_seccomp(protections)


def _tests_apart(request, policy, uid, result_fd, tests_fd, workdir, protections) -> None:
    """Fork the candidate into a process of its own; this one (pid 1) runs the tests.

    The candidate gets the slot's uid, no result pipe and no tests (they are read from ``tests_fd``
    only here, after the fork), so nothing in its memory or reach can write a verdict. The test
    process runs under a second uid and is not dumpable: the candidate cannot signal it, trace it or
    open its ``/proc`` entries, and seccomp denies both of them ptrace and process_vm_writev.
    """
    to_candidate_r, to_candidate_w = os.pipe()
    to_tests_r, to_tests_w = os.pipe()
    os.chmod(workdir, 0o1777)  # the test process (another uid) may need its working folder too
    candidate_pid = os.fork()
    if candidate_pid == 0:
        try:
            for fd in (result_fd, tests_fd, to_candidate_w, to_tests_r):
                os.close(fd)
            request.pop("token", None)
            isolation.drop_privileges(uid, protections)
            isolation.clean_environment(workdir, policy)
            isolation.close_fds_except({to_candidate_r, to_tests_w})
            _lock_down(policy, protections, python_events=policy.block_python_events)
            driver.serve_candidate(request, apart.Channel(to_candidate_r, to_tests_w))
        finally:
            os._exit(0)
    os.close(to_candidate_r)
    os.close(to_tests_w)
    test_uid = None if uid is None else uid + isolation.TEST_UID_OFFSET
    isolation.drop_privileges(test_uid, protections)
    isolation.forbid_tracing()  # its environment is the fork server's, which holds nothing secret
    isolation.close_fds_except({result_fd, tests_fd, to_tests_r, to_candidate_w})
    _lock_down(policy, protections, python_events=False)  # the tests are the benchmark's own code
    protections.test_uid, protections.tests_apart = os.geteuid(), True
    protections.uid = uid if uid is not None else os.geteuid()
    tests = json.loads(_read_all(tests_fd) or b"{}")
    os.close(tests_fd)
    token = request.get("token", "")
    driver.send_record(result_fd, {"protections": protections.as_dict()}, token)
    candidate = apart.Candidate(apart.Channel(to_tests_r, to_candidate_w))
    try:
        driver.run_tests_apart(request, tests, result_fd, candidate)
    finally:
        candidate.close()
        ended = _candidate_ended(candidate_pid, wait=candidate.gone)
        if ended is not None:
            driver.send_record(result_fd, {"candidate_ended": ended}, token)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _candidate_ended(pid: int, wait: bool) -> dict | None:
    """How the candidate ended, if it ended before the tests did (None if it is still serving).

    ``wait``: it hung up on a test, so it has ended or is ending; wait for its exit status.
    """
    done, wait_status, usage = os.wait4(pid, 0 if wait else os.WNOHANG)
    if done == 0:
        return None
    return _how_it_ended(wait_status, usage, resource.getrlimit(resource.RLIMIT_CPU)[0])


if __name__ == "__main__":
    main()

"""The harness side of the sandbox: a handle on one fork server, and a pool of them.

``Worker.run`` sends one request, reads the sandbox's JSON lines as they come and hands each to the
caller, who decides whether to go on (fail fast), and how long the next line may take (per-test
wall-clock limits). It returns the supervisor's final status, which the sandbox cannot forge.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evolcoder.execution.isolation import Limits, Policy
from evolcoder.execution.zygote import send_message
from evolcoder.system import usable_cpus

MAX_RECORD_BYTES = 256 << 20
MAX_RESULT_BYTES = 2 << 30

# How many input sets a fork server keeps decoded, and their size in wire format at most (the one in
# use is kept whatever its size).
HELD_INPUT_SETS = 4
HELD_INPUT_BYTES = 16 << 20


@dataclass
class RunOutcome:
    """How one sandboxed run ended."""

    exit_code: int | None = None
    reason: str | None = None  # why the supervisor or the harness stopped it, if it did
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    output_head: str = ""
    protections: dict = field(default_factory=dict)
    protocol_error: str | None = None


# Called with each record; returns False to stop the run (fail fast).
RecordHandler = Callable[[dict], bool]
# Seconds the next record may take to arrive, or None for no limit beyond the run's own.
IdleTimeout = Callable[[], float | None]


@dataclass
class SetCall:
    """One of the two input sets of a ``function_io`` request judged in one sandbox (``run_two_sets``)."""

    payload: bytes  # its inputs and per-input CPU limits (inputs_payload)
    cpu_seconds: float  # the CPU limit of its process
    wall_seconds: float
    on_record: RecordHandler
    idle_timeout: IdleTimeout | None = None


class Worker:
    """One fork server process; runs one request at a time."""

    def __init__(
        self,
        slot: int = 0,
        policy: Policy | None = None,
        preload: Iterable[str] = (),
        python: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.slot = slot
        self.policy = policy or Policy()
        self.preload = list(preload)
        self.python = python or sys.executable  # another interpreter: a separate environment (DS-1000)
        self.env = dict(env or {})  # set before the preloads are imported (they may read it then)
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._held = _HeldInputs()

    def ensure_started(self) -> None:
        """Start the fork server, or a fresh one if it has died."""
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self._start()

    def _start(self) -> None:
        self._held = _HeldInputs()  # a new fork server holds nothing yet
        parent, child = socket.socketpair()
        src_root = str(Path(__file__).resolve().parents[2])
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": src_root,
            "PYTHONHASHSEED": "0",  # same set/dict order for the reference and the candidate
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(self.env)
        self._proc = subprocess.Popen(
            [self.python, "-s", "-m", "evolcoder.execution.zygote", str(child.fileno())],
            pass_fds=[child.fileno()],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self._sock = parent
        hello = {
            "slot": self.slot,
            "policy": asdict(self.policy),
            "preload": self.preload,
        }
        send_message(parent, hello)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def run(
        self,
        request: dict,
        limits: Limits,
        on_record: RecordHandler | None = None,
        idle_timeout: IdleTimeout | None = None,
        payload: bytes = b"",
        tests: dict | None = None,
    ) -> RunOutcome:
        """Run one request in a fresh sandbox; records go to ``on_record`` as they arrive.

        ``payload``: the inputs of a ``function_io`` request and their CPU limits (``inputs_payload``).
        The fork server decodes them once and keeps them for the next requests that send the same
        bytes; each sandbox gets its own copy by fork.

        With ``tests`` the request is judged apart (execution.apart): the tests travel in a memfd that
        only the sandbox's test process reads, never through the fork server's memory.
        """
        return self._run(request, limits, [(on_record, idle_timeout)], payload, tests)[0]

    def run_two_sets(self, request: dict, limits: Limits, first: SetCall, second: SetCall) -> list[RunOutcome]:
        """Judge two input sets of one ``function_io`` request in one sandbox: the isolation is set up
        once, and each set runs in a fresh process of its own (zygote._two_sets), as two runs would.

        A handler that returns False stops only its own set: the first set's process is killed and
        the second still runs. Each set has its own CPU and wall-clock limits; the outcomes come back
        in order, the first set's from its process's end as the sandbox's pid 1 saw it.
        """
        run_request = dict(request, cpu_seconds=first.cpu_seconds, then={"cpu_seconds": second.cpu_seconds})
        # The run's CPU limit covers each set's (pid 1 can only lower its own), the wall both in turn.
        cpu = max(first.cpu_seconds, second.cpu_seconds) + 1
        wall = first.wall_seconds + second.wall_seconds
        run_limits = Limits(**{**vars(limits), "cpu_seconds": cpu, "wall_seconds": wall})
        handlers = [(first.on_record, first.idle_timeout), (second.on_record, second.idle_timeout)]
        outcomes = self._run(run_request, run_limits, handlers, first.payload, None, second.payload)
        _classify_second(outcomes, second.cpu_seconds)
        return outcomes

    def _run(
        self,
        request: dict,
        limits: Limits,
        handlers: list[tuple[RecordHandler | None, IdleTimeout | None]],
        payload: bytes,
        tests: dict | None,
        then_payload: bytes | None = None,
    ) -> list[RunOutcome]:
        self.ensure_started()
        result_r, result_w = os.pipe()
        status_r, status_w = os.pipe()
        cancel_r, cancel_w = os.pipe()
        tests_fd = _memfd(json.dumps(tests).encode() if tests is not None else b"")
        passed = [result_w, status_w, cancel_r, tests_fd]
        try:
            token = secrets.token_hex(16)
            # vars: the limits are flat numbers, so asdict's deep copy would only cost time
            message = dict(request, limits=vars(limits), token=token, apart=tests is not None)
            try:
                self._send(message, passed, payload, then_payload)
            except OSError:
                # The fork server died (it should not); start a fresh one and try once more.
                self.close()
                self._start()
                self._send(message, passed, payload, then_payload)
        finally:
            for fd in passed:
                os.close(fd)
        try:
            # _follow owns cancel_w (closing it is how a run is cancelled) and closes it once.
            return _follow(result_r, status_r, cancel_w, limits, handlers, token)
        finally:
            os.close(result_r)
            os.close(status_r)

    def _send(self, message: dict, fds: list[int], payload: bytes, then_payload: bytes | None = None) -> None:
        if then_payload is not None:  # named first: the fork server attaches it first (zygote.HeldInputs)
            then, then_sent = self._held.message(message["then"], then_payload)
            message = dict(message, then=dict(then, payload_bytes=len(then_sent)))
        message, payload = self._held.message(message, payload)
        if then_payload is not None:
            payload += then_sent
        send_message(self._sock, message, fds, payload)


def _classify_second(outcomes: list[RunOutcome], cpu_seconds: float) -> None:
    """The second set's CPU time and CPU-limit verdict without the first set's: the supervisor
    counts the sandbox's pid 1 with the child it waited for, against the run's (larger) limit."""
    first, second = outcomes
    second.cpu_seconds = max(second.cpu_seconds - first.cpu_seconds, 0.0)
    if second.exit_code in (-signal.SIGKILL, -signal.SIGXCPU) and second.reason in (None, "killed", _CPU_LIMIT):
        second.reason = _CPU_LIMIT if second.cpu_seconds >= cpu_seconds - 0.05 else "killed"


_CPU_LIMIT = "cpu time limit exceeded"


def inputs_payload(inputs_text: bytes, cpu_limits: list[float] | float) -> bytes:
    """A ``function_io`` request's inputs (wire data, values.encode, as JSON text) and CPU limits (one
    per input, or one for all), as ``Worker.run`` sends them and zygote.HeldInputs reads them. The
    inputs' text is spliced in as it is: encoding them is done once per set, not per payload."""
    return b'{"inputs":' + inputs_text + b',"cpu_limits":' + json.dumps(cpu_limits).encode() + b"}"


class _HeldInputs:
    """Which input sets the fork server holds decoded (zygote.HeldInputs), as the harness decides.

    Each request names its inputs by a key, and sends them only the first time; the oldest sets are
    dropped past HELD_INPUT_SETS or HELD_INPUT_BYTES, and the request that drops them says so, so
    the fork server forgets exactly what is forgotten here.
    """

    def __init__(self) -> None:
        self._keys: OrderedDict[bytes, int] = OrderedDict()  # payload -> key, oldest first
        self._bytes = 0
        self._next_key = 0

    def message(self, message: dict, payload: bytes) -> tuple[dict, bytes]:
        """``message`` with its inputs named (and sent only when not held), and the payload to send."""
        if not payload:
            return message, b""
        key = self._keys.get(payload)
        if key is not None:
            self._keys.move_to_end(payload)
            return {**message, "inputs_key": key}, b""
        key, self._next_key = self._next_key, self._next_key + 1
        self._keys[payload] = key
        self._bytes += len(payload)
        forget = []
        while len(self._keys) > 1 and (len(self._keys) > HELD_INPUT_SETS or self._bytes > HELD_INPUT_BYTES):
            dropped, dropped_key = self._keys.popitem(last=False)
            self._bytes -= len(dropped)
            forget.append(dropped_key)
        return {**message, "inputs_key": key, "forget": forget}, payload


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("evolcoder-tests", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return fd


_decoder = json.JSONDecoder()


def _follow(
    result_r: int,
    status_r: int,
    cancel_w: int,
    limits: Limits,
    handlers: list[tuple[RecordHandler | None, IdleTimeout | None]],
    token: str,
) -> list[RunOutcome]:
    """Read a run's records and hand each to its set's handler; the outcome of each set, in order.

    With two sets (``Worker.run_two_sets``) the second set's batches carry ``"s": 1``, and the first
    set ends with a ``set_end`` record from the sandbox's pid 1. A handler that returns False, or an
    idle timeout, during the first set stops that set alone: one byte on the cancel pipe, which the
    supervisor passes on (zygote._watch). During the last set, they cancel the run (EOF).
    """
    outcomes = [RunOutcome() for _ in handlers]
    run = outcomes[0]  # what concerns the whole run: protections, protocol errors, cancellation
    buffer = bytearray()
    received = 0
    status_data = bytearray()
    cancelled = False
    state = {"set": 0, "first_stopped": False, "first_ended": False}
    started = time.monotonic()
    last_record = started
    hard_deadline = started + limits.wall_seconds + 10.0  # the supervisor should end it first
    watched = [result_r, status_r]
    loads = _decoder.decode
    two_sets = len(handlers) == 2

    def cancel(reason: str) -> None:
        nonlocal cancelled
        if not cancelled:
            cancelled = True
            for outcome in outcomes[state["set"] :]:
                outcome.reason = outcome.reason or reason
            os.close(cancel_w)

    def stop(reason: str) -> None:
        """Stop the set that runs now: the first of two alone, else the run."""
        if two_sets and state["set"] == 0:
            if not state["first_stopped"]:
                state["first_stopped"] = True
                outcomes[0].reason = outcomes[0].reason or reason
                try:
                    os.write(cancel_w, b"s")
                except BrokenPipeError:  # the run is over already: nothing left to stop
                    pass
        else:
            cancel(reason)

    def handle_line(line: bytearray) -> None:
        nonlocal last_record
        last_record = time.monotonic()
        if cancelled:
            return
        try:
            batch = loads(line.decode())  # one line per batch of records (driver._Writer)
            if type(batch) is not dict or type(batch.get("b")) is not list:
                raise ValueError("not a batch of records")
            if batch.get("k") != token:
                raise ValueError("a record without this run's token (written by the program?)")
            records = batch["b"]
            if not all(type(record) is dict for record in records):
                raise ValueError("a record that is not an object")
            input_set = batch.get("s", 0)
            if type(input_set) is not int or not 0 <= input_set < len(handlers):
                raise ValueError("a batch of an input set this run does not have")
        except (ValueError, RecursionError) as exc:
            for outcome in outcomes:
                outcome.protocol_error = f"unreadable record from the sandbox: {exc}"[:300]
            cancel("protocol error")
            return
        on_record = handlers[input_set][0]
        for record in records:
            if "protections" in record:  # each set's process sends its own; the first is the run's
                run.protections = run.protections or record["protections"]
                continue
            if two_sets and input_set == 0 and "set_end" in record and not state["first_ended"]:
                _apply_set_end(outcomes[0], record["set_end"])
                state["first_ended"] = True
                state["set"] = 1
                continue
            if input_set == 0 and state["first_stopped"]:
                continue  # the first set is being stopped: what it still sends is not judged
            if on_record is not None and not on_record(record):
                if input_set < state["set"]:
                    continue  # (a late record of a set that is over already)
                stop("stopped by the harness")
                if cancelled:
                    return

    try:
        while status_r in watched or result_r in watched:
            now = time.monotonic()
            timeout = hard_deadline - now
            idle_timeout = handlers[state["set"]][1]
            waiting_for_end = two_sets and state["set"] == 0 and state["first_stopped"]
            if idle_timeout is not None and not cancelled and not waiting_for_end:
                idle = idle_timeout()
                if idle is not None:
                    timeout = min(timeout, last_record + idle - now)
            if status_r not in watched:
                timeout = min(timeout, 0.2)  # the status is in; take what is left, then stop
            if timeout <= 0:
                if status_r not in watched:
                    break
                if now < hard_deadline and not cancelled:
                    stop("test wall-clock limit exceeded")
                    last_record = now
                    continue
                cancel("harness timeout")
                if now >= hard_deadline + 5:
                    break
                timeout = 1.0
            ready, _, _ = select.select(watched, [], [], timeout)
            if not ready and status_r not in watched:
                break
            if result_r in ready:
                chunk = os.read(result_r, 1 << 20)
                if not chunk:
                    watched.remove(result_r)
                received += len(chunk)
                scanned = len(buffer)  # holds no newline: a line longer than a read is not rescanned
                buffer += chunk
                while (newline := buffer.find(b"\n", scanned)) >= 0:
                    handle_line(buffer[:newline])
                    del buffer[: newline + 1]
                    scanned = 0
                if len(buffer) > MAX_RECORD_BYTES or received > MAX_RESULT_BYTES:
                    for outcome in outcomes:
                        outcome.protocol_error = "the sandbox sent too much data"
                    cancel("protocol error")
                    buffer.clear()
            if status_r in ready:
                chunk = os.read(status_r, 1 << 16)
                status_data += chunk
                if not chunk:
                    watched.remove(status_r)
    finally:
        if not cancelled:
            os.close(cancel_w)
    ended = outcomes[1:] if state["first_ended"] else outcomes  # a first set that never ended: the run's end
    for outcome in ended:
        _apply_status(outcome, bytes(status_data))
    for outcome in outcomes[1:]:
        outcome.protections = run.protections
    return outcomes


def _apply_set_end(outcome: RunOutcome, end: object) -> None:
    """How the first of two sets ended, as the sandbox's pid 1 reports it (zygote._first_set_ended)."""
    end = end if type(end) is dict else {}
    code, cpu = end.get("exit"), end.get("cpu")
    outcome.exit_code = code if type(code) is int else None
    outcome.cpu_seconds = float(cpu) if type(cpu) in (int, float) else 0.0
    if end.get("timeout") is True:
        outcome.reason = outcome.reason or _CPU_LIMIT
    elif code in (-signal.SIGKILL, -signal.SIGXCPU) and end.get("skipped") is not True:
        outcome.reason = outcome.reason or "killed"


def _apply_status(outcome: RunOutcome, data: bytes) -> None:
    try:
        status = json.loads(data)
    except ValueError:
        outcome.reason = outcome.reason or "sandbox supervisor failed"
        return
    outcome.exit_code = status.get("exit")
    outcome.reason = outcome.reason or status.get("reason")
    outcome.cpu_seconds = status.get("cpu", 0.0)
    outcome.wall_seconds = status.get("wall", 0.0)
    outcome.output_head = status.get("output_head", "")


class WorkerPool:
    """``n`` fork servers driven by ``n`` threads; one sandbox per worker at a time."""

    def __init__(
        self,
        n_workers: int | None = None,
        policy: Policy | None = None,
        preload: Iterable[str] = (),
        first_slot: int = 0,
        python: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.n_workers = n_workers or usable_cpus()
        self._make = lambda slot: Worker(first_slot + slot, policy, preload, python, env)
        self._local = threading.local()
        self._workers: list[Worker] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(self.n_workers, thread_name_prefix="sandbox")

    def _worker(self) -> Worker:
        worker = getattr(self._local, "worker", None)
        if worker is None:
            with self._lock:
                worker = self._make(len(self._workers))
                self._workers.append(worker)
            self._local.worker = worker
        return worker

    def start(self) -> None:
        """Start every fork server now, without waiting for them: they boot (≈0.2 s of imports each)
        while the caller prepares the first requests."""
        all_in = threading.Barrier(self.n_workers)  # one start per thread: each waits for the others

        def start_one() -> None:
            try:
                self._worker().ensure_started()  # an error here shows again at this worker's first run
            finally:
                try:
                    all_in.wait(timeout=60)
                except threading.BrokenBarrierError:
                    pass

        for _ in range(self.n_workers):
            self._executor.submit(start_one)

    def imap_unordered(self, fn: Callable[[Worker, Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Apply ``fn(worker, item)`` to every item; yield results as they finish."""
        futures = [self._executor.submit(lambda item=item: fn(self._worker(), item)) for item in items]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

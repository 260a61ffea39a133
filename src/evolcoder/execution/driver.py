"""What runs inside the sandbox: execute a program and report what it did, one JSON line at a time.

Four kinds of request:

- ``function_io``: define the program, call its entry point on each stored input and send back
  each return value as plain data (values.encode). The harness, outside, compares.
- ``check``: HumanEval's own ``check(candidate)`` test function.
- ``asserts``: MBPP's ``assert`` lines, one by one.
- ``script``: run a whole program as ``__main__``.
- ``program``: run a whole test program (DS-1000's); it passes only by reaching its end, so
  ``exit(0)`` halfway fails as an exception does.

For ``check`` and ``asserts`` the comparison has to happen here, so every value the candidate
returns to the test is first rebuilt as plain builtins (``guard_value``): an object that overrides
``__eq__`` cannot make an ``assert`` pass.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import signal
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

from evolcoder.execution import apart, values

# The builtins as they were before any candidate ran: tests resolve names here, so a solution
# that rebinds ``builtins.abs`` (or defines its own ``abs``) cannot change what the test checks.
_PRISTINE_BUILTINS = dict(builtins.__dict__)


# A batch goes out after this many records, or this many seconds after its first record (a timer
# sends it even while the next test runs); the harness allows for the lag when it times a test
# (see judge.idle_timeout).
BATCH_RECORDS = 64
BATCH_SECONDS = 0.005


class _Writer:
    """Writes records to the result pipe with functions captured before untrusted code runs.

    Records go out in batches, one JSON line per batch: ``{"k": token, "b": [record, ...]}``. The
    line carries the run's token, which the harness checks: a program that finds the pipe and
    writes ``{"done": true, "ok": true}`` itself does not know it. Each record is serialized when
    it is queued (a value the program changes later is sent as it was returned). Outputs of
    consecutive inputs travel as one record, ``{"i": first, "os": [output, ...], "cs": [CPU
    seconds, ...]}``, which the harness compares with the expected outputs in one go.

    A queued record does not wait for the next test to end: ``start_timer`` arms a wall-clock timer
    (SIGALRM) with the first record of a batch, whose handler sends the batch (unless the program
    set a handler of its own). So a wrong output reaches the harness, which stops the run, while the
    program is still busy with the next input.
    """

    def __init__(self, fd: int, token: str = "", input_set: int = 0) -> None:
        self._fd = fd
        # The second of two input sets judged in one sandbox (zygote._two_sets) marks its batches.
        self._head = '{"k":' + json.dumps(token) + (',"s":1' if input_set == 1 else "") + ',"b":['
        self._write = os.write
        self._encode = json.JSONEncoder(separators=(",", ":")).encode
        self._pending: list[str | tuple[int, str, float]] = []  # records, and outputs (input, JSON, seconds)
        self._flushing = False
        self._on_alarm: Callable[[int, Any], None] | None = None

    def start_timer(self) -> None:
        """Send each batch at most BATCH_SECONDS after its first record, from a SIGALRM handler.

        Called after the program is defined: if it set a SIGALRM handler of its own, that one
        stays, no timer of ours is armed, and batches wait for the next record as before.
        """
        if signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL:
            return

        def on_alarm(signum: int, frame: Any) -> None:
            # Runs between two bytecodes of whatever runs now (the program, mostly). SIGPROF (the
            # CPU limit) is held back meanwhile: its CpuTimeout must not cut a line in half.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGPROF,))
            try:
                self.flush()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)

        self._on_alarm = on_alarm
        signal.signal(signal.SIGALRM, on_alarm)

    def send(self, record: dict) -> None:
        """Send now (with anything queued before it)."""
        self.queue(record)
        self.flush()

    def queue(self, record: dict) -> None:
        """Send soon: records are written in batches (one line and one pipe write per batch, not per test)."""
        self._queue(self._encode(record))

    def queue_output(self, i: int, output: Any, seconds: float) -> None:
        """Send soon the output (wire data) of input ``i``, in a run with the outputs next to it."""
        to_text = _SCALAR_TEXT.get(type(output), self._encode)
        self._queue((i, to_text(output), seconds))  # one append: an alarm's flush sees all or nothing

    def _queue(self, item: str | tuple[int, str, float]) -> None:
        pending = self._pending
        pending.append(item)
        if len(pending) >= BATCH_RECORDS:
            self.flush()
        elif len(pending) == 1 and self._on_alarm is not None and signal.getsignal(signal.SIGALRM) is self._on_alarm:
            # (only while the handler is still ours: a program that set its own keeps its alarms)
            signal.setitimer(signal.ITIMER_REAL, BATCH_SECONDS)

    def flush(self) -> None:
        """Write what is queued. Safe to re-enter from the alarm handler: the list is emptied in
        place (``queue`` may hold it), and a flush that interrupts another one leaves the batch to it."""
        pending = self._pending
        if self._flushing or not pending:
            return
        self._flushing = True
        try:
            data = (self._head + ",".join(_records(pending)) + "]}\n").encode()
            pending.clear()
            view = memoryview(data)
            while view:
                n = self._write(self._fd, view)
                view = view[n:]
        finally:
            self._flushing = False


# Wire scalars as JSON text, as the encoder writes them, without a call through the encoder per
# output (most outputs are scalars, and the encoder's set-up costs more than their text). A float on
# the wire is finite (values._float_wire) and an int small (values._int_wire).
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    float: float.__repr__,
    str: json.encoder.encode_basestring_ascii,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): lambda _: "null",
}


def _records(pending: list[str | tuple[int, str, float]]) -> Iterator[str]:
    """The queued records as JSON, each run of outputs of consecutive inputs made one record."""
    run: list[tuple[int, str, float]] = []
    for item in pending:
        if run and (type(item) is not tuple or item[0] != run[-1][0] + 1):
            yield _run_record(run)
            run = []
        if type(item) is tuple:
            run.append(item)
        else:
            yield item
    if run:
        yield _run_record(run)


def _run_record(run: list[tuple[int, str, float]]) -> str:
    outputs = ",".join(text for _, text, _ in run)
    seconds = ",".join(repr(spent) for _, _, spent in run)
    return f'{{"i":{run[0][0]},"os":[{outputs}],"cs":[{seconds}]}}'


def send_record(fd: int, record: dict, token: str, input_set: int = 0) -> None:
    _Writer(fd, token, input_set).send(record)


class CpuTimeout(BaseException):
    """Raised by the CPU-time alarm; a BaseException so ``except Exception`` cannot swallow it."""


def _on_cpu_alarm(signum: int, frame: Any) -> None:
    raise CpuTimeout()


@contextlib.contextmanager
def cpu_limit(seconds: float):
    """Interrupt the block after ``seconds`` of CPU time (immune to how busy the machine is)."""
    signal.signal(signal.SIGPROF, _on_cpu_alarm)
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


class _Sink(io.TextIOBase):
    """Swallows what the candidate prints through ``sys.stdout``; refuses to be read."""

    def write(self, s: str) -> int:
        return len(s)

    def readable(self) -> bool:
        return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _solution_line(exc: BaseException) -> int | None:
    """The line of the solution where ``exc`` was raised (its own line for a syntax error), if any.

    Only a description for the reader (the failure's ``line``): the verdict never depends on it.
    """
    if isinstance(exc, SyntaxError) and exc.filename == "<solution>":
        return exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "<solution>":
            return frame.lineno
    return None


def compile_untrusted(source: str, filename: str) -> types.CodeType:
    """Compile as ``python file.py`` would: no compiler flags or ``__future__`` features inherited.

    A bare ``compile`` inherits this module's ``from __future__ import annotations``, under which
    ``def f(xs: List[int])`` without ``from typing import List`` defines fine, where Python running
    the file (and every reference harness) raises NameError.
    """
    return compile(source, filename, "exec", dont_inherit=True)


def _define(code: str, filename: str = "<solution>") -> dict:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile_untrusted(code, filename), namespace)
    return namespace


def run_request(request: dict, result_fd: int) -> None:
    out = _Writer(result_fd, request.pop("token", ""), request.get("set", 0))
    kind = request["kind"]
    sys.stdin = io.StringIO("")
    if kind == "function_io":
        _function_io(request, out)
    elif kind == "check":
        _check(request, request, out, _load_in_process(request["code"]))
    elif kind == "asserts":
        _asserts(request, request, out, _load_in_process(request["code"]))
    elif kind == "script":
        _script(request, out)
    elif kind == "program":
        _program(request, out)
    else:
        out.send({"error": f"unknown request kind {kind!r}"})


def run_tests_apart(request: dict, tests: dict, result_fd: int, candidate: apart.Candidate) -> None:
    """The test process's side of a request judged apart (zygote._tests_apart): the candidate's names
    are references into the other process, and what they return is already plain data."""
    out = _Writer(result_fd, request.pop("token", ""))
    sys.stdin = io.StringIO("")

    def load() -> tuple[dict, Callable[[Any], Any]]:
        return candidate.namespace(), _unchanged

    if request["kind"] == "check":
        _check(request, tests, out, load)
    elif request["kind"] == "asserts":
        _asserts(request, tests, out, load)
    elif request["kind"] == "program":
        candidate.namespace()  # its greeting; it defines nothing of its own, the program's exec runs there
        _program({"code": tests["program"]}, out, run_code=candidate.execute)
    else:
        out.send({"error": f"request kind {request['kind']!r} cannot be judged apart"})


def serve_candidate(request: dict, channel: apart.Channel) -> None:
    """The candidate process's side of a request judged apart: define the code, answer calls."""
    sys.stdin = io.StringIO("")
    sys.stdout = sys.stderr = _Sink()
    _fresh_numpy_draws()
    apart.serve(channel, request["code"], _define, _describe, execute=_execute)


def _execute(code: str, env: dict) -> None:
    exec(compile_untrusted(code, "<program>"), env)


def _describe_failure(exc: BaseException) -> str:
    """A load error from the candidate's process already says what failed there."""
    return str(exc) if isinstance(exc, apart.CandidateLoadError) else _describe(exc)


def _unchanged(fn: Any) -> Any:
    return fn


def _load_in_process(code: str) -> Callable[[], tuple[dict, Callable[[Any], Any]]]:
    return lambda: (_define(code), guard_function)


def _function_io(request: dict, out: _Writer) -> None:
    """The inputs (decoded) and their CPU limits are in the request (the fork server puts them there)."""
    inputs = request["inputs"]
    limits = request["cpu_limits"]
    fail_fast = request.get("fail_fast", True)
    not_none = request.get("output_not_none", False)
    digest_text = request.get("digest_text", False)
    digest_numbers = request.get("digest_numbers", False)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr = _Sink()
    try:
        with cpu_limit(request.get("load_cpu_seconds", 10.0)):
            namespace = _define(request["code"])
        fn = namespace[request["entry_point"]]
    except CpuTimeout:
        out.send({"load_error": "timeout while defining the solution"})
        return
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        out.send({"load_error": _describe(exc), "l": _solution_line(exc)})
        return
    out.send({"ready": True})
    out.start_timer()
    signal.signal(signal.SIGPROF, _on_cpu_alarm)
    setitimer, prof = signal.setitimer, signal.ITIMER_PROF
    per_input = [max(limit, 0.001) for limit in limits] if isinstance(limits, list) else None
    same_limit = max(limits, 0.001) if per_input is None else 0.0
    for i, args in enumerate(inputs):
        limit = per_input[i] if per_input is not None else same_limit
        try:
            try:
                setitimer(prof, limit)
                result = fn(*args)
            finally:
                # What is left of the timer gives the CPU time spent, without extra clock calls.
                remaining = setitimer(prof, 0)[0]
            spent = _spent(limit, remaining)
            if not_none:
                result = result is not None
            out.queue_output(i, values.encode_output(result, digest_text, digest_numbers), spent)
        except CpuTimeout:
            out.send({"i": i, "t": True, "c": limit})
            if fail_fast:
                break
        except BaseException as exc:
            spent = _spent(limit, remaining)
            out.send({"i": i, "e": _describe(exc), "l": _solution_line(exc), "c": spent})
            if fail_fast:
                break
    sys.stdout = real_stdout
    out.send({"done": True})


def _spent(limit: float, remaining: float) -> float:
    """CPU seconds a call took, from what was left of its ``limit`` timer (0: it ran out). The
    kernel rounds the timer up, so what is left can exceed the limit by a tick."""
    return max(limit - remaining, 0.0) if remaining else limit


def guard_value(value: Any) -> Any:
    """Return ``value`` in a form whose equality cannot be faked.

    Objects that compare by identity (generators, map objects, plain classes) pass through: they
    cannot pretend to equal anything. Everything else is rebuilt from plain builtins.
    """
    if _compares_by_identity(type(value)):
        return value
    return values.decode(values.encode(value))


def _compares_by_identity(t: type) -> bool:
    """No class in the real MRO defines ``__eq__``/``__ne__`` (read past any metaclass tricks)."""
    class_dict = type.__dict__["__dict__"].__get__
    for cls in type.__getattribute__(t, "__mro__"):
        if cls is object:
            continue
        own = class_dict(cls)
        if "__eq__" in own or "__ne__" in own:
            return False
    return True


def _test_namespace(namespace: dict, keep: set[str]) -> dict:
    """The tests' globals: the solution's names, minus any that shadow a builtin, and clean builtins."""
    test_namespace = {k: v for k, v in namespace.items() if k in keep or k not in _PRISTINE_BUILTINS}
    test_namespace["__builtins__"] = dict(_PRISTINE_BUILTINS)
    return test_namespace


def guard_function(fn: Any) -> Any:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return guard_value(fn(*args, **kwargs))

    return guarded


def _failing_line(exc: BaseException, filename: str, source: str) -> str | None:
    lines = source.splitlines()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == filename and frame.lineno and frame.lineno <= len(lines):
            return lines[frame.lineno - 1].strip()[:500]
    return None


def _check(request: dict, tests: dict, out: _Writer, load: Callable[[], tuple[dict, Callable]]) -> None:
    sys.stdout = sys.stderr = _Sink()
    test = tests["test"]
    try:
        namespace, guard = load()
        fn = namespace[request["entry_point"]]
        # As in the original harness the test sees the solution's names (helpers like ``poly``).
        test_namespace = _test_namespace(namespace, {request["entry_point"]})
        exec(compile_untrusted(test, "<test>"), test_namespace)
        test_namespace["check"](guard(fn))
    except BaseException as exc:
        message = _describe_failure(exc)
        out.send({"done": True, "ok": False, "e": message, "line": _failing_line(exc, "<test>", test)})
        return
    out.send({"done": True, "ok": True})


def _asserts(request: dict, tests: dict, out: _Writer, load: Callable[[], tuple[dict, Callable]]) -> None:
    sys.stdout = sys.stderr = _Sink()
    try:
        namespace, guard = load()
    except BaseException as exc:
        out.send({"load_error": _describe_failure(exc)})
        return
    # The tests see guarded versions of the candidate's functions; the candidate's own code keeps
    # calling the originals through its namespace.
    guarded_names = request.get("guarded_names", [])
    test_namespace = _test_namespace(namespace, set(guarded_names))
    for name in guarded_names:
        if isinstance(namespace.get(name), types.FunctionType):
            test_namespace[name] = guard(namespace[name])
    fail_fast = request.get("fail_fast", True)
    try:
        if tests.get("setup"):
            exec(compile_untrusted(tests["setup"], "<setup>"), test_namespace)
    except BaseException as exc:
        out.send({"load_error": "test setup failed: " + _describe(exc)})
        return
    out.send({"ready": True})
    for i, line in enumerate(tests["asserts"]):
        try:
            exec(compile_untrusted(line, "<test>"), test_namespace)
            out.send({"i": i, "ok": True})
        except BaseException as exc:
            out.send({"i": i, "ok": False, "e": _describe(exc)})
            if fail_fast:
                break
    out.send({"done": True})


def _script(request: dict, out: _Writer) -> None:
    try:
        _define(request["code"], request.get("filename", "<program>"))
    except SystemExit as exc:
        ok = exc.code in (None, 0)
        out.send({"done": True, "ok": ok, "e": None if ok else f"SystemExit: {exc.code}"})
        return
    except BaseException as exc:
        out.send({"done": True, "ok": False, "e": _describe(exc)})
        return
    out.send({"done": True, "ok": True})


def _fresh_numpy_draws() -> None:
    """A forked sandbox inherits the fork server's NumPy random state: every run would draw the same
    numbers, where a fresh interpreter (the official way) starts from fresh entropy."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _program(request: dict, out: _Writer, run_code: Callable[[str, dict], None] | None = None) -> None:
    """A whole test program, which passes by running to its end. ``run_code``: where its
    ``exec(code, test_env)`` runs (the candidate's process, when judged apart)."""
    _fresh_numpy_draws()
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    if run_code is not None:
        namespace["exec"] = run_code
    try:
        exec(compile_untrusted(request["code"], "<program>"), namespace)
    except SystemExit as exc:
        out.send({"done": True, "ok": False, "e": f"the program exited before its end (SystemExit: {exc.code})"})
        return
    except BaseException as exc:
        line = _failing_line(exc, "<program>", request["code"])
        out.send({"done": True, "ok": False, "e": _describe(exc), "line": line})
        return
    out.send({"done": True, "ok": True})

"""Judge one solution of one task in the sandbox: a status and the failing tests per test set."""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evolcoder.bench.base import Task
from evolcoder.bench.compare import Comparator, is_floats
from evolcoder.eval import failures
from evolcoder.execution.driver import BATCH_RECORDS, BATCH_SECONDS
from evolcoder.execution.isolation import Limits
from evolcoder.execution.values import (
    Digest,
    WireError,
    decode,
    digest_wire,
    encode,
    encode_output,
    travels_as_is,
)
from evolcoder.execution.worker import RunOutcome, SetCall, Worker, inputs_payload
from evolcoder.records import FAIL, PASS, TIMEOUT, Failure  # the verdict statuses, shared with their readers


@dataclass(frozen=True)
class TimeLimits:
    """How long a solution may take.

    Per input (EvalPlus's rule): max(``min_seconds``, ``factor`` x the reference's time on that
    input), but counted in CPU seconds of the sandbox, so a busy machine cannot turn a correct
    solution into a timeout. A wall-clock bound (``wall_factor`` x that, plus ``wall_slack``)
    still catches programs that sleep or block.
    """

    min_seconds: float = 1.0
    factor: float = 4.0
    per_task_seconds: float = 60.0  # cap on the sum over a test set, as EvalPlus's per-task cap
    load_seconds: float = 10.0  # defining the solution (module-level code)
    wall_factor: float = 4.0
    wall_slack: float = 2.0
    script_seconds: float = 10.0  # HumanEval check / MBPP asserts: CPU seconds for the whole test

    def per_input(self, reference_seconds: list[float]) -> list[float]:
        return [max(self.min_seconds, self.factor * t) for t in reference_seconds]


@dataclass
class SetVerdict:
    """The verdict on one test set (base or plus)."""

    status: str
    failed: list[int] = field(default_factory=list)  # indices of failing tests
    reason: str | None = None
    details: list[bool] | None = None
    failure: Failure | None = None  # why, for the reader: the first failing test (None when passed)


class InputPayloads:
    """Each task's stored inputs and their CPU limits as a ``function_io`` payload, encoded once.

    One instance per judge: a task's set gets the same limits every time (they follow from the
    reference's times), so the payload and the limits are cached by task and set alone.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], bytes] = {}
        self._limits: dict[tuple[str, str], list[float]] = {}

    def get(
        self, task: Task, input_set: str, cpu_limits: list[float] | float, inputs_text: bytes | None = None
    ) -> bytes:
        """``inputs_text``: the inputs as ``inputs_json`` gives them, when cached already (Expected)."""
        key = (task.task_id, input_set)
        data = self._cache.get(key)
        if data is None:
            text = inputs_text if inputs_text is not None else inputs_json(task, input_set)
            data = self._cache[key] = inputs_payload(text, cpu_limits)
        return data

    def per_input(self, task: Task, input_set: str, expected: Expected, times: TimeLimits) -> list[float]:
        """``times.per_input`` of the reference's seconds on this set (the same for every sample)."""
        key = (task.task_id, input_set)
        limits = self._limits.get(key)
        if limits is None:
            limits = self._limits[key] = times.per_input(expected.seconds)
        return limits


def inputs_json(task: Task, input_set: str) -> bytes:
    """A set's stored inputs as the sandbox receives them: wire data (values.encode) as JSON."""
    inputs = task.base_inputs if input_set == "base" else task.plus_inputs
    return json.dumps(encode(inputs)).encode()


PREPARED_VERSION = 2  # bump when Expected.prepare derives otherwise: derivations cached before are redone
# 2: long lists of numbers and huge outputs (Digests) have their digest as wire


@dataclass
class Expected:
    """The reference solution's outputs and CPU seconds on one test set, and what judging derives
    from the outputs (``prepare``): done once and cached with them (eval.groundtruth), not per eval."""

    outputs: list[Any]
    seconds: list[float]
    wire: list[Any] | None = None  # expected_wire(self)
    floats_at: list[int] | None = None  # the outputs that switch a tolerance on (compare.is_floats), in order
    inputs_text: bytes | None = None  # inputs_json of the set (from the task, not the outputs; cached alike)

    def prepare(self) -> Expected:
        """Derive ``floats_at`` and ``wire`` where they are not there yet; returns self."""
        if self.floats_at is None:
            self.floats_at = _float_outputs(self.outputs)
        if self.wire is None:
            self.wire = expected_wire(self)
        return self

    def any_floats(self, first: int, end: int) -> bool:
        """Whether an output in ``[first, end)`` is a float (or floats); needs ``prepare``."""
        floats_at = self.floats_at or []
        at = bisect_left(floats_at, first)
        return at < len(floats_at) and floats_at[at] < end


def expected_wire(expected: Expected) -> list[Any]:
    """Each expected output as wire data W such that an output whose wire data equals W (``==``, as
    parsed from the sandbox's record) decodes to a value equal to it: it matches without decoding,
    where the comparator decides by equality (``Comparator.equality_decides``).

    Only plain W qualify (None, bools, ints, strings, finite floats, lists and tuples of them, at
    any depth): wire data equal to such a W has its shape and decodes to a value equal to
    ``decode(W)``, which equals the expected output (checked here; a NaN, an opaque value or a
    digest never does). Other outputs get None and are decoded and compared as before.

    A long str or bytes is the exception: W is its digest, as the sandbox sends an equally long
    output (``values.encode_output(..., digest_text=True)``); an output with the same digest is
    the same text. So is a long list or tuple of numbers in a set with no float outputs (the sandbox
    sends the digest where no tolerance can apply: ``digest_numbers``), and an output the reference
    sent as a digest (huge).
    """
    numbers = not (_float_outputs(expected.outputs) if expected.floats_at is None else expected.floats_at)
    wires = []
    for output in expected.outputs:
        wire: Any = _NO_WIRE
        try:
            if type(output) is Digest:
                wires.append(digest_wire(output))
                continue
            if type(output) in _DIGESTIBLE:
                digested = encode_output(output, digest_text=True, digest_numbers=numbers)
                if isinstance(decode(digested), Digest):
                    wires.append(digested)
                    continue
            if (type(output) is not list or len(output) >= _LONG_LIST) and travels_as_is(output):
                wire = output
            else:
                candidate = encode(output)
                if _plain(candidate, 0) and decode(candidate) == output:
                    wire = candidate
        except (WireError, TypeError, ValueError, RecursionError):
            wire = _NO_WIRE
        wires.append(wire)
    return wires


_DIGESTIBLE = (str, bytes, list, tuple)


def _float_outputs(outputs: list[Any]) -> list[int]:
    """Which outputs switch a tolerance on (``compare.is_floats``), in order."""
    return [i for i, output in enumerate(outputs) if is_floats(output)]


class _NoWire:
    """The wire of an output that must be decoded and compared (None is a plain output's wire).
    Pickled by name, so a cached wire list (eval.groundtruth) holds this very object again."""

    def __reduce__(self) -> str:
        return "_NO_WIRE"


_NO_WIRE = _NoWire()
_LONG_LIST = 64  # a shorter list is checked item by item (quicker than a JSON round trip)


def _plain(wire: Any, depth: int) -> bool:
    t = type(wire)
    if wire is None or t is bool or t is int or t is str:
        return True
    if t is float:
        return wire - wire == 0.0  # finite
    if depth > 200:
        return False
    if t is dict:
        if len(wire) != 1 or type(wire.get("t")) is not list:
            return False
        wire = wire["t"]
    elif t is not list:
        return False
    return all(_plain(item, depth + 1) for item in wire)


def _script_limits(limits: Limits, times: TimeLimits) -> Limits:
    cpu = times.script_seconds + times.load_seconds
    return Limits(**{**limits.__dict__, "cpu_seconds": cpu, "wall_seconds": cpu * times.wall_factor + 5})


def _status_from_outcome(outcome: RunOutcome) -> tuple[str, str]:
    reason = (
        outcome.protocol_error or outcome.reason or f"exited with code {outcome.exit_code} before the tests finished"
    )
    if outcome.reason in ("cpu time limit exceeded", "wall time limit exceeded", "test wall-clock limit exceeded"):
        return TIMEOUT, reason
    return FAIL, reason


def _ended(outcome: RunOutcome, failed: list[int], limit_s: float, details: list[bool] | None = None) -> SetVerdict:
    """The verdict when the sandbox ended the run before the tests finished."""
    status, reason = _status_from_outcome(outcome)
    failure = failures.from_outcome(reason, limit_s)
    return SetVerdict(status, failed=failed, reason=reason, details=details, failure=failure)


def _timed_out(records: list[dict]) -> bool:
    """The candidate process of a request judged apart ran out of CPU time."""
    return any((r.get("candidate_ended") or {}).get("timeout") is True for r in records)


def judge_check(
    worker: Worker, task: Task, solution: str, limits: Limits, times: TimeLimits, apart: bool = True
) -> SetVerdict:
    """HumanEval: the task's own ``check(candidate)``, with unforgeable return values.

    ``apart``: the test runs in a process of its own (execution.apart); otherwise beside the
    candidate, with guarded return values (for tasks whose values cannot cross, eval.placement).
    """
    records: list[dict] = []

    def on_record(record: dict) -> bool:
        records.append(record)
        return True

    request = {"kind": "check", "code": solution, "entry_point": task.entry_point}
    tests = {"test": task.test}
    if apart:
        outcome = worker.run(request, _script_limits(limits, times), on_record, tests=tests)
    else:
        outcome = worker.run({**request, **tests}, _script_limits(limits, times), on_record)
    done = [r for r in records if r.get("done")]
    if _timed_out(records):
        failure = failures.timed_out(times.script_seconds)
        return SetVerdict(TIMEOUT, failed=[0], reason="cpu time limit exceeded", failure=failure)
    if done and done[0].get("ok") is True:
        return SetVerdict(PASS)
    if done:
        error, line = done[0].get("e") or "AssertionError", done[0].get("line")
        failure = failures.from_error(error, asserts_test=True, input=_text(line), solution=solution)
        return SetVerdict(FAIL, failed=[0], reason=done[0].get("e") or "test failed", failure=failure)
    return _ended(outcome, [0], times.script_seconds)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def judge_asserts(
    worker: Worker,
    task: Task,
    solution: str,
    limits: Limits,
    times: TimeLimits,
    fail_fast: bool,
    guarded: list[str],
    apart: bool = True,
) -> SetVerdict:
    """MBPP: each assert line in turn, in a process apart from the candidate's (see judge_check)."""
    passed: dict[int, bool] = {}
    state: dict[str, Any] = {}
    records: list[dict] = []

    def on_record(record: dict) -> bool:
        i = record.get("i")
        if isinstance(i, int) and not isinstance(i, bool):
            passed[i] = record.get("ok") is True
            if not passed[i] and "reason" not in state:
                state["reason"] = record.get("e")
                test = task.asserts[i] if 0 <= i < len(task.asserts) else None
                state["failure"] = failures.from_error(
                    _text(record.get("e")), asserts_test=True, test=i, input=test, solution=solution
                )
        elif "load_error" in record:
            state["reason"] = record["load_error"]
            state["failure"] = failures.from_error(
                _text(record["load_error"]), asserts_test=False, defining=True, solution=solution
            )
        elif record.get("done"):
            state["done"] = True
        elif "candidate_ended" in record:
            records.append(record)
        return True

    request = {"kind": "asserts", "code": solution, "guarded_names": guarded, "fail_fast": fail_fast}
    tests = {"setup": task.setup, "asserts": list(task.asserts)}
    if apart:
        outcome = worker.run(request, _script_limits(limits, times), on_record, tests=tests)
    else:
        outcome = worker.run({**request, **tests}, _script_limits(limits, times), on_record)
    n = len(task.asserts)
    details = [passed.get(i, False) for i in range(n)]
    failed = [i for i in range(n) if not details[i]]
    if _timed_out(records):
        failure = failures.timed_out(times.script_seconds, test=failed[0] if failed else None)
        return SetVerdict(TIMEOUT, failed=failed, reason="cpu time limit exceeded", details=details, failure=failure)
    if state.get("done") and not failed:
        return SetVerdict(PASS, details=details)
    if state.get("done") or "reason" in state:
        failure = state.get("failure") or failures.from_error(None, asserts_test=True)
        return SetVerdict(FAIL, failed=failed, reason=state.get("reason"), details=details, failure=failure)
    return _ended(outcome, failed, times.script_seconds, details)


def judge_io(
    worker: Worker,
    task: Task,
    dataset: str,
    solution: str,
    input_set: str,
    expected: Expected,
    payloads: InputPayloads,
    limits: Limits,
    times: TimeLimits,
    fail_fast: bool,
) -> SetVerdict:
    """EvalPlus-style differential testing on one input set, compared here as records arrive."""
    judging = _judging(task, dataset, solution, input_set, expected, payloads, times, fail_fast)
    run_limits = Limits(**{**limits.__dict__, "cpu_seconds": judging.cpu_seconds, "wall_seconds": judging.wall_seconds})
    request = _io_request(task, solution, fail_fast, times, judging.digest_text, judging.digest_numbers)
    outcome = worker.run(request, run_limits, judging.on_record, judging.idle_timeout, judging.payload)
    return judging.verdict(outcome)


def judge_io_sets(
    worker: Worker,
    task: Task,
    dataset: str,
    solution: str,
    expected: dict[str, Expected],
    payloads: InputPayloads,
    limits: Limits,
    times: TimeLimits,
    fail_fast: bool,
) -> tuple[SetVerdict, SetVerdict]:
    """``judge_io`` on the base and the plus set, in one sandbox (Worker.run_two_sets): each set in a
    fresh process under its own limits, as two runs would judge them, for one set-up of the isolation.
    A failure stops its own set only (fail fast): the plus set is judged whatever the base set did."""
    sets = [_judging(task, dataset, solution, s, expected[s], payloads, times, fail_fast) for s in ("base", "plus")]
    calls = [SetCall(j.payload, j.cpu_seconds, j.wall_seconds, j.on_record, j.idle_timeout) for j in sets]
    digest_numbers = all(j.digest_numbers for j in sets)  # (one request for both sets)
    request = _io_request(task, solution, fail_fast, times, sets[0].digest_text, digest_numbers)
    outcomes = worker.run_two_sets(request, limits, *calls)
    return sets[0].verdict(outcomes[0]), sets[1].verdict(outcomes[1])


def _io_request(
    task: Task, solution: str, fail_fast: bool, times: TimeLimits, digest_text: bool, digest_numbers: bool
) -> dict:
    return {
        "kind": "function_io",
        "code": solution,
        "entry_point": task.entry_point,
        "fail_fast": fail_fast,
        "load_cpu_seconds": times.load_seconds,
        "digest_text": digest_text,  # a special oracle needs the whole text
        "digest_numbers": digest_numbers,  # and a tolerance the whole numbers
    }


@dataclass
class _SetJudging:
    """One input set of a ``function_io`` request being judged: what the run needs, and the verdict."""

    payload: bytes
    cpu_seconds: float
    wall_seconds: float
    digest_text: bool
    digest_numbers: bool
    on_record: Callable[[dict], bool]
    idle_timeout: Callable[[], float]
    verdict: Callable[[RunOutcome], SetVerdict]


def _judging(
    task: Task,
    dataset: str,
    solution: str,
    input_set: str,
    expected: Expected,
    payloads: InputPayloads,
    times: TimeLimits,
    fail_fast: bool,
) -> _SetJudging:
    inputs = task.base_inputs if input_set == "base" else task.plus_inputs
    n = len(inputs)
    per_input = payloads.per_input(task, input_set, expected, times)
    comparator = Comparator(dataset, task.entry_point, task.atol)
    expected.prepare()
    wire = expected.wire if comparator.equality_decides else [_NO_WIRE] * n
    results: list[bool | None] = [None] * n
    state: dict[str, Any] = {"next": 0, "ready": False}

    def note(failure: Failure) -> None:
        state.setdefault("failure", failure)  # the first failing test is the one shown

    def judged(i: int, output: Any) -> bool:
        """Whether the output (wire data) of input ``i`` matches; notes the first failure."""
        actual: Any = _UNREADABLE
        try:
            equal = wire[i]
            if equal is not _NO_WIRE and output == equal:  # equal on the wire: see expected_wire
                ok = comparator.matched_equal(expected.outputs[i])
            else:
                actual = decode(output)
                ok = comparator.matches(inputs[i], actual, expected.outputs[i])
        except (WireError, TypeError, ValueError, RecursionError):
            ok = False
        if not ok:
            state.setdefault("reason", f"wrong output on test {i}")
            if "failure" not in state:
                note(failures.wrong_output(i, _call(task, inputs[i]), expected.outputs[i], actual))
        return ok

    def on_outputs(first: Any, outputs: Any) -> bool:
        """A run of outputs of consecutive inputs from ``first`` on (driver._Writer.queue_output)."""
        well_formed = type(first) is int and type(outputs) is list and 0 <= first < first + len(outputs) <= n
        end = first + len(outputs) if well_formed else 0
        if not well_formed or results[first:end].count(None) != end - first:
            state["reason"] = "malformed record from the sandbox"
            return False
        if outputs == wire[first:end]:  # all equal on the wire (no _NO_WIRE equals wire data)
            results[first:end] = [True] * (end - first)
            state["next"] = end
            return comparator.matched_all_equal(expected.any_floats(first, end))
        for i, output in enumerate(outputs, first):
            results[i] = ok = judged(i, output)
            state["next"] = i + 1
            if not ok and fail_fast:
                return False
        return True

    def on_record(record: dict) -> bool:
        if "os" in record:
            return on_outputs(record.get("i"), record["os"])
        if "load_error" in record:
            state["reason"] = record["load_error"]
            note(_load_failure(record, solution, times.load_seconds))
            return False
        if record.get("ready"):
            state["ready"] = True
            return True
        if record.get("done"):
            state["done"] = True
            return True
        i = record.get("i")
        if not isinstance(i, int) or not 0 <= i < n or results[i] is not None:
            state["reason"] = "malformed record from the sandbox"
            return False
        if record.get("t"):
            state.setdefault("reason", f"time limit exceeded on test {i}")
            if "failure" not in state:
                note(failures.timed_out(per_input[i], test=i, input=_call(task, inputs[i])))
        else:
            state.setdefault("reason", f"test {i}: {record.get('e')}")
            if "failure" not in state:
                error = _text(record.get("e"))
                line, call = record.get("l"), _call(task, inputs[i])
                note(failures.from_error(error, asserts_test=False, test=i, input=call, line=line, solution=solution))
        results[i] = False
        state["next"] = i + 1
        return not fail_fast

    def idle_timeout() -> float:
        if not state["ready"]:
            return times.load_seconds * times.wall_factor + times.wall_slack
        if not n:
            return times.wall_slack
        # Records arrive in batches (driver.BATCH_RECORDS), so the test running now may be a
        # batch ahead of the last one received: allow the slowest of the next batches.
        window = per_input[state["next"] : state["next"] + 2 * BATCH_RECORDS] or per_input[-1:]
        return max(window) * times.wall_factor + times.wall_slack + BATCH_SECONDS

    def verdict(outcome: RunOutcome) -> SetVerdict:
        return _io_verdict(outcome, results, state, per_input, times)

    cpu_budget = min(times.per_task_seconds, sum(per_input)) + times.load_seconds + 1
    payload = payloads.get(task, input_set, per_input, expected.inputs_text)  # the inputs and their CPU limits
    wall = cpu_budget * times.wall_factor + 10
    exact = comparator.equality_decides
    digest_numbers = exact and comparator.atol == 0 and not expected.floats_at  # no tolerance can switch on
    return _SetJudging(payload, cpu_budget, wall, exact, digest_numbers, on_record, idle_timeout, verdict)


def _io_verdict(
    outcome: RunOutcome,
    results: list[bool | None],
    state: dict[str, Any],
    per_input: list[float],
    times: TimeLimits,
) -> SetVerdict:
    n = len(results)
    details = [bool(r) for r in results]
    failed = [i for i, r in enumerate(results) if r is False]
    if state.get("done") and all(r is True for r in results):
        return SetVerdict(PASS, details=details)
    if failed or "reason" in state:
        if not failed and n:
            failed = [state["next"]] if state["next"] < n else []
        failure = state.get("failure") or failures.from_error(state.get("reason"), asserts_test=False)
        return SetVerdict(FAIL, failed=failed, reason=state.get("reason"), details=details, failure=failure)
    first_missing = next((i for i, r in enumerate(results) if r is None), None)
    missing = [] if first_missing is None else [first_missing]
    limit = per_input[first_missing] if first_missing is not None else times.load_seconds
    return _ended(outcome, missing, limit, details)


_UNREADABLE = failures.Unreadable()


def _call(task: Task, args: Any) -> str:
    """A test input as the call a reader would type: ``f(1, [2, 3])``."""
    if not isinstance(args, list | tuple):
        return failures.shown(args)
    return failures.cut(f"{task.entry_point}({', '.join(failures.shown(a) for a in args)})") or ""


def _load_failure(record: dict, solution: str, load_seconds: float) -> Failure:
    error = _text(record.get("load_error"))
    if error == "timeout while defining the solution":
        return failures.timed_out(load_seconds)
    return failures.from_error(error, asserts_test=False, defining=True, line=record.get("l"), solution=solution)


def judge_program(worker: Worker, program: str, limits: Limits, apart: bool = True) -> SetVerdict:
    """DS-1000: a whole test program, which passes only by running to its end.

    ``apart``: the program runs in the test process and only its ``exec`` of the candidate's code
    runs in the candidate's (execution.apart); otherwise all of it runs beside the candidate.
    """
    records: list[dict] = []

    def on_record(record: dict) -> bool:
        records.append(record)
        return True

    if apart:
        outcome = worker.run({"kind": "program", "code": ""}, limits, on_record, tests={"program": program})
    else:
        outcome = worker.run({"kind": "program", "code": program}, limits, on_record)
    done = [r for r in records if r.get("done")]
    if _timed_out(records):
        failure = failures.timed_out(limits.cpu_seconds)
        return SetVerdict(TIMEOUT, failed=[0], reason="cpu time limit exceeded", failure=failure)
    if done and done[0].get("ok") is True and outcome.exit_code == 0:
        return SetVerdict(PASS)
    if done and done[0].get("ok") is not True:
        line = done[0].get("line")
        reason = done[0].get("e") or "test failed"
        failure = failures.from_error(_text(done[0].get("e")) or "AssertionError", asserts_test=True, input=_text(line))
        return SetVerdict(FAIL, failed=[0], reason=f"{reason} (at: {line})" if line else reason, failure=failure)
    return _ended(outcome, [0], limits.cpu_seconds)

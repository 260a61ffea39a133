"""Why a test set failed, in the words a reader would use: a :class:`~evolcoder.records.Failure`.

The judge knows the first failing test and what the sandbox said about it; this module turns that
into one record: its kind (syntax error, name/import error, another exception by type, wrong
output, timeout, memory, blocked by the sandbox), the failing input, expected and actual output
(each as ``repr``, cut to ``FAILURE_TEXT_CHARS``), or the exception with the solution's line. The
record only describes a verdict the judge has already reached: nothing in it decides one, so text
a candidate could have put into an error message can never change its own status.
"""

from __future__ import annotations

import re
import reprlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

from evolcoder.execution.isolation import BLOCKED_EVENTS
from evolcoder.records import (
    BLOCKED,
    EXCEPTION,
    FAILURE_KINDS,
    FAILURE_TEXT_CHARS,
    MEMORY,
    NAME_ERROR,
    SYNTAX_ERROR,
    TIMEOUT_KIND,
    WRONG_OUTPUT,
    Failure,
)

_SYNTAX = ("SyntaxError", "IndentationError", "TabError")
_NAMES = ("NameError", "UnboundLocalError", "ImportError", "ModuleNotFoundError")
_TIMEOUTS = ("cpu time limit exceeded", "wall time limit exceeded", "test wall-clock limit exceeded")
_BLOCKED_MESSAGES = frozenset(BLOCKED_EVENTS.values()) | {"[Errno 1] Operation not permitted"}
_SYNTAX_LINE = re.compile(r"\(<solution>, line (\d+)\)")


class _Shortened(reprlib.Repr):
    """``repr`` that stops early in huge values (a million-item list is not printed whole to be cut)."""

    def __init__(self) -> None:
        super().__init__()  # keyword arguments only from Python 3.12
        self.maxlevel = 6
        self.maxtuple = self.maxlist = self.maxarray = 40
        self.maxdict = self.maxset = self.maxfrozenset = self.maxdeque = 20
        self.maxstring = self.maxlong = self.maxother = FAILURE_TEXT_CHARS


_REPR = _Shortened()


class Unreadable:
    """Stands for an output the sandbox sent that could not be decoded (it never equals anything)."""

    def __repr__(self) -> str:
        return "<an output that could not be read back>"


def cut(text: str | None, limit: int = FAILURE_TEXT_CHARS) -> str | None:
    """``text`` cut to ``limit`` characters, with "…" where something was left out."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def shown(value: Any) -> str:
    """A value as a reader would type it (``repr``), cut; a value whose repr fails says so."""
    try:
        return cut(_REPR.repr(value)) or ""
    except Exception as exc:  # a repr that raises (or recurses) still leaves a readable cell
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def split_error(text: str | None) -> tuple[str | None, str]:
    """``"ValueError: bad"`` → ``("ValueError", "bad")``; text that names no type → ``(None, text)``."""
    text = text or ""
    head, sep, rest = text.partition(": ")
    if sep and head.isidentifier():
        return head, rest
    return (text, "") if text.isidentifier() else (None, text)


def kind_of(exception: str | None, message: str, *, asserts_test: bool) -> str:
    """The failure kind of an exception. ``asserts_test``: an AssertionError is the test's own
    assert failing (HumanEval's check, MBPP's asserts, DS-1000's programs): a wrong answer."""
    if exception in _SYNTAX:
        return SYNTAX_ERROR
    if exception in _NAMES:
        return NAME_ERROR
    if exception == "MemoryError":
        return MEMORY
    if exception == "PermissionError" and message in _BLOCKED_MESSAGES:
        return BLOCKED
    if exception == "AssertionError" and asserts_test:
        return WRONG_OUTPUT
    return EXCEPTION


def from_error(
    text: str | None,
    *,
    asserts_test: bool,
    defining: bool = False,
    test: int | None = None,
    input: str | None = None,
    line: Any = None,
    solution: str = "",
) -> Failure:
    """A failure from the sandbox's ``"Type: message"`` text, with the solution's line if known."""
    exception, message = split_error(text)
    kind = kind_of(exception, message, asserts_test=asserts_test)
    if kind == WRONG_OUTPUT and not message:
        message = "the test's assert failed"
    number = line if isinstance(line, int) and not isinstance(line, bool) else None
    if number is None and kind == SYNTAX_ERROR and (found := _SYNTAX_LINE.search(message)):
        number, defining = int(found.group(1)), True
    lines = solution.splitlines()
    source = lines[number - 1].strip() if number is not None and 0 < number <= len(lines) else None
    return Failure(
        kind=kind,
        message=cut(f"{exception}: {message}" if exception and message else (exception or message)) or "",
        exception=exception,
        defining=defining,
        test=test,
        input=cut(input),
        line=number if source is not None else None,
        source=cut(source),
    )


def wrong_output(test: int, input: str, expected: Any, actual: Any) -> Failure:
    """``input``: the test as text already (a call); ``expected`` and ``actual``: values, shown here."""
    return Failure(
        kind=WRONG_OUTPUT,
        message=f"wrong output on test {test}",
        test=test,
        input=cut(input),
        expected=shown(expected),
        actual=shown(actual),
    )


def timed_out(limit_s: float | None, *, test: int | None = None, input: str | None = None) -> Failure:
    limit = f" ({limit_s:g} s of CPU)" if limit_s is not None else ""
    return Failure(kind=TIMEOUT_KIND, message=f"time limit exceeded{limit}", test=test, input=input, limit_s=limit_s)


def from_outcome(reason: str, limit_s: float | None) -> Failure:
    """The sandbox ended the run (limits, output flood, a crash) before the tests said anything."""
    if reason in _TIMEOUTS:
        return timed_out(limit_s)
    if reason == "output limit exceeded":
        return Failure(kind=BLOCKED, message="the sandbox stopped it: output limit exceeded")
    if "MemoryError" in reason or "memory" in reason:
        return Failure(kind=MEMORY, message=cut(reason) or "")
    return Failure(kind=EXCEPTION, message=cut(reason) or "", exception=None)


def label(failure: dict | None) -> str | None:
    """How the breakdown names a failure: its kind, and for other exceptions their type."""
    if not failure:
        return None
    kind = failure.get("kind")
    if kind == EXCEPTION and failure.get("exception"):
        return f"{EXCEPTION}: {failure['exception']}"
    return str(kind)


def breakdown(failures: Iterable[dict | None]) -> dict[str, int]:
    """Failures counted by label, kinds in FAILURE_KINDS order, then the exception types by count."""
    counts = Counter(name for name in map(label, failures) if name is not None)
    order = {kind: i for i, kind in enumerate(FAILURE_KINDS)}

    def rank(name: str) -> tuple[int, int, str]:
        kind = name.split(":")[0]
        return (order.get(kind, len(order)), -counts[name], name)

    return {name: counts[name] for name in sorted(counts, key=rank)}

"""Execution-verified evolution (``evolve --verify tests``): the teacher writes tests, the sandbox runs them.

For each kept rewrite the teacher is asked for ``assert`` tests of the task, given only the names and
signatures of the functions its answer defines, not their bodies: the tests are meant to say what
the task asks for, not to restate what the code does. The sandbox runs the answer's Python blocks
followed by the tests (``program`` requests: they pass only by running to their end, so an
``exit(0)`` halfway fails). A failing answer is asked for again, sampled with another seed, up to
``--verify-attempts`` times; an item whose tries all fail is eliminated with the outcome its best try
reached (``RANK``) and goes back to the pool.

A test set is rejected (``tests_cannot_fail``) when it

* has fewer than ``--verify-min-asserts`` ``assert`` statements (one in a ``for`` loop over a literal
  list counts once per item): one assert checks one case, and a wrong answer right on a single case
  is common;
* never names a function or class the answer defines: it cannot be testing the answer;
* still passes when every answer name it uses is replaced by a stub that returns None (an object
  whose methods return None, for a class), or by one that raises: tests that check nothing, that
  only print, or that swallow exceptions. These stubs are the cheapest wrong answers; each costs one
  more sandboxed run, made only for answers that passed.

The tests are cleaned before they run: a definition of an answer name in the tests (a teacher that
repeats its solution before the asserts) is dropped so the answer is what they test, and so is an
``from some_module import f`` of answer names, which names a module that does not exist.
"""

from __future__ import annotations

import ast
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evolcoder.evol.filters import python_blocks
from evolcoder.records import (
    FAILED_OWN_TESTS,
    NO_FUNCTION_TO_TEST,
    PASSED,
    TESTS_CANNOT_FAIL,
    TESTS_DO_NOT_PARSE,
)

VERIFY_CHOICES = ("none", "run", "tests")
# How far a try got, worst first: an eliminated item takes the outcome of its furthest try.
RANK = (NO_FUNCTION_TO_TEST, TESTS_DO_NOT_PARSE, TESTS_CANNOT_FAIL, FAILED_OWN_TESTS)
CPU_SECONDS = 5.0  # per sandboxed run of answer + tests
MEMORY_BYTES = 2 << 30

TESTS_PROMPT = """Write unit tests for a solution of this programming task.

Task:
{instruction}

The solution defines:
{signatures}

Write at least {min_asserts} `assert` statements that call {names} with concrete inputs and compare \
the result with the exact output the task asks for; cover ordinary cases and edge cases. Reply with \
one ```python block holding only the asserts and the imports they need. Do not write the solution."""


def answer_code(answer: str) -> str:
    """The answer's Python: its Python blocks, joined as one program."""
    return "\n\n".join(python_blocks(answer))


def _parse(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def defined_names(code: str) -> list[str]:
    """Top-level functions and classes of the answer, in order (public ones, or all if none is)."""
    tree = _parse(code)
    if tree is None:
        return []
    names = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name != "main"
    ]
    public = [name for name in names if not name.startswith("_")]
    return list(dict.fromkeys(public or names))


def signatures(code: str, names: Sequence[str]) -> str:
    """``def f(a, b=1)`` / ``class C`` lines of the named definitions (their bodies left out)."""
    tree = _parse(code)
    lines = []
    for node in tree.body if tree is not None else []:
        if getattr(node, "name", None) not in names:
            continue
        if isinstance(node, ast.ClassDef):
            methods = [f"    def {m.name}({ast.unparse(m.args)})" for m in node.body if isinstance(m, ast.FunctionDef)]
            lines += [f"class {node.name}:", *methods]
        else:
            returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
            lines.append(f"def {node.name}({ast.unparse(node.args)}){returns}")
    return "\n".join(lines)


def tests_prompt(instruction: str, code: str, names: Sequence[str], min_asserts: int) -> str:
    return TESTS_PROMPT.format(
        instruction=instruction.strip(),
        signatures=signatures(code, names),
        min_asserts=min_asserts,
        names=", ".join(f"`{n}`" for n in names),
    )


def extract_tests(reply: str, names: Sequence[str]) -> str:
    """The tests from the teacher's reply, without redefinitions or imports of the answer's names."""
    blocks = python_blocks(reply)
    source = "\n\n".join(blocks) if blocks else _strip_fences(reply)
    tree = _parse(source)
    if tree is None:
        return source.strip()
    drop = [node for node in tree.body if _shadows(node, names)]
    lines = source.splitlines()
    for node in reversed(drop):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        del lines[first - 1 : node.end_lineno]
    return "\n".join(lines).strip()


def _strip_fences(text: str) -> str:
    return re.sub(r"^[ \t]*```[^\n]*$", "", text, flags=re.MULTILINE)


def _shadows(node: ast.stmt, names: Sequence[str]) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name in names
    if isinstance(node, ast.ImportFrom):
        return all(alias.name in names for alias in node.names)
    return False


def static_check(tests: str, names: Sequence[str], min_asserts: int) -> tuple[str, str] | None:
    """(outcome, detail) when the tests are rejected before running, else None."""
    tree = _parse(tests)
    if tree is None:
        return TESTS_DO_NOT_PARSE, "the tests are not valid Python"
    asserts = count_asserts(tree.body)
    if asserts < min_asserts:
        return TESTS_CANNOT_FAIL, f"{asserts} assert statement(s), fewer than {min_asserts}"
    if not used_names(tests, names):
        return TESTS_CANNOT_FAIL, f"the tests never use {', '.join(names)}"
    return None


def count_asserts(statements: Sequence[ast.AST]) -> int:
    """Assert statements, one per case: an assert in a ``for`` loop over a literal list counts once per item."""
    count = 0
    for node in statements:
        if isinstance(node, ast.Assert):
            count += 1
        elif isinstance(node, ast.For) and isinstance(node.iter, ast.List | ast.Tuple | ast.Set):
            count += len(node.iter.elts) * count_asserts(node.body) + count_asserts(node.orelse)
        else:
            count += count_asserts([child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)])
    return count


def used_names(tests: str, names: Sequence[str]) -> list[str]:
    """The answer's names the tests refer to."""
    tree = _parse(tests)
    seen = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} if tree is not None else set()
    return [name for name in names if name in seen]


def program(code: str, tests: str, stubs: str = "") -> str:
    """Answer, then (stubs replacing some of its names), then tests, as one program.

    The answer runs under another ``__name__``, so its ``if __name__ == "__main__":`` demo (which may
    read input or call ``unittest.main()`` and exit) does not run before the tests.
    """
    parts = ['__name__ = "evolcoder_answer"', code, '__name__ = "__main__"', stubs, tests]
    return "\n\n".join(part for part in parts if part)


def stubs(code: str, names: Sequence[str], kind: str) -> str:
    """Definitions replacing ``names``: every call returns None (``kind="none"``) or raises (``"raise"``)."""
    classes = {node.name for node in (_parse(code) or ast.Module([], [])).body if isinstance(node, ast.ClassDef)}
    body = "return None" if kind == "none" else 'raise RuntimeError("a wrong answer")'
    parts = []
    for name in names:
        if name in classes and kind == "none":
            parts.append(
                f"class {name}:\n    def __init__(self, *args, **kwargs):\n        pass\n"
                f"    def __getattr__(self, attribute):\n        return lambda *args, **kwargs: None"
            )
        elif name in classes:
            parts.append(f"class {name}:\n    def __init__(self, *args, **kwargs):\n        {body}")
        else:
            parts.append(f"def {name}(*args, **kwargs):\n    {body}")
    return "\n\n".join(parts)


# ---- the sandbox ---------------------------------------------------------------------------------


class Sandbox:
    """A pool of sandbox workers shared by the evolve threads (``--verify run`` and ``tests``).

    A thread that runs programs waits for them while the other threads go on asking the teacher.
    """

    def __init__(self, workers: int | None = None) -> None:
        from evolcoder.execution.worker import WorkerPool

        self.pool = WorkerPool(workers, policy=sandbox_policy())

    def map(self, function: Callable, items: Sequence) -> list:
        """``function(worker, item)`` for every item, on the free workers; results in order."""
        indexed = self.pool.imap_unordered(lambda worker, pair: (pair[0], function(worker, pair[1])), enumerate(items))
        return [result for _, result in sorted(indexed, key=lambda pair: pair[0])]

    def run(self, programs: Sequence[str]) -> list[str | None]:
        """Each program's error (None when it ran to its end), in order."""
        return self.map(run_program, programs)

    def close(self) -> None:
        self.pool.close()


def sandbox_policy():  # -> Policy; the import is deferred like the worker's
    from evolcoder.data import cache_dir
    from evolcoder.data.fetch import data_dir_from_env
    from evolcoder.execution.isolation import Policy

    hidden = [os.path.expanduser("~"), str(cache_dir())]
    if data_dir_from_env() is not None:
        hidden.append(str(data_dir_from_env()))
    return Policy(hidden_paths=tuple(hidden))


def run_program(worker, text: str) -> str | None:
    """Run one program in the sandbox: None when it reached its end, else what stopped it."""
    from evolcoder.execution.isolation import Limits

    records: list[dict] = []
    limits = Limits(cpu_seconds=CPU_SECONDS, wall_seconds=CPU_SECONDS * 4 + 2, memory_bytes=MEMORY_BYTES)
    outcome = worker.run({"kind": "program", "code": text}, limits, lambda r: records.append(r) or True)
    done = [r for r in records if r.get("done") is True]
    if done and done[-1].get("ok") is True:
        return None
    if done and done[-1].get("e"):
        line = done[-1].get("line")
        return done[-1]["e"] + (f" (line {line} of answer + tests)" if line else "")
    why = outcome.reason or outcome.protocol_error or f"exit code {outcome.exit_code}"
    return f"{why} after {outcome.cpu_seconds:.1f} CPU-s (limit {CPU_SECONDS:g} s)"


# ---- one try ---------------------------------------------------------------------------------------


@dataclass
class Judged:
    outcome: str
    detail: str | None = None


@dataclass
class Case:
    """One answer's code, its tests, and the names the tests should call."""

    code: str
    tests: str
    names: Sequence[str]


def judge(run: Callable[[list[str]], list[str | None]], cases: Sequence[Case], min_asserts: int) -> list[Judged]:
    """Each answer against its tests, then each passing answer's tests against the two stubs (see the
    module doc). ``run`` runs programs in the sandbox, all at once, and gives each one's error or None."""
    judged: list[Judged | None] = [None] * len(cases)
    for i, case in enumerate(cases):
        rejected = static_check(case.tests, case.names, min_asserts)
        if rejected is not None:
            judged[i] = Judged(*rejected)
    runnable = [i for i, result in enumerate(judged) if result is None]
    for i, error in zip(runnable, run([program(cases[i].code, cases[i].tests) for i in runnable]), strict=True):
        if error is not None:
            judged[i] = Judged(FAILED_OWN_TESTS, error)
    passed = [i for i, result in enumerate(judged) if result is None]
    stubbed = [(i, kind) for i in passed for kind in ("none", "raise")]
    programs = [program(cases[i].code, cases[i].tests, _stubs_for(cases[i], kind)) for i, kind in stubbed]
    for (i, kind), error in zip(stubbed, run(programs), strict=True):
        if error is None and judged[i] is None:
            wrong = "returns None" if kind == "none" else "raises"
            used = ", ".join(used_names(cases[i].tests, cases[i].names))
            judged[i] = Judged(TESTS_CANNOT_FAIL, f"the tests still pass when {used} {wrong}")
    return [result or Judged(PASSED) for result in judged]


def _stubs_for(case: Case, kind: str) -> str:
    return stubs(case.code, used_names(case.tests, case.names), kind)


def furthest(outcomes: Sequence[str]) -> str:
    """The elimination reason of an item none of whose tries passed: the furthest any try got."""
    ranked = [o for o in outcomes if o in RANK]
    if ranked:
        return max(ranked, key=RANK.index)
    return outcomes[-1]

"""Turn a model's response into a program to test.

Chat models answer with prose around fenced code: related examples before the answer (often
indented inside list items), drafts inside ``<think>`` reasoning, example usage and tests after
it. Completion models continue a prompt. ``extract_program`` handles both, as a reader would:

1. Line endings are normalised and reasoning (``<think>…</think>``) is set aside when an answer
   follows it.
2. Fenced blocks are read line by line (any indentation, ``~~~`` or backticks, an unclosed last
   fence, the ``py`` / ``python3`` tags); the answer is the last complete block that defines the
   entry point, unless the prose before it marks it as an example or a wrong attempt.
3. What follows the solution at top level (the ``__main__`` guard, asserts, prints, calls of the
   solution) is dropped by reading the program's syntax tree; set-up code is kept.
4. Helpers and imports the answer uses but defines in another block are gathered from there,
   following what each added definition uses in turn (evalplus builds the same call graph).
5. Text that does not parse falls back to the longest span of lines that does, and the benchmark
   prompt is stitched in front so its imports and helpers are there.

Everything is parsed, never run, and parsed as Python parses a file: no ``__future__`` feature of
this module leaks into the check (see ``parses``).
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
import warnings
from dataclasses import dataclass

_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "pycon", "sage"}
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*\{?\.?(?P<tag>[\w+#.-]*)\}?[^`\n]*$")
_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
# Prose right before a block that marks it as something other than the answer.
_NOT_THE_ANSWER = re.compile(
    r"\b(example problems?|recalled problems?|similar problems?|related problems?|another problem"
    r"|naive|brute[- ]force|incorrect|wrong|buggy|erroneous|flawed|mistaken|original code|draft)\b",
    re.IGNORECASE,
)
_THE_ANSWER = re.compile(
    r"\b(final|corrected|fixed|updated|revised|improved|complete (code|solution)|original problem)\b", re.IGNORECASE
)
# Top-level lines that start the part of an answer after the solution itself (text that does not parse).
_TAIL_MARKERS = re.compile(
    r"^(if\s+__name__\s*==\s*['\"]__main__['\"]\s*:"
    r"|#\s*(example|examples|example usage|usage|test|tests|testing|test cases|sample usage|driver code)\b"
    r"|print\s*\(|assert\b)",
    re.IGNORECASE,
)
# Calls at top level that only exercise or show the solution.
_TEST_CALLS = {"print", "input", "main", "exit", "quit", "display", "pprint", "test", "tests", "run_tests"}
_TEST_MODULES = {"doctest", "unittest", "pytest", "timeit", "sys.stdin"}
_BUILTIN_NAMES = set(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__"}
MAX_FALLBACK_LINES = 400
MAX_PARSE_ATTEMPTS = 2000  # bounds the search on long answers that are mostly prose


def parses(code: str) -> bool:
    """Whether ``code`` is valid Python, compiled as the interpreter compiles a file."""
    return _tree(code) is not None


def _tree(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compile(code, "<answer>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def defines(code: str, name: str) -> bool:
    """A ``def name(`` anywhere in ``code`` (also inside a class or another function)."""
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _defines_at_top(code: str, name: str) -> bool:
    return re.search(rf"^(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


@dataclass(frozen=True)
class Block:
    """One fenced block of an answer."""

    code: str  # the body, without the fence's own indentation
    tag: str  # the info string's first word, lower case
    closed: bool
    lead: str  # the prose between the previous block and this one
    start: int = 0  # line index of the opening fence
    end: int = 0  # line index after the block (after its closing fence, if any)

    @property
    def is_python(self) -> bool:
        return self.tag in _PYTHON_TAGS


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block, read line by line: indented fences, ``~~~``, an unclosed last fence."""
    blocks: list[Block] = []
    lines = text.split("\n")
    lead_start = 0
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = len(opening["indent"].expandtabs(4)), opening["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        raw_body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            line = lines[j]
            if closing.match(line):
                closed, j = True, j + 1
                break
            if line.rstrip().endswith(fence) and not line.rstrip().endswith(fence + fence[0]):
                body.append(_unindent(line.rstrip()[: -len(fence)], indent))  # code```: closed on its line
                closed, j = True, j + 1
                break
            if _leaves_list_item(line, indent, raw_body):
                break  # the list item holding the fence ended, and the block with it (CommonMark)
            raw_body.append(line)
            body.append(_unindent(line, indent))
            j += 1
        code = "\n".join(body).rstrip() + "\n" if any(line.strip() for line in body) else ""
        lead = "\n".join(lines[lead_start:i])
        blocks.append(Block(code, opening["tag"].lower(), closed, lead, i, j))
        lead_start = i = j
    return blocks


def _leaves_list_item(line: str, indent: int, raw_body: list[str]) -> bool:
    """A line less indented than an indented fence whose body so far kept the fence's indentation."""
    if indent == 0 or not line.strip() or _width(line) >= indent:
        return False
    written = [text for text in raw_body if text.strip()]
    return bool(written) and all(_width(text) >= indent for text in written)


def _width(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _unindent(line: str, indent: int) -> str:
    """Remove up to ``indent`` columns of leading white space (the fence's own indentation)."""
    return line.expandtabs(4)[min(_width(line), indent) :]


def code_blocks(response: str) -> list[str]:
    """The bodies of the fenced Python blocks (an unterminated last fence counts too)."""
    return [block.code for block in fenced_blocks(_normalize(response)) if block.is_python]


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def strip_reasoning(text: str) -> str:
    """The answer after a model's ``<think>…</think>`` reasoning, when one follows it.

    A reasoning model's drafts sit inside the reasoning; the final code comes after it, fenced or
    not. When nothing code-like follows (the model stopped while still thinking), the reasoning is
    all there is, and it is kept without its tags.
    """
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        after = text[closes[-1].end() :]
        if re.search(r"```|~~~|^\s*(async\s+)?def\s|^\s*class\s|^\s*import\s", after, re.MULTILINE):
            return after
    return _THINK_CLOSE.sub("", _THINK_OPEN.sub("", text))


def _block_rank(block: Block, entry_point: str | None) -> tuple[bool, bool, bool]:
    """How likely a reader takes ``block`` as the answer (compared with later blocks winning ties)."""
    lead_lines = [line for line in block.lead.splitlines() if line.strip()][-3:]
    lead = "\n".join(lead_lines)
    marked_other = bool(_NOT_THE_ANSWER.search(lead)) and not _THE_ANSWER.search(lead)
    defines_entry = entry_point is not None and _defines_at_top(block.code, entry_point)
    return (defines_entry or entry_point is None, parses(block.code), not marked_other)


def choose_block(blocks: list[Block], entry_point: str | None) -> Block | None:
    """The answer among the Python blocks: the last complete one that defines the entry point.

    Without a block that defines it at top level (a body completing the prompt, a method), the
    longest block is taken, as before.
    """
    python = [block for block in blocks if block.is_python and block.code.strip()]
    if not python:
        return None
    if entry_point is not None and not any(_defines_at_top(b.code, entry_point) for b in python):
        with_entry = [b for b in python if defines(b.code, entry_point)]
        return with_entry[-1] if with_entry else max(python, key=lambda b: len(b.code))
    ranked = [(_block_rank(block, entry_point), index, block) for index, block in enumerate(python)]
    return max(ranked, key=lambda item: (item[0], item[1]))[2]


def cut_tail(code: str, entry_point: str | None = None) -> str:
    """Drop the main guard, example usage and tests that follow the solution at top level.

    A program that parses is cut by its syntax tree (``drop_test_code``); text that does not is cut
    at the first top-level line that starts such a tail.
    """
    if parses(code):
        return drop_test_code(code, entry_point)
    lines = code.splitlines()
    # Code that does not define the entry point continues the prompt's function: its tail
    # starts at the first top-level marker.
    seen_entry = entry_point is None or not defines(code, entry_point)
    for i, line in enumerate(lines):
        if entry_point and defines(line, entry_point):
            seen_entry = True
            continue
        if seen_entry and line[:1] not in (" ", "\t") and _TAIL_MARKERS.match(line):
            return "\n".join(lines[:i]).rstrip() + "\n"
    return code.rstrip() + "\n"


def drop_test_code(code: str, entry_point: str | None = None) -> str:
    """``code`` without the top-level statements that only exercise the solution.

    Dropped: the ``__main__`` guard, asserts, prints, calls of the program's own functions and
    statements that contain them (a loop over test cases), assignments of such calls that no
    function uses, and doctest / unittest runners. Kept: imports, definitions, constants and other
    set-up (``sys.setrecursionlimit``, tables built at import time).
    """
    tree = _tree(code)
    if tree is None:
        return code
    defined = _defined_functions(tree) | ({entry_point} if entry_point else set())
    used_by_definitions = _names_used_by_definitions(tree)
    lines = code.split("\n")
    keep = [True] * len(lines)
    for node in tree.body:
        if _is_test_code(node, defined, used_by_definitions):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            for line in range(first - 1, node.end_lineno or node.lineno):
                keep[line] = False
    kept_lines = [line for line, wanted in zip(lines, keep, strict=True) if wanted]
    if not all(keep):
        while kept_lines and (not kept_lines[-1].strip() or kept_lines[-1].startswith("#")):
            kept_lines.pop()  # the heading of the dropped tail ("# Test the function")
    kept = re.sub(r"\n{3,}", "\n\n\n", "\n".join(kept_lines)).strip("\n")
    return kept + "\n" if kept else ""


def _defined_functions(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def _names_used_by_definitions(tree: ast.Module) -> set[str]:
    used: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return used


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    names = [n for n in ast.walk(node.test) if isinstance(n, ast.Name) and n.id == "__name__"]
    strings = [n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant)]
    return bool(names) and "__main__" in strings


def _called_names(node: ast.AST) -> set[str]:
    """Names of what ``node`` calls: ``f`` for ``f(x)``, ``doctest.testmod`` and ``doctest`` for attributes."""
    called: set[str] = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Name):
            called.add(func.id)
        elif isinstance(func, ast.Attribute):
            dotted = _dotted(func)
            if dotted:
                called.add(dotted)
                called.add(dotted.split(".")[0])
                called.add(".".join(dotted.split(".")[:2]))
    return called


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_test_code(node: ast.stmt, defined: set[str], used_by_definitions: set[str]) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    if isinstance(node, ast.Assert) or _is_main_guard(node):
        return True
    called = _called_names(node)
    exercises = bool(called & (defined | _TEST_CALLS | _TEST_MODULES))
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        bound = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return exercises and not (bound & used_by_definitions)
    if isinstance(node, ast.Expr):
        return exercises
    has_assert = any(isinstance(n, ast.Assert) for n in ast.walk(node))
    return exercises or has_assert


def longest_parsing_span(code: str, entry_point: str | None = None) -> str:
    """The longest run of whole lines that parses, preferring runs that define the entry point.

    Runs start only where code plausibly starts (def, class, import, assignment), which keeps
    the search small on answers that are mostly prose.
    """
    lines = code.splitlines()[:MAX_FALLBACK_LINES]
    best_key, best = (False, 0), ""
    attempts = 0
    for start, line in enumerate(lines):
        if not _CODE_START.match(line):
            continue
        for end in range(len(lines), start, -1):
            attempts += 1
            if attempts > MAX_PARSE_ATTEMPTS:
                return best
            span = "\n".join(lines[start:end])
            if parses(span):
                key = (bool(entry_point and defines(span, entry_point)), end - start)
                if key > best_key:
                    best_key, best = key, span + "\n"
                break
    return best


_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@|[A-Za-z_][A-Za-z0-9_]* = )")


def gather_dependencies(code: str, sources: list[str], provided: frozenset[str] = frozenset()) -> str:
    """``code`` with the imports and top-level definitions it uses but lacks, taken from ``sources``.

    ``sources`` are other blocks of the same answer, nearest first; ``provided`` are names that
    will be there anyway (the prompt's). Each added definition's own free names are looked up in
    turn. Imports go first, then the definitions, each one before what uses it.
    """
    tree = _tree(code)
    if tree is None:
        return code
    bound = _bound_names(tree) | set(provided)
    wanted = sorted(_free_names(tree) - bound)
    available = [stmts for stmts in (_top_level_bindings(source) for source in sources) if stmts]
    imports: list[str] = []
    definitions: list[str] = []
    seen: set[str] = set()
    while wanted:
        name = wanted.pop(0)
        if name in seen:
            continue
        seen.add(name)
        found = next((stmts[name] for stmts in available if name in stmts), None)
        if found is None:
            continue
        text, node = found
        (imports if isinstance(node, ast.Import | ast.ImportFrom) else definitions).append(text)
        bound |= _bound_names(ast.Module(body=[node], type_ignores=[]))
        wanted += sorted(_free_names(ast.Module(body=[node], type_ignores=[])) - bound - seen)
    added = list(dict.fromkeys(imports)) + list(dict.fromkeys(reversed(definitions)))
    if not added:
        return code
    gathered = "\n".join(added) + "\n\n\n" + code
    return gathered if parses(gathered) else code


def _top_level_bindings(source: str) -> dict[str, tuple[str, ast.stmt]]:
    """Each name a block binds at top level, with the statement's text (last binding wins)."""
    tree = _tree(source)
    if tree is None:
        return {}
    lines = source.split("\n")
    bindings: dict[str, tuple[str, ast.stmt]] = {}
    for node in tree.body:
        if not isinstance(
            node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign
        ):
            continue
        if isinstance(node, ast.Assign) and _called_names(node):
            continue  # a computed value (often a test call), not a definition to copy
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "\n".join(lines[first - 1 : node.end_lineno])
        for name in _bound_names(ast.Module(body=[node], type_ignores=[])):
            bindings[name] = (text, node)
    return bindings


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        else:
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


def _free_names(tree: ast.Module) -> set[str]:
    """Names read anywhere in ``tree`` that nothing in it binds (a close over-approximation)."""
    stored: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stored.add(node.name)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            stored |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return loaded - stored - _BUILTIN_NAMES


def extract_program(response: str, entry_point: str | None = None, prompt: str = "") -> str:
    """The program to test for ``response``, with ``prompt`` stitched in front when needed."""
    text = strip_reasoning(_normalize(response))
    blocks = fenced_blocks(text)
    chosen = choose_block(blocks, entry_point)
    if chosen is not None and entry_point and not _defines_at_top(chosen.code, entry_point):
        unfenced = _unfenced_text(text, blocks)
        if _defines_at_top(unfenced, entry_point):
            chosen, text = None, unfenced  # the answer's code is written outside the fences
    code = chosen.code if chosen is not None else text
    if chosen is not None and not parses(code) and parses(textwrap.dedent(code)):
        code = textwrap.dedent(code)
    code = cut_tail(code, entry_point)
    if entry_point and not defines(code, entry_point) and prompt and defines(prompt, entry_point):
        # A completion of the prompt's function body: the prompt and the code are one program.
        body = prompt + code if chosen is None else prompt + _indent_body(code)
        if parses(body):
            return body
        code = body
    if not parses(code):
        code = longest_parsing_span(code, entry_point) or code
    if chosen is not None:
        others = [b.code for b in reversed(blocks[: blocks.index(chosen)]) if b.is_python]
        others += [b.code for b in blocks[blocks.index(chosen) + 1 :] if b.is_python]
        prompt_tree = _tree(prompt) if prompt else None
        provided = frozenset(_bound_names(prompt_tree)) if prompt_tree is not None else frozenset()
        code = gather_dependencies(code, [cut_tail(other, entry_point) for other in others], provided)
    if prompt and entry_point and defines(code, entry_point) and not code.startswith(prompt):
        # The answer restates the function: keep the prompt's imports and helpers before it.
        stitched = prompt.rstrip() + "\n\n" + code
        if parses(stitched):
            return stitched
    return code


def _unfenced_text(text: str, blocks: list[Block]) -> str:
    """``text`` without its fenced blocks."""
    lines = text.split("\n")
    for block in blocks:
        lines[block.start : block.end] = [""] * (block.end - block.start)
    return "\n".join(lines)


def _indent_body(code: str) -> str:
    """A fenced function body written without its indentation gets the function's indent."""
    lines = code.splitlines()
    if lines and all(not line or line.startswith((" ", "\t")) for line in lines):
        return code
    return "\n".join(("    " + line) if line else line for line in lines) + "\n"

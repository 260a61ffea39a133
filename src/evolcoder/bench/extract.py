"""Turn a model's response into a program to test.

Chat models answer with prose around fenced code, examples and test calls; completion models
continue a prompt. ``extract_program`` handles both: pick the fenced block that matters, cut what
follows the solution (``if __name__ == "__main__":``, example-usage and test sections, as the
WizardCoder evaluation did), fall back to the longest span of lines that parses, and stitch the
benchmark prompt in front so helpers and imports it defines are there.
"""

from __future__ import annotations

import ast
import re
import warnings

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}
# Top-level lines that start the part of an answer after the solution itself.
_TAIL_MARKERS = re.compile(
    r"^(if\s+__name__\s*==\s*['\"]__main__['\"]\s*:"
    r"|#\s*(example|examples|example usage|usage|test|tests|testing|test cases|sample usage|driver code)\b"
    r"|print\s*\(|assert\b)",
    re.IGNORECASE,
)
MAX_FALLBACK_LINES = 400


def parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def code_blocks(response: str) -> list[str]:
    """Fenced Python blocks (an unterminated last fence counts too)."""
    return [body for tag, body in _FENCE.findall(response) if tag.lower() in _PYTHON_TAGS]


def cut_tail(code: str, entry_point: str | None = None) -> str:
    """Drop the main guard, example usage and tests that follow the solution at top level."""
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


_CODE_START = re.compile(r"^(def |async def |class |import |from \S+ import |@|[A-Za-z_][A-Za-z0-9_]* = )")
MAX_PARSE_ATTEMPTS = 2000  # bounds the search on long answers that are mostly prose


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


def extract_program(response: str, entry_point: str | None = None, prompt: str = "") -> str:
    """The program to test for ``response``, with ``prompt`` stitched in front when needed."""
    blocks = code_blocks(response)
    if blocks:
        with_entry = [b for b in blocks if entry_point and defines(b, entry_point)]
        code = with_entry[0] if with_entry else max(blocks, key=len)
    else:
        code = response
    code = cut_tail(code, entry_point)
    if entry_point and not defines(code, entry_point) and prompt and defines(prompt, entry_point):
        # A completion of the prompt's function body: the prompt and the code are one program.
        body = prompt + code if not blocks else prompt + _indent_body(code)
        if parses(body):
            return body
        code = body
    if not parses(code):
        code = longest_parsing_span(code, entry_point) or code
    if prompt and entry_point and defines(code, entry_point) and not code.startswith(prompt):
        # The answer restates the function: keep the prompt's imports and helpers before it.
        stitched = prompt.rstrip() + "\n\n" + code
        if parses(stitched):
            return stitched
    return code


def _indent_body(code: str) -> str:
    """A fenced function body written without its indentation gets the function's indent."""
    lines = code.splitlines()
    if lines and all(not line or line.startswith((" ", "\t")) for line in lines):
        return code
    return "\n".join(("    " + line) if line else line for line in lines) + "\n"

"""Elimination of failed evolutions (WizardLM's rules, plus a few cheap checks of our own).

Each rule returns a reason (a stable snake_case identifier from ``REASONS``) or None. An
eliminated evolution is recorded with its reason and its instruction goes back to the pool.

WizardLM's rules: the evolved instruction brings no information gain (an LLM judges equality;
``judge_prompt``/``parse_judgement`` here, the cheap ``unchanged`` check below), the answer is a
short apology, the answer is only punctuation and stop words, or the instruction copies words
of the evolution template ("#Rewritten Prompt#").
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evolcoder.execution.worker import Worker

COPIED_TEMPLATE = "copied_template"
EMPTY_INSTRUCTION = "empty_instruction"
SHORT_INSTRUCTION = "short_instruction"
UNCHANGED = "unchanged"
EMPTY_ANSWER = "empty_answer"
SHORT_ANSWER = "short_answer"
REFUSAL = "refusal"
ONLY_PUNCTUATION_AND_STOPWORDS = "only_punctuation_and_stopwords"
CODE_DOES_NOT_PARSE = "code_does_not_parse"
CODE_FAILS_TO_RUN = "code_fails_to_run"

REASONS = (
    EMPTY_INSTRUCTION,
    SHORT_INSTRUCTION,
    COPIED_TEMPLATE,
    UNCHANGED,
    EMPTY_ANSWER,
    SHORT_ANSWER,
    REFUSAL,
    ONLY_PUNCTUATION_AND_STOPWORDS,
    CODE_DOES_NOT_PARSE,
    CODE_FAILS_TO_RUN,
)

MIN_INSTRUCTION_CHARS = 20  # the shortest Code Alpaca 2k instruction has 20
MIN_ANSWER_CHARS = 20
REFUSAL_MAX_WORDS = 80  # WizardLM: an apology in a response of fewer than 80 words

# "#Given Test#" and friends, the bare phrases, and the opening of the evolution prompt. "The given
# test cases" is ordinary wording in a coding task, so "given test" before "case(s)" is allowed.
_TEMPLATE_WORDS = re.compile(
    r"#\s*(?:given|rewritten|created)\s+(?:test|prompt)\s*#"
    r"|\b(?:given|rewritten|created)\s+prompt\b|\brewritten\s+test\b|\bgiven\s+test\b(?!\s+cases?\b)"
    r"|\bgiven\s+programming\s+test\s+question\b",
    re.IGNORECASE,
)
_APOLOGY = re.compile(
    r"\bsorry\b|\bI\s+apologi[sz]e\b|\bas\s+an\s+ai\b|\bas\s+a\s+language\s+model\b"
    r"|\bI\s+(?:cannot|can\s*not|can['’]t|am\s+unable\s+to|am\s+not\s+able\s+to|['’]m\s+unable\s+to|['’]m\s+not\s+able\s+to)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# A compact English stop-word list (function words, auxiliaries, filler answers); words with
# an apostrophe are compared with a plain "'".
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each either else even ever
    few for from further had has have having he her here hers herself him himself his how however i if
    in into is it its itself just let me might more most must my myself neither no nor not now of off
    often on once only or other otherwise our ours ourselves out over own per quite rather same shall
    she should since so some such than that the their theirs them themselves then there these they this
    those though through thus to too under until up upon us very was we were what whatever when where
    whether which while who whom whose why will with within without would yet you your yours yourself
    yourselves ok okay yes yeah sure well oh please thanks thank
    i'm i've i'd i'll you're you've you'd you'll he's she's it's we're we've they're they've that's
    there's here's what's let's isn't aren't wasn't weren't don't doesn't didn't can't cannot couldn't
    won't wouldn't shouldn't hasn't haven't hadn't
    """.split()
)

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.#-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}
_PYTHON_LINE = re.compile(
    r"^\s*(?:def\s+\w+\s*\(|class\s+\w+|import\s+\w|from\s+[\w.]+\s+import\b|@\w|print\(|return\b"
    r"|(?:if|elif|while|for|with|try|except|else)\b[^\n]*:\s*(?:#.*)?$)",
    re.MULTILINE,
)
_OTHER_LANGUAGE = re.compile(
    r"[{;]\s*$|\bdo\s*\|"  # C, Java, JavaScript; Ruby blocks
    r"|^\s*(?:#include\b|function\b|public\b|private\b|var\b|let\b|const\b|console\.|echo\b|puts\b|end$|<\?php|<\w+>)",
    re.MULTILINE,
)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def copied_template(evolved: str) -> str | None:
    """The evolved instruction repeats words of the evolution template ("#Rewritten Prompt#")."""
    return COPIED_TEMPLATE if _TEMPLATE_WORDS.search(evolved) else None


def instruction_length(evolved: str, min_chars: int = MIN_INSTRUCTION_CHARS) -> str | None:
    text = evolved.strip()
    if not text:
        return EMPTY_INSTRUCTION
    return SHORT_INSTRUCTION if len(text) < min_chars else None


def unchanged(original: str, evolved: str) -> str | None:
    """The cheap form of "no information gain": the same text up to whitespace and case."""
    return UNCHANGED if _normal(original) == _normal(evolved) else None


def answer_length(answer: str, min_chars: int = MIN_ANSWER_CHARS) -> str | None:
    text = answer.strip()
    if not text:
        return EMPTY_ANSWER
    return SHORT_ANSWER if len(text) < min_chars else None


def refusal(answer: str) -> str | None:
    """An apology in a short answer: the teacher could not answer the evolved instruction.

    A long answer that says "sorry" once (e.g. quoting an error message) is kept.
    """
    if _APOLOGY.search(answer) and len(answer.split()) < REFUSAL_MAX_WORDS:
        return REFUSAL
    return None


def only_punctuation_and_stopwords(answer: str) -> str | None:
    words = [w.lower().replace("’", "'") for w in _WORD.findall(answer)]
    return ONLY_PUNCTUATION_AND_STOPWORDS if all(w in STOP_WORDS for w in words) else None


def python_blocks(answer: str) -> list[str]:
    """Fenced blocks labelled Python, and unlabelled ones that look like Python code.

    An unterminated last fence counts: an answer cut off in the middle of its code is bad too.
    """
    blocks = []
    for tag, body in _FENCE.findall(answer):
        tag = tag.lower()
        if tag in _PYTHON_TAGS or (not tag and _looks_like_python(body)):
            blocks.append(body)
    return blocks


def _looks_like_python(code: str) -> bool:
    return bool(_PYTHON_LINE.search(code)) and not _OTHER_LANGUAGE.search(code)


def _parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "\d" in plain strings warns on Python >= 3.12
            ast.parse(code)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def code_does_not_parse(answer: str) -> str | None:
    return CODE_DOES_NOT_PARSE if any(not _parses(block) for block in python_blocks(answer)) else None


def code_fails_to_run(answer: str, worker: Worker | None = None, seconds: float = 5.0) -> str | None:
    """The answer's Python blocks, run together as one script in the sandbox, raise or time out.

    ``worker`` is an ``evolcoder.execution.worker.Worker`` to reuse; without one a fresh worker
    is started and closed for this answer. An answer without Python code passes.
    """
    from evolcoder.evol.verify import sandbox_policy
    from evolcoder.execution.isolation import Limits
    from evolcoder.execution.worker import Worker

    blocks = python_blocks(answer)
    if not blocks:
        return None
    own = worker is None
    runner = Worker(policy=sandbox_policy()) if own else worker
    records: list[dict] = []

    def on_record(record: dict) -> bool:
        records.append(record)
        return True

    try:
        limits = Limits(cpu_seconds=seconds, wall_seconds=seconds * 4 + 2, memory_bytes=2 << 30)
        runner.run({"kind": "script", "code": "\n\n".join(blocks)}, limits, on_record)
    finally:
        if own:
            runner.close()
    ok = any(r.get("done") is True and r.get("ok") is True for r in records)
    return None if ok else CODE_FAILS_TO_RUN


def eliminate(
    original: str,
    evolved: str,
    answer: str,
    *,
    min_instruction_chars: int = MIN_INSTRUCTION_CHARS,
    min_answer_chars: int = MIN_ANSWER_CHARS,
    run_code: bool = False,
    worker: Worker | None = None,
) -> str | None:
    """The first reason to drop this evolution, or None to keep it.

    The order is cheapest first: the instruction, then the answer's text, then its code.
    ``run_code`` runs the answer's Python in the sandbox (``worker``: see ``code_fails_to_run``).
    """
    checks = (
        lambda: instruction_length(evolved, min_instruction_chars),
        lambda: copied_template(evolved),
        lambda: unchanged(original, evolved),
        lambda: answer_length(answer, min_answer_chars),
        lambda: refusal(answer),
        lambda: only_punctuation_and_stopwords(answer),
        lambda: code_does_not_parse(answer),
        lambda: code_fails_to_run(answer, worker) if run_code else None,
    )
    for check in checks:
        reason = check()
        if reason is not None:
            return reason
    return None


def judge_prompt(original: str, evolved: str) -> str:
    """Ask an LLM whether the evolution added nothing (WizardLM's equality check)."""
    return (
        "Here are two instructions given to an AI assistant. Decide whether they are equal, "
        "that is, whether both of these hold:\n"
        "1. They have the same constraints and requirements.\n"
        "2. They have the same depth and breadth of inquiry.\n\n"
        f"The first instruction:\n{original.strip()}\n\n"
        f"The second instruction:\n{evolved.strip()}\n\n"
        'Your judgement (answer only "Equal" or "Not Equal", without explanation):'
    )


_VERDICT = re.compile(r"\b(not\s+equal|unequal|equal)\b", re.IGNORECASE)


def parse_judgement(text: str) -> bool | None:
    """True when the judge says the instructions are equal, False when not, None when unclear."""
    match = _VERDICT.search(text)
    if match is None:
        return None
    return match.group(1).lower() == "equal"

"""``report.html``: one self-contained page to browse what ``evolcoder report`` read.

Nothing on the page is fetched: the CSS and JavaScript (``static/``) are inline, the figures are
data URIs and the data is JSON in ``<script type="application/json">`` elements. The page stays
quick at 164 tasks x 200 samples because only the task tables are parsed when it opens; each
task's samples (programs, raw responses, failures, Pygments tokens) are a gzip'd, base64'd blob of
their own, unpacked by the browser (``DecompressionStream``) when the task is opened, and so are an
experiment's evolution attempts.

Highlighting is Pygments's, done here: a program's tokens travel as ``[length, class, ...]`` (the
class an index into Pygments's short CSS class names, lengths in UTF-16 units as JavaScript counts
them) and the page builds the spans of an opened sample only.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, _TokenType

from evolcoder.evol.show import elimination_reason, tries
from evolcoder.records import FAILURE_KINDS, PASS, Attempt, Failure, given
from evolcoder.report.browse import UNKNOWN, Browse, Evolution, Run, Sample, TaskResult

HTML_FILE = "report.html"
CODE_CLASS = "code"  # the CSS scope of Pygments's style
VERDICTS = ("pass", "mixed", "fail")  # a task's samples: all pass, some pass, none pass
_LEXER = PythonLexer()
_CLASSES: dict[str, int] = {}  # Pygments short CSS class -> its index on the page


def write_html(path: Path, browse: Browse, report_markdown: str, figures_dir: Path, title: str) -> Path:
    """Write the page to ``path``: the report's markdown (its figures embedded) and the browsers."""
    blobs: list[str] = []
    data = {
        "title": title,
        "notes": browse.notes,
        "kinds": [*FAILURE_KINDS, UNKNOWN],
        "verdicts": list(VERDICTS),
        "runs": [_run(run, index, blobs) for index, run in enumerate(browse.runs)],
        "pairs": [_pair(pair) for pair in browse.pairs],
        "evolutions": [_evolution(evolution, blobs) for evolution in browse.evolutions],
    }
    data["classes"] = sorted(_CLASSES, key=_CLASSES.__getitem__)
    page = _template().replace("/*CSS*/", _static("report.css") + _pygments_css())
    page = page.replace("<!--TITLE-->", html.escape(title))
    page = page.replace("<!--REPORT-->", render_markdown(report_markdown, figures_dir))
    page = page.replace("<!--DATA-->", _script("data", data))
    page = page.replace("<!--BLOBS-->", "\n".join(_script(f"b{i}", blob) for i, blob in enumerate(blobs)))
    page = page.replace("/*JS*/", _static("report.js"))
    path.write_text(page, encoding="utf-8")
    return path


# ---- the report's markdown, figures embedded --------------------------------------------------------


def render_markdown(text: str, figures_dir: Path) -> str:
    """report.md as HTML: its tables as tables, each ``![name](name)`` figure as a PNG data URI."""

    def embed(match: re.Match) -> str:
        figure = figures_dir / match.group(2)
        if not figure.is_file():
            return match.group(0)
        encoded = base64.b64encode(figure.read_bytes()).decode("ascii")
        return f"![{match.group(1)}](data:image/png;base64,{encoded})"

    text = re.sub(r"!\[([^\]]*)\]\(([^)\s/]+\.png)\)", embed, text)
    text = re.sub(r"\A# [^\n]*\n", "", text)  # the page has its own title
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


# ---- runs: the task tables and each task's blob --------------------------------------------------


def _run(run: Run, index: int, blobs: list[str]) -> dict[str, Any]:
    tasks = []
    for task in run.tasks:
        tasks.append(_task_row(task, _add(blobs, _task_blob(task))))
    return {
        "label": run.label,
        "benchmark": run.benchmark,
        "folder": str(run.folder),
        "has_plus": run.has_plus,
        "notes": run.notes,
        "n_samples": sum(len(task.samples) for task in run.tasks),
        "tasks": tasks,
    }


def _task_row(task: TaskResult, blob: int) -> dict[str, Any]:
    """A task table row: counts of passes, the verdict over its samples and its failure kinds."""
    samples = task.samples
    passed = sum(s.passed for s in samples)
    kinds = Counter(s.kind for s in samples if not s.passed)
    first = next((s for s in samples if not s.passed), None)
    return {
        "id": task.task_id,
        "n": len(samples),
        "base": sum(s.base_status == PASS for s in samples),
        "plus": sum(s.base_status == PASS and s.plus_status == PASS for s in samples),
        "pass": passed,
        "plus_only": sum(s.base_status == PASS and s.plus_status not in (PASS, None) for s in samples),
        "verdict": "pass" if passed == len(samples) else ("fail" if passed == 0 else "mixed"),
        "kinds": dict(kinds),
        "msg": _message(first) if first else "",
        "blob": blob,
    }


def _message(sample: Sample) -> str:
    failure = sample.base_failure if sample.base_status != PASS else sample.plus_failure
    if failure:
        return str(failure.get(Failure.key("message")) or "")
    status = sample.base_status if sample.base_status != PASS else sample.plus_status
    return f"{status} (no failure record)"


def _task_blob(task: TaskResult) -> dict[str, Any]:
    return {"id": task.task_id, "prompt": task.prompt, "samples": [_sample(s) for s in task.samples]}


def _sample(sample: Sample) -> dict[str, Any]:
    return {
        "i": sample.index,
        "solution": sample.solution,
        "tok": tokens(sample.solution),
        "raw": sample.raw,
        "base": sample.base_status,
        "plus": sample.plus_status,
        "base_fail": sample.base_fail_tests,
        "plus_fail": sample.plus_fail_tests,
        "base_failure": sample.base_failure,
        "plus_failure": sample.plus_failure,
        "recorded": sample.failures_recorded,
        "kind": sample.kind,
    }


# ---- highlighting ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def tokens(code: str) -> list[int]:
    """Pygments's Python tokens of ``code`` as ``[length, class index, ...]``, equal neighbours merged."""
    flat: list[int] = []
    for _, token_type, value in _LEXER.get_tokens_unprocessed(code):
        length = len(value.encode("utf-16-le")) // 2
        css = _class_index(token_type)
        if flat and flat[-1] == css:
            flat[-2] += length
        else:
            flat += [length, css]
    return flat


def _class_index(token_type: _TokenType) -> int:
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return _CLASSES.setdefault(STANDARD_TYPES[token_type], len(_CLASSES))


def _pygments_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(f".{CODE_CLASS}")


# ---- side by side and evolution ----------------------------------------------------------------


def _pair(pair: Any) -> dict[str, Any]:
    return {
        "a": pair.a,
        "b": pair.b,
        "benchmark": pair.benchmark,
        "common": pair.common,
        "both_pass": pair.both_pass,
        "both_fail": pair.both_fail,
        "gained": pair.gained,
        "lost": pair.lost,
        "p": pair.p_value,
    }


def _evolution(evolution: Evolution, blobs: list[str]) -> dict[str, Any]:
    chains: dict[str, list[Attempt]] = {}
    for attempt in evolution.attempts:
        chains.setdefault(str(given(attempt.seed_id, "?")), []).append(attempt)
    rows = [{"seed": seed, "steps": [_step(a) for a in steps]} for seed, steps in chains.items()]
    return {
        "experiment": evolution.experiment,
        "n_attempts": len(evolution.attempts),
        "n_seeds": len(chains),
        "counts": [[name, tried, kept] for name, (tried, kept) in evolution.counts().items()],
        "reasons": [[reason, n] for reason, n in evolution.reasons().items()],
        "verify": [[name, c.verified, c.passed, c.later] for name, c in evolution.verification().items()],
        "blob": _add(blobs, rows),
    }


def _step(attempt: Attempt) -> dict[str, Any]:
    return {
        "round": given(attempt.round),
        "heuristic": str(given(attempt.heuristic, "?")),
        "kept": bool(attempt.kept),
        "reason": None if attempt.kept else elimination_reason(attempt),
        "original": given(attempt.original, ""),
        "instruction": given(attempt.instruction, ""),
        "answer": given(attempt.answer, ""),
        "tries": _tries(attempt),
    }


def _tries(attempt: Attempt) -> list[dict[str, Any]]:
    """Each verification try: its outcome and why, its tests, and its answer where it is not the one shown."""
    shown = given(attempt.answer, "")
    return [
        {
            "n": run.attempt,
            "outcome": run.outcome,
            "detail": given(run.detail),
            "tests": given(run.tests, ""),
            "answer": None if given(run.answer, "") == shown else run.answer,
        }
        for run in tries(attempt)
    ]


# ---- the page's parts ----------------------------------------------------------------------------


def _add(blobs: list[str], value: Any) -> int:
    """Pack ``value`` (gzip'd JSON, base64) as the page's next blob; returns its number."""
    packed = gzip.compress(json.dumps(value, separators=(",", ":")).encode("utf-8"), compresslevel=6, mtime=0)
    blobs.append(base64.b64encode(packed).decode("ascii"))
    return len(blobs) - 1


def _script(element_id: str, value: Any) -> str:
    """A JSON script element; ``</`` is written ``<\\/`` (the same JSON) so no text can close it."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _static(name: str) -> str:
    return resources.files("evolcoder.report").joinpath("static", name).read_text(encoding="utf-8")


def _template() -> str:
    return _static("report.html")

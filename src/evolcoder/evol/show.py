"""``evolcoder evolutions``: a few evolutions of an evolve run as text, and the counts per heuristic.

For a first look in the terminal (``make demo`` prints some); ``evolcoder report`` has the full
browser. Reads the attempt records (``records.Attempt``) the evolve command wrote.

With ``evolve --verify tests`` an attempt also carries its verification tries (``records.VerifyRun``):
the counts add how many answers were verified and passed, and an attempt eliminated while being
verified is counted under ``verification: OUTCOME``, apart from the text rules' reasons. The report
counts them with the same functions.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evolcoder.errors import UserError
from evolcoder.evol.config import EvolutionsConfig
from evolcoder.jsonl import read_rows
from evolcoder.records import Attempt, VerifyRun, given

LINES_SHOWN = 6  # of each instruction and answer
WIDTH = 100
VERIFY_PREFIX = "verification: "  # an elimination reason reached while verifying (evolve --verify tests)


@dataclass(frozen=True)
class VerifyCounts:
    """One heuristic's answers under ``evolve --verify tests``."""

    verified: int  # answers that reached verification (passed the text rules)
    passed: int  # of those, kept: one of their tries passed its tests
    later: int  # of those, passed on a try after the first (a re-asked answer)

    @property
    def rate(self) -> float:
        return self.passed / self.verified if self.verified else 0.0


def tries(attempt: Attempt) -> list[VerifyRun]:
    """The attempt's verification tries, in order; none for an attempt that was not verified."""
    return [VerifyRun.from_row(run) if isinstance(run, dict) else run for run in attempt.verify or []]


def verify_counts(attempts: list[Attempt]) -> dict[str, VerifyCounts]:
    """heuristic -> its verification counts, sorted by name; empty when no attempt was verified."""
    verified = [a for a in attempts if a.verify]
    counts = {}
    for name in sorted({str(given(a.heuristic, "?")) for a in verified}):
        group = [a for a in verified if str(given(a.heuristic, "?")) == name]
        passed = [a for a in group if a.kept]
        later = sum(1 for a in passed if (given(a.verify_attempts) or 1) > 1)
        counts[name] = VerifyCounts(verified=len(group), passed=len(passed), later=later)
    return counts


def elimination_reason(attempt: Attempt) -> str:
    """Why the attempt was eliminated; ``verification: OUTCOME`` where it fell while being verified."""
    reason = str(given(attempt.reason))
    return VERIFY_PREFIX + reason if attempt.verify else reason


def reason_counts(attempts: list[Attempt]) -> Counter[str]:
    """elimination reason (``elimination_reason``) -> attempts eliminated for it."""
    return Counter(elimination_reason(a) for a in attempts if not a.kept)


def rounds_folder(folder: Path) -> Path | None:
    """``FOLDER/rounds`` of an evolve output, or ``EXP/evolve/rounds`` of an experiment; None if neither."""
    for candidate in (folder / "evolve" / "rounds", folder / "rounds"):
        if any(candidate.glob("round_*.jsonl")):
            return candidate
    return None


def read_attempts(folder: Path) -> list[Attempt]:
    """Every attempt, round by round (read-only: a line a running evolve is writing is left alone)."""
    rounds = rounds_folder(folder)
    if rounds is None:
        return []
    files = sorted(rounds.glob("round_*.jsonl"), key=lambda p: int(p.stem.split("_")[-1]))
    return [Attempt.from_row(row) for path in files for _, row in read_rows(path, trim=False) if row is not None]


def show(config: EvolutionsConfig) -> str:
    attempts = read_attempts(config.folder)
    if not attempts:
        raise UserError(
            "no evolve records here (rounds/round_R.jsonl); give an evolve --output-dir or a run folder",
            path=config.folder,
        )
    chosen = [
        a
        for a in attempts
        if a.kept != config.eliminated and (config.heuristic is None or a.heuristic == config.heuristic)
    ]
    parts = [_counts(attempts)]
    parts += [_one(attempt) for attempt in _spread(chosen, config.limit)]
    return "\n\n".join(parts)


def _spread(attempts: list[Attempt], limit: int) -> list[Attempt]:
    """Up to ``limit`` attempts, one heuristic after another, so a few show the variety."""
    by_heuristic: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_heuristic.setdefault(str(attempt.heuristic), []).append(attempt)
    picked: list[Attempt] = []
    while len(picked) < limit and any(by_heuristic.values()):
        for queue in by_heuristic.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def _counts(attempts: list[Attempt]) -> str:
    tried = Counter(str(a.heuristic) for a in attempts)
    kept = Counter(str(a.heuristic) for a in attempts if a.kept)
    checked = verify_counts(attempts)
    reasons = reason_counts(attempts)
    lines = [f"{len(attempts)} evolution attempts, {sum(kept.values())} kept" + _verified(checked.values())]
    lines += [
        f"  {name:<18} {kept[name]}/{tried[name]} kept" + _verified(checked.get(name, ())) for name in sorted(tried)
    ]
    if reasons:
        lines.append("  eliminated: " + ", ".join(f"{reason} {count}" for reason, count in reasons.most_common()))
    return "\n".join(lines)


def _verified(counts: VerifyCounts | Iterable[VerifyCounts]) -> str:
    """``, P/V passed verification (L on a later try)``; nothing where no answer was verified."""
    group = [counts] if isinstance(counts, VerifyCounts) else list(counts)
    verified = sum(c.verified for c in group)
    if not verified:
        return ""
    passed, later = sum(c.passed for c in group), sum(c.later for c in group)
    return f", {passed}/{verified} passed verification ({later} on a later try)"


def _one(attempt: Attempt) -> str:
    verdict = "kept" if attempt.kept else f"eliminated: {elimination_reason(attempt)}"
    head = f"── {attempt.seed_id}, round {attempt.round}, {attempt.heuristic}: {verdict}"
    texts = {"before": attempt.original, "after": attempt.instruction, "answer": attempt.answer}
    return "\n".join([head, *(_block(title, text) for title, text in texts.items()), *_verification(attempt)])


def _verification(attempt: Attempt) -> list[str]:
    """Each verification try's outcome, then the tests the kept answer passed (or the last try's)."""
    runs = tries(attempt)
    if not runs:
        return []
    lines = [" verification:"]
    for run in runs:
        detail = f": {_cut(str(run.detail))}" if run.detail else ""
        lines.append(f"   try {run.attempt}: {run.outcome}{detail}")
    if attempt.kept:
        return [*lines, _block("tests passed", given(attempt.tests, ""))]
    return [*lines, _block(f"tests of try {runs[-1].attempt}", runs[-1].tests)]


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def _block(title: str, text: str | None) -> str:
    lines = [wrapped for line in (text or "").strip().splitlines() for wrapped in textwrap.wrap(line, WIDTH) or [""]]
    more = f"\n   … ({len(lines) - LINES_SHOWN} more lines)" if len(lines) > LINES_SHOWN else ""
    body = "\n".join(f"   {line}" for line in lines[:LINES_SHOWN]) or "   (empty)"
    return f" {title}:\n{body}{more}"

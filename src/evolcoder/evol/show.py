"""``evolcoder evolutions``: a few evolutions of an evolve run as text, and the counts per heuristic.

For a first look in the terminal (``make demo`` prints some); ``evolcoder report`` has the full
browser. Reads the attempt records (``records.Attempt``) the evolve command wrote.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from evolcoder.errors import UserError
from evolcoder.evol.config import EvolutionsConfig
from evolcoder.jsonl import read_rows
from evolcoder.records import Attempt

LINES_SHOWN = 6  # of each instruction and answer
WIDTH = 100


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
    reasons = Counter(str(a.reason) for a in attempts if not a.kept)
    lines = [f"{len(attempts)} evolution attempts, {sum(kept.values())} kept"]
    lines += [f"  {name:<18} {kept[name]}/{tried[name]} kept" for name in sorted(tried)]
    if reasons:
        lines.append("  eliminated: " + ", ".join(f"{reason} {count}" for reason, count in reasons.most_common()))
    return "\n".join(lines)


def _one(attempt: Attempt) -> str:
    verdict = "kept" if attempt.kept else f"eliminated: {attempt.reason}"
    head = f"── {attempt.seed_id}, round {attempt.round}, {attempt.heuristic}: {verdict}"
    texts = {"before": attempt.original, "after": attempt.instruction, "answer": attempt.answer}
    return "\n".join([head, *(_block(title, text) for title, text in texts.items())])


def _block(title: str, text: str | None) -> str:
    lines = [wrapped for line in (text or "").strip().splitlines() for wrapped in textwrap.wrap(line, WIDTH) or [""]]
    more = f"\n   … ({len(lines) - LINES_SHOWN} more lines)" if len(lines) > LINES_SHOWN else ""
    body = "\n".join(f"   {line}" for line in lines[:LINES_SHOWN]) or "   (empty)"
    return f" {title}:\n{body}{more}"

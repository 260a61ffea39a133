"""The dataset card: what a round's dataset holds and how it was made, as markdown."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from evolcoder.evol.show import verify_counts
from evolcoder.evol.templates import HEURISTICS
from evolcoder.records import Attempt

if TYPE_CHECKING:
    from evolcoder.evol.config import EvolveConfig


def dataset_card(
    config: EvolveConfig,
    records_by_round: list[dict[str, dict]],
    pairs: list[dict],
    removed: list[dict],
    complete: bool,
    stopped: str | None,
) -> str:
    rounds = len(records_by_round)
    attempts = [Attempt.from_row(row) for done in records_by_round for row in done.values()]
    prompt_tokens = sum(a.prompt_tokens for a in attempts)
    completion_tokens = sum(a.completion_tokens for a in attempts)
    prices = config.price()
    status = "complete" if complete else f"incomplete ({stopped or 'not finished'})"
    lines = [
        f"# Code Evol-Instruct dataset, round {rounds}",
        "",
        f"Seed pairs from `{config.seed_data}` plus the pairs kept in rounds 1..{rounds} ({status}).",
        f"Teacher: `{config.teacher_backend}` / `{config.teacher}`, temperature {config.temperature}, "
        f"top-p {config.top_p}, seed {config.seed}. Made by `evolcoder evolve`.",
        "",
        f"- pairs: **{len(pairs)}** ({_by_source(pairs)})",
        f"- evolution attempts: {len(attempts)}, kept {sum(a.kept for a in attempts)}",
        f"- teacher tokens: {prompt_tokens} prompt, {completion_tokens} completion; estimated cost "
        f"${(prompt_tokens * prices[0] + completion_tokens * prices[1]) / 1e6:.4f} "
        f"(USD {prices[0]:g} / {prices[1]:g} per million prompt / completion tokens)",
        "",
        "## Heuristics",
        "",
        "| heuristic | attempted | kept | weight |",
        "|---|---:|---:|---:|",
    ]
    tried = Counter(a.heuristic for a in attempts)
    kept = Counter(a.heuristic for a in attempts if a.kept)
    for name in HEURISTICS:
        lines.append(f"| {name} | {tried[name]} | {kept[name]} | {config.heuristic_weights.get(name, 0):g} |")
    lines += ["", "## Eliminated evolutions", "", "| reason | count |", "|---|---:|"]
    reasons = Counter(a.reason for a in attempts if not a.kept)
    lines += [f"| {reason} | {count} |" for reason, count in reasons.most_common()] or ["| (none) | 0 |"]
    lines += verification_section(attempts)
    lines += ["", "## Removed from the dataset", "", "| reason | count |", "|---|---:|"]
    removals = Counter(r["removed"] for r in removed)
    lines += [f"| {reason} | {count} |" for reason, count in sorted(removals.items())] or ["| (none) | 0 |"]
    checked = ", ".join(config.decontaminate) or "none (decontamination off)"
    lines += ["", f"Decontamination checked against: {checked}."]
    lines += [
        "",
        "## Lengths (words)",
        "",
        "| field | source | min | median | p90 | max | mean |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for source in sorted({p["source"] for p in pairs}):
        group = [p for p in pairs if p["source"] == source]
        for name in ("instruction", "output"):
            lines.append(f"| {name} | {source} | " + _distribution([len(p[name].split()) for p in group]) + " |")
    lines += [
        "",
        "## Files",
        "",
        "- `data.jsonl`: one pair per line (`instruction`, `input`, `output`, `source`, `tests`, `heuristic`;"
        " `tests`: the asserts a verified answer passed, empty otherwise)",
        "- `alpaca.json`: the same pairs as an Alpaca JSON array (input for `evolcoder train`)",
        "- `hf/`: an HF `datasets` folder (`datasets.load_from_disk`)",
        "- `removed.jsonl`: the pairs dropped by decontamination and dedup, with the reason",
        "",
    ]
    return "\n".join(lines)


def verification_section(attempts: list[Attempt]) -> list[str]:
    """``--verify tests``: per heuristic, how many answers reached verification and how many passed."""
    verified = [a for a in attempts if a.verify]
    if not verified:
        return []
    lines = [
        "",
        "## Verification",
        "",
        "Answers that passed the text rules were checked against tests the teacher wrote for them, run in the "
        "sandbox (`--verify tests`); a failing answer was asked for again.",
        "",
        "| heuristic | verified | passed | rate | passed on a later try |",
        "|---|---:|---:|---:|---:|",
    ]
    counts = verify_counts(attempts)
    for name in HEURISTICS:
        if name in counts:
            c = counts[name]
            lines.append(f"| {name} | {c.verified} | {c.passed} | {c.rate:.0%} | {c.later} |")
        else:
            lines.append(f"| {name} | 0 | 0 | - | 0 |")
    outcomes = Counter(run["outcome"] for a in verified for run in a.verify)
    lines += ["", "Outcomes of every try:", "", "| outcome | tries |", "|---|---:|"]
    lines += [f"| {outcome} | {count} |" for outcome, count in outcomes.most_common()]
    return lines


def _by_source(pairs: list[dict]) -> str:
    return ", ".join(f"{source}: {count}" for source, count in sorted(Counter(p["source"] for p in pairs).items()))


def _distribution(values: list[int]) -> str:
    if not values:
        return " | ".join(["-"] * 5)
    a = np.asarray(values)
    return " | ".join([str(a.min()), f"{np.median(a):g}", f"{np.percentile(a, 90):g}", str(a.max()), f"{a.mean():.1f}"])

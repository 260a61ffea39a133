"""The mini-replication's verdict: did the paper's ordering (evol-SFT > seed-SFT > base) hold?

Stated per benchmark in plain sentences, with whether the 95% intervals of neighbouring models
overlap (overlapping intervals mean the ordering is not resolved at this sample size).
"""

from __future__ import annotations

from evolcoder.report.experiment import MINI_MODELS, Experiment, Score
from evolcoder.report.stats import overlap

VERDICT_BENCHMARKS = ("humaneval+", "mbpp+")
_NAMES = {"base": "base", "seed-sft": "seed-SFT", "evol-sft": "evol-SFT"}


def is_mini_replication(experiment: Experiment) -> bool:
    present = set(experiment.models) | {s.model for s in experiment.scores}
    return all(model in present for model in MINI_MODELS)


def ordering_sentence(experiment: Experiment, benchmark: str) -> str:
    title = {"humaneval+": "HumanEval+", "mbpp+": "MBPP+"}.get(benchmark, benchmark)
    found = {model: experiment.score(model, benchmark) for model in MINI_MODELS}
    absent = [_NAMES[model] for model, score in found.items() if score is None]
    if absent:
        return f"{title}: cannot say whether the ordering held; no result for {', '.join(absent)}."
    base, seed, evol = (score for score in found.values() if score is not None)
    held = "held" if evol.value > seed.value > base.value else "did not hold"
    values = ", ".join(f"{_NAMES[s.model]} {_describe(s)}" for s in (evol, seed, base))
    return f"{title}: the paper's ordering evol-SFT > seed-SFT > base {held} ({values}). {_overlaps(base, seed, evol)}"


def _describe(score: Score) -> str:
    interval = "" if score.interval is None else f", 95% interval [{score.interval[0]:.1f}, {score.interval[1]:.1f}]"
    tasks = "" if score.n is None else f", {score.passed}/{score.n} tasks"
    return f"{score.value:.1f}%{interval}{tasks}"


def _overlaps(base: Score, seed: Score, evol: Score) -> str:
    if base.interval is None or seed.interval is None or evol.interval is None:
        return "Intervals are not available for every model (task counts missing), so overlap is not judged."
    pairs = [
        ("evol-SFT and seed-SFT", evol.interval, seed.interval),
        ("seed-SFT and base", seed.interval, base.interval),
        ("evol-SFT and base", evol.interval, base.interval),
    ]
    parts = [f"{name} {'overlap' if overlap(a, b) else 'do not overlap'}" for name, a, b in pairs]
    if any(overlap(a, b) for _, a, b in pairs[:2]):
        tail = " Overlapping intervals: at this sample size the ordering is not resolved."
    else:
        tail = " No neighbouring intervals overlap: the ordering is resolved at this sample size."
    return "The 95% intervals of " + "; ".join(parts) + "." + tail

"""With and without verification: two experiments whose evolutions differ in ``evolve --verify``.

Given exactly two experiments with different ``--verify`` settings, the report puts side by side
what the verified data did to the student trained on it (``evol-sft``): dev pass@1 of the best
round and each test benchmark's pass@1, with 95% Wilson intervals, and on the test tasks both runs
answered the exact sign test on the tasks one passes more often than the other. Whether the two
runs differ in anything else is read from their manifests and said plainly: a difference there
means the comparison is not of verification alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolcoder.records import PASS, Verdict, given
from evolcoder.report.experiment import NO_VERIFY, Experiment, Round, Score
from evolcoder.report.stats import discordant, sign_test
from evolcoder.report.tables import BENCHMARK_TITLES
from evolcoder.run.config import RUN_NOT_SHAPING

MODEL = "evol-sft"  # the student trained on the evolved (verified or not) data
# options that may differ between the two runs without making them another experiment: the name,
# verification itself, and what does not shape a run's results (places, throughput, --rerun-changed)
IGNORED = ("name", "verify", *RUN_NOT_SHAPING)


def verification_pair(experiments: list[Experiment]) -> tuple[Experiment, Experiment] | None:
    """(without, with) verification when exactly two experiments differ in ``--verify``; else None."""
    if len(experiments) != 2 or experiments[0].verify == experiments[1].verify:
        return None
    first, second = experiments
    return (second, first) if second.verify == NO_VERIFY else (first, second)


def other_differences(a: Experiment, b: Experiment) -> list[str] | None:
    """The run options (manifest ``config``) that differ besides verification; None if one is unknown."""
    if not a.config or not b.config:
        return None
    keys = dict.fromkeys([*a.config, *b.config])
    differing = [key for key in keys if key not in IGNORED and a.config.get(key) != b.config.get(key)]
    if "evolve" in differing and _evolve_options(a) == _evolve_options(b):
        differing.remove("evolve")  # only the verify_* evolve options differ
    return differing


def _evolve_options(experiment: Experiment) -> dict[str, Any]:
    options = experiment.config.get("evolve") or {}
    return {key: value for key, value in options.items() if not str(key).startswith("verify")}


def comparison_section(without: Experiment, with_: Experiment) -> list[str]:
    """The report's section: which run is which, whether they differ otherwise, and the table."""
    differing = other_differences(without, with_)
    if differing is None:
        same = "Their other settings are not compared (a manifest is missing)."
    elif differing:
        same = f"They also differ in {', '.join(f'`{key}`' for key in differing)}: not verification alone."
    else:
        same = "Their manifests record the same settings otherwise (seeds, steps, data)."
    lines = ["## With and without verification", ""]
    lines += [
        f"**{without.name}** evolved with `--verify {without.verify}`, **{with_.name}** with "
        f"`--verify {with_.verify}`. {same} Rows: the student trained on the evolved data ({MODEL}); "
        "p: exact two-sided sign test on the tasks both runs answered that one passes more often than the other.",
        "",
        f"| | {without.display} | {with_.display} | tasks both ran | gained | lost | sign test p |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines.append(_dev_row(without, with_))
    for score in without.scores:
        other = with_.score(MODEL, score.benchmark)
        if score.model == MODEL and other is not None:
            lines.append(_test_row(score, other))
    return lines + [""]


def _dev_row(without: Experiment, with_: Experiment) -> str:
    a, b = _best(without), _best(with_)
    return f"| dev pass@1, best round | {_dev_cell(a)} | {_dev_cell(b)} | | | | |"


def _best(experiment: Experiment) -> Round | None:
    return next((r for r in experiment.rounds if r.number == experiment.best_round), None)


def _dev_cell(r: Round | None) -> str:
    if r is None or r.dev_pass1 is None:
        return "n/a"
    interval = f" [{r.dev_interval[0]:.1f}, {r.dev_interval[1]:.1f}]" if r.dev_interval else ""
    tasks = f", {r.dev_passed}/{r.dev_n}" if r.dev_n else ""
    return f"{r.dev_pass1:.1f}{interval} (round {r.number}{tasks})"


def _test_row(a: Score, b: Score) -> str:
    title = BENCHMARK_TITLES.get(a.benchmark, a.benchmark)
    rates_a, rates_b = task_rates(a), task_rates(b)
    if not rates_a or not rates_b:
        return f"| {title} pass@1 | {_cell(a)} | {_cell(b)} | n/a | | | |"
    common, gained, lost = discordant(rates_a, rates_b)
    p = sign_test(len(gained), len(lost))
    return f"| {title} pass@1 | {_cell(a)} | {_cell(b)} | {len(common)} | {len(gained)} | {len(lost)} | {p:.3f} |"


def _cell(score: Score) -> str:
    interval = f" [{score.interval[0]:.1f}, {score.interval[1]:.1f}]" if score.interval else ""
    tasks = f", {score.passed}/{score.n}" if score.n is not None and score.passed is not None else ""
    return f"{score.value:.1f}{interval}{tasks}"


def task_rates(score: Score) -> dict[str, float]:
    """Each task's share of samples passed in the score's eval_results.json (base tests, and the plus
    tests for a ``+`` benchmark, as ``evolcoder run`` counts them); empty when it cannot be read."""
    try:
        results = json.loads(Path(score.results).read_text(encoding="utf-8")) if score.results else {}
    except (OSError, ValueError):
        return {}
    plus = score.benchmark.endswith("+")
    rates = {}
    for task_id, rows in (results.get("eval") or {}).items():
        verdicts = [Verdict.from_row(row) for row in rows if isinstance(row, dict)]
        if verdicts:
            rates[task_id] = sum(_passed(v, plus) for v in verdicts) / len(verdicts)
    return rates


def _passed(verdict: Verdict, plus: bool) -> bool:
    return given(verdict.base_status) == PASS and (not plus or given(verdict.plus_status) in (PASS, None))

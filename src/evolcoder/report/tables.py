"""The report's markdown tables: published numbers and ours side by side, each row with its setting.

Our rows show the 95% Wilson interval over tasks, the tasks passed out of those evaluated, and a
link to the manifest of the experiment that produced them.
"""

from __future__ import annotations

import os
from pathlib import Path

from evolcoder.report.experiment import Experiment, Score
from evolcoder.report.published import DS1000_LIBRARIES, Published, PublishedNumber

BENCHMARK_TITLES = {
    "humaneval": "HumanEval",
    "humaneval+": "HumanEval+",
    "mbpp": "MBPP",
    "mbpp+": "MBPP+",
    "ds1000": "DS-1000",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def manifest_link(path: Path | None, output_dir: Path) -> str:
    if path is None:
        return "manifest missing"
    return f"[manifest]({os.path.relpath(path, output_dir)})"


def _source(number: PublishedNumber) -> str:
    return f"[{_cell(number.source)}]({number.url})" if number.url else _cell(number.source)


def interval_text(score: Score) -> str:
    if score.interval is None:
        return "n/a"
    return f"[{score.interval[0]:.1f}, {score.interval[1]:.1f}]"


def tasks_text(score: Score) -> str:
    if score.n is None:
        return "?"
    return f"{score.passed}/{score.n}" if score.passed is not None else f"?/{score.n}"


def benchmark_table(published: list[PublishedNumber], scores: list[Score], output_dir: Path) -> list[str]:
    """One benchmark's pass@1: the published rows (as given) then ours."""
    lines = [
        "| model | pass@1 (%) | 95% interval | tasks passed | setting | source |",
        "|---|---:|---|---:|---|---|",
    ]
    for number in published:
        lines.append(
            f"| {_cell(number.model)} | {number.value:.1f} | | | {number.setting.label()} | {_source(number)} |"
        )
    for score in scores:
        lines.append(
            f"| **{_cell(score.display)}** | **{score.value:.1f}** | {interval_text(score)} | {tasks_text(score)} "
            f"| {score.setting.label()} | ours, {manifest_link(score.manifest, output_dir)} |"
        )
    if len(lines) == 2:
        lines.append("| (no numbers) | | | | | |")
    return lines


def ds1000_table(published: Published, scores: list[Score], output_dir: Path) -> list[str]:
    header = " | ".join(DS1000_LIBRARIES)
    lines = [
        f"| model | setting | {header} | source |",
        "|---|---|" + "---:|" * len(DS1000_LIBRARIES) + "---|",
    ]
    by_model: dict[str, dict[str, PublishedNumber]] = {}
    for number in published.select("ds1000"):
        by_model.setdefault(number.model, {})[number.library or "All"] = number
    for model, numbers in by_model.items():
        cells = " | ".join(f"{numbers[lib].value:.1f}" if lib in numbers else "–" for lib in DS1000_LIBRARIES)
        first = next(iter(numbers.values()))
        lines.append(f"| {_cell(model)} | {first.setting.label()} | {cells} | {_source(first)} |")
    for score in scores:
        values = {lib: s for lib, s in score.per_library.items()} | {"All": score}
        cells = " | ".join(
            f"**{values[lib].value:.1f}** {interval_text(values[lib])}" if lib in values else "–"
            for lib in DS1000_LIBRARIES
        )
        link = manifest_link(score.manifest, output_dir)
        lines.append(f"| **{_cell(score.display)}** | {score.setting.label()} | {cells} | ours, {link} |")
    return lines


def rounds_table(experiments: list[Experiment]) -> list[str]:
    lines = [
        "| experiment | round | training pairs | dev pass@1 (%) | 95% interval | dev tasks passed | kept |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for experiment in experiments:
        name = _cell(experiment.display)
        for r in experiment.rounds:
            dev = f"{r.dev_pass1:.1f}" if r.dev_pass1 is not None else "missing"
            interval = f"[{r.dev_interval[0]:.1f}, {r.dev_interval[1]:.1f}]" if r.dev_interval else "n/a"
            tasks = f"{r.dev_passed}/{r.dev_n}" if r.dev_n else "?"
            best = "best" if r.number == experiment.best_round else ""
            pairs = r.n_pairs if r.n_pairs is not None else "?"
            lines.append(f"| {name} | {r.number} | {pairs} | {dev} | {interval} | {tasks} | {best} |")
    return lines


def evolve_table(experiments: list[Experiment]) -> list[str]:
    """Attempted and kept per heuristic, the elimination reasons and, for verified runs, the verification.

    A reason reached while verifying reads ``verification: OUTCOME`` (``evol.show.elimination_reason``).
    """
    lines = ["| experiment | round | heuristic | attempted | kept |", "|---|---:|---|---:|---:|"]
    for experiment in experiments:
        for r in experiment.rounds:
            for name, (tried, kept) in sorted(r.heuristics.items()):
                lines.append(f"| {_cell(experiment.display)} | {r.number} | {_cell(name)} | {tried} | {kept} |")
    lines += ["", "| experiment | round | elimination reason | count |", "|---|---:|---|---:|"]
    for experiment in experiments:
        for r in experiment.rounds:
            for reason, count in sorted(r.eliminations.items(), key=lambda item: -item[1]):
                lines.append(f"| {_cell(experiment.display)} | {r.number} | {_cell(reason)} | {count} |")
    return lines + verification_table(experiments)


VERIFICATION_NOTE = (
    "Verification (`evolve --verify tests`): each answer that passed the text rules was run in the sandbox "
    "against asserts the teacher wrote for it; a failing answer was asked for again. Answers that never passed "
    "are counted above as `verification: OUTCOME`."
)


def verification_table(experiments: list[Experiment]) -> list[str]:
    """Per round and heuristic: answers verified, passed, the rate and how many passed on a later try."""
    rows = [
        (experiment, r.number, name, counts)
        for experiment in experiments
        for r in experiment.rounds
        for name, counts in r.verification.items()
    ]
    if not rows:
        return []
    lines = [
        "",
        VERIFICATION_NOTE,
        "",
        "| experiment | round | heuristic | answers verified | passed | verified rate (%) | passed on a later try |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for experiment, number, name, c in rows:
        lines.append(
            f"| {_cell(experiment.display)} | {number} | {_cell(name)} | {c.verified} | {c.passed} "
            f"| {100 * c.rate:.1f} | {c.later} |"
        )
    return lines

"""The report's PNG figures (matplotlib, file backend only).

Each function draws one figure and returns False, writing nothing, when it has no data. The
setting of every bar is visible: solid for greedy, hatched ``//`` for sampled, ``..`` for a
setting the source does not state; our bars carry their 95% interval as an error bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolcoder.evol.show import VERIFY_PREFIX
from evolcoder.report.experiment import Experiment, Score
from evolcoder.report.published import DS1000_LIBRARIES, Published, Setting

HATCH = {"greedy": "", "sampled": "//", "unstated": ".."}
BENCH_COLOURS = {"humaneval": "#4c72b0", "humaneval+": "#dd8452"}
OURS_EDGE = "#c00000"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, path: Path, crop: bool = False) -> None:
    """``crop``: the image takes the drawing's own size (a legend beside the axes, a long title)."""
    figure.tight_layout()
    figure.savefig(path, dpi=100, bbox_inches="tight" if crop else None)
    plt.close(figure)


def _setting_legend(plt: Any) -> list:
    from matplotlib.patches import Patch

    labels = {"greedy": "greedy", "sampled": "sampled (n, T in the tables)", "unstated": "setting not stated"}
    return [Patch(facecolor="white", edgecolor="black", hatch=HATCH[m], label=labels[m]) for m in HATCH]


def _error(score: Score) -> tuple[float, float] | None:
    if score.interval is None:
        return None
    return score.value - score.interval[0], score.interval[1] - score.value


def plot_fig1(published: Published, scores: list[Score], path: Path) -> bool:
    """HumanEval and HumanEval+ pass@1, published (Figure 1) and ours, one row per model."""
    plt = _pyplot()
    figure = fig1_figure(published, scores)
    if figure is None:
        return False
    _save(plt, figure, path, crop=True)
    return True


def fig1_figure(published: Published, scores: list[Score]) -> Any:
    """Figure 1's matplotlib figure (None without rows), drawn but not saved."""
    benchmarks = ("humaneval", "humaneval+")
    rows: list[tuple[str, bool, dict[str, tuple[float, Setting, Score | None]]]] = []
    for model in dict.fromkeys(p.model for p in published.select("fig1")):
        values = {p.benchmark: (p.value, p.setting, None) for p in published.select("fig1") if p.model == model}
        rows.append((model, False, values))
    for display in dict.fromkeys(s.display for s in scores if s.benchmark in benchmarks):
        values = {
            s.benchmark: (s.value, s.setting, s) for s in scores if s.display == display and s.benchmark in benchmarks
        }
        rows.append((display, True, values))
    if not rows:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.8))
    height = 0.38
    for index, (_, ours, values) in enumerate(rows):
        for offset, benchmark in enumerate(benchmarks):
            if benchmark not in values:
                continue
            value, setting, score = values[benchmark]
            y = index + (offset - 0.5) * height
            error = _error(score) if score else None
            axes.barh(
                y,
                value,
                height=height,
                color=BENCH_COLOURS[benchmark],
                hatch=HATCH[setting.mode],
                edgecolor=OURS_EDGE if ours else "black",
                linewidth=1.8 if ours else 0.6,
                xerr=None if error is None else [[error[0]], [error[1]]],
                capsize=3,
            )
            label_at = value + (error[1] if error else 0.0) + 0.8  # past the interval's whisker
            axes.text(label_at, y, f"{value:.1f}", va="center", fontsize=8)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([("★ " if ours else "") + name for name, ours, _ in rows], fontsize=9)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("pass@1 (%)")
    axes.set_title("HumanEval and HumanEval+ pass@1: published and ours (★, 95% interval)")
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=b) for b, c in BENCH_COLOURS.items()] + _setting_legend(plt)
    # Beside the axes: inside, it hid the lowest bars (ours) whenever they were long.
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    return figure


def plot_ds1000(published: Published, scores: list[Score], path: Path) -> bool:
    """DS-1000 pass@1 per library: the published completion-format rows and ours."""
    series: list[tuple[str, bool, dict[str, tuple[float, Setting, Score | None]]]] = []
    for model in dict.fromkeys(p.model for p in published.select("ds1000")):
        values = {p.library: (p.value, p.setting, None) for p in published.select("ds1000") if p.model == model}
        series.append((model, False, values))
    for score in scores:
        if score.benchmark == "ds1000":
            values = {lib: (s.value, s.setting, s) for lib, s in score.per_library.items()}
            values["All"] = (score.value, score.setting, score)
            series.append((score.display, True, values))
    if not series:
        return False
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(series)
    colours = plt.get_cmap("tab10")
    for index, (name, ours, values) in enumerate(series):
        for position, library in enumerate(DS1000_LIBRARIES):
            if library not in values:
                continue
            value, setting, score = values[library]
            error = _error(score) if score else None
            axes.bar(
                position + (index - (len(series) - 1) / 2) * width,
                value,
                width=width,
                color=colours(index % 10),
                hatch=HATCH[setting.mode],
                edgecolor=OURS_EDGE if ours else "black",
                linewidth=1.5 if ours else 0.5,
                yerr=None if error is None else [[error[0]], [error[1]]],
                capsize=2,
                label=("★ " if ours else "") + name if position == 0 or library == "All" else None,
            )
    axes.set_xticks(range(len(DS1000_LIBRARIES)))
    axes.set_xticklabels(DS1000_LIBRARIES)
    axes.set_ylabel("pass@1 (%)")
    axes.set_title("DS-1000 pass@1 per library (completion format): published and ours (★, 95% interval)")
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(
        list(unique.values()) + _setting_legend(plt),
        list(unique) + [h.get_label() for h in _setting_legend(plt)],
        fontsize=8,
    )
    axes.grid(axis="y", alpha=0.3)
    _save(plt, figure, path)
    return True


def plot_dev_by_round(experiments: list[Experiment], path: Path) -> bool:
    """Dev pass@1 against the evolution round, one line per experiment, the best round circled."""
    drawn = [(e, [r for r in e.rounds if r.dev_pass1 is not None]) for e in experiments]
    drawn = [(e, rounds) for e, rounds in drawn if rounds]
    if not drawn:
        return False
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for experiment, rounds in drawn:
        xs = [r.number for r in rounds]
        ys = [r.dev_pass1 for r in rounds]
        low = [r.dev_pass1 - r.dev_interval[0] if r.dev_interval else 0 for r in rounds]
        high = [r.dev_interval[1] - r.dev_pass1 if r.dev_interval else 0 for r in rounds]
        line = axes.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=experiment.name)
        best = next((r for r in rounds if r.number == experiment.best_round), None)
        if best is not None:
            axes.scatter([best.number], [best.dev_pass1], s=160, facecolors="none", edgecolors=line[0].get_color())
    axes.set_xlabel("evolution round (0 = seed set only)")
    axes.set_ylabel("dev pass@1 (%), greedy, 95% Wilson interval")
    axes.set_title("Dev pass@1 per round (circled: the round kept)")
    axes.set_xticks(sorted({r.number for _, rounds in drawn for r in rounds}))
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    _save(plt, figure, path)
    return True


def plot_train_loss(experiments: list[Experiment], path: Path) -> bool:
    """Every round's training loss curve."""
    curves = [(f"{e.name} round {r.number}", r.losses) for e in experiments for r in e.rounds if r.losses]
    if not curves:
        return False
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for label, points in curves:
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 50 else None, label=label)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss (response tokens)")
    axes.set_title("Training loss of each round's student")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    _save(plt, figure, path)
    return True


def plot_evolve(experiments: list[Experiment], path: Path) -> bool:
    """Per-heuristic attempted and kept evolutions (all rounds), and the elimination reasons; for
    verified runs a middle panel splits each heuristic's verified answers by how verification ended,
    and the reasons reached while verifying are drawn in their own colour."""
    prefix = len(experiments) > 1
    heuristics, reasons, verified = _evolve_counts(experiments, prefix)
    if not heuristics:
        return False
    plt = _pyplot()
    panels = 3 if verified else 2
    rows = max(len(heuristics), len(reasons), len(verified), 4)
    figure, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 0.4 * rows + 2))
    _heuristics_panel(axes[0], heuristics)
    if verified:
        _verification_panel(axes[1], verified)
    _reasons_panel(axes[-1], reasons, verified_colours=bool(verified))
    _save(plt, figure, path)
    return True


def _evolve_counts(
    experiments: list[Experiment], prefix: bool
) -> tuple[dict[str, list[int]], dict[str, int], dict[str, list[int]]]:
    """Summed over rounds: heuristic -> [attempted, kept], reason -> count and, where verified,
    heuristic -> [passed on the first try, passed on a later try, eliminated by verification]."""
    heuristics: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    verified: dict[str, list[int]] = {}
    for experiment in experiments:
        label = f"{experiment.display}: " if prefix else ""
        for round_ in experiment.rounds:
            for name, (tried, kept) in round_.heuristics.items():
                _add(heuristics, label + name, [tried, kept])
            for reason, count in round_.eliminations.items():
                reasons[label + reason] = reasons.get(label + reason, 0) + count
            for name, c in round_.verification.items():
                _add(verified, label + name, [c.passed - c.later, c.later, c.verified - c.passed])
    return heuristics, reasons, verified


def _add(totals: dict[str, list[int]], key: str, counts: list[int]) -> None:
    totals[key] = [a + b for a, b in zip(totals.get(key, [0] * len(counts)), counts, strict=True)]


def _heuristics_panel(axes: Any, heuristics: dict[str, list[int]]) -> None:
    names = sorted(heuristics)
    positions = range(len(names))
    axes.barh([p - 0.2 for p in positions], [heuristics[n][0] for n in names], height=0.4, label="attempted")
    axes.barh([p + 0.2 for p in positions], [heuristics[n][1] for n in names], height=0.4, label="kept")
    axes.set_yticks(list(positions))
    axes.set_yticklabels(names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("evolutions (all rounds)")
    axes.set_title("Per heuristic")
    axes.legend(fontsize=8)


VERIFY_PARTS = (
    ("passed on the first try", "#55a868"),
    ("passed on a later try", "#8fd19e"),
    ("eliminated by verification", "#8172b3"),
)


def _verification_panel(axes: Any, verified: dict[str, list[int]]) -> None:
    """Stacked bars: each heuristic's verified answers, kept (first or later try) or eliminated."""
    names = sorted(verified)
    left = [0] * len(names)
    for part, (label, colour) in enumerate(VERIFY_PARTS):
        widths = [verified[n][part] for n in names]
        axes.barh(range(len(names)), widths, left=left, height=0.6, color=colour, label=label)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(range(len(names)))
    axes.set_yticklabels(names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("answers verified (all rounds)")
    axes.set_title("Verification (--verify tests) per heuristic")
    axes.legend(fontsize=8)


def _reasons_panel(axes: Any, reasons: dict[str, int], verified_colours: bool) -> None:
    ordered = sorted(reasons.items(), key=lambda item: -item[1])
    colours = [VERIFY_PARTS[2][1] if VERIFY_PREFIX in r else "#c44e52" for r, _ in ordered]
    axes.barh(range(len(ordered)), [c for _, c in ordered], color=colours)
    axes.set_yticks(range(len(ordered)))
    axes.set_yticklabels([r for r, _ in ordered], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("eliminated evolutions")
    axes.set_title("Elimination reasons" if ordered else "Elimination reasons (none)")
    if verified_colours:
        from matplotlib.patches import Patch

        handles = [Patch(color="#c44e52", label="text rules"), Patch(color=VERIFY_PARTS[2][1], label="verification")]
        axes.legend(handles=handles, fontsize=8)

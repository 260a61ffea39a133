"""Figure 1 drawn with real matplotlib: nothing of ours hidden behind the legend or cut off."""

from __future__ import annotations

from pathlib import Path

from matplotlib.patches import Rectangle

from evolcoder.report.experiment import Score
from evolcoder.report.figures import fig1_figure, plot_fig1
from evolcoder.report.published import Setting, load_published


def _score(benchmark: str, value: float, label: str) -> Score:
    return Score(
        experiment="strong",
        model="m",
        label=label,
        benchmark=benchmark,
        value=value,
        passed=round(value * 1.64),
        n=164,
        setting=Setting("greedy", 1, 0.0),
        interval=(value - 7.0, min(100.0, value + 6.0)),
        manifest=None,
    )


def test_long_bars_of_ours_are_not_hidden_by_the_legend_and_the_title_is_whole(tmp_path: Path) -> None:
    # Ours come last, at the bottom, where the legend used to sit inside the axes.
    values = [("base", 88.0), ("tuned", 95.0)]
    scores = [_score(b, v, label) for label, v in values for b in ("humaneval", "humaneval+")]
    figure = fig1_figure(load_published(), scores)
    figure.tight_layout()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent(renderer)
    bars = [p for p in axes.patches if isinstance(p, Rectangle) and p.get_width() > 0]
    assert len(bars) >= 4
    assert not [bar for bar in bars if bar.get_window_extent(renderer).overlaps(legend)]
    path = tmp_path / "fig1.png"
    assert plot_fig1(load_published(), scores, path)
    from matplotlib.image import imread

    saved = imread(path)
    title = axes.title.get_window_extent(renderer)
    assert saved.shape[1] >= title.width  # the saved image is at least as wide as the title

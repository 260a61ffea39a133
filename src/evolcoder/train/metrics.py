"""Training metrics: one JSONL row per logged step, appended as it happens, and a loss-curve PNG.

A resumed run first cuts ``metrics.jsonl`` back to the checkpoint's step: the rows logged after it
are trained again, so keeping them would give the steps twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolcoder.jsonl import read_rows, write_rows_atomic
from evolcoder.records import METRICS_FILE, Metrics

__all__ = ["METRICS_FILE", "PLOT_FILE", "ROW_FIELDS", "plot_loss", "read_metrics", "trim_metrics"]

PLOT_FILE = "loss.png"
# The Trainer's logged values a row keeps (``Metrics`` fields), in the row's order.
ROW_FIELDS = ("loss", "learning_rate", "grad_norm", "entropy", "mean_token_accuracy", "num_tokens")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics file; a last line cut short by a kill is dropped (and removed from the file)."""
    return [row for _, row in read_rows(path) if row is not None]


def trim_metrics(path: Path, last_step: int) -> None:
    """Keep only the rows up to ``last_step``, rewriting the file beside and renaming it into place."""
    rows = read_metrics(path)
    kept = [row for row in rows if Metrics.from_row(row, require=("step",)).step <= last_step]
    if len(kept) == len(rows):
        return
    write_rows_atomic(path, kept)


def plot_loss(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """The training loss against the optimizer step, as a PNG (matplotlib's file backend, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in rows if "loss" in row]
    losses = [row["loss"] for row in rows if "loss" in row]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(steps, losses, marker="." if len(steps) < 50 else None)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss (response tokens)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

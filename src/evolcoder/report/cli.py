"""The ``evolcoder report`` command: parse the arguments and call :func:`build_report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_command(
    experiment_dirs: Annotated[
        list[Path],
        typer.Argument(help="Experiment folders written by `evolcoder run` (each holds summary.json)"),
    ],
    output_dir: Annotated[
        Path,
        typer.Option("--output-dir", help="Where report.md and the PNG figures are written"),
    ] = Path("report"),
) -> None:
    """Write a markdown report and PNG figures comparing the experiments with the published numbers."""
    from evolcoder.report.build import build_report
    from evolcoder.report.published import PublishedError

    absent = [str(d) for d in experiment_dirs if not d.is_dir()]
    if absent:
        message = f"not a folder: {', '.join(absent)} (give folders written by `evolcoder run`)"
        typer.echo(f"evolcoder: error: {message}", err=True)
        raise typer.Exit(2)
    try:
        path = build_report(experiment_dirs, output_dir)
    except PublishedError as error:
        typer.echo(f"evolcoder: error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"report: {path}")

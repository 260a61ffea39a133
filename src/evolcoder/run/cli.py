"""The ``evolcoder run`` command: its flags are RunConfig's options; it calls ``run_experiment`` or ``dry_run``."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated

import typer

from evolcoder import options
from evolcoder.run.config import RunConfig

DRY_RUN = inspect.Parameter(
    "dry_run",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[bool, typer.Option("--dry-run", help="Check everything and print the stages; run nothing")],
)


@options.command(RunConfig, preset_kind="run", extra=[DRY_RUN])
def run_command(cfg: RunConfig, dry_run: bool = False) -> None:
    """The paper's loop: evolve, train, pick the round on the dev set, test; resumable, in one folder."""
    from evolcoder.run.pipeline import RunStopped, run_experiment

    if dry_run:
        _print_dry_run(cfg)
        return
    try:
        summary = run_experiment(cfg)
    except RunStopped as exc:
        print(f"evolcoder: run stopped: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    _print_summary(summary, cfg.output_dir)


def _print_dry_run(cfg) -> None:
    from evolcoder.run.dryrun import dry_run

    report = dry_run(cfg)
    print(f"experiment {cfg.name} in {cfg.output_dir}")
    for line in report.checks:
        print(f"  ok    {line}")
    for line in report.notes:
        print(f"  note  {line}")
    for line in report.problems:
        print(f"  ERROR {line}")
    print("stages:")
    for line in report.plan:
        print(f"  {line}")
    if not report.ok:
        raise typer.Exit(2)


def _print_summary(summary: dict, exp: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['name']}: dev pass@1 per round (best evolved: {summary.get('best_round')})")
    for column in ("round", "pairs", "dev pass@1", "passed"):
        table.add_column(column, justify="right")
    for entry in summary["rounds"]:
        score = entry.get("dev_pass@1")
        passed = f"{entry.get('dev_passed')}/{entry.get('dev_n')}"
        table.add_row(
            str(entry["round"]), str(entry.get("n_pairs")), f"{100 * score:.1f}" if score is not None else "-", passed
        )
    tests = Table(title="test pass@1")
    for column in ("model", "benchmark", "pass@1", "passed", "tasks"):
        tests.add_column(column)
    for row in summary["test"]:
        tests.add_row(
            row["model"], row["benchmark"], f"{100 * row['pass@1']:.1f}", str(row["passed"]), str(row["n_tasks"])
        )
    console = Console()
    console.print(table)
    console.print(tests)
    print(f"summary: {exp / 'summary.json'}")

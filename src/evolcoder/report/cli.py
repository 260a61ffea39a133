"""The ``evolcoder report`` command: its arguments are ReportConfig's options; it calls :func:`build_report`."""

from __future__ import annotations

from evolcoder import options
from evolcoder.errors import UserError
from evolcoder.report.config import ReportConfig


@options.command(ReportConfig)
def report_command(cfg: ReportConfig) -> None:
    """Write a markdown report and PNG figures comparing the experiments with the published numbers."""
    from evolcoder.report.build import build_report

    absent = [str(d) for d in cfg.experiment_dirs if not d.is_dir()]
    if absent:
        raise UserError(f"not a folder: {', '.join(absent)} (give folders written by `evolcoder run`)")
    print(f"report: {build_report(cfg.experiment_dirs, cfg.output_dir)}")

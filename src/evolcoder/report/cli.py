"""The ``evolcoder report`` command: its arguments are ReportConfig's options; it calls :func:`build_report`."""

from __future__ import annotations

from evolcoder import options
from evolcoder.errors import UserError
from evolcoder.report.config import ReportConfig


@options.command(ReportConfig)
def report_command(cfg: ReportConfig) -> None:
    """Write report.md, PNG figures and a browsable report.html from experiment or eval folders."""
    from evolcoder.report.build import build_report
    from evolcoder.report.html import HTML_FILE

    absent = [str(d) for d in cfg.folders if not d.is_dir()]
    if absent:
        raise UserError(
            f"not a folder: {', '.join(absent)} (give folders written by `evolcoder run` or `evolcoder eval`)"
        )
    print(f"report: {build_report(cfg.folders, cfg.output_dir, data_dir=cfg.data_dir)}")
    print(f"html: {cfg.output_dir / HTML_FILE}")

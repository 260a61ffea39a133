"""Options of ``evolcoder report``, each written once here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.options import check, data_dir_option, option


@dataclass
class ReportConfig:
    """Options of ``evolcoder report``."""

    folders: list[Path] = option(
        help="Experiment folders written by `evolcoder run` (summary.json) and eval folders written by "
        "`evolcoder eval` (eval_results.json), in any mix",
        positional=True,
    )
    output_dir: Path = option(Path("report"), help="Where report.md, report.html and the PNG figures are written")
    data_dir: Path | None = data_dir_option()

    def __post_init__(self) -> None:
        check(self)

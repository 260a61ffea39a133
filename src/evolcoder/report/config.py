"""Options of ``evolcoder report``, each written once here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.options import check, option


@dataclass
class ReportConfig:
    """Options of ``evolcoder report``."""

    experiment_dirs: list[Path] = option(
        help="Experiment folders written by `evolcoder run` (each holds summary.json)", positional=True
    )
    output_dir: Path = option(Path("report"), help="Where report.md and the PNG figures are written")

    def __post_init__(self) -> None:
        check(self)

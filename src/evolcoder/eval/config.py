"""Options of ``evolcoder eval``: each written once here; the CLI, ``--help`` and the YAML loader come from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.bench import BENCHMARKS, traits
from evolcoder.errors import UserError
from evolcoder.options import check, data_dir_option, option, progress_option


@dataclass
class EvalConfig:
    """Options of ``evolcoder eval`` (also accepted from a YAML file)."""

    benchmark: str = option(help="The benchmark the samples answer", choices=BENCHMARKS)
    samples: Path = option(help="JSONL of {task_id, solution|completion} (EvalPlus's samples format)")
    output_dir: Path | None = option(
        None, help="Where verdicts.jsonl and eval_results.json go", show_default="<samples stem>_eval beside it"
    )
    workers: int | None = option(None, help="Sandboxes run at once", min=1, show_default="every core")
    details: bool = option(False, help="Run every test, or stop at the first failure", flag="--details/--fail-fast")
    data_dir: Path | None = data_dir_option()
    k: list[int] = option(help="pass@k values to report (repeatable)", min=1, default_factory=lambda: [1, 10, 100])
    min_time_limit: float = option(1.0, help="CPU seconds per test input, at least", above=0)
    time_limit_factor: float = option(4.0, help="x the reference solution's CPU time on that input", above=0)
    memory_mb: int | None = option(
        None, help="Address-space limit of a sandbox, MiB", min=64, show_default="4096; DS-1000 8192"
    )
    library: list[str] = option(
        help="DS-1000: only these libraries (repeatable, or comma-separated)", default_factory=list
    )
    limit: int | None = option(None, help="Only the samples of the first K (selected) tasks", min=1)
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        check(self)
        if not self.k:
            raise UserError("--k needs at least one value")
        if self.memory_mb is None:
            self.memory_mb = traits(self.benchmark).default_memory_mb
        if self.library and not traits(self.benchmark).libraries:
            raise UserError("--library selects DS-1000 problems; it does not apply to " + self.benchmark)

    def resolved_output_dir(self) -> Path:
        return self.output_dir or self.samples.with_name(self.samples.stem + "_eval")

"""``evolcoder run --dry-run``: resolve and check everything a run needs, start nothing.

Checks the config (it validates itself and the evolve/train options it passes on), the benchmark
names, that the data files are present, the seeds, the train preset, the accelerate launch (through
accelerate's own parsing, ``evolcoder.train.launch.dry_run``), the backends and the teacher's key
variable; then lists the stages. No model is loaded and no GPU job is started.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from evolcoder.errors import UserError
from evolcoder.run.config import RunConfig
from evolcoder.run.pipeline import planned_stages, resolve_test_benchmarks
from evolcoder.run.stages import stage_record

# Optional engines: the backend name is valid everywhere; the package is needed where the run happens.
OPTIONAL_MODULES = {"vllm": "pip install 'evolcoder[vllm]'"}


@dataclass
class DryRun:
    plan: list[str] = field(default_factory=list)  # one line per stage, with its state
    checks: list[str] = field(default_factory=list)  # what was checked and found good
    notes: list[str] = field(default_factory=list)  # worth knowing, not blocking
    problems: list[str] = field(default_factory=list)  # each one stops a real run

    @property
    def ok(self) -> bool:
        return not self.problems


def dry_run(config: RunConfig) -> DryRun:
    report = DryRun()
    benchmarks = _benchmarks(config, report)
    _data(config, benchmarks, report)
    _train(config, report)
    _backends(config, report)
    for name, kind in planned_stages(config, benchmarks):
        record = stage_record(config.output_dir, name)
        state = record.status if record else "to run"
        report.plan.append(f"{name:<40} {kind:<9} {state}")
    return report


def _benchmarks(config: RunConfig, report: DryRun) -> list[str]:
    try:
        benchmarks, notes = resolve_test_benchmarks(config)
    except UserError as exc:
        report.problems.append(str(exc))
        return []
    report.notes += notes
    report.checks.append(f"dev set {config.dev_benchmark}, test benchmarks {', '.join(benchmarks)}")
    return benchmarks


def _data(config: RunConfig, benchmarks: list[str], report: DryRun) -> None:
    from evolcoder.bench import BENCHMARKS, get_benchmark
    from evolcoder.data import DATA_FILES, DataError, resolve_data_file

    keys: dict[str, None] = {}
    evolve = config.evolve_config(config.output_dir / "evolve", config.rounds)
    for bench in [config.dev_benchmark, *benchmarks, *evolve.decontaminate]:
        if bench in BENCHMARKS:
            keys |= dict.fromkeys(get_benchmark(bench).DATA_KEYS)
    if config.seed_data in DATA_FILES:
        keys[config.seed_data] = None
    elif config.seed_data.startswith("hf:"):
        report.notes.append(f"seed data {config.seed_data}: an HF dataset, read when the run starts")
    elif not Path(config.seed_data).is_file():
        report.problems.append(f"--seed-data {config.seed_data}: file not found")
    present = []
    for key in keys:
        try:
            resolve_data_file(key, config.data_dir, download=False, progress=False)
            present.append(key)
        except DataError as exc:  # the message says where to get the file
            report.problems.append(f"data file {key}: {exc}")
    report.checks.append(f"data files present: {', '.join(present)}")


def _train(config: RunConfig, report: DryRun) -> None:
    train = config.train_config(Path("DATA"), Path("OUT"))  # validated when the config was built
    mode = "LoRA" if train.lora else "full fine-tuning"
    report.checks.append(
        f"train preset {config.train_preset}: {mode}, batch {train.batch_size}, lr {train.learning_rate},"
        f" {train.epochs} epochs, max length {train.max_length}"
        + (f", at most {train.max_steps} steps" if train.max_steps else "")
    )
    _student(config, report)
    if config.accelerate_config is None:
        return
    from evolcoder.train.launch import dry_run as launch_dry_run

    try:
        plan = launch_dry_run(config.accelerate_config, tuple(config.accelerate_args))
    except Exception as exc:  # accelerate raises ValueError, FileNotFoundError, SystemExit-free errors
        report.problems.append(f"--accelerate-config {config.accelerate_config}: {exc}")
        return
    stage = plan.details.get("zero_stage")
    report.checks.append(
        f"accelerate launch: {plan.engine}"
        + (f" ZeRO-{stage}" if stage is not None else "")
        + f", {plan.num_processes} processes on {plan.num_machines} machine(s), {plan.mixed_precision}"
    )


def _student(config: RunConfig, report: DryRun) -> None:
    student = config.student
    if student == "default":
        report.checks.append("student: the embedded SmolLM2-135M (converted once to safetensors)")
    elif student.startswith((".", "/", "~")) or Path(student).expanduser().exists():
        if not Path(student).expanduser().exists():
            report.problems.append(f"--student {student}: folder not found")
        else:
            report.checks.append(f"student: local model {student}")
    else:
        report.notes.append(
            f"student {student}: a hub id, loaded from the HF cache (or downloaded) when training starts"
        )


def _backends(config: RunConfig, report: DryRun) -> None:
    for role, backend in (("teacher", config.teacher_backend), ("generation", config.gen_backend)):
        module = backend if backend in OPTIONAL_MODULES else None
        if module and importlib.util.find_spec(module) is None:
            report.notes.append(f"{role} backend {backend}: not installed here ({OPTIONAL_MODULES[module]})")
        else:
            report.checks.append(f"{role} backend {backend}")
    if config.teacher_backend == "openai":
        state = "set" if os.environ.get(config.teacher_api_key_env) else "NOT set in this shell"
        report.checks.append(
            f"teacher {config.teacher} at {config.teacher_base_url}, key from ${config.teacher_api_key_env} ({state})"
        )
        if state != "set":
            report.notes.append(f"set ${config.teacher_api_key_env} before the real run")

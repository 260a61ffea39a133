"""The ``evolcoder run`` command: parses flags, then calls ``run_experiment`` or ``dry_run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def _fail(message: str) -> None:
    print(f"evolcoder: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def run_command(
    config: Annotated[Path | None, typer.Option(help="YAML file with these options (over the preset)")] = None,
    preset: Annotated[str | None, typer.Option(help="cpu-mini or paper (configs/run/NAME.yaml)")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="The experiment folder EXP (resumes)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the stages; run nothing")
    ] = False,
    name: Annotated[str | None, typer.Option(help="The experiment's name in summary.json")] = None,
    teacher_backend: Annotated[str | None, typer.Option(help="llamacpp, hf, openai or vllm")] = None,
    teacher: Annotated[str | None, typer.Option(help="Teacher model: 'default', a .gguf, a folder or a name")] = None,
    teacher_base_url: Annotated[str | None, typer.Option(help="openai teacher: server URL ending in /v1")] = None,
    teacher_api_key_env: Annotated[str | None, typer.Option(help="openai teacher: env variable with the key")] = None,
    teacher_concurrency: Annotated[int | None, typer.Option()] = None,
    seed_data: Annotated[str | None, typer.Option(help="code_alpaca_2k, code_alpaca_20k, a file or hf:NAME")] = None,
    seed_limit: Annotated[int | None, typer.Option(help="Only the first K seeds")] = None,
    rounds: Annotated[int | None, typer.Option(help="At most K evolution rounds")] = None,
    patience: Annotated[int | None, typer.Option(help="Rounds without a higher dev pass@1 before stopping")] = None,
    evolve_option: Annotated[
        list[str] | None, typer.Option(help="An evolve option KEY=VALUE, e.g. answer_max_tokens=256 (repeatable)")
    ] = None,
    student: Annotated[str | None, typer.Option(help="Base model: 'default', an HF folder or hub id")] = None,
    student_label: Annotated[str | None, typer.Option(help="How the summary names the base model")] = None,
    train_preset: Annotated[str | None, typer.Option(help="cpu-demo or paper")] = None,
    train_option: Annotated[
        list[str] | None, typer.Option(help="A train option KEY=VALUE over the preset, e.g. max_steps=20 (repeatable)")
    ] = None,
    accelerate_config: Annotated[Path | None, typer.Option(help="Train under accelerate launch with this file")] = None,
    gen_backend: Annotated[str | None, typer.Option(help="hf, vllm or llamacpp (the default student only)")] = None,
    gen_concurrency: Annotated[int | None, typer.Option()] = None,
    prompt_style: Annotated[str | None, typer.Option(help="Tuned models: paper, chat or base")] = None,
    base_prompt_style: Annotated[str | None, typer.Option(help="The base model: paper, chat or base")] = None,
    n: Annotated[int | None, typer.Option(help="Samples per task")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 = greedy")] = None,
    top_p: Annotated[float | None, typer.Option()] = None,
    gen_seed: Annotated[int | None, typer.Option()] = None,
    dev_benchmark: Annotated[str | None, typer.Option(help="The dev set (default mbpp-dev: Mbpp/511-974)")] = None,
    dev_limit: Annotated[int | None, typer.Option(help="Only the first N dev tasks")] = None,
    dev_max_new_tokens: Annotated[int | None, typer.Option()] = None,
    test_benchmarks: Annotated[str | None, typer.Option(help="Comma-separated: humaneval+,mbpp+,ds1000")] = None,
    test_limit: Annotated[int | None, typer.Option(help="Only the first N tasks of each test benchmark")] = None,
    test_max_new_tokens: Annotated[int | None, typer.Option()] = None,
    require_ds1000: Annotated[bool | None, typer.Option("--require-ds1000/--optional-ds1000")] = None,
    eval_workers: Annotated[int | None, typer.Option(help="Sandboxes at once (default: every core)")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
) -> None:
    """The paper's loop: evolve, train, pick the round on the dev set, test; resumable, in one folder."""
    flags = {
        k: v for k, v in locals().items() if k not in ("config", "preset", "dry_run", "evolve_option", "train_option")
    }
    from evolcoder.data import DataError
    from evolcoder.run.config import load_run_config, parse_options
    from evolcoder.run.pipeline import RunStopped, run_experiment

    try:
        flags["evolve"] = parse_options(evolve_option, "--evolve-option")
        flags["train"] = parse_options(train_option, "--train-option")
        cfg = load_run_config(preset, config, flags)
        if dry_run:
            _print_dry_run(cfg)
            return
        summary = run_experiment(cfg)
    except (ValueError, DataError) as exc:  # ConfigError, InputError, DataError: the message says what to do
        _fail(str(exc))
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

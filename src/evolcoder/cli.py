"""The ``evolcoder`` command: parses flags and calls the functions where the work lives."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evolcoder import options
from evolcoder.errors import UserError
from evolcoder.eval.config import EvalConfig
from evolcoder.evol.config import EvolutionsConfig, EvolveConfig
from evolcoder.generate.config import ExtractConfig, GenerateConfig
from evolcoder.train.config import TrainConfig

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="WizardCoder, openly: evolve, train, generate, evaluate."
)
data_app = typer.Typer(no_args_is_help=True, help="Benchmark data: download into the cache, verify.")
app.add_typer(data_app, name="data")


def _fail(message: str) -> None:
    print(f"evolcoder: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


@app.command("eval")
@options.command(EvalConfig)
def eval_command(cfg: EvalConfig) -> None:
    """Judge a samples file in the sandbox and report pass@k (EvalPlus's formats)."""
    from evolcoder.eval.runner import evaluate

    print_pass_at_k(evaluate(cfg))
    print(f"results: {cfg.resolved_output_dir() / 'eval_results.json'}")


@app.command("generate")
@options.command(GenerateConfig)
def generate_command(cfg: GenerateConfig) -> None:
    """Sample solutions from a model into an EvalPlus samples file (raw text kept beside)."""
    from evolcoder.generate.runner import generate

    print(f"samples: {generate(cfg)}")


@app.command("extract")
@options.command(ExtractConfig)
def extract_command(cfg: ExtractConfig) -> None:
    """Extract the program to test from each raw model answer (the counterpart of evalplus.sanitize)."""
    from evolcoder.generate.extract import extract_file

    summary = extract_file(cfg)
    print(
        f"{summary.rows} rows: {summary.parse} programs parse, {summary.define_entry_point} define the "
        f"task's function\nprograms: {summary.output}"
    )


@app.command("evolve")
@options.command(EvolveConfig)
def evolve_command(cfg: EvolveConfig) -> None:
    """Code Evol-Instruct: evolve seed instructions with a teacher model, round by round."""
    from evolcoder.evol.pipeline import evolve

    result = evolve(cfg)
    for folder in result.datasets:
        stats = json.loads((folder / "stats.json").read_text())
        print(f"{folder}: {stats['pairs']} pairs {stats['by_source']}")
    if result.stopped:
        print(f"stopped early: {result.stopped}; run the same command again to go on")


@app.command("evolutions")
@options.command(EvolutionsConfig)
def evolutions_command(cfg: EvolutionsConfig) -> None:
    """Show a few evolutions of an evolve run (before, after, answer) and the kept counts per heuristic."""
    from evolcoder.evol.show import show

    print(show(cfg))


@app.command("presets")
def presets_command(
    path: Annotated[str | None, typer.Option(help="Print only the file of this preset, e.g. train/cpu-demo")] = None,
) -> None:
    """List the shipped presets (run, train, accelerate): use one with --preset NAME, or copy its file."""
    from evolcoder.presets import all_presets, describe, preset_path

    if path is not None:
        kind, _, name = path.partition("/")
        try:
            print(preset_path(kind, name))
        except UserError as exc:
            _fail(str(exc))
        return
    table = Table(title="presets (--preset NAME)")
    for column in ("kind", "name", "what", "file"):
        table.add_column(column)
    for kind, name, file in all_presets():
        table.add_row(kind, name, describe(file), str(file))
    Console(width=200).print(table)


@app.command("setup")
def setup_command(
    name: Annotated[str, typer.Argument(help="What to set up: ds1000 (the pinned DS-1000 environment)")],
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Then run one reference solution per library in it")
    ] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Benchmark files for --check")] = None,
) -> None:
    """Create the separate, pinned environment a benchmark runs in (once), then show its versions."""
    if name.lower() != "ds1000":
        _fail(f"unknown setup target {name!r}; choose: ds1000")
    from evolcoder.execution.ds1000_env import (
        DS1000EnvError,
        ensure_env,
        env_versions,
        pinned_versions,
        version_mismatches,
    )

    try:
        python = ensure_env(progress=True)
        versions = env_versions(python)
    except DS1000EnvError as exc:
        _fail(str(exc))
    print(f"interpreter\t{python}")
    for package in ("python", *pinned_versions()):
        print(f"{package}\t{versions.get(package)}")
    for line in version_mismatches(versions):
        print(f"evolcoder: warning: not the pinned version: {line}", file=sys.stderr)
    if not check:
        return
    from evolcoder.bench import ds1000

    try:
        tasks = ds1000.load(data_dir)
        failed = 0
        for library in ds1000.LIBRARIES:
            task = next(t for t in tasks if t.library == library and t.problem_id not in ds1000.NEEDS_NETWORK)
            result = ds1000.run_reference(task, python, data_dir)
            failed += not result.passed
            print(f"check\t{task.task_id}\t{library}\t{'passed' if result.passed else 'FAILED'}\t{result.seconds:.1f}s")
            if not result.passed:
                print(result.output[-2000:], file=sys.stderr)
    except (UserError, DS1000EnvError) as exc:
        _fail(str(exc))
    if failed:
        raise typer.Exit(1)


@app.command("train")
@options.command(TrainConfig)
def train_command(cfg: TrainConfig) -> None:
    """Instruction-tune a model on Alpaca data (TRL SFT, loss on the responses; resumes after a kill)."""
    from evolcoder.train import train

    result = train(cfg)
    loss = "n/a" if result.final_loss is None else f"{result.final_loss:.4f}"
    print(f"trained {result.steps} steps ({result.batching} batches), final loss {loss}, {result.runtime_s:.0f}s")
    print(f"model: {result.output_dir}")
    print(f"next: evolcoder generate --backend hf --model {result.output_dir} --prompt-style paper --benchmark ...")


def print_pass_at_k(results: dict) -> None:
    table = Table(title=f"{results['benchmark']} pass@k")
    table.add_column("tests")
    ks = list(results["pass_at_k"]["base"])
    for k in ks:
        table.add_column(k, justify="right")
    table.add_column("tasks", justify="right")
    table.add_column("samples", justify="right")
    tasks = f"{results['n_tasks']}/{results['n_tasks_total']}" + (" (subset)" if results["subset"] else "")
    name = results["benchmark"].rstrip("+")
    for label, scores in (("base", results["pass_at_k"]["base"]), ("base + plus", results["pass_at_k"]["plus"])):
        if scores:
            title = f"{results['benchmark']} ({label})" if results["benchmark"].endswith("+") else name
            table.add_row(title, *[f"{100 * scores[k]:.1f}" for k in ks], tasks, str(results["n_samples"]))
    for group in ("per_library", "per_perturbation"):
        for name, row in results.get(group, {}).items():
            table.add_row(f"  {name}", *[f"{100 * row[k]:.1f}" for k in ks], str(row["n_tasks"]), "")
    Console().print(table)
    print_failures(results)


def print_failures(results: dict) -> None:
    """How the failing samples divide per test set (syntax error, name/import error, wrong output ...)."""
    sets = {name: counts for name, counts in results.get("failures", {}).items() if counts}
    if not sets:
        return
    table = Table(title=f"{results['benchmark']}: why samples failed (first failing test of each)")
    table.add_column("failure")
    for name in sets:
        table.add_column("plus (after base passed)" if name == "plus" else name, justify="right")
    for label in dict.fromkeys(label for counts in sets.values() for label in counts):
        table.add_row(label, *[str(counts.get(label, 0)) for counts in sets.values()])
    Console().print(table)


@app.command("reference-samples")
def reference_samples(
    benchmark: Annotated[str, typer.Option(help="humaneval, humaneval+, mbpp, mbpp+ or ds1000")],
    output: Annotated[Path, typer.Option(help="Samples file to write")],
    limit: Annotated[int | None, typer.Option(help="Only the first N tasks")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Write the reference solutions as a samples file (a self-check of the harness)."""
    from evolcoder.bench import get_benchmark

    try:
        tasks = get_benchmark(benchmark).load(data_dir)
    except UserError as exc:
        _fail(str(exc))
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w") as f:
        for task in tasks[:limit]:
            f.write(json.dumps({"task_id": task.task_id, "solution": task.reference}) + "\n")
    print(f"wrote {min(len(tasks), limit or len(tasks))} reference solutions to {output}")


@data_app.command("fetch")
def data_fetch(
    keys: Annotated[list[str] | None, typer.Argument(help="Files to fetch (default: all with a checksum)")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Download the benchmark files into the cache (or check them in --data-dir)."""
    from evolcoder.data import fetch_all

    try:
        paths = fetch_all(keys or None, data_dir)
    except UserError as exc:
        _fail(str(exc))
    for key, path in paths.items():
        print(f"{key}\t{path}")


@data_app.command("verify")
def data_verify(data_dir: Annotated[Path | None, typer.Option()] = None) -> None:
    """Show which benchmark files are present and intact."""
    from evolcoder.data import verify_all

    states = verify_all(data_dir)
    for key, state in states.items():
        print(f"{key}\t{state}")
    if any(s == "checksum mismatch" for s in states.values()):
        raise typer.Exit(1)


def _register_commands() -> None:
    """Commands whose flags live beside their code (one module per part of the system)."""
    from evolcoder.report.cli import report_command
    from evolcoder.run.cli import run_command

    app.command("run")(run_command)
    app.command("report")(report_command)


_register_commands()


if __name__ == "__main__":
    app()

"""The ``evolcoder`` command: parses flags and calls the functions where the work lives."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="WizardCoder, openly: evolve, train, generate, evaluate."
)
data_app = typer.Typer(no_args_is_help=True, help="Benchmark data: download into the cache, verify.")
app.add_typer(data_app, name="data")

USER_ERRORS: tuple[type[Exception], ...] = (ValueError,)


def _fail(message: str) -> None:
    print(f"evolcoder: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def _user_errors() -> tuple[type[Exception], ...]:
    from evolcoder.config import ConfigError
    from evolcoder.data import DataError
    from evolcoder.eval.samples import InputError

    return (InputError, ConfigError, DataError, ValueError)


def _run(config_class: type, config_file: Path | None, flags: dict, command: Callable) -> tuple[Any, Any]:
    """Build a command's config (defaults < YAML < flags) and run it; user errors exit 2."""
    from evolcoder.config import build_config

    try:
        cfg = build_config(config_class, config_file, flags)
        return cfg, command(cfg)
    except _user_errors() as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


@app.command("eval")
def eval_command(
    benchmark: Annotated[str | None, typer.Option(help="humaneval, humaneval+, mbpp, mbpp+ or ds1000")] = None,
    samples: Annotated[Path | None, typer.Option(help="JSONL of {task_id, solution|completion}")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Where verdicts.jsonl and eval_results.json go")] = None,
    workers: Annotated[int | None, typer.Option(help="Sandboxes run at once (default: every core)")] = None,
    details: Annotated[
        bool | None, typer.Option("--details/--fail-fast", help="Run every test, or stop at the first failure")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder with the benchmark files (else $EVOLCODER_DATA_DIR or the cache)")
    ] = None,
    k: Annotated[list[int] | None, typer.Option(help="pass@k values to report (repeatable)")] = None,
    min_time_limit: Annotated[float | None, typer.Option(help="Minimum CPU seconds per test input")] = None,
    time_limit_factor: Annotated[float | None, typer.Option(help="x reference CPU time per test input")] = None,
    memory_mb: Annotated[
        int | None, typer.Option(help="Address-space limit of a sandbox, MiB (default 4096; DS-1000 8192)")
    ] = None,
    library: Annotated[
        list[str] | None, typer.Option(help="DS-1000: only these libraries (repeatable, or comma-separated)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the samples of the first K tasks")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with these options")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
) -> None:
    """Judge a samples file in the sandbox and report pass@k (EvalPlus's formats)."""
    from evolcoder.eval.runner import EvalConfig, evaluate

    flags = dict(
        benchmark=benchmark,
        samples=samples,
        output_dir=output_dir,
        workers=workers,
        details=details,
        data_dir=data_dir,
        k=k or None,
        min_time_limit=min_time_limit,
        time_limit_factor=time_limit_factor,
        memory_mb=memory_mb,
        library=library or None,
        limit=limit,
        progress=progress,
    )
    cfg, results = _run(EvalConfig, config, flags, evaluate)
    print_pass_at_k(results)
    print(f"results: {cfg.resolved_output_dir() / 'eval_results.json'}")


@app.command("generate")
def generate_command(
    benchmark: Annotated[str | None, typer.Option(help="humaneval, humaneval+, mbpp, mbpp+ or ds1000")] = None,
    output: Annotated[Path | None, typer.Option(help="Samples JSONL to append to (resumes)")] = None,
    backend: Annotated[str | None, typer.Option(help="llamacpp (default), hf, openai or vllm")] = None,
    model: Annotated[
        str | None, typer.Option(help="'default' (embedded SmolLM2-135M), a .gguf path, an HF folder or hub id")
    ] = None,
    prompt_style: Annotated[str | None, typer.Option(help="paper, chat or base")] = None,
    base_url: Annotated[str | None, typer.Option(help="openai backend: server URL ending in /v1")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="openai backend: env variable holding the key")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Sequences decoded together (llamacpp, hf) or requests in flight (openai)")
    ] = None,
    n: Annotated[int | None, typer.Option(help="Samples per task")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 = greedy")] = None,
    top_p: Annotated[float | None, typer.Option()] = None,
    max_new_tokens: Annotated[int | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first K tasks")] = None,
    task_ids: Annotated[list[str] | None, typer.Option(help="Only these tasks (repeatable)")] = None,
    library: Annotated[
        list[str] | None, typer.Option(help="DS-1000: only these libraries (repeatable, or comma-separated)")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with these options")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
) -> None:
    """Sample solutions from a model into an EvalPlus samples file (raw text kept beside)."""
    from evolcoder.generate.runner import GenerateConfig, generate

    flags = dict(
        benchmark=benchmark,
        output=output,
        backend=backend,
        model=model,
        prompt_style=prompt_style,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        limit=limit,
        task_ids=task_ids or None,
        library=library or None,
        data_dir=data_dir,
        progress=progress,
    )
    _, path = _run(GenerateConfig, config, flags, generate)
    print(f"samples: {path}")


@app.command("extract")
def extract_command(
    benchmark: Annotated[str | None, typer.Option(help="humaneval, humaneval+, mbpp, mbpp+ or ds1000")] = None,
    samples: Annotated[
        Path | None, typer.Option(help="JSONL of {task_id, response|solution|completion}: generations made elsewhere")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="JSONL of {task_id, solution, raw} for evolcoder eval")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with these options")] = None,
) -> None:
    """Extract the program to test from each raw model answer (the counterpart of evalplus.sanitize)."""
    from evolcoder.generate.extract import ExtractConfig, extract_file

    flags = dict(benchmark=benchmark, samples=samples, output=output, data_dir=data_dir)
    _, summary = _run(ExtractConfig, config, flags, extract_file)
    print(
        f"{summary.rows} rows: {summary.parse} programs parse, {summary.define_entry_point} define the "
        f"task's function\nprograms: {summary.output}"
    )


@app.command("evolve")
def evolve_command(
    output_dir: Annotated[Path | None, typer.Option(help="Folder for the rounds and datasets (resumes)")] = None,
    seed_data: Annotated[
        str | None, typer.Option(help="Seed file (Code Alpaca JSON/JSONL), code_alpaca_2k, code_alpaca_20k or hf:NAME")
    ] = None,
    seed_columns: Annotated[str | None, typer.Option(help="hf seeds: instruction=COL,input=COL,output=COL")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first K seeds")] = None,
    rounds: Annotated[int | None, typer.Option(help="Evolution rounds")] = None,
    teacher_backend: Annotated[str | None, typer.Option(help="llamacpp (default), hf, openai or vllm")] = None,
    teacher: Annotated[str | None, typer.Option(help="Teacher model: 'default', a .gguf, a folder or a name")] = None,
    base_url: Annotated[str | None, typer.Option(help="openai teacher: server URL ending in /v1")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="openai teacher: env variable holding the key")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight / sequences decoded together")] = None,
    heuristic_weights: Annotated[str | None, typer.Option(help="e.g. constraints=1,complexity=0.25")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the heuristic draws and the teacher's sampling")] = None,
    temperature: Annotated[float | None, typer.Option()] = None,
    top_p: Annotated[float | None, typer.Option()] = None,
    evolve_max_tokens: Annotated[int | None, typer.Option(help="Token limit of a rewritten instruction")] = None,
    answer_max_tokens: Annotated[int | None, typer.Option(help="Token limit of an answer")] = None,
    judge_equal: Annotated[bool | None, typer.Option("--judge-equal/--no-judge-equal")] = None,
    run_code: Annotated[bool | None, typer.Option("--run-code/--no-run-code")] = None,
    decontaminate: Annotated[
        str | None, typer.Option(help="Benchmarks to decontaminate against, comma-separated ('' = off)")
    ] = None,
    dedup_threshold: Annotated[float | None, typer.Option(help="MinHash near-dedup threshold (0 = off)")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Stop cleanly after this many teacher tokens")] = None,
    max_cost: Annotated[float | None, typer.Option(help="Stop cleanly at this estimated cost (USD)")] = None,
    price_input: Annotated[float | None, typer.Option(help="USD per million prompt tokens")] = None,
    price_output: Annotated[float | None, typer.Option(help="USD per million completion tokens")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with these options")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
) -> None:
    """Code Evol-Instruct: evolve seed instructions with a teacher model, round by round."""
    flags = {name: value for name, value in locals().items() if name != "config"}
    from evolcoder.evol.pipeline import EvolveConfig, evolve

    _, result = _run(EvolveConfig, config, flags, evolve)
    for folder in result.datasets:
        stats = json.loads((folder / "stats.json").read_text())
        print(f"{folder}: {stats['pairs']} pairs {stats['by_source']}")
    if result.stopped:
        print(f"stopped early: {result.stopped}; run the same command again to go on")


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
    except (*_user_errors(), DS1000EnvError) as exc:
        _fail(str(exc))
    if failed:
        raise typer.Exit(1)


@app.command("train")
def train_command(
    data: Annotated[
        str | None, typer.Option(help="Alpaca JSON/JSONL ({instruction, input, output}), code_alpaca_2k or a round dir")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="'default' (embedded SmolLM2-135M), an HF folder, a .gguf or a hub id")
    ] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Final model, checkpoints, metrics (resumes)")] = None,
    preset: Annotated[str | None, typer.Option(help="paper or cpu-demo (flags and --config override it)")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first K examples")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps")] = None,
    epochs: Annotated[float | None, typer.Option()] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per optimizer step, all devices")] = None,
    micro_batch_size: Annotated[int | None, typer.Option(help="Examples per forward pass per device")] = None,
    learning_rate: Annotated[float | None, typer.Option()] = None,
    lr_scheduler: Annotated[str | None, typer.Option(help="cosine, linear, constant or constant_with_warmup")] = None,
    warmup_steps: Annotated[int | None, typer.Option()] = None,
    weight_decay: Annotated[float | None, typer.Option()] = None,
    max_length: Annotated[int | None, typer.Option(help="Tokens per example (or per packed row)")] = None,
    precision: Annotated[str | None, typer.Option(help="auto, fp32, bf16 or fp16")] = None,
    gradient_checkpointing: Annotated[
        bool | None, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing")
    ] = None,
    batching: Annotated[str | None, typer.Option(help="auto, padding-free, packing or padded")] = None,
    attn_implementation: Annotated[
        str | None, typer.Option(help="auto, sdpa, eager, flash_attention_2, flash_attention_3 or flex_attention")
    ] = None,
    lora: Annotated[bool | None, typer.Option("--lora/--full", help="LoRA adapters, or full fine-tuning")] = None,
    lora_r: Annotated[int | None, typer.Option()] = None,
    lora_alpha: Annotated[int | None, typer.Option()] = None,
    lora_dropout: Annotated[float | None, typer.Option()] = None,
    save_steps: Annotated[int | None, typer.Option(help="A checkpoint every N steps")] = None,
    save_total_limit: Annotated[int | None, typer.Option(help="Checkpoints kept")] = None,
    logging_steps: Annotated[int | None, typer.Option(help="A metrics row every N steps")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    resume: Annotated[
        bool | None, typer.Option("--resume/--no-resume", help="Default: resume when a checkpoint exists")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with these options")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
) -> None:
    """Instruction-tune a model on Alpaca data (TRL SFT, loss on the responses; resumes after a kill)."""
    flags = {name: value for name, value in locals().items() if name != "config"}
    from evolcoder.train import TrainConfig, train

    _, result = _run(TrainConfig, config, flags, train)
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
    except _user_errors() as exc:
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
    except _user_errors() as exc:
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

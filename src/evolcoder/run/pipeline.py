"""``evolcoder run``: the paper's loop as stages of one experiment folder.

Round 0 is the seed set. For k = 1..K: evolve round k from the pool, write the round-k dataset
(seed + rounds 1..k), train a fresh student on it, generate and judge its answers on the dev set
(MBPP's train and validation tasks); go on while dev pass@1 rises (``patience`` rounds without a
new best stop it). Then the base model, SFT on the seed (round 0) and SFT on the best evolved round
are evaluated on the test benchmarks. Layout of EXP::

    manifest.json, summary.json, stages/<stage>.json      config, versions, hashes; results; records
    evolve/rounds/round_k.jsonl                            every evolution attempt (evolve's folder)
    rounds/round_k/{data.jsonl,alpaca.json,stats.json,...} the round-k dataset
    rounds/round_k/train/                                  the student trained on it
    rounds/round_k/dev/samples.jsonl, dev/eval/            its dev answers and verdicts
    test/<model>/<benchmark>/samples.jsonl, eval/          test answers and verdicts
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evolcoder.bench import BENCHMARKS, traits
from evolcoder.errors import UserError
from evolcoder.run.config import OPTIONAL_BENCHMARKS, RUN_NOT_SHAPING, RunConfig
from evolcoder.run.stages import Progress, Stage, hash_file, hash_json, hash_lines, run_stage

EVOLVE_DIR = "evolve"
DATASET_FILES = ("data.jsonl", "alpaca.json", "hf", "removed.jsonl", "stats.json", "README.md")
TEST_MODELS = ("base", "seed-sft", "evol-sft")
# What a stage's hash leaves out: throughput knobs and places, which do not change its output.
GEN_NOT_HASHED = ("output", "model", "concurrency", "data_dir", "progress")
SETTINGS_FILE = "run_settings.json"


class RunStopped(Exception):
    """The run cannot go on as configured (an evolve budget ran out); the same command resumes it."""


@dataclass
class State:
    """What this invocation has established so far; ``summary.json`` is written from it."""

    reached: list[int] = field(default_factory=list)  # rounds whose stages ran (or were up to date)
    finished: set[str] = field(default_factory=set)  # stage names run or skipped in this invocation
    dev: dict[int, dict] = field(default_factory=dict)  # round -> dev scores
    best_round: int | None = None
    test: list[tuple[str, str]] = field(default_factory=list)  # (model, benchmark) evaluated
    notes: list[str] = field(default_factory=list)


def round_dir(k: int) -> str:
    return f"rounds/round_{k}"


def resolve_test_benchmarks(config: RunConfig) -> tuple[list[str], list[str]]:
    """(benchmarks to run, notes on the optional ones skipped); an unknown name is an error."""
    chosen, notes = [], []
    for name in config.test_benchmarks:
        if name in OPTIONAL_BENCHMARKS:
            missing = _setup_missing(name)
            if missing and config.require_ds1000:
                raise UserError(f"--test-benchmarks {name}: {missing} (or drop --require-ds1000)")
            if missing:
                notes.append(f"{name} skipped: {missing}")
                continue
        elif name == config.dev_benchmark:
            raise UserError(f"--test-benchmarks: {name} is the dev set that picks the round; test on others")
        elif name not in BENCHMARKS:
            raise UserError(f"--test-benchmarks: unknown benchmark {name!r}; choose from: {', '.join(BENCHMARKS)}")
        chosen.append(name)
    return chosen, notes


def _setup_missing(name: str) -> str | None:
    """Why optional benchmark ``name`` cannot run here, or None."""
    if name not in BENCHMARKS:
        return f"this evolcoder has no {name} benchmark registered"
    check = traits(name).setup_missing
    return None if check is None else check()


def check_run_settings(config: RunConfig, exp: Path) -> None:
    """Refuse to go on in ``exp`` with settings other than those it was run with, naming the first one.

    Each stage would rerun what a change touches and delete its old outputs; that is kept for
    ``--rerun-changed``, which records the new settings. Otherwise a run into the wrong folder, or
    with a mistyped option, would silently throw away finished rounds.
    """
    from evolcoder.resume import check_settings, write_json_atomic

    shaping = {k: v for k, v in config.to_dict().items() if k not in RUN_NOT_SHAPING}
    settings = json.loads(json.dumps(shaping, default=str))  # a Path inside evolve: or train: as text
    path = exp / SETTINGS_FILE
    if config.rerun_changed:
        write_json_atomic(path, settings)
        return
    way_out = "use a new --output-dir, or --rerun-changed to rerun the stages the change touches"
    labels = {"evolve": "--evolve-option", "train": "--train-option"}
    check_settings(path, settings, way_out=way_out, labels=labels)


def planned_stages(config: RunConfig, benchmarks: list[str]) -> list[tuple[str, str]]:
    """(name, kind) of every stage the run may take, in order (early stopping may skip rounds)."""
    plan = []
    for k in range(config.rounds + 1):
        if k:
            plan.append((f"evolve/round_{k}", "evolve"))
        plan += [(f"{kind}/round_{k}", kind) for kind in ("dataset", "train", "dev-gen", "dev-eval")]
    for model in TEST_MODELS:
        for bench in benchmarks:
            plan += [(f"test-gen/{model}/{bench}", "test-gen"), (f"test-eval/{model}/{bench}", "test-eval")]
    return plan


# ---- the loop ---------------------------------------------------------------------------------


def run_experiment(config: RunConfig) -> dict[str, Any]:
    """Run (or resume) the experiment in ``config.output_dir``; returns the summary it wrote."""
    from evolcoder.run.manifest import seeds_fingerprint, write_manifest
    from evolcoder.run.summary import dev_scores, write_summary

    exp = config.output_dir
    benchmarks, notes = resolve_test_benchmarks(config)
    check_run_settings(config, exp)
    seeds_hash = seeds_fingerprint(config)
    write_manifest(config, exp, notes, benchmarks, seeds_hash)
    state = State(notes=notes)
    progress = Progress(exp, planned_stages(config, benchmarks), enabled=config.progress)

    def step(stage: Stage) -> str:
        output_hash = run_stage(exp, stage, progress)
        state.finished.add(stage.name)
        if stage.kind == "dev-eval":
            state.dev[stage.round] = dev_scores(exp / round_dir(stage.round) / "dev" / "eval" / "eval_results.json")
            state.best_round = best_evolved_round(state.dev)
        write_summary(config, exp, state)
        return output_hash

    train_hashes = run_rounds(config, exp, seeds_hash, state, progress, step)
    models = {
        "base": (base_model_for_generation(config), hash_json({"model": config.student}), config.base_prompt_style),
        "seed-sft": (str(exp / round_dir(0) / "train"), train_hashes[0], config.prompt_style),
        "evol-sft": (
            str(exp / round_dir(state.best_round) / "train"),
            train_hashes[state.best_round],
            config.prompt_style,
        ),
    }
    for model, (path, model_hash, style) in models.items():
        for bench in benchmarks:
            samples_hash = step(test_gen_stage(config, exp, model, bench, path, model_hash, style))
            step(eval_stage(config, exp, f"test-eval/{model}/{bench}", f"test/{model}/{bench}", bench, samples_hash))
            state.test.append((model, bench))
    return write_summary(config, exp, state)


def run_rounds(
    config: RunConfig, exp: Path, seeds_hash: str, state: State, progress: Progress, step: Callable[[Stage], str]
) -> dict[int, str]:
    """Rounds 0..K with early stopping on dev pass@1; returns each round's train output hash."""
    evolve_hashes: list[str] = []
    train_hashes: dict[int, str] = {}
    best_score, stale = -1.0, 0
    for k in range(config.rounds + 1):
        state.reached.append(k)
        if k:
            evolve_hashes.append(step(evolve_stage(config, exp, k, seeds_hash, evolve_hashes)))
        data_hash = step(dataset_stage(config, exp, k, seeds_hash, evolve_hashes))
        train_hashes[k] = step(train_stage(config, exp, k, data_hash))
        samples_hash = step(dev_gen_stage(config, exp, k, train_hashes[k]))
        step(eval_stage(config, exp, f"dev-eval/round_{k}", f"{round_dir(k)}/dev", config.dev_benchmark, samples_hash))
        if state.dev[k]["pass@1"] > best_score:
            best_score, stale = state.dev[k]["pass@1"], 0
        elif k:
            stale += 1
            if stale >= config.patience:
                progress.drop({name for name, _ in planned_stages(config, []) if _round_of(name) > k})
                break
    return train_hashes


def base_model_for_generation(config: RunConfig) -> str:
    """The base student as the generate stages load it.

    With llama.cpp and the embedded default, the base goes through the same float32 folder and GGUF
    export as the trained students, so base and students are generated at the same precision.
    """
    if config.gen_backend == "llamacpp" and config.student == "default":
        from evolcoder.llm.convert import resolve_hf_model

        return resolve_hf_model("default")[0]
    return config.student


def best_evolved_round(dev: dict[int, dict]) -> int | None:
    """The evolved round (k >= 1) with the highest dev pass@1; the earliest wins a tie."""
    evolved = [k for k in dev if k >= 1]
    return max(evolved, key=lambda k: (dev[k]["pass@1"], -k)) if evolved else None


def _round_of(name: str) -> int:
    return int(name.rsplit("round_", 1)[1]) if "round_" in name else -1


# ---- the stages -------------------------------------------------------------------------------


def evolve_stage(config: RunConfig, exp: Path, k: int, seeds_hash: str, evolve_hashes: list[str]) -> Stage:
    from evolcoder.evol.config import FROZEN_FIELDS

    evolve_config = config.evolve_config(exp / EVOLVE_DIR, k)
    settings = {name: getattr(evolve_config, name) for name in FROZEN_FIELDS}
    inputs = {"round": k, "seeds": seeds_hash, "settings": settings, "previous": evolve_hashes[: k - 1]}
    outputs = [f"{EVOLVE_DIR}/rounds/round_{k}.jsonl", f"{EVOLVE_DIR}/round_{k}"]
    if k == 1:
        outputs.append(f"{EVOLVE_DIR}/evolve_config.json")  # evolve's own record of the frozen settings

    def work() -> None:
        from evolcoder.evol.pipeline import evolve

        result = evolve(evolve_config)
        if result.rounds_done < k:
            raise RunStopped(f"evolve round {k} stopped: {result.stopped}; raise the budget and run again")

    rounds_file = exp / outputs[0]
    return Stage(f"evolve/round_{k}", "evolve", inputs, outputs, work, lambda: hash_lines(rounds_file), k)


def dataset_stage(config: RunConfig, exp: Path, k: int, seeds_hash: str, evolve_hashes: list[str]) -> Stage:
    """Seed + the kept pairs of rounds 1..k, decontaminated and deduplicated (evolve's own writer)."""
    dataset_config = config.evolve_config(exp / "rounds", max(k, 1))
    settings = {"decontaminate": dataset_config.decontaminate, "dedup_threshold": dataset_config.dedup_threshold}
    inputs = {"round": k, "seeds": seeds_hash, "settings": settings, "evolve": evolve_hashes[:k]}
    folder = round_dir(k)

    def work() -> None:
        from evolcoder.evol.dataset import write_round_dataset
        from evolcoder.evol.pipeline import read_round
        from evolcoder.evol.seeds import load_seeds

        seeds = load_seeds(config.seed_data, dataset_config.seed_columns or None, config.seed_limit)
        evolve_config = config.evolve_config(exp / EVOLVE_DIR, max(k, 1))
        records = [read_round(evolve_config, r) for r in range(1, k + 1)]
        write_round_dataset(dataset_config, seeds, records, complete=True, stopped=None)

    outputs = [f"{folder}/{name}" for name in DATASET_FILES]
    return Stage(f"dataset/round_{k}", "dataset", inputs, outputs, work, lambda: hash_file(exp / outputs[0]), k)


def train_stage(config: RunConfig, exp: Path, k: int, data_hash: str) -> Stage:
    from evolcoder.train.runner import RECORD_FILE

    out = exp / round_dir(k) / "train"
    train_config = config.train_config(exp / round_dir(k), out)
    settings = {key: v for key, v in train_config.to_dict().items() if key not in ("data", "output_dir", "progress")}
    launcher = None
    if config.accelerate_config:
        launcher = {"config": hash_file(config.accelerate_config), "args": config.accelerate_args}
    inputs = {"round": k, "data": data_hash, "settings": settings, "accelerate": launcher}

    def work() -> None:
        if config.accelerate_config:
            launch_train(config, train_config, exp / round_dir(k) / "train.yaml")
        else:
            from evolcoder.train import train

            train(train_config)

    def fingerprint() -> str | None:
        record = out / RECORD_FILE
        done = record.is_file() and json.loads(record.read_text()).get("status") == "complete"
        return hash_file(record) if done else None

    return Stage(f"train/round_{k}", "train", inputs, [f"{round_dir(k)}/train"], work, fingerprint, k)


def launch_train(config: RunConfig, train_config: Any, config_file: Path) -> None:
    """Several GPUs or machines: ``accelerate launch ... -m evolcoder.cli train --config FILE``."""
    values = train_config.to_dict()
    config_file.write_text(yaml.safe_dump(values, sort_keys=False))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config.accelerate_config)]
    command += [*config.accelerate_args, "-m", "evolcoder.cli", "train", "--config", str(config_file)]
    subprocess.run(command, check=True)


def generate_config(config: RunConfig, bench: str, output: Path, model: str, style: str, dev: bool) -> Any:
    from evolcoder.generate.config import GenerateConfig

    return GenerateConfig(
        benchmark=bench,
        output=output,
        backend=config.gen_backend,
        model=model,
        prompt_style=style,
        n=config.n,
        temperature=config.temperature,
        top_p=config.top_p,
        max_new_tokens=config.dev_max_new_tokens if dev else config.test_max_new_tokens,
        seed=config.gen_seed,
        concurrency=config.gen_concurrency,
        limit=config.dev_limit if dev else config.test_limit,
        data_dir=config.data_dir,
        progress=config.progress,
    )


def _gen_stage(name: str, kind: str, gen_config: Any, model_hash: str, exp: Path, k: int | None = None) -> Stage:
    from dataclasses import asdict

    settings = {key: v for key, v in asdict(gen_config).items() if key not in GEN_NOT_HASHED}
    inputs = {"model": model_hash, "settings": settings}

    def work() -> None:
        from evolcoder.generate.runner import generate

        generate(gen_config)

    from evolcoder.generate.runner import settings_path

    output = gen_config.output
    outputs = [str(output.relative_to(exp)), str(settings_path(output).relative_to(exp))]  # a rerun starts both afresh
    return Stage(name, kind, inputs, outputs, work, lambda: hash_lines(output), k)


def dev_gen_stage(config: RunConfig, exp: Path, k: int, train_hash: str) -> Stage:
    folder = exp / round_dir(k)
    gen_config = generate_config(
        config, config.dev_benchmark, folder / "dev" / "samples.jsonl", str(folder / "train"), config.prompt_style, True
    )
    return _gen_stage(f"dev-gen/round_{k}", "dev-gen", gen_config, train_hash, exp, k)


def test_gen_stage(
    config: RunConfig, exp: Path, model: str, bench: str, path: str, model_hash: str, style: str
) -> Stage:
    output = exp / "test" / model / bench / "samples.jsonl"
    gen_config = generate_config(config, bench, output, path, style, False)
    return _gen_stage(f"test-gen/{model}/{bench}", "test-gen", gen_config, model_hash, exp)


def eval_stage(config: RunConfig, exp: Path, name: str, folder: str, bench: str, samples_hash: str) -> Stage:
    from dataclasses import asdict

    from evolcoder.eval.config import EvalConfig

    eval_config = EvalConfig(
        benchmark=bench,
        samples=exp / folder / "samples.jsonl",
        output_dir=exp / folder / "eval",
        workers=config.eval_workers,
        data_dir=config.data_dir,
        progress=config.progress,
    )
    places = ("samples", "output_dir", "workers", "data_dir", "progress")
    settings = {k: v for k, v in asdict(eval_config).items() if k not in places}

    def work() -> None:
        from evolcoder.eval.runner import evaluate

        evaluate(eval_config)

    results = exp / folder / "eval" / "eval_results.json"
    kind = name.split("/", 1)[0]
    k = _round_of(name) if kind == "dev-eval" else None
    inputs = {"samples": samples_hash, "settings": settings}
    return Stage(name, kind, inputs, [f"{folder}/eval"], work, lambda: hash_file(results), k)

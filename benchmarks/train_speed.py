"""Training throughput of ``evolcoder train`` against the paper's recipe, same data and model, one run.

* ``paper recipe``  WizardCoder's ``train_wizardcoder.py`` set-up: a plain transformers ``Trainer``,
                    every batch padded to its longest example, no packing, the model's own loss over
                    the full logits;
* ``evolcoder``     ``evolcoder train``'s own trainer (``evolcoder.train.runner.prepare``: TRL's
                    SFTTrainer, padding-free batches by default, and a loss that projects only the
                    response positions onto the vocabulary: TRL's fused LM head on a GPU with
                    Triton, ``logits_to_keep`` elsewhere, see ``evolcoder/train/trainer.py``);
                    ``--modes`` adds packing or padded batches.

Both get the same tokenized examples (the paper's template, loss on the response and EOS), the
same optimizer, schedule, seed, batch and precision, so with padding-free batches both see the
same examples in each step and their loss curves must agree step by step. Each method runs in its
own process, one after the other.

Reported: non-pad tokens per second (the real tokens of the batches, padding excluded, over the
wall time of steps 2..N: step 1 warms up), the padding share, peak memory of the training loop
(resident memory above the loaded model on CPU; ``max_memory_allocated`` on a GPU), the losses and
the largest step-by-step loss difference from the paper recipe. On a GPU, MFU from 6 x parameters
x tokens plus the attention term, over the card's dense bf16 peak. A shared machine slows some
runs: ``--repeat 2`` runs the methods in A B B A order and reports the median rate of each, with
every run's rate beside it, and the median single-step time (the steps see the same examples in
both methods, so that column compares like with like). On a CPU that other jobs share, run with
``OMP_NUM_THREADS=1``: a multi-threaded step stalls whenever one of its threads is preempted, which
made steps several times slower and the rates useless (the header prints the torch thread count).

Usage (from the repository root)::

    .venv/bin/python benchmarks/train_speed.py --steps 30 --repeat 2            # SmolLM2-135M, 2k Code Alpaca
    .venv/bin/python benchmarks/train_speed.py --model /path/tiny --steps 60 --modes padding-free packing
    .venv/bin/python benchmarks/train_speed.py --epochs 1 --batch-size 32 --micro-batch-size 32   # a GPU: one epoch
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Dense bf16 peaks (TFLOP/s) for MFU; other cards: --peak-tflops.
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


# ---------------------------------------------------------------------------------------------
# measuring inside a worker
# ---------------------------------------------------------------------------------------------


class Meter:
    """Counts the tokens every training forward pass sees, and samples memory while training runs."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.real = self.total = 0
        self.peak_rss = self.base_rss = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        """A forward pre-hook: real tokens from the attention mask, else (padding-free) every input token."""
        ids = kwargs.get("input_ids")
        if ids is None or not module.training:
            return
        mask = kwargs.get("attention_mask")
        self.real += int(mask.sum()) if mask is not None else ids.numel()
        self.total += ids.numel()

    def start(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        self.base_rss = self.peak_rss = _rss()
        self._thread.start()

    def stop(self) -> float:
        """Peak training memory in MiB."""
        self._stop.set()
        self._thread.join()
        if self.device == "cuda":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        return (self.peak_rss - self.base_rss) / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_rss = max(self.peak_rss, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def clock_callback(meter: Meter):
    """Times steps 2..N and keeps every step's loss."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.losses: dict[int, float] = {}
            self.step_s: list[float] = []  # wall time of each step after the first
            self.start = self.end = 0.0
            self.first = (0, 0)
            self.last = (0, 0)

        def on_step_end(self, args, state, control, **kwargs) -> None:
            now, counts = time.perf_counter(), (meter.real, meter.total)
            if state.global_step == 1:
                self.start, self.first = now, counts
            else:
                self.step_s.append(now - self.end)
            self.end, self.last = now, counts

        def on_log(self, args, state, control, logs=None, **kwargs) -> None:
            if logs and "loss" in logs:
                self.losses[state.global_step] = float(logs["loss"])

    return Clock()


def worker(spec: dict) -> dict:
    """One method, in this process; returns its measurements."""
    import torch

    torch.manual_seed(spec["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer, n_params, setup = (_evolcoder_trainer if spec["method"] == "evolcoder" else _paper_trainer)(spec)
    meter = Meter(device)
    trainer.model.register_forward_pre_hook(meter.hook, with_kwargs=True)
    clock = clock_callback(meter)
    trainer.add_callback(clock)
    meter.start()
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    peak_mib = meter.stop()
    steps = trainer.state.global_step
    seconds = clock.end - clock.start
    real = clock.last[0] - clock.first[0]
    total = clock.last[1] - clock.first[1]
    return {
        "method": spec["method"],
        "batching": setup["batching"],
        "attn_implementation": setup["attn_implementation"],
        "precision": setup["precision"],
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "threads": torch.get_num_threads(),
        "steps": steps,
        "wall_s": wall,
        "timed_steps": steps - 1,
        "timed_s": seconds,
        "real_tokens": real,
        "pad_share": 1 - real / total if total else 0.0,
        "tokens_per_s": real / seconds if seconds > 0 else float("nan"),
        "s_per_step": seconds / max(steps - 1, 1),
        "median_step_s": statistics.median(clock.step_s) if clock.step_s else float("nan"),
        "peak_mib": peak_mib,
        "losses": clock.losses,
        "n_params": n_params,
        "avg_len": spec["avg_len"],
    }


def _config(spec: dict, batching: str):
    from evolcoder.train import TrainConfig

    return TrainConfig(
        data=spec["data"],
        model=spec["model"],
        output_dir=Path(spec["work"]) / f"{spec['method']}-{batching}".replace(" ", "-"),
        limit=spec["limit"],
        max_steps=spec["steps"],
        epochs=spec["epochs"],
        batch_size=spec["batch_size"],
        micro_batch_size=spec["micro_batch_size"],
        max_length=spec["max_length"],
        learning_rate=spec["learning_rate"],
        warmup_steps=spec["warmup_steps"],
        lr_scheduler="cosine",
        precision=spec["precision"],
        gradient_checkpointing=spec["gradient_checkpointing"],
        lora=spec["lora"],
        batching=batching,
        save_steps=10**9,  # no checkpoints inside the timed loop
        seed=spec["seed"],
        resume=False,
        progress=False,
    )


def _evolcoder_trainer(spec: dict) -> tuple[Any, int, dict]:
    from evolcoder.train.runner import prepare

    run = prepare(_config(spec, spec["batching"]))
    return run.trainer, _count_params(run.trainer.model), run.setup


def _paper_trainer(spec: dict) -> tuple[Any, int, dict]:
    """The paper's script: plain Trainer, padding to the longest example of each batch, the model's loss."""
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from evolcoder.llm.convert import resolve_hf_model
    from evolcoder.train.data import load_records, tokenize_records
    from evolcoder.train.runner import load_model, load_tokenizer, training_setup

    config = _config(spec, "padded")
    path, options = resolve_hf_model(config.model)
    tokenizer = load_tokenizer(path, options, config.model)
    columns, _ = tokenize_records(load_records(config.data, config.limit)[1], tokenizer, config.max_length)
    setup = training_setup(config)
    model = load_model(path, options, config.model, setup["attn_implementation"])
    if config.lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            task_type="CAUSAL_LM", r=config.lora_r, lora_alpha=config.lora_alpha, target_modules="all-linear"
        )
        model = get_peft_model(model, lora)
    args = TrainingArguments(
        output_dir=str(config.output_dir),
        per_device_train_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=setup["accumulation_steps"],
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        bf16=setup["precision"] == "bf16",
        fp16=setup["precision"] == "fp16",
        activation_checkpointing=config.gradient_checkpointing,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        dataloader_pin_memory=torch.cuda.is_available(),
    )

    def pad_to_longest(examples: list[dict]) -> dict:  # train_wizardcoder.py's DataCollatorForSupervisedDataset
        width = max(len(e["input_ids"]) for e in examples)
        ids = [e["input_ids"] + [tokenizer.pad_token_id] * (width - len(e["input_ids"])) for e in examples]
        labels = [e["labels"] + [-100] * (width - len(e["labels"])) for e in examples]
        # from the lengths, not ``ids != pad``: SmolLM2's pad token is its EOS, which is trained
        mask = [[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"])) for e in examples]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}

    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict(columns), data_collator=pad_to_longest)
    return trainer, _count_params(model), setup | {"batching": "padded to longest"}


def _count_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


def run_worker(spec: dict, work: Path) -> dict:
    spec_file = work / f"{spec['method']}-{spec['batching']}.json".replace(" ", "-")
    spec_file.write_text(json.dumps(spec))
    result_file = spec_file.with_suffix(".result.json")
    command = [sys.executable, __file__, "--worker", str(spec_file), "--result", str(result_file)]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        sys.exit(f"{spec['method']} ({spec['batching']}) failed:\n{process.stderr[-4000:]}")
    return json.loads(result_file.read_text())


def mfu(result: dict, peak_tflops: float | None) -> float | None:
    """Model FLOPs utilisation: (6 N + 12 L d s) per token (training, attention term at the mean length)."""
    if not peak_tflops:
        return None
    flops_per_token = 6 * result["n_params"] + result.get("attention_flops_per_token", 0)
    return flops_per_token * result["tokens_per_s"] / (peak_tflops * 1e12)


def loss_gap(result: dict, baseline: dict) -> float | None:
    mine, theirs = result["losses"], baseline["losses"]
    common = [step for step in mine if step in theirs]
    return max(abs(mine[step] - theirs[step]) for step in common) if common else None


def average_length(spec: dict) -> float:
    """Mean tokens per example (for the attention FLOPs term)."""
    from evolcoder.llm.convert import resolve_hf_model
    from evolcoder.train.data import load_records, tokenize_records
    from evolcoder.train.runner import load_tokenizer

    path, options = resolve_hf_model(spec["model"])
    tokenizer = load_tokenizer(path, options, spec["model"])
    _, stats = tokenize_records(load_records(spec["data"], spec["limit"])[1], tokenizer, spec["max_length"])
    return stats.tokens / stats.examples


def summarize(runs: list[dict]) -> dict:
    """One row from the repeats of a method: median rates (a busy machine slows some runs), worst memory."""
    first = runs[0]
    rates = [run["tokens_per_s"] for run in runs]
    return first | {
        "tokens_per_s": statistics.median(rates),
        "all_tokens_per_s": rates,
        "s_per_step": statistics.median(run["s_per_step"] for run in runs),
        "median_step_s": statistics.median(run["median_step_s"] for run in runs),
        "peak_mib": max(run["peak_mib"] for run in runs),
    }


def print_table(rows: list[dict], peak_tflops: float | None, console: Console) -> None:
    baseline = rows[0]
    table = Table(title="train speed: non-pad tokens/s, same data, model and hyperparameters")
    columns = ("method", "batching", "steps", "pad %", "s/step", "median step s", "tok/s", "runs tok/s", "speedup")
    for column in (*columns, "peak MiB", "loss 1st", "loss last", "max |Δloss|", "MFU"):
        table.add_column(column, justify="left" if column in ("method", "batching", "runs tok/s") else "right")
    for row in rows:
        first, last = (row["losses"][min(row["losses"])], row["losses"][max(row["losses"])])
        gap = loss_gap(row, baseline) if row is not baseline else None
        utilisation = mfu(row, peak_tflops)
        table.add_row(
            row["method"],
            row["batching"],
            str(row["steps"]),
            f"{100 * row['pad_share']:.0f}",
            f"{row['s_per_step']:.2f}",
            f"{row['median_step_s']:.2f}",
            f"{row['tokens_per_s']:.0f}",
            " ".join(f"{rate:.0f}" for rate in row["all_tokens_per_s"]),
            f"{row['tokens_per_s'] / baseline['tokens_per_s']:.2f}x",
            f"{row['peak_mib']:.0f}",
            f"{first:.4f}",
            f"{last:.4f}",
            "-" if gap is None else f"{gap:.4f}",
            "-" if utilisation is None else f"{100 * utilisation:.1f}%",
        )
    console.print(table)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for result in results:
        steps = sorted(result["losses"])
        axes.plot(steps, [result["losses"][s] for s in steps], label=f"{result['method']} ({result['batching']})")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default="code_alpaca_2k")
    parser.add_argument("--limit", type=int, default=None, help="only the first K examples")
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps (ignored with --epochs)")
    parser.add_argument("--epochs", type=float, default=None, help="train whole epochs instead of --steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--modes", nargs="+", default=["padding-free"], help="evolcoder batching modes to time")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method, in A B B A order; medians reported")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--peak-tflops", type=float, default=None, help="for MFU; known GPUs are looked up")
    parser.add_argument("--output-dir", type=Path, default=None, help="results JSON and loss-curve PNG")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        options.result.write_text(json.dumps(worker(json.loads(options.worker.read_text()))))
        return

    console = Console(width=max(Console().width, 200))
    work = Path(tempfile.mkdtemp(prefix="train-speed-"))
    spec = {
        "model": options.model,
        "data": options.data,
        "limit": options.limit,
        "steps": None if options.epochs else options.steps,
        "epochs": options.epochs or 1.0,
        "batch_size": options.batch_size,
        "micro_batch_size": options.micro_batch_size,
        "max_length": options.max_length,
        "learning_rate": options.learning_rate,
        "warmup_steps": options.warmup_steps,
        "precision": options.precision,
        "gradient_checkpointing": options.gradient_checkpointing,
        "lora": options.lora,
        "seed": options.seed,
        "work": str(work),
    }
    spec["avg_len"] = average_length(spec)
    methods = [("paper recipe", "padded")] + [("evolcoder", mode) for mode in options.modes]
    runs: dict[tuple[str, str], list[dict]] = {method: [] for method in methods}
    for repeat in range(options.repeat):  # A B B A ...: a slow spell of the machine hits both sides
        for method, batching in methods if repeat % 2 == 0 else reversed(methods):
            runs[method, batching].append(run_worker(spec | {"method": method, "batching": batching}, work))
    shutil.rmtree(work, ignore_errors=True)
    layers, hidden = _layers_hidden(options.model)
    for result in (run for group in runs.values() for run in group):
        result["losses"] = {int(step): loss for step, loss in result["losses"].items()}
        result["attention_flops_per_token"] = 12 * layers * hidden * result["avg_len"]
    results = [summarize(group) for group in runs.values()]
    device = results[0]["device"]
    peak = options.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in device), None)
    console.print(
        f"model {options.model}, data {options.data} ({options.limit or 'all'} examples), batch"
        f" {options.batch_size} (micro {options.micro_batch_size}), max length {options.max_length},"
        f" {'LoRA' if options.lora else 'full fine-tuning'}, {results[0]['precision']}, device {device}"
        f" ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, {results[0]['threads']} torch"
        f" threads),"
        f" {results[0]['n_params'] / 1e6:.0f}M parameters, mean example {spec['avg_len']:.0f} tokens"
    )
    print_table(results, peak, console)
    if options.output_dir:
        options.output_dir.mkdir(parents=True, exist_ok=True)
        all_runs = [run for group in runs.values() for run in group]
        (options.output_dir / "train_speed.json").write_text(
            json.dumps({"spec": spec, "results": results, "runs": all_runs}, indent=1)
        )
        plot(results, options.output_dir / "train_speed_loss.png")
        console.print(f"results: {options.output_dir / 'train_speed.json'}")


def _layers_hidden(model: str) -> tuple[int, int]:
    from transformers import AutoConfig

    from evolcoder.llm.convert import resolve_hf_model

    path, options = resolve_hf_model(model)
    config = AutoConfig.from_pretrained(path, **options).get_text_config()
    return config.num_hidden_layers, config.hidden_size


if __name__ == "__main__":
    main()

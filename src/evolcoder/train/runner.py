"""``evolcoder train``: instruction tuning on TRL's SFTTrainer (transformers Trainer, accelerate, peft).

Order of work: read and check the data (fast, before torch is imported, so a malformed file fails
in a second), decide whether to resume, tokenize, load the model, train, save the final model
(LoRA merged into it) where ``evolcoder generate --backend hf --model DIR`` loads it.

Output folder::

    DIR/model.safetensors, config.json, tokenizer files   the final model
    DIR/adapter/                                          the LoRA adapter (LoRA runs)
    DIR/checkpoint-N/                                     Trainer checkpoints (model, optimizer, RNG)
    DIR/metrics.jsonl, DIR/loss.png                       one row per logged step, the loss curve
    DIR/evolcoder-train.json                              resolved config, versions, data sha256, result
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from evolcoder.data import file_sha256
from evolcoder.errors import UserError
from evolcoder.llm.convert import resolve_hf_model
from evolcoder.resume import differing_setting, say_complete, write_json_atomic
from evolcoder.train.config import TrainConfig
from evolcoder.train.data import TokenStats, load_records, tokenize_records
from evolcoder.train.metrics import METRICS_FILE, PLOT_FILE, read_metrics

RECORD_FILE = "evolcoder-train.json"
ADAPTER_DIR = "adapter"
# Attention implementations that keep the examples of a padding-free (flattened) batch apart: the
# flash-attention kernels through the sequence boundaries, sdpa, eager and flex through the
# block-diagonal mask transformers builds from restarting position_ids (masking_utils).
PACKED_ATTENTION = ("flash_attention_2", "flash_attention_3", "sdpa", "flex_attention", "eager")
# Where padding-free is also faster than padding: eager computes the full square of the flattened
# row, which costs as much as the padding it saves.
PACKED_FASTER = ("flash_attention_2", "flash_attention_3", "sdpa", "flex_attention")
PACKAGES = ("evolcoder", "torch", "transformers", "trl", "peft", "accelerate", "datasets")


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    final_loss: float | None
    runtime_s: float
    resumed_from: str | None
    batching: str


def note(message: str) -> None:
    """A progress line on stderr, from the main process only."""
    if _rank() == 0:
        print(f"evolcoder: train: {message}", file=sys.stderr, flush=True)


@dataclass
class Prepared:
    """Everything ``train`` needs once the data is read and the trainer built (benchmarks reuse it)."""

    config: TrainConfig
    trainer: Any
    tokenizer: Any
    model_path: str
    model_options: dict[str, Any]
    setup: dict[str, Any]
    data: dict[str, Any]
    stats: TokenStats
    checkpoint: str | None


# Settings that do not shape the trained model: where things go, how progress shows, checkpoint cadence.
NOT_SHAPING = ("data", "output_dir", "progress", "resume", "preset", "save_steps", "save_total_limit", "logging_steps")


def train(config: TrainConfig) -> TrainResult:
    """Train into ``config.output_dir``; a finished run rerun with the same settings changes no file."""
    finished = finished_result(config)
    if finished is not None:
        return finished
    run = prepare(config)
    out = config.output_dir
    if _rank() == 0:
        write_record(out, {"status": "running", **run_record(run)})
    started = time.monotonic()
    if run.checkpoint and _reached_the_end(Path(run.checkpoint)):
        _load_last_checkpoint(run)
    else:
        run.trainer.train(resume_from_checkpoint=run.checkpoint)
    save_final(run)
    result = TrainResult(
        output_dir=out,
        steps=run.trainer.state.global_step,
        final_loss=_final_loss(out / METRICS_FILE),
        runtime_s=round(time.monotonic() - started, 2),
        resumed_from=run.checkpoint,
        batching=run.setup["batching"],
    )
    if _rank() == 0:
        record = json.loads((out / RECORD_FILE).read_text())
        write_record(out, record | {"status": "complete", "result": _plain(asdict(result))})
    return result


def prepare(config: TrainConfig) -> Prepared:
    """Read the data, pick the checkpoint to resume from, tokenize, load the model and build the trainer."""
    data_path, records = load_records(config.data, config.limit)
    data = {"source": config.data, "path": str(data_path), "sha256": file_sha256(data_path), "records": len(records)}
    config.output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = resume_point(config, data["sha256"])

    model_path, options = resolve_hf_model(config.model)
    tokenizer = load_tokenizer(model_path, options, config.model)
    columns, stats = tokenize_records(records, tokenizer, config.max_length)
    note(
        f"{stats.examples} examples, {stats.tokens} tokens ({stats.trained_tokens} trained) from {data_path}"
        + (f"; {stats.truncated} cut at --max-length {config.max_length}" if stats.truncated else "")
        + (f"; {stats.dropped} dropped (prompt longer than --max-length)" if stats.dropped else "")
    )
    setup = training_setup(config)
    args = sft_args(config, setup)  # before the model: under ZeRO-3 the weights are sharded as they load
    model = load_model(model_path, options, config.model, setup["attn_implementation"])
    trainer = build_trainer(config, args, model, tokenizer, columns)
    return Prepared(config, trainer, tokenizer, model_path, options, setup, data, stats, checkpoint)


# ---------------------------------------------------------------------------------------------
# resuming
# ---------------------------------------------------------------------------------------------


def complete_checkpoints(out: Path) -> list[Path]:
    """Checkpoint folders in step order whose ``trainer_state.json`` (the Trainer writes it last) is whole."""
    found = []
    for path in out.glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if path.is_dir() and step.isdigit() and _readable_json(path / "trainer_state.json"):
            found.append((int(step), path))
    return [path for _, path in sorted(found)]


def resume_point(config: TrainConfig, data_sha256: str) -> str | None:
    """The checkpoint to resume from, or None to start afresh (after clearing an old run with ``--no-resume``).

    A checkpoint a kill cut short (no whole ``trainer_state.json``) is deleted: the Trainer would
    pick it as the latest and fail to load it. Resuming on other data or another model is refused.
    """
    out = config.output_dir
    complete = set(complete_checkpoints(out))
    for path in out.glob("checkpoint-*"):
        if path.is_dir() and path not in complete and _rank() == 0:
            note(f"removing {path.name}: written only in part (the run was killed while saving it)")
            shutil.rmtree(path, ignore_errors=True)
    checkpoints = sorted(complete, key=lambda p: int(p.name.removeprefix("checkpoint-")))
    if config.resume is False:
        if _rank() == 0:
            _clear_run(out, checkpoints)
        return None
    if not checkpoints:
        if config.resume:
            raise UserError(f"--resume: {out} holds no complete checkpoint to resume from")
        return None
    _check_same_run(out, config, data_sha256)
    note(f"resuming from {checkpoints[-1]} (--no-resume starts afresh)")
    return str(checkpoints[-1])


def _reached_the_end(checkpoint: Path) -> bool:
    """Whether a checkpoint holds the last step: resuming the Trainer from it would train one step more."""
    state = _readable_json(checkpoint / "trainer_state.json") or {}
    return bool(state.get("max_steps")) and int(state.get("global_step", 0)) >= int(state["max_steps"])


def _load_last_checkpoint(run: Prepared) -> None:
    """A run killed after its last checkpoint: its weights and state become the result, with no further step.

    ``Trainer._load_from_checkpoint`` is private (transformers is pinned below 6 for it).
    """
    from transformers import TrainerState

    note(f"{Path(run.checkpoint).name} is the last step: saving it as the final model, no further step")
    run.trainer._load_from_checkpoint(run.checkpoint)
    run.trainer.state = TrainerState.load_from_json(str(Path(run.checkpoint) / "trainer_state.json"))


def _clear_run(out: Path, checkpoints: list[Path]) -> None:
    if checkpoints:
        note(f"--no-resume: removing {len(checkpoints)} checkpoint(s) of the earlier run in {out}")
    for path in checkpoints:
        shutil.rmtree(path, ignore_errors=True)
    for name in (METRICS_FILE, PLOT_FILE):
        (out / name).unlink(missing_ok=True)


def shaping_settings(config: TrainConfig) -> dict[str, Any]:
    """The resolved options that shape the trained model (what a resume must not change)."""
    return {k: v for k, v in _plain(config.to_dict()).items() if k not in NOT_SHAPING}


def _check_same_run(out: Path, config: TrainConfig, data_sha256: str) -> None:
    record = _readable_json(out / RECORD_FILE)
    if not record:
        return
    if record.get("data", {}).get("sha256") != data_sha256:
        raise UserError(f"{out}: its checkpoints were trained on other data; use a new --output-dir or --no-resume")
    refusal = differing_setting(
        record.get("config", {}),
        shaping_settings(config),
        where=out / RECORD_FILE,
        way_out="use a new --output-dir, or --no-resume to start afresh",
    )
    if refusal is not None:
        raise refusal


def finished_result(config: TrainConfig) -> TrainResult | None:
    """The recorded result when ``output_dir`` holds a finished run of these settings on this data.

    Nothing is written: the final model, the metrics and the record stay as they are. A finished
    run of other settings is refused (``--no-resume`` starts afresh).
    """
    out = config.output_dir
    record = _readable_json(out / RECORD_FILE)
    if config.resume is False or not record or record.get("status") != "complete" or "result" not in record:
        return None
    data_path, _ = load_records(config.data, config.limit)
    _check_same_run(out, config, file_sha256(data_path))
    result = TrainResult(**{**record["result"], "output_dir": out})
    say_complete(f"training in {out}", result.steps, "steps")
    return result


# ---------------------------------------------------------------------------------------------
# model, tokenizer and trainer
# ---------------------------------------------------------------------------------------------


def load_tokenizer(path: str, options: dict[str, Any], model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **options)
    except (OSError, ValueError) as error:
        raise UserError(f"--model {model!r}: cannot load its tokenizer: {_first_line(error)}") from None
    if tokenizer.pad_token is None:  # padding is masked out of attention and loss, so any token will do
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str, options: dict[str, Any], model: str, attn_implementation: str) -> Any:
    """The model in float32 (the master weights; mixed precision runs under autocast)."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float32, attn_implementation=attn_implementation, **options
        )
    except (OSError, ValueError, ImportError) as error:
        raise UserError(f"--model {model!r} could not be loaded: {_first_line(error)}") from None


def training_setup(config: TrainConfig) -> dict[str, Any]:
    """Device-dependent choices: attention kernel, batching, precision, devices and accumulation."""
    import torch

    cuda = torch.cuda.is_available()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    attn = choose_attention(config.attn_implementation, cuda)
    precision = config.precision
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if precision == "fp16" and not cuda:
        raise UserError("--precision fp16 needs a GPU; use fp32 (or bf16) on CPU")
    if precision == "bf16" and not cuda:
        note("--precision bf16 on CPU: autocast makes each step many times slower than fp32 on most CPUs")
    if config.preset == "paper" and os.environ.get("ACCELERATE_USE_DEEPSPEED") != "true":
        note("the paper recipe runs under DeepSpeed ZeRO-3: the launch line is in the presets' README.md")
    return {
        "device": "cuda" if cuda else "cpu",
        "world_size": world,
        "accumulation_steps": config.accumulation_steps(world),
        "attn_implementation": attn,
        "batching": choose_batching(config.batching, attn),
        "precision": precision,
    }


def choose_attention(requested: str, cuda: bool) -> str:
    """``auto``: FlashAttention-2 on a GPU when the package is there, else PyTorch's sdpa."""
    if requested != "auto":
        return requested
    if cuda:
        import importlib.util

        if importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
    return "sdpa"


def choose_batching(requested: str, attn_implementation: str) -> str:
    """Padding-free (or packing) only where the attention keeps the flattened examples from seeing each other."""
    if requested in ("padding-free", "packing"):
        if attn_implementation not in PACKED_ATTENTION:
            raise UserError(
                f"--batching {requested}: --attn-implementation {attn_implementation} would attend across the"
                f" examples of a batch; choose one of {', '.join(PACKED_ATTENTION)} or --batching padded"
            )
        return requested
    if requested == "auto":
        if attn_implementation in PACKED_FASTER:
            note(f"padding-free batches: examples are concatenated, {attn_implementation} keeps them apart")
            return "padding-free"
        note(f"padded batches: {attn_implementation} attention gains nothing from padding-free batches")
    return "padded"


def sft_args(config: TrainConfig, setup: dict[str, Any]) -> Any:
    """TRL's SFTConfig (a transformers TrainingArguments) for this run.

    ``max_length`` is left to the tokenizer step (examples arrive cut), except with packing, where it
    is the length of a packed row. Every precision flag is set: SFTConfig defaults to bf16.
    """
    from trl import SFTConfig

    packing = setup["batching"] == "packing"
    return SFTConfig(
        output_dir=str(config.output_dir),
        per_device_train_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=setup["accumulation_steps"],
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        bf16=setup["precision"] == "bf16",
        fp16=setup["precision"] == "fp16",
        activation_checkpointing=config.gradient_checkpointing,  # transformers 5's name for it
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        report_to="none",
        disable_tqdm=not config.progress,
        log_level="warning",
        max_length=config.max_length if packing else None,
        packing=packing,
        packing_strategy="bfd",
        padding_free=setup["batching"] == "padding-free",
        dataloader_num_workers=0,
        dataloader_pin_memory=setup["device"] == "cuda",
    )


def build_trainer(config: TrainConfig, args: Any, model: Any, tokenizer: Any, columns: dict[str, list]) -> Any:
    """SFTTrainer (``train/trainer.py``) on a pre-tokenized dataset: the ``labels`` column already masks the prompts."""
    from datasets import Dataset

    from evolcoder.train.callback import MetricsCallback
    from evolcoder.train.trainer import EvolcoderSFTTrainer

    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            task_type="CAUSAL_LM",
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules="all-linear",
        )
    title = f"{Path(config.model).name if config.model != 'default' else 'SmolLM2-135M'} on {Path(config.data).name}"
    return EvolcoderSFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict(columns),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[MetricsCallback(config.output_dir, title)],
    )


def save_final(run: Prepared) -> None:
    """The final model in the output folder (safetensors); a LoRA adapter is kept in ``adapter/`` and merged.

    ``save_model`` gathers sharded weights (ZeRO-3, FSDP) on the main process. The merge reloads the
    base model on the main process, so it works the same whatever engine trained the adapter.
    """
    trainer, out = run.trainer, run.config.output_dir
    if not run.config.lora:
        trainer.save_model(str(out))
        return
    trainer.save_model(str(out / ADAPTER_DIR))
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        merge_adapter(run.model_path, run.model_options, out / ADAPTER_DIR, out, run.tokenizer)
    trainer.accelerator.wait_for_everyone()


def merge_adapter(model_path: str, options: dict[str, Any], adapter: Path, out: Path, tokenizer: Any) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32, **options)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


# ---------------------------------------------------------------------------------------------
# the run record
# ---------------------------------------------------------------------------------------------


def run_record(run: Prepared) -> dict:
    """What reproduces the run: resolved options, device choices, versions, data checksum and token counts."""
    return {
        "config": run.config.to_dict(),
        "setup": run.setup,
        "model_path": run.model_path,
        "data": run.data | asdict(run.stats),
        "versions": {"python": platform.python_version(), **{name: _version(name) for name in PACKAGES}},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_record(out: Path, record: dict) -> None:
    write_json_atomic(out / RECORD_FILE, _plain(record))


def _final_loss(metrics: Path) -> float | None:
    rows = read_metrics(metrics) if metrics.exists() else []
    return rows[-1]["loss"] if rows else None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _readable_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))

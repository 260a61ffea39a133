"""Options of ``evolcoder train``: one dataclass, mirrored by the YAML file and the command-line flags.

Layers, lowest first: the base defaults, the ``--preset``, the YAML ``--config`` file, the flags.
The fields a preset can set default to ``None`` ("not given"); ``__post_init__`` fills each from the
preset, else from ``BASE``. That keeps ``build_config`` (YAML < flags) unchanged and still lets a
flag or a YAML key override a preset, even with the base value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BATCHING = ("auto", "padding-free", "packing", "padded")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
ATTENTION = ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")

# The base defaults of the preset-able fields: the paper's optimisation recipe on one device.
BASE: dict[str, Any] = {
    "epochs": 3.0,
    "batch_size": 32,
    "micro_batch_size": 4,
    "learning_rate": 2e-5,
    "lr_scheduler": "cosine",
    "warmup_steps": 30,
    "weight_decay": 0.0,
    "max_length": 2048,
    "precision": "auto",
    "gradient_checkpointing": False,
    "batching": "auto",
    "attn_implementation": "auto",
    "lora": False,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "save_steps": 50,
    "save_total_limit": 2,
}

PRESETS: dict[str, dict[str, Any]] = {
    # WizardCoder's recipe: global batch 512, lr 2e-5, 3 epochs, 2048 tokens, 30 warmup steps, cosine,
    # half precision and gradient checkpointing. DeepSpeed ZeRO-3 comes from the launcher:
    # accelerate launch --config_file configs/accelerate/deepspeed_zero3_offload.yaml (see configs/README.md).
    "paper": {
        "epochs": 3.0,
        "batch_size": 512,
        "micro_batch_size": 4,
        "learning_rate": 2e-5,
        "lr_scheduler": "cosine",
        "warmup_steps": 30,
        "max_length": 2048,
        "precision": "auto",
        "gradient_checkpointing": True,
        "save_steps": 50,
    },
    # A run that fits two CPU cores: LoRA on SmolLM2-135M, short sequences, float32 (bfloat16 matmuls
    # on CPUs without native support are an order of magnitude slower), no recomputation.
    "cpu-demo": {
        "epochs": 1.0,
        "batch_size": 8,
        "micro_batch_size": 8,
        "learning_rate": 2e-4,
        "lr_scheduler": "cosine",
        "warmup_steps": 10,
        "max_length": 512,
        "precision": "fp32",
        "gradient_checkpointing": False,
        "lora": True,
        "save_steps": 25,
    },
}


@dataclass
class TrainConfig:
    """Options of ``evolcoder train``; ``None`` in a preset-able field means "the preset's value"."""

    data: str | None = None  # Alpaca JSON/JSONL file, a data key (code_alpaca_2k) or an evolve round folder
    output_dir: Path | None = None  # the final model, checkpoints, metrics.jsonl, loss.png, evolcoder-train.json
    model: str = "default"  # 'default' (embedded SmolLM2-135M), an HF folder, a .gguf file or a hub id
    preset: str | None = None  # paper or cpu-demo
    limit: int | None = None  # only the first K examples
    max_steps: int | None = None  # stop after N optimizer steps (else the epochs decide)
    epochs: float | None = None
    batch_size: int | None = None  # examples per optimizer step, over all devices (packed rows with packing)
    micro_batch_size: int | None = None  # examples per forward pass on one device
    learning_rate: float | None = None
    lr_scheduler: str | None = None
    warmup_steps: int | None = None
    weight_decay: float | None = None
    max_length: int | None = None  # tokens per example (longer ones are cut), or per packed row
    precision: str | None = None  # auto: bf16 on GPUs that have it, else fp16; fp32 on CPU
    gradient_checkpointing: bool | None = None
    batching: str | None = None  # auto: padding-free where the attention keeps examples apart, else padded
    attn_implementation: str | None = None  # auto: flash_attention_2 on a GPU when installed, else sdpa
    lora: bool | None = None  # LoRA adapters instead of full fine-tuning (merged into the final model)
    lora_r: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    save_steps: int | None = None  # a checkpoint every N optimizer steps (and at the end)
    save_total_limit: int | None = None  # checkpoints kept
    logging_steps: int = 1  # a metrics.jsonl row every N optimizer steps
    seed: int = 42
    resume: bool | None = None  # None: resume when the output folder holds a checkpoint
    progress: bool = True

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"--preset {self.preset!r} is unknown; choose one of: {', '.join(PRESETS)}")
        layer = PRESETS.get(self.preset or "", {})
        for name, base in BASE.items():
            if getattr(self, name) is None:
                setattr(self, name, layer.get(name, base))
        if not self.data:
            raise ValueError("--data is required: an Alpaca JSON/JSONL file, code_alpaca_2k or an evolve round folder")
        if self.output_dir is None:
            raise ValueError("--output-dir is required: the folder for the model, checkpoints and metrics")
        self.output_dir = Path(self.output_dir)
        self.data = str(self.data)
        self._check_choices()
        self._check_numbers()

    def _check_choices(self) -> None:
        for flag, value, choices in (
            ("--batching", self.batching, BATCHING),
            ("--precision", self.precision, PRECISIONS),
            ("--lr-scheduler", self.lr_scheduler, SCHEDULERS),
            ("--attn-implementation", self.attn_implementation, ATTENTION),
        ):
            if value not in choices:
                raise ValueError(f"{flag} {value!r} is unknown; choose one of: {', '.join(choices)}")

    def _check_numbers(self) -> None:
        at_least_one = {
            "--batch-size": self.batch_size,
            "--micro-batch-size": self.micro_batch_size,
            "--lora-r": self.lora_r,
            "--save-steps": self.save_steps,
            "--save-total-limit": self.save_total_limit,
            "--logging-steps": self.logging_steps,
        }
        for flag, value in at_least_one.items():
            if value < 1:
                raise ValueError(f"{flag} must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("--max-steps must be at least 1")
        if self.epochs <= 0:
            raise ValueError("--epochs must be positive")
        if self.learning_rate <= 0:
            raise ValueError("--learning-rate must be positive")
        if self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError("--warmup-steps and --weight-decay must not be negative")
        if self.max_length < 16:
            raise ValueError("--max-length must be at least 16 tokens")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError("--lora-dropout must be in [0, 1)")
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"--batch-size {self.batch_size} must be a multiple of --micro-batch-size {self.micro_batch_size}"
            )

    def accumulation_steps(self, world_size: int) -> int:
        """Micro-batches per optimizer step on each device, so that one step sees ``batch_size`` examples."""
        per_step = self.micro_batch_size * world_size
        if self.batch_size % per_step:
            raise ValueError(
                f"--batch-size {self.batch_size} must be a multiple of --micro-batch-size x devices"
                f" ({self.micro_batch_size} x {world_size})"
            )
        return self.batch_size // per_step

    def to_dict(self) -> dict[str, Any]:
        """The resolved options, JSON-ready (what ``evolcoder-train.json`` records)."""
        values = dataclasses.asdict(self)
        values["output_dir"] = str(self.output_dir)
        return values

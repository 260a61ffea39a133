"""Options of ``evolcoder train``: one dataclass, mirrored by the YAML file and the command-line flags.

Layers, lowest first: the base defaults, the ``--preset``, the YAML ``--config`` file, the flags.
The fields a preset can set default to ``None`` ("not given"); ``__post_init__`` fills each from the
preset (a YAML file of ``evolcoder/presets/train/``, or the user's own), else from ``BASE``. That
lets a flag or a YAML key override a preset, even with the base value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolcoder.errors import UserError
from evolcoder.options import check, option, progress_option, read_yaml
from evolcoder.presets import preset_names, preset_path

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


def _preset_able(name: str, **meta: Any) -> Any:
    """A field a preset can set: None means "the preset's value, else the base default"."""
    base = BASE[name]
    if isinstance(base, bool):
        base = meta["flag"].split("/")[0 if base else 1].lstrip("-")
    return option(None, show_default=f"{base}, or the preset's", **meta)


@dataclass
class TrainConfig:
    """Options of ``evolcoder train``; ``None`` in a preset-able field means "the preset's value"."""

    data: str | None = option(
        None, help="Alpaca JSON/JSONL ({instruction, input, output}), code_alpaca_2k or an evolve round folder"
    )
    output_dir: Path | None = option(
        None, help="Folder of the final model, checkpoints, metrics.jsonl, loss.png, evolcoder-train.json (resumes)"
    )
    model: str = option("default", help="'default' (embedded SmolLM2-135M), an HF folder, a .gguf file or a hub id")
    preset: str | None = option(
        None, help="A train preset: paper, cpu-demo (evolcoder presets) or a YAML file; flags and --config override it"
    )
    limit: int | None = option(None, help="Only the first K examples", min=1)
    max_steps: int | None = option(None, help="Stop after N optimizer steps (else the epochs decide)", min=1)
    epochs: float | None = _preset_able("epochs", help="Passes over the data", above=0)
    batch_size: int | None = _preset_able(
        "batch_size", help="Examples per optimizer step over all devices (packed rows with packing)", min=1
    )
    micro_batch_size: int | None = _preset_able(
        "micro_batch_size", help="Examples per forward pass on one device", min=1
    )
    learning_rate: float | None = _preset_able("learning_rate", help="Peak learning rate", above=0)
    lr_scheduler: str | None = _preset_able("lr_scheduler", help="Learning-rate schedule", choices=SCHEDULERS)
    warmup_steps: int | None = _preset_able("warmup_steps", help="Optimizer steps of linear warm-up", min=0)
    weight_decay: float | None = _preset_able("weight_decay", help="AdamW weight decay", min=0)
    max_length: int | None = _preset_able(
        "max_length", help="Tokens per example (longer ones are cut), or per packed row", min=16
    )
    precision: str | None = _preset_able(
        "precision", help="auto: bf16 on GPUs that have it, else fp16; fp32 on CPU", choices=PRECISIONS
    )
    gradient_checkpointing: bool | None = _preset_able(
        "gradient_checkpointing",
        help="Recompute activations in the backward pass",
        flag="--gradient-checkpointing/--no-gradient-checkpointing",
    )
    batching: str | None = _preset_able(
        "batching", help="auto: padding-free where the attention keeps examples apart, else padded", choices=BATCHING
    )
    attn_implementation: str | None = _preset_able(
        "attn_implementation", help="auto: flash_attention_2 on a GPU when installed, else sdpa", choices=ATTENTION
    )
    lora: bool | None = _preset_able(
        "lora", help="LoRA adapters (merged into the final model), or full fine-tuning", flag="--lora/--full"
    )
    lora_r: int | None = _preset_able("lora_r", help="LoRA rank", min=1)
    lora_alpha: int | None = _preset_able("lora_alpha", help="LoRA scaling alpha", min=1)
    lora_dropout: float | None = _preset_able("lora_dropout", help="LoRA dropout, in [0, 1)", min=0, below=1)
    save_steps: int | None = _preset_able(
        "save_steps", help="A checkpoint every N optimizer steps (and at the end)", min=1
    )
    save_total_limit: int | None = _preset_able("save_total_limit", help="Checkpoints kept", min=1)
    logging_steps: int = option(1, help="A metrics.jsonl row every N optimizer steps", min=1)
    seed: int = option(42, help="Seed of the data order, dropout and LoRA initialisation")
    resume: bool | None = option(
        None,
        help="Resume from the last checkpoint (default: when one exists)",
        flag="--resume/--no-resume",
        show_default="when a checkpoint exists",
    )
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        layer = preset_values(self.preset) if self.preset is not None else {}
        for name, base in BASE.items():
            if getattr(self, name) is None:
                setattr(self, name, layer.get(name, base))
        check(self)
        if not self.data:
            raise UserError("--data is required: an Alpaca JSON/JSONL file, code_alpaca_2k or an evolve round folder")
        if self.output_dir is None:
            raise UserError("--output-dir is required: the folder for the model, checkpoints and metrics")
        if self.batch_size % self.micro_batch_size:
            raise UserError(
                f"--batch-size {self.batch_size} must be a multiple of --micro-batch-size {self.micro_batch_size}"
            )

    def accumulation_steps(self, world_size: int) -> int:
        """Micro-batches per optimizer step on each device, so that one step sees ``batch_size`` examples."""
        per_step = self.micro_batch_size * world_size
        if self.batch_size % per_step:
            raise UserError(
                f"--batch-size {self.batch_size} must be a multiple of --micro-batch-size x devices"
                f" ({self.micro_batch_size} x {world_size})"
            )
        return self.batch_size // per_step

    def to_dict(self) -> dict[str, Any]:
        """The resolved options, JSON-ready (what ``evolcoder-train.json`` records)."""
        values = dataclasses.asdict(self)
        values["output_dir"] = str(self.output_dir)
        return values


def preset_values(name: str) -> dict[str, Any]:
    """What a train preset sets: a shipped one (``presets/train/NAME.yaml``) or a YAML file of the user's."""
    return PRESETS[name] if name in PRESETS else read_yaml(preset_path("train", name), TrainConfig)


# The shipped presets, read (typed and checked) from their files: the files are the one source.
PRESETS: dict[str, dict[str, Any]] = {
    name: read_yaml(preset_path("train", name), TrainConfig) for name in preset_names("train")
}

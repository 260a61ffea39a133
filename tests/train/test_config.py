"""TrainConfig: presets, YAML and flags layered in that order; every shipped preset file parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolcoder.errors import UserError
from evolcoder.options import load_config
from evolcoder.presets import PRESET_ROOT
from evolcoder.train import BASE, PRESETS, TrainConfig

REQUIRED = {"data": "code_alpaca_2k", "output_dir": Path("out")}
PRESET_FILES = PRESET_ROOT / "train"


def test_base_defaults() -> None:
    config = TrainConfig(**REQUIRED)
    assert {name: getattr(config, name) for name in BASE} == BASE


def test_paper_preset() -> None:
    config = TrainConfig(preset="paper", **REQUIRED)
    assert (config.batch_size, config.learning_rate, config.epochs, config.max_length) == (512, 2e-5, 3.0, 2048)
    assert (config.warmup_steps, config.lr_scheduler, config.gradient_checkpointing) == (30, "cosine", True)
    assert config.precision == "auto" and not config.lora
    assert config.accumulation_steps(world_size=8) == 16  # 4 per device x 8 devices x 16 = 512


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_shipped_preset_files_equal_the_presets(preset: str) -> None:
    from_file = load_config(TrainConfig, config_file=PRESET_FILES / f"{preset}.yaml", flags=dict(REQUIRED))
    from_preset = TrainConfig(preset=preset, **REQUIRED)
    assert {name: getattr(from_file, name) for name in BASE} == {name: getattr(from_preset, name) for name in BASE}


def test_flags_beat_yaml_beat_preset(tmp_path: Path) -> None:
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text("preset: cpu-demo\nlearning_rate: 1.0e-3\nmax-length: 256\n")
    config = load_config(TrainConfig, config_file=yaml_file, flags={**REQUIRED, "max_length": 128, "lora": False})
    assert config.learning_rate == 1e-3  # YAML over the preset's 2e-4
    assert config.max_length == 128  # flag over YAML
    assert config.lora is False  # a flag can set the base value back, over the preset
    assert config.micro_batch_size == PRESETS["cpu-demo"]["micro_batch_size"]


def test_unknown_yaml_key(tmp_path: Path) -> None:
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text("learning_rat: 1.0e-3\n")
    with pytest.raises(UserError, match="unknown option 'learning_rat'"):
        load_config(TrainConfig, config_file=yaml_file, flags=dict(REQUIRED))


@pytest.mark.parametrize(
    ("values", "flag"),
    [
        ({"preset": "fast"}, "--preset"),
        ({"batching": "sorted"}, "--batching"),
        ({"precision": "fp8"}, "--precision"),
        ({"batch_size": 10, "micro_batch_size": 4}, "--batch-size"),
        ({"max_steps": 0}, "--max-steps"),
        ({"lora_dropout": 1.0}, "--lora-dropout"),
        ({"max_length": 8}, "--max-length"),
        ({"data": None}, "--data"),
        ({"output_dir": None}, "--output-dir"),
    ],
)
def test_bad_values_name_the_flag(values: dict, flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        TrainConfig(**(REQUIRED | values))


def test_batch_must_split_over_devices() -> None:
    config = TrainConfig(batch_size=32, micro_batch_size=4, **REQUIRED)
    assert config.accumulation_steps(world_size=2) == 4
    with pytest.raises(ValueError, match="micro-batch-size x devices"):
        config.accumulation_steps(world_size=3)

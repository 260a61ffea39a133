"""Resume bookkeeping without training: which checkpoint, what a kill left behind, metrics without duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.train import TrainConfig
from evolcoder.train.metrics import read_metrics, trim_metrics
from evolcoder.train.runner import RECORD_FILE, complete_checkpoints, resume_point, write_record


def make_checkpoint(out: Path, step: int, whole: bool = True) -> Path:
    folder = out / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    if whole:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def config(out: Path, **changes) -> TrainConfig:
    return TrainConfig(data="code_alpaca_2k", output_dir=out, **changes)


def test_resumes_from_the_last_whole_checkpoint(tmp_path: Path) -> None:
    make_checkpoint(tmp_path, 2)
    make_checkpoint(tmp_path, 10)
    cut_short = make_checkpoint(tmp_path, 12, whole=False)  # killed while saving
    (tmp_path / "checkpoint-14").mkdir()
    (tmp_path / "checkpoint-14" / "trainer_state.json").write_text('{"global_st')  # killed mid-write
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-10"]
    assert resume_point(config(tmp_path), "sha") == str(tmp_path / "checkpoint-10")
    assert not cut_short.exists() and not (tmp_path / "checkpoint-14").exists()


def test_resume_flags(tmp_path: Path) -> None:
    assert resume_point(config(tmp_path), "sha") is None  # nothing to resume: a fresh start
    with pytest.raises(ValueError, match="--resume: .* no complete checkpoint"):
        resume_point(config(tmp_path, resume=True), "sha")
    make_checkpoint(tmp_path, 4)
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    assert resume_point(config(tmp_path, resume=False), "sha") is None
    assert not list(tmp_path.glob("checkpoint-*")) and not (tmp_path / "metrics.jsonl").exists()


def test_other_data_or_model_is_refused(tmp_path: Path) -> None:
    make_checkpoint(tmp_path, 4)
    write_record(tmp_path, {"config": config(tmp_path).to_dict(), "data": {"sha256": "old"}})
    with pytest.raises(ValueError, match="other data"):
        resume_point(config(tmp_path), "new")
    with pytest.raises(ValueError, match="--model 'default'"):
        resume_point(config(tmp_path, model="/elsewhere"), "old")
    with pytest.raises(ValueError, match="--lora False"):
        resume_point(config(tmp_path, lora=True), "old")
    with pytest.raises(ValueError, match=r"--learning-rate 2e-05 → 0\.0001: cannot resume"):
        resume_point(config(tmp_path, learning_rate=1e-4), "old")  # it would be recorded but not applied
    assert resume_point(config(tmp_path, save_steps=7), "old").endswith("checkpoint-4")  # not a shaping setting
    assert json.loads((tmp_path / RECORD_FILE).read_text())["data"]["sha256"] == "old"


def test_metrics_are_cut_back_to_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": step, "loss": 3.0 - step / 10} for step in range(1, 8)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"step": 8, "lo')  # a kill mid-row
    trim_metrics(path, last_step=4)
    assert read_metrics(path) == rows[:4]
    trim_metrics(path, last_step=4)  # nothing more to cut
    assert read_metrics(path) == rows[:4]


def test_cli_flags_mirror_the_config() -> None:
    """Every TrainConfig field is a flag of ``evolcoder train`` and every flag a field (plus --config)."""
    import dataclasses
    import inspect

    from evolcoder.cli import train_command

    flags = set(inspect.signature(train_command).parameters) - {"config", "ctx"}  # ctx: which flags were given
    assert flags == {field.name for field in dataclasses.fields(TrainConfig)}

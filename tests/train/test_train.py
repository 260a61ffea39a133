"""Training runs, small and real: a tiny Llama learns, LoRA merges, a killed run resumes to the same loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from evolcoder.data import file_sha256
from evolcoder.errors import UserError
from evolcoder.llm.base import SamplingParams
from evolcoder.train import train
from evolcoder.train.metrics import read_metrics
from evolcoder.train.runner import RECORD_FILE, write_record


def loads_and_generates(folder: Path) -> str:
    """What ``evolcoder generate --backend hf --model DIR`` does with the folder."""
    from evolcoder.llm.hf import HFBackend

    backend = HFBackend(str(folder), batch_size=1, device="cpu")
    [[generation]] = backend.complete(["### Instruction:\nAdd.\n\n### Response:"], SamplingParams(max_new_tokens=4))
    return generation.text


def test_loss_falls_and_the_output_loads_in_generate(tiny_train_config, tmp_path: Path, one_thread: None) -> None:
    out = tmp_path / "run"
    result = train(tiny_train_config(out))
    rows = read_metrics(out / "metrics.jsonl")
    assert [row["step"] for row in rows] == list(range(1, 9))
    losses = [row["loss"] for row in rows]
    assert losses[-1] < losses[0] - 0.5, losses
    assert result.steps == 8 and result.final_loss == losses[-1] and result.batching == "padding-free"
    assert all(row["tokens_per_s"] > 0 and row["num_tokens"] > 0 for row in rows)
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-8"]
    record = json.loads((out / RECORD_FILE).read_text())
    assert record["status"] == "complete"
    assert record["config"]["learning_rate"] == 3e-3 and record["setup"]["precision"] == "fp32"
    assert record["data"]["sha256"] == file_sha256(Path(record["data"]["path"]))
    assert record["data"]["examples"] == 16
    assert {"torch", "transformers", "trl", "peft", "accelerate"} <= set(record["versions"])
    assert (out / "model.safetensors").is_file()
    assert isinstance(loads_and_generates(out), str)


def test_lora_is_merged_into_the_output(
    tiny_model_dir: Path, tiny_train_config, tmp_path: Path, one_thread: None
) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "lora"
    train(tiny_train_config(out, lora=True, lora_r=4, max_steps=3, learning_rate=1e-2))
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    merged, base = load_file(out / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    assert not any("lora" in name for name in merged)  # a plain model, no adapter layers left
    changed = [name for name in base if not (merged[name] == base[name]).all()]
    assert any("q_proj" in name for name in changed)
    assert isinstance(loads_and_generates(out), str)


def _train_process(model: Path, out: Path) -> subprocess.Popen:
    args = ["--data", "code_alpaca_2k", "--limit", "24", "--model", str(model), "--output-dir", str(out)]
    args += ["--max-steps", "8", "--save-steps", "3", "--batch-size", "4", "--micro-batch-size", "2"]
    args += ["--max-length", "128", "--learning-rate", "3e-3", "--warmup-steps", "2", "--no-progress"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "evolcoder.cli", "train", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=240)
    assert process.returncode == 0, output[-3000:]
    return output


def test_a_killed_run_resumes_to_the_same_loss(tiny_model_dir: Path, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    reference = _train_process(tiny_model_dir, straight)  # runs beside the killed one
    victim = _train_process(tiny_model_dir, killed)
    deadline = time.monotonic() + 180
    while not (killed / "checkpoint-3" / "trainer_state.json").is_file():
        assert victim.poll() is None and time.monotonic() < deadline, "no checkpoint before the deadline"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    logged = [row["step"] for row in read_metrics(killed / "metrics.jsonl")]
    assert 3 <= logged[-1] < 8  # killed mid-run, maybe after a few steps past the checkpoint

    output = _finish(_train_process(tiny_model_dir, killed))
    assert "resuming from" in output and "checkpoint-" in output
    _finish(reference)
    resumed, uninterrupted = read_metrics(killed / "metrics.jsonl"), read_metrics(straight / "metrics.jsonl")
    assert [row["step"] for row in resumed] == list(range(1, 9))  # no step twice, none missing
    for mine, theirs in zip(resumed, uninterrupted, strict=True):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-4, abs=1e-4), (mine, theirs)
        assert mine["num_tokens"] == theirs["num_tokens"]  # counted across the restart
    resumed_from = json.loads((killed / RECORD_FILE).read_text())["result"]["resumed_from"]
    assert Path(resumed_from).name in {"checkpoint-3", "checkpoint-6"}


def test_a_finished_run_rerun_changes_no_file(tiny_train_config, tmp_path: Path, one_thread: None) -> None:
    out = tmp_path / "run"
    first = train(tiny_train_config(out, max_steps=2, save_steps=1))
    files = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    again = train(tiny_train_config(out, max_steps=2, save_steps=1))
    assert again.steps == first.steps == 2 and again.final_loss == first.final_loss
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == files
    with pytest.raises(UserError, match=r"--learning-rate 0\.003 → 0\.001: cannot resume"):
        train(tiny_train_config(out, max_steps=2, save_steps=1, learning_rate=1e-3))
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == files
    assert max(row["step"] for row in read_metrics(out / "metrics.jsonl")) == 2  # never past --max-steps


def test_killed_after_its_last_checkpoint_finishes_without_another_step(
    tiny_train_config, tmp_path: Path, one_thread: None
) -> None:
    out = tmp_path / "run"
    train(tiny_train_config(out, max_steps=2, save_steps=1))
    record = json.loads((out / RECORD_FILE).read_text())
    write_record(out, {k: v for k, v in record.items() if k != "result"} | {"status": "running"})
    from safetensors.torch import load_file

    uninterrupted = load_file(out / "model.safetensors")
    (out / "model.safetensors").unlink()  # killed after checkpoint-2, before the final save
    result = train(tiny_train_config(out, max_steps=2, save_steps=1))
    assert result.steps == 2 and (out / "model.safetensors").is_file()
    finished = load_file(out / "model.safetensors")
    assert finished.keys() == uninterrupted.keys()
    assert all(torch.equal(finished[name], uninterrupted[name]) for name in finished)  # checkpoint-2's weights
    steps = [row["step"] for row in read_metrics(out / "metrics.jsonl")]
    assert max(steps) == 2 and len(steps) == len(set(steps))


def test_resuming_on_other_data_is_refused(tiny_train_config, tmp_path: Path, one_thread: None) -> None:
    out = tmp_path / "run"
    train(tiny_train_config(out, max_steps=1, save_steps=1))
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"instruction": "Say hi.", "input": "", "output": "hi"}] * 4))
    with pytest.raises(ValueError, match="other data"):
        train(tiny_train_config(out, max_steps=2, data=str(other), limit=None))


def test_cli_trains_the_default_model_offline(default_model_dir: Path, tmp_path: Path) -> None:
    """``evolcoder train --model default`` on CPU with no network: the embedded SmolLM2-135M, one LoRA step."""
    out = tmp_path / "smol"
    args = ["--data", "code_alpaca_2k", "--limit", "2", "--model", "default", "--output-dir", str(out)]
    args += ["--preset", "cpu-demo", "--max-steps", "1", "--batch-size", "2", "--micro-batch-size", "2"]
    args += ["--max-length", "96", "--no-progress"]
    env = os.environ | {"EVOLCODER_CACHE_DIR": str(default_model_dir.parents[1]), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "evolcoder.cli", "train", *args], env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained 1 steps" in result.stdout and f"model: {out}" in result.stdout
    record = json.loads((out / RECORD_FILE).read_text())
    assert record["config"]["lora"] and record["config"]["preset"] == "cpu-demo"
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "model.safetensors").is_file()

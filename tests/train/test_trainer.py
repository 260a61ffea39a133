"""The trainer's loss over the trained positions only: the same loss and gradients as the full logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evolcoder.train.data import alpaca_prompt, tokenize_example
from evolcoder.train.metrics import read_metrics
from evolcoder.train.runner import prepare
from evolcoder.train.trainer import fused_head_compacts, keeps_logits_by_mask, response_logits_loss


@pytest.fixture
def model_and_batches(tiny_model_dir: Path, one_thread: None):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    examples = [
        tokenize_example(tokenizer, alpaca_prompt("Print hi."), "print('hi')", 2048),
        tokenize_example(tokenizer, alpaca_prompt("Add them.", "1, 2"), "def add(a, b):\n    return a + b", 2048),
        tokenize_example(tokenizer, alpaca_prompt("Say no."), "no", 2048),
    ]
    pad = tokenizer.pad_token_id
    padded = DataCollatorForLanguageModeling(pad_token_id=pad)(examples)
    flat = DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True)(examples)
    return model, {"padded": padded, "padding-free": flat}


def _grads(model) -> dict[str, torch.Tensor]:
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return grads


@pytest.mark.parametrize("batching", ["padded", "padding-free"])
def test_same_loss_and_gradients_as_the_full_logits(model_and_batches, batching: str) -> None:
    model, batches = model_and_batches
    batch = batches[batching]
    assert keeps_logits_by_mask(model)

    full = model(**batch, use_cache=False).loss  # transformers' own causal-LM loss over all the logits
    full.backward()
    expected = _grads(model)

    loss, sums = response_logits_loss(model, dict(batch), num_items_in_batch=None)
    loss.backward()
    got = _grads(model)

    torch.testing.assert_close(loss, full, rtol=1e-5, atol=1e-6)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6, msg=name)
    trained = int((batch["labels"][:, 1:] != -100).sum())
    assert int(sums["tokens"]) == trained > 0
    assert 0 <= int(sums["top1"]) <= trained and float(sums["entropy"]) > 0


def test_the_loss_is_normalised_by_the_whole_accumulated_batch(model_and_batches) -> None:
    model, batches = model_and_batches
    batch = batches["padding-free"]
    mean, sums = response_logits_loss(model, dict(batch), num_items_in_batch=None)
    over_more, _ = response_logits_loss(model, dict(batch), num_items_in_batch=torch.tensor(4 * int(sums["tokens"])))
    torch.testing.assert_close(over_more, mean / 4)


def test_only_the_trained_positions_reach_the_lm_head(model_and_batches) -> None:
    model, batches = model_and_batches
    batch = batches["padding-free"]
    rows: list[int] = []
    hook = model.lm_head.register_forward_hook(lambda module, args, output: rows.append(args[0].shape[0]))
    try:
        response_logits_loss(model, dict(batch), num_items_in_batch=None)
    finally:
        hook.remove()
    total, trained = batch["input_ids"].numel(), int((batch["labels"][:, 1:] != -100).sum())
    assert rows == [trained] and trained < total / 2  # the prompts (most of these short examples) are skipped


def test_a_batch_without_trained_tokens_gives_a_differentiable_zero(model_and_batches) -> None:
    model, batches = model_and_batches
    batch = dict(batches["padding-free"])
    batch["labels"] = torch.full_like(batch["labels"], -100)
    loss, sums = response_logits_loss(model, batch, num_items_in_batch=None)
    loss.backward()
    assert float(loss.detach()) == 0.0 and int(sums["tokens"]) == 0


def test_the_trainer_matches_trls_fused_head(
    tiny_train_config, tmp_path: Path, one_thread: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three steps with evolcoder's loss and three with TRL's fused LM head: the same losses, metrics logged."""
    assert not fused_head_compacts(torch.device("cpu"))

    def losses(out: Path) -> list[dict]:
        # two micro-batches per step: the loss is normalised over both
        config = tiny_train_config(out, limit=12, max_steps=3, micro_batch_size=2, save_steps=100)
        run = prepare(config)
        run.trainer.train()
        return read_metrics(out / "metrics.jsonl")

    ours = losses(tmp_path / "ours")
    monkeypatch.setattr("evolcoder.train.trainer.fused_head_compacts", lambda device: True)
    trls = losses(tmp_path / "trl")
    assert [row["step"] for row in ours] == [row["step"] for row in trls] == [1, 2, 3]
    for mine, theirs in zip(ours, trls, strict=True):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
        assert mine["num_tokens"] == theirs["num_tokens"]
        for metric in ("entropy", "mean_token_accuracy"):
            assert mine[metric] == pytest.approx(theirs[metric], rel=1e-3, abs=1e-4), metric

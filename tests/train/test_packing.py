"""Padding-free batches: concatenated examples must not attend to each other.

transformers builds a block-diagonal causal mask from position ids that restart at 0 (sdpa, eager,
flex) or passes the boundaries to the varlen kernels (flash attention). Checked here for the
attention implementations that run on CPU: each example's logits in the packed row equal its
logits when run alone. The mask is built only without a KV cache (``use_cache=False``, as TRL
trains); with a cache the restarting positions are ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evolcoder.train.runner import PACKED_ATTENTION, choose_batching


def _logits(model, ids: list[int], positions: list[int] | None = None) -> torch.Tensor:
    kwargs = {"position_ids": torch.tensor([positions])} if positions is not None else {}
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), use_cache=False, **kwargs).logits[0]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_examples_do_not_see_each_other(tiny_model_dir: Path, attention: str, one_thread: None) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attention).eval()
    torch.manual_seed(1)
    first, second = torch.randint(10, 1000, (7,)).tolist(), torch.randint(10, 1000, (5,)).tolist()
    packed = _logits(model, first + second, list(range(7)) + list(range(5)))
    torch.testing.assert_close(packed[:7], _logits(model, first), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[7:], _logits(model, second), atol=1e-5, rtol=1e-4)
    # The check has teeth: with positions that run on, the second example sees the first.
    leaked = _logits(model, first + second, list(range(12)))
    assert not torch.allclose(leaked[7:], _logits(model, second), atol=1e-3)


def test_batching_choice() -> None:
    assert choose_batching("auto", "sdpa") == "padding-free"
    assert choose_batching("auto", "flash_attention_2") == "padding-free"
    assert choose_batching("auto", "eager") == "padded"  # correct, but no faster than padding
    assert choose_batching("packing", "eager") == "packing"
    assert choose_batching("padded", "sdpa") == "padded"
    assert "sdpa" in PACKED_ATTENTION
    with pytest.raises(ValueError, match="--batching padded"):
        choose_batching("padding-free", "paged_attention")

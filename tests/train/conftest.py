"""Training tests run on ``tiny_model_dir`` (tests/conftest.py); tiny models are fastest on one thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolcoder.train import TrainConfig


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (and a busy 2-core machine makes threads wait on each other)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_train_config(tiny_model_dir: Path):
    """``make(out, **changes)``: a config that trains the tiny model for 8 steps of 4 Code Alpaca examples."""

    def make(out: Path, **changes) -> TrainConfig:
        values = dict(
            data="code_alpaca_2k",
            limit=16,
            model=str(tiny_model_dir),
            output_dir=out,
            max_steps=8,
            batch_size=4,
            micro_batch_size=4,
            max_length=128,
            learning_rate=3e-3,
            lr_scheduler="constant",
            warmup_steps=0,
            save_steps=4,
            progress=False,
        )
        return TrainConfig(**(values | changes))

    return make

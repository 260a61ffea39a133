"""Training tests run on ``tiny_model_dir`` (tests/conftest.py); tiny models are fastest on one thread."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (and a busy 2-core machine makes threads wait on each other)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

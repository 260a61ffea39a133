"""Instruction tuning (``evolcoder train``) on TRL, peft and accelerate.

``TrainConfig`` (options and presets) is light to import; ``train`` imports torch when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolcoder.train.config import BASE, PRESETS, TrainConfig

if TYPE_CHECKING:
    from evolcoder.train.runner import TrainResult

__all__ = ["BASE", "PRESETS", "TrainConfig", "train"]


def train(config: TrainConfig) -> TrainResult:
    """Train as ``evolcoder train`` does (see ``evolcoder.train.runner``)."""
    from evolcoder.train.runner import train as run

    return run(config)

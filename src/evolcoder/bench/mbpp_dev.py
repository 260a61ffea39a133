"""MBPP's train and validation problems (task ids 511-974): the dev set of ``evolcoder run``.

The paper's loop stops evolving when a held-out score stops rising; choosing rounds on a test set
(HumanEval, or MBPP's test ids 11-510) would be test-set selection. These 464 problems come from
the same ``mbpp.jsonl`` as the test split and are judged the same way (their assert lines).
"""

from __future__ import annotations

from pathlib import Path

from evolcoder.bench.base import Task
from evolcoder.bench.mbpp import load_split

NAME = "mbpp-dev"
DATA_KEYS = ("mbpp",)
DEV_IDS = range(511, 975)  # 511-600 validation, 601-974 train; never the test ids 11-510


def load(data_dir: Path | str | None = None) -> list[Task]:
    """The dev problems in task-id order, ids written ``Mbpp/<n>``."""
    return load_split(DEV_IDS, data_dir)

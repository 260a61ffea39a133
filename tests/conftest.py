"""Shared test set-up: the real benchmark data folder, required (a missing folder fails)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    folder = Path(os.environ.get("EVOLCODER_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (folder / "HumanEval.jsonl.gz").exists():
        pytest.fail(f"benchmark data folder {folder} is missing; set EVOLCODER_DATA_DIR")
    return folder


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("EVOLCODER_DATA_DIR", str(REPO.parent / "shared" / "data"))

"""The Trainer callback behind ``metrics.jsonl`` and ``loss.png`` (imports transformers, so kept apart)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from evolcoder.jsonl import AppendLog
from evolcoder.records import ABSENT, Metrics
from evolcoder.train.metrics import METRICS_FILE, PLOT_FILE, ROW_FIELDS, plot_loss, read_metrics, trim_metrics


class MetricsCallback(TrainerCallback):
    """Writes ``metrics.jsonl`` and ``loss.png`` in the output folder (main process only).

    ``num_tokens`` counts the tokens trained on (no padding) since the start of the run: TRL's count
    restarts at 0 in a resumed process, so the last kept row's count is added. ``tokens_per_s`` is
    the count between two rows over the wall time between them.
    """

    def __init__(self, output_dir: Path, title: str) -> None:
        self.path = output_dir / METRICS_FILE
        self.plot_path = output_dir / PLOT_FILE
        self.title = title
        self.log: AppendLog | None = None
        self.last_time = 0.0
        self.last_tokens = 0
        self.tokens_before = 0  # trained before this process resumed

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if not state.is_world_process_zero:
            return
        trim_metrics(self.path, state.global_step)  # the state is the checkpoint's when resuming
        kept = read_metrics(self.path)
        self.tokens_before = int(kept[-1].get("num_tokens", 0)) if kept else 0
        self.log = AppendLog(self.path)
        self.last_time, self.last_tokens = time.monotonic(), 0

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if self.log is None or not logs or "loss" not in logs:  # the end-of-training summary has no "loss"
            return
        now = time.monotonic()
        logged: dict[str, Any] = {key: logs[key] for key in ROW_FIELDS if key in logs}
        tokens = int(logged.pop("num_tokens", 0))
        speed = ABSENT
        if tokens >= self.last_tokens and now > self.last_time:
            speed = round((tokens - self.last_tokens) / (now - self.last_time), 2)
        row = Metrics(
            step=state.global_step,
            epoch=round(state.epoch or 0.0, 4),
            **logged,
            num_tokens=self.tokens_before + tokens,
            tokens_per_s=speed,
            time=round(time.time(), 3),
        )
        self.log.write(row.to_row())
        self.last_time, self.last_tokens = now, tokens

    def on_save(self, args, state, control, **kwargs) -> None:
        if self.log is not None:
            self.plot()

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if self.log is None:
            return
        self.log.close()
        self.log = None
        self.plot()

    def plot(self) -> None:
        rows = read_metrics(self.path)
        if rows:
            plot_loss(rows, self.plot_path, self.title)

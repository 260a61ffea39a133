"""One experiment folder as the report needs it, read from ``EXP/summary.json`` (written by ``evolcoder run``).

Any part may be missing in a partial run (killed, DS-1000 skipped, no test stage yet): what exists
is read, and each missing part becomes a plain sentence in ``Experiment.missing``. Nothing here
writes to the experiment folder. Every file is read through the record type its writer writes it
with (``evolcoder.records``), so a key read here is a key written there.

An experiment whose evolution ran with ``--verify run`` or ``--verify tests`` (``EXP/evolve/evolve_config.json``)
carries that setting in its display name (``NAME (--verify tests)``), so every table and figure row
says which data its model was trained on; an unverified one is shown by its name alone.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolcoder.evol.show import VerifyCounts, reason_counts, verify_counts
from evolcoder.jsonl import read_rows
from evolcoder.records import (
    METRICS_FILE,
    SUMMARY_FILE,
    Attempt,
    LibraryScore,
    Metrics,
    ModelEntry,
    RunSetting,
    ScoreRow,
    Summary,
    SummaryRound,
    given,
)
from evolcoder.report.published import Setting
from evolcoder.report.stats import wilson_interval

MINI_MODELS = ("base", "seed-sft", "evol-sft")  # the mini-replication's three models, weakest expected first
EVOLVE_SETTINGS = "evolve/evolve_config.json"  # evolve's record of its settings, in EXP
NO_VERIFY = "none"  # the verify setting of a folder from before --verify (no key)


@dataclass(frozen=True)
class Score:
    """One of our pass@1 numbers (percent) with its 95% Wilson interval over tasks."""

    experiment: str
    model: str
    label: str
    benchmark: str
    value: float
    passed: int | None
    n: int | None
    setting: Setting
    interval: tuple[float, float] | None
    manifest: Path | None
    per_library: dict[str, Score] = field(default_factory=dict)
    tag: str = ""  # after the experiment's name: its verify setting, where it has one
    results: Path | None = None  # its eval_results.json

    @property
    def display(self) -> str:
        return f"{self.experiment}{self.tag}: {self.label}"


@dataclass
class Round:
    number: int
    n_pairs: int | None = None
    dev_pass1: float | None = None  # percent
    dev_passed: int | None = None
    dev_n: int | None = None
    dev_interval: tuple[float, float] | None = None
    losses: list[tuple[float, float]] = field(default_factory=list)  # (step, loss)
    heuristics: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (attempted, kept)
    eliminations: dict[str, int] = field(default_factory=dict)  # reason -> count
    verification: dict[str, VerifyCounts] = field(default_factory=dict)  # name -> counts; empty: not verified


@dataclass
class Experiment:
    name: str
    folder: Path
    manifest: Path | None = None
    base_model: str = ""
    dev: dict[str, Any] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    best_round: int | None = None
    models: dict[str, str] = field(default_factory=dict)  # key -> label
    scores: list[Score] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    verify: str = NO_VERIFY  # evolve's --verify
    config: dict[str, Any] = field(default_factory=dict)  # the run's options, from its manifest

    @property
    def tag(self) -> str:
        return "" if self.verify == NO_VERIFY else f" (--verify {self.verify})"

    @property
    def display(self) -> str:
        return self.name + self.tag

    def score(self, model: str, benchmark: str) -> Score | None:
        return next((s for s in self.scores if s.model == model and s.benchmark == benchmark), None)


def load_experiment(folder: Path) -> Experiment:
    folder = Path(folder)
    experiment = Experiment(name=folder.name, folder=folder)
    path = folder / SUMMARY_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        experiment.missing.append(f"`{path}` does not exist (the run has not written its summary yet)")
        return experiment
    except (OSError, ValueError) as error:
        experiment.missing.append(f"`{path}` cannot be read: {error}")
        return experiment
    if not isinstance(raw, dict):
        experiment.missing.append(f"`{path}` is not a JSON object")
        return experiment
    summary = Summary.from_row(raw)
    experiment.name = str(summary.name or folder.name)
    experiment.base_model = str(summary.base_model or "")
    experiment.dev = summary.dev if isinstance(summary.dev, dict) else {}
    experiment.best_round = given(summary.best_round)
    experiment.manifest = _manifest(folder, summary, experiment.missing)
    experiment.config = _run_config(experiment.manifest)
    experiment.verify = verify_setting(folder)
    experiment.models = _models(summary.models)
    experiment.rounds = [_round(folder, row, experiment.missing) for row in _list(summary.rounds)]
    if not experiment.rounds:
        experiment.missing.append("no evolution rounds recorded (`rounds` is empty or absent)")
    scores = [ScoreRow.from_row(row) for row in _list(summary.test)]
    experiment.scores = [_score(experiment, row) for row in scores if _is_score(row)]
    if not experiment.scores:
        experiment.missing.append("no test-set results (`test` is empty or absent): the test stage has not run")
    return experiment


def _manifest(folder: Path, summary: Summary, missing: list[str]) -> Path | None:
    name = summary.manifest
    if not name:
        missing.append("no manifest named in summary.json")
        return None
    path = folder / str(name)
    if not path.is_file():
        missing.append(f"manifest `{path}` does not exist")
    return path


def verify_setting(folder: Path) -> str:
    """The experiment's ``evolve --verify`` setting; ``none`` where its evolve settings do not name one."""
    try:
        settings = json.loads((folder / EVOLVE_SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return NO_VERIFY
    value = settings.get("verify") if isinstance(settings, dict) else None
    return str(value) if value else NO_VERIFY


def _run_config(manifest: Path | None) -> dict[str, Any]:
    """The run's options as its manifest records them (``config``); empty where they cannot be read."""
    try:
        config = json.loads(manifest.read_text(encoding="utf-8")).get("config") if manifest else None
    except (OSError, ValueError, AttributeError):
        return {}
    return config if isinstance(config, dict) else {}


def _models(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(ModelEntry.from_row(v).label or k) if isinstance(v, dict) else str(k) for k, v in raw.items()}


def _list(raw: Any) -> list:
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _is_score(row: ScoreRow) -> bool:
    return isinstance(row.pass1, int | float) and isinstance(row.benchmark, str)


def _interval(passed: int | None, n: int | None) -> tuple[float, float] | None:
    if passed is None or not n or not 0 <= passed <= n:
        return None
    low, high = wilson_interval(passed, n)
    return 100 * low, 100 * high


def _passed(fraction: float, passed: Any, n: int | None, samples: Any = 1) -> int | None:
    """Tasks passed. ``evolcoder run`` counts passing samples, which are tasks only with one sample
    per task; with several (or an unknown count) it is pass@1 × tasks rounded, an approximation."""
    if samples in (1, None) and isinstance(passed, int) and not isinstance(passed, bool):
        return passed
    return round(fraction * n) if n else None


def _setting(raw: Any, n_samples: Any) -> Setting:
    stated = RunSetting.from_row(raw) if isinstance(raw, dict) else None
    if stated is None or stated.mode not in ("greedy", "sampled"):
        return Setting(mode="unstated", n=n_samples if isinstance(n_samples, int) else None)
    temperature = stated.temperature
    return Setting(
        mode=stated.mode,
        n=stated.n if isinstance(stated.n, int) else None,
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
    )


def _score(experiment: Experiment, row: ScoreRow) -> Score:
    model = str(row.model or "?")
    n = row.n_tasks if isinstance(row.n_tasks, int) else None
    fraction = float(row.pass1)
    setting = _setting(row.setting, row.n_samples)
    passed = _passed(fraction, row.passed, n, setting.n)
    common = {
        "experiment": experiment.name,
        "model": model,
        "label": experiment.models.get(model, model),
        "setting": setting,
        "manifest": experiment.manifest,
        "tag": experiment.tag,
        "results": experiment.folder / row.results if isinstance(row.results, str) else None,
    }
    per_library = {}
    for library, raw in (row.per_library or {}).items():
        lib = LibraryScore.from_row(raw) if isinstance(raw, dict) else None
        if lib is not None and isinstance(lib.pass1, int | float):
            lib_n = lib.n if isinstance(lib.n, int) else None
            lib_passed = _passed(float(lib.pass1), lib.passed, lib_n, setting.n)
            per_library[str(library)] = Score(
                benchmark="ds1000",
                value=100 * float(lib.pass1),
                passed=lib_passed,
                n=lib_n,
                interval=_interval(lib_passed, lib_n),
                **common,
            )
    return Score(
        benchmark=row.benchmark,
        value=100 * fraction,
        passed=passed,
        n=n,
        interval=_interval(passed, n),
        per_library=per_library,
        **common,
    )


def _round(folder: Path, raw: dict, missing: list[str]) -> Round:
    entry = SummaryRound.from_row(raw)
    number = int(given(entry.round, 0))
    result = Round(number=number, n_pairs=given(entry.n_pairs))
    dev = entry.dev_pass1
    if isinstance(dev, int | float):
        result.dev_n = entry.dev_n if isinstance(entry.dev_n, int) else None
        result.dev_passed = _passed(float(dev), entry.dev_passed, result.dev_n)
        result.dev_pass1 = 100 * float(dev)
        result.dev_interval = _interval(result.dev_passed, result.dev_n)
    else:
        missing.append(f"round {number}: no dev pass@1")
    if entry.train_dir:
        result.losses = _losses(folder / str(entry.train_dir) / METRICS_FILE, number, missing)
    else:
        missing.append(f"round {number}: no training folder recorded")
    if number >= 1:
        _evolve_counts(folder, entry.evolve_stats, result, missing)
    return result


def _losses(path: Path, number: int, missing: list[str]) -> list[tuple[float, float]]:
    """(step, loss) rows of a training run's metrics.jsonl; a line cut by a kill is skipped."""
    rows = _rows(path)
    if rows is None:
        missing.append(f"round {number}: no training metrics at `{path}`")
        return []
    points = []
    for metrics in map(Metrics.from_row, rows):
        if isinstance(metrics.step, int | float) and isinstance(metrics.loss, int | float):
            points.append((float(metrics.step), float(metrics.loss)))
    return points


def _rows(path: Path) -> list[dict] | None:
    """The JSON-object lines of a JSONL file, read only (a cut last line is left out, not removed);
    None when it cannot be read."""
    if not path.is_file():
        return None
    try:
        return [row for _, row in read_rows(path, trim=False) if row is not None]
    except OSError:
        return None


def _evolve_counts(folder: Path, stats_name: Any, result: Round, missing: list[str]) -> None:
    """Per-heuristic attempted/kept and elimination reasons of one evolution round, counted from
    the round's attempt records (``rounds/round_R.jsonl`` of the evolve folder, found beside the
    round dataset's stats.json, whose own counts are of pairs, not attempts).
    """
    if not stats_name:
        missing.append(f"round {result.number}: no evolve statistics recorded")
        return
    stats_path = folder / str(stats_name)
    # evolve's own layout (DIR/round_R/stats.json beside DIR/rounds/round_R.jsonl), then evolcoder run's
    # (EXP/rounds/round_R/stats.json and EXP/evolve/rounds/round_R.jsonl)
    name = f"round_{result.number}.jsonl"
    candidates = [stats_path.parent.parent / "rounds" / name, folder / "evolve" / "rounds" / name]
    rows = next((rows for rows in map(_rows, candidates) if rows), [])
    if not rows:
        missing.append(f"round {result.number}: no evolution attempts found beside `{stats_path}`")
        return
    attempts = [Attempt.from_row(row) for row in rows]
    tried = Counter(given(a.heuristic, "?") for a in attempts)
    kept = Counter(given(a.heuristic, "?") for a in attempts if a.kept)
    result.heuristics = {name: (tried[name], kept[name]) for name in tried}
    result.eliminations = dict(reason_counts(attempts))
    result.verification = verify_counts(attempts)

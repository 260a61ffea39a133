"""One experiment folder as the report needs it, read from ``EXP/summary.json`` (written by ``evolcoder run``).

Any part may be missing in a partial run (killed, DS-1000 skipped, no test stage yet): what exists
is read, and each missing part becomes a plain sentence in ``Experiment.missing``. Nothing here
writes to the experiment folder.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolcoder.report.published import Setting
from evolcoder.report.stats import wilson_interval

SUMMARY_FILE = "summary.json"
MINI_MODELS = ("base", "seed-sft", "evol-sft")  # the mini-replication's three models, weakest expected first


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

    @property
    def display(self) -> str:
        return f"{self.experiment}: {self.label}"


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

    def score(self, model: str, benchmark: str) -> Score | None:
        return next((s for s in self.scores if s.model == model and s.benchmark == benchmark), None)


def load_experiment(folder: Path) -> Experiment:
    folder = Path(folder)
    experiment = Experiment(name=folder.name, folder=folder)
    path = folder / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        experiment.missing.append(f"`{path}` does not exist (the run has not written its summary yet)")
        return experiment
    except (OSError, ValueError) as error:
        experiment.missing.append(f"`{path}` cannot be read: {error}")
        return experiment
    if not isinstance(summary, dict):
        experiment.missing.append(f"`{path}` is not a JSON object")
        return experiment
    experiment.name = str(summary.get("name") or folder.name)
    experiment.base_model = str(summary.get("base_model") or "")
    experiment.dev = summary.get("dev") if isinstance(summary.get("dev"), dict) else {}
    experiment.best_round = summary.get("best_round")
    experiment.manifest = _manifest(folder, summary, experiment.missing)
    experiment.models = _models(summary.get("models"))
    experiment.rounds = [_round(folder, raw, experiment.missing) for raw in _list(summary.get("rounds"))]
    if not experiment.rounds:
        experiment.missing.append("no evolution rounds recorded (`rounds` is empty or absent)")
    experiment.scores = [_score(experiment, raw) for raw in _list(summary.get("test")) if _is_score(raw)]
    if not experiment.scores:
        experiment.missing.append("no test-set results (`test` is empty or absent): the test stage has not run")
    return experiment


def _manifest(folder: Path, summary: dict, missing: list[str]) -> Path | None:
    name = summary.get("manifest")
    if not name:
        missing.append("no manifest named in summary.json")
        return None
    path = folder / str(name)
    if not path.is_file():
        missing.append(f"manifest `{path}` does not exist")
    return path


def _models(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v.get("label") or k) if isinstance(v, dict) else str(k) for k, v in raw.items()}


def _list(raw: Any) -> list:
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _is_score(raw: dict) -> bool:
    return isinstance(raw.get("pass@1"), int | float) and isinstance(raw.get("benchmark"), str)


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
    if not isinstance(raw, dict) or raw.get("mode") not in ("greedy", "sampled"):
        return Setting(mode="unstated", n=n_samples if isinstance(n_samples, int) else None)
    temperature = raw.get("temperature")
    return Setting(
        mode=raw["mode"],
        n=raw.get("n") if isinstance(raw.get("n"), int) else None,
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
    )


def _score(experiment: Experiment, raw: dict) -> Score:
    model = str(raw.get("model") or "?")
    n = raw.get("n_tasks") if isinstance(raw.get("n_tasks"), int) else None
    fraction = float(raw["pass@1"])
    setting = _setting(raw.get("setting"), raw.get("n_samples"))
    passed = _passed(fraction, raw.get("passed"), n, setting.n)
    common = {
        "experiment": experiment.name,
        "model": model,
        "label": experiment.models.get(model, model),
        "setting": setting,
        "manifest": experiment.manifest,
    }
    per_library = {}
    for library, lib in (raw.get("per_library") or {}).items():
        if isinstance(lib, dict) and isinstance(lib.get("pass@1"), int | float):
            lib_n = lib.get("n") if isinstance(lib.get("n"), int) else None
            lib_passed = _passed(float(lib["pass@1"]), lib.get("passed"), lib_n, setting.n)
            per_library[str(library)] = Score(
                benchmark="ds1000",
                value=100 * float(lib["pass@1"]),
                passed=lib_passed,
                n=lib_n,
                interval=_interval(lib_passed, lib_n),
                **common,
            )
    return Score(
        benchmark=raw["benchmark"],
        value=100 * fraction,
        passed=passed,
        n=n,
        interval=_interval(passed, n),
        per_library=per_library,
        **common,
    )


def _round(folder: Path, raw: dict, missing: list[str]) -> Round:
    number = int(raw.get("round", 0))
    result = Round(number=number, n_pairs=raw.get("n_pairs"))
    dev = raw.get("dev_pass@1")
    if isinstance(dev, int | float):
        result.dev_n = raw.get("dev_n") if isinstance(raw.get("dev_n"), int) else None
        result.dev_passed = _passed(float(dev), raw.get("dev_passed"), result.dev_n)
        result.dev_pass1 = 100 * float(dev)
        result.dev_interval = _interval(result.dev_passed, result.dev_n)
    else:
        missing.append(f"round {number}: no dev pass@1")
    if raw.get("train_dir"):
        result.losses = _losses(folder / str(raw["train_dir"]) / "metrics.jsonl", number, missing)
    else:
        missing.append(f"round {number}: no training folder recorded")
    if number >= 1:
        _evolve_counts(folder, raw.get("evolve_stats"), result, missing)
    return result


def _losses(path: Path, number: int, missing: list[str]) -> list[tuple[float, float]]:
    """(step, loss) rows of a training run's metrics.jsonl; a line cut by a kill is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        missing.append(f"round {number}: no training metrics at `{path}`")
        return []
    points = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(row, dict)
            and isinstance(row.get("step"), int | float)
            and isinstance(row.get("loss"), int | float)
        ):
            points.append((float(row["step"]), float(row["loss"])))
    return points


def _evolve_counts(folder: Path, stats_name: Any, result: Round, missing: list[str]) -> None:
    """Per-heuristic attempted/kept and elimination reasons of one evolution round.

    Taken from the dataset's stats.json when it carries them (``heuristics``, ``eliminated``),
    else counted from the round's attempt records (``rounds/round_R.jsonl`` of the evolve folder).
    """
    if not stats_name:
        missing.append(f"round {result.number}: no evolve statistics recorded")
        return
    stats_path = folder / str(stats_name)
    try:
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stats = {}
    heuristics = stats.get("heuristics") if isinstance(stats, dict) else None
    if isinstance(heuristics, dict) and heuristics:
        result.heuristics = {
            str(k): (int(v.get("attempted", 0)), int(v.get("kept", 0)))
            for k, v in heuristics.items()
            if isinstance(v, dict)
        }
        result.eliminations = {str(k): int(v) for k, v in (stats.get("eliminated") or {}).items()}
        return
    # evolve's own layout (DIR/round_R/stats.json beside DIR/rounds/round_R.jsonl), then evolcoder run's
    # (EXP/rounds/round_R/stats.json and EXP/evolve/rounds/round_R.jsonl)
    name = f"round_{result.number}.jsonl"
    candidates = [stats_path.parent.parent / "rounds" / name, folder / "evolve" / "rounds" / name]
    rows = next((rows for rows in map(_attempt_rows, candidates) if rows), [])
    if not rows:
        missing.append(f"round {result.number}: no evolution attempts found beside `{stats_path}`")
        return
    tried = Counter(r.get("heuristic", "?") for r in rows)
    kept = Counter(r.get("heuristic", "?") for r in rows if r.get("kept"))
    result.heuristics = {name: (tried[name], kept[name]) for name in tried}
    result.eliminations = dict(Counter(str(r.get("reason")) for r in rows if not r.get("kept")))


def _attempt_rows(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows

"""The published numbers the report compares against: loaded from ``published.yaml`` and checked.

Every number must say where it was printed (``source``) and how it was measured (``setting``:
greedy, sampled or unstated, samples per task, temperature), so that a greedy number is never
shown as if it were comparable with a sampled one. A bad entry stops with one line naming the
file and the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evolcoder.bench.ds1000 import LIBRARIES
from evolcoder.errors import UserError

PUBLISHED_FILE = Path(__file__).with_name("published.yaml")
BENCHMARK_NAMES = ("humaneval", "humaneval+", "mbpp", "mbpp+", "ds1000")
VIEWS = ("fig1", "table1", "ds1000")
MODES = ("greedy", "sampled", "unstated")
DS1000_LIBRARIES = (*LIBRARIES, "All")
_ENTRY_KEYS = {"model", "view", "benchmark", "metric", "value", "source", "url", "setting", "library", "format", "note"}


class PublishedError(UserError):
    """A published-numbers file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Setting:
    """How a number was measured: decoding mode, samples per task (None: not stated), temperature."""

    mode: str
    n: int | None = None
    temperature: float | None = None

    def label(self) -> str:
        """``greedy``, ``sampled (n=20, T=0.2)``, ``unstated (n=1)``; ``?`` where the source is silent."""
        if self.mode == "greedy":
            return "greedy"
        n = "?" if self.n is None else str(self.n)
        temperature = "?" if self.temperature is None else f"{self.temperature:g}"
        if self.mode == "sampled":
            return f"sampled (n={n}, T={temperature})"
        return f"setting not stated (n={n})"


@dataclass(frozen=True)
class PublishedNumber:
    model: str
    view: str
    benchmark: str
    metric: str
    value: float  # percent
    source: str
    setting: Setting
    url: str = ""
    library: str | None = None  # DS-1000 only: a library or "All"
    format: str | None = None  # DS-1000 only: completion or insertion


@dataclass(frozen=True)
class Published:
    numbers: list[PublishedNumber]
    notes: dict[str, str]

    def select(self, view: str, benchmark: str | None = None) -> list[PublishedNumber]:
        return [p for p in self.numbers if p.view == view and (benchmark is None or p.benchmark == benchmark)]


def load_published(path: Path | None = None) -> Published:
    """Read and check a published-numbers file (default: the one shipped with evolcoder)."""
    path = Path(path) if path else PUBLISHED_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PublishedError(f"{path}: cannot read published numbers: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise PublishedError(f"{path}: expected a mapping with an 'entries' list")
    notes = data.get("notes") or {}
    if not isinstance(notes, dict):
        raise PublishedError(f"{path}: 'notes' must be a mapping of view to text")
    numbers = [_entry(path, index, raw) for index, raw in enumerate(data["entries"], start=1)]
    return Published(numbers=numbers, notes={str(k): str(v) for k, v in notes.items()})


def _entry(path: Path, index: int, raw: Any) -> PublishedNumber:
    where = f"{path}: entry {index}"
    if not isinstance(raw, dict):
        raise PublishedError(f"{where}: not a mapping")
    where = f"{where} ({raw.get('model', '?')}, {raw.get('benchmark', '?')})"

    def fail(message: str) -> PublishedError:
        return PublishedError(f"{where}: {message}")

    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}")
    for key in ("model", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(f"missing '{key}' (every published number needs a {key})")
    if raw.get("view") not in VIEWS:
        raise fail(f"'view' must be one of {', '.join(VIEWS)}, got {raw.get('view')!r}")
    if raw.get("benchmark") not in BENCHMARK_NAMES:
        raise fail(f"'benchmark' must be one of {', '.join(BENCHMARK_NAMES)}, got {raw.get('benchmark')!r}")
    if raw.get("metric") != "pass@1":
        raise fail(f"'metric' must be pass@1, got {raw.get('metric')!r}")
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise fail(f"'value' must be a percentage in [0, 100], got {value!r}")
    library = raw.get("library")
    if raw["benchmark"] == "ds1000" and library not in DS1000_LIBRARIES:
        raise fail(f"a DS-1000 number needs 'library', one of {', '.join(DS1000_LIBRARIES)}")
    return PublishedNumber(
        model=raw["model"],
        view=raw["view"],
        benchmark=raw["benchmark"],
        metric=raw["metric"],
        value=float(value),
        source=raw["source"],
        setting=_setting(raw.get("setting"), fail),
        url=str(raw.get("url") or ""),
        library=library,
        format=raw.get("format"),
    )


def _setting(raw: Any, fail: Any) -> Setting:
    if not isinstance(raw, dict):
        raise fail("missing 'setting' (mode greedy/sampled/unstated, n, temperature)")
    if raw.get("mode") not in MODES:
        raise fail(f"setting 'mode' must be one of {', '.join(MODES)}, got {raw.get('mode')!r}")
    n, temperature = raw.get("n"), raw.get("temperature")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise fail(f"setting 'n' must be a positive integer or null, got {n!r}")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)):
        raise fail(f"setting 'temperature' must be a number or null, got {temperature!r}")
    if raw["mode"] == "greedy" and n not in (None, 1):
        raise fail("a greedy setting has n=1")
    return Setting(mode=raw["mode"], n=n, temperature=None if temperature is None else float(temperature))

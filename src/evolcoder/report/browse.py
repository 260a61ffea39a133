"""What the HTML report browses, collected from the folders given to ``evolcoder report``.

A folder is either an experiment (``evolcoder run``'s ``EXP``, whose ``summary.json`` names the
eval folder of each tested model) or an eval folder (``evolcoder eval``'s output, holding
eval_results.json). Each eval folder becomes a :class:`Run`: one model's answers on one benchmark,
task by task, with the samples' programs, raw responses and failures. Runs on the same benchmark
are paired task by task (:class:`Pair`). An experiment's evolution attempts become one
:class:`Evolution`. Nothing here writes to the folders read.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from evolcoder.evol.show import VerifyCounts, read_attempts, reason_counts, verify_counts
from evolcoder.jsonl import read_rows
from evolcoder.records import (
    ABSENT,
    EVAL_SETTINGS_FILE,
    FAIL,
    FAILURE_TEXT_CHARS,
    PASS,
    RESULTS_FILE,
    SUMMARY_FILE,
    TIMEOUT,
    TIMEOUT_KIND,
    VERDICTS_FILE,
    Attempt,
    Failure,
    ModelEntry,
    SampleRow,
    ScoreRow,
    Summary,
    Verdict,
    given,
)
from evolcoder.report.stats import discordant, sign_test

SAMPLES_KEY = "samples"  # eval_settings.json: the samples file judged
UNKNOWN = "unknown"  # the failure kind of a failed sample whose eval folder predates failure records
FAIL_TESTS_SHOWN = 3  # failing tests kept per set and sample


@dataclass
class Sample:
    """One judged sample, as the page shows it when its task is opened."""

    index: int
    solution: str
    raw: str | None
    base_status: str
    plus_status: str | None
    base_fail_tests: list[str]
    plus_fail_tests: list[str]
    base_failure: dict | None  # a Failure row; None when the set passed, was not run or is not recorded
    plus_failure: dict | None
    failures_recorded: bool  # False: the eval folder predates failure records (kinds are unknown)

    @property
    def passed(self) -> bool:
        return self.base_status == PASS and self.plus_status in (PASS, None)

    @property
    def kind(self) -> str | None:
        """The failure kind of the first set that failed; None when the sample passed."""
        if self.passed:
            return None
        failure = self.base_failure if self.base_status != PASS else self.plus_failure
        if failure:
            return str(failure.get(Failure.key("kind")) or UNKNOWN)
        status = self.base_status if self.base_status != PASS else self.plus_status
        return TIMEOUT_KIND if status == TIMEOUT else UNKNOWN


@dataclass
class TaskResult:
    task_id: str
    prompt: str | None
    samples: list[Sample]

    @property
    def pass_rate(self) -> float:
        return sum(s.passed for s in self.samples) / len(self.samples) if self.samples else 0.0


@dataclass
class Run:
    """One eval folder: a model's samples on a benchmark, judged."""

    label: str
    benchmark: str
    folder: Path
    tasks: list[TaskResult]
    has_plus: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pair:
    """Two runs on the same benchmark, compared on the tasks both answered."""

    a: int  # index into the runs
    b: int
    benchmark: str
    common: int
    both_pass: int
    both_fail: int
    gained: list[str]  # tasks b passes more often than a
    lost: list[str]
    p_value: float  # exact two-sided sign test on the gained and lost tasks


@dataclass
class Evolution:
    experiment: str
    attempts: list[Attempt]

    def counts(self) -> dict[str, tuple[int, int]]:
        """heuristic -> (attempted, kept), over every round."""
        tried = Counter(str(given(a.heuristic, "?")) for a in self.attempts)
        kept = Counter(str(given(a.heuristic, "?")) for a in self.attempts if a.kept)
        return {name: (tried[name], kept[name]) for name in sorted(tried)}

    def reasons(self) -> dict[str, int]:
        """elimination reason -> attempts eliminated for it (``verification: OUTCOME`` apart)."""
        return dict(reason_counts(self.attempts).most_common())

    def verification(self) -> dict[str, VerifyCounts]:
        """heuristic -> its ``--verify tests`` counts, over every round; empty when not verified."""
        return verify_counts(self.attempts)


@dataclass
class Browse:
    runs: list[Run] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    evolutions: list[Evolution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_eval_folder(folder: Path) -> bool:
    """An ``evolcoder eval`` output folder (else the folder is read as an experiment)."""
    return (Path(folder) / RESULTS_FILE).is_file()


def collect(folders: list[Path], names: dict[Path, str], data_dir: Path | None = None) -> Browse:
    """The runs, pairs and evolutions of ``folders``; ``names`` gives each experiment's display name."""
    browse = Browse()
    prompts = _Prompts(data_dir, browse.notes)
    for folder in map(Path, folders):
        if is_eval_folder(folder):
            browse.runs.append(load_run(folder, folder.name, prompts))
            continue
        name = names.get(folder, folder.name)
        for label, eval_dir in experiment_eval_folders(folder):
            browse.runs.append(load_run(eval_dir, f"{name}: {label}", prompts))
        evolution = load_evolution(folder, name)
        if evolution.attempts:
            browse.evolutions.append(evolution)
    browse.pairs = pair_runs(browse.runs)
    return browse


def experiment_eval_folders(folder: Path) -> list[tuple[str, Path]]:
    """(model label, eval folder) of each test result named in ``EXP/summary.json``, once per folder."""
    try:
        summary = Summary.from_row(json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError):
        return []
    models = summary.models if isinstance(summary.models, dict) else {}
    found: dict[Path, str] = {}
    for raw in summary.test if isinstance(summary.test, list) else []:
        row = ScoreRow.from_row(raw) if isinstance(raw, dict) else None
        if row is None or not isinstance(row.results, str):
            continue
        eval_dir = (folder / row.results).parent
        if eval_dir not in found and is_eval_folder(eval_dir):
            entry = models.get(row.model)
            label = given(ModelEntry.from_row(entry).label) if isinstance(entry, dict) else None
            found[eval_dir] = str(label or row.model)
    return [(label, eval_dir) for eval_dir, label in found.items()]


def load_run(folder: Path, label: str, prompts: _Prompts | None = None) -> Run:
    """An eval folder's samples, task by task, with what each sample's verdict says and why it failed."""
    results = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
    benchmark = str(results.get("benchmark") or "?")
    run = Run(label=label, benchmark=benchmark, folder=folder, tasks=[], has_plus=False)
    samples = _samples_by_task(folder, run.notes)
    verdicts = _verdict_failures(folder)
    task_prompts = prompts.get(benchmark) if prompts else {}
    for task_id, rows in (results.get("eval") or {}).items():
        written = samples.get(task_id, [])
        judged = [
            _sample(k, row, written[k] if k < len(written) else None, verdicts.get((task_id, k)))
            for k, row in enumerate(rows)
        ]
        run.tasks.append(TaskResult(task_id=task_id, prompt=task_prompts.get(task_id), samples=judged))
    run.has_plus = any(s.plus_status is not None for t in run.tasks for s in t.samples)
    if not any(s.failures_recorded for t in run.tasks for s in t.samples):
        run.notes.append("no failure records (an eval folder from before they were written): failure kinds unknown")
    return run


def _samples_by_task(folder: Path, notes: list[str]) -> dict[str, list[SampleRow]]:
    """The samples file's rows per task, in file order (the order of eval_results.json's rows)."""
    path = _samples_path(folder)
    if path is None or not path.is_file():
        notes.append("samples file not found: raw responses not shown")
        return {}
    by_task: dict[str, list[SampleRow]] = {}
    for _, row in read_rows(path, trim=False):
        if row is not None:
            sample = SampleRow.from_row(row)
            by_task.setdefault(str(sample.task_id), []).append(sample)
    return by_task


def _samples_path(folder: Path) -> Path | None:
    """eval_settings.json's samples file, else the experiment layout's ``<eval>/../samples.jsonl``."""
    try:
        settings = json.loads((folder / EVAL_SETTINGS_FILE).read_text(encoding="utf-8"))
        return Path(settings[SAMPLES_KEY])
    except (OSError, ValueError, KeyError, TypeError):
        beside = folder.parent / "samples.jsonl"
        return beside if beside.is_file() else None


def _verdict_failures(folder: Path) -> dict[tuple[str, int], Verdict]:
    """verdicts.jsonl's rows by (task, completion): they carry failures where eval_results.json does not."""
    path = folder / VERDICTS_FILE
    if not path.is_file():
        return {}
    verdicts = {}
    for _, row in read_rows(path, trim=False):
        if row is not None:
            verdict = Verdict.from_row(row)
            verdicts[(str(verdict.task_id), given(verdict.completion_id, -1))] = verdict
    return verdicts


def _sample(index: int, row: dict, written: SampleRow | None, verdict: Verdict | None) -> Sample:
    result = Verdict.from_row(row)  # eval_results.json's rows are a verdict's first keys (and maybe its failures)
    base_failure, plus_failure = result.base_failure, result.plus_failure
    recorded = base_failure is not ABSENT
    if not recorded and verdict is not None and verdict.base_failure is not ABSENT:
        base_failure, plus_failure, recorded = verdict.base_failure, verdict.plus_failure, True
    return Sample(
        index=index,
        solution=str(given(result.solution, "")),
        raw=given(written.raw) if written is not None else None,
        base_status=str(given(result.base_status, FAIL)),
        plus_status=given(result.plus_status),
        base_fail_tests=_tests(result.base_fail_tests),
        plus_fail_tests=_tests(result.plus_fail_tests),
        base_failure=_failure(base_failure),
        plus_failure=_failure(plus_failure),
        failures_recorded=recorded,
    )


def _failure(raw: Any) -> dict | None:
    if not isinstance(raw, dict):
        return None
    row = Failure.from_row(raw).to_row()
    return {key: value for key, value in row.items() if value is not None and value is not False}  # shown if set


def _tests(raw: Any) -> list[str]:
    tests = raw if isinstance(raw, list) else []
    return [cut(repr(test) if not isinstance(test, str) else test) for test in tests[:FAIL_TESTS_SHOWN]]


def cut(text: str, limit: int = FAILURE_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def pair_runs(runs: list[Run]) -> list[Pair]:
    """Every two runs on the same benchmark, compared task by task."""
    return [_pair(runs, a, b) for a, b in combinations(range(len(runs)), 2) if runs[a].benchmark == runs[b].benchmark]


def _pair(runs: list[Run], a: int, b: int) -> Pair:
    rates_a = {t.task_id: t.pass_rate for t in runs[a].tasks}
    rates_b = {t.task_id: t.pass_rate for t in runs[b].tasks}
    common, gained, lost = discordant(rates_a, rates_b)
    return Pair(
        a=a,
        b=b,
        benchmark=runs[a].benchmark,
        common=len(common),
        both_pass=sum(1 for task in common if rates_a[task] == rates_b[task] == 1.0),
        both_fail=sum(1 for task in common if rates_a[task] == rates_b[task] == 0.0),
        gained=gained,
        lost=lost,
        p_value=sign_test(len(gained), len(lost)),
    )


def load_evolution(folder: Path, name: str) -> Evolution:
    """Every attempt of ``EXP/evolve/rounds/round_R.jsonl``, in round order (evolve's own reader)."""
    return Evolution(experiment=name, attempts=read_attempts(folder))


class _Prompts:
    """Each benchmark's task prompts, loaded once; a benchmark that cannot be loaded becomes a note."""

    def __init__(self, data_dir: Path | None, notes: list[str]) -> None:
        self.data_dir = data_dir
        self.notes = notes
        self.loaded: dict[str, dict[str, str]] = {}

    def get(self, benchmark: str) -> dict[str, str]:
        if benchmark not in self.loaded:
            self.loaded[benchmark] = self._load(benchmark)
        return self.loaded[benchmark]

    def _load(self, benchmark: str) -> dict[str, str]:
        from evolcoder.bench import get_benchmark

        try:
            tasks = get_benchmark(benchmark).load(self.data_dir)
        except Exception as error:  # noqa: BLE001 - any failure only costs the prompts
            self.notes.append(f"prompts of {benchmark} not shown: {error}")
            return {}
        return {task.task_id: _prompt_text(task.prompt, task.description) for task in tasks}


def _prompt_text(prompt: str, description: str) -> str:
    """The prompt, after the problem in words where the prompt does not hold it (MBPP)."""
    return f"{description}\n\n{prompt}" if description and description not in prompt else prompt

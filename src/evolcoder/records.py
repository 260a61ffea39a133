"""The records passed between stages, one type per kind of row, shared by their writer and readers.

Each stage writes rows another one reads: samples (``evolcoder generate``), verdicts (``evolcoder
eval``), evolution attempts (``evolcoder evolve``), training metrics (``evolcoder train``), stage
records and ``summary.json`` (``evolcoder run``, read by ``evolcoder report``). The writer builds a
row through its type here (``to_row``) and a reader reads it back through the same type
(``from_row``), so a key a reader looks for is one a writer writes.

A field whose value is ``ABSENT`` is left out of the row (``None`` is written as ``null``): some
keys appear only at times (``best_round`` once a round is chosen, ``output_hash`` once a stage is
complete). ``from_row`` is lenient: a key the row lacks reads as ``ABSENT``, a key the type does
not know is ignored, so ``to_row(from_row(row))`` gives back every known key in the type's order;
a reader names the keys it cannot do without in ``require``. The rows on disk are plain JSON with
these field names, in this order (``KEYS`` maps the few that are not Python names, ``pass@1``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

# Verdict statuses (``base_status`` / ``plus_status`` of a verdict and of eval_results.json's rows).
PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"
# Stage record statuses.
RUNNING, COMPLETE = "running", "complete"

VERDICTS_FILE = "verdicts.jsonl"
EVAL_SETTINGS_FILE = "eval_settings.json"  # what shaped an eval folder's verdicts (its samples file among them)
RESULTS_FILE = "eval_results.json"
METRICS_FILE = "metrics.jsonl"
STATS_FILE = "stats.json"
SUMMARY_FILE = "summary.json"
# The keys of one sample's row in eval_results.json (EvalPlus's schema): a verdict's first keys.
RESULT_KEYS = ("task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests")
# What evolcoder adds to those rows (EvalPlus's keys stay as they are): why each test set failed.
FAILURE_KEYS = ("base_failure", "plus_failure")


class _Absent:
    """The value of a field left out of its row; false, like a missing key read with ``.get``."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def given(value: Any, default: Any = None) -> Any:
    """``value``, or ``default`` where the row lacked its key."""
    return default if value is ABSENT else value


@dataclass(frozen=True, kw_only=True)
class Record:
    """A row of JSON: its fields are the row's keys, in order."""

    KEYS: ClassVar[Mapping[str, str]] = {}  # field -> JSON key, where the key is not a Python name

    @classmethod
    def key(cls, name: str) -> str:
        """The JSON key of field ``name`` (a ``KeyError`` for a field the type does not have)."""
        if name not in {f.name for f in fields(cls)}:
            raise KeyError(f"{cls.__name__} has no field {name!r}")
        return cls.KEYS.get(name, name)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(cls.KEYS.get(f.name, f.name) for f in fields(cls))

    def to_row(self) -> dict[str, Any]:
        """The row as written: every field not ``ABSENT``, nested records as their rows."""
        row = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not ABSENT:
                row[self.KEYS.get(f.name, f.name)] = _plain(value)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, require: Iterable[str] = ()) -> Self:
        """The record of ``row``; a ``KeyError`` naming the JSON key of a ``require``d field it lacks."""
        for name in require:
            if cls.key(name) not in row:
                raise KeyError(cls.key(name))
        return cls(**{f.name: row.get(cls.KEYS.get(f.name, f.name), ABSENT) for f in fields(cls)})


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_row()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


# ---- evolcoder generate: one generated sample (a samples file, EvalPlus's JSONL plus our keys) ----


@dataclass(frozen=True, kw_only=True)
class SampleRow(Record):
    task_id: str
    sample_index: int
    solution: str  # the program to test
    raw: str  # the model's text it was extracted from
    prompt_style: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


# ---- evolcoder eval: one verdict on one sample (verdicts.jsonl) -----------------------------------


@dataclass(frozen=True, kw_only=True)
class Verdict(Record):
    run: str  # the judging settings' key: a verdict is reused only under the same ones
    key: str  # the sample's place and content (``Sample.key`` of eval.samples)
    task_id: str
    completion_id: int
    solution: str
    base_status: str  # PASS, FAIL or TIMEOUT
    plus_status: str | None  # None where the benchmark has no plus tests
    base_fail_tests: list
    plus_fail_tests: list
    base_reason: str | None
    plus_reason: str | None
    in_process: bool  # the tests ran beside the candidate (forgeable)
    base_failure: Failure | dict | None = None  # why the base tests failed; None when they passed
    plus_failure: Failure | dict | None = None
    base_details: Any = ABSENT  # with --details only
    plus_details: Any = ABSENT


# Failure kinds, in the order `evolcoder eval` and the report list them.
SYNTAX_ERROR = "syntax_error"  # the solution is not valid Python
NAME_ERROR = "name_error"  # NameError, ImportError, ModuleNotFoundError, UnboundLocalError
EXCEPTION = "exception"  # any other exception; ``exception`` names its type
WRONG_OUTPUT = "wrong_output"  # ran, returned something else (or a test's assert failed)
TIMEOUT_KIND = "timeout"
MEMORY = "memory"  # MemoryError or the sandbox's address-space limit
BLOCKED = "blocked"  # the sandbox refused something (a blocked call, a denied system call)
FAILURE_KINDS = (SYNTAX_ERROR, NAME_ERROR, EXCEPTION, WRONG_OUTPUT, TIMEOUT_KIND, MEMORY, BLOCKED)
FAILURE_TEXT_CHARS = 300  # inputs, outputs and messages are cut to this many characters ("…" added)


@dataclass(frozen=True, kw_only=True)
class Failure(Record):
    """Why one test set failed: its first failing test, as a reader would want to see it."""

    kind: str  # one of FAILURE_KINDS
    message: str  # one line: "ValueError: math domain error", "expected 3, got 4", "CPU limit 1.0 s"
    exception: str | None = None  # the exception's type name, where one was raised
    defining: bool = False  # it happened while defining the solution (module-level code), before any test
    test: int | None = None  # index of the first failing test (input or assert) in its set
    input: str | None = None  # repr of that test's input (EvalPlus) or its assert line (MBPP)
    expected: str | None = None  # repr of the expected output (EvalPlus)
    actual: str | None = None  # repr of what the solution returned
    line: int | None = None  # line of the solution where the exception was raised
    source: str | None = None  # that line's text
    limit_s: float | None = None  # the CPU limit that was hit (timeouts)


# ---- evolcoder evolve: one evolution attempt (rounds/round_R.jsonl) -------------------------------


@dataclass(frozen=True, kw_only=True)
class Attempt(Record):
    id: str  # SEED_ID@rR
    seed_id: str
    round: int
    depth: int  # evolutions the instruction has been through (one more once kept)
    heuristic: str
    original: str
    instruction: str = ""
    answer: str = ""
    kept: bool = False
    reason: str | None = None  # why it was eliminated
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge: str = ABSENT  # the teacher's information-gain answer, with --judge-equal
    tests: str = ABSENT  # with --verify tests: the asserts the kept answer passed
    verify_attempts: int = ABSENT  # with --verify tests: answers tried (1 + re-asks)
    verify: list[VerifyRun | dict] = ABSENT  # with --verify tests: each try, in order


# Outcomes of one verification try (``VerifyRun.outcome``); all but PASSED are also elimination reasons.
PASSED = "passed"
FAILED_OWN_TESTS = "failed_own_tests"  # the answer ran against its tests and failed them
TESTS_CANNOT_FAIL = "tests_cannot_fail"  # too few asserts, no call of the answer, or a wrong answer passes
TESTS_DO_NOT_PARSE = "tests_do_not_parse"
NO_FUNCTION_TO_TEST = "no_function_to_test"  # the answer defines no Python function or class


@dataclass(frozen=True, kw_only=True)
class VerifyRun(Record):
    """One try of ``evolve --verify tests``: an answer, the tests the teacher wrote for it, the outcome."""

    attempt: int  # 1 = the answer the evolution got; 2.. = answers asked again
    outcome: str  # PASSED or why not (one of the outcomes above, or a text filter's reason)
    detail: str | None = None  # the failing assert's error, the mutant that passed, ...
    answer: str = ""
    tests: str = ""


@dataclass(frozen=True, kw_only=True)
class DatasetStats(Record):
    """A round dataset's ``stats.json``."""

    round: int
    complete: bool
    stopped: str | None
    pairs: int
    removed: dict[str, int]  # reason -> pairs removed
    by_source: dict[str, int]  # seed / round_R -> pairs


# ---- evolcoder train: one logged optimizer step (metrics.jsonl) -----------------------------------


@dataclass(frozen=True, kw_only=True)
class Metrics(Record):
    step: int
    epoch: float
    loss: float = ABSENT  # the Trainer's logged values, where it logged them
    learning_rate: float = ABSENT
    grad_norm: float = ABSENT
    entropy: float = ABSENT
    mean_token_accuracy: float = ABSENT
    num_tokens: int  # trained on since the start of the run
    tokens_per_s: float = ABSENT
    time: float


# ---- evolcoder run: a stage's record (EXP/stages/NAME.json) --------------------------------------


@dataclass(frozen=True, kw_only=True)
class StageRecord(Record):
    stage: str
    kind: str
    round: int | None
    input_hash: str
    inputs: dict[str, Any]
    outputs: list[str]
    status: str  # RUNNING or COMPLETE
    output_hash: str = ABSENT  # once complete
    started: float
    seconds: float = ABSENT  # once complete


# ---- evolcoder run: EXP/summary.json, read by evolcoder report -----------------------------------


@dataclass(frozen=True, kw_only=True)
class DevSet(Record):
    benchmark: str
    task_ids: str
    n_tasks: int = ABSENT


@dataclass(frozen=True, kw_only=True)
class SummaryRound(Record):
    """One round's entry; its keys appear as the round's stages finish. Paths are relative to EXP."""

    KEYS: ClassVar[Mapping[str, str]] = {"dev_pass1": "dev_pass@1"}

    round: int
    n_pairs: int = ABSENT
    dataset: str = ABSENT
    evolve_stats: str | None = ABSENT  # None for round 0 (the seed is not evolved)
    train_dir: str = ABSENT
    dev_pass1: float = ABSENT  # a fraction
    dev_passed: int = ABSENT  # samples passed
    dev_n: int = ABSENT  # tasks


@dataclass(frozen=True, kw_only=True)
class ModelEntry(Record):
    label: str
    path: str


@dataclass(frozen=True, kw_only=True)
class RunSetting(Record):
    mode: str  # greedy or sampled
    n: int
    temperature: float


@dataclass(frozen=True, kw_only=True)
class LibraryScore(Record):
    """DS-1000's pass@1 on one library."""

    KEYS: ClassVar[Mapping[str, str]] = {"pass1": "pass@1"}

    pass1: float
    passed: int
    n: int


@dataclass(frozen=True, kw_only=True)
class ScoreRow(Record):
    """One (model, benchmark) test result."""

    KEYS: ClassVar[Mapping[str, str]] = {"pass1": "pass@1"}

    model: str
    benchmark: str
    n_tasks: int
    n_samples: int
    setting: RunSetting | dict
    pass1: float  # a fraction
    passed: int  # samples passed
    results: str  # its eval_results.json, relative to EXP
    per_library: dict[str, LibraryScore | dict] = ABSENT  # DS-1000 only


@dataclass(frozen=True, kw_only=True)
class Summary(Record):
    SCHEMA: ClassVar[int] = 1

    schema: int
    name: str
    manifest: str
    base_model: str
    dev: DevSet | dict
    rounds: list[SummaryRound | dict]
    best_round: int = ABSENT  # once a round is chosen
    models: dict[str, ModelEntry | dict]
    test: list[ScoreRow | dict]

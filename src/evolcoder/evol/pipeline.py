"""``evolcoder evolve``: Code Evol-Instruct rounds over a pool of seed instructions.

Round r attempts one evolution of every instruction in the pool: the teacher rewrites it with
one heuristic, then answers the rewrite; the elimination rules judge the pair. A kept pair's
instruction is what round r+1 evolves further; an eliminated item goes back to the pool as it
was. Every attempt is one line of ``rounds/round_<r>.jsonl`` (append-only, resumed by id), and
the round-r dataset is the seed plus the kept pairs of rounds 1..r (see ``dataset.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evolcoder.errors import UserError
from evolcoder.evol import filters, verify
from evolcoder.evol.config import FROZEN_FIELDS, EvolveConfig
from evolcoder.evol.seeds import Seed, fold_input, load_seeds
from evolcoder.evol.templates import (
    choose_heuristic,
    clean_evolved,
    evolution_prompt,
)
from evolcoder.evol.verify import Sandbox
from evolcoder.jsonl import AppendLog, read_rows
from evolcoder.llm import Backend, SamplingParams, open_backend
from evolcoder.records import NO_FUNCTION_TO_TEST, PASSED, Attempt, VerifyRun

NO_INFORMATION_GAIN = "no_information_gain"  # the LLM judge found the rewrite equal to the original
TRUNCATED_INSTRUCTION = "truncated_instruction"  # the rewrite hit the token limit
TRUNCATED_ANSWER = "truncated_answer"


@dataclass
class Item:
    """An instruction in the pool: where it came from and how many evolutions it has been through."""

    seed_id: str
    instruction: str
    depth: int = 0


class Budget:
    """Teacher tokens and their cost so far, shared by the worker threads."""

    def __init__(self, config: EvolveConfig, used: tuple[int, int]) -> None:
        self.prices = config.price()
        self.max_tokens, self.max_cost = config.max_tokens, config.max_cost
        self.prompt_tokens, self.completion_tokens = used
        self._lock = threading.Lock()

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        with self._lock:
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens

    @property
    def cost(self) -> float:
        return (self.prompt_tokens * self.prices[0] + self.completion_tokens * self.prices[1]) / 1e6

    def exhausted(self) -> str | None:
        if self.max_tokens is not None and self.prompt_tokens + self.completion_tokens >= self.max_tokens:
            return f"--max-tokens {self.max_tokens} reached"
        if self.max_cost is not None and self.cost >= self.max_cost:
            return f"--max-cost {self.max_cost} reached (estimated ${self.cost:.4f})"
        return None


@dataclass
class EvolveResult:
    output_dir: Path
    rounds_done: int
    stopped: str | None  # why the run stopped before --rounds, if it did
    datasets: list[Path]


def evolve(config: EvolveConfig) -> EvolveResult:
    from evolcoder.evol.dataset import write_round_dataset

    seeds = load_seeds(config.seed_data, config.seed_columns or None, config.limit)
    check_resume(config)
    records_by_round = [read_round(config, r) for r in range(1, config.rounds + 1)]
    budget = Budget(config, _tokens_used(records_by_round))
    pool = [Item(seed.id, fold_input(seed)) for seed in seeds]
    sandbox = Sandbox(config.sandbox_workers) if config.verify != "none" else None
    try:
        stopped, rounds_done = _rounds(config, pool, records_by_round, budget, sandbox)
    finally:
        if sandbox is not None:
            sandbox.close()
    datasets = [
        write_round_dataset(config, seeds, records_by_round[:r], complete=r <= rounds_done, stopped=stopped)
        for r in range(1, len(records_by_round) + 1)
        if records_by_round[r - 1]
    ]
    return EvolveResult(config.output_dir, rounds_done, stopped, datasets)


def _rounds(
    config: EvolveConfig,
    pool: list[Item],
    records_by_round: list[dict[str, dict]],
    budget: Budget,
    sandbox: Sandbox | None,
) -> tuple[str | None, int]:
    """Runs the rounds not yet complete; (why it stopped early, if it did; rounds complete)."""
    teacher: Backend | None = None
    stopped = None
    rounds_done = 0
    for round_number, done in enumerate(records_by_round, start=1):
        todo = [item for item in pool if attempt_id(item, round_number) not in done]
        if todo and stopped is None:
            stopped = budget.exhausted()
        if todo and stopped is None:
            teacher = teacher or open_backend(
                config.teacher_backend,
                config.teacher,
                concurrency=config.concurrency,
                base_url=config.base_url,
                api_key_env=config.api_key_env,
            )
            stopped = run_round(config, teacher, round_number, pool, done, budget, sandbox)
        if len(done) == len(pool):
            rounds_done = round_number
            pool = next_pool(pool, done, round_number)
        if stopped is not None:
            break
    return stopped, rounds_done


def attempt_id(item: Item, round_number: int) -> str:
    return f"{item.seed_id}@r{round_number}"


def next_pool(pool: list[Item], done: dict[str, dict], round_number: int) -> list[Item]:
    """Kept rewrites go on evolving; eliminated items go back to the pool unchanged."""
    following = []
    for item in pool:
        record = done[attempt_id(item, round_number)]
        if record["kept"]:
            following.append(Item(item.seed_id, record["instruction"], item.depth + 1))
        else:
            following.append(item)
    return following


@dataclass
class Teacher:
    """What an attempt needs beyond its items: the teacher, the budget, the run's options, the sandbox."""

    config: EvolveConfig
    backend: Backend
    budget: Budget
    sandbox: Sandbox | None = None
    gate: threading.Semaphore | None = None  # caps requests in flight when more items than that are

    def ask(self, prompts: list[str], params: SamplingParams) -> list:
        if not prompts:
            return []
        messages = [[{"role": "user", "content": p}] for p in prompts]
        with self.gate or nullcontext():
            return [answers[0] for answers in self.backend.chat(messages, params)]


def run_round(
    config: EvolveConfig,
    backend: Backend,
    round_number: int,
    pool: list[Item],
    done: dict[str, dict],
    budget: Budget,
    sandbox: Sandbox | None = None,
) -> str | None:
    """Attempts every pool item not yet in ``done``; returns why it stopped early, if it did."""
    counts = {"kept": sum(1 for r in done.values() if r["kept"]), "new_kept": 0}
    started = time.monotonic()
    bar = tqdm(
        total=len(pool),
        initial=len(done),
        desc=f"evolve round {round_number}",
        unit="item",
        disable=not config.progress,
    )
    with bar, AppendLog(round_path(config, round_number)) as log:

        def record(row: dict) -> None:
            log.write(row)
            done[row["id"]] = row
            counts["kept"] += row["kept"]
            counts["new_kept"] += row["kept"]
            minutes = max(time.monotonic() - started, 1e-9) / 60
            bar.set_postfix(
                pairs_min=f"{counts['new_kept'] / minutes:.1f}", eliminated=f"{1 - counts['kept'] / len(done):.0%}"
            )
            bar.update(1)

        teacher = Teacher(config, backend, budget, sandbox)
        drive = _threaded if getattr(backend, "thread_safe", False) else _chunked
        return drive(teacher, round_number, pool, done, record)


def _chunked(teacher: Teacher, round_number: int, pool: list[Item], done: dict, record: Callable) -> str | None:
    """Local engines batch internally: hand them several slots' worth of items per call.

    Calls cover fixed slices of the pool, skipping slices already recorded: batched decoding is not
    batch-invariant, so a resumed run must batch exactly as an uninterrupted one to get the same text.
    """
    size = 4 * teacher.config.concurrency
    for first in range(0, len(pool), size):
        chunk = pool[first : first + size]
        if all(attempt_id(item, round_number) in done for item in chunk):
            continue
        for row in attempt(teacher, round_number, chunk):
            if row["id"] not in done:
                record(row)
        reason = teacher.budget.exhausted()
        if reason is not None:
            return reason
    return None


def _threaded(teacher: Teacher, round_number: int, pool: list[Item], done: dict, record: Callable) -> str | None:
    """Remote servers: ``concurrency`` requests in flight, each item going evolve -> answer -> judge ->
    verify on its own, so the server always has requests waiting instead of idling at a stage boundary.

    With a sandbox, ``sandbox_workers`` more items are in flight than requests: while some run their
    code and tests, the others keep the teacher's ``concurrency`` requests going.
    """
    config = teacher.config
    pending = iter([item for item in pool if attempt_id(item, round_number) not in done])
    in_flight = config.concurrency
    if teacher.sandbox is not None:
        teacher.gate = threading.Semaphore(config.concurrency)
        in_flight += teacher.sandbox.pool.n_workers
    stopped: str | None = None
    with ThreadPoolExecutor(in_flight) as threads:
        running: set[Future] = set()

        def refill() -> None:
            nonlocal stopped
            while len(running) < in_flight and stopped is None:
                stopped = teacher.budget.exhausted()
                item = next(pending, None) if stopped is None else None
                if item is None:
                    return
                running.add(threads.submit(attempt, teacher, round_number, [item]))

        refill()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.discard(future)
                for row in future.result():
                    record(row)
            refill()
    return stopped


def attempt(teacher: Teacher, round_number: int, items: list[Item]) -> list[dict]:
    """One evolution attempt per item, batched stage by stage: rewrite, answer, (judge), eliminate, (verify)."""
    config = teacher.config
    ids = [attempt_id(item, round_number) for item in items]
    heuristics = [choose_heuristic(config.heuristic_weights, config.seed, i) for i in ids]
    rows = [
        Attempt(
            id=i, seed_id=item.seed_id, round=round_number, depth=item.depth, heuristic=h, original=item.instruction
        ).to_row()
        for i, item, h in zip(ids, items, heuristics, strict=True)
    ]  # filled in stage by stage below
    prompts = [evolution_prompt(item.instruction, h) for item, h in zip(items, heuristics, strict=True)]
    for row, generation in zip(rows, teacher.ask(prompts, config.sampling(config.evolve_max_tokens)), strict=True):
        _count(row, generation, teacher.budget)
        row["instruction"] = clean_evolved(generation.text)
        if generation.finish_reason == "length":
            row["reason"] = TRUNCATED_INSTRUCTION
        else:
            row["reason"] = (
                filters.instruction_length(row["instruction"])
                or filters.copied_template(row["instruction"])
                or filters.unchanged(row["original"], row["instruction"])
            )
    alive = [row for row in rows if row["reason"] is None]
    _answer(teacher, alive)
    if config.judge_equal:
        _judge(teacher, [row for row in alive if row["reason"] is None])
    if config.verify == "run":
        _run_code(teacher, [row for row in alive if row["reason"] is None])
    elif config.verify == "tests":
        _verify(teacher, [row for row in alive if row["reason"] is None])
    for row in rows:
        row["kept"] = row["reason"] is None
        if row["kept"]:
            row["depth"] += 1
    return rows


def _answer(teacher: Teacher, rows: list[dict], try_number: int = 1) -> None:
    """The teacher answers each row's instruction; the text rules judge the answer (``row["reason"]``)."""
    params = teacher.config.sampling(teacher.config.answer_max_tokens, try_number=try_number)
    for row, generation in zip(rows, teacher.ask([row["instruction"] for row in rows], params), strict=True):
        _count(row, generation, teacher.budget)
        row["answer"] = generation.text.strip()
        if generation.finish_reason == "length":
            row["reason"] = TRUNCATED_ANSWER
        else:
            row["reason"] = filters.eliminate(row["original"], row["instruction"], row["answer"])


def _run_code(teacher: Teacher, rows: list[dict]) -> None:
    """``--verify run``: the answer's Python blocks must run to their end in the sandbox."""
    assert teacher.sandbox is not None
    reasons = teacher.sandbox.map(lambda worker, row: filters.code_fails_to_run(row["answer"], worker), rows)
    for row, reason in zip(rows, reasons, strict=True):
        row["reason"] = reason


def _verify(teacher: Teacher, rows: list[dict]) -> None:
    """``--verify tests``: tests from the teacher, run by the sandbox; failing answers asked for again."""
    for row in rows:
        row.update(verify=[], verify_attempts=0)
    pending = list(rows)
    for try_number in range(1, teacher.config.verify_attempts + 1):
        if try_number > 1:
            _answer(teacher, pending, try_number)
        for row, run in zip(pending, _try(teacher, pending, try_number), strict=True):
            row["verify"].append(run.to_row())
            row["verify_attempts"] = try_number
            row["reason"] = None if run.outcome == PASSED else run.outcome
            if run.outcome == PASSED:
                row["tests"] = run.tests
        pending = [row for row in pending if row["reason"] is not None]
        if not pending:
            return
    for row in pending:
        row["reason"] = verify.furthest([run["outcome"] for run in row["verify"]])
        row["answer"] = row["verify"][0]["answer"]  # the evolution's own answer, as without verification


def _try(teacher: Teacher, rows: list[dict], try_number: int) -> list[VerifyRun]:
    """One try per row: its answer (already judged by the text rules), tests for it, the sandbox's verdict."""
    config = teacher.config
    runs = [VerifyRun(attempt=try_number, outcome=row["reason"] or PASSED, answer=row["answer"]) for row in rows]
    codes = [verify.answer_code(row["answer"]) for row in rows]
    names = [verify.defined_names(code) for code in codes]
    for i, row in enumerate(rows):
        if row["reason"] is None and not names[i]:
            runs[i] = replace(runs[i], outcome=NO_FUNCTION_TO_TEST)
    testable = [i for i, run in enumerate(runs) if run.outcome == PASSED]
    prompts = [
        verify.tests_prompt(rows[i]["instruction"], codes[i], names[i], config.verify_min_asserts) for i in testable
    ]
    replies = teacher.ask(prompts, config.sampling(config.tests_max_tokens, try_number=try_number))
    cases = []
    for i, generation in zip(testable, replies, strict=True):
        _count(rows[i], generation, teacher.budget)
        cases.append(verify.Case(codes[i], verify.extract_tests(generation.text, names[i]), names[i]))
    judged = verify.judge(teacher.sandbox.run, cases, config.verify_min_asserts)
    for i, case, result in zip(testable, cases, judged, strict=True):
        runs[i] = replace(runs[i], outcome=result.outcome, detail=result.detail, tests=case.tests)
    return runs


def _judge(teacher: Teacher, rows: list[dict]) -> None:
    """WizardLM's information-gain check: the teacher says whether the rewrite equals the original."""
    prompts = [filters.judge_prompt(row["original"], row["instruction"]) for row in rows]
    for row, generation in zip(rows, teacher.ask(prompts, teacher.config.sampling(16, greedy=True)), strict=True):
        _count(row, generation, teacher.budget)
        row["judge"] = generation.text.strip()
        if filters.parse_judgement(generation.text) is True:
            row["reason"] = NO_INFORMATION_GAIN


def _count(row: dict, generation: Any, budget: Budget) -> None:
    row["prompt_tokens"] += generation.prompt_tokens
    row["completion_tokens"] += generation.completion_tokens
    budget.add(generation.prompt_tokens, generation.completion_tokens)


# ---- files ---------------------------------------------------------------------------------------


def round_path(config: EvolveConfig, round_number: int) -> Path:
    return config.output_dir / "rounds" / f"round_{round_number}.jsonl"


def read_round(config: EvolveConfig, round_number: int) -> dict[str, dict]:
    """Attempts already recorded for a round, by id (a line cut by a kill is dropped)."""
    path = round_path(config, round_number)
    done: dict[str, dict] = {}
    for number, row in read_rows(path):
        try:
            done[Attempt.from_row(row, require=("id",)).id] = row
        except (KeyError, TypeError):
            raise UserError(f"{path}:{number}: not a record written by evolcoder evolve (field 'id')") from None
    return done


def _tokens_used(records_by_round: list[dict[str, dict]]) -> tuple[int, int]:
    rows = [row for done in records_by_round for row in done.values()]
    return sum(r["prompt_tokens"] for r in rows), sum(r["completion_tokens"] for r in rows)


def check_resume(config: EvolveConfig) -> None:
    """The first run saves its settings; a later run into the same folder must not change them."""
    from evolcoder.resume import check_settings

    settings = {name: _plain(getattr(config, name)) for name in FROZEN_FIELDS}
    everything = {k: _plain(v) for k, v in asdict(config).items()}  # kept for the record, not compared
    check_settings(
        config.output_dir / "evolve_config.json", settings, way_out="use a new --output-dir", record=everything
    )


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def iter_kept(records_by_round: list[dict[str, dict]]) -> Iterator[dict]:
    for done in records_by_round:
        yield from (row for row in done.values() if row["kept"])


__all__ = ["EvolveConfig", "EvolveResult", "Item", "Seed", "evolve"]

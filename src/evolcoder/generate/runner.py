"""``evolcoder generate``: sample solutions for a benchmark's tasks into an EvalPlus samples file.

Each row keeps the raw response beside the extracted program. Rows are appended as they are
made; a rerun after a kill skips (task, sample) pairs already in the file, so nothing is
duplicated or missing.
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from evolcoder.bench import get_benchmark
from evolcoder.bench.base import Task
from evolcoder.bench.prompts import base_prompt, chat_messages, paper_prompt
from evolcoder.errors import UserError
from evolcoder.eval.samples import normalize_task_id
from evolcoder.generate.config import GenerateConfig
from evolcoder.generate.extract import program_for
from evolcoder.jsonl import AppendLog, read_rows
from evolcoder.llm import Backend, Generation, SamplingParams, open_backend
from evolcoder.records import SampleRow
from evolcoder.resume import check_settings, say_complete


def select_tasks(tasks: list[Task], config: GenerateConfig) -> list[Task]:
    by_id = {t.task_id: t for t in tasks}
    if config.task_ids:
        chosen = []
        for raw in config.task_ids:
            task_id = normalize_task_id(raw, by_id)
            if task_id is None:
                raise UserError(f"--task-ids: unknown task {raw!r} for {config.benchmark}")
            chosen.append(by_id[task_id])
        tasks = chosen
    return tasks[: config.limit] if config.limit else tasks


def load_tasks(config: GenerateConfig) -> list[Task]:
    if config.library:  # only a benchmark with libraries accepts --library (GenerateConfig checks)
        return get_benchmark(config.benchmark).load(config.data_dir, config.library)
    return get_benchmark(config.benchmark).load(config.data_dir)


# What shapes the rows (not which tasks: a rerun with a higher --limit extends the file). Batching
# changes llama.cpp's text, so --concurrency is one of them.
OUTPUT_SETTINGS = (
    "benchmark",
    "backend",
    "model",
    "prompt_style",
    "n",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
    "concurrency",
    "base_url",
)


def settings_path(output: Path) -> Path:
    """The settings a samples file was made with, beside it (the samples file stays plain EvalPlus JSONL)."""
    return output.with_name(output.name + ".settings.json")


def output_settings(config: GenerateConfig) -> dict:
    return {name: getattr(config, name) for name in OUTPUT_SETTINGS}


def read_existing(path: Path) -> set[tuple[str, int]]:
    """(task_id, sample index) pairs already written; a line cut short by a kill is dropped."""
    done: set[tuple[str, int]] = set()
    for number, row in read_rows(path):
        try:
            sample = SampleRow.from_row(row, require=("task_id", "sample_index"))
            done.add((sample.task_id, int(sample.sample_index)))
        except (ValueError, KeyError, TypeError):
            raise UserError(
                f"{path}:{number}: not a row written by evolcoder generate (field 'sample_index')"
            ) from None
    return done


def generate(config: GenerateConfig, backend: Backend | None = None) -> Path:
    """Sample into ``config.output``; ``backend``, if given, is used instead of loading one."""
    tasks = select_tasks(load_tasks(config), config)
    check_settings(settings_path(config.output), output_settings(config), way_out="use a new --output")
    done = read_existing(config.output)
    todo = [t for t in tasks if any((t.task_id, j) not in done for j in range(config.n))]
    if not todo:
        say_complete(f"{config.output} ({len(tasks)} tasks x {config.n})", len(done))
        return config.output
    params = config.sampling()
    if todo and backend is None:
        backend = open_backend(
            config.backend,
            config.model,
            concurrency=config.concurrency,
            base_url=config.base_url,
            api_key_env=config.api_key_env,
        )
    # Enough tasks per call to keep every sequence slot busy; rows are written after each call, so
    # a kill loses at most one call's work. Calls cover fixed slices of the task list: batched
    # kernels are not batch-invariant (llama.cpp #6583), so a resumed run must batch exactly as an
    # uninterrupted one did to give the same text.
    chunk = 4 * config.concurrency
    tokens, started = 0, time.monotonic()
    bar = tqdm(
        total=len(tasks),
        initial=len(tasks) - len(todo),
        desc=f"generate {config.benchmark}",
        unit="task",
        disable=not config.progress,
    )
    pending = {task.task_id for task in todo}
    with bar, AppendLog(config.output) as out:
        for first in range(0, len(tasks), chunk):
            batch = tasks[first : first + chunk]
            if not any(task.task_id in pending for task in batch):
                continue
            for task, generations in zip(batch, _sample(backend, batch, config, params), strict=True):
                for j, generation in enumerate(generations):
                    if (task.task_id, j) not in done:
                        out.write(_row(task, j, generation, config.prompt_style))
                        tokens += generation.completion_tokens
                bar.update(task.task_id in pending)
            bar.set_postfix(tok_s=f"{tokens / max(time.monotonic() - started, 1e-9):.1f}")
    return config.output


def _sample(backend: Backend, tasks: list[Task], config: GenerateConfig, params: SamplingParams) -> list:
    if config.prompt_style == "chat":
        return backend.chat([chat_messages(task) for task in tasks], params)
    prompt_of = paper_prompt if config.prompt_style == "paper" else base_prompt
    return backend.complete([prompt_of(task) for task in tasks], params)


def _row(task: Task, sample_index: int, generation: Generation, prompt_style: str) -> dict:
    raw = generation.text
    solution = program_for(task, raw, continues_prompt=prompt_style == "base" and not task.description)
    return SampleRow(
        task_id=task.task_id,
        sample_index=sample_index,
        solution=solution,
        raw=raw,
        prompt_style=prompt_style,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        finish_reason=generation.finish_reason,
    ).to_row()

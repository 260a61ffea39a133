"""``evolcoder extract``: programs to test from generations made elsewhere (the counterpart of
``evalplus.sanitize``).

Each input row has a ``task_id`` and the model's text in ``response`` (a chat answer),
``solution`` (an answer or a whole program) or ``completion`` (a continuation of the task's
prompt). Each output row is the input row with ``solution`` set to the extracted program and the
text it came from kept under ``raw``, so ``evolcoder eval`` can judge the file and a reader can
see what the model wrote. The output is written whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.bench import get_benchmark, task_traits
from evolcoder.bench.base import Task
from evolcoder.bench.extract import defines, extract_program, parses
from evolcoder.eval.samples import InputError, json_rows, task_id_of, text_of
from evolcoder.generate.config import ExtractConfig
from evolcoder.jsonl import write_rows_atomic

TEXT_FIELDS = ("response", "solution", "completion")


def program_for(task: Task, text: str, *, continues_prompt: bool) -> str:
    """The program to test for a model's ``text`` on ``task``.

    ``continues_prompt``: the text carries on from the end of the task's prompt (a completion
    model), so prompt and text are read as one program. A benchmark that post-processes its
    answers (DS-1000) reads ``text`` its own way, continued or not.
    """
    postprocess = task_traits(task).postprocess
    if postprocess is not None:
        return postprocess(text, task)
    if continues_prompt:
        return extract_program(task.prompt + text, task.entry_point, "")
    return extract_program(text, task.entry_point, task.prompt)


@dataclass(frozen=True)
class ExtractSummary:
    rows: int
    parse: int  # programs that are valid Python
    define_entry_point: int  # programs that define the task's function
    output: Path


def extract_file(config: ExtractConfig) -> ExtractSummary:
    tasks = {task.task_id: task for task in get_benchmark(config.benchmark).load(config.data_dir)}
    rows = [_extract_row(row, f"{config.samples}:{number}", tasks) for number, row in json_rows(config.samples)]
    if not rows:
        raise InputError(f"{config.samples}: no rows in the file")
    _write_atomic(config.output, rows)
    programs = [(row["solution"], tasks[row["task_id"]]) for row in rows]
    return ExtractSummary(
        rows=len(rows),
        parse=sum(parses(code) for code, _ in programs),
        define_entry_point=sum(bool(task.entry_point) and defines(code, task.entry_point) for code, task in programs),
        output=config.output,
    )


def _extract_row(row: dict, where: str, tasks: dict[str, Task]) -> dict:
    task_id = task_id_of(row, where, tasks)
    field, text = text_of(row, where, TEXT_FIELDS)
    program = program_for(tasks[task_id], text, continues_prompt=field == "completion")
    out = {key: value for key, value in row.items() if key not in TEXT_FIELDS}
    out.update(task_id=task_id, solution=program)
    out.setdefault("raw", text)
    return out


def _write_atomic(path: Path, rows: list[dict]) -> None:
    if path.is_dir():
        raise InputError(f"{path}: --output is a folder; name the programs file to write")
    try:
        write_rows_atomic(path, rows, fsync=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the programs ({exc.strerror})") from None

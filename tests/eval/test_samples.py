"""read_samples: EvalPlus-format sample files, checked against the real benchmark task lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.base import Task
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval.samples import InputError, Sample, normalize_task_id, read_samples


@pytest.fixture(scope="module")
def humaneval() -> dict[str, Task]:
    return {t.task_id: t for t in get_benchmark("humaneval").load(data_dir_from_env())}


@pytest.fixture(scope="module")
def mbpp() -> dict[str, Task]:
    return {t.task_id: t for t in get_benchmark("mbpp").load(data_dir_from_env())}


@pytest.fixture(scope="module")
def mbpp_plus() -> dict[str, Task]:
    return {t.task_id: t for t in get_benchmark("mbpp+").load(data_dir_from_env())}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_rows(path: Path, rows: list[dict]) -> Path:
    return write_lines(path, [json.dumps(r) for r in rows])


def read_error(path: Path, tasks: dict[str, Task]) -> str:
    with pytest.raises(InputError) as info:
        read_samples(path, tasks)
    message = str(info.value)
    assert "\n" not in message, f"error message is not one line: {message!r}"
    assert isinstance(info.value, ValueError)  # the CLI turns ValueErrors into exit code 2
    return message


# ---------------------------------------------------------------------------------------------
# good files
# ---------------------------------------------------------------------------------------------


def test_solution_rows_are_taken_as_they_are(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    code = "def has_close_elements(numbers, threshold):\n    return False\n"
    path = write_rows(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "solution": code}])
    [sample] = read_samples(path, humaneval)
    assert sample == Sample(task_id="HumanEval/0", solution=code, line=1, completion_id=0)


def test_completion_is_appended_to_the_prompt(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    completion = "    return False\n"
    path = write_rows(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": completion}])
    [sample] = read_samples(path, humaneval)
    assert sample.solution == humaneval["HumanEval/0"].prompt + completion
    assert sample.solution.startswith("from typing import List")


def test_solution_wins_over_completion(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    row = {"task_id": "HumanEval/1", "solution": "SOLUTION", "completion": "COMPLETION"}
    [sample] = read_samples(write_rows(tmp_path / "s.jsonl", [row]), humaneval)
    assert sample.solution == "SOLUTION"


def test_several_rows_per_task_keep_file_order(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    rows = [
        {"task_id": "HumanEval/3", "solution": "a0"},
        {"task_id": "HumanEval/5", "solution": "b0"},
        {"task_id": "HumanEval/3", "completion": "a1"},
        {"task_id": "HumanEval/3", "solution": "a2"},
        {"task_id": "HumanEval/5", "solution": "b1"},
    ]
    samples = read_samples(write_rows(tmp_path / "s.jsonl", rows), humaneval)
    assert [(s.task_id, s.completion_id, s.line) for s in samples] == [
        ("HumanEval/3", 0, 1),
        ("HumanEval/5", 0, 2),
        ("HumanEval/3", 1, 3),
        ("HumanEval/3", 2, 4),
        ("HumanEval/5", 1, 5),
    ]
    assert [s.solution for s in samples if s.task_id == "HumanEval/3"] == [
        "a0",
        humaneval["HumanEval/3"].prompt + "a1",
        "a2",
    ]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    lines = ["", json.dumps({"task_id": "HumanEval/0", "solution": "x"}), "   ", ""]
    lines.append(json.dumps({"task_id": "HumanEval/0", "solution": "y"}))
    samples = read_samples(write_lines(tmp_path / "s.jsonl", lines), humaneval)
    assert [(s.line, s.completion_id, s.solution) for s in samples] == [(2, 0, "x"), (5, 1, "y")]


def test_last_line_without_newline(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "solution": "x"}))
    assert [s.solution for s in read_samples(path, humaneval)] == ["x"]


@pytest.mark.parametrize("raw", ["11", 11, " 11 ", "Mbpp/11"])
def test_bare_mbpp_ids_map_to_mbpp_ids(tmp_path: Path, mbpp: dict[str, Task], raw: object) -> None:
    path = write_rows(tmp_path / "s.jsonl", [{"task_id": raw, "solution": "pass"}])
    [sample] = read_samples(path, mbpp)
    assert sample.task_id == "Mbpp/11"


def test_bare_ids_work_for_mbpp_plus(tmp_path: Path, mbpp_plus: dict[str, Task]) -> None:
    rows = [{"task_id": 2, "completion": "x"}, {"task_id": "Mbpp/2", "completion": "y"}]
    samples = read_samples(write_rows(tmp_path / "s.jsonl", rows), mbpp_plus)
    assert [(s.task_id, s.completion_id) for s in samples] == [("Mbpp/2", 0), ("Mbpp/2", 1)]
    assert samples[0].solution == mbpp_plus["Mbpp/2"].prompt + "x"


def test_normalize_task_id(humaneval: dict[str, Task], mbpp: dict[str, Task]) -> None:
    assert normalize_task_id("HumanEval/0", humaneval) == "HumanEval/0"
    assert normalize_task_id("0", humaneval) is None  # bare numbers are only for MBPP
    assert normalize_task_id(510, mbpp) == "Mbpp/510"
    assert normalize_task_id(10, mbpp) is None  # not one of the 500 test problems
    assert normalize_task_id(511, mbpp) is None
    assert normalize_task_id("Mbpp/x", mbpp) is None


def test_sample_keys_tell_rows_apart(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    rows = [{"task_id": "HumanEval/0", "solution": "same"}] * 2 + [{"task_id": "HumanEval/0", "solution": "other"}]
    samples = read_samples(write_rows(tmp_path / "s.jsonl", rows), humaneval)
    assert len({s.key for s in samples}) == 3
    again = read_samples(write_rows(tmp_path / "t.jsonl", rows), humaneval)
    assert [s.key for s in again] == [s.key for s in samples]  # stable across reads


# ---------------------------------------------------------------------------------------------
# bad files: one-line InputError naming file:line and the field
# ---------------------------------------------------------------------------------------------


def test_invalid_json_names_file_and_line(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = write_lines(
        tmp_path / "bad.jsonl",
        [json.dumps({"task_id": "HumanEval/0", "solution": "x"}), "", '{"task_id": "HumanEval/0", "solution": '],
    )
    message = read_error(path, humaneval)
    assert f"{path}:3" in message
    assert "invalid JSON" in message


def test_not_utf8_names_file_and_line(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"task_id": "HumanEval/0", "solution": "x"}).encode()
    path.write_bytes(good + b"\n" + good.replace(b'"x"', b'"caf\xe9"') + b"\n")
    message = read_error(path, humaneval)
    assert message.startswith(f"{path}:2: not UTF-8 text")


def test_not_an_object(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = write_lines(tmp_path / "bad.jsonl", ['["HumanEval/0", "x"]'])
    message = read_error(path, humaneval)
    assert f"{path}:1" in message
    assert "object" in message


def test_missing_task_id(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    rows = [{"task_id": "HumanEval/0", "solution": "x"}, {"solution": "x"}]
    path = write_rows(tmp_path / "bad.jsonl", rows)
    message = read_error(path, humaneval)
    assert f"{path}:2" in message
    assert "task_id" in message


@pytest.mark.parametrize("raw", ["HumanEval/164", "Mbpp/11", "11", "humaneval/0", None])
def test_unknown_task_id(tmp_path: Path, humaneval: dict[str, Task], raw: object) -> None:
    path = write_rows(tmp_path / "bad.jsonl", [{"task_id": raw, "solution": "x"}])
    message = read_error(path, humaneval)
    assert f"{path}:1" in message
    assert "task_id" in message
    assert repr(raw) in message


def test_unknown_mbpp_number(tmp_path: Path, mbpp: dict[str, Task]) -> None:
    path = write_rows(tmp_path / "bad.jsonl", [{"task_id": 5, "solution": "x"}])
    message = read_error(path, mbpp)
    assert f"{path}:1" in message
    assert "task_id" in message


@pytest.mark.parametrize("field", ["solution", "completion"])
@pytest.mark.parametrize("value", [None, 3, ["def f(): pass"], {"code": "x"}])
def test_non_string_code(tmp_path: Path, humaneval: dict[str, Task], field: str, value: object) -> None:
    rows = [{"task_id": "HumanEval/0", field: "ok"}, {"task_id": "HumanEval/0", field: value}]
    path = write_rows(tmp_path / "bad.jsonl", rows)
    message = read_error(path, humaneval)
    assert f"{path}:2" in message
    assert field in message
    assert "string" in message


def test_neither_solution_nor_completion(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = write_rows(tmp_path / "bad.jsonl", [{"task_id": "HumanEval/0", "code": "x"}])
    message = read_error(path, humaneval)
    assert f"{path}:1" in message
    assert "solution" in message and "completion" in message


@pytest.mark.parametrize("content", ["", "\n", "  \n\n"])
def test_empty_file(tmp_path: Path, humaneval: dict[str, Task], content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    message = read_error(path, humaneval)
    assert str(path) in message


def test_missing_file(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = tmp_path / "nope.jsonl"
    message = read_error(path, humaneval)
    assert str(path) in message


def test_not_utf8(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"task_id": "HumanEval/0", "solution": "caf\xe9"}\n')
    message = read_error(path, humaneval)
    assert str(path) in message


def test_first_error_wins(tmp_path: Path, humaneval: dict[str, Task]) -> None:
    rows = ['{"task_id": "HumanEval/0", "solution": "x"}', '{"solution": "x"}', "not json"]
    path = write_lines(tmp_path / "bad.jsonl", rows)
    message = read_error(path, humaneval)
    assert f"{path}:2" in message
    assert f"{path}:3" not in message

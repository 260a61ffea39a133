"""load_seeds on the real Code Alpaca 2k file, on JSON/JSONL variants and on a local HF dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.data import resolve_data_file
from evolcoder.eval.samples import InputError
from evolcoder.evol.seeds import Seed, fold_input, load_seeds

RECORDS = [
    {
        "instruction": "Write a Python function to reverse a string.",
        "input": "",
        "output": "def r(s):\n    return s[::-1]",
    },
    {"instruction": "Sum the numbers in the list.", "input": "[1, 2, 3]", "output": "sum([1, 2, 3])"},
    {"instruction": "Explain what a Python generator is.", "output": "A function that yields values lazily."},
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def error_of(path: str | Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as info:
        load_seeds(str(path), **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_real_code_alpaca_2k_by_key() -> None:
    seeds = load_seeds("code_alpaca_2k")
    assert len(seeds) == 2017
    assert len({s.id for s in seeds}) == 2017
    assert seeds[0] == Seed(
        "code_alpaca_2k/0",
        "What are the distinct values from the given list?",
        "dataList = [3, 9, 3, 5, 7, 9, 5]",
        "The distinct values from the given list are 3, 5, 7 and 9.",
    )
    assert all(s.instruction.strip() for s in seeds)
    assert sum(1 for s in seeds if s.input) == 1006
    # the same file by path gives the same seeds; limit keeps the first ones
    by_path = load_seeds(str(resolve_data_file("code_alpaca_2k")), limit=5)
    assert by_path == seeds[:5]


def test_fold_input() -> None:
    seeds = load_seeds("code_alpaca_2k", limit=10)
    with_input = next(s for s in seeds if s.input)
    folded = fold_input(with_input)
    assert folded.startswith(with_input.instruction.rstrip())
    assert folded.endswith(with_input.input.strip())
    assert "\n\nInput:\n" in folded
    without = Seed("x/0", "Write a Python function to add two numbers.", "  \n", "")
    assert fold_input(without) == without.instruction


def test_jsonl_and_json_array_agree(tmp_path: Path) -> None:
    jsonl = load_seeds(str(write_jsonl(tmp_path / "mine.jsonl", RECORDS)))
    array_path = tmp_path / "mine.json"
    array_path.write_text(json.dumps(RECORDS, indent=2), encoding="utf-8")
    array = load_seeds(str(array_path))
    assert [s.id for s in jsonl] == ["mine/0", "mine/1", "mine/2"]
    assert [(s.instruction, s.input, s.output) for s in jsonl] == [(s.instruction, s.input, s.output) for s in array]
    assert jsonl[2].input == ""  # a missing input is empty


def test_column_mapping_on_a_file(tmp_path: Path) -> None:
    rows = [{"prompt": "Write a function that doubles a number.", "completion": "def d(x):\n    return 2 * x"}]
    seeds = load_seeds(
        str(write_jsonl(tmp_path / "pc.jsonl", rows)), columns={"instruction": "prompt", "output": "completion"}
    )
    assert seeds == [Seed("pc/0", rows[0]["prompt"], "", rows[0]["completion"])]
    message = error_of(tmp_path / "pc.jsonl")
    assert "pc.jsonl:1" in message and "'instruction'" in message and "missing" in message


def test_hf_dataset_saved_to_disk(tmp_path: Path) -> None:
    import datasets

    rows = {
        "prompt": [r["instruction"] for r in RECORDS],
        "completion": [r["output"] for r in RECORDS],
        "extra": [1, 2, 3],
    }
    folder = tmp_path / "my_set"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)}).save_to_disk(str(folder))
    columns = {"instruction": "prompt", "output": "completion"}
    seeds = load_seeds(f"hf:{folder}", columns=columns)
    assert [s.instruction for s in seeds] == rows["prompt"]
    assert [s.output for s in seeds] == rows["completion"]
    assert all(s.input == "" for s in seeds)
    assert [s.id for s in seeds] == ["my_set/train/0", "my_set/train/1", "my_set/train/2"]
    assert load_seeds(f"hf:{folder}:train", columns=columns, limit=2) == seeds[:2]
    assert "no split 'test'" in error_of(f"hf:{folder}:test", columns=columns)
    assert "column 'instruction' is missing" in error_of(f"hf:{folder}")

    single = tmp_path / "single"
    datasets.Dataset.from_dict(rows).save_to_disk(str(single))
    assert [s.output for s in load_seeds(f"hf:{single}", columns=columns)] == rows["completion"]


def test_hf_dataset_with_a_wrongly_typed_column(tmp_path: Path) -> None:
    import datasets

    folder = tmp_path / "typed"
    datasets.Dataset.from_dict({"instruction": ["Write a loop.", "Add two numbers."], "output": [1, 2]}).save_to_disk(
        str(folder)
    )
    message = error_of(f"hf:{folder}")
    assert "row 0" in message and "'output'" in message and "must be a string" in message


def test_hf_folder_of_json_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")  # not the user's cache
    folder = tmp_path / "raw"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", RECORDS)
    seeds = load_seeds(f"hf:{folder}")
    assert [s.instruction for s in seeds] == [r["instruction"] for r in RECORDS]


def test_bad_json_on_line_3(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "broken.jsonl", RECORDS[:2])
    path.write_text(path.read_text() + '{"instruction": "Write a loop", "output": \n', encoding="utf-8")
    message = error_of(path)
    assert f"{path}:3:" in message and "invalid JSON" in message


def test_missing_instruction(tmp_path: Path) -> None:
    rows = [RECORDS[0], {"input": "", "output": "print(1)"}]
    message = error_of(write_jsonl(tmp_path / "noinstr.jsonl", rows))
    assert "noinstr.jsonl:2:" in message and "field 'instruction' is missing" in message


def test_wrong_type(tmp_path: Path) -> None:
    rows = [RECORDS[0], RECORDS[1], {"instruction": "Add numbers.", "input": ["a"], "output": "x"}]
    message = error_of(write_jsonl(tmp_path / "typed.jsonl", rows))
    assert "typed.jsonl:3:" in message and "field 'input' must be a string, got list" in message


def test_json_array_errors_name_the_element_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "arr.json"
    rows = [RECORDS[0], RECORDS[1], {"instruction": 7, "output": "x"}]
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    line = path.read_text().splitlines().index("  {", 10) + 1  # where the third element starts
    message = error_of(path)
    assert f"arr.json:{line}: element 2: field 'instruction' must be a string, got int" in message

    path.write_text('[\n  {"instruction": "a b c", "output": "x"},\n  {"instruction": "oops" "output": "y"}\n]\n')
    message = error_of(path)
    assert "arr.json:3: element 1: invalid JSON" in message

    path.write_text('[\n  {"instruction": "a b c", "output": "x"}\n  {"instruction": "d", "output": "y"}\n]\n')
    assert "arr.json:3: element 1: invalid JSON (expected ',' or ']'" in error_of(path)

    path.write_text('[\n  "just a string"\n]\n')
    assert "arr.json:2: element 0: expected a JSON object, got str" in error_of(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    assert "empty.jsonl: empty file" in error_of(empty)
    nothing = tmp_path / "nothing.json"
    nothing.write_text("[ ]", encoding="utf-8")
    assert "nothing.json: no seed records" in error_of(nothing)
    assert "seed file not found" in error_of(tmp_path / "absent.json")
    blank = write_jsonl(tmp_path / "blank.jsonl", [{"instruction": "   ", "output": "x"}])
    assert "blank.jsonl:1: field 'instruction' is empty" in error_of(blank)
    binary = tmp_path / "latin1.jsonl"
    binary.write_bytes(b'{"instruction": "caf\xe9", "output": "x"}\n')
    assert "latin1.jsonl: not UTF-8" in error_of(binary)

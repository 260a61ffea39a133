"""Training data: the paper's template, label masking token by token, one-line errors for bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.prompts import instruction, paper_prompt
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval.samples import InputError
from evolcoder.evol.seeds import Seed
from evolcoder.train.data import IGNORE, alpaca_prompt, load_records, tokenize_example, tokenize_records


@pytest.fixture(scope="module")
def tokenizer(default_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir)


def test_training_prompt_is_the_generate_time_paper_prompt() -> None:
    """What the model is trained on must be exactly what ``generate --prompt-style paper`` sends."""
    for name in ("humaneval", "mbpp"):
        for task in get_benchmark(name).load(data_dir_from_env())[:5]:
            assert alpaca_prompt(instruction(task)) == paper_prompt(task)


def test_input_variant_of_the_template() -> None:
    prompt = alpaca_prompt("Sort the list.", "xs = [3, 1, 2]")
    assert prompt == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nSort the list.\n\n### Input:\nxs = [3, 1, 2]\n\n### Response:"
    )
    assert alpaca_prompt("Sort the list.", "  \n") == alpaca_prompt("Sort the list.")


def test_labels_token_by_token(tokenizer) -> None:
    prompt = alpaca_prompt("Add two numbers.")
    response = "def add(a, b):\n    return a + b"
    example = tokenize_example(tokenizer, prompt, response, max_length=2048)
    prompt_ids = tokenizer(prompt)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    assert example["input_ids"] == prompt_ids + response_ids + [tokenizer.eos_token_id]
    assert len(example["labels"]) == len(example["input_ids"])
    for position, (token, label) in enumerate(zip(example["input_ids"], example["labels"], strict=True)):
        if position < len(prompt_ids):
            assert label == IGNORE, f"prompt token {position} ({tokenizer.decode([token])!r}) is trained"
        else:
            assert label == token, f"response token {position} ({tokenizer.decode([token])!r}) is not trained"
    assert example["labels"][-1] == tokenizer.eos_token_id  # the model learns to stop
    assert tokenizer.decode(example["input_ids"][: len(prompt_ids)]) == prompt
    assert tokenizer.decode([t for t in example["labels"] if t != IGNORE]) == response + tokenizer.eos_token


def test_padding_free_batches_keep_the_masks(tokenizer) -> None:
    """TRL's padding-free collator flattens a batch: every label must survive except each example's first."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    examples = [
        tokenize_example(tokenizer, alpaca_prompt("Print hi."), "print('hi')", 2048),
        tokenize_example(tokenizer, alpaca_prompt("Add.", "1, 2"), "1 + 2", 2048),
    ]
    batch = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(examples)
    assert batch["input_ids"].tolist() == [examples[0]["input_ids"] + examples[1]["input_ids"]]
    assert batch["labels"].tolist() == [examples[0]["labels"] + examples[1]["labels"]]  # prompts start with -100
    lengths = [len(e["input_ids"]) for e in examples]
    assert batch["position_ids"].tolist() == [list(range(lengths[0])) + list(range(lengths[1]))]
    assert "attention_mask" not in batch  # the restarting positions carry the boundaries


def test_long_examples_are_cut_and_prompt_only_ones_dropped(tokenizer) -> None:
    records = [
        Seed("t/0", "Short.", "", "ok"),
        Seed("t/1", "Long answer.", "", "word " * 200),
        Seed("t/2", "A prompt longer than the limit. " * 20, "", "never seen"),
    ]
    columns, stats = tokenize_records(records, tokenizer, max_length=64)
    assert (stats.examples, stats.truncated, stats.dropped) == (2, 1, 1)
    assert all(len(ids) <= 64 for ids in columns["input_ids"])
    assert columns["labels"][0][-1] == tokenizer.eos_token_id
    assert columns["labels"][1][-1] != tokenizer.eos_token_id
    with pytest.raises(ValueError, match="--max-length"):
        tokenize_records(records[2:], tokenizer, max_length=64)


def test_data_sources(tmp_path: Path) -> None:
    path, records = load_records("code_alpaca_2k", limit=3)
    assert path.name == "code_alpaca_2k.json" and len(records) == 3
    round_dir = tmp_path / "round_1"
    round_dir.mkdir()
    (round_dir / "alpaca.json").write_text(json.dumps([{"instruction": "i", "input": "", "output": "o"}]))
    assert load_records(str(round_dir))[0] == round_dir / "alpaca.json"
    with pytest.raises(InputError, match="training data not found"):
        load_records(str(tmp_path / "missing.json"))
    with pytest.raises(InputError, match="alpaca.json or data.jsonl"):
        load_records(str(tmp_path))


def _train_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "evolcoder.cli", "train", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"instruction": "a", "output": "b"}\n{"instruction": "c"}\n', "data.jsonl:2: field 'output' is missing"),
        ('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": 3}\n', "data.jsonl:2: field 'output'"),
        ('{"instruction": "a", "output": "b"}\n\n{"instruction": \n', "data.jsonl:3: invalid JSON"),
        ('[{"instruction": "a", "output": "b"},\n {"output": "d"}]', "data.jsonl:2: element 1: field 'instruction'"),
    ],
)
def test_malformed_data_is_one_line_with_file_line_field(tmp_path: Path, text: str, where: str) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(text)
    result = _train_cli("--data", str(data), "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("evolcoder: error: "), result.stderr
    assert where in lines[0]
    assert not (tmp_path / "out").exists()  # nothing was started

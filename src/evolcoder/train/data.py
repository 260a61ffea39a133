"""Training examples: Alpaca records in the paper's template, tokenized with the loss on the response only.

The prompt is tokenized alone, exactly as ``evolcoder generate --backend hf --prompt-style paper``
tokenizes it, and the response (plus EOS) is tokenized on its own and appended. Tokenizing
prompt + response as one string instead can merge tokens across the boundary, and the model would
then be trained on a context it never sees at generation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolcoder.bench.prompts import ALPACA_HEADER
from evolcoder.data import DATA_FILES, resolve_data_file
from evolcoder.errors import UserError
from evolcoder.eval.samples import InputError
from evolcoder.evol.seeds import Seed, load_seeds

IGNORE = -100  # the label of a token that is not trained (prompt tokens)
# Alpaca's header for records with an input, as in WizardCoder's train_wizardcoder.py.
INPUT_HEADER = ALPACA_HEADER.replace("a task.", "a task, paired with an input that provides further context.")
ROUND_FILES = ("alpaca.json", "data.jsonl")  # what `evolcoder evolve` writes into each round folder


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """The paper's prompt, ending with ``### Response:``; the ``### Input:`` variant when there is an input."""
    if input.strip():
        return f"{INPUT_HEADER}\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
    return f"{ALPACA_HEADER}\n\n### Instruction:\n{instruction}\n\n### Response:"


def resolve_data(data: str) -> Path:
    """The file behind ``--data``: a file, a registered data key, or an evolve round folder."""
    if data in DATA_FILES:
        return resolve_data_file(data)
    path = Path(data).expanduser()
    if path.is_dir():
        for name in ROUND_FILES:
            if (path / name).is_file():
                return path / name
        raise InputError(f"{path}: a folder without {' or '.join(ROUND_FILES)} (give an evolve round folder)")
    if not path.is_file():
        raise InputError(
            f"{path}: training data not found; give an Alpaca JSON/JSONL file, an evolve round folder"
            f" or one of: {', '.join(k for k in DATA_FILES if k.startswith('code_alpaca'))}"
        )
    return path


def load_records(data: str, limit: int | None = None) -> tuple[Path, list[Seed]]:
    """The data file and its ``{instruction, input, output}`` records; a bad row stops with ``file:line: field``."""
    path = resolve_data(data)
    return path, load_seeds(str(path), limit=limit)


def tokenize_example(tokenizer: Any, prompt: str, response: str, max_length: int) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` of one example: prompt tokens ignored, response and EOS trained.

    The prompt gets the tokenizer's special tokens (BOS where the model uses one) as at generation
    time; the response gets none, and EOS is appended so the model learns to stop. Both lists are
    cut to ``max_length`` tokens.
    """
    if tokenizer.eos_token_id is None:
        raise UserError("the model's tokenizer has no EOS token, so the model could not learn to stop")
    prompt_ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    response_ids = list(tokenizer(response, add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    input_ids = (prompt_ids + response_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + response_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


@dataclass
class TokenStats:
    examples: int = 0  # kept for training
    dropped: int = 0  # prompt alone fills max_length: nothing to train on
    truncated: int = 0  # cut at max_length (the EOS is lost)
    tokens: int = 0
    trained_tokens: int = 0


def tokenize_records(records: list[Seed], tokenizer: Any, max_length: int) -> tuple[dict[str, list], TokenStats]:
    """Columns ``input_ids`` and ``labels`` for every record that has at least one trained token."""
    columns: dict[str, list] = {"input_ids": [], "labels": []}
    stats = TokenStats()
    for record in records:
        example = tokenize_example(
            tokenizer, alpaca_prompt(record.instruction, record.input), record.output, max_length
        )
        trained = sum(label != IGNORE for label in example["labels"])
        if trained == 0:
            stats.dropped += 1
            continue
        stats.examples += 1
        stats.truncated += example["labels"][-1] != tokenizer.eos_token_id
        stats.tokens += len(example["input_ids"])
        stats.trained_tokens += trained
        columns["input_ids"].append(example["input_ids"])
        columns["labels"].append(example["labels"])
    if not stats.examples:
        raise UserError(f"no example has a response within --max-length {max_length}; raise --max-length")
    return columns, stats

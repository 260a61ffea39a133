"""Seed instructions for Code Evol-Instruct, in Code Alpaca's format.

A seed file is a JSON array or JSONL of objects with ``instruction``, ``input`` (optional) and
``output``. It can be named by path, by a data registry key (``code_alpaca_2k``, resolved through
the data layer), or as ``hf:<dataset name or local folder>[:split]`` for a Hugging Face dataset.
A ``columns`` mapping renames fields: ``{"instruction": "prompt", "output": "completion"}`` reads
the instruction from the ``prompt`` column.

Malformed input raises ``InputError`` with a one-line message naming the file, line and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolcoder.data import DATA_FILES, resolve_data_file
from evolcoder.eval.samples import InputError

FIELDS = ("instruction", "input", "output")
HF_PREFIX = "hf:"
_WHITESPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class Seed:
    id: str  # "<source stem>/<index>", stable for one source file
    instruction: str
    input: str
    output: str


def fold_input(seed: Seed) -> str:
    """The instruction with a non-empty ``input`` appended, as one prompt for the teacher model."""
    if not seed.input.strip():
        return seed.instruction
    return f"{seed.instruction.rstrip()}\n\nInput:\n{seed.input.strip()}"


def load_seeds(path_or_key: str, columns: dict[str, str] | None = None, limit: int | None = None) -> list[Seed]:
    """Read seeds from a file, a registered data key or an ``hf:`` dataset (see the module doc)."""
    mapping = _column_mapping(columns)
    if path_or_key.startswith(HF_PREFIX):
        return _load_hf(path_or_key[len(HF_PREFIX) :], mapping, limit)
    path = resolve_data_file(path_or_key) if path_or_key in DATA_FILES else Path(path_or_key)
    if not path.is_file():
        raise InputError(f"{path}: seed file not found")
    seeds: list[Seed] = []
    for index, (where, row) in enumerate(_read_rows(path)):
        if limit is not None and index >= limit:
            break
        seeds.append(_to_seed(f"{path.stem}/{index}", row, mapping, where))
    return seeds


def _column_mapping(columns: Mapping[str, str] | None) -> dict[str, str]:
    mapping = {name: name for name in FIELDS}
    for field, column in (columns or {}).items():
        if field not in FIELDS:
            raise InputError(f"columns: unknown seed field {field!r}; the fields are {', '.join(FIELDS)}")
        mapping[field] = column
    return mapping


def _read_rows(path: Path) -> Iterable[tuple[str, Any]]:
    """``(where, row)`` pairs; ``where`` is ``file:line`` (plus the element index for an array)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    start = _WHITESPACE.match(text).end()
    if start == len(text):
        raise InputError(f"{path}: empty file, no seed records")
    rows = list(_array_rows(path, text, start) if text[start] == "[" else _jsonl_rows(path, text))
    if not rows:
        raise InputError(f"{path}: no seed records in the file")
    return rows


def _jsonl_rows(path: Path, text: str) -> Iterable[tuple[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})") from None


def _array_rows(path: Path, text: str, start: int) -> Iterable[tuple[str, Any]]:
    """Decode a JSON array one element at a time, so each element's line is known."""
    decoder = json.JSONDecoder()
    pos = _WHITESPACE.match(text, start + 1).end()
    if text.startswith("]", pos):
        return
    index = 0
    line, counted = 1, 0  # the line number at offset ``counted``, advanced as the elements are read
    while True:
        line, counted = line + text.count("\n", counted, pos), pos
        try:
            row, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}:{exc.lineno}: element {index}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        yield f"{path}:{line}: element {index}", row
        index += 1
        pos = _WHITESPACE.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _WHITESPACE.match(text, pos + 1).end()
            continue
        if text.startswith("]", pos) and not text[pos + 1 :].strip():
            return
        line += text.count("\n", counted, pos)
        raise InputError(f"{path}:{line}: element {index}: invalid JSON (expected ',' or ']' after an element)")


def _to_seed(seed_id: str, row: Any, mapping: dict[str, str], where: str) -> Seed:
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    values = {}
    for field in FIELDS:
        column = mapping[field]
        label = f"field {column!r}" if column == field else f"field {column!r} (the {field})"
        value = row.get(column)
        if value is None and field == "input":
            value = ""
        if column not in row and field != "input":
            raise InputError(f"{where}: {label} is missing")
        if not isinstance(value, str):
            raise InputError(f"{where}: {label} must be a string, got {type(value).__name__}")
        values[field] = value
    if not values["instruction"].strip():
        raise InputError(f"{where}: field {mapping['instruction']!r} is empty")
    return Seed(seed_id, values["instruction"], values["input"], values["output"])


def _load_hf(spec: str, mapping: dict[str, str], limit: int | None) -> list[Seed]:
    """A dataset saved with ``save_to_disk``, a local folder of data files, or a Hub name.

    A saved dataset is read with ``load_from_disk``; anything else goes to ``load_dataset``, which
    converts a folder of data files into its cache and, for a Hub name, falls back to the copy in
    its cache when the Hub cannot be reached. Set ``HF_HUB_OFFLINE=1`` to make sure it never tries.
    """
    import datasets  # heavy; only needed for this form

    name, split = spec, ""
    if ":" in spec and not Path(spec).exists():
        name, split = spec.rsplit(":", 1)
    if not name:
        raise InputError(f"{HF_PREFIX}{spec}: no dataset name")
    split = split or "train"
    where = f"{HF_PREFIX}{name}[{split}]"
    folder = Path(name)
    try:
        if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
            loaded = datasets.load_from_disk(str(folder))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise InputError(f"{where}: no split {split!r}; the splits are {', '.join(loaded)}")
                loaded = loaded[split]
        else:
            loaded = datasets.load_dataset(name, split=split)
    except InputError:
        raise
    except Exception as exc:  # datasets raises many kinds; the user needs one line
        message = " ".join(str(exc).split())[:300]
        raise InputError(f"{where}: cannot load the dataset ({type(exc).__name__}: {message})") from None
    missing = [mapping[f] for f in ("instruction", "output") if mapping[f] not in loaded.column_names]
    if missing:
        raise InputError(f"{where}: column {missing[0]!r} is missing; the columns are {', '.join(loaded.column_names)}")
    if limit is not None and limit < len(loaded):
        loaded = loaded.select(range(max(limit, 0)))
    stem = folder.name if folder.exists() else name.rstrip("/").split("/")[-1]
    return [_to_seed(f"{stem}/{split}/{i}", row, mapping, f"{where}: row {i}") for i, row in enumerate(loaded)]

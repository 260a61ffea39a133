"""The round-r dataset: the seed pairs plus the pairs kept in rounds 1..r, cleaned and written out.

Cleaning, in order: decontamination against the evaluation benchmarks (a pair that contains a
benchmark prompt or solution, or nearly copies one, is dropped), then MinHash near-dedup of the
instructions (the first occurrence wins, so seeds come before round 1, round 1 before round 2).
Written as JSONL, Alpaca JSON, an HF ``datasets`` folder and a dataset card; what was dropped,
and why, goes to ``removed.jsonl``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from evolcoder.evol.card import dataset_card
from evolcoder.evol.decontam import Decontaminator, benchmark_texts, near_dedup
from evolcoder.evol.seeds import Seed, fold_input
from evolcoder.jsonl import write_rows_atomic, write_text_atomic
from evolcoder.records import STATS_FILE, Attempt, DatasetStats

if TYPE_CHECKING:
    from evolcoder.evol.config import EvolveConfig

_DECONTAMINATORS: dict[tuple, Decontaminator] = {}


def pairs_of(seeds: list[Seed], records_by_round: list[dict[str, dict]]) -> list[dict]:
    """Seed pairs first, then each round's kept pairs in pool order."""
    pairs = [
        {"id": s.id, "instruction": s.instruction, "input": s.input, "output": s.output, "source": "seed", "tests": ""}
        for s in seeds
    ]
    for round_number, done in enumerate(records_by_round, start=1):
        for attempt in map(Attempt.from_row, done.values()):
            if attempt.kept:
                pairs.append(
                    {
                        "id": attempt.id,
                        "instruction": attempt.instruction,
                        "input": "",
                        "output": attempt.answer,
                        "source": f"round_{round_number}",
                        "tests": attempt.tests or "",  # with --verify tests: the asserts the answer passed
                        "heuristic": attempt.heuristic,
                        "depth": attempt.depth,
                    }
                )
    return pairs


def clean(pairs: list[dict], config: EvolveConfig) -> tuple[list[dict], list[dict]]:
    """(kept pairs, removed pairs each with its ``removed`` reason)."""
    removed: list[dict] = []
    if config.decontaminate:
        decontaminator = _decontaminator(tuple(config.decontaminate), config.data_dir)
        survivors = []
        for pair in pairs:
            hit = decontaminator.check(_instruction_text(pair), pair["output"])
            if hit is None:
                survivors.append(pair)
            else:
                removed.append(pair | {"removed": f"contamination:{hit[0]}:{hit[1]}"})
        pairs = survivors
    if config.dedup_threshold > 0 and pairs:
        keep = set(near_dedup([_instruction_text(p) for p in pairs], threshold=config.dedup_threshold))
        removed += [p | {"removed": "near_duplicate"} for i, p in enumerate(pairs) if i not in keep]
        pairs = [p for i, p in enumerate(pairs) if i in keep]
    return pairs, removed


def write_round_dataset(
    config: EvolveConfig,
    seeds: list[Seed],
    records_by_round: list[dict[str, dict]],
    complete: bool,
    stopped: str | None,
) -> Path:
    round_number = len(records_by_round)
    folder = config.output_dir / f"round_{round_number}"
    folder.mkdir(parents=True, exist_ok=True)
    pairs, removed = clean(pairs_of(seeds, records_by_round), config)
    write_rows_atomic(folder / "data.jsonl", pairs)
    write_rows_atomic(folder / "removed.jsonl", removed)
    alpaca = [{"instruction": p["instruction"], "input": p["input"], "output": p["output"]} for p in pairs]
    write_text_atomic(folder / "alpaca.json", json.dumps(alpaca, ensure_ascii=False, indent=1))
    _save_hf(folder / "hf", pairs)
    stats = DatasetStats(
        round=round_number,
        complete=complete,
        stopped=stopped,
        pairs=len(pairs),
        removed=dict(Counter(r["removed"] for r in removed)),
        by_source=dict(Counter(p["source"] for p in pairs)),
    )
    write_text_atomic(folder / STATS_FILE, json.dumps(stats.to_row(), indent=2))
    write_text_atomic(folder / "README.md", dataset_card(config, records_by_round, pairs, removed, complete, stopped))
    return folder


def _instruction_text(pair: dict) -> str:
    return fold_input(Seed(pair["id"], pair["instruction"], pair["input"], pair["output"]))


def _decontaminator(names: tuple[str, ...], data_dir: Path | None) -> Decontaminator:
    key = (names, str(data_dir))
    if key not in _DECONTAMINATORS:
        _DECONTAMINATORS[key] = Decontaminator(benchmark_texts(names, data_dir))
    return _DECONTAMINATORS[key]


def _save_hf(path: Path, pairs: list[dict]) -> None:
    import shutil

    import datasets

    datasets.disable_progress_bars()  # a few-millisecond save needs no bar
    columns = ["id", "instruction", "input", "output", "source", "tests"]
    table = {c: [p.get(c, "") for p in pairs] for c in columns}
    table["heuristic"] = [p.get("heuristic") or "" for p in pairs]
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    datasets.Dataset.from_dict(table).save_to_disk(str(partial))
    shutil.rmtree(path, ignore_errors=True)
    partial.replace(path)

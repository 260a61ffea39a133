"""Decontamination against the evaluation benchmarks, and near-duplicate removal.

A pair (instruction, answer) is contaminated when either text contains a benchmark string
(HumanEval, MBPP or DS-1000 prompts and canonical solutions) after normalisation, as in the
BigCode decontamination (lowercase, whitespace runs collapsed to one space), or when it holds
most of a benchmark text's word n-grams (a near copy with other punctuation or a few edits).

Benchmark strings shorter than ``min_chars`` after normalisation are not matched as substrings:
short ones (``return x + 1``) turn up in ordinary code. Long prompts also contribute their
distinctive part (HumanEval's docstring, DS-1000's problem statement), so copying just that is
caught too.

Both checks use an index, so a pair costs a few set operations, not one search per benchmark
string: a substring match must contain the benchmark string's interior words as whole words, so
each benchmark string is filed under its rarest interior word 3-gram and only those filed under a
3-gram of the text are searched for.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evolcoder.bench.base import read_jsonl
from evolcoder.data import resolve_data_file
from evolcoder.errors import UserError

BENCHMARKS = ("humaneval", "mbpp", "ds1000")
MIN_SUBSTRING_CHARS = 50
NGRAM = 10
MIN_CONTAINMENT = 0.5
MIN_NGRAMS = 5  # benchmark texts with fewer word n-grams are matched only as substrings
_ANCHOR = 3
_TOKEN = re.compile(r"\w+")
_DS1000_PROBLEM = re.compile(r"Problem:\s*(.*?)\n\s*A:\s*\n", re.DOTALL)


def normalize(text: str) -> str:
    """Lowercase, with every run of whitespace made one space (BigCode's decontamination)."""
    return " ".join(text.lower().split())


def benchmark_texts(names: Iterable[str] = BENCHMARKS, data_dir: Path | str | None = None) -> dict[str, list[str]]:
    """Prompts, their distinctive parts, and canonical solutions of each benchmark, from the data files.

    ``mbpp`` is all 974 tasks of the full file (the prompt being the task text and its asserts)
    plus the reworded prompts of sanitized MBPP.
    """
    loaders = {"humaneval": _humaneval, "mbpp": _mbpp, "ds1000": _ds1000}
    texts = {}
    for name in names:
        if name not in loaders:
            raise UserError(f"unknown benchmark {name!r}; known: {', '.join(loaders)}")
        texts[name] = list(dict.fromkeys(t for t in loaders[name](data_dir) if t.strip()))
    return texts


def _humaneval(data_dir: Path | str | None) -> list[str]:
    texts = []
    for row in read_jsonl(resolve_data_file("humaneval", data_dir)):
        texts += [row["prompt"], _docstring(row["prompt"], row["entry_point"]), row["canonical_solution"]]
    return texts


def _docstring(prompt: str, entry_point: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return ast.get_docstring(node, clean=False) or ""
    return ""


def _mbpp(data_dir: Path | str | None) -> list[str]:
    texts = []
    for row in read_jsonl(resolve_data_file("mbpp", data_dir)):
        asserts = "\n".join(row["test_list"])
        texts += [row["text"], row["code"], asserts, f"{row['text']}\n{asserts}"]
    with open(resolve_data_file("mbpp_sanitized", data_dir), encoding="utf-8") as f:
        for row in json.load(f):
            texts += [row["prompt"], row["code"]]
    return texts


def _ds1000(data_dir: Path | str | None) -> list[str]:
    texts = []
    for row in read_jsonl(resolve_data_file("ds1000", data_dir)):
        problem = _DS1000_PROBLEM.search(row["prompt"])
        texts += [row["prompt"], problem.group(1) if problem else "", row["reference_code"]]
    return texts


@dataclass(frozen=True)
class _Item:
    benchmark: str
    text: str  # normalised
    ngrams: int  # how many distinct word n-grams it has


class Decontaminator:
    """Flags (instruction, answer) pairs that contain benchmark material.

    ``texts`` maps a benchmark name to its strings (see ``benchmark_texts``, the default).
    """

    def __init__(
        self,
        texts: dict[str, list[str]] | None = None,
        *,
        min_chars: int = MIN_SUBSTRING_CHARS,
        n: int = NGRAM,
        min_containment: float = MIN_CONTAINMENT,
        min_ngrams: int = MIN_NGRAMS,
    ) -> None:
        if texts is None:
            texts = benchmark_texts()
        self.n = n
        self.min_containment = min_containment
        self._items: list[_Item] = []
        self._ngram_index: dict[tuple[str, ...], list[int]] = {}
        substrings: list[int] = []
        for name, strings in texts.items():
            for text in strings:
                normal = normalize(text)
                grams = _ngrams(normal, n)
                index = len(self._items)
                self._items.append(_Item(name, normal, len(grams)))
                if len(normal) >= min_chars:
                    substrings.append(index)
                if len(grams) >= min_ngrams:
                    for gram in grams:
                        self._ngram_index.setdefault(gram, []).append(index)
        self._anchors, self._unanchored = self._anchor_index(substrings)

    def _anchor_index(self, substrings: list[int]) -> tuple[dict[tuple[str, ...], list[int]], list[int]]:
        """File each substring under its rarest interior 3-gram of words (the edges may be cut)."""
        interior = {i: _word_grams(self._items[i].text.split(" ")[1:-1], _ANCHOR) for i in substrings}
        counts = Counter(gram for grams in interior.values() for gram in grams)
        anchors: dict[tuple[str, ...], list[int]] = {}
        unanchored = []
        for i, grams in interior.items():
            if grams:
                anchors.setdefault(min(grams, key=lambda g: (counts[g], g)), []).append(i)
            else:
                unanchored.append(i)
        return anchors, unanchored

    def check(self, instruction: str, answer: str) -> tuple[str, str] | None:
        """``(benchmark, "substring" | "ngram")`` for a contaminated pair, else None."""
        texts = [normalize(instruction), normalize(answer)]
        for text in texts:
            hit = self._substring(text)
            if hit is not None:
                return hit, "substring"
        hit = self._near_copy(_ngrams(texts[0], self.n) | _ngrams(texts[1], self.n))
        return (hit, "ngram") if hit is not None else None

    def _substring(self, text: str) -> str | None:
        candidates = list(self._unanchored)
        for gram in _word_grams(text.split(" "), _ANCHOR) & self._anchors.keys():
            candidates += self._anchors[gram]
        for i in sorted(candidates):
            if self._items[i].text in text:
                return self._items[i].benchmark
        return None

    def _near_copy(self, grams: set[tuple[str, ...]]) -> str | None:
        shared: Counter[int] = Counter()
        for gram in grams & self._ngram_index.keys():
            shared.update(self._ngram_index[gram])
        best = max(shared, key=lambda i: (shared[i] / self._items[i].ngrams, -i), default=None)
        if best is not None and shared[best] / self._items[best].ngrams >= self.min_containment:
            return self._items[best].benchmark
        return None


def _word_grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return set(zip(*(words[k:] for k in range(n)), strict=False))


def _ngrams(normal: str, n: int) -> set[tuple[str, ...]]:
    """Word n-grams over alphanumeric tokens: punctuation and spacing do not matter."""
    return _word_grams(_TOKEN.findall(normal), n)


def _shingles(text: str, size: int = 3) -> list[bytes]:
    words = _TOKEN.findall(text.lower())
    if len(words) < size:
        return [" ".join(words).encode()]
    return [" ".join(words[k : k + size]).encode() for k in range(len(words) - size + 1)]


def near_dedup(texts: list[str], threshold: float = 0.8, num_perm: int = 128, seed: int = 1) -> list[int]:
    """Indices of the texts to keep: a text whose word 3-gram Jaccard similarity to an earlier
    kept text is at least ``threshold`` (MinHash estimate) is dropped; the first occurrence wins.

    Deterministic for a given ``seed``: datasketch hashes with SHA-1, not Python's ``hash``.
    Short texts have few 3-grams, so one changed word in a 20-word text is already below 0.8.
    """
    from datasketch import MinHash, MinHashLSH  # imports numpy/scipy; only needed here

    signatures = MinHash.bulk((_shingles(t) for t in texts), num_perm=num_perm, seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    keep = []
    for i, signature in enumerate(signatures):
        if any(signatures[j].jaccard(signature) >= threshold for j in lsh.query(signature)):
            continue
        lsh.insert(i, signature)
        keep.append(i)
    return keep

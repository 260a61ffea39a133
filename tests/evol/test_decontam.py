"""Decontamination against the real HumanEval, MBPP and DS-1000 files, and MinHash near-dedup."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from evolcoder.data import resolve_data_file
from evolcoder.evol.decontam import Decontaminator, benchmark_texts, near_dedup, normalize
from evolcoder.evol.seeds import fold_input, load_seeds

FALSE_POSITIVE_LIMIT = 0.01  # of the 2017 Code Alpaca seeds (2 are flagged: bubble sorts much like MBPP's)


def rows_of(key: str) -> list[dict]:
    path = resolve_data_file(key)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def texts() -> dict[str, list[str]]:
    return benchmark_texts()


@pytest.fixture(scope="module")
def decontaminator(texts: dict[str, list[str]]) -> Decontaminator:
    started = time.perf_counter()
    built = Decontaminator(texts)
    assert time.perf_counter() - started < 30  # about 1.5 s on 2 cores
    return built


def test_normalize() -> None:
    assert normalize("  Def  F(x):\n\t\tRETURN x\r\n") == "def f(x): return x"


def test_benchmark_texts_come_from_the_real_files(texts: dict[str, list[str]]) -> None:
    assert set(texts) == {"humaneval", "mbpp", "ds1000"}
    humaneval = rows_of("humaneval")
    assert len(humaneval) == 164
    assert all(row["prompt"] in texts["humaneval"] for row in humaneval)
    mbpp = rows_of("mbpp")
    assert len(mbpp) == 974
    assert all(row["code"] in texts["mbpp"] and row["text"] in texts["mbpp"] for row in mbpp)
    ds1000 = rows_of("ds1000")
    assert all(row["prompt"] in texts["ds1000"] and row["reference_code"] in texts["ds1000"] for row in ds1000)
    with pytest.raises(ValueError, match="unknown benchmark"):
        benchmark_texts(["apps"])


def test_planted_humaneval_prompt_is_caught(decontaminator: Decontaminator) -> None:
    prompt = next(row["prompt"] for row in rows_of("humaneval") if row["task_id"] == "HumanEval/0")
    # other indentation, line breaks and case, inside a longer instruction
    restyled = prompt.replace("    ", "\t").replace("\n", "\n\n").upper()
    instruction = (
        "Complete the following Python function. Make sure it also works for empty lists and explain "
        f"the time complexity of your solution.\n\n{restyled}\n\nReturn only the code."
    )
    assert decontaminator.check(instruction, "def has_close_elements(numbers, threshold): ...") == (
        "humaneval",
        "substring",
    )


def test_humaneval_docstring_alone_is_caught(decontaminator: Decontaminator) -> None:
    row = next(row for row in rows_of("humaneval") if row["task_id"] == "HumanEval/10")
    docstring = row["prompt"].split('"""')[-2]  # make_palindrome's, after a helper function
    instruction = f"Write a Python program for this task.\n{docstring}\nUse only the standard library."
    assert decontaminator.check(instruction, "Sure.") == ("humaneval", "substring")


def test_planted_mbpp_solution_is_caught(decontaminator: Decontaminator) -> None:
    code = next(row["code"] for row in rows_of("mbpp") if row["task_id"] == 11)
    answer = f"Here is a solution that removes the first and last occurrence:\n\n```python\n{code}\n```\n"
    assert decontaminator.check("Remove the first and last occurrence of a character from a string.", answer) == (
        "mbpp",
        "substring",
    )


def test_planted_ds1000_prompt_is_caught(decontaminator: Decontaminator) -> None:
    prompt = rows_of("ds1000")[300]["prompt"]
    instruction = f"Answer the following question from a data scientist.\n\n{prompt.upper()}"
    assert decontaminator.check(instruction, "Use np.percentile(a, p).") == ("ds1000", "substring")


def test_near_copy_is_caught_by_ngrams(decontaminator: Decontaminator) -> None:
    row = rows_of("ds1000")[0]
    problem = row["prompt"].split("A:")[0]
    # the problem statement with its punctuation stripped and two words changed
    edited = "".join(c if c.isalnum() or c.isspace() else " " for c in problem)
    edited = edited.replace("shuffle", "permute").replace("achieve", "do")
    assert decontaminator.check(edited, "Use df.iloc with the list.") == ("ds1000", "ngram")


def test_short_benchmark_strings_do_not_match_everything(decontaminator: Decontaminator) -> None:
    answer = "```python\ndef add(a, b):\n    return a + b\n```\n"
    assert decontaminator.check("Write a Python function that adds two numbers and returns the sum.", answer) is None


def test_code_alpaca_seeds_are_mostly_clean(decontaminator: Decontaminator) -> None:
    seeds = load_seeds("code_alpaca_2k")
    flagged = [s.id for s in seeds if decontaminator.check(fold_input(s), s.output) is not None]
    print(f"\n{len(flagged)} of {len(seeds)} Code Alpaca seeds flagged: {flagged}")
    assert len(flagged) <= FALSE_POSITIVE_LIMIT * len(seeds)


EVOLVED = (
    "Write a Python function that takes a list of integers and returns the length of the longest strictly "
    "increasing subsequence. The function must run in O(n log n) time, must not modify the input list, and "
    "should return 0 for an empty list. Include type hints and a docstring with two examples."
)


def test_near_dedup_drops_a_light_edit_and_keeps_distinct_texts() -> None:
    light_edit = EVOLVED.replace("Write a Python function", "write a python   FUNCTION").replace("two", "three")
    texts = [
        EVOLVED,
        "Explain the difference between a process and a thread in an operating system, with an example of each.",
        light_edit,
        "Write a SQL query that returns the ten customers with the highest total order value in 2023.",
        EVOLVED.replace("increasing", "decreasing").replace("O(n log n)", "O(n^2)").replace("empty", "None"),
        EVOLVED,
    ]
    keep = near_dedup(texts)
    assert keep == [0, 1, 3, 4]
    assert near_dedup(texts) == keep  # deterministic
    # reversed, the copy of EVOLVED comes first and wins; the light edit and the original go
    assert near_dedup(list(reversed(texts))) == [0, 1, 2, 4]
    assert near_dedup([]) == []


def test_near_dedup_on_real_seeds() -> None:
    instructions = [fold_input(s) for s in load_seeds("code_alpaca_2k")]
    keep = near_dedup(instructions + instructions[:50])
    assert keep == list(range(len(instructions)))  # the copies go, the 2k distinct seeds stay

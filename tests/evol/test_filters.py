"""The elimination rules on crafted, realistic teacher responses: each one triggered, and a near miss."""

from __future__ import annotations

import pytest

from evolcoder.evol import filters
from evolcoder.evol.filters import REASONS, eliminate, judge_prompt, parse_judgement
from evolcoder.evol.seeds import fold_input, load_seeds

ORIGINAL = "Write a Python function to calculate the factorial of a given number."
EVOLVED = (
    "Write a Python function that calculates the factorial of a non-negative integer iteratively, raises a "
    "ValueError for negative input, and runs in O(n) time without using recursion or the math module."
)
GOOD_ANSWER = '''Here is an iterative implementation that validates its input:

```python
def factorial(n: int) -> int:
    """Return n! for a non-negative integer n."""
    if n < 0:
        raise ValueError("n must be non-negative")
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result
```

The loop runs n - 1 times, so the function takes O(n) time and O(1) extra space.
'''

# A long, helpful answer that says "sorry" once, quoting what a user sees.
LONG_ANSWER_WITH_SORRY = (
    "To show a friendly message when the lookup fails, catch the KeyError and print a fallback text such as "
    '"Sorry, that user does not exist" instead of letting the traceback reach the user. '
    "The function below looks the name up in the dictionary, returns the stored age when it is present, and "
    "otherwise prints the message and returns None so the caller can decide what to do next. Keeping the "
    "message in one place also makes it easy to translate later, and the caller never has to handle the "
    "exception itself because the function already deals with the missing key for it.\n\n"
    "```python\ndef age_of(users: dict[str, int], name: str) -> int | None:\n"
    "    try:\n        return users[name]\n    except KeyError:\n"
    '        print("Sorry, that user does not exist")\n        return None\n```\n'
)


def test_a_good_evolution_is_kept() -> None:
    assert eliminate(ORIGINAL, EVOLVED, GOOD_ANSWER) is None


def test_every_reason_is_a_stable_identifier() -> None:
    assert len(set(REASONS)) == len(REASONS)
    assert all(r.isidentifier() and r == r.lower() for r in REASONS)


@pytest.mark.parametrize(
    "evolved",
    [
        "#Rewritten Test#\nWrite a Python function that computes n! iteratively and rejects negative numbers.",
        "#Given Prompt#: write a factorial function. Now make it handle negative inputs with a ValueError.",
        "Building on the given prompt, write a factorial function that rejects negative numbers with ValueError.",
        "Rewritten prompt: implement factorial(n) iteratively in Python and raise ValueError when n is negative.",
        "Increase the difficulty of the given programming test question: write factorial(n) without recursion.",
        "Here is the GIVEN TEST reworded: write factorial(n) iteratively and raise ValueError on negatives.",
    ],
)
def test_copied_template(evolved: str) -> None:
    assert eliminate(ORIGINAL, evolved, GOOD_ANSWER) == "copied_template"


def test_copied_template_near_misses() -> None:
    ordinary = (
        "Write a Python function factorial(n) that passes the given test cases, and rewrite it without recursion "
        "so that it handles a given input of up to 10,000 quickly."
    )
    assert eliminate(ORIGINAL, ordinary, GOOD_ANSWER) is None
    for seed in load_seeds("code_alpaca_2k"):  # no real instruction uses the template's words
        assert filters.copied_template(fold_input(seed)) is None


def test_instruction_length() -> None:
    assert eliminate(ORIGINAL, "   \n ", GOOD_ANSWER) == "empty_instruction"
    assert eliminate(ORIGINAL, "Write factorial.", GOOD_ANSWER) == "short_instruction"
    assert eliminate(ORIGINAL, "Write factorial.", GOOD_ANSWER, min_instruction_chars=10) is None


def test_unchanged() -> None:
    same = "  write a PYTHON function to calculate\nthe factorial of a given   number. "
    assert eliminate(ORIGINAL, same, GOOD_ANSWER) == "unchanged"
    assert eliminate(ORIGINAL, ORIGINAL.replace("factorial", "double factorial"), GOOD_ANSWER) is None


def test_answer_length() -> None:
    assert eliminate(ORIGINAL, EVOLVED, " \n\t") == "empty_answer"
    assert eliminate(ORIGINAL, EVOLVED, "Use math.factorial.") == "short_answer"
    assert eliminate(ORIGINAL, EVOLVED, "Use math.factorial.", min_answer_chars=5) is None


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I cannot write a factorial function that never uses multiplication or addition.",
        "As an AI language model, I am unable to run code, but the factorial of 5 is commonly computed as 120.",
        "I apologize for the confusion. The requirements contradict each other, so no such function can exist.",
        "I cannot provide a solution that runs in O(1) time for arbitrary n, since the result has O(n log n) bits.",
    ],
)
def test_refusal(answer: str) -> None:
    assert eliminate(ORIGINAL, EVOLVED, answer) == "refusal"


def test_refusal_near_misses() -> None:
    assert len(LONG_ANSWER_WITH_SORRY.split()) >= 80
    assert eliminate(ORIGINAL, EVOLVED, LONG_ANSWER_WITH_SORRY) is None
    short_helpful = "Use math.factorial(n) for n >= 0, and raise ValueError yourself when n is negative."
    assert eliminate(ORIGINAL, EVOLVED, short_helpful) is None


def test_only_punctuation_and_stopwords() -> None:
    assert eliminate(ORIGINAL, EVOLVED, "Yes, it is... and that's all there is to it!") == (
        "only_punctuation_and_stopwords"
    )
    assert eliminate(ORIGINAL, EVOLVED, "... --- !!! ??? ... --- !!! ???") == "only_punctuation_and_stopwords"
    assert eliminate(ORIGINAL, EVOLVED, "Yes, it is: the answer to that is 120.") is None


def test_code_does_not_parse() -> None:
    broken = GOOD_ANSWER.replace("for i in range(2, n + 1):", "for i in range(2, n + 1)")
    assert eliminate(ORIGINAL, EVOLVED, broken) == "code_does_not_parse"
    python2 = "In Python 2 you would write:\n\n```\nimport math\nprint math.factorial(5)\n```\n"
    assert eliminate(ORIGINAL, EVOLVED, python2) == "code_does_not_parse"  # unlabelled, but looks like Python
    truncated = "Here is the function:\n\n```python\ndef factorial(n):\n    result = 1\n    for i in range(2, n"
    assert eliminate(ORIGINAL, EVOLVED, truncated) == "code_does_not_parse"


def test_code_does_not_parse_near_misses() -> None:
    javascript = (
        "In JavaScript the same loop reads:\n\n```javascript\nfunction factorial(n) {\n  let r = 1;\n"
        "  for (let i = 2; i <= n; i++) r *= i;\n  return r;\n}\n```\n"
    )
    unlabelled_js = javascript.replace("```javascript", "```")
    ruby = "In Ruby:\n\n```\ndef factorial(n)\n  (1..n).reduce(1, :*)\nend\n```\n"
    output = "Running it prints:\n\n```\n120\n3628800\n```\n"
    for answer in (javascript, unlabelled_js, ruby, output, GOOD_ANSWER):
        assert eliminate(ORIGINAL, EVOLVED, answer) is None, answer


def test_code_fails_to_run_in_the_sandbox() -> None:
    from evolcoder.execution.worker import Worker

    worker = Worker(slot=46)  # its own sandbox uid (the sandbox tests use slots 40-42)
    try:
        runs = GOOD_ANSWER + "\n```python\nassert factorial(5) == 120\nprint(factorial(10))\n```\n"
        assert eliminate(ORIGINAL, EVOLVED, runs, run_code=True, worker=worker) is None
        wrong = GOOD_ANSWER + "\n```python\nprint(factorial(-1))\n```\n"
        assert eliminate(ORIGINAL, EVOLVED, wrong, run_code=True, worker=worker) == "code_fails_to_run"
        no_code = "Use the standard library: math.factorial(n) computes n! exactly for any n >= 0."
        assert eliminate(ORIGINAL, EVOLVED, no_code, run_code=True, worker=worker) is None
    finally:
        worker.close()
    # without run_code the failing program is only parsed, and it parses
    assert eliminate(ORIGINAL, EVOLVED, wrong) is None


def test_judge_prompt_and_parse_judgement() -> None:
    prompt = judge_prompt(ORIGINAL, EVOLVED)
    assert ORIGINAL in prompt and EVOLVED in prompt
    assert "constraints" in prompt and "depth and breadth" in prompt
    assert '"Equal" or "Not Equal"' in prompt
    assert parse_judgement("Equal") is True
    assert parse_judgement("  equal.\n") is True
    assert parse_judgement("Not Equal") is False
    assert parse_judgement("**Not equal** - the second adds a constraint.") is False
    assert parse_judgement("They are unequal.") is False
    assert parse_judgement("I think they are NOT\nEQUAL") is False
    assert parse_judgement("The second one is harder.") is None
    assert parse_judgement("") is None

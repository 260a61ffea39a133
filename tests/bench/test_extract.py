"""Program extraction on realistic model answers, checked by running the result in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.extract import code_blocks, cut_tail, extract_program, longest_parsing_span, parses
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval.runner import EvalConfig, evaluate

PROMPT = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add two numbers."""\n'


def test_fenced_block_with_prose_and_example_usage() -> None:
    response = (
        "Sure! Here is the implementation:\n\n```python\nfrom typing import List\n\n"
        "def add(a: int, b: int) -> int:\n    return a + b\n\n# Example usage\nprint(add(1, 2))\n```\n\n"
        "This function adds two numbers."
    )
    program = extract_program(response, "add", PROMPT)
    assert parses(program)
    assert "print(add(1, 2))" not in program and "This function" not in program
    assert program.startswith(PROMPT.rstrip())  # the prompt's imports and helpers stay in front


def test_completion_of_the_prompt_body_is_stitched_and_cut() -> None:
    response = '    return a + b\n\n\nprint(add(2, 3))\nif __name__ == "__main__":\n    main()\n'
    program = extract_program(response, "add", PROMPT)
    assert program == PROMPT + "    return a + b\n"


def test_block_defining_the_entry_point_wins_over_longer_ones() -> None:
    response = "```python\n" + "x = 1\n" * 30 + "```\nand the function:\n```py\ndef add(a, b):\n    return a + b\n```"
    assert extract_program(response, "add") == "def add(a, b):\n    return a + b\n"


def test_unterminated_fence_and_main_guard() -> None:
    response = '```python\ndef add(a, b):\n    return a+b\n\nif __name__ == "__main__":\n    import doctest\n'
    assert extract_program(response, "add") == "def add(a, b):\n    return a+b\n"


def test_syntax_fallback_keeps_the_longest_parsing_span() -> None:
    response = "Here you go:\ndef add(a, b):\n    return a + b\nThis works because addition is commutative."
    assert longest_parsing_span(response, "add") == "def add(a, b):\n    return a + b\n"
    assert parses(extract_program(response, "add", PROMPT))


def test_tests_after_the_solution_are_cut_but_helpers_before_stay() -> None:
    solution = "import math\n\ndef helper(x):\n    return x\n\ndef add(a, b):\n    return helper(a) + b\n"
    code = solution + "\nassert add(1, 2) == 3\n"
    assert cut_tail(code, "add") == solution


def test_non_python_fences_are_ignored() -> None:
    assert code_blocks("```bash\npip install x\n```\n```python\nprint(1)\n```") == ["print(1)\n"]


def test_extracted_chat_answers_pass_humaneval_plus(tmp_path: Path, private_cache: Path) -> None:
    """Reference solutions dressed up as chat answers still pass once extracted."""
    tasks = get_benchmark("humaneval+").load(data_dir_from_env())[:6]
    rows = []
    for task in tasks:
        answer = (
            f"Here is a solution to `{task.entry_point}`.\n\n```python\n{task.reference}\n"
            f"if __name__ == '__main__':\n    print({task.entry_point}.__name__)\n```\n"
            "It runs in linear time. Let me know if you need tests!"
        )
        rows.append({"task_id": task.task_id, "solution": extract_program(answer, task.entry_point, task.prompt)})
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = evaluate(EvalConfig(benchmark="humaneval+", samples=samples, workers=2, progress=False))
    assert results["pass_at_k"]["plus"]["pass@1"] == 1.0


@pytest.mark.parametrize(
    "response",
    ["", "no code here at all", "```python\n", "Note: x\n" * 400, "def f(:\n" * 300 + "def ok():\n    return 1\n"],
)
def test_odd_answers_never_crash_and_stay_bounded(response: str) -> None:
    program = extract_program(response, "f", "def f():\n    pass\n")
    assert isinstance(program, str)

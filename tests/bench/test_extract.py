"""Program extraction on realistic model answers, checked by running the result in the sandbox."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.extract import code_blocks, cut_tail, extract_program, longest_parsing_span, parses
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval.config import EvalConfig
from evolcoder.eval.runner import evaluate

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


# ------------------------------------------------------------------------------------------------
# Real chat answers (real-samples/*.raw.jsonl) and the styles of reasoning models, built from them
# ------------------------------------------------------------------------------------------------

REAL = data_dir_from_env() / "real-samples"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def real_answers(name: str) -> dict[str, str]:
    return {row["task_id"]: row["solution"] for row in read_jsonl(REAL / f"{name}.raw.jsonl")}


@pytest.mark.parametrize(
    ("name", "benchmark"),
    [("mapcoder-analogical-raw_humaneval", "humaneval+"), ("mapcoder-analogical-raw_mbpp", "mbpp+")],
)
def test_every_real_answer_gives_a_program_that_defines_the_function(name: str, benchmark: str) -> None:
    tasks = {t.task_id: t for t in get_benchmark(benchmark).load(data_dir_from_env())}
    answers = real_answers(name)
    for task_id, answer in answers.items():
        task = tasks[task_id]
        program = extract_program(answer, task.entry_point, task.prompt)
        assert parses(program), task_id
        if re.search(rf"def {task.entry_point}\(", answer):  # some answers name the function otherwise
            assert re.search(rf"^def {task.entry_point}\(", program, re.MULTILINE), task_id
    named = sum(f"def {tasks[task_id].entry_point}(" in answer for task_id, answer in answers.items())
    assert named > 0.9 * len(answers)


def test_a_list_item_ends_its_unclosed_fence_and_the_final_block_wins() -> None:
    """Mbpp/131: the last example's fence, inside a list item, is never closed; the heading of the
    final solution ends the item, and the final block (not the example's nested helper) is taken."""
    task = {t.task_id: t for t in get_benchmark("mbpp+").load(data_dir_from_env())}["Mbpp/131"]
    program = extract_program(real_answers("mapcoder-analogical-raw_mbpp")["Mbpp/131"], task.entry_point, task.prompt)
    assert "def reverse_vowels(str1" in program and "reverse_vowels_in_words" not in program
    assert "## Python3 code" not in program


def test_final_code_outside_any_fence_beats_the_examples_in_fences() -> None:
    """Mbpp/92: the examples are fenced, the final solution is written after them unfenced."""
    task = {t.task_id: t for t in get_benchmark("mbpp+").load(data_dir_from_env())}["Mbpp/92"]
    program = extract_program(real_answers("mapcoder-analogical-raw_mbpp")["Mbpp/92"], task.entry_point, task.prompt)
    assert "peakIndexInMountainArray" not in program and "wiggleMaxLength" not in program
    assert re.search(r"^def is_undulating\(n: int\) -> bool:\n    num_str", program, re.MULTILINE)


def _passing_real_programs(count: int) -> list[tuple[str, str]]:
    """(task_id, program) of real ChatGPT programs that evalplus 0.3.1 passed on base and plus."""
    name = "mapcoder-analogical-raw_humaneval"
    results = json.loads((REAL / f"{name}.evalplus_results.json").read_text())["eval"]
    chosen = []
    for row in read_jsonl(REAL / f"{name}.jsonl"):
        (verdict,) = results[row["task_id"]]
        if verdict["base_status"] == verdict["plus_status"] == "pass" and "import" in row["solution"]:
            chosen.append((row["task_id"], row["solution"]))
    return chosen[:count]


def _wrong_draft(entry_point: str) -> str:
    return f"def {entry_point}(*args, **kwargs):\n    return None\n"


def _split_helpers(program: str, entry_point: str) -> tuple[str, str]:
    """The program's top-level statements other than the entry point's def, and that def."""
    lines = program.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {entry_point}("))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
    rest = "\n".join(lines[:start] + lines[end:]) + "\n"
    return rest, "\n".join(lines[start:end]) + "\n"


STYLES = {
    "think-then-fenced": lambda p, ep: (
        f"<think>\nFirst try:\n```python\n{_wrong_draft(ep)}```\nThat returns None; fix it.\n</think>\n\n"
        f"Here is the solution:\n```python\n{p}```\n"
    ),
    "think-then-bare-code": lambda p, ep: f"<think>\n```python\n{_wrong_draft(ep)}```\nNo.\n</think>\n{p}",
    "naive-then-corrected": lambda p, ep: (
        f"A naive attempt:\n```python\n{_wrong_draft(ep)}```\nCorrected version:\n```python\n{p}```\n"
    ),
    "example-after-answer": lambda p, ep: (
        f"```python\n{p}```\nAn example problem of the same kind:\n```python\n{_wrong_draft(ep)}```\n"
    ),
    "crlf-tilde-py3": lambda p, ep: f"Answer:\r\n~~~python3\r\n{p}~~~\r\nDone.\r\n".replace("\n", "\r\n"),
    "indented-list-item": lambda p, ep: (
        "1. Solution:\n   ```py\n" + textwrap.indent(p, "   ") + "   ```\n2. Complexity: linear.\n"
    ),
    "unclosed-fence": lambda p, ep: f"```python\n{p}\nif __name__ == '__main__':\n    print({ep}.__name__)\n",
    "helpers-in-an-earlier-block": lambda p, ep: (
        "Imports and helpers:\n```python\n{}```\nThe function:\n```python\n{}```\n".format(*_split_helpers(p, ep))
    ),
}


def test_reasoning_and_markdown_styles_are_read_as_a_reader_would(tmp_path: Path, private_cache: Path) -> None:
    """Real passing programs dressed in each answer style still pass once extracted."""
    tasks = {t.task_id: t for t in get_benchmark("humaneval+").load(data_dir_from_env())}
    programs = _passing_real_programs(6)
    assert len(programs) == 6
    rows = []
    for style, dress in STYLES.items():
        for task_id, program in programs:
            task = tasks[task_id]
            extracted = extract_program(dress(program, task.entry_point), task.entry_point, task.prompt)
            rows.append({"task_id": task_id, "solution": extracted, "style": style})
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = evaluate(EvalConfig(benchmark="humaneval+", samples=samples, workers=2, progress=False))
    judged = [v for task_rows in results["eval"].values() for v in task_rows]
    by_solution = {v["solution"]: v for v in judged}
    failing = [
        (r["style"], r["task_id"])
        for r in rows
        if by_solution[r["solution"]]["plus_status"] != "pass" or by_solution[r["solution"]]["base_status"] != "pass"
    ]
    assert failing == []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_extraction_at_least_matches_evalplus_sanitize_on_every_raw_set(tmp_path: Path, private_cache: Path) -> None:
    """benchmarks/extract_quality.py: ours and evalplus.sanitize on the same real answers, both
    judged by evolcoder eval; ours must score at least as high on base and on base + plus."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "extract_quality.py"
    report = tmp_path / "quality.json"
    done = subprocess.run(
        [sys.executable, str(script), "--json", str(report), "--work-dir", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    results = json.loads(report.read_text())
    assert sorted(r["set"] for r in results) == ["mapcoder-analogical-raw_humaneval", "mapcoder-analogical-raw_mbpp"]
    for r in results:
        assert r["ours_base"] >= r["evalplus_base"] and r["ours_plus"] >= r["evalplus_plus"], r
        assert r["answers"] == {"mapcoder-analogical-raw_humaneval": 164, "mapcoder-analogical-raw_mbpp": 354}[r["set"]]

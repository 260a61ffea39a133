"""Why a sample failed: each kind of failure made for real in the sandbox, on real tasks, and the
breakdown over real model programs.

Every solution below runs in the real sandbox against the real benchmark data (HumanEval+/0 for
EvalPlus's outputs, HumanEval/0 for its check function, Mbpp/11 for MBPP's asserts).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.data.fetch import data_dir_from_env
from evolcoder.eval import failures
from evolcoder.eval.config import EvalConfig
from evolcoder.eval.runner import evaluate
from evolcoder.records import FAILURE_TEXT_CHARS, Failure

pytestmark = pytest.mark.usefixtures("private_cache")

HEAD = "def has_close_elements(numbers, threshold):\n"
SOLUTIONS = {  # name -> (solution of HumanEval+/0, expected kind, expected exception)
    "syntax": (HEAD + "    return (\n", "syntax_error", "SyntaxError"),
    "name": (HEAD + "    return numpy.any(numbers)\n", "name_error", "NameError"),
    "import": ("import not_a_module_anywhere\n" + HEAD + "    return True\n", "name_error", "ModuleNotFoundError"),
    "exception": (HEAD + "    return numbers[99]\n", "exception", "IndexError"),
    "wrong": (HEAD + "    return 'yes'\n", "wrong_output", None),
    "timeout": (HEAD + "    while True:\n        pass\n", "timeout", None),
    "memory": (HEAD + "    return len(bytearray(1 << 40))\n", "memory", "MemoryError"),
    "blocked": (HEAD + "    import socket\n    socket.socket()\n    return True\n", "blocked", "PermissionError"),
    "ok": (
        HEAD + "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1 :])\n",
        None,
        None,
    ),
}


def _evaluate(tmp_path: Path, benchmark: str, rows: list[dict]) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = EvalConfig(
        benchmark=benchmark,
        samples=samples,
        output_dir=tmp_path / "out",
        data_dir=data_dir_from_env(),
        workers=2,
        progress=False,
    )
    return evaluate(config)


@pytest.fixture(scope="module")
def humaneval_plus(tmp_path_factory: pytest.TempPathFactory, cache_root: Path) -> dict:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOLCODER_CACHE_DIR", str(cache_root))
        rows = [{"task_id": "HumanEval/0", "solution": solution} for solution, _, _ in SOLUTIONS.values()]
        return _evaluate(tmp_path_factory.mktemp("failures"), "humaneval+", rows)


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_each_kind_of_failure_is_named(humaneval_plus: dict, name: str) -> None:
    solution, kind, exception = SOLUTIONS[name]
    row = humaneval_plus["eval"]["HumanEval/0"][list(SOLUTIONS).index(name)]
    assert row["solution"] == solution
    if kind is None:
        assert row["base_status"] == "pass" and row["base_failure"] is None
        return
    assert row["base_status"] != "pass"
    failure = Failure.from_row(row["base_failure"])
    assert failure.kind == kind, row["base_failure"]
    assert failure.exception == exception
    assert failure.message


def test_the_details_say_where_and_on_what(humaneval_plus: dict) -> None:
    rows = dict(zip(SOLUTIONS, humaneval_plus["eval"]["HumanEval/0"], strict=True))
    syntax = rows["syntax"]["base_failure"]
    assert syntax["defining"] is True and syntax["line"] == 2 and syntax["source"] == "return ("
    wrong = rows["wrong"]["base_failure"]
    assert wrong["test"] == 0 and wrong["input"].startswith("has_close_elements([")
    assert wrong["actual"] == "'yes'" and wrong["expected"] in ("True", "False")
    raised = rows["exception"]["base_failure"]
    assert raised["line"] == 2 and raised["source"] == "return numbers[99]" and raised["defining"] is False
    assert raised["input"].startswith("has_close_elements(")
    timeout = rows["timeout"]["base_failure"]
    assert timeout["limit_s"] >= 1.0 and f"{timeout['limit_s']:g} s" in timeout["message"]
    imported = rows["import"]["base_failure"]
    assert imported["defining"] is True and imported["source"] == "import not_a_module_anywhere"


def test_the_breakdown_counts_each_failing_sample_once(humaneval_plus: dict) -> None:
    base = humaneval_plus["failures"]["base"]
    assert sum(base.values()) == len(SOLUTIONS) - 1
    assert base["exception: IndexError"] == 1 and base["name_error"] == 2
    kinds = [label.split(":")[0] for label in base]
    assert kinds == sorted(kinds, key=list(failures.FAILURE_KINDS).index)


def test_check_and_asserts_name_the_failing_test(tmp_path: Path) -> None:
    humaneval = _evaluate(
        tmp_path / "he",
        "humaneval",
        [
            {"task_id": "HumanEval/0", "solution": HEAD + "    return False\n"},
            {"task_id": "HumanEval/0", "solution": HEAD + "    return numbers[99]\n"},
        ],
    )
    wrong, raised = (row["base_failure"] for row in humaneval["eval"]["HumanEval/0"])
    assert wrong["kind"] == "wrong_output" and wrong["input"].startswith("assert candidate(")
    assert raised["kind"] == "exception" and raised["exception"] == "IndexError"
    mbpp = _evaluate(
        tmp_path / "mbpp",
        "mbpp",
        [{"task_id": "Mbpp/11", "solution": "def remove_Occ(s, ch):\n    return s\n"}],
    )
    failure = mbpp["eval"]["Mbpp/11"][0]["base_failure"]
    assert failure["kind"] == "wrong_output" and failure["test"] == 0
    assert failure["input"].startswith("assert remove_Occ(")


def test_real_programs_have_a_failure_exactly_when_they_fail(tmp_path: Path) -> None:
    """Real HumanEval+ programs (CodeT with CodeGen-16B): the failures explain every failing sample."""
    source = data_dir_from_env() / "real-samples" / "codet-codegen16b_humaneval.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    wanted = [f"HumanEval/{i}" for i in range(12)]
    results = _evaluate(tmp_path, "humaneval+", [r for r in rows if r["task_id"] in wanted])
    failing = 0
    for entries in results["eval"].values():
        for row in entries:
            for test_set in ("base", "plus"):
                status, failure = row[f"{test_set}_status"], row[f"{test_set}_failure"]
                assert (failure is None) == (status in ("pass", None)), row
                if failure:
                    assert failure["kind"] in failures.FAILURE_KINDS
                    assert all(len(failure[k] or "") <= FAILURE_TEXT_CHARS for k in ("input", "expected", "actual"))
            failing += row["base_status"] != "pass"
    assert sum(results["failures"]["base"].values()) == failing > 0


def test_cut_shown_split_and_kind() -> None:
    assert failures.cut("x" * 500) == "x" * (FAILURE_TEXT_CHARS - 1) + "…"
    assert failures.cut("short") == "short"
    huge = list(range(10**6))
    assert len(failures.shown(huge)) <= FAILURE_TEXT_CHARS
    assert failures.split_error("ValueError: math domain error") == ("ValueError", "math domain error")
    assert failures.split_error("AssertionError") == ("AssertionError", "")
    assert failures.split_error("test setup failed: x") == (None, "test setup failed: x")
    assert failures.kind_of("AssertionError", "", asserts_test=True) == "wrong_output"
    assert failures.kind_of("AssertionError", "", asserts_test=False) == "exception"
    assert failures.kind_of("PermissionError", "[Errno 1] Operation not permitted", asserts_test=False) == "blocked"
    assert failures.kind_of("PermissionError", "my own message", asserts_test=False) == "exception"

    class Loud:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "Loud" in failures.shown(Loud())  # a repr that raises still leaves a readable cell

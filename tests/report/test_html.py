"""report.html opened from disk in headless Chromium with the network cut off.

The eval folders are made here by ``evolcoder eval`` on real model outputs (shared/data/real-samples:
ChatGPT's raw chat responses with MapCoder's extracted programs, and LDB's gpt-3.5 programs) on
the first tasks of HumanEval+. The experiment is the schema-true fixture of conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from evolcoder.evol.templates import HEURISTICS
from evolcoder.records import RESULTS_FILE, WRONG_OUTPUT, Failure
from evolcoder.report.browse import load_run
from evolcoder.report.build import build_report
from evolcoder.report.html import HTML_FILE, tokens
from evolcoder.report.stats import sign_test

REAL = "real-samples"
N_TASKS = 12  # --limit: the first 12 HumanEval+ tasks
FAILING = "HumanEval/1"  # the ChatGPT program fails it with a wrong output


def _data_dir() -> Path:
    return Path(os.environ["EVOLCODER_DATA_DIR"])


def _write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _real_rows(name: str) -> list[dict]:
    with open(_data_dir() / REAL / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _evaluate(samples: Path, out: Path) -> Path:
    from evolcoder.eval.config import EvalConfig
    from evolcoder.eval.runner import evaluate

    evaluate(
        EvalConfig(benchmark="humaneval+", samples=samples, output_dir=out, limit=N_TASKS, workers=2, progress=False)
    )
    return out


def _failure(folder: Path) -> Failure:
    """FAILING's failure record, as `evolcoder eval` wrote it."""
    row = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))["eval"][FAILING][0]
    return Failure.from_row(row["base_failure"], require=["kind", "input", "expected", "actual"])


@pytest.fixture(scope="module")
def real_evals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Failure]:
    root = tmp_path_factory.mktemp("real")
    programs = _real_rows("mapcoder-analogical-raw_humaneval.jsonl")
    responses = _real_rows("mapcoder-analogical-raw_humaneval.raw.jsonl")
    chatgpt = [
        {"task_id": p["task_id"], "sample_index": 0, "solution": p["solution"], "raw": r["solution"]}
        for p, r in zip(programs, responses, strict=True)
    ]
    meta = _real_rows("ldb_humaneval.meta.jsonl")
    ldb = [row for row, m in zip(_real_rows("ldb_humaneval.jsonl"), meta, strict=True) if "gpt-3.5" in m["origin"]]
    first = _evaluate(_write_samples(root / "chatgpt.jsonl", chatgpt), root / "chatgpt_eval")
    second = _evaluate(_write_samples(root / "ldb-gpt35.jsonl", ldb), root / "ldb_eval")
    failure = _failure(first)
    return first, second, failure


def _statuses(folder: Path) -> dict[str, tuple[str, str]]:
    results = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
    return {task: (rows[0]["base_status"], rows[0]["plus_status"]) for task, rows in results["eval"].items()}


def test_tokens_are_lengths_in_utf16_units() -> None:
    code = "def f():\n    return '😀 é'  # note\n"
    flat = tokens(code)
    assert sum(flat[0::2]) == len(code.encode("utf-16-le")) // 2
    assert len(set(flat[1::2])) > 2  # keywords, names, strings, comments apart


def test_eval_folders_page(real_evals, open_report, tmp_path: Path) -> None:
    chatgpt, ldb, failure = real_evals
    out = tmp_path / "report"
    build_report([chatgpt, ldb], out, data_dir=_data_dir())
    page = open_report(out / HTML_FILE)
    page.page.screenshot(path="/tmp/report_eval_paper.png", full_page=False)
    assert page.page.locator("#report-md img").count() == 2  # Figure 1 and DS-1000 analogues, embedded
    assert page.page.locator("#report-md table").count() >= 5
    assert page.page.locator("#tab-evolution").inner_text().startswith("No evolution attempts")

    page.tab("tasks")
    statuses = _statuses(chatgpt)
    assert len(page.rows()) == N_TASKS == len(statuses)
    failing = [task for task, (base, plus) in statuses.items() if "fail" in (base, plus)]
    page.page.select_option("#verdict-filter", "fail")
    assert page.rows() == failing and FAILING in failing
    page.page.select_option("#verdict-filter", "")
    page.page.select_option("#kind-filter", WRONG_OUTPUT)
    assert FAILING in page.rows() and len(page.rows()) < len(failing) + 1
    page.page.select_option("#kind-filter", "")
    page.page.click("#task-table th[data-key=rate]")
    assert page.rows()[0] in failing  # ascending pass@1: a failing task first

    page.page.click(f'#task-table tr[data-id="{FAILING}"]')
    detail = page.page.locator("#task-detail")
    detail.locator("pre.code span.k").first.wait_for()  # the program, highlighted: keywords in spans
    sample = next(t for t in load_run(chatgpt, "x").tasks if t.task_id == FAILING).samples[0]
    assert detail.locator("pre.code").inner_text().strip() == sample.solution.strip()
    text = detail.inner_text()
    for value in (failure.input, failure.expected, failure.actual, failure.kind):
        assert value in text
    assert "separate_paren_groups" in detail.locator("details:has(summary:text('Prompt')) pre").text_content()
    detail.locator("summary:text('Raw response')").click()
    raw = detail.locator("details.raw pre").inner_text()  # ChatGPT's chat answer, the program inside it
    assert raw.strip() == sample.raw.strip() and len(raw) > len(sample.solution)
    page.page.screenshot(path="/tmp/report_eval_task.png")

    page.tab("pairs")
    gained = [t for t in statuses if "fail" in statuses[t] and "fail" not in _statuses(ldb)[t]]
    lost = [t for t in statuses if "fail" not in statuses[t] and "fail" in _statuses(ldb)[t]]
    assert gained and lost
    assert page.page.locator("#gained a").all_inner_texts() == gained
    assert page.page.locator("#lost a").all_inner_texts() == lost
    assert page.page.inner_text("#p-value") == f"p = {sign_test(len(gained), len(lost)):.3f}"
    page.page.click(f"#gained a >> text={gained[0]}")
    page.page.locator("#pair-b pre.code").wait_for()
    assert (
        page.page.locator("#pair-a .badge.fail").count() >= 1 and page.page.locator("#pair-b .badge.fail").count() == 0
    )
    page.page.screenshot(path="/tmp/report_eval_pairs.png")
    page.check_closed()


def test_experiment_page(experiment: Path, open_report, tmp_path: Path) -> None:
    out = tmp_path / "report"
    build_report([experiment], out, data_dir=_data_dir())
    page = open_report(out / HTML_FILE)
    assert page.page.locator("#report-md img").count() == 5  # every figure of the experiment
    assert "Mini-replication" in page.page.inner_text("#report-md")

    page.tab("tasks")
    assert page.page.locator("#run-select option").count() == 6  # 3 models x HumanEval+, MBPP+
    assert len(page.rows()) == 20  # base on HumanEval+ (conftest: 20 tasks, 2 pass base and plus)
    page.page.select_option("#verdict-filter", "pass")
    assert page.rows() == ["HumanEval/0", "HumanEval/1"]
    page.page.select_option("#verdict-filter", "plus_only")
    assert page.rows() == ["HumanEval/2"]  # passed base, failed plus
    page.page.select_option("#verdict-filter", "")
    page.page.select_option("#kind-filter", "unknown")  # conftest's eval folders predate failure records
    assert len(page.rows()) == 18
    page.page.click('#task-table tr[data-id="HumanEval/5"]')
    page.page.locator("#task-detail pre.code").wait_for()
    assert "failure details not recorded" in page.page.inner_text("#task-detail")
    assert "[1]" in page.page.inner_text("#task-detail")  # its failing base input

    page.tab("pairs")
    label = page.page.locator("#pair-select option").all_inner_texts()
    assert len(label) == 6  # 3 pairs per benchmark
    page.page.select_option("#pair-select", index=1)  # base vs evol-sft on HumanEval+: 2 -> 8 tasks
    assert page.page.inner_text("#n-gained") == "6" and page.page.inner_text("#n-lost") == "0"
    assert page.page.inner_text("#p-value") == f"p = {sign_test(6, 0):.3f}"

    page.tab("evolution")
    seeds = 2 * len(HEURISTICS)  # conftest: seeds s0.., each attempted in rounds 1 and 2
    page.page.locator(".chain").first.wait_for()
    assert page.page.locator(".chain").count() == seeds
    assert page.page.locator("#heuristic-counts tbody tr").count() == len(HEURISTICS)
    first = page.page.locator(".chain").first
    assert first.locator(".step").count() == 2  # the seed's chain over rounds 1 and 2
    heuristic = sorted(HEURISTICS)[0]
    page.page.select_option("#heuristic-filter", heuristic)
    assert page.page.locator(".chain").count() == 2  # each heuristic was tried on two seeds
    page.page.select_option("#heuristic-filter", "")
    page.page.select_option("#reason-filter", "kept")
    kept = page.page.locator(".chain").count()
    assert 0 < kept < seeds  # every third seed's attempts were eliminated
    page.page.screenshot(path="/tmp/report_experiment_evolution.png", full_page=False)
    page.check_closed()


def test_eval_only_cli_lines(real_evals, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from evolcoder.report.cli import report_command

    app = typer.Typer()
    app.command()(report_command)
    copy = tmp_path / "only"
    shutil.copytree(real_evals[0], copy)
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, [str(copy), "--output-dir", str(out), "--data-dir", str(_data_dir())])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.md'}" in result.output
    assert f"html: {out / HTML_FILE}" in result.output
    text = (out / "report.md").read_text()
    assert "Eval folders" in text and "## The evolution loop" not in text
    assert "| **only: evolcoder eval** | **66.7** | [39.1, 86.2] | 8/12 |" in text

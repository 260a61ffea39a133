"""`evolcoder report` and `evolcoder evolutions` on runs of ``evolve --verify tests``.

The fixture experiments (conftest.py, ``verify=True``) carry verification tries in the pattern of
``verified_case``; the last test runs a real verified evolution (the scripted teacher, a test
double served over HTTP, and the real sandbox) and reads its rows.
"""

from __future__ import annotations

import shutil
import struct
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evolcoder.cli import app
from evolcoder.evol.templates import HEURISTICS
from evolcoder.records import FAILED_OWN_TESTS, NO_FUNCTION_TO_TEST, TESTS_CANNOT_FAIL
from evolcoder.report.build import FIGURES, build_report
from evolcoder.report.html import HTML_FILE
from evolcoder.report.stats import sign_test

from ..evol.scripted_teacher import scripted_teacher
from ..evol.test_verify import config, seed_file
from .conftest import ATTEMPTS, DEV, verified_case

ROUNDS = [k for k, _ in DEV if k]


def _width(png: Path) -> int:
    return struct.unpack(">I", png.read_bytes()[16:20])[0]


def _expected_verification() -> dict[str, tuple[int, int, int]]:
    """heuristic -> (verified, passed, passed later) in one round of the fixture, from its pattern."""
    counts: dict[str, list[int]] = {name: [0, 0, 0] for name in HEURISTICS}
    for i, heuristic in enumerate(ATTEMPTS):
        outcomes, reason = verified_case(i)
        if outcomes:
            counts[heuristic][0] += 1
            counts[heuristic][1] += reason is None
            counts[heuristic][2] += reason is None and len(outcomes) > 1
    return {name: (v, p, later) for name, (v, p, later) in counts.items() if v}


def test_verified_experiment_tables_and_figure(make_exp, tmp_path: Path) -> None:
    verified = make_exp(tmp_path / "runs", name="checked", verify=True)
    text = build_report([verified], tmp_path / "report").read_text()
    label = "checked (--verify tests)"
    assert "evolved with `--verify tests`" in text
    for k in ROUNDS:
        for name, (v, p, later) in _expected_verification().items():
            assert f"| {label} | {k} | {name} | {v} | {p} | {100 * p / v:.1f} | {later} |" in text
        # eliminated while verifying: counted apart from the text rules' reasons
        assert f"| {label} | {k} | verification: {FAILED_OWN_TESTS} | 1 |" in text
        assert f"| {label} | {k} | verification: {TESTS_CANNOT_FAIL} | 1 |" in text
        assert f"| {label} | {k} | unchanged | 2 |" in text
    assert f"| **{label}: SFT on evolved round 1** | **40.0** |" in text  # the verify setting in the row label
    # the figure has its third panel (verification per heuristic): 3 x 650 pixels wide, not 2 x 650
    assert _width(tmp_path / "report" / FIGURES["evolve"]) == 1950


def test_unverified_experiment_looks_as_before(experiment: Path, tmp_path: Path) -> None:
    text = build_report([experiment], tmp_path / "report").read_text()
    assert "--verify" not in text and "verification" not in text.lower()
    assert _width(tmp_path / "report" / FIGURES["evolve"]) == 1300


def test_with_and_without_verification(make_exp, tmp_path: Path) -> None:
    plain = make_exp(tmp_path / "a", name="plain")
    better = {("evol-sft", "humaneval+"): (11, 9), ("evol-sft", "mbpp+"): (5, 4)}
    checked = make_exp(tmp_path / "b", name="checked", verify=True, passed=better)
    text = build_report([checked, plain], tmp_path / "report").read_text()  # the unverified one is put first
    assert f"- **plain** (`{plain}`)" in text and "evolved with `--verify none`" in text
    assert f"- **checked** (`{checked}`)" in text and "evolved with `--verify tests`" in text
    section = text.split("## With and without verification")[1].split("\n## ")[0]
    assert "record the same settings otherwise" in section
    assert "| | plain | checked (--verify tests) | tasks both ran | gained | lost | sign test p |" in section
    assert "| dev pass@1, best round | 10.0 [4.0, 23.1] (round 1, 4/40) | 10.0 [4.0, 23.1] (round 1, 4/40) |" in section
    # HumanEval base tests: tasks 0-8 pass without, 0-10 with verification: 2 gained, none lost
    humaneval = "| HumanEval pass@1 | 45.0 [25.8, 65.8], 9/20 | 55.0 [34.2, 74.2], 11/20 | 20 | 2 | 0 |"
    humaneval += f" {sign_test(2, 0):.3f} |"
    assert humaneval in section
    assert (
        f"| MBPP+ pass@1 | 20.0 [9.5, 37.3], 6/30 | 13.3 [5.3, 29.7], 4/30 | 30 | 0 | 2 | {sign_test(0, 2):.3f} |"
        in (section)
    )
    assert "| **checked (--verify tests): SFT on evolved round 1** | **55.0** | [34.2, 74.2] | 11/20 |" in text


def test_comparison_says_what_else_differs(make_exp, tmp_path: Path) -> None:
    plain = make_exp(tmp_path / "a", name="plain", config={"rounds": 2, "rerun_changed": False})
    checked = make_exp(tmp_path / "b", name="checked", verify=True, config={"rounds": 3, "rerun_changed": True})
    text = build_report([plain, checked], tmp_path / "report").read_text()
    assert "They also differ in `rounds`: not verification alone." in text  # not in --rerun-changed
    two_plain = build_report([plain, make_exp(tmp_path / "c", name="other")], tmp_path / "r2").read_text()
    assert "With and without verification" not in two_plain and "--verify" not in two_plain


def test_evolution_browser_shows_the_tries(make_exp, open_report, tmp_path: Path) -> None:
    checked = make_exp(tmp_path / "runs", name="checked", verify=True)
    build_report([checked], tmp_path / "report")
    page = open_report(tmp_path / "report" / HTML_FILE)
    page.tab("evolution")
    page.page.locator(".chain").first.wait_for()
    head = page.page.locator("#heuristic-counts thead").inner_text()
    assert "verified" in head and "passed on a later try" in head
    expected = _expected_verification()
    for row in page.page.locator("#heuristic-counts tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        v, p, later = expected.get(cells[0], (0, 0, 0))
        assert cells[4:] == [str(2 * v), str(2 * p), f"{100 * p / v:.1f}" if v else "–", str(2 * later)]
    outcomes = page.page.locator("#reason-filter option").all_inner_texts()
    assert f"eliminated: verification: {FAILED_OWN_TESTS}" in outcomes and "eliminated: unchanged" in outcomes
    page.page.select_option("#reason-filter", f"verification: {FAILED_OWN_TESTS}")
    seeds = {f"s{i}" for i in range(len(ATTEMPTS)) if verified_case(i)[1] == FAILED_OWN_TESTS}
    assert set(page.page.locator(".chain h4").all_inner_texts()) == seeds
    page.page.select_option("#reason-filter", "later")
    later = [
        f"s{i}" for i in range(len(ATTEMPTS)) if verified_case(i)[0][-1:] == ["passed"] and len(verified_case(i)[0]) > 1
    ]
    assert page.page.locator(".chain h4").all_inner_texts() == later
    step = page.page.locator(".chain").first.locator(".step").first
    step.locator("details.verify > summary").click()
    tries = step.locator(".try")
    assert tries.count() == 2
    first = tries.nth(0).inner_text()
    assert FAILED_OWN_TESTS in first and f"AssertionError: try 1 of {later[0]}" in first
    assert "assert f() == 1" in tries.nth(0).locator("pre.tests").inner_text()
    assert tries.nth(0).locator("details.try-answer").count() == 1  # a wrong answer, not the one kept
    assert tries.nth(1).locator("details.try-answer").count() == 0  # the kept answer itself
    assert "passed" in tries.nth(1).inner_text()
    page.page.screenshot(path="/tmp/report_verified_evolution.png", full_page=False)
    page.check_closed()


def test_evolutions_of_the_verified_fixture(make_exp, tmp_path: Path) -> None:
    checked = make_exp(tmp_path / "runs", name="checked", verify=True)
    result = CliRunner().invoke(app, ["evolutions", str(checked), "--limit", "10"])
    assert result.exit_code == 0, result.output
    expected = _expected_verification()
    verified, passed, later = (2 * sum(c[n] for c in expected.values()) for n in range(3))
    kept = 2 * sum(1 for i in range(len(ATTEMPTS)) if verified_case(i)[1] is None)
    head = f"{2 * len(ATTEMPTS)} evolution attempts, {kept} kept, {passed}/{verified} passed verification"
    assert f"{head} ({later} on a later try)" in result.stdout
    assert f"verification: {FAILED_OWN_TESTS} 2" in result.stdout and "unchanged 4" in result.stdout
    assert "try 1: failed_own_tests: AssertionError: try 1 of s1" in result.stdout
    assert result.stdout.count(" tests passed:") == 10


@pytest.fixture(scope="module")
def real_verified(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``evolve --verify tests`` round: each word is a case of the scripted teacher."""
    root = tmp_path_factory.mktemp("real-verified")
    words = ["PASSES", "SECOND", "NEVER", "SINGLE", "NOCODE"]
    with scripted_teacher() as teacher:
        from evolcoder.evol.pipeline import evolve

        evolve(config(root, teacher.url, seed_file(root / "seeds.json", words)))
    return root / "evolve"


def test_real_verified_rows_in_evolutions_and_the_report(real_verified: Path, make_exp, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evolutions", str(real_verified), "--limit", "5"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "5 evolution attempts, 2 kept, 2/5 passed verification (1 on a later try)" in out
    for outcome in (FAILED_OWN_TESTS, TESTS_CANNOT_FAIL, NO_FUNCTION_TO_TEST):
        assert f"verification: {outcome} 1" in out
    second = out[out.index("SECOND:") :]
    assert "try 1: failed_own_tests: AssertionError" in second and "try 2: passed" in second
    assert "assert mul(2, 3) == 6" in second.split(" tests passed:")[1]
    eliminated = CliRunner().invoke(app, ["evolutions", str(real_verified), "--eliminated", "--limit", "5"])
    assert "fewer than 3" in eliminated.stdout and "tests of try 2:" in eliminated.stdout

    # the same rows as an experiment's evolution, its settings saying --verify tests
    exp = make_exp(tmp_path / "runs", name="real")
    shutil.rmtree(exp / "evolve")
    shutil.copytree(real_verified, exp / "evolve")
    text = build_report([exp], tmp_path / "report").read_text()
    assert "evolved with `--verify tests`" in text
    evolution = text.split("### Evolution: heuristics and eliminations")[1]
    rows = [line.split(" | ") for line in evolution.splitlines() if line.startswith("| real (--verify tests) | 1 |")]
    verification = [row for row in rows if len(row) == 7]
    assert sum(int(row[3]) for row in verification) == 5  # answers verified
    assert sum(int(row[4]) for row in verification) == 2 and sum(int(row[6].rstrip(" |")) for row in verification) == 1
    reasons = Counter({row[2]: int(row[3].rstrip(" |")) for row in rows if len(row) == 4})
    assert reasons[f"verification: {FAILED_OWN_TESTS}"] == 1 and reasons[f"verification: {NO_FUNCTION_TO_TEST}"] == 1

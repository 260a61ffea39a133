"""``evolcoder run`` for real, tiny: the embedded GGUF teacher (few tokens), a tiny student trained
one step, 2 dev tasks, 2 HumanEval+ tasks. Killed (SIGKILL) in the middle of a stage, resumed without
redoing what was finished; a rerun with a changed setting is refused, and with --rerun-changed only the
stages the change touches (here the test stages) run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evolcoder.cli import app
from evolcoder.errors import UserError
from evolcoder.run.config import load_run_config
from evolcoder.run.pipeline import run_experiment
from evolcoder.run.stages import read_record

ENTRY = "import typer; from evolcoder.run.cli import run_command; typer.run(run_command)"
ROUND_0 = ["dataset/round_0", "train/round_0", "dev-gen/round_0", "dev-eval/round_0"]


def tiny_config(student: Path) -> dict:
    return {
        "name": "tiny",
        "teacher_backend": "llamacpp",
        "teacher": "default",
        "teacher_concurrency": 3,
        "seed_data": "code_alpaca_2k",
        "seed_limit": 3,
        "rounds": 1,
        "evolve": {"evolve_max_tokens": 32, "answer_max_tokens": 32, "decontaminate": [], "dedup_threshold": 0},
        "student": str(student),
        "train_preset": "cpu-demo",
        "train": {"max_steps": 1, "batch_size": 2, "micro_batch_size": 2, "max_length": 96, "warmup_steps": 0},
        "gen_concurrency": 2,
        "dev_limit": 2,
        "dev_max_new_tokens": 8,
        "test_benchmarks": ["humaneval+"],
        "test_limit": 2,
        "test_max_new_tokens": 8,
        "eval_workers": 2,
    }


def snapshot(exp: Path, names: list[str]) -> dict:
    """Stage records and output mtimes: a stage redone would change both."""
    files = [
        "rounds/round_0/data.jsonl",
        "rounds/round_0/train/model.safetensors",
        "rounds/round_0/dev/samples.jsonl",
        "rounds/round_0/dev/eval/eval_results.json",
    ]
    return {
        "records": {n: read_record(exp, n) for n in names},
        "mtimes": {f: (exp / f).stat().st_mtime_ns for f in files},
    }


@pytest.fixture(scope="module")
def killed_and_resumed(tiny_model_dir: Path, cache_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("run")
    exp, config_file = folder / "exp", folder / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config(tiny_model_dir)))
    env = os.environ | {"EVOLCODER_CACHE_DIR": str(cache_root), "OMP_NUM_THREADS": "1"}
    started = time.monotonic()
    with open(folder / "stderr.txt", "w") as err:
        command = [sys.executable, "-c", ENTRY, "--config", str(config_file), "--output-dir", str(exp)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        while (read_record(exp, "evolve/round_1") or {}).get("status") != "running":
            assert process.poll() is None, (folder / "stderr.txt").read_text()[-3000:]
            assert time.monotonic() - started < 400, "round 0 took too long"
            time.sleep(0.2)
        time.sleep(2)  # inside the evolve stage: the teacher is loading or answering
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = snapshot(exp, ROUND_0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOLCODER_CACHE_DIR", str(cache_root))
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        config = load_run_config(None, config_file, {"output_dir": exp, "progress": False})
        summary = run_experiment(config)
        torch.set_num_threads(threads)
    return {
        "exp": exp,
        "config_file": config_file,
        "before": before,
        "after": snapshot(exp, ROUND_0),
        "summary": summary,
        "stderr": (folder / "stderr.txt").read_text(),
        "killed_record": before["records"],
    }


def test_a_killed_run_resumes_without_redoing_finished_stages(killed_and_resumed: dict) -> None:
    exp = killed_and_resumed["exp"]
    assert killed_and_resumed["after"] == killed_and_resumed["before"]  # round 0: same records, untouched files
    rows = [json.loads(line) for line in (exp / "evolve/rounds/round_1.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in rows) == ["code_alpaca_2k/0@r1", "code_alpaca_2k/1@r1", "code_alpaca_2k/2@r1"]
    assert read_record(exp, "evolve/round_1")["status"] == "complete"
    # the progress view: stage, round, ETA
    assert "[1/" in killed_and_resumed["stderr"] and "train round 0" in killed_and_resumed["stderr"]
    assert "ETA" in killed_and_resumed["stderr"]


def test_the_summary_and_the_manifest(killed_and_resumed: dict) -> None:
    exp, summary = killed_and_resumed["exp"], killed_and_resumed["summary"]
    assert json.loads((exp / "summary.json").read_text()) == summary
    assert summary["schema"] == 1 and summary["name"] == "tiny" and summary["manifest"] == "manifest.json"
    assert summary["dev"] == {"benchmark": "mbpp", "task_ids": "Mbpp/511-974 subset", "n_tasks": 2}
    assert [r["round"] for r in summary["rounds"]] == [0, 1] and summary["best_round"] == 1
    for entry in summary["rounds"]:
        assert (exp / entry["dataset"]).is_file() and (exp / entry["train_dir"] / "config.json").is_file()
        assert entry["dev_n"] == 2 and 0 <= entry["dev_pass@1"] <= 1 and entry["n_pairs"] >= 3
    assert summary["rounds"][0]["evolve_stats"] is None
    assert json.loads((exp / summary["rounds"][1]["evolve_stats"]).read_text())["round"] == 1
    assert set(summary["models"]) == {"base", "seed-sft", "evol-sft"}
    assert summary["models"]["evol-sft"]["path"] == "rounds/round_1/train"
    rows = {(row["model"], row["benchmark"]): row for row in summary["test"]}
    assert set(rows) == {(m, b) for m in ("base", "seed-sft", "evol-sft") for b in ("humaneval", "humaneval+")}
    for row in rows.values():
        assert row["n_tasks"] == 2 and row["n_samples"] == 1 and 0 <= row["pass@1"] <= 1
        assert row["setting"] == {"mode": "greedy", "n": 1, "temperature": 0.0}
        assert row["results"] == f"test/{row['model']}/humaneval+/eval/eval_results.json"
        assert (exp / row["results"]).is_file()
    manifest = json.loads((exp / "manifest.json").read_text())
    assert manifest["config"]["seed_limit"] == 3 and manifest["versions"]["torch"]
    assert len(manifest["data"]["seeds"]["sha256"]) == 64 and manifest["data"]["humaneval_plus"]
    assert manifest["seeds"] == {"evolve": 0, "train": 42, "generation": 0}
    assert "git_commit" in manifest


def test_the_report_of_the_real_run(killed_and_resumed: dict, tmp_path: Path) -> None:
    exp, out = killed_and_resumed["exp"], tmp_path / "report"
    command = [sys.executable, "-m", "evolcoder.cli", "report", str(exp), "--output-dir", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    text = (out / "report.md").read_text()
    for name in ("fig1_humaneval.png", "dev_pass1_by_round.png", "train_loss.png", "evolve_heuristics.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"({name})" in text
    # Every test number of the run is in the report, with its interval and sample size.
    summary = killed_and_resumed["summary"]
    for row in summary["test"]:
        if row["benchmark"] == "humaneval":
            label = summary["models"][row["model"]]["label"]
            assert f"| **tiny: {label}** | **{100 * row['pass@1']:.1f}** |" in text, row["model"]
    assert f"{round(killed_and_resumed['summary']['test'][0]['pass@1'] * 2)}/2" in text
    assert "HumanEval+: " in text and "ordering" in text  # the mini-replication, said plainly
    assert "manifest.json" in text
    assert result.stdout.splitlines()[-1] == f"html: {out / 'report.html'}"


def test_the_report_page_of_the_real_run(killed_and_resumed: dict, open_report, tmp_path: Path) -> None:
    """report.html of the real run in Chromium: each model's HumanEval+ tasks, and the evolution browser."""
    from evolcoder.report.build import build_report

    exp, out = killed_and_resumed["exp"], tmp_path / "report"
    build_report([exp], out)
    page = open_report(out / "report.html")
    page.tab("tasks")
    assert page.page.locator("#run-select option").count() == 3  # base, seed-sft, evol-sft on HumanEval+
    assert sorted(page.rows()) == ["HumanEval/0", "HumanEval/1"]
    page.page.click('#task-table tr[data-id="HumanEval/0"]')
    page.page.locator("#task-detail pre.code").wait_for()
    page.tab("evolution")
    page.page.locator(".chain").first.wait_for()
    attempts = (exp / "evolve/rounds/round_1.jsonl").read_text().splitlines()
    assert page.page.locator(".chain").count() == len(attempts) == 3  # one chain per seed, one round each
    page.check_closed()


def test_the_evolutions_of_the_real_run(killed_and_resumed: dict) -> None:
    exp = killed_and_resumed["exp"]
    attempts = [json.loads(line) for line in (exp / "evolve/rounds/round_1.jsonl").read_text().splitlines()]
    for eliminated in (False, True):
        chosen = [a for a in attempts if a["kept"] != eliminated]
        flag = "--eliminated" if eliminated else "--kept"
        result = CliRunner().invoke(app, ["evolutions", str(exp), "--limit", "2", flag])
        assert result.exit_code == 0, result.output
        assert f"{len(attempts)} evolution attempts, {sum(a['kept'] for a in attempts)} kept" in result.stdout
        assert result.stdout.count("── ") == min(2, len(chosen))
        for attempt in chosen[:1]:
            assert f"── {attempt['seed_id']}, round 1, {attempt['heuristic']}" in result.stdout
    missing = CliRunner().invoke(app, ["evolutions", str(exp / "rounds")])
    assert missing.exit_code == 2 and "no evolve records here" in missing.stderr


def test_a_changed_setting_is_refused_and_changes_nothing(killed_and_resumed: dict) -> None:
    exp = killed_and_resumed["exp"]
    files = sorted(p for p in exp.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    for flags, refusal in (
        ({"test_max_new_tokens": 6}, r"--test-max-new-tokens 8 → 6: cannot resume with a changed setting"),
        ({"train": ["max_steps=2"]}, r"--train-option .*'max_steps': 1.* → .*'max_steps': 2.*--rerun-changed"),
    ):
        config = load_run_config(
            None, killed_and_resumed["config_file"], {"output_dir": exp, "progress": False} | flags
        )
        with pytest.raises(UserError, match=refusal):
            run_experiment(config)
    assert sorted(p for p in exp.rglob("*") if p.is_file()) == files
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_a_changed_test_setting_reruns_only_the_test_stages(killed_and_resumed: dict) -> None:
    exp = killed_and_resumed["exp"]
    names = sorted(p.stem.replace("__", "/") for p in (exp / "stages").glob("*.json"))
    before = {name: read_record(exp, name) for name in names}
    flags = {"output_dir": exp, "progress": False, "test_max_new_tokens": 6, "rerun_changed": True}
    config = load_run_config(None, killed_and_resumed["config_file"], flags)
    run_experiment(config)
    rerun = {name for name in names if read_record(exp, name)["started"] != before[name]["started"]}
    assert rerun == {name for name in names if name.startswith("test-")}
    samples = (exp / "test/base/humaneval+/samples.jsonl").read_text().splitlines()
    assert len(samples) == 2 and all(json.loads(line)["completion_tokens"] <= 6 for line in samples)

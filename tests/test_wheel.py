"""The wheel, installed into a fresh venv outside the checkout, works from another folder: help, the
shipped presets (a dry run of cpu-mini), a one-step train with the cpu-demo preset, and an eval whose
report.html is built from the packaged page files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_READS = ("pyproject.toml", "README.md")  # beside src/: all the build reads; a checkout grows much else
NOT_SOURCE = shutil.ignore_patterns("*.egg-info", "__pycache__")


def _copy_source(destination: Path) -> None:
    """Only what the build reads: a checkout also holds venvs and caches (CI's DS-1000 env is gigabytes)."""
    shutil.copytree(ROOT / "src", destination / "src", ignore=NOT_SOURCE)
    for name in BUILD_READS:
        shutil.copy2(ROOT / name, destination / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the built evolcoder wheel; its dependencies come from this interpreter's
    site-packages through a path file (not its .pth files, so the editable checkout is not on the path)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    _copy_source(source)
    dist = base / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)]
    subprocess.run([*build, str(source)], check=True, capture_output=True, timeout=600)
    wheel = next(dist.glob("evolcoder-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _run(venv: Path, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"HF_HUB_OFFLINE": "1", "PYTHONPATH": ""} | env
    return subprocess.run(
        [str(venv / "bin" / "evolcoder"), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )


def test_the_wheel_ships_the_presets(installed: Path) -> None:
    wheel = next(installed.parent.joinpath("dist").glob("evolcoder-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for preset in ("run/cpu-mini", "run/paper", "train/cpu-demo", "train/paper", "accelerate/fsdp"):
        assert f"evolcoder/presets/{preset}.yaml" in names
    where = subprocess.run(
        [installed / "bin" / "python", "-c", "import evolcoder; print(evolcoder.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed.parent,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed) and not Path(where).is_relative_to(ROOT)


def test_help_presets_and_a_dry_run_from_another_folder(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run(installed, ["--help"], elsewhere)
    assert result.returncode == 0 and "evolve" in result.stdout and "presets" in result.stdout
    listed = _run(installed, ["presets"], elsewhere, COLUMNS="250")
    assert listed.returncode == 0
    for name in ("cpu-mini", "cpu-demo", "deepspeed_zero3_offload"):
        assert name in listed.stdout
    data = os.environ.get("EVOLCODER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    dry = _run(installed, ["run", "--preset", "cpu-mini", "--dry-run"], elsewhere, EVOLCODER_DATA_DIR=data)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    assert "ERROR" not in dry.stdout and "train/round_1" in dry.stdout
    paper = _run(installed, ["run", "--preset", "paper", "--dry-run"], elsewhere, EVOLCODER_DATA_DIR=data)
    assert "deepspeed_zero3_offload.yaml" not in paper.stderr  # the shipped accelerate preset was found
    assert "--accelerate-config" not in paper.stdout + paper.stderr


def test_one_step_train_with_the_cpu_demo_preset(installed: Path, default_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "smol"
    args = ["train", "--preset", "cpu-demo", "--data", "code_alpaca_2k", "--limit", "2", "--model", "default"]
    args += ["--output-dir", str(out), "--max-steps", "1", "--batch-size", "2", "--micro-batch-size", "2"]
    args += ["--max-length", "96", "--no-progress"]
    data = os.environ.get("EVOLCODER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    cache = str(default_model_dir.parents[1])
    result = _run(installed, args, tmp_path, EVOLCODER_CACHE_DIR=cache, EVOLCODER_DATA_DIR=data)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained 1 steps" in result.stdout
    record = json.loads((out / "evolcoder-train.json").read_text())
    assert record["config"]["preset"] == "cpu-demo" and record["config"]["lora"] is True
    assert record["config"]["learning_rate"] == 2e-4  # the preset's value, read from the shipped file


def test_eval_and_report_html_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    """The report's page template, style and script are package data: report.html is built from the wheel."""
    data = os.environ.get("EVOLCODER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env = {"EVOLCODER_DATA_DIR": data, "EVOLCODER_CACHE_DIR": str(tmp_path / "cache")}
    samples = tmp_path / "refs.jsonl"
    steps = [
        ["reference-samples", "--benchmark", "humaneval+", "--limit", "2", "--output", str(samples)],
        ["eval", "--benchmark", "humaneval+", "--samples", str(samples), "--output-dir", "refs_eval", "--no-progress"],
        ["report", "refs_eval", "--output-dir", "report"],
    ]
    for args in steps:
        result = _run(installed, args, tmp_path, **env)
        assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert result.stdout.splitlines()[-1] == f"html: {Path('report') / 'report.html'}"
    assert "<script" in page and "refs_eval" in page and len(page) > 10_000

"""``evolcoder run --verify tests`` end to end against an OpenAI-compatible server: the scripted teacher
(a test double over real HTTP, tests/evol/scripted_teacher.py), a tiny student trained one step, the real
sandbox and the real eval. Only answers that pass their own tests reach the round's training data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from evolcoder.errors import UserError
from evolcoder.records import PASSED
from evolcoder.run.config import load_run_config
from evolcoder.run.pipeline import run_experiment

from ..evol.scripted_teacher import scripted_teacher
from .test_run import tiny_config


def test_a_verified_run_trains_only_on_answers_that_pass_their_tests(
    tiny_model_dir: Path, cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = ["PASSES", "SECOND", "NEVER", "WEAK"]
    seeds = tmp_path / "seeds.json"
    seed = "{}: write a small function, task {}."
    rows = [{"instruction": seed.format(w, i), "output": "def f():\n    return 1"} for i, w in enumerate(words)]
    seeds.write_text(json.dumps(rows))
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(cache_root))
    monkeypatch.setenv("NO_SUCH_KEY", "unused")
    with scripted_teacher() as teacher:
        options = tiny_config(tiny_model_dir) | {
            "name": "verified",
            "teacher_backend": "openai",
            "teacher": "scripted",
            "teacher_base_url": teacher.url,
            "teacher_api_key_env": "NO_SUCH_KEY",
            "teacher_concurrency": 2,
            "seed_data": str(seeds),
            "seed_limit": len(words),
            "verify": "tests",
            "evolve": {"verify_attempts": 2, "decontaminate": [], "dedup_threshold": 0},
        }
        config_file = tmp_path / "verified.yaml"
        config_file.write_text(yaml.safe_dump(options))
        flags = {"output_dir": tmp_path / "exp", "progress": False}
        summary = run_experiment(load_run_config(None, config_file, flags))
        with pytest.raises(UserError, match=r"--verify .*tests.* → .*none"):
            run_experiment(load_run_config(None, config_file, flags | {"verify": "none"}))
    exp = tmp_path / "exp"
    rows = [json.loads(line) for line in (exp / "evolve" / "rounds" / "round_1.jsonl").read_text().splitlines()]
    kept = {row["id"] for row in rows if row["kept"]}
    assert len(rows) == 4 and len(kept) == 2  # PASSES at once, SECOND on its second try
    assert all(row["verify"][-1]["outcome"] == PASSED for row in rows if row["kept"])
    pairs = [json.loads(line) for line in (exp / "rounds" / "round_1" / "data.jsonl").read_text().splitlines()]
    evolved = [p for p in pairs if p["source"] == "round_1"]
    assert {p["id"] for p in evolved} == kept and all("assert" in p["tests"] for p in evolved)
    assert json.loads((exp / "evolve" / "evolve_config.json").read_text())["verify"] == "tests"
    assert summary is not None and os.path.exists(exp / "summary.json")

"""``evolcoder evolve`` end to end: the real embedded teacher, a real local OpenAI-compatible server,
kills and resumes, budgets, decontamination of planted benchmark text, bad seed files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.evol.config import EvolveConfig
from evolcoder.evol.dataset import clean, pairs_of
from evolcoder.evol.pipeline import evolve, read_round
from evolcoder.evol.seeds import load_seeds
from evolcoder.evol.templates import HEURISTICS, choose_heuristic, clean_evolved, evolution_prompt

SMALL = ["--evolve-max-tokens", "64", "--answer-max-tokens", "96", "--no-progress"]


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolcoder.cli", "evolve", *args], capture_output=True, text=True, timeout=timeout
    )


def records(folder: Path, round_number: int) -> list[dict]:
    path = folder / "rounds" / f"round_{round_number}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_rounds_offline_with_the_embedded_teacher(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = cli("--seed-data", "code_alpaca_2k", "--limit", "6", "--rounds", "2", "--output-dir", str(out), *SMALL)
    assert done.returncode == 0, done.stderr
    first, second = records(out, 1), records(out, 2)
    assert [r["seed_id"] for r in first] == [f"code_alpaca_2k/{i}" for i in range(6)]
    assert sorted(r["seed_id"] for r in second) == sorted(r["seed_id"] for r in first)
    by_seed = {r["seed_id"]: r for r in first}
    for row in second:  # round 2 evolves the kept rewrite, or retries the item that failed
        before = by_seed[row["seed_id"]]
        assert row["original"] == (before["instruction"] if before["kept"] else before["original"])
    for row in first + second:
        assert row["heuristic"] in HEURISTICS
        assert row["kept"] == (row["reason"] is None)
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
        if row["kept"]:
            assert row["instruction"] and row["answer"]
    for round_number in (1, 2):
        folder = out / f"round_{round_number}"
        data = [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]
        kept = sum(r["kept"] for rr in (first, second)[:round_number] for r in rr)
        removed = len((folder / "removed.jsonl").read_text().splitlines())
        assert len(data) + removed == 6 + kept  # seed + rounds 1..r, minus what cleaning removed
        assert json.loads((folder / "alpaca.json").read_text())[0].keys() == {"instruction", "input", "output"}
        card = (folder / "README.md").read_text()
        assert "## Heuristics" in card and "## Eliminated evolutions" in card and "Lengths" in card
    import datasets

    assert len(datasets.load_from_disk(str(out / "round_2" / "hf"))) == len(
        (out / "round_2" / "data.jsonl").read_text().splitlines()
    )


def test_kill_and_resume_gives_the_uninterrupted_records(tmp_path: Path) -> None:
    flags = ["--seed-data", "code_alpaca_2k", "--limit", "8", "--concurrency", "1", *SMALL]
    whole = tmp_path / "whole"
    assert cli(*flags, "--output-dir", str(whole)).returncode == 0
    resumed = tmp_path / "resumed"
    cmd = [sys.executable, "-m", "evolcoder.cli", "evolve", *flags, "--output-dir", str(resumed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = resumed / "rounds" / "round_1.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not path.exists() or path.read_bytes().count(b"\n") < 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 1 <= path.read_bytes().count(b"\n") < 8
    with open(path, "ab") as f:
        f.write(b'{"id": "cut by the ki')  # a half-written line, as a kill mid-write leaves it
    assert cli(*flags, "--output-dir", str(resumed)).returncode == 0
    got = records(resumed, 1)
    assert len(got) == 8 and len({r["id"] for r in got}) == 8
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(got, key=key) == sorted(records(whole, 1), key=key)


def test_token_budget_stops_cleanly_and_a_larger_one_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "run"
    flags = ["--seed-data", "code_alpaca_2k", "--limit", "6", "--concurrency", "1", "--output-dir", str(out), *SMALL]
    first = cli(*flags, "--max-tokens", "300")
    assert first.returncode == 0 and "stopped early: --max-tokens 300 reached" in first.stdout
    partial = records(out, 1)
    assert 0 < len(partial) < 6
    card = (out / "round_1" / "README.md").read_text()
    assert "incomplete (--max-tokens 300 reached)" in card
    assert cli(*flags).returncode == 0
    assert len(records(out, 1)) == 6
    assert "(complete)" in (out / "round_1" / "README.md").read_text()


def test_an_openai_compatible_teacher_with_concurrent_requests(server_url: str, tmp_path: Path) -> None:
    config = EvolveConfig(
        output_dir=tmp_path / "run",
        limit=4,
        teacher_backend="openai",
        teacher="smollm2",
        base_url=server_url,
        concurrency=3,
        evolve_max_tokens=48,
        answer_max_tokens=64,
        judge_equal=True,
        progress=False,
    )
    result = evolve(config)
    rows = list(read_round(config, 1).values())
    assert result.rounds_done == 1 and len(rows) == 4
    for row in rows:
        if row["reason"] is None or row["reason"] == "no_information_gain":
            assert "judge" in row  # the equality judge was asked about every pair that survived the rules
    assert (tmp_path / "run" / "round_1" / "data.jsonl").exists()


def test_decontamination_removes_planted_benchmark_text(tmp_path: Path) -> None:
    humaneval = get_benchmark("humaneval").load(None)[7]
    mbpp = next(t for t in get_benchmark("mbpp").load(None) if len(t.reference) > 200)
    seeds_file = tmp_path / "seeds.jsonl"
    seeds = [
        {"instruction": "Solve this for me please:\n" + humaneval.prompt.upper(), "input": "", "output": "ok"},
        {"instruction": "Write a function that reverses a list.", "input": "", "output": "  " + mbpp.reference},
        {"instruction": "Write a function that returns the larger of two numbers.", "input": "", "output": "max"},
        {"instruction": "Write a function that returns the larger of two numbers!", "input": "", "output": "max()"},
    ]
    seeds_file.write_text("".join(json.dumps(s) + "\n" for s in seeds))
    config = EvolveConfig(output_dir=tmp_path / "out", seed_data=str(seeds_file), progress=False)
    kept, removed = clean(pairs_of(load_seeds(str(seeds_file)), []), config)
    reasons = Counter(r["removed"] for r in removed)
    assert reasons["contamination:humaneval:substring"] == 1
    assert sum(n for r, n in reasons.items() if r.startswith("contamination:mbpp")) == 1
    assert reasons["near_duplicate"] == 1
    assert [p["instruction"] for p in kept] == [seeds[2]["instruction"]]


def test_malformed_seed_file_is_a_one_line_error(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"instruction": "a", "output": "b"}\n{"instruction": 3, "output": "b"}\n')
    done = cli("--seed-data", str(seeds), "--output-dir", str(tmp_path / "o"), "--no-progress")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "seeds.jsonl:2" in line and "instruction" in line


def test_a_resumed_folder_keeps_its_settings(tmp_path: Path) -> None:
    evolve_dir = tmp_path / "o"
    EvolveConfig(output_dir=evolve_dir, seed=1)  # validation only
    from evolcoder.evol.pipeline import check_resume

    check_resume(EvolveConfig(output_dir=evolve_dir, seed=1))
    with pytest.raises(ValueError, match="--seed 1"):
        check_resume(EvolveConfig(output_dir=evolve_dir, seed=2))


def test_heuristics_are_seeded_weighted_and_checked() -> None:
    weights = {
        "constraints": 1.0,
        "rarer_requirement": 0.0,
        "reasoning_steps": 0.0,
        "misdirection": 0.0,
        "complexity": 0.0,
    }
    assert {choose_heuristic(weights, 0, f"s/{i}@r1") for i in range(50)} == {"constraints"}
    default = EvolveConfig(output_dir=Path("unused")).heuristic_weights
    draws = Counter(choose_heuristic(default, 0, f"s/{i}@r1") for i in range(4000))
    assert draws["complexity"] < draws["constraints"] / 2  # "rarely"
    assert [choose_heuristic(default, 5, f"s/{i}@r1") for i in range(30)] == [
        choose_heuristic(default, 5, f"s/{i}@r1") for i in range(30)
    ]
    with pytest.raises(ValueError, match="--heuristic-weights"):
        EvolveConfig(output_dir=Path("unused"), heuristic_weights="constraints=1,telepathy=2")
    prompt = evolution_prompt("Write a function that adds two numbers.", "misdirection")
    assert "Write a function that adds two numbers." in prompt and HEURISTICS["misdirection"] in prompt
    assert clean_evolved("New exercise:\nWrite a function.") == "Write a function."


def test_cost_budget_needs_prices() -> None:
    with pytest.raises(ValueError, match="--price-input"):
        EvolveConfig(output_dir=Path("unused"), teacher_backend="openai", teacher="my-model", max_cost=1.0)
    config = EvolveConfig(output_dir=Path("unused"), teacher_backend="openai", teacher="gpt-4o-mini", max_cost=1.0)
    assert config.price() == (0.15, 0.60)

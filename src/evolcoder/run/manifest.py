"""``EXP/manifest.json``: what an experiment was made from, written when a run starts.

The resolved config, package versions, the sha256 of every data file the run reads (the seeds'
content, the benchmark files), the seeds of every random choice and the project's git commit.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from evolcoder.run.config import RunConfig
from evolcoder.run.stages import hash_file, hash_json, write_json

PACKAGES = (
    "evolcoder",
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "llama_cpp_python",
    "vllm",
    "deepspeed",
)
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def seeds_fingerprint(config: RunConfig) -> str:
    """sha256 of the seed pairs as loaded (whatever the source: file, data key or hf: dataset)."""
    from evolcoder.evol.seeds import load_seeds

    columns = config.evolve.get("seed_columns") or None
    seeds = load_seeds(config.seed_data, columns, config.seed_limit)
    return hash_json([[s.id, s.instruction, s.input, s.output] for s in seeds])


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The checkout's commit (None for an installed wheel); ``+dirty`` when files differ from it."""
    if not (SOURCE_ROOT / "pyproject.toml").is_file():  # site-packages: any repository above is not ours
        return None
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=SOURCE_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=SOURCE_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if status.strip() else "")


def benchmark_data(config: RunConfig, benchmarks: list[str]) -> dict[str, str | None]:
    """sha256 of each benchmark file the dev set and the test benchmarks read."""
    from evolcoder.bench import get_benchmark
    from evolcoder.data import DATA_FILES, resolve_data_file

    hashes: dict[str, str | None] = {}
    for bench in [config.dev_benchmark, *benchmarks]:
        for key in get_benchmark(bench).DATA_KEYS:
            if key not in hashes:
                hashes[key] = DATA_FILES[key].sha256 or hash_file(resolve_data_file(key, config.data_dir))
    return hashes


def write_manifest(config: RunConfig, exp: Path, notes: list[str], benchmarks: list[str], seeds_hash: str) -> None:
    evolve = config.evolve_config(exp / "evolve", config.rounds)
    train = config.train_config(exp / "rounds", exp / "rounds")
    manifest: dict[str, Any] = {
        "schema": 1,
        "name": config.name,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": sys.argv,
        "git_commit": git_commit(),
        "config": config.to_dict(),
        "resolved": {"evolve": _plain(vars(evolve)), "train": train.to_dict()},
        "versions": package_versions(),
        "data": {"seeds": {"source": config.seed_data, "sha256": seeds_hash}, **benchmark_data(config, benchmarks)},
        "seeds": {"evolve": evolve.seed, "train": train.seed, "generation": config.gen_seed},
        "notes": notes,
    }
    write_json(exp / "manifest.json", manifest)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}

"""Extraction quality: ``evolcoder extract`` against ``evalplus.sanitize`` (0.3.1) on raw chat answers.

For every raw set the project has (``real-samples/*.raw.jsonl``: real chat answers with prose,
example blocks and the final code), in one run:

1. ours: ``evolcoder extract`` turns the answers into programs;
2. peer: ``evalplus.sanitize.sanitize(answer, entry_point)`` turns the same answers into programs;
3. both program files are judged by ``evolcoder eval`` (HumanEval+ / MBPP+, base and plus tests);
4. pass@1 on base and on base + plus is compared, with the tasks where the two differ ("flips").

Usage (from the repository root)::

    .venv/bin/python benchmarks/extract_quality.py              # every raw set
    .venv/bin/python benchmarks/extract_quality.py --limit 20   # the first 20 answers of each
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_OF_PREFIX = {"HumanEval": "humaneval+", "Mbpp": "mbpp+"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $EVOLCODER_DATA_DIR or ../shared/data")
    parser.add_argument("--sets", nargs="*", type=Path, help="raw JSONL files (default: real-samples/*.raw.jsonl)")
    parser.add_argument("--limit", type=int, default=None, help="only the first K answers of each set")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the program files and verdicts here")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    return parser.parse_args(argv)


def data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return args.data_dir
    if os.environ.get("EVOLCODER_DATA_DIR"):
        return Path(os.environ["EVOLCODER_DATA_DIR"])
    return REPO_ROOT.parent / "shared" / "data"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def evolcoder(*args: str) -> None:
    cmd = [sys.executable, "-m", "evolcoder.cli", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")


def entry_points(benchmark: str, data: Path) -> dict[str, str]:
    from evolcoder.bench import get_benchmark

    return {task.task_id: task.entry_point for task in get_benchmark(benchmark).load(data)}


def evalplus_programs(rows: list[dict], entry_point_of: dict[str, str]) -> list[dict]:
    from evalplus.sanitize import sanitize

    return [{"task_id": r["task_id"], "solution": sanitize(r["solution"], entry_point_of[r["task_id"]])} for r in rows]


def verdicts(benchmark: str, programs: Path, out_dir: Path, data: Path, workers: int | None) -> dict[str, tuple]:
    """task_id -> (base passed, base and plus passed), for one sample per task."""
    args = ["eval", "--benchmark", benchmark, "--samples", str(programs), "--output-dir", str(out_dir)]
    args += ["--data-dir", str(data), "--no-progress"] + (["--workers", str(workers)] if workers else [])
    evolcoder(*args)
    results = json.loads((out_dir / "eval_results.json").read_text())
    judged = {}
    for task_id, (row, *_) in results["eval"].items():
        base = row["base_status"] == "pass"
        judged[task_id] = (base, base and row["plus_status"] == "pass")
    return judged


def compare_set(raw_path: Path, work: Path, data: Path, args: argparse.Namespace) -> dict:
    rows = read_jsonl(raw_path)[: args.limit]
    benchmark = BENCHMARK_OF_PREFIX[rows[0]["task_id"].split("/")[0]]
    name = raw_path.name.removesuffix(".raw.jsonl")
    raw_file, ours_file, peer_file = (
        work / f"{name}.raw.jsonl",
        work / f"{name}.ours.jsonl",
        work / f"{name}.evalplus.jsonl",
    )
    write_jsonl(raw_file, rows)
    evolcoder(
        "extract",
        "--benchmark",
        benchmark,
        "--samples",
        str(raw_file),
        "--output",
        str(ours_file),
        "--data-dir",
        str(data),
    )
    write_jsonl(peer_file, evalplus_programs(rows, entry_points(benchmark, data)))
    ours = verdicts(benchmark, ours_file, work / f"{name}.ours-eval", data, args.workers)
    peer = verdicts(benchmark, peer_file, work / f"{name}.evalplus-eval", data, args.workers)
    n = len(ours)
    result = {"set": name, "benchmark": benchmark, "answers": n}
    for index, label in ((0, "base"), (1, "plus")):
        result[f"ours_{label}"] = 100 * sum(v[index] for v in ours.values()) / n
        result[f"evalplus_{label}"] = 100 * sum(v[index] for v in peer.values()) / n
        result[f"gained_{label}"] = sorted(t for t in ours if ours[t][index] and not peer[t][index])
        result[f"lost_{label}"] = sorted(t for t in ours if peer[t][index] and not ours[t][index])
    return result


def print_table(results: list[dict]) -> None:
    header = (
        f"{'raw set':<36} {'bench':<10} {'n':>4} | {'ours base':>9} {'evalplus':>8} {'ratio':>5} | "
        f"{'ours b+p':>8} {'evalplus':>8} {'ratio':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cells = [f"{r['set']:<36} {r['benchmark']:<10} {r['answers']:>4}"]
        for label in ("base", "plus"):
            ours, peer = r[f"ours_{label}"], r[f"evalplus_{label}"]
            ratio = f"{ours / peer:.3f}" if peer else "-"
            cells.append(
                f"{ours:>8.1f}% {peer:>7.1f}% {ratio:>5}"
                if label == "base"
                else f"{ours:>7.1f}% {peer:>7.1f}% {ratio:>5}"
            )
        print(" | ".join(cells))
    print("\nper-task flips (ours vs evalplus.sanitize, both judged by evolcoder eval):")
    for r in results:
        for label, title in (("base", "base"), ("plus", "base + plus")):
            gained, lost = r[f"gained_{label}"], r[f"lost_{label}"]
            print(f"  {r['set']} {title}: +{len(gained)} {gained} / -{len(lost)} {lost}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = data_dir(args)
    sets = args.sets or sorted((data / "real-samples").glob("*.raw.jsonl"))
    if not sets:
        raise SystemExit(f"no raw sets under {data / 'real-samples'}")
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        results = [compare_set(path, work, data, args) for path in sets]
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    behind = [r["set"] for r in results if r["ours_base"] < r["evalplus_base"] or r["ours_plus"] < r["evalplus_plus"]]
    if behind:
        print(f"\nbehind evalplus.sanitize on: {', '.join(behind)}")
    return 1 if behind else 0


if __name__ == "__main__":
    raise SystemExit(main())

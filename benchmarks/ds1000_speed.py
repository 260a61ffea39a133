"""DS-1000 evaluation speed: ``evolcoder eval`` (warm fork servers) against one fresh process per problem.

Both judge the reference solutions of the same problems, with the same number of parallel
workers, in the same run of this script:

* ``fresh process``  the official way: each problem's test program (code context, then
                     ``test_execution`` and ``test_string``) in a new interpreter of the pinned
                     DS-1000 environment, which imports its libraries anew every time
                     (``evolcoder.execution.ds1000_env.run_program``; no sandbox);
* ``evolcoder eval`` ``evolcoder eval --benchmark ds1000``: sandboxed fork servers that imported the
                     libraries once; each problem runs in a freshly forked, isolated process.

The problems are a stratified sample (the same share of every library, spread over its ids) or
all 1000 (``--all``). Reported: wall time, problems per second, the ratio, and whether the two
give the same verdicts (problem 819 needs the network and fails in both).

Usage (from the repository root)::

    .venv/bin/python benchmarks/ds1000_speed.py               # 140 problems, 2 workers
    .venv/bin/python benchmarks/ds1000_speed.py --all         # every problem
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evolcoder.bench import ds1000
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.execution.ds1000_env import ensure_env, run_program


def stratified(tasks: list[ds1000.DS1000Task], per_library: int) -> list[ds1000.DS1000Task]:
    chosen = []
    for library in ds1000.LIBRARIES:
        of_library = [t for t in tasks if t.library == library]
        step = max(1, len(of_library) // per_library)
        chosen += of_library[::step][:per_library]
    return chosen


def fresh_processes(tasks: list[ds1000.DS1000Task], workers: int, data_dir: Path | None) -> tuple[float, dict]:
    python = ensure_env(progress=True)
    seaborn = ds1000.seaborn_data_dir(data_dir)
    started = time.monotonic()

    def one(task: ds1000.DS1000Task) -> tuple[str, bool]:
        return task.task_id, run_program(ds1000.program(task, task.reference), python, seaborn_data=seaborn).passed

    with ThreadPoolExecutor(workers) as pool:
        verdicts = dict(pool.map(one, tasks))
    return time.monotonic() - started, verdicts


def evolcoder_eval(tasks: list[ds1000.DS1000Task], workers: int, work: Path) -> tuple[float, dict]:
    samples = work / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t.task_id, "solution": t.reference}) + "\n" for t in tasks))
    out = work / "eval"
    command = [sys.executable, "-m", "evolcoder.cli", "eval", "--benchmark", "ds1000", "--samples", str(samples)]
    command += ["--output-dir", str(out), "--workers", str(workers), "--no-progress"]
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    rows = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    return seconds, {r["task_id"]: r["base_status"] == "pass" for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-library", type=int, default=20, help="problems per library (stratified)")
    parser.add_argument("--all", action="store_true", help="every problem")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    data_dir = data_dir_from_env()
    tasks = ds1000.load(data_dir)
    if not args.all:
        tasks = stratified(tasks, args.per_library)
    ensure_env(progress=True)  # built before anything is timed
    with tempfile.TemporaryDirectory(prefix="ds1000-speed-") as tmp:
        ours_s, ours = evolcoder_eval(tasks, args.workers, Path(tmp))
        fresh_s, fresh = fresh_processes(tasks, args.workers, data_dir)

    table = Table(title=f"DS-1000 reference solutions: {len(tasks)} problems, {args.workers} workers")
    for column in ("run", "wall s", "problems/s", "passed", "speed-up vs fresh process"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, seconds, verdicts in (("fresh process per problem", fresh_s, fresh), ("evolcoder eval", ours_s, ours)):
        table.add_row(
            name,
            f"{seconds:.1f}",
            f"{len(tasks) / seconds:.2f}",
            f"{sum(verdicts.values())}/{len(tasks)}",
            f"{fresh_s / seconds:.2f}x",
        )
    console = Console()
    console.print(table)
    differ = sorted(tid for tid in fresh if fresh[tid] != ours.get(tid))
    console.print(f"same verdicts: {'yes' if not differ else 'NO: ' + ', '.join(differ)}")
    console.print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; target >= 4x")


if __name__ == "__main__":
    main()

"""Where ``evolcoder eval`` spends beyond the floor, task by task, and the least its design can spend.

For each sample of a real-sample set, one at a time (one fork server, so nothing shares the CPU):

* evolcoder: ``judge_io_sets`` as the eval runner calls it. The sandbox's CPU is the run's status
  (``wait4`` of the sandbox's pid 1, which has reaped its first set's process), the harness's is
  this process's own (payloads, reading and comparing the outputs).
* the floor: ``eval_floor.judge_sample`` in this process (the same calls, no isolation).

Then the fixed cost of a program: one that returns its argument, judged on a task of one input per
set, ``--runs`` times, in a cgroup of its own, so that every process of the tree counts (the fork
server's forks too; startup taken off as in ``sandbox_cost.py``). Its floor is a few microseconds.
``floor + programs x fixed cost`` is the least that this design (a fresh, isolated process per input
set, as EvalPlus runs base and plus apart) can spend on the set, however cheap the rest is made.

    .venv/bin/python benchmarks/eval_overhead.py ldb_mbpp
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from collections import defaultdict
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_floor  # noqa: E402
import sandbox_cost  # noqa: E402

LIGHT_SECONDS = 0.02  # a sample the floor judges faster than this is "light"


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def evolcoder_costs(benchmark: str, samples: list[dict], data_dir: Path | None) -> list[tuple[float, float]]:
    """(sandbox CPU s, harness CPU s) of each sample, judged as ``evolcoder eval`` judges it."""
    from evolcoder.bench import get_benchmark
    from evolcoder.data import DATA_FILES
    from evolcoder.eval import groundtruth
    from evolcoder.eval.judge import InputPayloads, TimeLimits, judge_io_sets
    from evolcoder.execution import worker as worker_module
    from evolcoder.execution.isolation import Limits, Policy

    module = get_benchmark(benchmark)
    tasks = {t.task_id: t for t in module.load(data_dir)}
    used = [tasks[task_id] for task_id in dict.fromkeys(s["task_id"] for s in samples)]
    sha = DATA_FILES[module.DATA_KEYS[0]].sha256
    with worker_module.WorkerPool(1, Policy()) as pool:
        expected = groundtruth.load_or_compute(benchmark, module.DATASET, used, sha, pool)
    payloads, limits, times = InputPayloads(), Limits(), TimeLimits()
    costs = []
    with closing(worker_module.Worker(policy=Policy())) as worker:
        runs = _recorded_runs(worker)
        for sample in samples:
            task = tasks[sample["task_id"]]
            started = _own_cpu()
            judge_io_sets(
                worker, task, module.DATASET, sample["solution"], expected[task.task_id], payloads, limits, times, True
            )
            harness = _own_cpu() - started
            costs.append((sum(outcome.cpu_seconds for outcome in runs[-1]), harness))
    return costs


def _recorded_runs(worker: object) -> list:
    """The outcomes of each ``run_two_sets`` of ``worker`` from now on, appended as they come."""
    recorded: list = []
    run_two_sets = worker.run_two_sets

    def recording(*args: object) -> object:
        outcomes = run_two_sets(*args)
        recorded.append(outcomes)
        return outcomes

    worker.run_two_sets = recording
    return recorded


def fixed_cost_child(runs: int) -> None:
    """In the cgroup: judge a program that returns its argument on one input per set, ``runs`` times."""
    from evolcoder.bench.base import Task
    from evolcoder.eval import groundtruth
    from evolcoder.eval.judge import InputPayloads, TimeLimits, judge_io_sets
    from evolcoder.execution.isolation import Limits, Policy
    from evolcoder.execution.worker import Worker, WorkerPool

    code = "def echo(x):\n    return x\n"
    task = Task("fixed/0", "", "echo", code, "io", base_inputs=[[1]], plus_inputs=[[2]])
    with WorkerPool(1, Policy()) as pool:
        expected = groundtruth.load_or_compute("fixed-cost", "humaneval", [task], "fixed-cost", pool)[task.task_id]
    payloads, limits, times = InputPayloads(), Limits(), TimeLimits()
    with closing(Worker(policy=Policy())) as worker:
        for _ in range(runs):
            base, plus = judge_io_sets(worker, task, "humaneval", code, expected, payloads, limits, times, True)
            if (base.status, plus.status) != ("pass", "pass"):
                raise SystemExit("the fixed-cost program failed")


def fixed_cost_ms(runs: int) -> float:
    """CPU ms of the whole process tree per trivial program: (N runs - 1 run) / (N - 1)."""

    def tree_cpu(n: int) -> float:
        with tempfile.TemporaryDirectory() as cache:  # the trivial task's expected outputs
            env = {**os.environ, "EVOLCODER_CACHE_DIR": cache}
            cmd = [sys.executable, __file__, "--fixed-cost-child", str(n)]
            _, user, system = sandbox_cost.run_in_group(cmd, env)
        if user is None or system is None:
            raise SystemExit("eval_overhead: needs root and a cgroup hierarchy to count a process tree's CPU")
        return user + system

    return (tree_cpu(runs) - tree_cpu(1)) * 1000 / (runs - 1)


def per_run_ms(variant: str, runs: int) -> float:
    """CPU ms of the process tree per run of one of ``sandbox_cost``'s variants."""
    many, one = sandbox_cost.measure(variant, runs), sandbox_cost.measure(variant, 1)
    return (many.cpu_ms - one.cpu_ms) / (runs - 1)


def least_costs(runs: int) -> list[tuple[str, float]]:
    """What a program costs at the least, CPU ms of the whole process tree, three ways."""
    bare = per_run_ms("bare fork + exit (peer)", runs)
    isolated = per_run_ms(sandbox_cost.SETUP_ALONE, runs)
    return [
        ("two bare forks of the fork server (a process per set, no isolation)", 2 * bare),
        ("one isolated process and a bare fork of it (this design, nothing else)", isolated + bare),
        ("a trivial program, judged as evolcoder judges it (everything)", fixed_cost_ms(runs)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "set",
        nargs="?",
        default="ldb_mbpp",
        help="a real-sample set: ldb_humaneval or ldb_mbpp (NAME.jsonl in real-samples/)",
    )
    default_data = os.environ.get("EVOLCODER_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(default_data), help="(default: $EVOLCODER_DATA_DIR)")
    parser.add_argument("--runs", type=int, default=300, help="trivial programs for the fixed cost")
    parser.add_argument("--top", type=int, default=15, help="tasks shown")
    parser.add_argument("--fixed-cost-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fixed_cost_child:
        fixed_cost_child(args.fixed_cost_child)
        return
    samples = eval_floor.read_samples(args.data_dir / "real-samples" / f"{args.set}.jsonl")
    benchmark = "humaneval+" if args.set.endswith("_humaneval") else "mbpp+"
    ours = evolcoder_costs(benchmark, samples, args.data_dir)
    eval_floor.prepare(benchmark, samples, args.data_dir)
    floor = [eval_floor.judge_sample(sample)[3] for sample in samples]
    print_report(args.set, samples, ours, floor, least_costs(args.runs), args.top)


def print_report(name: str, samples: list[dict], ours: list, floor: list[float], least: list, top: int) -> None:
    by_task: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for sample, (sandbox, harness), floor_s in zip(samples, ours, floor, strict=True):
        row = by_task[sample["task_id"]]
        row[0] += 1
        row[1] += sandbox
        row[2] += harness
        row[3] += floor_s
    print(f"{name}: {len(samples)} programs, one at a time; CPU ms per task, its programs together")
    print(f"{'task':16} {'programs':>8} {'sandbox':>9} {'harness':>8} {'floor':>9} {'beyond floor':>12}")
    ranked = sorted(by_task.items(), key=lambda kv: kv[1][3] - kv[1][1] - kv[1][2])
    for task_id, (n, sandbox, harness, floor_s) in ranked[:top]:
        beyond = sandbox + harness - floor_s
        cells = f"{sandbox * 1e3:9.1f} {harness * 1e3:8.1f} {floor_s * 1e3:9.1f} {beyond * 1e3:12.1f}"
        print(f"{task_id:16} {n:8d} {cells}")
    sandbox_s, harness_s, floor_s = sum(s for s, _ in ours), sum(h for _, h in ours), sum(floor)
    ours_s = sandbox_s + harness_s
    light = [(s + h, f) for (s, h), f in zip(ours, floor, strict=True) if f < LIGHT_SECONDS]
    light_ours, light_floor = sum(a for a, _ in light), sum(b for _, b in light)
    light_each_ms = (light_ours - light_floor) / max(len(light), 1) * 1e3
    print()
    print(f"floor {floor_s:.2f} CPU-s; evolcoder {ours_s:.2f} (sandbox {sandbox_s:.2f}, harness {harness_s:.2f}):")
    print(f"  {ours_s / floor_s:.3f}x the floor (the fork server's own forks not counted here)")
    print(f"light programs (floor < {LIGHT_SECONDS * 1e3:.0f} ms): {len(light)}, floor {light_floor:.2f} CPU-s,")
    print(f"  evolcoder {light_ours:.2f}: {light_each_ms:.2f} ms beyond the floor each")
    print()
    print(f"{'least cost of a program':72} {'CPU-ms':>7} {'x programs':>10} {'floor + that':>12}")
    numbers = {"floor_cpu_s": floor_s, "sandbox_cpu_s": sandbox_s, "harness_cpu_s": harness_s}
    for what, ms in least:
        total_s = len(samples) * ms / 1000
        print(f"{what:72} {ms:7.2f} {total_s:9.2f}s {(floor_s + total_s) / floor_s:11.3f}x")
        numbers[what] = ms
    print(json.dumps({"set": name, **numbers}))


if __name__ == "__main__":
    main()

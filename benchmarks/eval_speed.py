"""Wall time and verdict agreement of ``evolcoder eval`` against ``evalplus.evaluate`` (0.3.1).

Both harnesses judge the SAME samples file in the same run of this script. For every task of a
benchmark the file holds the canonical solution and deliberately broken variants derived
generically from it (no per-task edits):

* ``canonical``  the reference solution (prompt + canonical solution);
* ``perturb4``   the reference, then a redefinition of the entry point that calls the original
                 and perturbs its result from the 4th (outermost) call of a process on, so a short
                 base input set may pass while the plus set fails;
* ``none``       the entry point redefined to return None;
* ``raise``      the entry point redefined to raise ValueError on every call;
* ``loop``       (every 10th task) the entry point redefined to loop forever on its first call.

Per benchmark: one untimed warm-up of each harness that computes and caches its expected
outputs in an isolated cache inside --work-dir (evalplus: its own ground-truth function, as
``evalplus.evaluate`` calls it; evolcoder: ``evolcoder eval`` of the canonical solutions), then
a timed ``evolcoder eval`` into a fresh output folder, then timed ``evalplus.evaluate`` run(s).
Both run as subprocesses of this interpreter. Verdicts are matched by (task_id, position among
the task's samples).

Two wall times are given for evalplus: until the process exits, and until it has written its
results file. evalplus 0.3.1 starts a non-daemon "stuck samples" watchdog thread that sleeps in
20 s steps, so the process may linger up to 20 s after its results are written.

Real model output (``--real-samples``, default the LDB sets of ../shared/data/real-samples): the same
programs judged by ``evolcoder eval``, by ``evalplus.evaluate`` and by the floor (eval_floor.py: the
samples' own time on the same inputs, in-process, no isolation, over the same number of workers),
ground truth cached for both harnesses; the table gives evolcoder / floor and evalplus / evolcoder.

Before and after (``--before REV``): HumanEval's ``check`` and MBPP's asserts on the same real
programs, judged by this checkout and by the source tree of git revision REV (default: the last
one that judged them in-process), run with the same interpreter; the table gives after / before.

Usage (from the repository root)::

    .venv/bin/python benchmarks/eval_speed.py                # everything
    .venv/bin/python benchmarks/eval_speed.py --limit 10 --real-samples none --before none  # a quick check
    .venv/bin/python benchmarks/eval_speed.py --variants none  # only real samples and before/after
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BEFORE_REVISION = "4c649ea"  # the last revision that ran HumanEval's check and MBPP's asserts in-process

# evolcoder benchmark name -> (evalplus --dataset, override variable)
EVALPLUS_DATASETS = {
    "humaneval+": ("humaneval", "HUMANEVAL_OVERRIDE_PATH"),
    "mbpp+": ("mbpp", "MBPP_OVERRIDE_PATH"),
}

# Disagreements that come from a known evalplus 0.3.1 behaviour, not from evolcoder.
KNOWN_DISAGREEMENTS = {
    "HumanEval/32": (
        "evalplus 0.3.1 judges HumanEval/32 (find_zero) as failing for every solution, the "
        "canonical one included: its special-oracle branch `continue`s before recording the "
        "input as passed, so the input set never counts as passed."
    ),
}

NOT_PASS = "not pass"  # "fail" and "timeout" (and anything else that is not "pass")


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------

PERTURB_TEMPLATE = """

# --- eval_speed: wrap the entry point, perturb its result from the 4th call on ---
_eval_speed_original = {entry}
_eval_speed_state = {{"calls": 0, "depth": 0}}


def _eval_speed_perturb(result):
    if isinstance(result, bool):
        return not result
    if isinstance(result, int):
        return result + 1
    if isinstance(result, float):
        return result * 1.01 + 0.1
    if isinstance(result, str):
        return result + "x"
    if isinstance(result, list):
        return list(reversed(result)) + [None]
    if isinstance(result, tuple):
        return tuple(reversed(result)) + (None,)
    if result is None:
        return 0
    return None


def {entry}(*args, **kwargs):
    if _eval_speed_state["depth"]:  # a recursive call of the original: leave it alone
        return _eval_speed_original(*args, **kwargs)
    _eval_speed_state["depth"] += 1
    try:
        result = _eval_speed_original(*args, **kwargs)
    finally:
        _eval_speed_state["depth"] -= 1
    _eval_speed_state["calls"] += 1
    if _eval_speed_state["calls"] <= 3:
        return result
    return _eval_speed_perturb(result)
"""

NONE_TEMPLATE = """

# --- eval_speed: broken on purpose, returns None ---
def {entry}(*args, **kwargs):
    return None
"""

RAISE_TEMPLATE = """

# --- eval_speed: broken on purpose, raises on every call ---
def {entry}(*args, **kwargs):
    raise ValueError("eval_speed: deliberately broken")
"""

LOOP_TEMPLATE = """

# --- eval_speed: broken on purpose, never returns ---
def {entry}(*args, **kwargs):
    while True:
        pass
"""


def sample_variants(task, index: int) -> list[tuple[str, str]]:
    """(kind, solution) pairs for one task, in the order they go into the samples file."""
    ref = task.reference.rstrip("\n") + "\n"
    entry = task.entry_point
    variants = [
        ("canonical", task.reference),
        ("perturb4", ref + PERTURB_TEMPLATE.format(entry=entry)),
        ("none", ref + NONE_TEMPLATE.format(entry=entry)),
        ("raise", ref + RAISE_TEMPLATE.format(entry=entry)),
    ]
    if index % 10 == 0:
        variants.append(("loop", ref + LOOP_TEMPLATE.format(entry=entry)))
    return variants


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def write_filtered_dataset(source: Path, target: Path, task_ids: set[str]) -> None:
    """A copy of an EvalPlus data file with only ``task_ids`` (gzip, reproducible bytes)."""
    kept = 0
    with gzip.open(source, "rt", encoding="utf-8") as src, open(target, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            for line in src:
                if line.strip() and json.loads(line)["task_id"] in task_ids:
                    dst.write(line.rstrip("\n").encode("utf-8") + b"\n")
                    kept += 1
    if kept != len(task_ids):
        sys.exit(f"eval_speed: {source} has {kept} of the {len(task_ids)} tasks asked for")


# --------------------------------------------------------------------------------------------
# Running the harnesses
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    wall_s: float  # until the process exited
    results_s: float | None  # until its results file was written
    results_path: Path
    log_path: Path
    parallel: int | None = None


def run_timed(label: str, cmd: list[str], env: dict, results_path: Path, log_path: Path) -> Run:
    start_wall = time.time()
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not results_path.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        sys.exit(
            f"eval_speed: {label} failed (exit {proc.returncode}); command: {' '.join(cmd)}\n"
            f"--- last lines of {log_path} ---\n{tail}"
        )
    results_s = results_path.stat().st_mtime - start_wall
    return Run(label, wall, results_s if 0 <= results_s <= wall + 1 else None, results_path, log_path)


def evalplus_results_path(samples: Path) -> Path:
    # exactly how evalplus 0.3.1 names it
    return Path(str(samples).replace(".jsonl", "_eval_results.json"))


def run_evalplus(label: str, dataset: str, samples: Path, parallel: int | None, env: dict, keep_as: Path) -> Run:
    results = evalplus_results_path(samples)
    results.unlink(missing_ok=True)  # else --i-just-wanna-run asks whether to overwrite it
    cmd = [sys.executable, "-m", "evalplus.evaluate", "--dataset", dataset]
    cmd += ["--samples", str(samples), "--i-just-wanna-run"]
    if parallel is not None:
        cmd += ["--parallel", str(parallel)]
    log = keep_as.with_suffix(".log")
    run = run_timed(label, cmd, env, results, log)
    results.replace(keep_as)
    run.results_path = keep_as
    run.parallel = parallel
    return run


# The ground-truth step of evalplus.evaluate.evaluate, alone: the same function called with the
# same arguments, so it fills the same cache file. (A whole evaluate run as the warm-up would also
# sit out the 20 s sleep of evalplus's watchdog thread.)
EVALPLUS_WARMUP = """
import sys
from evalplus.evaluate import get_groundtruth
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
if sys.argv[1] == "humaneval":
    from evalplus.data import get_human_eval_plus as get, get_human_eval_plus_hash as get_hash
    not_none = []
else:
    from evalplus.data import get_mbpp_plus as get, get_mbpp_plus_hash as get_hash
    not_none = MBPP_OUTPUT_NOT_NONE_TASKS
get_groundtruth(get(), get_hash(), not_none)
"""


def evalplus_warmup(dataset: str, env: dict, log_path: Path) -> None:
    cmd = [sys.executable, "-c", EVALPLUS_WARMUP, dataset]
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        sys.exit(f"eval_speed: evalplus warm-up failed (exit {proc.returncode})\n{tail}")


def run_evolcoder(
    label: str,
    benchmark: str,
    samples: Path,
    out_dir: Path,
    workers: int,
    data_dir: Path,
    env: dict,
) -> Run:
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a fresh folder, so nothing is resumed
    cmd = [sys.executable, "-m", "evolcoder.cli", "eval", "--benchmark", benchmark]
    cmd += ["--samples", str(samples), "--output-dir", str(out_dir), "--workers", str(workers)]
    cmd += ["--no-progress", "--data-dir", str(data_dir)]
    log = out_dir.with_suffix(".log")
    run = run_timed(label, cmd, env, out_dir / "eval_results.json", log)
    run.parallel = workers
    return run


# --------------------------------------------------------------------------------------------
# Comparing verdicts
# --------------------------------------------------------------------------------------------


@dataclass
class Agreement:
    rows: int = 0
    agree_class: int = 0  # same pass / not-pass class on base and on plus
    agree_exact: int = 0  # same status strings on base and on plus
    disagreements: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def known(self) -> int:
        return sum(1 for d in self.disagreements if d["known"])


def _cls(status: str | None) -> str | None:
    if status is None:
        return None
    return "pass" if status == "pass" else NOT_PASS


def compare(kinds: dict[str, list[str]], ours: dict, theirs: dict) -> Agreement:
    result = Agreement()
    for task_id, task_kinds in kinds.items():
        a_rows = ours["eval"].get(task_id, [])
        b_rows = theirs["eval"].get(task_id, [])
        for pos, kind in enumerate(task_kinds):
            if pos >= len(a_rows) or pos >= len(b_rows):
                result.missing.append(f"{task_id}#{pos}")
                continue
            a, b = a_rows[pos], b_rows[pos]
            result.rows += 1
            a_st = (a["base_status"], a["plus_status"])
            b_st = (b["base_status"], b["plus_status"])
            if a_st == b_st:
                result.agree_exact += 1
            if tuple(map(_cls, a_st)) == tuple(map(_cls, b_st)):
                result.agree_class += 1
            else:
                result.disagreements.append(
                    {
                        "task_id": task_id,
                        "position": pos,
                        "kind": kind,
                        "evolcoder": {"base": a_st[0], "plus": a_st[1]},
                        "evalplus": {"base": b_st[0], "plus": b_st[1]},
                        "known": task_id in KNOWN_DISAGREEMENTS,
                    }
                )
    return result


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    default_data = os.environ.get("EVOLCODER_DATA_DIR") or str(REPO_ROOT.parent / "shared" / "data")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(default_data),
        help="folder with the EvalPlus data files (default: $EVOLCODER_DATA_DIR or "
        "../shared/data next to the repository)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="evolcoder --workers (default: every core)",
    )
    p.add_argument(
        "--evalplus-parallel",
        type=int,
        default=None,
        help="evalplus --parallel (default: same as --workers)",
    )
    p.add_argument(
        "--also-evalplus-default",
        action="store_true",
        help="also time evalplus at its own default parallelism (cpu_count()//2)",
    )
    p.add_argument(
        "--benchmarks",
        default="humaneval+,mbpp+",
        help="comma-separated, from: " + ", ".join(EVALPLUS_DATASETS),
    )
    p.add_argument(
        "--variants",
        default="yes",
        choices=["yes", "none"],
        help="time the synthetic variants of every task against evalplus (default: yes)",
    )
    p.add_argument(
        "--real-samples",
        default="ldb_humaneval,ldb_mbpp",
        help="comma-separated real-sample sets (NAME.jsonl in real-samples/; *_humaneval is judged "
        "on humaneval+, *_mbpp on mbpp+), or none",
    )
    p.add_argument(
        "--before",
        default=BEFORE_REVISION,
        help="git revision to time HumanEval check / MBPP asserts against, or none (default: %(default)s)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="only the first N tasks of each benchmark (both harnesses)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where samples, caches, logs and results go (default: a new temp folder, its caches removed at the end)",
    )
    args = p.parse_args(argv)
    if args.evalplus_parallel is None:
        args.evalplus_parallel = args.workers
    args.benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    for b in args.benchmarks:
        if b not in EVALPLUS_DATASETS:
            p.error(f"unknown benchmark {b!r}; choose from: {', '.join(EVALPLUS_DATASETS)}")
    if args.workers < 1 or args.evalplus_parallel < 1:
        p.error("--workers and --evalplus-parallel must be at least 1")
    if args.limit is not None and args.limit < 1:
        p.error("--limit must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = args.data_dir.expanduser().resolve()
    work = (args.work_dir or Path(tempfile.mkdtemp(prefix="eval_speed-"))).expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)

    # Isolated caches, set before anything could import evalplus (appdirs reads XDG_CACHE_HOME).
    os.environ["XDG_CACHE_HOME"] = str(work / "xdg_cache")
    os.environ["EVOLCODER_CACHE_DIR"] = str(work / "evolcoder_cache")
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"

    from evolcoder.bench import get_benchmark
    from evolcoder.data import resolve_data_file

    cores = os.cpu_count() or 1
    evalplus_default = max(1, cores // 2)
    try:
        from importlib.metadata import version

        evalplus_version = version("evalplus")
    except Exception:  # only informative
        evalplus_version = "?"

    print(f"machine: {platform.node()}  cores: {cores}  python: {platform.python_version()}")
    print(
        f"evolcoder --workers {args.workers}   evalplus --parallel {args.evalplus_parallel}"
        + (f" (and its default, {evalplus_default})" if args.also_evalplus_default else "")
        + f"   evalplus {evalplus_version}"
    )
    print(f"data: {data_dir}\nwork dir: {work}\n")

    report: dict = {
        "machine": {"node": platform.node(), "cores": cores, "python": platform.python_version()},
        "workers": args.workers,
        "evalplus_parallel": args.evalplus_parallel,
        "evalplus_default_parallel": evalplus_default if args.also_evalplus_default else None,
        "evalplus_version": evalplus_version,
        "limit": args.limit,
        "data_dir": str(data_dir),
        "work_dir": str(work),
        "benchmarks": {},
    }
    table_rows: list[dict] = []

    for bench in args.benchmarks if args.variants == "yes" else []:
        dataset, override_var = EVALPLUS_DATASETS[bench]
        module = get_benchmark(bench)
        tasks = module.load(data_dir)[: args.limit]
        bdir = work / bench.replace("+", "_plus")
        bdir.mkdir(parents=True, exist_ok=True)

        # 1. the samples files (the full one, and canonical-only for evolcoder's warm-up)
        kinds: dict[str, list[str]] = {}
        rows, canon_rows = [], []
        for index, task in enumerate(tasks):
            variants = sample_variants(task, index)
            kinds[task.task_id] = [kind for kind, _ in variants]
            rows += [{"task_id": task.task_id, "solution": sol} for _, sol in variants]
            canon_rows.append({"task_id": task.task_id, "solution": task.reference})
        samples = bdir / "samples.jsonl"
        warm_samples = bdir / "warmup_samples.jsonl"
        write_jsonl(samples, rows)
        write_jsonl(warm_samples, canon_rows)
        counts = {k: sum(v.count(k) for v in kinds.values()) for k in dict.fromkeys(sum(kinds.values(), []))}
        print(
            f"== {bench}: {len(tasks)} tasks, {len(rows)} samples " + ", ".join(f"{k} {n}" for k, n in counts.items())
        )

        data_file = resolve_data_file(module.DATA_KEYS[0], data_dir)
        if args.limit is not None:
            ep_data = bdir / f"evalplus_{data_file.name}"
            write_filtered_dataset(data_file, ep_data, set(kinds))
        else:
            ep_data = data_file
        ep_env = {**env, override_var: str(ep_data)}

        # 2. evalplus warm-up: computes and caches its expected outputs (not reported)
        t = time.perf_counter()
        evalplus_warmup(dataset, ep_env, bdir / "evalplus_warmup.log")
        print(f"   evalplus warm-up (ground truth) {time.perf_counter() - t:.1f}s")

        # 3. evolcoder warm-up, then the timed evolcoder run
        t = time.perf_counter()
        run_evolcoder(
            "evolcoder warm-up",
            bench,
            warm_samples,
            bdir / "evolcoder_warmup",
            args.workers,
            data_dir,
            env,
        )
        print(f"   evolcoder warm-up (ground truth) {time.perf_counter() - t:.1f}s")
        ours = run_evolcoder("evolcoder", bench, samples, bdir / "evolcoder_timed", args.workers, data_dir, env)
        print(f"   evolcoder --workers {args.workers}: {ours.wall_s:.1f}s")

        # then the timed evalplus run(s)
        theirs_runs = [
            run_evalplus(
                f"evalplus --parallel {args.evalplus_parallel}",
                dataset,
                samples,
                args.evalplus_parallel,
                ep_env,
                bdir / f"evalplus_par{args.evalplus_parallel}_results.json",
            )
        ]
        if args.also_evalplus_default:
            theirs_runs.append(
                run_evalplus(
                    f"evalplus default ({evalplus_default})",
                    dataset,
                    samples,
                    None,
                    ep_env,
                    bdir / "evalplus_default_results.json",
                )
            )
            theirs_runs[-1].parallel = evalplus_default
        for run in theirs_runs:
            print(f"   {run.label}: {run.wall_s:.1f}s (results written at {fmt(run.results_s)}s)")

        # 4. verdicts
        ours_json = json.loads(ours.results_path.read_text())
        bench_report = {
            "tasks": len(tasks),
            "samples": len(rows),
            "sample_kinds": counts,
            "samples_file": str(samples),
            "evolcoder": {
                "wall_s": ours.wall_s,
                "results_s": ours.results_s,
                "workers": args.workers,
                "results": str(ours.results_path),
            },
            "evalplus": [],
        }
        for run in theirs_runs:
            agreement = compare(kinds, ours_json, json.loads(run.results_path.read_text()))
            entry = {
                "label": run.label,
                "parallel": run.parallel,
                "wall_s": run.wall_s,
                "results_s": run.results_s,
                "ratio_wall": ratio(run.wall_s, ours.wall_s),
                "ratio_results": ratio(run.results_s, ours.results_s),
                "rows_compared": agreement.rows,
                "agree_pass_notpass": agreement.agree_class,
                "agree_exact": agreement.agree_exact,
                "agree_pass_notpass_pct": 100 * agreement.agree_class / max(agreement.rows, 1),
                "agree_exact_pct": 100 * agreement.agree_exact / max(agreement.rows, 1),
                "disagreements": agreement.disagreements,
                "known_disagreements": agreement.known,
                "missing_rows": agreement.missing,
                "results": str(run.results_path),
            }
            bench_report["evalplus"].append(entry)
            table_rows.append(
                {
                    "bench": bench,
                    "samples": len(rows),
                    "ours": ours,
                    "run": run,
                    "agreement": agreement,
                }
            )
        report["benchmarks"][bench] = bench_report
        print()

    # 5. the table
    if table_rows:
        print_table(table_rows, args)
        print_disagreements(table_rows)
        report["overall"] = overall(table_rows)
    real_sets = [] if args.real_samples == "none" else [n.strip() for n in args.real_samples.split(",") if n.strip()]
    if real_sets:
        report["real_samples"] = real_sample_runs(real_sets, args, work, env, data_dir)
    if args.before != "none":
        report["before_after"] = before_after(args.before, args, work, env, data_dir)
    out = work / "eval_speed.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nnumbers: {out}")
    if args.work_dir is None:  # a work dir of our own: keep the numbers and verdicts, not ≈1.3 GB of caches
        for cache in ("xdg_cache", "evolcoder_cache"):
            shutil.rmtree(work / cache, ignore_errors=True)
    return 0


def overall(table_rows: list[dict]) -> dict:
    """Totals over benchmarks, for the first (--evalplus-parallel) evalplus run of each."""
    primary = [r for r in table_rows if r["run"].label.startswith("evalplus --parallel")]
    ours = sum(r["ours"].wall_s for r in primary)
    theirs = sum(r["run"].wall_s for r in primary)
    ours_res = [r["ours"].results_s for r in primary]
    theirs_res = [r["run"].results_s for r in primary]
    both_res = None not in ours_res and None not in theirs_res
    rows = sum(r["agreement"].rows for r in primary)
    return {
        "samples": sum(r["samples"] for r in primary),
        "evolcoder_wall_s": ours,
        "evalplus_wall_s": theirs,
        "evolcoder_results_s": sum(ours_res) if both_res else None,
        "evalplus_results_s": sum(theirs_res) if both_res else None,
        "ratio_wall": ratio(theirs, ours),
        "ratio_results": ratio(sum(theirs_res), sum(ours_res)) if both_res else None,
        "rows_compared": rows,
        "agree_pass_notpass_pct": 100 * sum(r["agreement"].agree_class for r in primary) / max(rows, 1),
        "agree_exact_pct": 100 * sum(r["agreement"].agree_exact for r in primary) / max(rows, 1),
        "disagreements": sum(len(r["agreement"].disagreements) for r in primary),
        "known_disagreements": sum(r["agreement"].known for r in primary),
    }


def print_table(table_rows: list[dict], args: argparse.Namespace) -> None:
    header = [
        "benchmark",
        "samples",
        "evolcoder s",
        "evalplus s",
        "par",
        "ratio",
        "ep results s",
        "ratio",
        "agree %",
        "exact %",
        "disagree",
        "known",
    ]
    lines = []
    for r in table_rows:
        ours, run, agr = r["ours"], r["run"], r["agreement"]
        lines.append(
            [
                r["bench"],
                str(r["samples"]),
                fmt(ours.wall_s),
                fmt(run.wall_s),
                str(run.parallel),
                fmt(ratio(run.wall_s, ours.wall_s), 2),
                fmt(run.results_s),
                fmt(ratio(run.results_s, ours.results_s), 2),
                pct(agr.agree_class, agr.rows),
                pct(agr.agree_exact, agr.rows),
                str(len(agr.disagreements)),
                str(agr.known),
            ]
        )
    o = overall(table_rows)
    if len({r["bench"] for r in table_rows}) > 1:
        lines.append(
            [
                "overall",
                str(o["samples"]),
                fmt(o["evolcoder_wall_s"]),
                fmt(o["evalplus_wall_s"]),
                str(args.evalplus_parallel),
                fmt(o["ratio_wall"], 2),
                fmt(o["evalplus_results_s"]),
                fmt(o["ratio_results"], 2),
                fmt(o["agree_pass_notpass_pct"]),
                fmt(o["agree_exact_pct"]),
                str(o["disagreements"]),
                str(o["known_disagreements"]),
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def show(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(
        f"cores: {os.cpu_count()}   evolcoder --workers {args.workers}   evalplus --parallel {args.evalplus_parallel}"
    )
    print(show(header))
    print("  ".join("-" * w for w in widths))
    for i, line in enumerate(lines):
        if line[0] == "overall" and i:
            print("  ".join("-" * w for w in widths))
        print(show(line))
    print(
        "\nevolcoder s / evalplus s: wall time until the process exited; ratio = evalplus/evolcoder"
        " (> 1: evolcoder is faster).\nep results s: until evalplus wrote its results file (its"
        " watchdog thread can keep the process alive up to 20 s longer); the ratio next to it\n"
        "compares it with evolcoder's own time to its results file. agree %: same pass/not-pass"
        " class (fail = timeout) on base and plus;\nexact %: same status strings. known: "
        "disagreements explained by a known evalplus behaviour (see the note)."
    )


def print_disagreements(table_rows: list[dict], limit: int = 20) -> None:
    for r in table_rows:
        agr = r["agreement"]
        if agr.missing:
            print(
                f"\n{r['bench']} / {r['run'].label}: {len(agr.missing)} sample(s) missing from a "
                f"results file: {', '.join(agr.missing[:10])}"
            )
        if not agr.disagreements:
            continue
        print(
            f"\n{r['bench']} / {r['run'].label}: {len(agr.disagreements)} disagreement(s)"
            + (f", first {limit}" if len(agr.disagreements) > limit else "")
        )
        for d in agr.disagreements[:limit]:
            ev, ep = d["evolcoder"], d["evalplus"]
            print(
                f"  {d['task_id']:<14} #{d['position']} {d['kind']:<9} evolcoder base={ev['base']}"
                f" plus={ev['plus']}  evalplus base={ep['base']} plus={ep['plus']}"
                + ("  (known, see note)" if d["known"] else "")
            )
    seen = {d["task_id"] for r in table_rows for d in r["agreement"].disagreements if d["known"]}
    notes = [(tid, text) for tid, text in KNOWN_DISAGREEMENTS.items()]
    print("\nnote: expected disagreements" + ("" if seen else " (none in this run)") + ":")
    for tid, text in notes:
        print(f"  {tid}{' (seen)' if tid in seen else ''}: {text}")


# --------------------------------------------------------------------------------------------
# Real samples: evolcoder, evalplus and the floor on the same programs
# --------------------------------------------------------------------------------------------


def _real_samples(name: str, data_dir: Path) -> tuple[Path, str]:
    path = data_dir / "real-samples" / f"{name}.jsonl"
    if not path.is_file():
        sys.exit(f"eval_speed: no real-sample set {path}")
    return path, "humaneval+" if name.endswith("_humaneval") else "mbpp+"


def _evalplus_env(bench: str, env: dict, data_dir: Path) -> dict:
    """evalplus reads its data from our data folder, never from the network."""
    from evolcoder.bench import get_benchmark
    from evolcoder.data import resolve_data_file

    data_file = resolve_data_file(get_benchmark(bench).DATA_KEYS[0], data_dir)
    return {**env, EVALPLUS_DATASETS[bench][1]: str(data_file)}


def _warm_up(bench: str, work: Path, env: dict, data_dir: Path, args: argparse.Namespace) -> None:
    """Both harnesses' ground truth, computed once per benchmark and cached (untimed)."""
    from evolcoder.bench import get_benchmark

    bdir = work / f"warm_{bench.replace('+', '_plus')}"
    if bdir.exists():
        return
    bdir.mkdir(parents=True)
    canon = [{"task_id": t.task_id, "solution": t.reference} for t in get_benchmark(bench).load(data_dir)]
    write_jsonl(bdir / "canonical.jsonl", canon)
    evalplus_warmup(EVALPLUS_DATASETS[bench][0], _evalplus_env(bench, env, data_dir), bdir / "evalplus_warmup.log")
    run_evolcoder("warm-up", bench, bdir / "canonical.jsonl", bdir / "evolcoder", args.workers, data_dir, env)


def _plus_verdicts(results_path: Path, key: str = "eval") -> dict[str, list[tuple[bool, bool]]]:
    data = json.loads(results_path.read_text())
    return {
        tid: [(r["base_status"] == "pass", r["plus_status"] == "pass") for r in rows] for tid, rows in data[key].items()
    }


def real_sample_runs(names: list[str], args: argparse.Namespace, work: Path, env: dict, data_dir: Path) -> list:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from eval_floor import run_floor

    rows = []
    for name in names:
        samples, bench = _real_samples(name, data_dir)
        n = sum(1 for line in samples.read_text().splitlines() if line.strip())
        print(f"== real samples {name}: {n} programs on {bench}")
        _warm_up(bench, work, env, data_dir, args)
        sdir = work / f"real_{name}"
        sdir.mkdir(parents=True, exist_ok=True)
        local = sdir / "samples.jsonl"
        shutil.copyfile(samples, local)  # evalplus writes its results next to the samples
        ours = run_evolcoder("evolcoder", bench, local, sdir / "evolcoder", args.workers, data_dir, env)
        print(f"   evolcoder --workers {args.workers}: {ours.wall_s:.1f}s")
        ep_env = _evalplus_env(bench, env, data_dir)
        theirs = run_evalplus(
            "evalplus", EVALPLUS_DATASETS[bench][0], local, args.evalplus_parallel, ep_env, sdir / "ep.json"
        )
        print(
            f"   evalplus --parallel {args.evalplus_parallel}: {theirs.wall_s:.1f}s"
            f" (results at {fmt(theirs.results_s)}s)"
        )
        floor = run_floor(bench, local, args.workers, data_dir)
        print(f"   floor, {args.workers} in-process workers: {floor.wall_s:.1f}s ({floor.cpu_s:.1f}s CPU)")
        our_verdicts = _plus_verdicts(ours.results_path.parent / "eval_results.json")
        floor_verdicts: dict[str, list[tuple[bool, bool]]] = {}
        for task_id, base, plus in floor.verdicts:
            floor_verdicts.setdefault(task_id, []).append((base, plus))
        same = sum(
            a == b
            for tid, ours_rows in our_verdicts.items()
            for a, b in zip(ours_rows, floor_verdicts.get(tid, []), strict=False)
        )
        rows.append(
            {
                "set": name,
                "benchmark": bench,
                "programs": n,
                "evolcoder_s": ours.wall_s,
                "evalplus_s": theirs.wall_s,
                "evalplus_results_s": theirs.results_s,
                "floor_s": floor.wall_s,
                "floor_cpu_s": floor.cpu_s,
                "evolcoder_over_floor": ratio(ours.wall_s, floor.wall_s),
                "evalplus_over_evolcoder": ratio(theirs.wall_s, ours.wall_s),
                "floor_agrees_pct": 100 * same / max(n, 1),
            }
        )
    header = [
        "set",
        "programs",
        "evolcoder s",
        "evalplus s",
        "floor s",
        "evolcoder/floor",
        "evalplus/evolcoder",
        "floor agrees %",
    ]
    table = [
        [
            r["set"],
            str(r["programs"]),
            fmt(r["evolcoder_s"]),
            fmt(r["evalplus_s"]),
            fmt(r["floor_s"]),
            fmt(r["evolcoder_over_floor"], 2),
            fmt(r["evalplus_over_evolcoder"], 2),
            f"{r['floor_agrees_pct']:.1f}",
        ]
        for r in rows
    ]
    _print_plain_table(f"real samples, {args.workers} workers, ground truth cached", header, table)
    return rows


# --------------------------------------------------------------------------------------------
# Before and after: HumanEval check / MBPP asserts, this checkout against an older revision
# --------------------------------------------------------------------------------------------

BEFORE_AFTER_SETS = (("humaneval", "ldb_humaneval"), ("mbpp", "ldb_mbpp"))


def _source_tree(revision: str, work: Path) -> Path:
    """The ``src`` folder of ``revision``, exported with ``git archive``."""
    target = work / f"src_{revision}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", revision, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def before_after(revision: str, args: argparse.Namespace, work: Path, env: dict, data_dir: Path) -> list:
    from evolcoder.bench import get_benchmark

    before_src = _source_tree(revision, work)
    before_env = {**env, "PYTHONPATH": str(before_src)}
    rows = []
    for bench, name in BEFORE_AFTER_SETS:
        source, _ = _real_samples(name, data_dir)
        bdir = work / f"before_after_{bench}"
        bdir.mkdir(parents=True, exist_ok=True)
        known = {t.task_id for t in get_benchmark(bench).load(data_dir)}  # MBPP has fewer tasks than MBPP+
        rows_in = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
        samples = bdir / "samples.jsonl"
        write_jsonl(samples, [r for r in rows_in if r["task_id"] in known])
        after = run_evolcoder("after", bench, samples, bdir / "after", args.workers, data_dir, env)
        before = run_evolcoder("before", bench, samples, bdir / "before", args.workers, data_dir, before_env)
        ours, old = (
            _plus_verdicts(bdir / "after" / "eval_results.json"),
            _plus_verdicts(bdir / "before" / "eval_results.json"),
        )
        changed = sum(a[0] != b[0] for tid in ours for a, b in zip(ours[tid], old.get(tid, []), strict=False))
        n = sum(1 for _ in samples.open())
        print(f"== {bench} ({name}, {n} programs): after {after.wall_s:.1f}s, before ({revision}) {before.wall_s:.1f}s")
        rows.append(
            {
                "benchmark": bench,
                "set": name,
                "after_s": after.wall_s,
                "before_s": before.wall_s,
                "after_over_before": ratio(after.wall_s, before.wall_s),
                "verdicts_changed": changed,
            }
        )
    header = ["benchmark", "samples", f"before ({revision}) s", "after s", "after/before", "verdicts changed"]
    table = [
        [
            r["benchmark"],
            r["set"],
            fmt(r["before_s"]),
            fmt(r["after_s"]),
            fmt(r["after_over_before"], 2),
            str(r["verdicts_changed"]),
        ]
        for r in rows
    ]
    _print_plain_table(f"tests apart: before and after, {args.workers} workers", header, table)
    return rows


def _print_plain_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=False)))


if __name__ == "__main__":
    sys.exit(main())

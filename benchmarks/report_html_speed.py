"""report.html at full size: 164 tasks x 200 samples, its file size and how fast it opens in Chromium.

Builds an eval folder as ``evolcoder eval`` writes it (eval_results.json, eval_settings.json and a
samples file with raw responses) from real model programs (shared/data/real-samples, every
program made distinct per sample), with synthetic verdicts and failure records, then runs
``evolcoder report`` on it and opens report.html from disk in headless Chromium (the system's,
through playwright, network cut off). Reported:

* build   seconds to write report.md, the figures and report.html (Pygments tokens included)
* size    report.html in MB, and the share that is packed task blobs
* load    the Performance API's domContentLoaded and load of the navigation, and the time to the
          page's ready mark (the task tables set up); the median of ``--repeat`` loads
* table   switch to the task tab and re-render the table sorted by pass@1
* open    click a task: unpack its 200 samples and draw the first failing one, highlighted

Usage (from the repository root)::

    EVOLCODER_DATA_DIR=../shared/data .venv/bin/python benchmarks/report_html_speed.py
    .venv/bin/python benchmarks/report_html_speed.py --samples 20 --runs 2   # two models side by side
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from evolcoder.records import FAIL, FAILURE_KINDS, PASS, TIMEOUT, TIMEOUT_KIND, Failure
from evolcoder.report.build import build_report
from evolcoder.report.html import HTML_FILE

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARGS += ["--disable-sync", "--no-first-run"]
PROGRAMS = ("mapcoder_humaneval.jsonl", "ldb_humaneval.jsonl", "codet-codegen16b_humaneval.jsonl")
PROSE = (
    "Here is a solution. It walks the input once and keeps the running state it needs; the edge cases "
    "(an empty input, a single element) fall out of the loop without special handling.\n\n"
)


def real_programs(data_dir: Path) -> dict[str, list[str]]:
    """Real model programs per HumanEval task."""
    programs: dict[str, list[str]] = {}
    for name in PROGRAMS:
        with open(data_dir / "real-samples" / name, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                programs.setdefault(row["task_id"], []).append(row["solution"])
    return programs


def failure(rng: random.Random, status: str, program: str) -> dict:
    kind = TIMEOUT_KIND if status == TIMEOUT else rng.choice([k for k in FAILURE_KINDS if k != TIMEOUT_KIND])
    line = rng.randrange(1, program.count("\n") + 2)
    return Failure(
        kind=kind,
        message=f"{kind}: a synthetic failure on test {line}",
        test=line,
        input=repr([rng.randrange(100) for _ in range(8)]),
        expected=repr(rng.randrange(1000)),
        actual=repr(rng.randrange(1000)),
        line=line,
        source=program.splitlines()[line - 1] if line <= program.count("\n") else None,
    ).to_row()


def make_eval_folder(root: Path, name: str, programs: dict[str, list[str]], n_samples: int, seed: int) -> Path:
    rng = random.Random(seed)
    folder = root / f"{name}_eval"
    folder.mkdir(parents=True)
    samples, evals = [], {}
    for task_id, pool in programs.items():
        skill = rng.random()
        evals[task_id] = []
        for k in range(n_samples):
            program = f"{rng.choice(pool)}\n# sample {k} of {name}\n"  # distinct, as sampled programs are
            base = PASS if rng.random() < skill else rng.choice([FAIL, FAIL, FAIL, TIMEOUT])
            plus = (PASS if rng.random() < 0.9 else FAIL) if base == PASS else base
            samples.append({"task_id": task_id, "sample_index": k, "solution": program, "raw": PROSE + program})
            evals[task_id].append(
                {
                    "task_id": task_id,
                    "solution": program,
                    "base_status": base,
                    "plus_status": plus,
                    "base_fail_tests": [] if base == PASS else [[1, 2]],
                    "plus_fail_tests": [] if plus == PASS else [[3, 4]],
                    "base_failure": None if base == PASS else failure(rng, base, program),
                    "plus_failure": None if plus == PASS else failure(rng, plus, program),
                }
            )
    samples_file = root / f"{name}.jsonl"
    samples_file.write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    (folder / "eval_settings.json").write_text(json.dumps({"benchmark": "humaneval+", "samples": str(samples_file)}))
    passed = sum(r["base_status"] == PASS for rows in evals.values() for r in rows) / len(samples)
    results = {"benchmark": "humaneval+", "eval": evals, "pass_at_k": {"base": {"pass@1": passed}, "plus": {}}}
    (folder / "eval_results.json").write_text(json.dumps(results), encoding="utf-8")
    return folder


OPEN_TASK = """async (id) => {
  const t0 = performance.now();
  document.querySelector(`#task-table tr[data-id="${id}"]`).click();
  while (!document.querySelector("#task-detail pre.code")) await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t0;
}"""
SORT_TABLE = """async () => {
  const t0 = performance.now();
  document.querySelector("#tabs button[data-tab=tasks]").click();
  document.querySelector("#task-table th[data-key=rate]").click();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
  return performance.now() - t0;
}"""
LOAD = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const ready = performance.getEntriesByName("ready")[0];
  return [nav.domContentLoadedEventEnd, nav.loadEventEnd, ready.startTime];
}"""


def measure(path: Path, repeat: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    timings: dict[str, list[float]] = {"dcl_ms": [], "load_ms": [], "ready_ms": [], "table_ms": [], "open_ms": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
            page.goto(url)
            page.wait_for_selector("body[data-ready]")
            for key, value in zip(("dcl_ms", "load_ms", "ready_ms"), page.evaluate(LOAD), strict=True):
                timings[key].append(value)
            timings["table_ms"].append(page.evaluate(SORT_TABLE))
            timings["open_ms"].append(page.evaluate(OPEN_TASK, "HumanEval/17"))
            page.close()
        browser.close()
    return {key: statistics.median(values) for key, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="samples per task")
    parser.add_argument("--runs", type=int, default=1, help="models (eval folders) on HumanEval+")
    parser.add_argument("--repeat", type=int, default=3, help="page loads measured (median)")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("EVOLCODER_DATA_DIR", "../shared/data"))
    programs = real_programs(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = [make_eval_folder(root, f"model{i}", programs, args.samples, seed=i) for i in range(args.runs)]
        start = time.perf_counter()
        build_report(folders, root / "report", data_dir=data_dir)
        build_s = time.perf_counter() - start
        page = root / "report" / HTML_FILE
        text = page.read_text(encoding="utf-8")
        blobs = sum(
            len(part.split("</script>", 1)[0]) for part in text.split('<script type="application/json" id="b')[1:]
        )
        timings = measure(page, args.repeat)
    tasks, samples = len(programs), len(programs) * args.samples * args.runs
    print(f"{args.runs} run(s) x {tasks} tasks x {args.samples} samples = {samples} samples")
    print(f"python {sys.version.split()[0]}, {CHROMIUM}")
    print(f"build  {build_s:.1f} s")
    print(f"size   {len(text.encode()) / 1e6:.1f} MB ({100 * blobs / len(text):.0f}% packed task blobs)")
    load = f"domContentLoaded {timings['dcl_ms']:.0f} ms, load {timings['load_ms']:.0f} ms"
    print(f"load   {load}, ready {timings['ready_ms']:.0f} ms")
    print(f"table  tab + sort {timings['table_ms']:.0f} ms")
    print(f"open   a task of {args.samples} samples {timings['open_ms']:.0f} ms")


if __name__ == "__main__":
    main()

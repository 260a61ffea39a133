"""``evolcoder report``: a markdown report, PNG figures and a browsable ``report.html`` from
experiment folders (``evolcoder run``) and eval folders (``evolcoder eval``), in any mix.

Flow: load the published numbers → load each experiment's summary.json (missing parts become
notes) and each eval folder's pass@1 → draw the figures that have data → write ``report.md`` with
the tables, the intervals, the mini-replication verdict and a list of what is missing → write
``report.html``: that report, the task tables, the side-by-side comparisons and the evolution.
"""

from __future__ import annotations

import json
from pathlib import Path

from evolcoder.records import RESULTS_FILE
from evolcoder.report import figures, tables
from evolcoder.report.browse import collect, is_eval_folder
from evolcoder.report.experiment import NO_VERIFY, Experiment, Score, load_experiment
from evolcoder.report.html import HTML_FILE, write_html
from evolcoder.report.published import Published, Setting, load_published
from evolcoder.report.replication import VERDICT_BENCHMARKS, is_mini_replication, ordering_sentence
from evolcoder.report.stats import wilson_interval
from evolcoder.report.verification import comparison_section, verification_pair

REPORT_FILE = "report.md"
FIGURES = {
    "fig1": "fig1_humaneval.png",
    "ds1000": "ds1000_per_library.png",
    "dev": "dev_pass1_by_round.png",
    "loss": "train_loss.png",
    "evolve": "evolve_heuristics.png",
}
INTERVAL_NOTE = (
    "Our numbers carry a 95% Wilson score interval over the benchmark's tasks (greedy pass@1 is the "
    "share of tasks passed; for a sampled pass@1 the interval is taken on pass@1 × tasks, an approximation). "
    "Published numbers are shown as printed, with no interval."
)


def build_report(
    folders: list[Path], output_dir: Path, published_file: Path | None = None, data_dir: Path | None = None
) -> Path:
    """Write ``report.md``, the figures and ``report.html`` into ``output_dir``; returns report.md's path.

    Each folder is an eval folder when it holds eval_results.json, else an experiment folder.
    """
    published = load_published(published_file)
    folders = [Path(d) for d in folders]
    evals = [folder for folder in folders if is_eval_folder(folder)]
    experiments = _unique_names([load_experiment(folder) for folder in folders if folder not in evals])
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    scores = [s for e in experiments for s in e.scores] + [s for folder in evals for s in eval_scores(folder)]
    drawn = {
        "fig1": figures.plot_fig1(published, scores, output_dir / FIGURES["fig1"]),
        "ds1000": figures.plot_ds1000(published, scores, output_dir / FIGURES["ds1000"]),
        "dev": figures.plot_dev_by_round(experiments, output_dir / FIGURES["dev"]),
        "loss": figures.plot_train_loss(experiments, output_dir / FIGURES["loss"]),
        "evolve": figures.plot_evolve(experiments, output_dir / FIGURES["evolve"]),
    }
    lines = _header(experiments, output_dir) + _eval_header(evals)
    lines += _replication(experiments)
    pair = verification_pair(experiments)
    lines += comparison_section(*pair) if pair else []
    lines += _comparison(published, scores, drawn, output_dir)
    if experiments:
        lines += _loop(experiments, drawn)
        lines += _missing(experiments, drawn)
    path = output_dir / REPORT_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    names = {experiment.folder: experiment.name for experiment in experiments}
    browse = collect(folders, names, data_dir)
    write_html(output_dir / HTML_FILE, browse, "\n".join(lines), output_dir, "evolcoder report")
    return path


def eval_scores(folder: Path) -> list[Score]:
    """An eval folder's pass@1 as our scores: base tests on the benchmark's base name (HumanEval+ gives
    HumanEval and HumanEval+), as ``evolcoder run`` reports them; the setting is not recorded there."""
    results = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
    benchmark = str(results.get("benchmark") or "")
    pass_at_k = results.get("pass_at_k") or {}
    per_task = [rows for rows in (results.get("eval") or {}).values() if rows]
    n, samples = len(per_task), max((len(rows) for rows in per_task), default=0)
    pairs = [(benchmark.rstrip("+"), "base"), (benchmark, "plus")] if benchmark.endswith("+") else [(benchmark, "base")]
    scores = []
    for name, key in pairs:
        value = (pass_at_k.get(key) or {}).get("pass@1")
        if not isinstance(value, int | float) or not n:
            continue
        passed = round(value * n)
        scores.append(
            Score(
                experiment=folder.name,
                model=folder.name,
                label="evolcoder eval",
                benchmark=name,
                value=100 * value,
                passed=passed,
                n=n,
                setting=Setting(mode="unstated", n=samples),
                interval=tuple(100 * x for x in wilson_interval(passed, n)),
                manifest=None,
            )
        )
    return scores


def _eval_header(evals: list[Path]) -> list[str]:
    if not evals:
        return []
    lines = ["Eval folders (`evolcoder eval`; no evolution loop, its figures are left out):", ""]
    return lines + [f"- `{folder}`" for folder in evals] + [""]


def _unique_names(experiments: list[Experiment]) -> list[Experiment]:
    """Two folders with the same experiment name are told apart by their folder name."""
    seen: dict[str, int] = {}
    for experiment in experiments:
        seen[experiment.name] = seen.get(experiment.name, 0) + 1
    for experiment in experiments:
        if seen[experiment.name] > 1:
            experiment.name = f"{experiment.name} ({experiment.folder})"
            for index, score in enumerate(experiment.scores):
                experiment.scores[index] = _renamed(score, experiment.name)
    return experiments


def _renamed(score: Score, name: str) -> Score:
    from dataclasses import replace

    return replace(
        score, experiment=name, per_library={k: replace(v, experiment=name) for k, v in score.per_library.items()}
    )


def _header(experiments: list[Experiment], output_dir: Path) -> list[str]:
    """One line per experiment; each names its ``evolve --verify`` setting where any experiment was verified."""
    lines = ["# evolcoder report", ""] + (["Experiments:", ""] if experiments else [])
    verified = any(e.verify != NO_VERIFY for e in experiments)
    for e in experiments:
        manifest = tables.manifest_link(e.manifest, output_dir) if e.manifest else "no manifest"
        dev = e.dev
        dev_text = (
            f"dev set {dev.get('benchmark', '?')} {dev.get('task_ids', '')} ({dev.get('n_tasks', '?')} tasks)"
            if dev
            else "dev set not recorded"
        )
        verify = f"; evolved with `--verify {e.verify}`" if verified else ""
        base = e.base_model or "not recorded"
        lines.append(f"- **{e.name}** (`{e.folder}`): base model {base}; {dev_text}{verify}; {manifest}")
    return lines + ["", INTERVAL_NOTE, ""]


def _replication(experiments: list[Experiment]) -> list[str]:
    minis = [e for e in experiments if is_mini_replication(e)]
    if not minis:
        return []
    lines = ["## Mini-replication: base, SFT on the seed set, SFT on the evolved round", ""]
    for experiment in minis:
        lines.append(f"**{experiment.name}**:")
        lines.append("")
        lines += [f"- {ordering_sentence(experiment, benchmark)}" for benchmark in VERDICT_BENCHMARKS]
        lines.append("")
    return lines


def _comparison(published: Published, scores: list[Score], drawn: dict[str, bool], output_dir: Path) -> list[str]:
    lines = ["## Figure 1 analogue: HumanEval and HumanEval+", ""]
    lines += _figure(drawn["fig1"], FIGURES["fig1"], "no HumanEval numbers to draw")
    lines += [f"> {published.notes['fig1']}", ""] if "fig1" in published.notes else []
    for benchmark in ("humaneval", "humaneval+"):
        lines += [f"### {tables.BENCHMARK_TITLES[benchmark]} (Figure 1 sources)", ""]
        ours = [s for s in scores if s.benchmark == benchmark]
        lines += tables.benchmark_table(published.select("fig1", benchmark), ours, output_dir) + [""]
    lines += ["## Table 1 analogue: HumanEval and MBPP", ""]
    lines += [f"> {published.notes['table1']}", ""] if "table1" in published.notes else []
    for benchmark in ("humaneval", "mbpp"):
        lines += [f"### {tables.BENCHMARK_TITLES[benchmark]}", ""]
        ours = [s for s in scores if s.benchmark == benchmark]
        lines += tables.benchmark_table(published.select("table1", benchmark), ours, output_dir) + [""]
    plus = [s for s in scores if s.benchmark in ("humaneval+", "mbpp+")]
    if plus:
        lines += ["### Ours on HumanEval+ and MBPP+", ""]
        for benchmark in ("humaneval+", "mbpp+"):
            ours = [s for s in plus if s.benchmark == benchmark]
            if ours:
                lines += [f"{tables.BENCHMARK_TITLES[benchmark]}:", ""]
                lines += tables.benchmark_table([], ours, output_dir) + [""]
    lines += ["## DS-1000 per library", ""]
    lines += _figure(drawn["ds1000"], FIGURES["ds1000"], "no DS-1000 numbers to draw")
    lines += [f"> {published.notes['ds1000']}", ""] if "ds1000" in published.notes else []
    ours = [s for s in scores if s.benchmark == "ds1000"]
    lines += tables.ds1000_table(published, ours, output_dir) + [""]
    return lines


def _loop(experiments: list[Experiment], drawn: dict[str, bool]) -> list[str]:
    lines = ["## The evolution loop", "", "### Dev pass@1 per round", ""]
    lines += _figure(drawn["dev"], FIGURES["dev"], "no dev results")
    lines += tables.rounds_table(experiments) + [""]
    lines += ["### Training loss", ""]
    lines += _figure(drawn["loss"], FIGURES["loss"], "no training metrics")
    lines += ["### Evolution: heuristics and eliminations", ""]
    lines += _figure(drawn["evolve"], FIGURES["evolve"], "no evolution statistics")
    lines += tables.evolve_table(experiments) + [""]
    return lines


def _figure(drawn: bool, name: str, why: str) -> list[str]:
    if drawn:
        return [f"![{name}]({name})", ""]
    return [f"*Figure `{name}` not drawn: {why}.*", ""]


def _missing(experiments: list[Experiment], drawn: dict[str, bool]) -> list[str]:
    lines = ["## Missing", ""]
    notes = [f"- {e.name}: {note}" for e in experiments for note in e.missing]
    notes += [f"- figure `{FIGURES[key]}` not drawn (no data)" for key, done in drawn.items() if not done]
    return lines + (notes or ["Nothing: every part of every experiment is present."]) + [""]

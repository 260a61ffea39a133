"""The records between stages: each kind round-trips, the report reads what the writers write, and
every JSONL reader handles a last line cut by a kill the same way."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from evolcoder.eval.runner import read_done
from evolcoder.evol.pipeline import read_round
from evolcoder.generate.runner import read_existing
from evolcoder.jsonl import atomic_write, read_rows, write_json_atomic, write_rows_atomic
from evolcoder.records import (
    ABSENT,
    COMPLETE,
    PASS,
    RUNNING,
    Attempt,
    DatasetStats,
    DevSet,
    LibraryScore,
    Metrics,
    ModelEntry,
    Record,
    RunSetting,
    SampleRow,
    ScoreRow,
    StageRecord,
    Summary,
    SummaryRound,
    Verdict,
)
from evolcoder.report.experiment import _losses, load_experiment
from evolcoder.run.summary import write_summary
from evolcoder.train.metrics import read_metrics

VERDICT = Verdict(
    run="k1",
    key="1:ab",
    task_id="HumanEval/0",
    completion_id=0,
    solution="def f():\n    return 'é'\n",
    base_status=PASS,
    plus_status=None,
    base_fail_tests=[],
    plus_fail_tests=[],
    base_reason=None,
    plus_reason=None,
    in_process=False,
)
RECORDS: list[Record] = [
    SampleRow(
        task_id="HumanEval/0",
        sample_index=1,
        solution="def f(): pass",
        raw="```python\ndef f(): pass\n```",
        prompt_style="chat",
        prompt_tokens=10,
        completion_tokens=5,
        finish_reason="stop",
    ),
    VERDICT,
    Verdict(**{**VERDICT.__dict__, "base_details": [{"i": 0}], "plus_details": None}),
    Attempt(id="s1@r1", seed_id="s1", round=1, depth=0, heuristic="h", original="Write f."),
    Attempt(id="s1@r1", seed_id="s1", round=1, depth=1, heuristic="h", original="o", kept=True, judge="no"),
    Metrics(step=3, epoch=0.5, loss=1.5, num_tokens=100, time=1.0),
    DatasetStats(round=1, complete=True, stopped=None, pairs=4, removed={"near_duplicate": 1}, by_source={"seed": 3}),
    StageRecord(
        stage="train/round_0", kind="train", round=0, input_hash="i", inputs={}, outputs=[], status=RUNNING, started=1.0
    ),
    StageRecord(
        stage="evolve/round_1",
        kind="evolve",
        round=None,
        input_hash="i",
        inputs={"a": [1]},
        outputs=["evolve"],
        status=COMPLETE,
        output_hash="o",
        started=1.0,
        seconds=2.5,
    ),
    Summary(
        schema=Summary.SCHEMA,
        name="x",
        manifest="manifest.json",
        base_model="m",
        dev=DevSet(benchmark="mbpp", task_ids="all"),
        rounds=[SummaryRound(round=0, evolve_stats=None), SummaryRound(round=1, dev_pass1=0.5, dev_passed=1, dev_n=2)],
        models={"base": ModelEntry(label="base", path="p")},
        test=[
            ScoreRow(
                model="base",
                benchmark="ds1000",
                n_tasks=2,
                n_samples=1,
                setting=RunSetting(mode="greedy", n=1, temperature=0.0),
                pass1=0.5,
                passed=1,
                results="r.json",
                per_library={"Numpy": LibraryScore(pass1=0.5, passed=1, n=2)},
            )
        ],
    ),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_each_record_round_trips(record: Record) -> None:
    row = json.loads(json.dumps(record.to_row()))
    assert row == record.to_row()
    again = type(record).from_row(row)
    assert again.to_row() == row
    assert list(row) == [key for key in type(record).keys() if key in row]  # the type's order
    assert ABSENT not in row.values()


def test_rows_keep_the_keys_and_order_written_before() -> None:
    """The JSON on disk is what the stages wrote before the record types (field names, order, absences)."""
    assert list(VERDICT.to_row()) == [
        "run", "key", "task_id", "completion_id", "solution", "base_status", "plus_status",
        "base_fail_tests", "plus_fail_tests", "base_reason", "plus_reason", "in_process",
        "base_failure", "plus_failure",  # HARNESS_VERSION 5: why each test set failed (null: it passed)
    ]  # fmt: skip
    running, complete = RECORDS[7].to_row(), RECORDS[8].to_row()
    assert list(running) == ["stage", "kind", "round", "input_hash", "inputs", "outputs", "status", "started"]
    assert list(complete)[-4:] == ["status", "output_hash", "started", "seconds"]
    assert RECORDS[9].to_row()["rounds"][0] == {"round": 0, "evolve_stats": None}  # null kept, absent left out
    assert "best_round" not in RECORDS[9].to_row()
    assert RECORDS[9].to_row()["test"][0]["pass@1"] == 0.5 and ScoreRow.key("pass1") == "pass@1"
    with pytest.raises(KeyError):
        ScoreRow.key("pass@1")  # a field name, not a key: a typo fails loudly


def test_from_row_requires_only_what_the_reader_names() -> None:
    assert Verdict.from_row({"run": "k"}).key is ABSENT
    with pytest.raises(KeyError, match="sample_index"):
        SampleRow.from_row({"task_id": "t"}, require=("task_id", "sample_index"))


# ---- the report reads what `evolcoder run` writes -----------------------------------------------


def _experiment(exp: Path) -> None:
    """The files the stages of a two-round run write, through their record types."""
    for k in (0, 1):
        folder = exp / "rounds" / f"round_{k}"
        stats = DatasetStats(round=k, complete=True, stopped=None, pairs=3 + k, removed={}, by_source={"seed": 3})
        write_json_atomic(folder / "stats.json", stats.to_row())
        rows = [Metrics(step=s, epoch=s / 4, loss=2.0 - s / 10, num_tokens=10 * s, time=0.0) for s in (1, 2)]
        write_rows_atomic(folder / "train" / "metrics.jsonl", [r.to_row() for r in rows])
    attempts = [
        Attempt(id=f"s{i}@r1", seed_id=f"s{i}", round=1, depth=0, heuristic="deepen", original="o", kept=i > 0)
        for i in range(3)
    ]
    write_rows_atomic(exp / "evolve" / "rounds" / "round_1.jsonl", [a.to_row() for a in attempts])
    evals = {f"HumanEval/{i}": [{"base_status": PASS if i else "fail", "plus_status": PASS}] for i in range(4)}
    results = {"eval": evals, "n_tasks": 4, "pass_at_k": {"base": {"pass@1": 0.75}, "plus": {"pass@1": 0.75}}}
    write_json_atomic(exp / "test" / "base" / "humaneval+" / "eval" / "eval_results.json", results)
    write_json_atomic(exp / "manifest.json", {})


def test_the_report_reads_what_the_summary_writer_writes(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    _experiment(exp)
    config = SimpleNamespace(
        name="tiny",
        student="default",
        student_label=None,
        dev_benchmark="mbpp-dev",
        dev_limit=2,
        test_benchmarks=["humaneval+"],
        temperature=0.0,
        n=1,
    )
    finished = {f"{stage}/round_{k}" for stage in ("dataset", "train") for k in (0, 1)}
    dev = {0: {"pass@1": 0.5, "passed": 1, "n": 2}, 1: {"pass@1": 1.0, "passed": 2, "n": 2}}
    state = SimpleNamespace(reached=[0, 1], best_round=1, finished=finished, dev=dev, test=[("base", "humaneval+")])
    summary = write_summary(config, exp, state)
    assert summary == json.loads((exp / "summary.json").read_text())

    experiment = load_experiment(exp)
    assert experiment.missing == []
    assert experiment.name == "tiny" and experiment.best_round == 1 and experiment.dev["n_tasks"] == 2
    assert [r.n_pairs for r in experiment.rounds] == [3, 4]
    assert [r.dev_pass1 for r in experiment.rounds] == [50.0, 100.0]
    assert experiment.rounds[1].losses == [(1.0, 1.9), (2.0, 1.8)]
    assert experiment.rounds[1].heuristics == {"deepen": (3, 2)}
    assert experiment.rounds[1].eliminations == {"None": 1}
    assert set(experiment.models) == {"base", "seed-sft", "evol-sft"}
    scores = {s.benchmark: s for s in experiment.scores}
    assert set(scores) == {"humaneval", "humaneval+"}
    assert scores["humaneval+"].passed == 3 and scores["humaneval+"].n == 4
    assert scores["humaneval+"].setting.mode == "greedy"


# ---- a last line cut by a kill ------------------------------------------------------------------


def _cut_file(path: Path, rows: list[dict]) -> bytes:
    whole = "".join(json.dumps(row) + "\n" for row in rows).encode()
    path.write_bytes(whole + json.dumps(rows[0]).encode()[:9])
    return whole


def test_every_reader_drops_a_cut_last_line(tmp_path: Path) -> None:
    """The resuming readers drop it and cut it from the file; the report, which writes nothing, only skips it."""
    samples = [SampleRow.from_row({"task_id": f"t{i}", "sample_index": 0}).to_row() for i in range(2)]
    path = tmp_path / "samples.jsonl"
    whole = _cut_file(path, samples)
    assert read_existing(path) == {("t0", 0), ("t1", 0)}
    assert path.read_bytes() == whole

    verdicts = [Verdict.from_row({"run": "k", "key": f"{i}:x"}).to_row() for i in range(2)]
    path = tmp_path / "verdicts.jsonl"
    whole = _cut_file(path, verdicts)
    assert set(read_done(path, "k")) == {"0:x", "1:x"}
    assert path.read_bytes() == whole

    config = SimpleNamespace(output_dir=tmp_path / "evolve")
    path = config.output_dir / "rounds" / "round_1.jsonl"
    path.parent.mkdir(parents=True)
    attempts = [Attempt(id=f"s{i}@r1", seed_id=f"s{i}", round=1, depth=0, heuristic="h", original="o") for i in (0, 1)]
    whole = _cut_file(path, [a.to_row() for a in attempts])
    assert set(read_round(config, 1)) == {"s0@r1", "s1@r1"}
    assert path.read_bytes() == whole

    metrics = [Metrics(step=s, epoch=0.0, loss=1.0, num_tokens=0, time=0.0).to_row() for s in (1, 2)]
    path = tmp_path / "metrics.jsonl"
    cut = _cut_file(path, metrics)
    before = path.read_bytes()
    missing: list[str] = []
    assert _losses(path, 1, missing) == [(1.0, 1.0), (2.0, 1.0)] and missing == []
    assert path.read_bytes() == before  # the report leaves the file alone
    assert read_rows(path, trim=False) == [(1, metrics[0]), (2, metrics[1])]
    assert read_metrics(path) == metrics
    assert path.read_bytes() == cut


def test_a_bad_whole_line_is_each_readers_call(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"task_id": "t", "sample_index": 0}\nnot json\n[1]\n\n')
    assert read_rows(path) == [(1, {"task_id": "t", "sample_index": 0}), (2, None), (3, None)]
    assert read_done(path, "k") == {}  # verdicts: skipped
    with pytest.raises(Exception, match=r"rows.jsonl:2: not a row written by evolcoder generate"):
        read_existing(path)  # a samples file to append to: refused


# ---- writing a whole file ------------------------------------------------------------------------


def test_atomic_write_leaves_the_old_file_on_error(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write("half")
        raise RuntimeError("killed")
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_atomic_write_makes_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.pkl"
    with atomic_write(path, "wb", chmod=0o600) as f:
        f.write(b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == b"x"

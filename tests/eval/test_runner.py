"""evaluate(): real samples judged in the real sandbox against the real benchmark data.

Ground truth (the reference solutions' outputs on the EvalPlus inputs) is cached in a temporary
folder shared by the tests of this module, so it is computed once per benchmark and task.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from evolcoder.bench import get_benchmark
from evolcoder.bench.base import Task
from evolcoder.data.fetch import data_dir_from_env
from evolcoder.errors import UserError
from evolcoder.eval.config import EvalConfig
from evolcoder.eval.runner import evaluate, read_done
from evolcoder.execution.values import to_jsonable

BENCHMARKS = ["humaneval", "humaneval+", "mbpp", "mbpp+"]
SUBSET = 8  # tasks per benchmark in the quick tests
ENTRY_KEYS = {"task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests"}
FAILURE_KEYS = {"base_failure", "plus_failure"}  # evolcoder's own, beside EvalPlus's keys


pytestmark = pytest.mark.usefixtures("private_cache")


_loaded: dict[str, list[Task]] = {}


def tasks_of(benchmark: str) -> list[Task]:
    if benchmark not in _loaded:
        _loaded[benchmark] = get_benchmark(benchmark).load(data_dir_from_env())
    return _loaded[benchmark]


def task(benchmark: str, task_id: str) -> Task:
    return next(t for t in tasks_of(benchmark) if t.task_id == task_id)


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def config(benchmark: str, samples: Path, **overrides) -> EvalConfig:
    options = dict(
        benchmark=benchmark,
        samples=samples,
        output_dir=samples.parent / "out",
        data_dir=data_dir_from_env(),
        workers=2,
        progress=False,
    )
    options.update(overrides)
    return EvalConfig(**options)


def run(benchmark: str, rows: list[dict], folder: Path, **overrides) -> dict:
    samples = write_samples(folder / "samples.jsonl", rows)
    return evaluate(config(benchmark, samples, **overrides))


def verdict_lines(folder: Path) -> list[bytes]:
    return (folder / "out" / "verdicts.jsonl").read_bytes().splitlines(keepends=True)


# ---------------------------------------------------------------------------------------------
# Solutions, right and wrong
# ---------------------------------------------------------------------------------------------


def reference(t: Task) -> dict:
    return {"task_id": t.task_id, "solution": t.reference}


def returns_none(t: Task) -> dict:
    """A completion: HumanEval's prompt ends inside the function, the others' prompts do not."""
    if t.task_id.startswith("HumanEval/"):
        return {"task_id": t.task_id, "completion": "    return None\n"}
    return {"task_id": t.task_id, "completion": f"\ndef {t.entry_point}(*args):\n    return None\n"}


def raises(t: Task) -> dict:
    code = f"def {t.entry_point}(*args, **kwargs):\n    raise RuntimeError('broken')\n"
    return {"task_id": t.task_id, "solution": code}


def liar(t: Task) -> dict:
    """Returns an object that claims to equal anything."""
    code = textwrap.dedent(
        f"""
        class Liar:
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = object.__hash__

        def {t.entry_point}(*args, **kwargs):
            return Liar()
        """
    )
    return {"task_id": t.task_id, "solution": code}


def lying_list(t: Task) -> dict:
    """Returns a list subclass that claims to equal anything (its real contents: [])."""
    code = textwrap.dedent(
        f"""
        class LyingList(list):
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = object.__hash__

        def {t.entry_point}(*args, **kwargs):
            return LyingList()
        """
    )
    return {"task_id": t.task_id, "solution": code}


def right_then_wrong(t: Task, n: int) -> dict:
    """The reference, answering right on the first ``n`` outside calls and wrong after."""
    wrapper = textwrap.dedent(
        f"""

        _real = {t.entry_point}
        _calls = 0
        _depth = 0

        def {t.entry_point}(*args, **kwargs):
            global _calls, _depth
            if _depth:  # the reference calling itself
                return _real(*args, **kwargs)
            _calls += 1
            _depth += 1
            try:
                result = _real(*args, **kwargs)
            finally:
                _depth -= 1
            return result if _calls <= {n} else "__wrong__"
        """
    )
    return {"task_id": t.task_id, "solution": t.reference + wrapper}


def calls_before_last_test(t: Task) -> int:
    """For base-only benchmarks: right on every test call but the last one."""
    if t.kind == "asserts":
        return len(t.asserts) - 1
    return t.test.count("candidate(") - 1


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def test_config_defaults_and_checks(tmp_path: Path) -> None:
    cfg = EvalConfig(benchmark="mbpp", samples=str(tmp_path / "gen.jsonl"))
    assert cfg.samples == tmp_path / "gen.jsonl"
    assert cfg.resolved_output_dir() == tmp_path / "gen_eval"
    assert cfg.k == [1, 10, 100]
    assert EvalConfig(benchmark="mbpp", samples="x", output_dir=str(tmp_path)).resolved_output_dir() == tmp_path
    for bad in (
        dict(benchmark="apps"),
        dict(benchmark="humaneval", workers=0),
        dict(benchmark="humaneval", k=[]),
        dict(benchmark="humaneval", k=[1, 0]),
        dict(benchmark="humaneval", min_time_limit=0),
        dict(benchmark="humaneval", time_limit_factor=-1),
    ):
        with pytest.raises(ValueError):
            EvalConfig(samples=tmp_path / "s.jsonl", **bad)


# ---------------------------------------------------------------------------------------------
# Right and wrong solutions on a subset of each benchmark
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_references_pass_and_broken_solutions_fail(benchmark: str, tmp_path: Path) -> None:
    subset = tasks_of(benchmark)[:SUBSET]
    plus = benchmark.endswith("+")
    kinds = {
        "reference": reference,
        "returns_none": returns_none,
        "raises": raises,
        "liar": liar,
        "lying_list": lying_list,
        "right_then_wrong": lambda t: right_then_wrong(t, len(t.base_inputs) if plus else calls_before_last_test(t)),
    }
    rows, labels = [], []
    for t in subset:
        for label, make in kinds.items():
            rows.append(make(t))
            labels.append((t.task_id, label))
    results = run(benchmark, rows, tmp_path)

    # the schema
    saved = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert saved["eval"] == results["eval"]
    assert saved["pass_at_k"] == results["pass_at_k"]
    assert results["benchmark"] == benchmark
    assert results["subset"] is True
    assert results["n_tasks"] == SUBSET
    assert results["n_tasks_total"] == len(tasks_of(benchmark))
    assert results["n_samples"] == len(rows)
    assert set(results["pass_at_k"]) == {"base", "plus"}
    assert list(results["eval"]) == [t.task_id for t in subset]
    for entries in results["eval"].values():
        assert len(entries) == len(kinds)
        for entry in entries:
            assert set(entry) == ENTRY_KEYS | FAILURE_KEYS
            assert (entry["base_failure"] is None) == (entry["base_status"] == "pass")

    # the verdicts, in the order of the samples file
    statuses = {}
    for t in subset:
        entries = results["eval"][t.task_id]
        assert [e["solution"] for e in entries] == [
            r.get("solution", t.prompt + r.get("completion", "")) for r in rows if r["task_id"] == t.task_id
        ]
        for label, entry in zip(kinds, entries, strict=True):
            statuses[(t.task_id, label)] = (entry["base_status"], entry["plus_status"])
            assert entry["task_id"] == t.task_id
    for (task_id, label), (base, plus_status) in statuses.items():
        if label == "reference":
            assert base == "pass", (task_id, label)
            assert plus_status == ("pass" if plus else None), (task_id, label)
        elif label == "right_then_wrong" and plus:
            assert (base, plus_status) == ("pass", "fail"), (task_id, label)
        else:
            assert base == "fail", (task_id, label)
            assert plus_status == ("fail" if plus else None), (task_id, label)

    # failing tests are reported
    for t in subset:
        by_label = dict(zip(kinds, results["eval"][t.task_id], strict=True))
        ok = by_label["reference"]
        assert ok["base_fail_tests"] == [] and ok["plus_fail_tests"] == []
        assert by_label["raises"]["base_fail_tests"]
        wrong = by_label["right_then_wrong"]
        if plus:
            assert wrong["base_fail_tests"] == []
            assert wrong["plus_fail_tests"] == [to_jsonable(t.plus_inputs[len(t.base_inputs)])]
        elif t.kind == "asserts":
            assert wrong["base_fail_tests"] == [t.asserts[-1]]
        else:
            assert len(wrong["base_fail_tests"]) == 1

    # pass@1: per task, 1 (or, on + benchmarks, 2 in base) of the samples pass
    n = len(kinds)
    assert list(results["pass_at_k"]["base"]) == ["pass@1"]  # 10 and 100 need more samples
    assert results["pass_at_k"]["base"]["pass@1"] == pytest.approx((2 if plus else 1) / n)
    if plus:
        assert results["pass_at_k"]["plus"] == {"pass@1": pytest.approx(1 / n)}
    else:
        assert results["pass_at_k"]["plus"] == {}


def test_pass_at_k_of_a_mix(tmp_path: Path) -> None:
    a, b = task("humaneval+", "HumanEval/0"), task("humaneval+", "HumanEval/7")
    first_n = right_then_wrong(a, len(a.base_inputs))
    rows = [
        reference(a),  # A0 base pass, plus pass
        returns_none(b),  # B0 fail
        returns_none(a),  # A1 fail
        reference(b),  # B1 pass
        first_n,  # A2 base pass, plus fail
        raises(b),  # B2 fail
        raises(a),  # A3 fail
        liar(b),  # B3 fail
    ]
    results = run("humaneval+", rows, tmp_path, k=[1, 2, 10])

    eval_a = results["eval"]["HumanEval/0"]
    eval_b = results["eval"]["HumanEval/7"]
    assert [e["solution"] for e in eval_a] == [
        a.reference,
        a.prompt + "    return None\n",
        first_n["solution"],
        rows[6]["solution"],
    ]
    assert [e["solution"] for e in eval_b] == [
        b.prompt + "    return None\n",
        b.reference,
        rows[5]["solution"],
        rows[7]["solution"],
    ]
    assert [e["base_status"] for e in eval_a] == ["pass", "fail", "pass", "fail"]
    assert [e["plus_status"] for e in eval_a] == ["pass", "fail", "fail", "fail"]
    assert [e["base_status"] for e in eval_b] == ["fail", "pass", "fail", "fail"]

    def formula(n: int, c: int, k: int) -> float:
        return 1 - math.comb(n - c, k) / math.comb(n, k)

    base, plus = results["pass_at_k"]["base"], results["pass_at_k"]["plus"]
    assert set(base) == set(plus) == {"pass@1", "pass@2"}  # no pass@10 with 4 samples per task
    assert base["pass@1"] == pytest.approx((0.5 + 0.25) / 2)
    assert base["pass@2"] == pytest.approx((formula(4, 2, 2) + formula(4, 1, 2)) / 2)
    assert base["pass@2"] == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert plus["pass@1"] == pytest.approx(0.25)
    assert plus["pass@2"] == pytest.approx(formula(4, 1, 2))
    assert results["n_tasks"] == 2 and results["n_samples"] == 8 and results["subset"] is True


def test_an_eval_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    """It pauses the collector while it loads and freezes what it loaded while it judges (runner,
    system.long_lived_data); a caller that evaluates again and again (``evolcoder run``) gets the
    collector back, with nothing left frozen."""
    import gc

    a = task("humaneval+", "HumanEval/0")
    results = run("humaneval+", [reference(a), returns_none(a)], tmp_path)
    assert [e["base_status"] for e in results["eval"]["HumanEval/0"]] == ["pass", "fail"]
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_uneven_sample_counts_limit_k(tmp_path: Path) -> None:
    a, b = task("mbpp", "Mbpp/11"), task("mbpp", "Mbpp/12")
    rows = [reference(a), raises(a), reference(a), reference(b)]
    results = run("mbpp", rows, tmp_path, k=[1, 2])
    # Mbpp/12 has one sample only, so pass@2 cannot be reported
    assert results["pass_at_k"]["base"] == {"pass@1": pytest.approx((2 / 3 + 1) / 2)}
    assert results["pass_at_k"]["plus"] == {}
    assert [e["base_status"] for e in results["eval"]["Mbpp/11"]] == ["pass", "fail", "pass"]


@pytest.mark.parametrize(
    ("benchmark", "task_id"),
    [("humaneval", "HumanEval/1"), ("humaneval+", "HumanEval/1"), ("mbpp", "Mbpp/12"), ("mbpp+", "Mbpp/2")],
)
def test_objects_overriding_eq_fail(benchmark: str, task_id: str, tmp_path: Path) -> None:
    t = task(benchmark, task_id)
    lying_str = textwrap.dedent(
        f"""
        class LyingStr(str):
            def __eq__(self, other):
                return True

            __hash__ = str.__hash__

        def {t.entry_point}(*args, **kwargs):
            return LyingStr("not the answer")
        """
    )
    # A liar that also answers for the reflected comparison and for every dunder a test may use.
    everything = textwrap.dedent(
        f"""
        class Everything:
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            def __hash__(self):
                return 0

            def __iter__(self):
                return iter(())

            def __len__(self):
                return 0

        def {t.entry_point}(*args, **kwargs):
            return Everything()
        """
    )
    rows = [liar(t), lying_list(t), {"task_id": task_id, "solution": lying_str}]
    rows.append({"task_id": task_id, "solution": everything})
    rows.append(reference(t))
    results = run(benchmark, rows, tmp_path)
    entries = results["eval"][task_id]
    assert [e["base_status"] for e in entries] == ["fail", "fail", "fail", "fail", "pass"]


@pytest.mark.parametrize("benchmark", ["humaneval+", "mbpp+"])
def test_failing_samples_do_not_disturb_concurrent_ones(benchmark: str, tmp_path: Path) -> None:
    """Wrong samples stop their sandbox early (fail fast) while the other worker runs a right one."""
    subset = tasks_of(benchmark)[:4]
    rows = [make(t) for _ in range(3) for t in subset for make in (reference, raises, returns_none)]
    results = run(benchmark, rows, tmp_path)
    for t in subset:
        statuses = [(e["base_status"], e["plus_status"]) for e in results["eval"][t.task_id]]
        assert statuses == [("pass", "pass"), ("fail", "fail"), ("fail", "fail")] * 3, t.task_id


def test_solutions_that_misbehave_fail(tmp_path: Path) -> None:
    t = task("humaneval+", "HumanEval/3")
    rows = [
        {"task_id": t.task_id, "solution": "def below_zero(operations):\n    return False\n  oops"},  # syntax
        {"task_id": t.task_id, "solution": "import sys\nsys.exit(0)\n"},  # exits while loading
        {"task_id": t.task_id, "solution": "def other(operations):\n    return False\n"},  # no entry point
        {"task_id": t.task_id, "solution": "def below_zero(ops):\n    raise SystemExit(0)\n"},
        {"task_id": t.task_id, "solution": t.reference + "\nprint('noise')\n"},  # printing is fine
    ]
    results = run("humaneval+", rows, tmp_path)
    entries = results["eval"][t.task_id]
    assert [e["base_status"] for e in entries] == ["fail", "fail", "fail", "fail", "pass"]
    assert entries[-1]["plus_status"] == "pass"


def test_cpu_bound_solution_times_out(tmp_path: Path) -> None:
    t = task("humaneval+", "HumanEval/3")
    spin = "def below_zero(operations):\n    while True:\n        pass\n"
    results = run("humaneval+", [{"task_id": t.task_id, "solution": spin}], tmp_path, min_time_limit=0.2)
    [entry] = results["eval"][t.task_id]
    assert entry["base_status"] in ("timeout", "fail")
    assert entry["base_status"] != "pass" and entry["plus_status"] != "pass"


# ---------------------------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------------------------


def _keys(lines: list[bytes]) -> list[str]:
    return [json.loads(line)["key"] for line in lines]


def test_resume_only_judges_new_samples(tmp_path: Path) -> None:
    subset = tasks_of("humaneval")[:3]
    first = [reference(t) for t in subset] + [returns_none(subset[0])]
    run("humaneval", first, tmp_path)
    lines = verdict_lines(tmp_path)
    assert len(lines) == 4

    # Tamper with a stored verdict: if it is not judged again, the tampered status shows.
    # (Verdicts are written as they finish, so find the first sample's line by its key.)
    [index] = [i for i, line in enumerate(lines) if json.loads(line)["key"].startswith("1:")]
    row = json.loads(lines[index])
    assert row["task_id"] == "HumanEval/0" and row["base_status"] == "pass"
    row["base_status"] = "fail"
    lines[index] = (json.dumps(row) + "\n").encode()
    (tmp_path / "out" / "verdicts.jsonl").write_bytes(b"".join(lines))

    more = first + [raises(subset[1]), reference(subset[1]), reference(tasks_of("humaneval")[3])]
    results = run("humaneval", more, tmp_path)
    after = verdict_lines(tmp_path)
    assert len(after) == 7
    assert after[:4] == lines  # byte-identical: earlier rows were not written again
    keys = _keys(after)
    assert len(set(keys)) == len(keys)
    assert results["n_samples"] == 7
    assert [e["base_status"] for e in results["eval"]["HumanEval/0"]] == ["fail", "fail"]  # the tampered row
    assert [e["base_status"] for e in results["eval"]["HumanEval/1"]] == ["pass", "fail", "pass"]

    # Once more, nothing left to do
    again = run("humaneval", more, tmp_path)
    assert verdict_lines(tmp_path) == after
    assert again["eval"] == results["eval"]
    assert again["pass_at_k"] == results["pass_at_k"]


def test_resume_drops_a_truncated_last_line(tmp_path: Path) -> None:
    subset = tasks_of("mbpp+")[:4]
    rows = [reference(t) for t in subset]
    run("mbpp+", rows, tmp_path)
    lines = verdict_lines(tmp_path)
    assert len(lines) == 4
    # Simulate a kill in the middle of writing the last line.
    cut = b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2]
    (tmp_path / "out" / "verdicts.jsonl").write_bytes(cut)

    results = run("mbpp+", rows, tmp_path)
    after = verdict_lines(tmp_path)
    assert len(after) == 4
    assert after[:3] == lines[:3]
    assert all(line.endswith(b"\n") for line in after)
    parsed = [json.loads(line) for line in after]  # every line is whole JSON again
    assert sorted(r["key"] for r in parsed) == sorted(r["key"] for r in map(json.loads, lines))
    assert results["n_samples"] == 4
    assert all(e["base_status"] == e["plus_status"] == "pass" for es in results["eval"].values() for e in es)


def test_changed_samples_are_judged_again(tmp_path: Path) -> None:
    a = task("humaneval", "HumanEval/2")
    run("humaneval", [reference(a), raises(a)], tmp_path)
    # Same line, other content: a new sample; the old verdict is ignored.
    results = run("humaneval", [reference(a), reference(a)], tmp_path)
    assert len(verdict_lines(tmp_path)) == 3
    assert [e["base_status"] for e in results["eval"]["HumanEval/2"]] == ["pass", "pass"]
    assert results["n_samples"] == 2


def test_other_settings_are_refused_and_a_new_folder_is_the_way_out(tmp_path: Path) -> None:
    subset = tasks_of("mbpp")[:2]
    rows = [reference(t) for t in subset] + [raises(subset[0])]
    run("mbpp", rows, tmp_path)
    before = b"".join(verdict_lines(tmp_path)), (tmp_path / "out" / "eval_results.json").read_bytes()
    with pytest.raises(UserError, match=r"--details False → True: cannot resume .*use a new --output-dir"):
        run("mbpp", rows, tmp_path, details=True)
    with pytest.raises(UserError, match=r"--benchmark 'mbpp' → 'mbpp\+'"):
        run("mbpp+", rows, tmp_path)  # another benchmark's folder is not overwritten
    assert (b"".join(verdict_lines(tmp_path)), (tmp_path / "out" / "eval_results.json").read_bytes()) == before
    results = run("mbpp", rows, tmp_path, details=True, output_dir=tmp_path / "details")
    assert results["n_samples"] == 3
    assert [e["base_status"] for e in results["eval"]["Mbpp/11"]] == ["pass", "fail"]
    # with --details every failing assert is listed
    assert results["eval"]["Mbpp/11"][1]["base_fail_tests"] == list(subset[0].asserts)


def test_read_done(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.jsonl"
    assert read_done(path, "run-a") == {}
    rows = [
        {"run": "run-a", "key": "1:aa", "base_status": "pass"},
        {"run": "run-b", "key": "2:bb", "base_status": "pass"},
        {"run": "run-a", "key": "3:cc", "base_status": "fail"},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    text += "not json\n" + json.dumps({"run": "run-a"}) + "\n" + "[1, 2]\n"
    whole = text.encode()
    path.write_bytes(whole + b'{"run": "run-a", "key": "4:d')  # cut short
    done = read_done(path, "run-a")
    assert set(done) == {"1:aa", "3:cc"}
    assert done["3:cc"]["base_status"] == "fail"
    assert path.read_bytes() == whole  # the cut line is gone, the rest untouched
    assert set(read_done(path, "run-b")) == {"2:bb"}
    assert path.read_bytes() == whole


# ---------------------------------------------------------------------------------------------
# Every reference solution (slow; still run by default)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_every_reference_solution_passes(benchmark: str, tmp_path: Path) -> None:
    tasks = tasks_of(benchmark)
    results = run(benchmark, [reference(t) for t in tasks], tmp_path)
    assert results["n_samples"] == results["n_tasks"] == results["n_tasks_total"] == len(tasks)
    assert results["subset"] is False
    failed = Counter()
    for task_id, entries in results["eval"].items():
        [entry] = entries
        if entry["base_status"] != "pass":
            failed[f"{task_id} base {entry['base_status']}: {entry['base_fail_tests']}"[:300]] += 1
        if benchmark.endswith("+") and entry["plus_status"] != "pass":
            failed[f"{task_id} plus {entry['plus_status']}: {entry['plus_fail_tests']}"[:300]] += 1
    assert not failed, "reference solutions failed:\n" + "\n".join(failed)
    assert results["pass_at_k"]["base"] == {"pass@1": 1.0}
    assert results["pass_at_k"]["plus"] == ({"pass@1": 1.0} if benchmark.endswith("+") else {})

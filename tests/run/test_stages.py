"""Stage records and skip decisions with cheap fake stages; the real stage builders' input hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolcoder.run.config import RunConfig
from evolcoder.run.pipeline import best_evolved_round, dataset_stage, dev_gen_stage, evolve_stage, train_stage
from evolcoder.run.stages import Progress, Stage, hash_file, hash_json, read_record, run_stage


class Counter:
    """Fake stages writing ``<name>.txt`` from their inputs, counting how often each one ran."""

    def __init__(self, exp: Path) -> None:
        self.exp = exp
        self.runs: dict[str, int] = {}

    def stage(self, name: str, inputs: dict, fail: bool = False) -> Stage:
        out = self.exp / f"{name}.txt"

        def work() -> None:
            self.runs[name] = self.runs.get(name, 0) + 1
            out.write_text(out.read_text() + "+" if out.exists() else repr(inputs))
            if fail:
                raise KeyboardInterrupt  # a kill in the middle of the stage

        return Stage(name, "fake", inputs, [f"{name}.txt"], work, lambda: hash_file(out))

    def pipeline(self, a: int, b: int) -> None:
        """Two chained stages: ``second`` reads ``first``'s output hash."""
        first = run_stage(self.exp, self.stage("first", {"a": a}))
        run_stage(self.exp, self.stage("second", {"b": b, "first": first}))


def test_an_unchanged_stage_is_skipped_and_a_changed_one_reruns_with_its_dependents(tmp_path: Path) -> None:
    fake = Counter(tmp_path)
    fake.pipeline(1, 1)
    fake.pipeline(1, 1)
    assert fake.runs == {"first": 1, "second": 1}
    fake.pipeline(1, 2)  # only the second stage's own input changed
    assert fake.runs == {"first": 1, "second": 2}
    fake.pipeline(2, 2)  # the first changed, so its output hash and the second's input changed
    assert fake.runs == {"first": 2, "second": 3}
    assert (tmp_path / "first.txt").read_text() == "{'a': 2}"  # rerun afresh: old output removed first
    record = read_record(tmp_path, "second")
    assert record["status"] == "complete" and record["input_hash"] == hash_json(record["inputs"])


def test_a_killed_stage_resumes_in_place_and_a_deleted_output_reruns(tmp_path: Path) -> None:
    fake = Counter(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path, fake.stage("first", {"a": 1}, fail=True))
    assert read_record(tmp_path, "first")["status"] == "running"
    run_stage(tmp_path, fake.stage("first", {"a": 1}))
    assert (tmp_path / "first.txt").read_text() == "{'a': 1}+"  # the partial output was kept, resumed
    (tmp_path / "first.txt").unlink()
    run_stage(tmp_path, fake.stage("first", {"a": 1}))
    assert fake.runs["first"] == 3
    (tmp_path / "first.txt").write_text("edited by hand")
    run_stage(tmp_path, fake.stage("first", {"a": 1}))
    assert fake.runs["first"] == 4 and (tmp_path / "first.txt").read_text() == "{'a': 1}"


def test_a_killed_stage_with_other_inputs_starts_afresh(tmp_path: Path) -> None:
    fake = Counter(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path, fake.stage("first", {"a": 1}, fail=True))
    run_stage(tmp_path, fake.stage("first", {"a": 2}))
    assert (tmp_path / "first.txt").read_text() == "{'a': 2}"


def test_the_eta_uses_durations_by_kind(tmp_path: Path) -> None:
    progress = Progress(tmp_path, [("a", "train"), ("b", "train"), ("c", "eval")], enabled=False)
    assert progress.eta() is None
    progress.finished(Stage("a", "train", {}, [], lambda: None, lambda: None), 10.0)
    assert progress.eta() == 20.0  # b: 10 s like a; c: no eval measured yet, the overall mean
    progress.finished(Stage("c", "eval", {}, [], lambda: None, lambda: None), 2.0)
    assert progress.eta() == 10.0
    progress.drop({"b"})
    assert progress.eta() == 0.0


def _hashes(config: RunConfig, exp: Path) -> dict[str, str]:
    """Input hashes of the real round-1 stages, with fixed upstream output hashes."""
    stages = [
        evolve_stage(config, exp, 1, "seeds", []),
        dataset_stage(config, exp, 1, "seeds", ["evolved"]),
        train_stage(config, exp, 1, "data"),
        dev_gen_stage(config, exp, 1, "model"),
    ]
    return {stage.kind: hash_json(stage.inputs) for stage in stages}


def test_what_each_option_changes(tmp_path: Path) -> None:
    base = _hashes(RunConfig(output_dir=tmp_path), tmp_path)

    def changed(**values) -> set[str]:
        other = _hashes(RunConfig(output_dir=tmp_path, **values), tmp_path)
        return {kind for kind in base if base[kind] != other[kind]}

    assert changed(train={"learning_rate": 1e-3}) == {"train"}  # and dev, test through the train hash
    assert changed(train_preset="paper") == {"train"}
    assert changed(evolve={"temperature": 0.3}) == {"evolve"}
    assert changed(evolve={"dedup_threshold": 0.5}) == {"dataset"}
    assert changed(dev_max_new_tokens=7) == {"dev-gen"}
    assert changed(test_max_new_tokens=7, teacher_concurrency=1, gen_concurrency=1, eval_workers=1) == set()


def test_the_best_round_is_an_evolved_one_and_ties_go_to_the_earliest() -> None:
    dev = {0: {"pass@1": 0.5}, 1: {"pass@1": 0.2}, 2: {"pass@1": 0.3}, 3: {"pass@1": 0.3}}
    assert best_evolved_round(dev) == 2
    assert best_evolved_round({0: {"pass@1": 0.1}}) is None

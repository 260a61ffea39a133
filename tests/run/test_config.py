"""RunConfig: the shipped presets, the layers (preset < file < flags), its checks, the dev set, dry runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from evolcoder.bench import BENCHMARKS, get_benchmark
from evolcoder.errors import UserError
from evolcoder.presets import PRESET_ROOT
from evolcoder.run.config import RunConfig, load_run_config, parse_options, preset_names
from evolcoder.run.dryrun import dry_run


def test_every_shipped_preset_loads() -> None:
    assert set(preset_names()) >= {"cpu-mini", "paper"}
    for name in preset_names():
        config = load_run_config(name, None, {})
        assert config.name == name
        keys = set(yaml.safe_load((PRESET_ROOT / "run" / f"{name}.yaml").read_text()))
        assert keys <= set(RunConfig.__dataclass_fields__)


def test_cpu_mini_and_paper_say_what_the_issue_asks() -> None:
    mini = load_run_config("cpu-mini", None, {})
    assert (mini.teacher_backend, mini.teacher, mini.student, mini.gen_backend) == (
        "llamacpp",
        "default",
        "default",
        "llamacpp",
    )
    assert mini.train_config(Path("d"), Path("o")).lora and mini.train["max_steps"] <= 60
    assert mini.dev_limit == 40 and mini.test_benchmarks == ["humaneval+", "mbpp+"] and mini.test_limit
    paper = load_run_config("paper", None, {})
    assert (paper.student, paper.teacher_backend, paper.gen_backend) == ("bigcode/starcoder", "openai", "vllm")
    train = paper.train_config(Path("d"), Path("o"))
    assert (train.batch_size, train.learning_rate, train.epochs, train.max_length) == (512, 2e-5, 3.0, 2048)
    assert paper.accelerate_config.is_file() and paper.rounds == 3


def test_layers_flags_over_file_over_preset_and_options_merge(tmp_path: Path) -> None:
    file = tmp_path / "run.yaml"
    file.write_text("rounds: 2\ntrain: {learning_rate: 0.001}\nevolve: {answer_max_tokens: 99}\n")
    flags = {"rounds": 1, "output_dir": None, "train": parse_options(["max_steps=3"], "--train-option")}
    config = load_run_config("cpu-mini", file, flags)
    assert config.rounds == 1 and config.seed_limit == 100  # flag, then preset
    assert config.train == {"max_steps": 3, "save_steps": 15, "learning_rate": 0.001}
    assert config.evolve == {"evolve_max_tokens": 256, "answer_max_tokens": 99}
    assert config.output_dir == Path("runs/cpu-mini")
    # an empty value is the empty text, as `--decontaminate ''` gives it: an empty list, decontamination off
    flags = {"evolve": parse_options(["decontaminate=", "verify_attempts=2"], "--evolve-option"), "verify": "tests"}
    evolve = load_run_config("cpu-mini", None, flags).evolve_config(tmp_path, 1)
    assert evolve.decontaminate == [] and evolve.verify == "tests" and evolve.verify_attempts == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rounds": 0}, "--rounds"),
        ({"patience": 0}, "--patience"),
        ({"gen_backend": "sglang"}, "--gen-backend"),
        ({"gen_backend": "llamacpp", "student": "bigcode/starcoder"}, "--gen-backend llamacpp: only students"),
        ({"teacher_backend": "nope"}, "--teacher-backend"),
        ({"train": {"learning_rate": -1}}, "train: --learning-rate"),
        ({"train": {"output_dir": "x"}}, "set by the run itself"),
        ({"evolve": {"rounds": 4}}, "use --rounds"),
        ({"evolve": {"verify": "tests"}}, "use --verify"),
        ({"verify": "maybe"}, "--verify 'maybe' is unknown"),
        ({"evolve": {"telepathy": 1}}, "evolve: .*telepathy"),
        ({"teacher_backend": "openai", "teacher_base_url": None}, "--teacher-base-url"),
    ],
)
def test_bad_options_name_what_to_change(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        RunConfig(**values)


def test_unknown_yaml_keys_and_presets_are_errors(tmp_path: Path) -> None:
    file = tmp_path / "run.yaml"
    file.write_text("roundz: 2\n")
    with pytest.raises(UserError, match="unknown option 'roundz'"):
        load_run_config(None, file, {})
    with pytest.raises(UserError, match="cpu-mini"):
        load_run_config("cpu-maxi", None, {})


def test_the_dev_set_is_mbpp_train_and_validation_never_test() -> None:
    assert BENCHMARKS["mbpp-dev"] == "evolcoder.bench.mbpp_dev"
    dev = get_benchmark("mbpp-dev").load(None)
    numbers = [int(task.task_id.split("/")[1]) for task in dev]
    assert numbers == list(range(511, 975))
    test_ids = {task.task_id for task in get_benchmark("mbpp").load(None)}
    assert not test_ids & {task.task_id for task in dev}
    assert all(task.kind == "asserts" and task.asserts and task.entry_point for task in dev)


def test_paper_dry_run_validates_everything_without_a_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real data folder plus a stand-in for Code Alpaca 20k (not shipped offline; it has no checksum).
    data = tmp_path / "data"
    data.mkdir()
    for item in Path(os.environ["EVOLCODER_DATA_DIR"]).iterdir():
        (data / item.name).symlink_to(item)
    (data / "code_alpaca_20k.json").write_text('[{"instruction": "Add two numbers.", "input": "", "output": "a+b"}]')
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    config = load_run_config("paper", None, {"output_dir": tmp_path / "exp", "data_dir": data})
    report = dry_run(config)
    assert report.ok, report.problems
    text = "\n".join(report.checks)
    assert "DEEPSPEED ZeRO-3, 8 processes" in text and "full fine-tuning, batch 512, lr 2e-05" in text
    assert "key from $OPENAI_API_KEY (set)" in text
    assert report.plan[0].startswith("dataset/round_0") and any("evolve/round_3" in line for line in report.plan)
    assert not (tmp_path / "exp").exists()  # nothing started, nothing written


def test_dry_run_reports_missing_pieces(tmp_path: Path) -> None:
    config = load_run_config(
        "paper", None, {"output_dir": tmp_path / "exp", "accelerate_config": tmp_path / "missing.yaml"}
    )
    problems = "\n".join(dry_run(config).problems)
    assert "code_alpaca_20k" in problems and "--accelerate-config" in problems
    with pytest.raises(UserError, match=r"unknown benchmark 'humaneval\+\+'"):
        from evolcoder.run.pipeline import resolve_test_benchmarks

        resolve_test_benchmarks(RunConfig(test_benchmarks=["humaneval++"]))
    with pytest.raises(UserError, match="the dev set"):
        resolve_test_benchmarks(RunConfig(test_benchmarks=["mbpp-dev"]))

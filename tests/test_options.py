"""The option layer: every config field is one flag with help and its default shown; typed YAML whose
errors name the file, line and key (exit 2); layers; the CLI derived from the dataclasses."""

from __future__ import annotations

from dataclasses import MISSING
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from evolcoder import options
from evolcoder.cli import app
from evolcoder.errors import UserError
from evolcoder.eval.config import EvalConfig
from evolcoder.evol.config import EvolveConfig
from evolcoder.generate.config import ExtractConfig, GenerateConfig
from evolcoder.presets import preset_path
from evolcoder.report.config import ReportConfig
from evolcoder.run.config import RunConfig
from evolcoder.train.config import TrainConfig

COMMANDS = {
    "eval": EvalConfig,
    "generate": GenerateConfig,
    "extract": ExtractConfig,
    "evolve": EvolveConfig,
    "train": TrainConfig,
    "run": RunConfig,
    "report": ReportConfig,
}


def _params(command: str) -> list[click.Parameter]:
    group = typer.main.get_command(app)
    return group.commands[command].params  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_field_is_one_flag_with_help_and_its_default(command: str) -> None:
    params = _params(command)
    for spec in options.specs(COMMANDS[command]):
        matching = [p for p in params if spec.main_flag in p.opts or (spec.positional and p.name == spec.name)]
        assert len(matching) == 1, f"{command}: {spec.name} has {len(matching)} flags"
        param = matching[0]
        assert param.help and len(param.help) > 5, f"{command} {spec.main_flag} has no help"
        if spec.required:
            assert "(required)" in param.help
        elif spec.default not in (None, [], {}) or spec.show_default:
            shown = param.show_default is True and param.default is not None or isinstance(param.show_default, str)
            assert shown, f"{command} {spec.main_flag}"
    flags = [opt for p in params for opt in p.opts]
    assert len(flags) == len(set(flags))


def test_help_shows_defaults_and_required() -> None:
    result = CliRunner().invoke(app, ["generate", "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for default in ("0.95", "512", "llamacpp", "OPENAI_API_KEY"):
        assert f"default: {default}" in text
    assert text.count("(required)") == 2  # --benchmark and --output


def _run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("learning_rate: fast\n", ":1: learning_rate: expected a number, got 'fast'"),
        ('seed: 3\nlora: "no"\n', ":2: lora: expected true or false, got 'no'"),
        ("max_steps: 1.5\n", ":1: max_steps: expected a whole number"),
        ("epochs: 1\nlearning_rat: 1.0e-3\n", ":2: unknown option 'learning_rat'"),
        ("lr_scheduler: cosine\nbatching: sorted\n", ":2: batching: 'sorted' is unknown; choose one of"),
        ("max_steps: 0\n", ":1: max_steps: must be at least 1"),
        ("epochs: [1\nlora: true\n", ": YAML syntax error"),
        ("- a\n- b\n", ":1: expected a mapping of option names to values"),
        ("seed: 1\nseed: 2\n", ":2: seed: set twice"),
    ],
)
def test_typed_yaml_errors_name_file_line_and_key(tmp_path: Path, yaml_text: str, expected: str) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml_text)
    code, stderr = _run_cli(["train", "--config", str(config), "--data", "x", "--output-dir", str(tmp_path / "o")])
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"evolcoder: error: {config}:")
    assert expected in lines[0]


def test_flag_defaults_do_not_override_the_yaml_through_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("name: tiny\nrounds: 1\nprogress: false\ntest_benchmarks: [humaneval+]\n")
    args = ["run", "--config", str(config), "--output-dir", str(tmp_path / "exp"), "--dry-run", "--n", "1"]
    result = CliRunner().invoke(app, args, env={"EVOLCODER_DATA_DIR": "/nonexistent"})
    assert "experiment tiny in" in result.output  # the YAML's name, not the flag's default "run"
    assert "test benchmarks humaneval+," not in result.output and "humaneval+" in result.output


def test_yaml_exponent_without_a_dot_is_a_number(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("learning_rate: 2e-5\nlora: no\n")  # PyYAML reads 2e-5 as text, `no` as false
    loaded = options.load_config(TrainConfig, config_file=config, flags={"data": "x", "output_dir": tmp_path})
    assert loaded.learning_rate == 2e-5 and isinstance(loaded.learning_rate, float)
    assert loaded.lora is False


def test_not_utf8_config_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_bytes(b"seed: \xff\n")
    with pytest.raises(UserError, match=r"bad\.yaml: not UTF-8"):
        options.read_yaml(config, TrainConfig)


def test_run_sections_are_typed_with_lines(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("rounds: 1\ntrain:\n  max_steps: 2\n  lora: 'no'\nevolve:\n  telepathy: 1\n")
    with pytest.raises(UserError) as error:
        options.read_yaml(config, RunConfig)
    assert str(error.value) == f"{config}:4: train.lora: expected true or false, got 'no'"
    config.write_text("evolve:\n  temperature: 0.2\n  telepathy: 1\n")
    with pytest.raises(UserError, match=r":3: unknown option 'evolve\.telepathy'"):
        options.read_yaml(config, RunConfig)


def test_layers_defaults_preset_yaml_flags(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("rounds: 2\ntrain:\n  max_steps: 3\n")
    flags = {"rounds": None, "temperature": 0.5, "train": ["learning_rate=1e-4"]}
    loaded = options.load_config(RunConfig, config_file=config, flags=flags, preset="cpu-mini", preset_kind="run")
    assert loaded.rounds == 2  # YAML over the preset's 3
    assert loaded.temperature == 0.5  # the flag
    assert loaded.seed_limit == 100  # the preset, over the default None
    preset_train = options.read_yaml(preset_path("run", "cpu-mini"), RunConfig)["train"]
    assert "learning_rate" not in preset_train
    assert loaded.train == {**preset_train, "max_steps": 3, "learning_rate": 1e-4}  # merged key by key


def test_a_users_yaml_works_as_a_preset(tmp_path: Path) -> None:
    own = tmp_path / "mine.yaml"
    own.write_text("epochs: 2.0\nlearning_rate: 3.0e-4\n")
    config = TrainConfig(preset=str(own), data="x", output_dir=tmp_path)
    assert (config.epochs, config.learning_rate, config.batch_size) == (2.0, 3e-4, 32)
    with pytest.raises(UserError, match="--preset 'nope' is neither a shipped train preset"):
        TrainConfig(preset="nope", data="x", output_dir=tmp_path)


def test_configs_built_in_code_are_checked_too() -> None:
    with pytest.raises(UserError, match="--temperature must be at least 0"):
        GenerateConfig(benchmark="humaneval", output=Path("x"), temperature=-1)
    with pytest.raises(UserError, match="--benchmark 'humaneval2' is unknown; choose one of"):
        EvalConfig(benchmark="humaneval2", samples=Path("x"))
    config = EvalConfig(benchmark="mbpp", samples="s.jsonl", k=[1], library=[])  # type: ignore[arg-type]
    assert isinstance(config.samples, Path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["generate"], "--benchmark is required"),
        (["eval", "--benchmark", "mbpp"], "--samples is required"),
        (["run", "--train-option", "bogus=1", "--dry-run"], "train: unknown option 'bogus'"),
        (["run", "--train-option", "lora=maybe", "--dry-run"], "train: --lora: expected true or false"),
        (["run", "--evolve-option", "nokey", "--dry-run"], "--evolve-option: expected KEY=VALUE"),
        (["evolve", "--output-dir", "x", "--decontaminate", "humaneval,jax"], "'jax' is unknown"),
        (["train", "--preset", "fast", "--data", "x", "--output-dir", "y"], "--preset 'fast'"),
    ],
)
def test_cli_user_errors_are_one_line_exit_2(args: list[str], expected: str) -> None:
    code, stderr = _run_cli(args)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert expected in stderr
    assert "Traceback" not in stderr and "__init__()" not in stderr


def test_a_bad_flag_value_is_typers_one_line_exit_2() -> None:
    result = CliRunner().invoke(app, ["eval", "--benchmark", "mbpp", "--samples", "x", "--workers", "many"])
    assert result.exit_code == 2
    assert "--workers" in result.stderr


def test_spec_defaults_match_the_dataclasses() -> None:
    for cls in COMMANDS.values():
        for spec in options.specs(cls):
            assert spec.help, f"{cls.__name__}.{spec.name} has no help"
            if spec.required:
                assert spec.default is MISSING

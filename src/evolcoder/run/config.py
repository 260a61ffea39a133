"""Options of ``evolcoder run``: one dataclass, mirrored by the YAML presets in ``configs/run/``.

Layers, lowest first: the dataclass defaults, ``--preset NAME`` (``configs/run/NAME.yaml``), the
``--config`` file, the flags. Two options are mappings passed on to the commands the run drives:
``evolve`` (``EvolveConfig`` options such as ``temperature`` or ``decontaminate``) and ``train``
(``TrainConfig`` options over ``train_preset``); a layer merges into them key by key. What the run
itself decides (folders, rounds, the teacher, the student, the data) cannot be set there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evolcoder.config import ConfigError
from evolcoder.evol.pipeline import EvolveConfig
from evolcoder.llm import BACKENDS
from evolcoder.train.config import TrainConfig

PRESET_DIR = Path(__file__).resolve().parents[3] / "configs" / "run"  # in a source checkout
GEN_BACKENDS = ("hf", "vllm", "llamacpp")  # what loads a trained HF folder (llamacpp: exported to GGUF)
PROMPT_STYLES = ("paper", "chat", "base")
OPTIONAL_BENCHMARKS = ("ds1000",)  # skipped with a note when absent, unless require_ds1000
# EvolveConfig / TrainConfig options the run sets itself (so they are not allowed in evolve: / train:).
EVOLVE_OWNED = {
    "output_dir": "--output-dir",
    "seed_data": "--seed-data",
    "limit": "--seed-limit",
    "rounds": "--rounds",
    "teacher_backend": "--teacher-backend",
    "teacher": "--teacher",
    "base_url": "--teacher-base-url",
    "api_key_env": "--teacher-api-key-env",
    "concurrency": "--teacher-concurrency",
    "data_dir": "--data-dir",
    "progress": "--progress",
}
TRAIN_OWNED = {
    "data": "(the round's dataset)",
    "output_dir": "--output-dir",
    "model": "--student",
    "preset": "--train-preset",
    "progress": "--progress",
    "resume": "(always resumes)",
}


@dataclass
class RunConfig:
    """Options of ``evolcoder run`` (see ``configs/run/*.yaml`` for both presets written out)."""

    name: str = "run"  # the experiment's name in summary.json and the report
    output_dir: Path | None = None  # the experiment folder EXP (default runs/<name>)
    # the teacher that evolves the instructions and answers them
    teacher_backend: str = "llamacpp"
    teacher: str = "default"
    teacher_base_url: str | None = None  # openai teacher: the server's /v1 URL
    teacher_api_key_env: str = "OPENAI_API_KEY"  # openai teacher: the variable holding the key
    teacher_concurrency: int = 8
    # seeds and evolution
    seed_data: str = "code_alpaca_2k"
    seed_limit: int | None = None  # the first K seeds
    rounds: int = 3  # K, the most evolution rounds
    patience: int = 1  # stop after this many rounds in a row without a higher dev pass@1
    evolve: dict[str, Any] = field(default_factory=dict)  # EvolveConfig options (temperature, decontaminate, ...)
    # the student: every round trains a fresh copy of it
    student: str = "default"  # 'default' (embedded SmolLM2-135M), an HF folder or hub id
    student_label: str | None = None  # how summary.json names the base model
    train_preset: str | None = "cpu-demo"
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig options over the preset
    accelerate_config: Path | None = None  # train under `accelerate launch --config_file` (DeepSpeed, FSDP)
    accelerate_args: list[str] = field(default_factory=list)  # e.g. [--num_processes, "8"]
    # generation, for the dev set and the test benchmarks
    gen_backend: str = "hf"
    gen_concurrency: int = 8
    prompt_style: str = "paper"  # for the instruction-tuned models (the paper's template)
    base_prompt_style: str = "paper"  # for the base model: chat for an instruct model, base for a plain one
    n: int = 1  # samples per task
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 0.95
    gen_seed: int = 0
    # the dev set that picks the round
    dev_benchmark: str = "mbpp-dev"
    dev_limit: int | None = None  # the first N dev tasks, in task-id order
    dev_max_new_tokens: int = 512
    # the test benchmarks: base model, SFT on the seed (round 0) and SFT on the best evolved round
    test_benchmarks: list[str] = field(default_factory=lambda: ["humaneval+", "mbpp+", "ds1000"])
    test_limit: int | None = None  # the first N tasks of each test benchmark
    test_max_new_tokens: int = 512
    require_ds1000: bool = False  # without it, ds1000 is skipped (with a note) when absent
    eval_workers: int | None = None  # sandboxes at once (default: every core)
    data_dir: Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir or Path("runs") / self.name)
        self.data_dir = Path(self.data_dir) if self.data_dir else None
        self.accelerate_config = _shipped(self.accelerate_config) if self.accelerate_config else None
        self.accelerate_args = [str(a) for a in self.accelerate_args]
        self.test_benchmarks = _as_list(self.test_benchmarks)
        self._check_choices()
        self._check_numbers()
        _check_owned(self.evolve, EVOLVE_OWNED, "evolve")
        _check_owned(self.train, TRAIN_OWNED, "train")
        self.evolve_config(Path("unused"), 1)  # the commands check their own options
        self.train_config(Path("unused"), Path("unused"))

    def _check_choices(self) -> None:
        if self.teacher_backend not in BACKENDS:
            raise ConfigError(
                f"--teacher-backend {self.teacher_backend!r} is unknown; choose one of: {', '.join(BACKENDS)}"
            )
        if self.gen_backend not in GEN_BACKENDS:
            raise ConfigError(
                f"--gen-backend {self.gen_backend!r}: trained models are HF folders; choose {', '.join(GEN_BACKENDS)}"
            )
        if self.gen_backend == "llamacpp" and self.student != "default":
            raise ConfigError(
                "--gen-backend llamacpp: only students of the embedded default are exported to GGUF;"
                " use --gen-backend hf or vllm for --student " + repr(self.student)
            )
        for flag, value in (("--prompt-style", self.prompt_style), ("--base-prompt-style", self.base_prompt_style)):
            if value not in PROMPT_STYLES:
                raise ConfigError(f"{flag} {value!r} is unknown; choose one of: {', '.join(PROMPT_STYLES)}")
        if self.teacher_backend == "openai" and not (self.teacher_base_url and self.teacher_api_key_env):
            raise ConfigError(
                "an openai teacher needs --teacher-base-url and --teacher-api-key-env (the key's variable)"
            )
        if not self.test_benchmarks:
            raise ConfigError("--test-benchmarks is empty; name at least one (humaneval+, mbpp+, ...)")

    def _check_numbers(self) -> None:
        if self.rounds < 1:
            raise ConfigError("--rounds must be at least 1")
        if self.patience < 1:
            raise ConfigError("--patience must be at least 1")
        for flag, value in (
            ("--seed-limit", self.seed_limit),
            ("--dev-limit", self.dev_limit),
            ("--test-limit", self.test_limit),
            ("--eval-workers", self.eval_workers),
        ):
            if value is not None and value < 1:
                raise ConfigError(f"{flag} must be at least 1")
        for flag, value in (
            ("--n", self.n),
            ("--teacher-concurrency", self.teacher_concurrency),
            ("--gen-concurrency", self.gen_concurrency),
            ("--dev-max-new-tokens", self.dev_max_new_tokens),
            ("--test-max-new-tokens", self.test_max_new_tokens),
        ):
            if value < 1:
                raise ConfigError(f"{flag} must be at least 1")

    # ---- the commands' own configs, built from this one -------------------------------------

    def evolve_config(self, output_dir: Path, rounds: int) -> EvolveConfig:
        try:
            return EvolveConfig(
                output_dir=output_dir,
                seed_data=self.seed_data,
                limit=self.seed_limit,
                rounds=rounds,
                teacher_backend=self.teacher_backend,
                teacher=self.teacher,
                base_url=self.teacher_base_url,
                api_key_env=self.teacher_api_key_env,
                concurrency=self.teacher_concurrency,
                data_dir=self.data_dir,
                progress=self.progress,
                **self.evolve,
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"evolve: {exc}") from None

    def train_config(self, data: Path, output_dir: Path) -> TrainConfig:
        try:
            return TrainConfig(
                data=str(data),
                output_dir=output_dir,
                model=self.student,
                preset=self.train_preset,
                progress=self.progress,
                **self.train,
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"train: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved options, JSON-ready (what manifest.json records)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


def _shipped(path: Path | str) -> Path:
    """A path as given, else (``configs/...`` from a preset, run elsewhere) the same path in the checkout."""
    path = Path(path).expanduser()
    beside_source = PRESET_DIR.parents[1] / path
    return beside_source if not path.is_absolute() and not path.exists() and beside_source.exists() else path


def _as_list(value: list[str] | str) -> list[str]:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return list(value)


def _check_owned(options: dict[str, Any], owned: dict[str, str], section: str) -> None:
    for key in options:
        if key in owned:
            raise ConfigError(f"{section}: {key!r} is set by the run itself; use {owned[key]}")


# ---- loading: preset < file < flags ----------------------------------------------------------


def preset_names() -> list[str]:
    return sorted(path.stem for path in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"--preset {name!r} is unknown; choose one of: {', '.join(preset_names())}")
    return path


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping of RunConfig options; unknown keys are an error naming the file."""
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    names = {f.name for f in dataclasses.fields(RunConfig)}
    values = {}
    for key, value in loaded.items():
        name = str(key).replace("-", "_")
        if name not in names:
            raise ConfigError(f"{path}: unknown option {key!r}; known: {', '.join(sorted(names))}")
        values[name] = value
    return values


def merge(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    """``upper`` wins; the ``evolve`` and ``train`` mappings merge key by key. None means "not given"."""
    merged = dict(lower)
    for key, value in upper.items():
        if value is None:
            continue
        if key in ("evolve", "train") and isinstance(value, dict):
            if not isinstance(merged.get(key) or {}, dict):
                raise ConfigError(f"{key}: expected a mapping of option names to values")
            merged[key] = {**(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    return merged


def parse_options(pairs: list[str] | None, flag: str) -> dict[str, Any] | None:
    """``KEY=VALUE`` flags (values read as YAML: 3, 0.5, true, [a, b]) as a mapping."""
    if not pairs:
        return None
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag}: expected KEY=VALUE, got {pair!r}")
        try:
            options[key.strip().replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{flag}: cannot read the value of {key.strip()!r}: {value!r}") from None
    return options


def load_run_config(preset: str | None, config_file: Path | None, flags: dict[str, Any]) -> RunConfig:
    """Build the config from the layers; every error is a ConfigError naming what to change."""
    values: dict[str, Any] = {}
    if preset:
        values = merge(values, read_yaml(preset_path(preset)))
    if config_file is not None:
        values = merge(values, read_yaml(config_file))
    values = merge(values, flags)
    try:
        return RunConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None

"""Options of ``evolcoder run``: one dataclass; the presets are YAML files of ``evolcoder/presets/run/``.

Layers, lowest first: the dataclass defaults, ``--preset NAME`` (``presets/run/NAME.yaml``), the
``--config`` file, the flags. Two options are mappings passed on to the commands the run drives:
``evolve`` (``EvolveConfig`` options such as ``temperature`` or ``decontaminate``) and ``train``
(``TrainConfig`` options over ``train_preset``); a layer merges into them key by key. What the run
itself decides (folders, rounds, the teacher, the student, the data) cannot be set there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolcoder import options, presets
from evolcoder.errors import UserError
from evolcoder.evol.config import EvolveConfig
from evolcoder.evol.verify import VERIFY_CHOICES
from evolcoder.llm import BACKENDS
from evolcoder.options import check, data_dir_option, option, progress_option
from evolcoder.presets import preset_path
from evolcoder.train.config import TrainConfig

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
    "verify": "--verify",
    "data_dir": "--data-dir",
    "progress": "--progress",
}
# Run options that do not shape the experiment's results (places, throughput, where a server is).
RUN_NOT_SHAPING = (
    "output_dir",
    "teacher_base_url",
    "teacher_api_key_env",
    "teacher_concurrency",
    "gen_concurrency",
    "eval_workers",
    "data_dir",
    "progress",
    "rerun_changed",
)
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
    """Options of ``evolcoder run`` (see ``presets/run/*.yaml`` for both presets written out)."""

    name: str = option("run", help="The experiment's name in summary.json and the report")
    output_dir: Path | None = option(None, help="The experiment folder EXP (resumes)", show_default="runs/<name>")
    # the teacher that evolves the instructions and answers them
    teacher_backend: str = option("llamacpp", help="What runs the teacher", choices=BACKENDS)
    teacher: str = option("default", help="Teacher model: 'default', a .gguf, a folder or a served model's name")
    teacher_base_url: str | None = option(None, help="openai teacher: the server's URL ending in /v1")
    teacher_api_key_env: str = option("OPENAI_API_KEY", help="openai teacher: the environment variable with the key")
    teacher_concurrency: int = option(8, help="Teacher requests in flight / sequences decoded together", min=1)
    # seeds and evolution
    seed_data: str = option("code_alpaca_2k", help="code_alpaca_2k, code_alpaca_20k, a file or hf:NAME")
    seed_limit: int | None = option(None, help="Only the first K seeds", min=1)
    rounds: int = option(3, help="At most K evolution rounds", min=1)
    patience: int = option(1, help="Rounds in a row without a higher dev pass@1 before stopping", min=1)
    verify: str = option(
        "none",
        help="Check the teacher's answers by execution (evolve --verify): 'run' runs them, 'tests' keeps only "
        "answers that pass asserts the teacher writes for them",
        choices=VERIFY_CHOICES,
    )
    evolve: dict[str, Any] = option(
        help="An evolve option over the preset, e.g. answer_max_tokens=256 or verify_attempts=2",
        flag="--evolve-option",
        section=EvolveConfig,
        default_factory=dict,
    )
    # the student: every round trains a fresh copy of it
    student: str = option("default", help="Base model: 'default' (embedded SmolLM2-135M), an HF folder or hub id")
    student_label: str | None = option(None, help="How the summary names the base model")
    train_preset: str | None = option("cpu-demo", help="The train preset: cpu-demo, paper or a YAML file")
    train: dict[str, Any] = option(
        help="A train option over the train preset, e.g. max_steps=20",
        flag="--train-option",
        section=TrainConfig,
        default_factory=dict,
    )
    accelerate_config: Path | None = option(
        None, help="Train under `accelerate launch` with this file or shipped accelerate preset (DeepSpeed, FSDP)"
    )
    accelerate_args: list[str] = option(help="Extra `accelerate launch` arguments", default_factory=list)
    # generation, for the dev set and the test benchmarks
    gen_backend: str = option(
        "hf", help="What generates with the trained models (llamacpp: the default student only)", choices=GEN_BACKENDS
    )
    gen_concurrency: int = option(8, help="Sequences generated together", min=1)
    prompt_style: str = option("paper", help="Prompt of the tuned models (the paper's template)", choices=PROMPT_STYLES)
    base_prompt_style: str = option(
        "paper",
        help="Prompt of the base model: chat for an instruct model, base for a plain one",
        choices=PROMPT_STYLES,
    )
    n: int = option(1, help="Samples per task", min=1)
    temperature: float = option(0.0, help="Sampling temperature; 0 = greedy", min=0)
    top_p: float = option(0.95, help="Nucleus sampling", above=0, max=1)
    gen_seed: int = option(0, help="Seed of the sampling")
    # the dev set that picks the round
    dev_benchmark: str = option("mbpp-dev", help="The dev set (mbpp-dev: Mbpp/511-974)")
    dev_limit: int | None = option(None, help="Only the first N dev tasks, in task-id order", min=1)
    dev_max_new_tokens: int = option(512, help="Tokens per dev answer, at most", min=1)
    # the test benchmarks: base model, SFT on the seed (round 0) and SFT on the best evolved round
    test_benchmarks: list[str] = option(
        help="Comma-separated or repeatable: humaneval+, mbpp+, ds1000 ...",
        default_factory=lambda: ["humaneval+", "mbpp+", "ds1000"],
    )
    test_limit: int | None = option(None, help="Only the first N tasks of each test benchmark", min=1)
    test_max_new_tokens: int = option(512, help="Tokens per test answer, at most", min=1)
    require_ds1000: bool = option(
        False, help="Fail when DS-1000 is absent, or skip it with a note", flag="--require-ds1000/--optional-ds1000"
    )
    eval_workers: int | None = option(None, help="Sandboxes at once", min=1, show_default="every core")
    data_dir: Path | None = data_dir_option()
    progress: bool = progress_option()
    rerun_changed: bool = option(
        False,
        help="Into a folder run with other settings: rerun the stages the change touches (else refused)",
        flag="--rerun-changed/--refuse-changed",
    )

    def __post_init__(self) -> None:
        check(self)
        self.output_dir = Path(self.output_dir or Path("runs") / self.name)
        self.accelerate_config = accelerate_path(self.accelerate_config) if self.accelerate_config else None
        self._check_choices()
        _check_owned(self.evolve, EVOLVE_OWNED, "evolve")
        _check_owned(self.train, TRAIN_OWNED, "train")
        self.evolve_config(Path("unused"), 1)  # the commands check their own options
        self.train_config(Path("unused"), Path("unused"))

    def _check_choices(self) -> None:
        if self.gen_backend == "llamacpp" and self.student != "default":
            raise UserError(
                "--gen-backend llamacpp: only students of the embedded default are exported to GGUF;"
                " use --gen-backend hf or vllm for --student " + repr(self.student)
            )
        if self.teacher_backend == "openai" and not (self.teacher_base_url and self.teacher_api_key_env):
            raise UserError("an openai teacher needs --teacher-base-url and --teacher-api-key-env (the key's variable)")
        if not self.test_benchmarks:
            raise UserError("--test-benchmarks is empty; name at least one (humaneval+, mbpp+, ...)")

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
                verify=self.verify,
                data_dir=self.data_dir,
                progress=self.progress,
                **self.evolve,
            )
        except UserError as exc:
            raise UserError(f"evolve: {exc}") from None

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
        except UserError as exc:
            raise UserError(f"train: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved options, JSON-ready (what manifest.json records)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


def accelerate_path(path: Path | str) -> Path:
    """The shipped accelerate preset of that name (``deepspeed_zero3_offload``), else the file as given
    (the dry run reports a missing one)."""
    try:
        return preset_path("accelerate", str(path), flag="--accelerate-config")
    except UserError:
        return Path(path).expanduser()


def _check_owned(options: dict[str, Any], owned: dict[str, str], section: str) -> None:
    for key in options:
        if key in owned:
            raise UserError(f"{section}: {key!r} is set by the run itself; use {owned[key]}")


# ---- loading: preset < file < flags ----------------------------------------------------------


def preset_names() -> list[str]:
    return presets.preset_names("run")


def merge(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    """``upper`` wins; the ``evolve`` and ``train`` mappings merge key by key. None means "not given"."""
    return options.merge(RunConfig, lower, upper)


def parse_options(pairs: list[str] | None, flag: str) -> dict[str, Any] | None:
    """``KEY=VALUE`` flags (values read as YAML: 3, 0.5, true, [a, b]) as a mapping."""
    if not pairs:
        return None
    try:
        return options.parse_pairs(pairs)
    except options.BadValue as exc:
        raise UserError(f"{flag}: {exc}") from None


def load_run_config(preset: str | None, config_file: Path | None, flags: dict[str, Any]) -> RunConfig:
    """Build the config from the layers; every error is a UserError naming what to change."""
    return options.load_config(RunConfig, config_file=config_file, flags=flags, preset=preset, preset_kind="run")

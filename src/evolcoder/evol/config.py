"""Options of ``evolcoder evolve``, each written once here, and what a resumed run must share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.errors import UserError
from evolcoder.evol.templates import DEFAULT_WEIGHTS, check_weights
from evolcoder.evol.verify import VERIFY_CHOICES
from evolcoder.llm import BACKENDS, SamplingParams
from evolcoder.options import check, data_dir_option, option, progress_option

# USD per million tokens (input, output), as published by OpenAI; override with --price-input/-output.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}

# What a resumed run must share with the run that wrote the records.
FROZEN_FIELDS = (
    "seed_data",
    "seed_columns",
    "limit",
    "teacher_backend",
    "teacher",
    "heuristic_weights",
    "seed",
    "temperature",
    "top_p",
    "evolve_max_tokens",
    "answer_max_tokens",
    "judge_equal",
    "verify",
    "verify_attempts",
    "verify_min_asserts",
    "tests_max_tokens",
)


@dataclass
class EvolveConfig:
    """Options of ``evolcoder evolve``."""

    output_dir: Path = option(help="Folder for the rounds and datasets (resumes)")
    seed_data: str = option(
        "code_alpaca_2k", help="Seed file (Code Alpaca JSON/JSONL), code_alpaca_2k, code_alpaca_20k or hf:NAME[:SPLIT]"
    )
    seed_columns: dict[str, str] = option(
        help="hf seeds: instruction=COL,input=COL,output=COL (our field -> the dataset's column)", default_factory=dict
    )
    limit: int | None = option(None, help="Only the first K seeds", min=1)
    rounds: int = option(1, help="Evolution rounds", min=1)
    teacher_backend: str = option("llamacpp", help="What runs the teacher", choices=BACKENDS)
    teacher: str = option("default", help="Teacher model: 'default', a .gguf, an HF folder or a served model's name")
    base_url: str | None = option(None, help="openai teacher: the server's URL ending in /v1")
    api_key_env: str = option("OPENAI_API_KEY", help="openai teacher: the environment variable holding the key")
    concurrency: int = option(8, help="Requests in flight / sequences decoded together", min=1)
    heuristic_weights: dict[str, float] = option(
        help="How often each heuristic is drawn, e.g. constraints=1,complexity=0.25",
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
    )
    seed: int = option(0, help="Seed of the heuristic draws and the teacher's sampling")
    temperature: float = option(0.7, help="The teacher's sampling temperature", min=0)
    top_p: float = option(0.95, help="The teacher's nucleus sampling", above=0, max=1)
    evolve_max_tokens: int = option(384, help="Token limit of a rewritten instruction", min=1)
    answer_max_tokens: int = option(1024, help="Token limit of an answer", min=1)
    judge_equal: bool = option(
        False,
        help="Ask the teacher whether each rewrite adds anything (one more call per pair)",
        flag="--judge-equal/--no-judge-equal",
    )
    verify: str = option(
        "none",
        help="Check each kept answer by execution: 'run' runs its Python in the sandbox, 'tests' also has the "
        "teacher write asserts for it, and keeps only answers that pass them; failures are eliminated",
        choices=VERIFY_CHOICES,
    )
    verify_attempts: int = option(
        3, help="--verify tests: answers tried per item (re-asks sample with another seed; not at temperature 0)", min=1
    )
    verify_min_asserts: int = option(3, help="--verify tests: fewest assert statements a test set may have", min=1)
    tests_max_tokens: int = option(512, help="--verify tests: token limit of the teacher's tests", min=1)
    sandbox_workers: int | None = option(
        None, help="Sandboxes running answers and tests at once", show_default="usable CPUs", min=1
    )
    decontaminate: list[str] = option(
        help="Benchmarks to decontaminate against, comma-separated ('' = off)",
        choices=("humaneval", "mbpp", "ds1000"),
        default_factory=lambda: ["humaneval", "mbpp", "ds1000"],
    )
    dedup_threshold: float = option(
        0.8, help="MinHash Jaccard above which a later instruction is a duplicate; 0 = off", min=0, max=1
    )
    max_tokens: int | None = option(None, help="Stop cleanly once the teacher has used this many tokens", min=1)
    max_cost: float | None = option(None, help="Stop cleanly once the estimated cost (USD) reaches this", above=0)
    price_input: float | None = option(None, help="USD per million prompt tokens", min=0)
    price_output: float | None = option(None, help="USD per million completion tokens", min=0)
    data_dir: Path | None = data_dir_option()
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        check(self)
        if isinstance(self.seed_columns, str):
            self.seed_columns = parse_mapping(self.seed_columns, "--seed-columns", str)
        if isinstance(self.heuristic_weights, str):
            self.heuristic_weights = DEFAULT_WEIGHTS | parse_mapping(
                self.heuristic_weights, "--heuristic-weights", float
            )
        self.heuristic_weights = check_weights(self.heuristic_weights)
        self.price()  # checks that a cost budget has prices
        self.sampling(self.evolve_max_tokens)  # checks the sampling flags

    def sampling(self, max_new_tokens: int, greedy: bool = False, try_number: int = 1) -> SamplingParams:
        """The teacher's sampling; try 2, 3, ... of ``--verify tests`` draws with the seed moved on by one each."""
        temperature = 0.0 if greedy else self.temperature
        return SamplingParams(max_new_tokens, temperature, self.top_p, 1, self.seed + try_number - 1)

    def price(self) -> tuple[float, float]:
        """USD per million (prompt, completion) tokens of the teacher."""
        if self.price_input is not None or self.price_output is not None:
            return (self.price_input or 0.0, self.price_output or 0.0)
        if self.teacher_backend != "openai":
            return (0.0, 0.0)  # a local model
        if self.teacher in PRICES:
            return PRICES[self.teacher]
        if self.max_cost is not None:
            raise UserError(f"--max-cost: no price known for {self.teacher!r}; set --price-input and --price-output")
        return (0.0, 0.0)


def parse_mapping(text: str, flag: str, kind: type) -> dict:
    """``"a=1,b=2"`` from the command line as a dict; the message names the flag."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag}: expected NAME=VALUE pairs separated by commas, got {part!r}")
        try:
            mapping[key.strip()] = kind(value.strip())
        except ValueError:
            raise UserError(f"{flag}: {key.strip()!r} needs a {kind.__name__} value, got {value.strip()!r}") from None
    return mapping


@dataclass
class EvolutionsConfig:
    """Options of ``evolcoder evolutions``: a look at what an evolve run made."""

    folder: Path = option(help="An evolve --output-dir, or an experiment folder of `evolcoder run`", positional=True)
    limit: int = option(3, help="Evolutions to show", min=0)
    heuristic: str | None = option(None, help="Only this heuristic's", choices=tuple(DEFAULT_WEIGHTS))
    eliminated: bool = option(
        False, help="Show eliminated attempts (with why) instead of kept ones", flag="--eliminated/--kept"
    )

    def __post_init__(self) -> None:
        check(self)

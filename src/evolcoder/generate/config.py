"""Options of ``evolcoder generate`` and ``evolcoder extract``, each written once here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evolcoder.bench import BENCHMARKS, traits
from evolcoder.bench.prompts import PROMPT_STYLES
from evolcoder.errors import UserError
from evolcoder.llm import BACKENDS, SamplingParams
from evolcoder.options import check, data_dir_option, option, progress_option

# The paper's template ends with "### Response:"; a completion model keeps going with new sections.
PAPER_STOPS = ("\n### Instruction", "\n### Input", "</s>")
BASE_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", '\n"""', "\nassert ")


@dataclass
class GenerateConfig:
    """Options of ``evolcoder generate``."""

    benchmark: str = option(help="The benchmark whose tasks are answered", choices=BENCHMARKS)
    output: Path = option(help="Samples JSONL to append to (resumes)")
    backend: str = option("llamacpp", help="What runs the model", choices=BACKENDS)
    model: str = option("default", help="'default' (embedded SmolLM2-135M), a .gguf path, an HF folder or hub id")
    prompt_style: str = option(
        "paper", help="The paper's Alpaca template, the chat template or the bare prompt", choices=PROMPT_STYLES
    )
    n: int = option(1, help="Samples per task", min=1)
    temperature: float = option(0.0, help="Sampling temperature; 0 = greedy", min=0)
    top_p: float = option(0.95, help="Nucleus sampling: the top tokens holding this much probability", above=0, max=1)
    max_new_tokens: int = option(512, help="Tokens per answer, at most", min=1)
    seed: int = option(0, help="Seed of the sampling")
    base_url: str | None = option(None, help="openai backend: the server's URL ending in /v1")
    api_key_env: str = option("OPENAI_API_KEY", help="openai backend: the environment variable holding the key")
    concurrency: int = option(8, help="Sequences decoded together (llamacpp, hf) or requests in flight (openai)", min=1)
    limit: int | None = option(None, help="Only the first K tasks", min=1)
    task_ids: list[str] = option(help="Only these tasks (repeatable)", default_factory=list)
    library: list[str] = option(
        help="DS-1000: only these libraries (repeatable, or comma-separated)", default_factory=list
    )
    data_dir: Path | None = data_dir_option()
    progress: bool = progress_option()

    def __post_init__(self) -> None:
        check(self)
        if self.library and not traits(self.benchmark).libraries:
            raise UserError("--library selects DS-1000 problems; it does not apply to " + self.benchmark)
        self.sampling()  # checks the sampling flags

    def sampling(self) -> SamplingParams:
        stops = PAPER_STOPS if self.prompt_style == "paper" else BASE_STOPS if self.prompt_style == "base" else ()
        own_stops = traits(self.benchmark).completion_stops
        if own_stops is not None and self.prompt_style == "base":
            stops = own_stops
        return SamplingParams(self.max_new_tokens, self.temperature, self.top_p, self.n, self.seed, stops)


@dataclass
class ExtractConfig:
    """Options of ``evolcoder extract``."""

    benchmark: str = option(help="The benchmark the answers are for", choices=BENCHMARKS)
    samples: Path = option(help="JSONL of {task_id, response|solution|completion}: generations made elsewhere")
    output: Path = option(help="JSONL of {task_id, solution, raw} for evolcoder eval")
    data_dir: Path | None = data_dir_option()

    def __post_init__(self) -> None:
        check(self)
        if self.output.resolve() == self.samples.resolve():
            raise UserError(f"--output {self.output} is the samples file itself; write the programs elsewhere")

"""The interface every backend implements: batched completion and chat requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from evolcoder.errors import UserError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class SamplingParams:
    """How to sample; ``temperature == 0`` means greedy."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1  # samples per prompt
    seed: int = 0  # sample j of a prompt uses seed + j
    stop: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise UserError("--max-new-tokens must be at least 1")
        if self.temperature < 0:
            raise UserError("--temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise UserError("--top-p must be in (0, 1]")
        if self.n < 1:
            raise UserError("--n must be at least 1")


@dataclass(frozen=True)
class Generation:
    """One sampled answer."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop sequence) or "length"


class Backend(Protocol):
    name: str

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt, ``params.n`` continuations."""
        ...

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        """For each conversation, ``params.n`` assistant replies (the model's chat template)."""
        ...

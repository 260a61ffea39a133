"""llama.cpp through llama-cpp-python: the default backend, on CPU with the embedded GGUF."""

from __future__ import annotations

import os
from typing import Any

from evolcoder.llm.base import Generation, Message, SamplingParams
from evolcoder.llm.models import resolve_gguf


class LlamaCppBackend:
    name = "llamacpp"

    def __init__(self, model: str = "default", n_ctx: int = 4096, n_threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ValueError("--backend llamacpp needs llama-cpp-python: pip install llama-cpp-python") from None
        self.model_path = resolve_gguf(model)
        self._llm = Llama(
            model_path=str(self.model_path),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count(),
            verbose=False,
        )

    def _sample_args(self, params: SamplingParams, j: int) -> dict[str, Any]:
        greedy = params.temperature == 0
        return {
            "max_tokens": params.max_new_tokens,
            "temperature": 0.0 if greedy else params.temperature,
            "top_p": 1.0 if greedy else params.top_p,
            "top_k": 1 if greedy else 0,
            "seed": params.seed + j,
            "stop": list(params.stop) or None,
        }

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        results = []
        for prompt in prompts:
            outs = []
            for j in range(params.n):
                self._llm.reset()
                response = self._llm.create_completion(prompt, **self._sample_args(params, j))
                outs.append(_generation(response, response["choices"][0]["text"]))
            results.append(outs)
        return results

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        results = []
        for messages in conversations:
            outs = []
            for j in range(params.n):
                self._llm.reset()
                response = self._llm.create_chat_completion(messages, **self._sample_args(params, j))
                outs.append(_generation(response, response["choices"][0]["message"]["content"] or ""))
            results.append(outs)
        return results


def _generation(response: dict, text: str) -> Generation:
    usage = response.get("usage") or {}
    return Generation(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=response["choices"][0].get("finish_reason") or "stop",
    )

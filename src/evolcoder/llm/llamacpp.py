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

    def _sample(self, requests: list, params: SamplingParams, create: Any, text_of: Any) -> list[list[Generation]]:
        """``params.n`` samples per request, each from a fresh state with its own seed."""
        results = []
        for request in requests:
            outs = []
            for j in range(params.n):
                self._llm.reset()
                response = create(request, **self._sample_args(params, j))
                outs.append(_generation(response, text_of(response["choices"][0])))
            results.append(outs)
        return results

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        return self._sample(prompts, params, self._llm.create_completion, lambda choice: choice["text"])

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        return self._sample(
            conversations,
            params,
            self._llm.create_chat_completion,
            lambda choice: choice["message"]["content"] or "",
        )


def _generation(response: dict, text: str) -> Generation:
    usage = response.get("usage") or {}
    return Generation(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=response["choices"][0].get("finish_reason") or "stop",
    )

"""Any OpenAI-compatible server: OpenAI, ``vllm serve``, the llama.cpp server.

Requests go out ``concurrency`` at a time; the official client retries 429, 5xx and timeouts
with exponential backoff (``max_retries``). The key comes from an environment variable.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evolcoder.errors import UserError
from evolcoder.llm.base import Generation, Message, SamplingParams


class OpenAICompatBackend:
    name = "openai"
    thread_safe = True  # calls may overlap: each is independent HTTP requests

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 600.0,
    ) -> None:
        try:
            import openai
        except ImportError:
            raise UserError("--backend openai needs the openai package: pip install openai") from None
        if concurrency < 1:
            raise UserError("--concurrency must be at least 1")
        self.model = model
        self.concurrency = concurrency
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or "none",  # local servers accept any key
            max_retries=max_retries,
            timeout=timeout,
        )

    def _args(self, params: SamplingParams, j: int) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": 1.0 if params.temperature == 0 else params.top_p,
            "seed": params.seed + j,
        }
        if params.stop:
            args["stop"] = list(params.stop)[:4]  # the API takes at most four
        return args

    def _map(self, fn, jobs: list) -> list:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(fn, jobs))

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        def one(job: tuple[str, int]) -> Generation:
            prompt, j = job
            response = self._client.completions.create(prompt=prompt, **self._args(params, j))
            return _generation(response, response.choices[0].text)

        flat = self._map(one, [(p, j) for p in prompts for j in range(params.n)])
        return [flat[i * params.n : (i + 1) * params.n] for i in range(len(prompts))]

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        def one(job: tuple[list[Message], int]) -> Generation:
            messages, j = job
            response = self._client.chat.completions.create(messages=messages, **self._args(params, j))
            return _generation(response, response.choices[0].message.content or "")

        flat = self._map(one, [(m, j) for m in conversations for j in range(params.n)])
        return [flat[i * params.n : (i + 1) * params.n] for i in range(len(conversations))]


def _generation(response: Any, text: str) -> Generation:
    usage = response.usage
    return Generation(
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        finish_reason=response.choices[0].finish_reason or "stop",
    )

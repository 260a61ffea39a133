"""vLLM's offline engine (``pip install 'evolcoder[vllm]'``), for GPUs: continuous batching, paged KV.

Imported only when ``--backend vllm`` is chosen, so the rest of evolcoder never needs vLLM installed.
vLLM schedules every prompt of a call itself; ``concurrency`` does not apply.
"""

from __future__ import annotations

from typing import Any

from evolcoder.errors import UserError
from evolcoder.llm.base import Generation, Message, SamplingParams

MISSING = "--backend vllm needs vLLM and a GPU: pip install 'evolcoder[vllm]'"


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise UserError(MISSING) from None
    return vllm


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str = "default", dtype: str = "auto", tensor_parallel_size: int = 1) -> None:
        vllm = import_vllm()
        from evolcoder.llm.convert import resolve_hf_model

        folder, extra = resolve_hf_model(model)
        if "gguf_file" in extra:  # vLLM reads a GGUF by its path, with the tokenizer beside it
            folder = f"{folder}/{extra['gguf_file']}"
        self._vllm = vllm
        self._llm = vllm.LLM(model=folder, dtype=dtype, tensor_parallel_size=tensor_parallel_size)

    def _params(self, params: SamplingParams) -> Any:
        greedy = params.temperature == 0
        return self._vllm.SamplingParams(
            n=params.n,
            temperature=0.0 if greedy else params.temperature,
            top_p=1.0 if greedy else params.top_p,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
            stop=list(params.stop) or None,
        )

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        outputs = self._llm.generate(prompts, self._params(params), use_tqdm=False)
        return [_generations(o) for o in outputs]

    def chat(self, conversations: list[list[Message]], params: SamplingParams) -> list[list[Generation]]:
        outputs = self._llm.chat(conversations, self._params(params), use_tqdm=False)
        return [_generations(o) for o in outputs]


def _generations(output: Any) -> list[Generation]:
    prompt_tokens = len(output.prompt_token_ids or [])
    return [
        Generation(
            text=choice.text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(choice.token_ids),
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )
        for choice in output.outputs
    ]

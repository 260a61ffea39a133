"""Backends by name, imported only when chosen (optional dependencies stay optional)."""

from __future__ import annotations

import importlib
from typing import Any

from evolcoder.errors import UserError
from evolcoder.llm.base import Backend

BACKENDS = {
    "llamacpp": "evolcoder.llm.llamacpp:LlamaCppBackend",
    "hf": "evolcoder.llm.hf:HFBackend",
    "openai": "evolcoder.llm.openai_compat:OpenAICompatBackend",
    "vllm": "evolcoder.llm.vllm_engine:VLLMBackend",
}


def make_backend(name: str, model: str = "default", **options: Any) -> Backend:
    if name not in BACKENDS:
        raise UserError(f"--backend {name!r} is unknown; choose one of: {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(model, **options)


def open_backend(
    name: str,
    model: str = "default",
    *,
    concurrency: int = 8,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
) -> Backend:
    """A backend from the options every command shares.

    ``concurrency`` is the one throughput knob: sequences decoded together (llamacpp), the batch
    size (hf) or requests in flight (openai); vLLM schedules its own batches.
    """
    if concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    options: dict[str, Any] = {
        "llamacpp": {"parallel": concurrency},
        "hf": {"batch_size": concurrency},
        "openai": {"base_url": base_url, "api_key_env": api_key_env, "concurrency": concurrency},
    }.get(name, {})
    return make_backend(name, model, **options)

"""Backends by name, imported only when chosen (optional dependencies stay optional)."""

from __future__ import annotations

import importlib
from typing import Any

from evolcoder.llm.base import Backend

BACKENDS = {
    "llamacpp": "evolcoder.llm.llamacpp:LlamaCppBackend",
    "openai": "evolcoder.llm.openai_compat:OpenAICompatBackend",
}


def make_backend(name: str, model: str = "default", **options: Any) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"--backend {name!r} is unknown; choose one of: {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(model, **options)

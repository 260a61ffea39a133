"""Language-model backends behind one small interface (teacher for evolve, model under test)."""

from evolcoder.llm.base import Backend, Generation, SamplingParams
from evolcoder.llm.registry import BACKENDS, make_backend, open_backend

__all__ = ["BACKENDS", "Backend", "Generation", "SamplingParams", "make_backend", "open_backend"]

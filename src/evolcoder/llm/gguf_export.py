"""A trained student back into GGUF, so llama.cpp can generate with it on a CPU.

transformers generates with SmolLM2-135M at about 14 tokens/s on two cores, a llama.cpp batch many
times faster; the dev and test generations of ``evolcoder run --preset cpu-mini`` are most of its
time. A model fine-tuned from the embedded GGUF keeps that file's architecture and tokenizer, so
this writes the fine-tuned weights into a copy of it: every metadata key (tokenizer, chat template,
hyperparameters) comes from the template, each tensor from the safetensors folder, under the
template's tensor names, with the query/key rows put back in llama.cpp's rotary order (the inverse
of what transformers undoes when it loads a GGUF). 1-D tensors stay float32; the rest are stored as
``q8_0`` (default), ``f16`` or ``f32``.

Other architectures are llama.cpp's own converter's job (``convert_hf_to_gguf.py``); a folder whose
shapes or tensors differ from the template is refused with that advice.

Exports are cached by the weights' sha256 (``cache_dir()/models/gguf``), written to a temporary
file and moved into place, so a kill never leaves a half-written model to load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolcoder.data import file_sha256
from evolcoder.data.fetch import cache_dir
from evolcoder.errors import UserError
from evolcoder.jsonl import atomic_path
from evolcoder.llm.models import default_gguf

EXPORT_TYPES = ("q8_0", "f16", "f32")
_FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7}  # llama.cpp's LlamaFileType
_WRITER_KEYS = ("GGUF.", "general.architecture", "general.file_type")  # the writer sets these itself


def cached_gguf(folder: Path, template: Path | None = None, qtype: str = "q8_0") -> Path:
    """The GGUF of ``folder`` (a transformers model fine-tuned from ``template``), exported once."""
    template = template or default_gguf()
    weights = _weights_file(folder)
    key = file_sha256(weights)[:16]
    out = cache_dir() / "models" / "gguf" / f"{folder.resolve().name}-{key}-{qtype}.gguf"
    if out.is_file():
        return out
    with atomic_path(out, chmod=0o644) as partial:  # the cache is shared like the converted models
        export_gguf(folder, template, partial, qtype)
    return out


def export_gguf(folder: Path, template: Path, out: Path, qtype: str = "q8_0") -> None:
    """Write ``folder``'s weights into a GGUF shaped like ``template``."""
    import gguf
    import numpy as np

    if qtype not in EXPORT_TYPES:
        raise UserError(f"GGUF export type {qtype!r}: choose one of {', '.join(EXPORT_TYPES)}")
    reader = gguf.GGUFReader(template)
    arch = reader.fields["general.architecture"].contents()
    config = json.loads((folder / "config.json").read_text())
    _check_shape(folder, template, reader, arch, config)
    tensors = _load_weights(folder)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], config["num_hidden_layers"])
    by_gguf_name = {}
    for hf_name, tensor in tensors.items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is not None:
            by_gguf_name[name] = (hf_name, tensor)

    writer = gguf.GGUFWriter(str(out), arch)
    for field in reader.fields.values():
        if field.name.startswith(_WRITER_KEYS):
            continue
        main = field.types[0]
        sub = field.types[-1] if main == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), main, sub_type=sub)
    writer.add_file_type(_FILE_TYPES[qtype])
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    for info in reader.tensors:
        if info.name not in by_gguf_name:
            raise UserError(
                f"{folder}: no weight for {info.name} of {template.name};"
                " convert it with llama.cpp's convert_hf_to_gguf.py"
            )
        hf_name, tensor = by_gguf_name[info.name]
        data = tensor.astype(np.float32)
        if arch == "llama" and info.name.endswith("attn_q.weight"):
            data = _rotary_order(data, heads)
        elif arch == "llama" and info.name.endswith("attn_k.weight"):
            data = _rotary_order(data, kv_heads)
        if data.ndim == 1 or qtype == "f32":
            writer.add_tensor(info.name, data)
        elif qtype == "f16":
            writer.add_tensor(info.name, data.astype(np.float16))
        else:
            kind = gguf.GGMLQuantizationType.Q8_0
            writer.add_tensor(info.name, gguf.quants.quantize(data, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _rotary_order(weights: Any, heads: int) -> Any:
    """llama.cpp's row order for a query/key projection: each head's two rotary halves interleaved."""
    rows = weights.shape[0]
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _check_shape(folder: Path, template: Path, reader: Any, arch: str, config: dict) -> None:
    keys = {
        "num_hidden_layers": "block_count",
        "hidden_size": "embedding_length",
        "intermediate_size": "feed_forward_length",
        "num_attention_heads": "attention.head_count",
    }
    expected = {"model_type": (config.get("model_type"), arch)}
    for field, key in keys.items():
        expected[field] = (config.get(field), reader.fields[f"{arch}.{key}"].contents())
    for field, (mine, theirs) in expected.items():
        if mine != theirs:
            raise UserError(
                f"{folder / 'config.json'}: {field} is {mine!r}, {template.name} has {theirs!r}: only models of the"
                " template's shape are exported; convert others with llama.cpp's convert_hf_to_gguf.py"
            )


def _weights_file(folder: Path) -> Path:
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise UserError(f"{folder}: no model.safetensors (sharded or .bin weights are not exported)")
    return weights


def _load_weights(folder: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(_weights_file(folder)))
    except (TypeError, ValueError):  # bfloat16 has no numpy dtype: go through torch
        from safetensors.torch import load_file as load_torch

        return {name: tensor.float().numpy() for name, tensor in load_torch(str(_weights_file(folder))).items()}

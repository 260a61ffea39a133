"""A fine-tuned student exported back to GGUF: the same weights for transformers, the same text from llama.cpp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from evolcoder.llm.base import SamplingParams
from evolcoder.llm.gguf_export import cached_gguf, export_gguf
from evolcoder.llm.models import default_gguf, resolve_gguf

PROMPT = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'


@pytest.fixture(scope="module")
def student(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model with every weight moved a little, as fine-tuning would: a new, known set of weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(default_model_dir, dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * parameter.std() * 0.05)
    folder = tmp_path_factory.mktemp("student")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(default_model_dir).save_pretrained(folder)
    return folder


def _logits(folder: Path, **options) -> torch.Tensor:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, **options)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **options).eval()
    with torch.no_grad():
        return model(tokenizer(PROMPT, return_tensors="pt").input_ids).logits


def test_float32_export_holds_the_students_weights(student: Path, default_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "student-f32.gguf"
    export_gguf(student, default_gguf(), out, "f32")
    expected = _logits(student)
    torch.testing.assert_close(_logits(out.parent, gguf_file=out.name), expected, rtol=1e-4, atol=1e-4)
    # the check has teeth: the student is not the model it started from
    assert (expected - _logits(default_model_dir)).abs().max() > 0.1


def test_llama_cpp_reads_the_export_as_transformers_does(default_model_dir: Path, private_cache: Path) -> None:
    """Teacher-forced on transformers' greedy continuation, llama.cpp on the q8_0 export picks the
    same next token at nearly every position (exact equality of whole generations is too strict:
    q8_0 rounding may flip a near tie, and the text diverges from there)."""
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evolcoder.llm.llamacpp import LlamaCppBackend

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    model = AutoModelForCausalLM.from_pretrained(default_model_dir, dtype=torch.float32).eval()
    prompt_ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        ids = model.generate(prompt_ids, max_new_tokens=32, do_sample=False)[0].tolist()
    n_prompt = prompt_ids.shape[1]
    gguf = resolve_gguf(str(default_model_dir))  # a model folder: exported (q8_0) into the cache
    assert gguf.parent == private_cache / "models" / "gguf" and gguf.suffix == ".gguf"
    llm = Llama(model_path=str(gguf), n_ctx=256, logits_all=True, verbose=False)
    llm.eval(ids[:-1])
    predicted = llm.scores[n_prompt - 1 : len(ids) - 1].argmax(axis=1).tolist()
    agreement = sum(a == b for a, b in zip(predicted, ids[n_prompt:], strict=True)) / len(predicted)
    assert agreement >= 0.9, (agreement, predicted, ids[n_prompt:])
    # The backend on the same export starts its greedy text as transformers does.
    text = LlamaCppBackend(str(default_model_dir), parallel=1).complete([PROMPT], SamplingParams(max_new_tokens=8))
    assert text[0][0].text.strip()[:12] == tokenizer.decode(ids[n_prompt:]).strip()[:12]


def test_exports_are_cached_by_the_weights(student: Path, private_cache: Path) -> None:
    first = cached_gguf(student)
    written = first.stat().st_mtime_ns
    assert cached_gguf(student) == first and first.stat().st_mtime_ns == written
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
    changed = student.parent / "changed"
    shutil.copytree(student, changed)
    from safetensors.torch import load_file, save_file

    weights = load_file(changed / "model.safetensors")
    weights["model.norm.weight"] += 1.0
    save_file(weights, changed / "model.safetensors", metadata={"format": "pt"})
    assert cached_gguf(changed) != first


def test_a_model_of_another_shape_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    refusal = r"config\.json: num_hidden_layers is 2, .* has 30.*convert_hf_to_gguf"
    with pytest.raises(ValueError, match=refusal) as error:
        export_gguf(tiny_model_dir, default_gguf(), tmp_path / "tiny.gguf")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="export type"):
        export_gguf(tiny_model_dir, default_gguf(), tmp_path / "tiny.gguf", "q4_k")

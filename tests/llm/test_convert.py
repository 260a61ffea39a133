"""The packaged GGUF converted for transformers: same tokenizer and (nearly) same model as llama.cpp sees."""

from __future__ import annotations

import json
import os
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from llama_cpp import Llama

from evolcoder.llm import SamplingParams, make_backend
from evolcoder.llm.convert import (
    MARKER,
    _exclusive_lock,
    _move_into_place,
    _remove_temp_folders,
    default_hf_model_dir,
    resolve_hf_model,
)
from evolcoder.llm.hf import HFBackend
from evolcoder.llm.models import default_gguf

CHAT = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
CODE = 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n\nprint(add(2, 3))  # 5 ü€\n'


@pytest.fixture(scope="module")
def hf(default_model_dir: Path) -> HFBackend:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOLCODER_CACHE_DIR", str(default_model_dir.parents[1]))
        backend = make_backend("hf", "default", batch_size=4)
    assert Path(backend.model.name_or_path) == default_model_dir  # the cached folder, not a second conversion
    return backend


@pytest.fixture(scope="module")
def llama():
    return make_backend("llamacpp", "default", n_ctx=1024)


def test_conversion_is_cached_and_complete(default_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = {p.name for p in default_model_dir.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", MARKER} <= names
    assert json.loads((default_model_dir / MARKER).read_text())["gguf"] == default_gguf().name
    assert "quantization_config" not in json.loads((default_model_dir / "config.json").read_text())
    assert not [p for p in default_model_dir.parent.iterdir() if p.is_dir() and p.name.startswith(".")]  # no tmp
    before = (default_model_dir / "model.safetensors").stat().st_mtime_ns
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(default_model_dir.parents[1]))
    assert default_hf_model_dir() == default_model_dir
    assert (default_model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_tokenizer_matches_llama_cpp(hf: HFBackend) -> None:
    text = hf.tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False) + CODE
    vocab = Llama(model_path=str(default_gguf()), vocab_only=True, verbose=False)
    try:
        expected = vocab.tokenize(text.encode(), add_bos=False, special=True)
    finally:
        vocab.close()
    assert hf.tokenizer(text, add_special_tokens=False)["input_ids"] == expected
    assert (hf.tokenizer.eos_token, hf.tokenizer.pad_token) == ("<|im_end|>", "<|im_end|>")


def test_greedy_chat_agrees_with_llama_cpp(hf: HFBackend, llama) -> None:
    """Q4_1 dot products in llama.cpp and float32 ones here differ a little: the start must agree."""
    params = SamplingParams(max_new_tokens=24)
    (ours,) = hf.chat([CHAT], params)[0]
    (theirs,) = llama.chat([CHAT], params)[0]
    assert ours.prompt_tokens == theirs.prompt_tokens
    assert "def " in ours.text and "def " in theirs.text
    first = hf.tokenizer(theirs.text, add_special_tokens=False)["input_ids"][:4]
    assert hf.tokenizer(ours.text, add_special_tokens=False)["input_ids"][:4] == first


def test_next_token_choices_agree_with_llama_cpp(hf: HFBackend, llama) -> None:
    """Teacher-forced on llama.cpp's greedy answer, our argmax should pick llama.cpp's token nearly everywhere."""
    (theirs,) = llama.chat([CHAT], SamplingParams(max_new_tokens=48))[0]
    prompt = hf.tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    prompt_ids = hf.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = hf.tokenizer(theirs.text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = hf.model(torch.tensor([prompt_ids + answer_ids])).logits[0]
    predicted = logits[len(prompt_ids) - 1 : -1].argmax(-1).tolist()
    agree = sum(p == a for p, a in zip(predicted, answer_ids, strict=True)) / len(answer_ids)
    assert len(answer_ids) >= 20 and agree >= 0.85


def test_resolve_hf_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = default_gguf()
    assert resolve_hf_model(str(gguf)) == (str(gguf.parent), {"gguf_file": gguf.name})
    (tmp_path / "config.json").write_text("{}")
    assert resolve_hf_model(str(tmp_path)) == (str(tmp_path), {})
    for missing in ("/nonexistent/model.gguf", str(tmp_path / "nope"), "./not-here", "a/b/c"):
        with pytest.raises(ValueError, match="--model .*no such file or folder"):
            resolve_hf_model(missing)
    with pytest.raises(ValueError, match="--model .*must be a .gguf"):
        resolve_hf_model(str(tmp_path / "config.json"))
    with pytest.raises(ValueError, match="--model .*not a Hugging Face model id"):
        resolve_hf_model("not a model!")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="--model 'evolcoder-test/no-such-model' is neither a local folder"):
        resolve_hf_model("evolcoder-test/no-such-model")


def test_an_interrupted_or_outdated_conversion_is_replaced(tmp_path: Path) -> None:
    """os.replace puts a finished folder in place; a folder without the right marker never counts as done."""
    source = {"gguf": "m.gguf", "size": 1}
    final = tmp_path / "model"
    final.mkdir()
    (final / "half-written").write_text("")  # what a non-atomic writer would leave behind
    for generation in ("new", "concurrent"):
        tmp = tmp_path / f".model.tmp-{generation}"
        tmp.mkdir()
        (tmp / MARKER).write_text(json.dumps(source))
        (tmp / generation).write_text("")
        _move_into_place(tmp, final, source)
    assert sorted(os.listdir(final)) == [MARKER, "new"]  # the second finished copy lost the race: kept the first


def test_temp_folders_of_killed_conversions_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "model"
    for name in (".model.tmp-killed", ".model.old-killed", ".other.tmp-x"):
        (tmp_path / name).mkdir()
    with _exclusive_lock(tmp_path / ".model.lock") as locked:
        assert locked
        _remove_temp_folders(final, all_of_them=False)  # without the lock: young folders may be in use
        assert len(list(tmp_path.iterdir())) == 4
        _remove_temp_folders(final, all_of_them=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", ".other.tmp-x"]

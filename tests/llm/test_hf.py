"""The hf backend on a tiny random Llama with SmolLM2's real tokenizer: batching, sampling, stops, chat."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from evolcoder.llm import SamplingParams, make_backend
from evolcoder.llm.hf import HFBackend, cut_at_stop, left_pad

PROMPTS = ["def add(a, b):\n", "x = 1\n", "# A function that reverses a string, and a test for it.\n", "1, 2, 3,"]
CHAT = [{"role": "user", "content": "Write a Python function that reverses a string."}]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model's matmuls are microseconds: a second thread only adds waiting (badly so on a busy CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer(default_model_dir: Path):
    return AutoTokenizer.from_pretrained(default_model_dir)


def save_tiny_llama(folder: Path, tokenizer, eos_token_id: int | list[int] | None = None) -> Path:
    """A 2-layer Llama with random weights (fixed seed, wide init so greedy choices have clear margins)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if eos_token_id is not None:
        model.generation_config.eos_token_id = eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tokenizer)


@pytest.fixture(scope="module")
def backend(tiny_dir: Path) -> HFBackend:
    return HFBackend(str(tiny_dir), batch_size=4)


def texts(results) -> list[list[str]]:
    return [[g.text for g in outs] for outs in results]


def test_batched_greedy_equals_one_prompt_at_a_time(backend: HFBackend, tiny_dir: Path) -> None:
    params = SamplingParams(max_new_tokens=12)
    one_by_one = HFBackend(str(tiny_dir), batch_size=1).complete(PROMPTS, params)
    batched = backend.complete(PROMPTS, params)
    assert batched == one_by_one
    assert len({g[0].text for g in batched}) == len(PROMPTS)  # the outputs really depend on the prompt


def test_rows_that_end_early_in_a_batch_are_cut_at_eos(tmp_path: Path, backend: HFBackend, tokenizer) -> None:
    """Declare a token the model emits as EOS: that row stops, the others keep going, all as if alone."""
    params = SamplingParams(max_new_tokens=12)
    prompt = tokenizer(PROMPTS[0], return_tensors="pt")
    with torch.inference_mode():
        output = backend.model.generate(**prompt, max_new_tokens=12, do_sample=False)
    generated = output[0, prompt["input_ids"].shape[1] :].tolist()
    eos = generated[3]
    cut = generated.index(eos)
    folder = save_tiny_llama(tmp_path, tokenizer, eos_token_id=[tokenizer.eos_token_id, eos])
    batched = HFBackend(str(folder), batch_size=4).complete(PROMPTS, params)
    assert batched == HFBackend(str(folder), batch_size=1).complete(PROMPTS, params)
    stopped = batched[0][0]
    assert stopped.finish_reason == "stop" and stopped.completion_tokens == cut
    assert stopped.text == tokenizer.decode(generated[:cut], skip_special_tokens=True)
    assert any(g[0].finish_reason == "length" for g in batched[1:])


def test_length_limit_and_token_counts(backend: HFBackend, tokenizer) -> None:
    results = backend.complete(PROMPTS, SamplingParams(max_new_tokens=7))
    for prompt, (generation,) in zip(PROMPTS, results, strict=True):
        assert generation.completion_tokens == 7 and generation.finish_reason == "length"
        assert generation.prompt_tokens == len(tokenizer(prompt)["input_ids"])
        assert generation.text


def test_sampling_is_seeded_per_sample_index(backend: HFBackend) -> None:
    params = SamplingParams(max_new_tokens=8, temperature=1.0, top_p=0.95, n=3, seed=11)
    first = backend.complete(PROMPTS, params)
    assert first == backend.complete(PROMPTS, params)
    assert all(len(outs) == 3 and len({g.text for g in outs}) == 3 for outs in first)
    # sample j uses seed + j: one sample with seed 12 is sample 1 of the run above
    second = backend.complete(PROMPTS, SamplingParams(max_new_tokens=8, temperature=1.0, top_p=0.95, n=1, seed=12))
    assert [outs[0] for outs in second] == [outs[1] for outs in first]
    other_seed = backend.complete(PROMPTS, SamplingParams(max_new_tokens=8, temperature=1.0, n=1, seed=99))
    assert [outs[0].text for outs in other_seed] != [outs[0].text for outs in first]


def test_greedy_gives_n_identical_answers(backend: HFBackend) -> None:
    (answers,) = backend.complete(PROMPTS[:1], SamplingParams(max_new_tokens=5, n=3))
    assert len(answers) == 3 and len(set(answers)) == 1


def test_stop_strings_cut_the_text_and_end_generation(backend: HFBackend) -> None:
    params = SamplingParams(max_new_tokens=16)
    full = backend.complete(PROMPTS, params)
    for prompt, (whole,) in zip(PROMPTS, full, strict=True):
        stop = whole.text.strip()[4:7]
        (cut,) = backend.complete([prompt], SamplingParams(max_new_tokens=16, stop=("never-seen", stop)))[0]
        assert cut.text == whole.text[: whole.text.index(stop)]
        assert cut.finish_reason == "stop" and cut.completion_tokens < 16


def test_chat_renders_the_template_once(backend: HFBackend, tokenizer) -> None:
    params = SamplingParams(max_new_tokens=6)
    (answer,) = backend.chat([CHAT], params)[0]
    rendered = tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    assert rendered.endswith("<|im_start|>assistant\n")
    assert answer.prompt_tokens == len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert backend.complete([rendered], params)[0][0] == answer
    assert answer.completion_tokens == 6 and answer.text


def test_registry_and_bad_options(tiny_dir: Path, tmp_path: Path) -> None:
    assert make_backend("hf", str(tiny_dir), batch_size=2).name == "hf"
    with pytest.raises(ValueError, match="--batch-size"):
        HFBackend(str(tiny_dir), batch_size=0)
    with pytest.raises(ValueError, match="--dtype"):
        HFBackend(str(tiny_dir), dtype="float8")
    with pytest.raises(ValueError, match="--device"):
        HFBackend(str(tiny_dir), device="abacus")
    with pytest.raises(ValueError, match="--model .*no config.json"):
        HFBackend(str(tmp_path))


def test_helpers() -> None:
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert cut_at_stop("abc\ndef\nghi", ("\ng", "\nd")) == ("abc", True)
    assert cut_at_stop("abc", ("x", "")) == ("abc", False)

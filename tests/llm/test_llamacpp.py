"""The llamacpp backend on the real embedded GGUF (SmolLM2-135M-Instruct), a few tokens at a time."""

from __future__ import annotations

import pytest

from evolcoder.bench.extract import extract_program, parses
from evolcoder.llm import SamplingParams, make_backend
from evolcoder.llm.models import default_gguf, resolve_gguf

PROMPT = 'def add(a, b):\n    """Add two numbers."""\n'


@pytest.fixture(scope="module")
def backend():
    return make_backend("llamacpp", "default", n_ctx=1024)


def test_default_model_is_the_packaged_gguf() -> None:
    path = default_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert resolve_gguf("default") == path


def test_greedy_completion_is_deterministic_and_bounded(backend) -> None:
    params = SamplingParams(max_new_tokens=16)
    first = backend.complete([PROMPT, "x = 1\n"], params)
    second = backend.complete([PROMPT, "x = 1\n"], params)
    assert [g[0].text for g in first] == [g[0].text for g in second]
    for (generation,) in first:
        assert 0 < generation.completion_tokens <= 16 and generation.prompt_tokens > 0
        assert generation.finish_reason in ("length", "stop")


def test_stop_sequences_end_the_text(backend) -> None:
    (generation,) = backend.complete(["1, 2, 3, 4,"], SamplingParams(max_new_tokens=30, stop=("8",)))[0]
    assert "8" not in generation.text and generation.finish_reason == "stop"


def test_chat_sampling_gives_n_answers_and_a_program_can_be_extracted(backend) -> None:
    messages = [{"role": "user", "content": "Write a Python function that reverses a string."}]
    params = SamplingParams(max_new_tokens=48, n=2, temperature=0.8, seed=3)
    (answers,) = backend.chat([messages], params)
    assert len(answers) == 2 and all(a.text for a in answers)
    assert any(parses(extract_program(a.text)) and "def " in extract_program(a.text) for a in answers)


def test_bad_choices_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="--backend"):
        make_backend("nope")
    with pytest.raises(ValueError, match="--model"):
        resolve_gguf("/nonexistent/model.bin")
    with pytest.raises(ValueError, match="--temperature"):
        SamplingParams(temperature=-1)


def test_one_slot_gives_exactly_llama_cpp_pythons_greedy_text() -> None:
    """With one sequence per decode, the kernels are those of llama-cpp-python's own loop."""
    from llama_cpp import Llama

    prompts = [PROMPT, "def fib(n):\n", "# sort a list\n"]
    single = make_backend("llamacpp", "default", n_ctx=512, parallel=1)
    ours = [g[0].text for g in single.complete(prompts, SamplingParams(max_new_tokens=40))]
    single.close()
    bare = Llama(str(default_gguf()), n_ctx=512, verbose=False)
    theirs = []
    for prompt in prompts:
        bare.reset()
        theirs.append(bare.create_completion(prompt, max_tokens=40, temperature=0.0)["choices"][0]["text"])
    bare.close()
    assert ours == theirs


def test_more_prompts_than_slots_all_come_back_in_order() -> None:
    backend = make_backend("llamacpp", "default", n_ctx=512, parallel=2)
    prompts = [f"# Python function number {i}: add {i} to x\ndef add_{i}(x):\n" for i in range(5)]
    params = SamplingParams(max_new_tokens=12, temperature=0.7, n=2, seed=11)
    first = backend.complete(prompts, params)
    again = backend.complete(prompts, params)
    assert [[g.text for g in gs] for gs in first] == [[g.text for g in gs] for gs in again]
    assert all(len(gs) == 2 for gs in first)
    assert all(0 < g.completion_tokens <= 12 and g.prompt_tokens > 10 for gs in first for g in gs)
    with pytest.raises(ValueError, match="context"):
        backend.complete(["word " * 600], params)
    backend.close()


def test_vllm_is_an_optional_extra_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)  # as on a machine without the extra
    with pytest.raises(ValueError, match=r"pip install 'evolcoder\[vllm\]'"):
        make_backend("vllm", "default")

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

"""Shared test set-up: the real benchmark data folder is required (missing fails, never skips).

``EVOLCODER_DATA_DIR`` defaults to ``../shared/data`` beside the repository; tests read it back
with ``evolcoder.data.fetch.data_dir_from_env()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("EVOLCODER_DATA_DIR", str(REPO.parent / "shared" / "data"))
    folder = Path(os.environ["EVOLCODER_DATA_DIR"])
    if not (folder / "HumanEval.jsonl.gz").is_file():
        raise pytest.UsageError(f"benchmark data folder {folder} is missing; set EVOLCODER_DATA_DIR")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One evolcoder cache per test module: ground truth is computed once per module."""
    return tmp_path_factory.mktemp("evolcoder-cache")


@pytest.fixture
def private_cache(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVOLCODER_CACHE_DIR", str(cache_root))
    return cache_root


@pytest.fixture(scope="session")
def default_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged GGUF converted to safetensors once per test session, in a session-wide cache."""
    from evolcoder.llm.convert import default_hf_model_dir

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVOLCODER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "hf-model-cache"))
        return default_hf_model_dir()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the embedded GGUF, on 127.0.0.1, model "smollm2"."""
    from evolcoder.llm.local_server import serve_gguf

    with serve_gguf("default", alias="smollm2", n_ctx=2048) as url:
        yield url


@pytest.fixture(scope="session")
def tiny_model_dir(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama (hidden 32, 2 layers) with the real SmolLM2 tokenizer: trains and generates in seconds."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


CHROMIUM = "/usr/bin/chromium"  # Debian's; .ci/run installs it (no browser download works here)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Chromium driven by playwright (the system's browser, not a downloaded one)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Page:
    """report.html opened from disk; every request but the file itself is aborted and recorded."""

    def __init__(self, browser, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready]")

    def _route(self, route) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def tab(self, name: str) -> None:
        self.page.click(f"#tabs button[data-tab={name}]")

    def rows(self) -> list[str]:
        return self.page.locator("#task-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")

    def check_closed(self) -> None:
        assert self.blocked == [], "the page asked for something beyond itself"
        assert self.errors == []
        self.page.close()


@pytest.fixture
def open_report(browser):  # noqa: ANN001, ANN201 (playwright's types)
    """Open a report.html from disk in the browser, the network cut off: ``open_report(path) -> Page``."""
    return lambda path: Page(browser, path)

"""Tokens/s of ``evolcoder generate`` against a bare llama-cpp-python loop and the hf backend.

All three answer the same HumanEval prompts (the model's chat template, greedy) in one run of this
script, with the embedded SmolLM2-135M-Instruct:

* ``bare loop``  llama-cpp-python's ``Llama.create_chat_completion``, one prompt after another (a
                 single sequence, as most scripts do it);
* ``evolcoder``  ``evolcoder generate --backend llamacpp`` (llama.cpp's batch API, ``--concurrency``
                 sequences per decode), the full command: prompts, extraction, JSONL;
* ``hf``         ``evolcoder generate --backend hf`` (transformers, batched, float32).

Rates count completion tokens over wall time, model loading excluded. Outputs are compared with
the bare loop's greedy text, prompt by prompt.

Usage (from the repository root)::

    .venv/bin/python benchmarks/generate_speed.py                   # 20 prompts, 512 new tokens
    .venv/bin/python benchmarks/generate_speed.py --skip-hf --concurrency 4 8 16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evolcoder.bench import get_benchmark
from evolcoder.bench.prompts import chat_messages
from evolcoder.generate.config import GenerateConfig
from evolcoder.generate.runner import generate
from evolcoder.llm.models import default_gguf


def bare_loop(tasks: list, max_new_tokens: int) -> tuple[float, list[str], int]:
    from llama_cpp import Llama

    llm = Llama(str(default_gguf()), n_ctx=4096, n_threads=os.cpu_count(), verbose=False)
    texts, tokens = [], 0
    started = time.perf_counter()
    for task in tasks:
        llm.reset()
        reply = llm.create_chat_completion(chat_messages(task), max_tokens=max_new_tokens, temperature=0.0)
        texts.append(reply["choices"][0]["message"]["content"] or "")
        tokens += reply["usage"]["completion_tokens"]
    seconds = time.perf_counter() - started
    llm.close()
    return seconds, texts, tokens


def run_generate(
    backend: str, concurrency: int, tasks: list, max_new_tokens: int, work: Path
) -> tuple[float, list[str], int]:
    """``evolcoder generate`` in this process; the clock starts after the model is loaded."""
    from evolcoder.llm import open_backend

    output = work / f"{backend}-{concurrency}.jsonl"
    config = GenerateConfig(
        benchmark="humaneval",
        output=output,
        backend=backend,
        prompt_style="chat",
        max_new_tokens=max_new_tokens,
        concurrency=concurrency,
        task_ids=[t.task_id for t in tasks],
        progress=False,
    )
    loaded = open_backend(backend, "default", concurrency=concurrency)
    started = time.perf_counter()
    generate(config, loaded)
    seconds = time.perf_counter() - started
    rows = {r["task_id"]: r for r in map(json.loads, output.read_text().splitlines())}
    texts = [rows[t.task_id]["raw"] for t in tasks]
    return seconds, texts, sum(r["completion_tokens"] for r in rows.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20, help="the first N HumanEval prompts")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--hf-batch", type=int, default=8)
    parser.add_argument("--skip-hf", action="store_true", help="leave out the (slow on CPU) hf backend")
    args = parser.parse_args(argv)

    tasks = get_benchmark("humaneval").load(None)[: args.tasks]
    print(f"machine: {platform.node()}  cores: {os.cpu_count()}  python: {platform.python_version()}")
    print(f"{len(tasks)} HumanEval prompts, chat template, greedy, max {args.max_new_tokens} new tokens\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base_s, base_texts, base_tokens = bare_loop(tasks, args.max_new_tokens)
        rows.append(("bare llama-cpp-python loop", base_s, base_tokens, base_texts))
        for concurrency in args.concurrency:
            seconds, texts, tokens = run_generate("llamacpp", concurrency, tasks, args.max_new_tokens, work)
            rows.append((f"evolcoder generate, llamacpp, --concurrency {concurrency}", seconds, tokens, texts))
        if not args.skip_hf:
            seconds, texts, tokens = run_generate("hf", args.hf_batch, tasks, args.max_new_tokens, work)
            rows.append((f"evolcoder generate, hf, --concurrency {args.hf_batch}", seconds, tokens, texts))

    table = Table(title="generate speed (completion tokens / wall second)")
    for column in ("run", "seconds", "tokens", "tok/s", "vs bare loop", "same text as bare loop"):
        table.add_column(column, justify="left" if column == "run" else "right")
    base_rate = base_tokens / base_s
    for label, seconds, tokens, texts in rows:
        same = sum(a == b for a, b in zip(texts, base_texts, strict=True))
        rate = tokens / seconds
        table.add_row(
            label, f"{seconds:.1f}", str(tokens), f"{rate:.1f}", f"{rate / base_rate:.2f}x", f"{same}/{len(tasks)}"
        )
    Console(width=150).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

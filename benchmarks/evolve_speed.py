"""Pairs/min of ``evolcoder evolve`` through an OpenAI-compatible server, against the server's capacity.

In one run of this script, against the same server (by default llama-cpp-python's server with the
embedded SmolLM2-135M-Instruct on 127.0.0.1; ``--base-url`` for another, e.g. ``vllm serve``):

* ``evolcoder evolve``  the full pipeline, ``--concurrency K``: prompts, the elimination rules,
                        append-only records (decontamination and dataset writing are not timed);
* ``bare client``       the same requests (each evolution, then its answer when the rewrite passed the
                        instruction rules) sent by a plain ``openai`` client with K threads: the
                        capacity the server offers at concurrency K;
* ``one at a time``     the same requests, one after another;
* ``--verify tests``    the full pipeline again with execution verification (the teacher writes tests
                        for every answer that defines a function, the sandbox runs them, failing
                        answers are asked for again): its pairs/min and teacher tokens/s against the
                        unverified run at the same K. Tokens/s near the unverified run's means the
                        teacher kept receiving requests while the sandbox ran tests.

The teacher is greedy, so all three send the same requests and get the same replies. A "pair" is one
evolution attempt (rewrite + answer), kept or eliminated.

Usage (from the repository root)::

    .venv/bin/python benchmarks/evolve_speed.py                   # 24 seeds, K = 4, local server
    .venv/bin/python benchmarks/evolve_speed.py --base-url http://host:8000/v1 --model NAME --concurrency 64
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evolcoder.evol import filters
from evolcoder.evol.config import EvolveConfig
from evolcoder.evol.pipeline import evolve, read_round
from evolcoder.evol.seeds import load_seeds
from evolcoder.evol.templates import clean_evolved, evolution_prompt
from evolcoder.llm.local_server import serve_gguf


def run_pipeline(args: argparse.Namespace, url: str, work: Path, verify: str = "none") -> tuple[float, list[dict]]:
    config = EvolveConfig(
        output_dir=work / f"evolve-{verify}",
        verify=verify,
        verify_attempts=args.verify_attempts,
        sandbox_workers=args.sandbox_workers,
        limit=args.seeds,
        teacher_backend="openai",
        teacher=args.model,
        base_url=url,
        concurrency=args.concurrency,
        temperature=0.0,
        evolve_max_tokens=args.evolve_max_tokens,
        answer_max_tokens=args.answer_max_tokens,
        decontaminate=[],
        dedup_threshold=0,
        progress=False,
    )
    started = time.perf_counter()
    evolve(config)
    seconds = time.perf_counter() - started
    rows = read_round(config, 1)
    seeds = load_seeds(config.seed_data, limit=args.seeds)
    return seconds, [rows[f"{s.id}@r1"] for s in seeds]


def replay(args: argparse.Namespace, url: str, rows: list[dict], threads: int) -> tuple[float, int]:
    """The pipeline's requests from a plain client; returns (seconds, replies that differ from the pipeline's)."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=5)

    def ask(content: str, max_tokens: int) -> str:
        reply = client.chat.completions.create(
            model=args.model,
            messages=[{"role": "user", "content": content}],
            max_tokens=max_tokens,
            temperature=0.0,
            top_p=0.95,
            seed=0,
        )
        return reply.choices[0].message.content or ""

    def one(row: dict) -> bool:
        evolved = clean_evolved(ask(evolution_prompt(row["original"], row["heuristic"]), args.evolve_max_tokens))
        rejected = (
            filters.instruction_length(evolved)
            or filters.copied_template(evolved)
            or filters.unchanged(row["original"], evolved)
        )
        if row["reason"] == "truncated_instruction" or rejected:
            return evolved == row["instruction"]
        answer = ask(evolved, args.answer_max_tokens).strip()
        return evolved == row["instruction"] and answer == row["answer"]

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        same = list(pool.map(one, rows))
    return time.perf_counter() - started, same.count(False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=24, help="the first N Code Alpaca 2k seeds")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--evolve-max-tokens", type=int, default=128)
    parser.add_argument("--answer-max-tokens", type=int, default=256)
    parser.add_argument("--base-url", default=None, help="an existing server (default: start llama.cpp's)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--verify-attempts", type=int, default=2, help="--verify tests: answers tried per item")
    parser.add_argument("--sandbox-workers", type=int, default=2, help="--verify tests: sandboxes at once")
    args = parser.parse_args(argv)

    print(f"machine: {platform.node()}  cores: {os.cpu_count()}  python: {platform.python_version()}")
    server = nullcontext(args.base_url) if args.base_url else serve_gguf("default", alias=args.model, n_ctx=2048)
    with server as url, tempfile.TemporaryDirectory() as tmp:
        print(f"server: {url}  seeds: {args.seeds}  concurrency: {args.concurrency}  greedy teacher\n")
        ours_s, rows = run_pipeline(args, url, Path(tmp))
        bare_s, bare_diff = replay(args, url, rows, args.concurrency)
        serial_s, serial_diff = replay(args, url, rows, 1)
        verified_s, verified = run_pipeline(args, url, Path(tmp), verify="tests")

    n = len(rows)
    table = Table(title=f"evolve throughput ({n} pairs)")
    columns = ("run", "seconds", "pairs/min", "kept", "teacher tokens/s", "vs bare client at K", "replies differing")
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right")
    tokens = sum(r["completion_tokens"] for r in rows)
    for label, seconds, diff in (
        (f"evolcoder evolve --concurrency {args.concurrency}", ours_s, "-"),
        (f"bare openai client, {args.concurrency} threads", bare_s, str(bare_diff)),
        ("one request at a time", serial_s, str(serial_diff)),
    ):
        kept = str(sum(r["kept"] for r in rows)) if diff == "-" else "-"
        speed = f"{tokens / seconds:.1f}" if diff == "-" else "-"
        table.add_row(label, f"{seconds:.1f}", f"{60 * n / seconds:.1f}", kept, speed, f"{bare_s / seconds:.2f}x", diff)
    verified_tokens = sum(r["completion_tokens"] for r in verified)
    table.add_row(
        f"evolcoder evolve --verify tests --concurrency {args.concurrency}",
        f"{verified_s:.1f}",
        f"{60 * n / verified_s:.1f}",
        str(sum(r["kept"] for r in verified)),
        f"{verified_tokens / verified_s:.1f}",
        "-",
        "-",
    )
    Console(width=170).print(table)
    tries = Counter(run["outcome"] for r in verified for run in r.get("verify", []))
    print(
        f"verified / unverified at K={args.concurrency}: pairs/min {ours_s / verified_s:.2f}x, "
        f"teacher tokens/s {(verified_tokens / verified_s) / (tokens / ours_s):.2f}x; "
        f"teacher tokens {verified_tokens} vs {tokens}; tries by outcome: {dict(tries)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

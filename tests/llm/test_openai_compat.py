"""The openai backend against a real OpenAI-compatible server on 127.0.0.1.

The server is llama-cpp-python's, serving the embedded GGUF; a small proxy in front of it fails
the first request with a 503 so the client's retry is exercised for real.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from evolcoder.llm import SamplingParams, make_backend


class FlakyProxy:
    """Forwards to the real server, but answers the first ``failures`` requests with 503."""

    def __init__(self, target: str, failures: int) -> None:
        self.target, self.failures, self.seen = target, failures, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                proxy.seen += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.seen <= proxy.failures:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                upstream = httpx.post(
                    proxy.target + self.path.removeprefix("/v1"),
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=120,
                )
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_completion_and_chat_through_a_real_server(server_url: str) -> None:
    backend = make_backend("openai", "smollm2", base_url=server_url, concurrency=2)
    params = SamplingParams(max_new_tokens=12)
    first = backend.complete(["def add(a, b):\n", "x = "], params)
    second = backend.complete(["def add(a, b):\n", "x = "], params)
    assert [g[0].text for g in first] == [g[0].text for g in second]  # greedy is deterministic
    assert all(0 < g[0].completion_tokens <= 12 for g in first)
    (answers,) = backend.chat([[{"role": "user", "content": "Say hi."}]], SamplingParams(max_new_tokens=8, n=2))
    assert len(answers) == 2 and all(a.text for a in answers)


def test_a_5xx_is_retried(server_url: str) -> None:
    proxy = FlakyProxy(server_url, failures=1)
    try:
        backend = make_backend("openai", "smollm2", base_url=proxy.url, max_retries=3)
        (generations,) = backend.complete(["1, 2, 3,"], SamplingParams(max_new_tokens=6))
        assert generations[0].completion_tokens > 0
        assert proxy.seen == 2  # the 503, then the retry that went through
    finally:
        proxy.httpd.shutdown()


def test_without_retries_the_5xx_is_an_error(server_url: str) -> None:
    import openai

    proxy = FlakyProxy(server_url, failures=1)
    try:
        backend = make_backend("openai", "smollm2", base_url=proxy.url, max_retries=0)
        with pytest.raises(openai.APIStatusError):
            backend.complete(["1, 2,"], SamplingParams(max_new_tokens=4))
    finally:
        proxy.httpd.shutdown()


def test_generate_command_with_the_openai_backend(server_url: str, tmp_path) -> None:
    import json

    out = tmp_path / "samples.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "evolcoder.cli",
        "generate",
        "--benchmark",
        "humaneval",
        "--backend",
        "openai",
        "--model",
        "smollm2",
        "--base-url",
        server_url,
        "--prompt-style",
        "chat",
        "--limit",
        "2",
        "--max-new-tokens",
        "24",
        "--no-progress",
        "--output",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1"]
    assert all(r["raw"] and 0 < r["completion_tokens"] <= 24 for r in rows)

"""A local OpenAI-compatible server (llama-cpp-python's) for tests, benchmarks and offline demos."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from evolcoder.llm.models import resolve_gguf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_gguf(
    model: str = "default", alias: str = "smollm2", n_ctx: int = 2048, startup_s: float = 120
) -> Iterator[str]:
    """Serves a GGUF on 127.0.0.1 for the duration of the block; yields the ``/v1`` base URL."""
    port = free_port()
    path: Path = resolve_gguf(model)
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", alias]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited with code {proc.returncode}: {' '.join(cmd)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the llama.cpp server did not answer within {startup_s:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

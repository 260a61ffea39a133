"""A TEST DOUBLE: an OpenAI-compatible chat server on 127.0.0.1 whose replies are scripted.

Real HTTP, served to evolcoder's real ``openai`` backend, so ``evolcoder evolve`` runs exactly as
against a real server; only the model is replaced by ``reply(prompt, seed)``, which knows the cases
of tests/evol/test_verify.py by a keyword in the task (``PASSES``, ``SECOND``, ...). The seed tells
the first answer (the run's seed) from the answers asked for again (seed + 1, + 2, ...).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FENCE = "```"


def block(code: str) -> str:
    return f"Here it is:\n\n{FENCE}python\n{code.strip()}\n{FENCE}\n"


# keyword -> (answer code by try: 1, 2, ...; the tests the teacher writes)
CASES: dict[str, tuple[list[str], str]] = {
    # right at once
    "PASSES": (
        ["def add(a, b):\n    return a + b"],
        "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(0, 0) == 0",
    ),
    # wrong, then right when asked again
    "SECOND": (
        ["def mul(a, b):\n    return a + b", "def mul(a, b):\n    return a * b"],
        "assert mul(2, 3) == 6\nassert mul(0, 5) == 0\nassert mul(-1, 4) == -4",
    ),
    # never right
    "NEVER": (
        ["def sub(a, b):\n    return a + b"],
        "assert sub(5, 3) == 2\nassert sub(0, 0) == 0\nassert sub(1, 4) == -3",
    ),
    # tests that pass whatever the function does
    "WEAK": (
        ["def double(x):\n    return 2 * x"],
        "assert double(2) == 4 or True\nassert double(3) == 6 or True\nassert double(0) == 0 or True",
    ),
    # tests that fall back to the expected value when the answer raises: the stub that raises passes them
    "SWALLOW": (
        ["def half(x):\n    return x / 2"],
        "for x, want in [(4, 2), (0, 0), (1, 0.5)]:\n    try:\n        got = half(x)\n"
        "    except Exception:\n        got = want\n    assert got == want",
    ),
    # one assert only
    "SINGLE": (["def neg(x):\n    return -x"], "assert neg(1) == -1"),
    # tests that never call the answer
    "UNCALLED": (
        ["def square(x):\n    return x * x"],
        "assert 2 * 2 == 4\nassert 3 * 3 == 9\nassert 0 * 0 == 0",
    ),
    # tests that loop forever
    "LOOPS": (
        ["def inc(x):\n    return x + 1"],
        "while True:\n    pass\nassert inc(1) == 2\nassert inc(2) == 3\nassert inc(3) == 4",
    ),
    # tests that try to reach out of the sandbox (the marker path and port are filled in by the test)
    "ESCAPES": (
        ["def ident(x):\n    return x"],
        "import socket\n"
        "try:\n    open(MARKER, 'w').write('escaped')\nexcept OSError:\n    pass\n"
        "socket.create_connection(('127.0.0.1', PORT), timeout=2)\n"
        "assert ident(1) == 1\nassert ident(2) == 2\nassert ident(3) == 3",
    ),
    # the teacher repeats its solution (a right one) above tests of a wrong answer
    "REPEATS": (
        ["def cube(x):\n    return x * x"],
        "def cube(x):\n    return x ** 3\n\nassert cube(2) == 8\nassert cube(3) == 27\nassert cube(0) == 0",
    ),
    # slow tests (for the kill in the middle of verification)
    "SLOW": (
        ["def twice(s):\n    return s + s"],
        "import time\ntime.sleep(1.5)\nassert twice('a') == 'aa'\nassert twice('') == ''\nassert twice('ab') == 'abab'",
    ),
}
NO_CODE_ANSWER = "SELECT name FROM users WHERE age > 30 ORDER BY name;  -- a query, no Python function in it"


def keyword(prompt: str) -> str | None:
    return next((word for word in CASES if word in prompt), None)


def reply(prompt: str, seed: int, first_seed: int = 0) -> str:
    """The scripted teacher: a rewrite, an answer or tests, whichever the prompt asks for."""
    word = keyword(prompt)
    if "Rewrite the exercise below" in prompt:
        task = prompt.split("Exercise:\n", 1)[1].strip()
        return f"{task} The function must also accept negative numbers and return an integer."
    if prompt.startswith("Write unit tests"):
        return block(CASES[word][1]) if word else "I cannot write tests."
    if word is None:
        return NO_CODE_ANSWER
    answers = CASES[word][0]
    return block(answers[min(seed - first_seed, len(answers) - 1)])


class ScriptedTeacher:
    """The server; ``prompts`` lists every prompt received, ``url`` ends in /v1."""

    def __init__(self, script: Callable[[str, int], str] = reply) -> None:
        self.prompts: list[str] = []
        self.lock = threading.Lock()
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with teacher.lock:
                    teacher.prompts.append(prompt)
                text = script(prompt, int(body.get("seed") or 0))
                payload = json.dumps(
                    {
                        "id": "scripted",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "scripted"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def tests_prompts(self) -> list[str]:
        with self.lock:
            return [p for p in self.prompts if p.startswith("Write unit tests")]


@contextmanager
def scripted_teacher(script: Callable[[str, int], str] = reply) -> Iterator[ScriptedTeacher]:
    teacher = ScriptedTeacher(script)
    thread = threading.Thread(target=teacher.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield teacher
    finally:
        teacher.httpd.shutdown()
        teacher.httpd.server_close()

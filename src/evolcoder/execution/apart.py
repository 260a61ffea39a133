"""Tests apart from the candidate: the benchmark's tests run in one process, the judged code in another.

Inside one sandbox the zygote forks two processes under two uids (see zygote._tests_apart):

    test process (trusted test code, the result pipe, the tests)
        └── candidate process (the judged program; no result pipe, no tests, its own uid)

They talk over two pipes, one JSON line per message. The test process sees the candidate's names as
``Remote`` objects: calling one sends the arguments as plain data (values.encode) and gets the return
value back as plain data, rebuilt in the test process — so an ``assert`` compares values the
candidate cannot fake, and no frame walk, ``gc`` scan or patched class in the candidate can reach
the code that writes the verdict. What cannot cross as data (an instance of the candidate's class, a
generator) stays in the candidate and comes back as a reference, which compares by identity only; its
attributes, calls and iteration are forwarded.

Messages from the test process: ``{"op": ..., "h": handle, ...}``; answers: ``{"v": wire}`` or
``{"x": exception class name, "m": message}``. The candidate's first message is its namespace
(``{"names": {...}}``) or ``{"load_error": ...}``.

DS-1000's test programs run whole in the test process, except for their one ``exec(code, test_env)``:
that runs in the candidate (``Candidate.execute``), which gets the test environment (as data, or
pickled where the test input is not plain data: this direction is trusted) and sends back the
``result`` it leaves, as data (execution.data_values; never a pickle).
"""

from __future__ import annotations

import base64
import builtins
import importlib
import json
import os
import pickle
import sys
import types
from collections.abc import Callable
from typing import Any

from evolcoder.execution import data_values, values

MAX_MESSAGE_BYTES = 256 << 20


class Channel:
    """JSON lines over a pair of pipe descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._buffer = bytearray()
        self._dumps = json.dumps
        self._loads = json.loads
        self._write = os.write
        self._read = os.read

    def send(self, message: dict) -> None:
        view = memoryview((self._dumps(message, separators=(",", ":")) + "\n").encode())
        while view:
            view = view[self._write(self._write_fd, view) :]

    def recv(self) -> dict | None:
        """The next message, or None at end of file."""
        while (newline := self._buffer.find(b"\n")) < 0:
            chunk = self._read(self._read_fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise CandidateGone("the candidate sent an oversized message")
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        message = self._loads(line)
        if not isinstance(message, dict):
            raise CandidateGone("the candidate sent a malformed message")
        return message

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class CandidateGone(BaseException):
    """The candidate process ended, or broke the protocol, while a test needed it.

    A BaseException, so a test's ``except Exception`` cannot swallow it and pass on a dead candidate.
    """


class CandidateLoadError(Exception):
    """The candidate's code failed while being defined."""


# ----------------------------------------------------------------------------------------------
# The candidate process
# ----------------------------------------------------------------------------------------------


def serve(
    channel: Channel,
    code: str,
    define: Callable[[str], dict],
    describe: Callable[[BaseException], str],
    execute: Callable[[str, dict], None] | None = None,
) -> None:
    """Define the candidate's code, send its names, then answer the test process until it hangs up.

    ``execute(code, env)`` runs the code of an ``exec`` operation (DS-1000's programs).
    """
    objects: list[Any] = []
    ids: dict[int, int] = {}

    def handle(obj: Any) -> int:
        key = id(obj)
        if key not in ids:
            ids[key] = len(objects)
            objects.append(obj)
        return ids[key]

    try:
        namespace = define(code)
    except BaseException as exc:  # SystemExit included: the definition failed
        channel.send({"load_error": describe(exc)})
        return
    channel.send({"names": _manifest(namespace, handle)})
    while (message := channel.recv()) is not None:
        try:
            if message.get("op") == "exec" and execute is not None:
                answer = _execute(message, execute)
            else:
                answer = {"v": values.encode(_perform(message, objects), handle=handle)}
        except BaseException as exc:  # the test decides what an exception means
            answer = {"x": type(exc).__name__, "m": str(exc)[:300]}
        channel.send(answer)


def _execute(message: dict, execute: Callable[[str, dict], None]) -> dict:
    """Run DS-1000's ``exec(code, test_env)`` here; the ``result`` goes back as data."""
    if "env_pickle" in message:  # made by the test process, the trusted side
        env = pickle.loads(base64.b64decode(message["env_pickle"]))
    else:
        env = data_values.decode(message["env"])
    execute(str(message["code"]), env)
    if "result" not in env:
        return {"missing": True}
    return {"d": data_values.encode(env["result"])}


def _manifest(namespace: dict, handle: Callable[[Any], int]) -> dict:
    """Each public name: a module's name, or the value (plain data, or a reference)."""
    names = {}
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            names[name] = {"module": value.__name__}
        else:
            names[name] = {"v": values.encode(value, handle=handle)}
    return names


def _perform(message: dict, objects: list) -> Any:
    op = message["op"]
    target = objects[message["h"]]
    resolve = objects.__getitem__
    if op == "call":
        args = values.decode(message.get("a", []), resolve)
        kwargs = values.decode(message.get("k", {"d": []}), resolve)
        return target(*args, **kwargs)
    if op == "getattr":
        return getattr(target, message["n"])
    if op == "setattr":
        return setattr(target, message["n"], values.decode(message["a"], resolve))
    if op == "iter":
        return iter(target)
    if op == "next":
        return next(target)
    if op == "len":
        return len(target)
    if op == "bool":
        return bool(target)
    if op == "getitem":
        return target[values.decode(message["a"], resolve)]
    if op == "contains":
        return values.decode(message["a"], resolve) in target
    if op == "repr":
        return repr(target)
    raise ValueError(f"unknown operation {op!r}")


# ----------------------------------------------------------------------------------------------
# The test process
# ----------------------------------------------------------------------------------------------


class Candidate:
    """The test process's end of the channel: performs operations on the candidate's objects."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._remotes: dict[int, Remote] = {}
        self.gone = False  # the candidate hung up (ended, or broke the protocol)

    def close(self) -> None:
        self._channel.close()

    def _recv(self) -> dict | None:
        try:
            message = self._channel.recv()
        except (CandidateGone, ValueError, RecursionError):
            self.gone = True
            raise CandidateGone("the candidate broke the protocol") from None
        if message is None:
            self.gone = True
        return message

    def namespace(self) -> dict:
        """The candidate's names as the tests see them; raises CandidateLoadError if it did not load."""
        first = self._recv()
        if first is None:
            raise CandidateGone("the candidate process ended while its code was being defined")
        if "load_error" in first:
            raise CandidateLoadError(str(first["load_error"])[:400])
        names = {}
        for name, entry in dict(first.get("names", {})).items():
            if "module" in entry:
                module = _import_quietly(str(entry["module"]))
                if module is not None:
                    names[str(name)] = module
            else:
                names[str(name)] = values.decode(entry.get("v"), self._remote)
        return names

    def perform(self, op: str, handle: int, **fields: Any) -> Any:
        answer = self._exchange({"op": op, "h": handle, **fields})
        if "x" in answer:
            raise _exception(str(answer["x"]), str(answer.get("m", "")))
        return values.decode(answer.get("v"), self._remote)

    def execute(self, code: str, env: dict) -> None:
        """DS-1000's ``exec(code, env)``, run in the candidate: ``env["result"]`` comes back as data."""
        if type(env) is not dict:
            raise TypeError("exec() of a test program needs a dict of globals")
        wire = data_values.encode(env)
        if data_values.crosses(wire):
            message = {"op": "exec", "code": code, "env": wire}
        else:  # test inputs that are not plain data (a scikit-learn Bunch, say)
            message = {"op": "exec", "code": code, "env_pickle": base64.b64encode(pickle.dumps(env)).decode()}
        answer = self._exchange(message)
        if answer.get("x") == "SystemExit":  # the program exited in its middle, as it would in one process
            raise SystemExit(str(answer.get("m", "")))
        if "x" in answer:
            raise _exception(str(answer["x"]), str(answer.get("m", "")))
        if answer.get("missing") is not True:
            env["result"] = data_values.decode(answer.get("d"))

    def _exchange(self, message: dict) -> dict:
        try:
            self._channel.send(message)
        except OSError:  # a broken pipe: it has ended
            self.gone = True
            raise CandidateGone("the candidate process ended during a test") from None
        answer = self._recv()
        if answer is None:
            raise CandidateGone("the candidate process ended during a test")
        return answer

    def encode(self, value: Any) -> Any:
        """An argument as wire data: the candidate's own objects go back as references."""
        return values.encode(value, handle=self._handle_of)

    def _handle_of(self, value: Any) -> int:
        if type(value) is Remote:
            return object.__getattribute__(value, "_handle")
        raise TypeError(f"a {type(value).__name__} cannot be passed to the candidate")

    def _remote(self, handle: int) -> Remote:
        remote = self._remotes.get(handle)
        if remote is None:
            remote = self._remotes[handle] = Remote(self, handle)
        return remote


def _import_quietly(name: str) -> types.ModuleType | None:
    """The test process imports a module the candidate imported (by name only), if it can."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a test that needs it meets a NameError
        return None


def _exception(name: str, message: str) -> BaseException:
    """The candidate's exception, as a builtin exception of the same name where there is one."""
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - an exception class with another signature
            pass
    return RuntimeError(f"{name}: {message}")


class Remote:
    """An object that lives in the candidate process. Equal only to itself."""

    __slots__ = ("_candidate", "_handle")

    def __init__(self, candidate: Candidate, handle: int) -> None:
        object.__setattr__(self, "_candidate", candidate)
        object.__setattr__(self, "_handle", handle)

    def _do(self, op: str, **fields: Any) -> Any:
        candidate = object.__getattribute__(self, "_candidate")
        return candidate.perform(op, object.__getattribute__(self, "_handle"), **fields)

    def _encode(self, value: Any) -> Any:
        return object.__getattribute__(self, "_candidate").encode(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._do("call", a=self._encode(list(args)), k=self._encode(kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._do("getattr", n=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._do("setattr", n=name, a=self._encode(value))

    def __iter__(self) -> Any:
        return self._do("iter")

    def __next__(self) -> Any:
        return self._do("next")

    def __len__(self) -> int:
        n = self._do("len")
        if type(n) is not int:
            raise TypeError("len() of the candidate's object is not an int")
        return n

    def __bool__(self) -> bool:
        return self._do("bool") is True

    def __getitem__(self, key: Any) -> Any:
        return self._do("getitem", a=self._encode(key))

    def __contains__(self, item: Any) -> bool:
        return self._do("contains", a=self._encode(item)) is True

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "_handle"))

    def __repr__(self) -> str:
        text = self._do("repr")
        return text if type(text) is str else "<candidate object>"

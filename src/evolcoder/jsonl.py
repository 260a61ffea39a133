"""Append-only JSONL files that survive a kill: the one helper every long job resumes through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def complete_lines(path: Path) -> list[bytes]:
    """The whole lines of ``path``; a last line cut short by a kill is removed from the file.

    After this the file ends with a newline (or is empty), so appending continues it cleanly.
    """
    if not path.exists():
        return []
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            f.truncate(end)
    return data[:end].splitlines()


class AppendLog:
    """Rows appended one JSON line at a time and flushed, so a kill loses at most the row being written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Files that survive a kill: append-only JSONL logs, their reading, and write-then-rename.

Every long job resumes through these: rows are appended one flushed line at a time (``AppendLog``),
read back whole lines only (``read_rows``: a last line cut by a kill is dropped), and any file
written at once goes beside its place first and is renamed into it (``atomic_write``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def complete_lines(path: Path, *, trim: bool = True) -> list[bytes]:
    """The whole lines of ``path``; a last line cut short by a kill is left out.

    With ``trim`` (a writer about to append) that line is also removed from the file, which then
    ends with a newline (or is empty), so appending continues it cleanly; a reader that must not
    touch the file passes ``trim=False``.
    """
    if not path.is_file():
        return []
    with open(path, "rb+" if trim else "rb") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if trim and end < len(data):
            f.truncate(end)
    return data[:end].splitlines()


def read_rows(path: Path, *, trim: bool = True) -> list[tuple[int, dict[str, Any] | None]]:
    """(1-based line number, object) of each whole non-blank line of ``path`` (see ``complete_lines``).

    The object is None for a line that is not a JSON object: each reader decides whether that is an
    error (a file it did not write) or a line to skip.
    """
    rows: list[tuple[int, dict[str, Any] | None]] = []
    for number, line in enumerate(complete_lines(path, trim=trim), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:  # also UnicodeDecodeError
            row = None
        rows.append((number, row if isinstance(row, dict) else None))
    return rows


@contextmanager
def atomic_path(path: Path, *, chmod: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block succeeds.

    A kill never leaves half a file at ``path``; on an error the temporary file is removed. The
    name is unique per process and thread, so concurrent writers of one file never share it.
    ``chmod``: the file's mode once written. The parent folder is made if missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        yield partial
        if chmod is not None:
            os.chmod(partial, chmod)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_write(path: Path, mode: str = "w", *, chmod: int | None = None, fsync: bool = False) -> Iterator[IO]:
    """``open(path, mode)`` written beside ``path`` and renamed into place (see ``atomic_path``).

    With ``chmod`` the file is created with that mode, so it is never readable more widely while
    written (the ground-truth cache is owner-only); ``fsync`` syncs it before the rename.
    """
    with atomic_path(path, chmod=chmod) as partial:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if chmod is None else chmod)
        with open(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


def write_rows_atomic(path: Path, rows: Iterable[dict[str, Any]], *, fsync: bool = False) -> None:
    """A whole JSONL file, one row a line (non-ASCII kept as is, as ``AppendLog`` writes it)."""
    with atomic_write(path, fsync=fsync) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json_atomic(
    path: Path | str, obj: Any, *, indent: int | None = 2, sort_keys: bool = False, default: Any = None
) -> None:
    """``obj`` as one JSON file, written beside ``path`` and renamed into place.

    With ``indent`` (the default) the file ends in a newline; ``indent=None`` writes one compact line
    without one.
    """
    with atomic_write(Path(path)) as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys, default=default)
        if indent is not None:
            f.write("\n")


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

"""The one user-error type: a problem the user can fix, printed as one line by the CLI (exit code 2).

Everything else that goes wrong is a real error and keeps its traceback. ``UserError`` derives from
``ValueError`` only so that callers which already catch ``ValueError`` around a check keep working.
"""

from __future__ import annotations

from pathlib import Path


class UserError(ValueError):
    """A bad option, file or value; ``path``, ``line`` and ``field`` say where, the message what is allowed."""

    def __init__(
        self, message: str, *, path: Path | str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        field = f"{self.field}: " if self.field and not self.message.startswith(self.field) else ""
        return f"{where}{field}{self.message}"

"""Settings-checked resume, shared by every long job (evolve, generate, eval, train, run).

A long job writes the settings that shape its output beside that output the first time it runs;
a later run into the same place compares its own settings with them key by key and refuses, in
one line naming the first differing setting as its flag (``--temperature 0.0 → 0.8``) and the
way out, to go on with different ones: rows made under two settings would otherwise be mixed in
one file without a word.

Settings are JSON-plain values (``Path`` as ``str``). A key the saved file lacks (written by an
older version) is not compared; a saved key the job no longer sends is ignored. The settings file
is never rewritten once it exists, so a resumed or finished job leaves it untouched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evolcoder.errors import UserError
from evolcoder.jsonl import write_json_atomic  # re-exported: the settings files' writers import it here


def flag_of(name: str) -> str:
    """``max_new_tokens`` → ``--max-new-tokens``."""
    return "--" + name.replace("_", "-")


def differing_setting(
    saved: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    where: Path | str,
    way_out: str,
    labels: Mapping[str, str] | None = None,
) -> UserError | None:
    """The refusal for the first key of ``settings`` whose saved value differs, or None when all agree.

    ``labels`` names a setting that is not a flag of its own (``{"data_sha256": "the --data file's
    sha256"}``); any other key is shown as its flag.
    """
    settings = _plain(settings)
    for name, value in settings.items():
        if name in saved and saved[name] != value:
            label = (labels or {}).get(name) or flag_of(name)
            return UserError(
                f"{label} {saved[name]!r} → {value!r}: cannot resume with a changed setting; {way_out}",
                path=where,
                field=label,
            )
    return None


def check_settings(
    settings_path: Path,
    settings: Mapping[str, Any],
    *,
    way_out: str,
    labels: Mapping[str, str] | None = None,
    record: Mapping[str, Any] | None = None,
) -> bool:
    """Save ``settings`` on the first run; on a later one refuse any that differ from the saved ones.

    Returns True when this call wrote the file (a fresh start), False when it agreed with a saved
    one. Raises ``UserError`` (one line: the file, ``--flag old → new``, ``way_out``) on a change.
    ``record``, if given, is written beside the settings on the first run and never compared
    (options that do not shape the output, kept for the record).
    """
    settings = _plain(settings)
    if settings_path.exists():
        try:
            saved = json.loads(settings_path.read_text(encoding="utf-8"))
        except ValueError:
            raise UserError(
                f"not a settings file written by evolcoder (damaged?); {way_out}", path=settings_path
            ) from None
        if not isinstance(saved, dict):
            raise UserError(f"not a settings file written by evolcoder; {way_out}", path=settings_path)
        refusal = differing_setting(saved, settings, where=settings_path, way_out=way_out, labels=labels)
        if refusal is not None:
            raise refusal
        return False
    extra = json.loads(json.dumps(dict(record or {}), default=str))  # informational: a Path is written as str
    write_json_atomic(settings_path, extra | settings)
    return True


def say_complete(what: str, count: int, unit: str = "rows") -> None:
    """The one line a finished job rerun prints: ``evolcoder: WHAT is already complete (N rows); nothing to do``."""
    print(f"evolcoder: {what} is already complete ({count} {unit}); nothing to do", file=sys.stderr, flush=True)


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-plain copies (tuples become lists, as they come back from the file); a ``Path`` is a bug."""
    try:
        return json.loads(json.dumps(dict(values)))
    except TypeError as exc:
        raise TypeError(f"settings must be JSON-plain (a Path as str): {exc}") from None


__all__ = ["check_settings", "differing_setting", "flag_of", "say_complete", "write_json_atomic"]

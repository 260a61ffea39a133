"""Command configs: defaults < preset < YAML file < command-line flags (see :mod:`evolcoder.options`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from evolcoder.errors import UserError

C = TypeVar("C")


ConfigError = UserError  # the name config problems had before there was one user-error type


def build_config(cls: type[C], config_file: Path | None, flags: dict[str, Any]) -> C:
    """Merge a YAML file and the flags that were given (None means not given) into ``cls``."""
    from evolcoder.options import load_config

    return load_config(cls, config_file=config_file, flags=flags)

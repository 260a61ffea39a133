"""Command configs: defaults < YAML file < command-line flags; unknown keys are errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from evolcoder.errors import UserError

C = TypeVar("C")


class ConfigError(UserError):
    """A config problem; the message names the file or flag to change."""


def build_config(cls: type[C], config_file: Path | None, flags: dict[str, Any]) -> C:
    """Merge a YAML file and the flags that were given (None means not given) into ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(Path(config_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config_file}: cannot read config ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_file}: expected a mapping of option names to values")
        for key, value in loaded.items():
            name = str(key).replace("-", "_")
            if name not in names:
                raise ConfigError(f"{config_file}: unknown option {key!r}; known: {', '.join(sorted(names))}")
            values[name] = value
    values.update({k: v for k, v in flags.items() if v is not None})
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None

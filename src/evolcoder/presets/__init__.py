"""The shipped presets, package data: ``run/``, ``train/`` and ``accelerate/`` YAML files.

One preset system for every command: ``--preset NAME`` names a file of ``<kind>/NAME.yaml`` here,
and a path to a YAML file of your own works the same way. ``evolcoder presets`` lists them.
"""

from __future__ import annotations

from pathlib import Path

from evolcoder.errors import UserError

PRESET_ROOT = Path(__file__).resolve().parent
KINDS = ("run", "train", "accelerate")


def preset_names(kind: str) -> list[str]:
    return sorted(path.stem for path in (PRESET_ROOT / kind).glob("*.yaml"))


def preset_path(kind: str, name: str | Path, flag: str = "--preset") -> Path:
    """The file a preset name stands for: a shipped ``<kind>/NAME.yaml``, else a YAML file of the user's."""
    text = str(name)
    shipped = PRESET_ROOT / kind / f"{text.removesuffix('.yaml')}.yaml"
    if "/" not in text and shipped.is_file():
        return shipped
    legacy = PRESET_ROOT / text.removeprefix("configs/")  # configs/accelerate/X.yaml, as a checkout had it
    own = Path(text).expanduser()
    if own.is_file():
        return own
    if text.startswith("configs/") and legacy.is_file():
        return legacy
    choices = ", ".join(preset_names(kind))
    raise UserError(f"{flag} {text!r} is neither a shipped {kind} preset ({choices}) nor a YAML file")


def describe(path: Path) -> str:
    """The first sentence of a preset file's opening comment: what it is for."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
    text = " ".join(words)
    end = text.find(". ")
    return text[: end + 1] if end >= 0 else text


def all_presets() -> list[tuple[str, str, Path]]:
    """(kind, name, path) of every shipped preset."""
    return [(kind, name, PRESET_ROOT / kind / f"{name}.yaml") for kind in KINDS for name in preset_names(kind)]

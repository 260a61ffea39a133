"""Each option written once, on its config dataclass; the CLI, ``--help``, the YAML loader and the checks
are derived from it.

A field is declared with :func:`option` (its help, flag, choices and bounds live in the field's
metadata; its type is the annotation). :func:`check` coerces and checks every field of a config,
:func:`read_yaml` reads a YAML file into typed values whose errors name the file, line and key,
:func:`load_config` layers defaults < preset < YAML < flags, and :func:`command` makes a typer
command whose flags are the fields. Why typer driven from the dataclass rather than tyro or
jsonargparse: the CLI already was typer (rich help, ``--x/--no-x`` pairs); deriving its parameters
from the field metadata is a few dozen lines and keeps "None means not given", which the layering
needs so that a preset or YAML value is not overwritten by a flag's default.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

from evolcoder.errors import UserError

C = TypeVar("C")
_KEY = "evolcoder"


class BadValue(Exception):
    """A value that does not fit its field; the caller adds where it came from."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """One option: the field's name, type and default, and what its metadata says."""

    name: str
    hint: Any
    default: Any  # MISSING when the option is required
    help: str
    flag: str  # "--learning-rate", or a pair for booleans: "--lora/--full"
    choices: tuple[Any, ...] | None
    min: float | None
    max: float | None
    above: float | None  # exclusive lower bound
    below: float | None  # exclusive upper bound
    show_default: str | None
    cli: bool
    section: type | None  # the config class whose options a mapping-valued field holds
    positional: bool  # given as the command's arguments (EXPERIMENT_DIR ...), not as a flag

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def main_flag(self) -> str:
        """The flag, or for a positional option its metavar (``EXPERIMENT_DIRS``): what a message names."""
        return self.name.upper() if self.positional else self.flag.split("/")[0]


def option(
    default: Any = MISSING,
    *,
    help: str,
    flag: str | None = None,
    choices: Sequence[Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    above: float | None = None,
    below: float | None = None,
    show_default: str | None = None,
    cli: bool = True,
    section: type | None = None,
    positional: bool = False,
    default_factory: Callable[[], Any] | Any = MISSING,
) -> Any:
    """A dataclass field carrying its option's help, flag, choices and bounds."""
    meta = dict(
        help=help,
        flag=flag,
        choices=tuple(choices) if choices is not None else None,
        min=min,
        max=max,
        above=above,
        below=below,
        show_default=show_default,
        cli=cli,
        section=section,
        positional=positional,
    )
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={_KEY: meta})
    return dataclasses.field(default=default, metadata={_KEY: meta})


def data_dir_option() -> Any:
    return option(None, help="Folder with the benchmark files (else $EVOLCODER_DATA_DIR, else the download cache)")


def progress_option() -> Any:
    return option(True, help="Show progress bars", flag="--progress/--no-progress")


@functools.cache
def specs(cls: type) -> tuple[Spec, ...]:
    """The options of a config class, in field order."""
    hints = typing.get_type_hints(cls, include_extras=False)
    found = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_KEY, {})
        default = f.default
        if default is MISSING and f.default_factory is not MISSING:
            default = f.default_factory()
        found.append(
            Spec(
                name=f.name,
                hint=hints[f.name],
                default=default,
                help=meta.get("help", ""),
                flag=meta.get("flag") or "--" + f.name.replace("_", "-"),
                choices=meta.get("choices"),
                min=meta.get("min"),
                max=meta.get("max"),
                above=meta.get("above"),
                below=meta.get("below"),
                show_default=meta.get("show_default"),
                cli=meta.get("cli", True),
                section=meta.get("section"),
                positional=meta.get("positional", False),
            )
        )
    return tuple(found)


def spec_of(cls: type, name: str) -> Spec:
    return next(s for s in specs(cls) if s.name == name)


def flag_of(cls: type, name: str) -> str:
    """The flag that sets field ``name`` of ``cls`` (what an error message should name)."""
    return spec_of(cls, name).main_flag


# ---- coercion and checks -----------------------------------------------------------------------


def _coerce(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        kinds = [a for a in args if a is not type(None)]
        if value is None:
            raise BadValue("must not be empty (null)")
        if len(kinds) == 1:
            return _coerce(kinds[0], value)
        for kind in kinds:
            try:
                return _coerce(kind, value)
            except BadValue:
                continue
        raise BadValue(f"expected {' or '.join(_name(k) for k in kinds)}, got {value!r}")
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise BadValue(f"expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise BadValue(f"expected a whole number, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads 2e-5 (no dot) as text
            try:
                return float(value)
            except ValueError:
                pass
        raise BadValue(f"expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise BadValue(f"expected text, got {value!r}")
    if hint is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise BadValue(f"expected a path, got {value!r}")
    if origin is list:
        return _coerce_list(args[0] if args else Any, value)
    if origin is dict:
        return _coerce_dict(args[1] if len(args) > 1 else Any, value)
    return value


def _coerce_list(item: Any, value: Any) -> list:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise BadValue(f"expected a list, got {value!r}")
    items: list = []
    for entry in value:
        if item is str and isinstance(entry, str):  # repeatable flags also take comma-separated values
            items.extend(part.strip() for part in entry.split(",") if part.strip())
        else:
            items.append(entry)
    return [_coerce(item, entry) for entry in items]


def _coerce_dict(item: Any, value: Any) -> dict | str:
    if isinstance(value, str):
        return value  # "k=v,k=v" text: the config parses it (it knows what to merge it with)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        value = parse_pairs(value)
    if not isinstance(value, dict):
        raise BadValue(f"expected a mapping, got {value!r}")
    return {str(k): _coerce(item, v) for k, v in value.items()}


def parse_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (values read as YAML: 3, 0.5, true, [a, b]) as a mapping."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise BadValue(f"expected KEY=VALUE, got {pair!r}")
        try:
            # an empty value is the empty text, as ``--flag ''`` gives it (YAML would read None)
            options[key.strip().replace("-", "_")] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            raise BadValue(f"cannot read the value of {key.strip()!r}: {text!r}") from None
    return options


def _name(kind: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text", Path: "a path"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _check_bounds(spec: Spec, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if spec.choices is not None and item not in spec.choices:
            raise BadValue(f"{item!r} is unknown; choose one of: {', '.join(map(str, spec.choices))}")
        if not isinstance(item, int | float) or isinstance(item, bool):
            continue
        if spec.min is not None and item < spec.min:
            raise BadValue(f"must be at least {spec.min:g}, got {item!r}")
        if spec.max is not None and item > spec.max:
            raise BadValue(f"must be at most {spec.max:g}, got {item!r}")
        if spec.above is not None and item <= spec.above:
            raise BadValue("must be positive" if spec.above == 0 else f"must be above {spec.above:g}, got {item!r}")
        if spec.below is not None and item >= spec.below:
            raise BadValue(f"must be below {spec.below:g}, got {item!r}")


def _validate(spec: Spec, value: Any) -> Any:
    value = _coerce(spec.hint, value)
    if spec.section is not None and isinstance(value, dict):
        return _validate_section(spec.section, value, spec.name)
    if value is not None:
        _check_bounds(spec, value)
    return value


def _validate_section(cls: type, values: dict[str, Any], section: str) -> dict[str, Any]:
    """A mapping of another command's options (run's ``evolve:`` and ``train:``); errors start "section: --flag"."""
    by_name = {s.name: s for s in specs(cls)}
    checked = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name not in by_name:
            raise _SectionError(f"{section}: unknown option {key!r}; known: {', '.join(sorted(by_name))}")
        try:
            checked[name] = _validate(by_name[name], value)
        except _SectionError:
            raise
        except BadValue as exc:
            flag = by_name[name].main_flag
            raise _SectionError(f"{section}: {flag} {exc}" if _reads_on(exc) else f"{section}: {flag}: {exc}") from None
    return checked


class _SectionError(BadValue):
    """A bad value inside a section; its message already says where."""


def check(config: Any) -> None:
    """Coerce every field of ``config`` to its type and check its choices and bounds (in place).

    Called first in each config's ``__post_init__``, so a config built in code is checked like one
    built from flags; errors name the flag.
    """
    for spec in specs(type(config)):
        try:
            value = _validate(spec, getattr(config, spec.name))
        except BadValue as exc:
            raise UserError(_flag_message(spec, exc)) from None
        object.__setattr__(config, spec.name, value)


def _flag_message(spec: Spec, exc: BadValue) -> str:
    if isinstance(exc, _SectionError):
        return str(exc)
    return f"{spec.main_flag} {exc}" if _reads_on(exc) else f"{spec.main_flag}: {exc}"


def _reads_on(exc: BadValue) -> bool:
    """Whether the message reads on from the flag ("--rounds must be at least 1")."""
    text = str(exc)
    return text.startswith(("must ", "is ")) or (text[:1] in "'\"" and " is unknown" in text)


# ---- YAML with lines ---------------------------------------------------------------------------


def read_yaml(path: Path | str, cls: type) -> dict[str, Any]:
    """The options a YAML mapping sets, typed and checked; every error names the file, line and key."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError("config file not found", path=path) from None
    except OSError as exc:
        raise UserError(f"cannot read config ({exc.strerror})", path=path) from None
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return {}
        if not isinstance(root, yaml.MappingNode):
            raise UserError("expected a mapping of option names to values", path=path, line=root.start_mark.line + 1)
        return _read_mapping(loader, root, cls, path, prefix="")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise UserError(f"YAML syntax error: {exc.problem or exc.context}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise UserError(f"YAML error: {exc}", path=path) from None
    finally:
        loader.dispose()


def _read_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, cls: type, path: Path, prefix: str) -> dict:
    by_name = {s.name: s for s in specs(cls)}
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = str(loader.construct_object(key_node))
        name = key.replace("-", "_")
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(sorted(by_name))
            raise UserError(f"unknown option {prefix + key!r}; known: {known}", path=path, line=line)
        if name in values:
            raise UserError("set twice in this file", path=path, line=line, field=prefix + key)
        if spec.section is not None and isinstance(value_node, yaml.MappingNode):
            values[name] = _read_mapping(loader, value_node, spec.section, path, prefix=f"{prefix}{key}.")
            continue
        try:
            values[name] = _validate(spec, loader.construct_object(value_node, deep=True))
        except BadValue as exc:
            raise UserError(str(exc), path=path, line=line, field=prefix + key) from None
    return values


# ---- layers -------------------------------------------------------------------------------------


def merge(cls: type, lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    """``upper`` wins; mapping-valued sections merge key by key. None in ``upper`` means not given."""
    sections = {s.name for s in specs(cls) if s.section is not None}
    merged = dict(lower)
    for name, value in upper.items():
        if value is None:
            continue
        if name in sections and isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


def flag_values(cls: type, flags: dict[str, Any]) -> dict[str, Any]:
    """Flags that were given (not None, not an empty repeatable), typed and checked; errors name the flag."""
    by_name = {s.name: s for s in specs(cls)}
    given = {}
    for name, value in flags.items():
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        spec = by_name[name]
        try:
            given[name] = _validate(spec, value)
        except BadValue as exc:
            raise UserError(_flag_message(spec, exc)) from None
    return given


def load_config(
    cls: type[C],
    *,
    config_file: Path | str | None = None,
    flags: dict[str, Any] | None = None,
    preset: str | None = None,
    preset_kind: str | None = None,
) -> C:
    """Build ``cls`` from defaults < preset < YAML file < flags; user errors are :class:`UserError`.

    A config with its own ``preset`` field (train) applies the preset itself; for the others the
    preset is a YAML file of ``evolcoder/presets/<preset_kind>/`` (or a path) read as a layer.
    """
    values: dict[str, Any] = {}
    own_preset = any(s.name == "preset" for s in specs(cls))
    if preset is not None and not own_preset:
        from evolcoder.presets import preset_path

        values = merge(cls, values, read_yaml(preset_path(preset_kind or "", preset), cls))
    if config_file is not None:
        values = merge(cls, values, read_yaml(config_file, cls))
    values = merge(cls, values, flag_values(cls, dict(flags or {})))
    if preset is not None and own_preset:
        values["preset"] = preset
    missing = [s for s in specs(cls) if s.required and values.get(s.name) is None]
    if missing:
        spec = missing[0]
        how = "give it as the command's arguments" if spec.positional else "give the flag"
        raise UserError(f"{spec.main_flag} is required ({spec.help}); {how} or `{spec.name}:` in --config")
    return cls(**values)


# ---- the typer command --------------------------------------------------------------------------


def _cli_type(spec: Spec) -> Any:
    hint = spec.hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = kinds[0] if len(kinds) == 1 else str
    origin = typing.get_origin(hint)
    if origin is dict:
        return list[str] if spec.section is not None else str
    if origin is list:
        item = typing.get_args(hint)[0]
        return list[item if item in (str, int, float, Path) else str]
    return hint if hint in (str, int, float, bool, Path) else str


def _default_text(spec: Spec) -> str | bool:
    if spec.show_default is not None:
        return spec.show_default
    default = spec.default
    if default is MISSING or default is None:
        return False
    if isinstance(default, bool) and "/" in spec.flag:
        on, off = spec.flag.split("/")
        return (on if default else off).lstrip("-")
    if isinstance(default, list | tuple):
        return ", ".join(map(str, default)) if default else False
    if isinstance(default, dict):
        return ",".join(f"{k}={v}" for k, v in default.items()) if default else False
    return str(default)


def _help(spec: Spec) -> str:
    text = spec.help
    if spec.choices is not None and "one of" not in text:
        text = f"{text} (one of: {', '.join(map(str, spec.choices))})" if text else f"one of: {spec.choices}"
    if spec.section is not None:
        text += " KEY=VALUE, repeatable"
    if spec.required:
        text += " (required)"
    return text


def _plain_default(spec: Spec) -> bool:
    """Whether click can hold and show the default itself (else it is shown as text)."""
    default = spec.default
    if spec.show_default is not None or default is MISSING or default is None:
        return False
    if isinstance(default, list):
        return bool(default) and all(isinstance(v, str | int | float) for v in default)
    return isinstance(default, str | int | float | bool | Path)


def cli_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per CLI option of ``cls``, annotated for typer, with its default shown.

    Which flags were given is read from click's parameter source (see :func:`command`), so a
    default never overrides a preset or YAML value.
    """
    import typer

    parameters = []
    for spec in specs(cls):
        if not spec.cli:
            continue
        if _plain_default(spec):
            default, shown = spec.default, True
        else:
            default, shown = None, _default_text(spec)
        if spec.positional:
            decl = typer.Argument(help=_help(spec), show_default=shown, metavar=spec.main_flag)
        else:
            decl = typer.Option(spec.flag, help=_help(spec), show_default=shown)
        annotation = Annotated[_cli_type(spec) | None, decl]
        parameters.append(
            inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        )
    return parameters


def fail(message: str) -> typing.NoReturn:
    """Print a user error as one line and exit 2."""
    import typer

    print(f"evolcoder: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def command(
    cls: type,
    *,
    preset_kind: str | None = None,
    extra: Sequence[inspect.Parameter] = (),
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make ``body(config, **extra)`` a typer command whose flags are the options of ``cls``.

    Adds ``--config FILE`` (YAML) and, with ``preset_kind``, ``--preset NAME|FILE``. A
    :class:`UserError` anywhere in the command is printed as one line with exit code 2.
    """
    import typer

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        own = cli_parameters(cls)
        names = {p.name for p in own}
        layers = [
            inspect.Parameter(
                "config",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[Path | None, typer.Option(help="YAML file of these options (over the preset)")],
            )
        ]
        if preset_kind and "preset" not in names:
            help_text = f"A shipped {preset_kind} preset (evolcoder presets) or a YAML file"
            layers.append(
                inspect.Parameter(
                    "preset",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=None,
                    annotation=Annotated[str | None, typer.Option(help=help_text)],
                )
            )
        extra_names = [p.name for p in extra]

        def run(ctx: typer.Context, **kwargs: Any) -> None:
            for name in names:  # a flag left at its default is "not given": lower layers keep their value
                source = ctx.get_parameter_source(name)  # by name: typer may carry its own copy of click
                if source is None or source.name in ("DEFAULT", "DEFAULT_MAP"):
                    kwargs[name] = None
            config_file = kwargs.pop("config")
            preset = kwargs.pop("preset") if "preset" not in names and "preset" in kwargs else None
            extras = {name: kwargs.pop(name) for name in extra_names}
            try:
                config = load_config(cls, config_file=config_file, flags=kwargs, preset=preset, preset_kind=preset_kind)
                body(config, **extras)
            except UserError as exc:
                fail(str(exc))

        context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
        run.__signature__ = inspect.Signature([context, *own, *layers, *extra])  # type: ignore[attr-defined]
        run.__annotations__ = {"ctx": typer.Context}  # real types: typer evaluates them outside this scope
        run.__doc__ = body.__doc__
        run.__name__ = body.__name__
        return run

    return decorate

"""Click options generated from config dataclasses (see ``core.settings``).

Every generated option defaults to ``None`` so a command can tell what the user gave
from what they left alone (``--config`` files and ``--resume`` depend on it); the help
shows the dataclass's default instead. A ``tuple[X, ...]`` field becomes an option that
takes comma-separated values and may be repeated (``--export unreal,web --export usd``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

import click

from setsplat.core.settings import default_of, settings_of


def config_options(cls: type) -> Callable[[Callable], Callable]:
    """Add one option per ``setting`` field of ``cls``; the command receives each under
    the field's name (``None`` when not given)."""
    hints = typing.get_type_hints(cls)

    def decorate(command: Callable) -> Callable:
        for field, meta in reversed(settings_of(cls)):
            command = _option(field, meta, hints[field.name])(command)
        return command

    return decorate


def given_settings(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """Pop the settings of ``cls`` out of a command's keyword arguments; keep the ones
    the user gave."""
    given = {}
    for field, _ in settings_of(cls):
        value = options.pop(field.name, None)
        if value is not None:
            given[field.name] = value
    return given


def _option(field: dataclasses.Field, meta: dict[str, Any], hint: Any) -> Callable:
    flag = meta["flag"] or "--" + field.name.replace("_", "-")
    kind, many = _kind(hint)
    help_text = _with_default(meta["help"], default_of(field), kind)
    if kind is bool:
        return click.option(f"{flag}/--no-{flag.removeprefix('--')}", field.name,
                            default=None, help=help_text)
    click_type = click.Choice(meta["choices"]) if meta["choices"] else kind
    if many:
        if meta["choices"]:
            help_text += f"  Any of: {', '.join(meta['choices'])}."
        return click.option(flag, field.name, multiple=True, callback=_items(click_type),
                            metavar=meta["metavar"] or "A,B,...", help=help_text)
    return click.option(flag, field.name, type=click_type, default=None,
                        metavar=meta["metavar"], help=help_text)


def _kind(hint: Any) -> tuple[type, bool]:
    """The element type of a field (``int``, ``float``, ``str`` or ``bool``; ``X | None``
    -> X) and whether it is a list (``tuple[X, ...]``)."""
    kind = hint
    if typing.get_origin(hint) is not tuple:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kind = args[0] if args else hint
    many = typing.get_origin(kind) is tuple
    if many:
        kind = typing.get_args(kind)[0]
    if kind not in (int, float, str, bool) or (many and kind is bool):
        raise TypeError(f"a setting must be int, float, str or bool, or a tuple of "
                        f"int, float or str, not {hint!r}")
    return kind, many


def _items(click_type: Any) -> Callable:
    """A callback turning repeated, comma-separated values into one tuple (``None`` when
    the option was not given), each value checked by ``click_type``."""

    def convert(context: click.Context, parameter: click.Parameter,
                given: tuple[str, ...]) -> tuple[Any, ...] | None:
        values = [v.strip() for text in given for v in text.split(",") if v.strip()]
        if not values:
            return None
        return tuple(click.types.convert_type(click_type).convert(v, parameter, context)
                     for v in values)

    return convert


def _with_default(text: str, default: Any, kind: type) -> str:
    if default is None or default == ():
        return text
    if isinstance(default, tuple):
        return f"{text}  [default: {','.join(map(str, default))}]"
    if kind is bool:
        shown = "on" if default else "off"
    elif isinstance(default, int) and default >= 10_000:
        shown = f"{default:_}".replace("_", ",")
    else:
        shown = str(default)
    return f"{text}  [default: {shown}]"

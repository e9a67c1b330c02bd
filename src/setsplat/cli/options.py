"""Click options generated from config dataclasses (see ``core.settings``).

Every generated option defaults to ``None`` so a command can tell what the user gave
from what they left alone (``--config`` files and ``--resume`` depend on it); the help
shows the dataclass's default instead.
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
    kind = _scalar(hint)
    help_text = _with_default(meta["help"], default_of(field), kind)
    if kind is bool:
        return click.option(f"{flag}/--no-{flag.removeprefix('--')}", field.name,
                            default=None, help=help_text)
    click_type = click.Choice(meta["choices"]) if meta["choices"] else kind
    return click.option(flag, field.name, type=click_type, default=None,
                        metavar=meta["metavar"], help=help_text)


def _scalar(hint: Any) -> type:
    """``int``, ``float``, ``str`` or ``bool`` from a field's type (``X | None`` -> X)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    kind = args[0] if args else hint
    if kind not in (int, float, str, bool):
        raise TypeError(f"a setting must be int, float, str or bool, not {hint!r}")
    return kind


def _with_default(text: str, default: Any, kind: type) -> str:
    if default is None:
        return text
    if kind is bool:
        shown = "on" if default else "off"
    elif isinstance(default, int) and default >= 10_000:
        shown = f"{default:_}".replace("_", ",")
    else:
        shown = str(default)
    return f"{text}  [default: {shown}]"

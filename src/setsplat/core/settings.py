"""Documented config fields: a default, its help and its choices in one place.

A run is driven by config dataclasses (``TrainConfig``, ``RunConfig``) that are saved
beside their outputs. A field declared with ``setting(...)`` also becomes a command-line
option: the CLI builds the option from the field (name, type, choices, help, default),
so a changed default or a new choice cannot disagree between the library, the saved
config and ``--help``. Fields declared the plain way stay config-file only.

Validation stays in the dataclass (``__post_init__``): the CLI passes what the user
gave and reports the dataclass's one-line error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any


def setting(default: Any = dataclasses.MISSING, help: str = "", *,
            flag: str | None = None, choices: Sequence[str] | None = None,
            metavar: str | None = None,
            default_factory: Callable[[], Any] | Any = dataclasses.MISSING) -> Any:
    """A dataclass field that is also a CLI option.

    ``flag`` overrides the option's name (``--resolution`` for ``downscale``);
    ``choices`` lists the values the option accepts (keep them in a module constant the
    dataclass validates against, so both read the same tuple).
    """
    metadata = {"help": help, "flag": flag, "choices": tuple(choices) if choices else None,
                "metavar": metavar}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"setting": metadata})


def settings_of(cls: type) -> list[tuple[dataclasses.Field, dict[str, Any]]]:
    """The fields of ``cls`` declared with ``setting``, in declaration order."""
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(cls)
            if "setting" in f.metadata]


def default_of(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def option_of(cls: type, name: str) -> str:
    """`` (--steps)`` for a setting, to end an error about the field, so the message names
    the option as well as the config key; empty for other fields."""
    field = next((f for f in dataclasses.fields(cls) if f.name == name), None)
    meta = field.metadata.get("setting") if field else None
    if meta is None:
        return ""
    return f" ({meta['flag'] or '--' + name.replace('_', '-')})"

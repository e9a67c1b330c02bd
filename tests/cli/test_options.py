"""Options generated from config fields: a list-valued setting takes comma-separated,
repeatable values, checked one by one against its choices."""

from __future__ import annotations

from dataclasses import dataclass

import click
from click.testing import CliRunner

from setsplat.cli.options import config_options, given_settings
from setsplat.core.settings import setting


@dataclass
class _Config:
    targets: tuple[str, ...] = setting(("a",), "Targets.", choices=("a", "b", "c"))
    sizes: tuple[int, ...] | None = setting(None, "Sizes.")


@click.command()
@config_options(_Config)
def _command(**options):
    click.echo(repr(given_settings(_Config, options)))


def test_list_settings():
    runner = CliRunner()
    given = runner.invoke(_command, ["--targets", "a, b", "--targets", "c", "--sizes", "3,4"])
    assert given.exit_code == 0 and given.output.strip() == (
        "{'targets': ('a', 'b', 'c'), 'sizes': (3, 4)}")
    assert runner.invoke(_command, []).output.strip() == "{}"
    bad = runner.invoke(_command, ["--targets", "a,d"])
    assert bad.exit_code == 2 and "'d' is not one of 'a', 'b', 'c'" in bad.output
    assert runner.invoke(_command, ["--sizes", "3,x"]).exit_code == 2
    shown = runner.invoke(_command, ["--help"]).output
    assert "[default: a]" in shown and "Any of: a, b, c." in shown

"""The ``setsplat`` command: global options, the area groups, and error handling.

Errors become one line on stderr: ``error: <what> — <what to do>``; exit 2 for bad
input, 1 for a failure; the traceback only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from setsplat import __version__
from setsplat.cli.assets import assets
from setsplat.cli.capture import capture
from setsplat.cli.common import Settings, keep_freed_memory
from setsplat.cli.export import export
from setsplat.cli.info import info
from setsplat.cli.reconstruct import reconstruct
from setsplat.cli.render import render
from setsplat.cli.run import run as run_command
from setsplat.cli.shots import shots
from setsplat.cli.view import view
from setsplat.core.errors import SetsplatError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="setsplat")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or chatter.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable JSON on stdout (implies --quiet).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, as_json: bool) -> None:
    """setsplat: photo scans of film sets -> Gaussian splat scenes -> USD assets and
    exports for Unreal, Omniverse, Unity, glTF/web and AI shot packages."""
    from setsplat.core.progress import set_quiet

    ctx.obj = Settings(debug=debug, quiet=quiet or as_json, json=as_json)
    keep_freed_memory()
    set_quiet(ctx.obj.quiet)


for command in (run_command, info, capture, reconstruct, render, assets, export, shots, view):
    cli.add_command(command)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv`` and return its exit code (tests call this)."""
    debug = "--debug" in argv or os.environ.get("SETSPLAT_DEBUG") == "1"
    try:
        code = cli.main(args=argv, prog_name="setsplat", standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except SetsplatError as exc:
        if debug:
            traceback.print_exc()
        code = _fail(exc.line(), exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "setsplat"
        code = _fail(f"{exc.format_message().rstrip('.')} — see '{where} --help'", 2)
    except click.ClickException as exc:
        code = _fail(exc.format_message(), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        code = _fail("interrupted — nothing half-written was kept; run it again", 130)
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        if debug:
            traceback.print_exc()
            code = _fail(f"unexpected {type(exc).__name__}: {exc}", 1)
        else:
            first = str(exc).splitlines()[0] if str(exc) else ""
            code = _fail(f"unexpected {type(exc).__name__}: {first} — re-run with --debug "
                         "for the traceback and report it", 1)
    return code


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()

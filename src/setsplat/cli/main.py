"""The ``setsplat`` command: global options, the area groups, and error handling.

Errors become one line on stderr: ``error: <what> — <what to do>``; exit 2 for bad
input, 1 for a failure; the traceback only with ``--debug``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

import click

from setsplat import __version__
from setsplat.cli.assets import assets
from setsplat.cli.batch import batch
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

    if not isinstance(ctx.obj, Settings):
        ctx.obj = Settings()
    ctx.obj.debug, ctx.obj.quiet, ctx.obj.json = debug, quiet or as_json, as_json
    keep_freed_memory()
    set_quiet(ctx.obj.quiet)


for command in (run_command, batch, info, capture, reconstruct, render, assets, export,
                shots, view):
    cli.add_command(command)


def _fail(settings: Settings, code: int, what: str, hint: str | None = None,
          path: str | None = None, *, raw: bool = False) -> int:
    """One line on stderr (``raw``: the message as it is, for --debug); with ``--json``
    also the same fields as a JSON object on stdout, so a script that reads stdout
    learns why there is no result."""
    line = what if raw else SetsplatError(what, hint, path).line()
    sys.stderr.write(f"error: {line}\n")
    if settings.json:
        error = {"file": path, "what": what, "hint": hint, "exit_code": code}
        sys.stdout.write(json.dumps({"error": error}) + "\n")
    return code


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that it unwinds like Ctrl-C does: every
    ``finally`` runs and removes what was half-written."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv`` and return its exit code (tests call this)."""
    debug = "--debug" in argv or os.environ.get("SETSPLAT_DEBUG") == "1"
    settings = Settings(json="--json" in argv)
    try:
        code = cli.main(args=argv, prog_name="setsplat", standalone_mode=False, obj=settings)
        code = code if isinstance(code, int) else 0
    except SetsplatError as exc:
        if debug:
            traceback.print_exc()
        code = _fail(settings, exc.exit_code, exc.what, exc.hint, exc.path)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "setsplat"
        code = _fail(settings, 2, exc.format_message().rstrip("."), f"see '{where} --help'")
    except click.ClickException as exc:
        code = _fail(settings, exc.exit_code, exc.format_message())
    except (click.Abort, KeyboardInterrupt, Terminated):
        code = _fail(settings, 130, "interrupted", "nothing half-written was kept; run it again")
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        if debug:
            traceback.print_exc()
            return _fail(settings, 1, f"unexpected {type(exc).__name__}: {exc}", raw=True)
        first = str(exc).splitlines()[0] if str(exc) else ""
        code = _fail(settings, 1, f"unexpected {type(exc).__name__}: {first}",
                     "re-run with --debug for the traceback and report it")
    return code


def main() -> None:
    """Console-script entry point; SIGTERM ends it the way Ctrl-C does."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()

"""The `modelkit` command: one typer app, one module per command.

Every command body runs inside `reporting_errors`, which turns a ModelkitError
into one line on stderr and its exit code; `--debug` shows the traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from modelkit.errors import ExitCode, ModelkitError

app = typer.Typer(
    name="modelkit",
    help="Load, summarize, convert and browse TensorFlow-family models "
         "(TFLite, GraphDef, SavedModel, TF checkpoints, Keras H5).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def version() -> str:
    """The installed distribution's version (its package metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("modelkit")
    except PackageNotFoundError:
        from modelkit import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        print(f"modelkit {version()}")
        raise typer.Exit(0)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
          _version: bool = typer.Option(False, "--version", "-V", is_eager=True,
                                        callback=_print_version,
                                        help="Print the version and exit.")) -> None:
    _state["debug"] = debug


def error(message: str) -> None:
    """Print one error line on stderr."""
    print(f"modelkit: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    """Print one warning line on stderr."""
    print(f"modelkit: warning: {message}", file=sys.stderr)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Map ModelkitError to one stderr line and its exit code; Ctrl-C to 130."""
    try:
        yield
    except ModelkitError as e:
        if _state["debug"]:
            raise
        error(str(e))
        raise typer.Exit(int(e.exit_code)) from None
    except KeyboardInterrupt:
        error("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # NOTE: `modelkit summarize x | head` closes stdout early; that is not an error.
        sys.stderr.close()
        raise typer.Exit(0) from None


# Every command, in the order `modelkit --help` lists them; modelkit/cli/<name>.py
# adds its command to `app` when imported.
COMMANDS = ("summarize", "convert", "transform", "check", "fix", "run", "compare", "diff", "debug",
            "extract", "reduce", "browse", "export")


def _register(only: str | None = None) -> None:
    """Import the command modules; each adds its command to `app`.

    Args:
        only: import just this command's module (the one being run), so a command
            never pays for importing the others; "" imports none (--version); None
            imports all.
    """
    import importlib

    if only == "":
        return
    for name in (only,) if only in COMMANDS else COMMANDS:
        try:
            importlib.import_module(f"modelkit.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"modelkit.cli.{name}":
                raise


def _invoked(argv: list[str]) -> str | None:
    """The command an argument list runs, "" when it runs none (--version), or None
    when all commands are needed (help, no command, an unknown name)."""
    for arg in argv:
        if arg == "--debug":
            continue
        if arg in _NO_COMMAND:
            return ""
        return arg if arg in COMMANDS else None
    return None


# Options of `modelkit` itself that run no command (no command module is imported).
_NO_COMMAND = ("--version", "-V")


def main() -> None:
    """Console-script entry point."""
    _register(_invoked(sys.argv[1:]))
    app()

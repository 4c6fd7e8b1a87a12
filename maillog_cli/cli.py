"""The Typer app: global options, command registration, and the one error path.

Expected failures raise MaillogError and leave here as one line on stderr with exit 1;
usage errors are Typer's (exit 2); a closed pipe ends quietly. Command modules are
thin: parse → call core → render. Heavy modules (Textual, email parsing) load lazily.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Annotated

import typer

from maillog_cli import __version__
from maillog_cli.commands import lean_typer
from maillog_cli.context import MaillogGroup, State, error, format_error
from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, install_argv_text, install_value_labels

install_value_labels()
lean_typer.install()  # start-up: no Pydantic per parameter, no unused Rich modules for help
install_argv_text()

app = typer.Typer(
    name="maillog",
    cls=MaillogGroup,
    help="A log explorer for email: import any provider's logs, then search, follow, explain bounces, audit and resend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maillog {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    db: DbOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """maillog: what happened to this email, which ones bounced and why, who changed what."""
    ctx.obj = State(db=db)


# The commands in the order `maillog --help` lists them.
COMMANDS = (
    "import_",
    "search",
    "show",
    "sql",
    "tail",
    "bounces",
    "audit",
    "resend",
    "prune",
    "export",
    "stats",
    "check",
    "watch",
    "tui",
    "demo",
    "serve",
)


def _register() -> None:
    import importlib

    for name in COMMANDS:
        importlib.import_module(f"maillog_cli.commands.{name}").register(app)


_register()


def main() -> None:
    """Entry point: run the app with the one error path around it."""
    import signal

    # `maillog search | head`: when the reader goes away, end quietly like any Unix tool.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        app(prog_name="maillog")
    except MaillogError as exc:
        error(format_error(exc))
        sys.exit(1)
    except BrokenPipeError:
        # `maillog search | head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(130)
    except sqlite3.DatabaseError as exc:
        # A store failure that no command turned into words (the central places do):
        # still one line that says what is wrong with which file, never a traceback.
        from maillog_cli.context import store_in_use
        from maillog_cli.store.db import storage_error

        error(format_error(storage_error(exc, store_in_use())))
        sys.exit(1)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else "cannot write the output: "
        error(f"error: {where}{exc.strerror or exc}")
        sys.exit(1)

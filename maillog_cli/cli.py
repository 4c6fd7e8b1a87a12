"""The Typer app: global options, command registration, and the one error path.

Expected failures raise MaillogError and leave here as one line on stderr with exit 1;
usage errors are Typer's (exit 2); a closed pipe ends quietly. Command modules are
thin: parse → call core → render. Heavy modules (Textual, email parsing) load lazily.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from maillog_cli import __version__
from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption

app = typer.Typer(
    name="maillog",
    help="A log explorer for email: import any provider's logs, then search, follow, explain bounces, audit and resend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class State:
    db: Path | None = None


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


def db_path(ctx: typer.Context | None, override: Path | None = None) -> Path:
    """--db on the command, else --db before it, else $MAILLOG_DB, else the data dir."""
    from maillog_cli.paths import default_db_path

    if override is not None:
        return override
    state = ctx.find_object(State) if ctx is not None else None
    if state is not None and state.db is not None:
        return state.db
    return default_db_path()


def open_store(
    ctx: typer.Context | None,
    override: Path | None = None,
    readonly: bool = False,
    create: bool = True,
):
    from maillog_cli.store.db import Store

    return Store.open(db_path(ctx, override), readonly=readonly, create=create)


def error(message: str) -> None:
    """One line on stderr, made visible (never markup, never raw control characters)."""
    from maillog_cli.render.output import visible

    sys.stderr.write(f"maillog: {visible(message)}\n")
    sys.stderr.flush()


def _register() -> None:
    from maillog_cli.commands import import_ as imports
    from maillog_cli.commands import search as core

    imports.register(app)
    core.register(app)
    import importlib

    for name in ("tail", "bounces", "audit", "resend", "prune", "stats", "tui", "demo"):
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{name}":
                continue
            raise
        module.register(app)


_register()


def main() -> None:
    """Entry point: run the app with the one error path around it."""
    import signal

    # `maillog search | head`: when the reader goes away, end quietly like any Unix tool.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        app(prog_name="maillog")
    except MaillogError as exc:
        error(f"error: {exc.message}" + (f"; {exc.hint}" if exc.hint else ""))
        sys.exit(1)
    except BrokenPipeError:
        # `maillog search | head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(130)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else "cannot write the output: "
        error(f"error: {where}{exc.strerror or exc}")
        sys.exit(1)

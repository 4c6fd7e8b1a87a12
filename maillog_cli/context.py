"""What every command shares: the store it works on and the one way errors leave.

Commands import from here, never from `cli.py`, so the app module imports the commands
and nothing imports the app module back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from maillog_cli.errors import MaillogError

if TYPE_CHECKING:
    from maillog_cli.store.db import Store


@dataclass
class State:
    """Global options given before the command (`maillog --db X search`)."""

    db: Path | None = None


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
) -> Store:
    """The store the command works on; a writer that must wait for another says so on stderr."""
    from maillog_cli.store.db import Store

    path = db_path(ctx, override)
    _opened.append(path)
    return Store.open(path, readonly=readonly, create=create, on_wait=error)


_opened: list[Path] = []


def store_in_use() -> Path:
    """The store this run opened last (for an error that escaped without naming it)."""
    return _opened[-1] if _opened else db_path(None)


def format_error(exc: MaillogError) -> str:
    """The one-line form of an expected failure, as users (and the tests) see it."""
    return f"error: {exc.message}" + (f"; {exc.hint}" if exc.hint else "")


def error(message: str) -> None:
    """One line on stderr, made visible (never markup, never raw control characters)."""
    from maillog_cli.render.output import visible

    sys.stderr.write(f"maillog: {visible(message)}\n")
    sys.stderr.flush()

"""What every command shares: the store it works on and the one way errors leave.

Commands import from here, never from `cli.py`, so the app module imports the commands
and nothing imports the app module back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

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
    using_store(path)
    if create and not readonly:
        make_data_dir(path)
    return Store.open(path, readonly=readonly, create=create, on_wait=error)


def make_data_dir(path: Path) -> None:
    """Create the user data dir for a store a writer is to make there: the one location
    whose missing directories are created (Store.open refuses a missing directory
    elsewhere, as sqlite3 and git do)."""
    from maillog_cli.paths import data_dir_db_path

    if path.expanduser() == data_dir_db_path() and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)


_opened: list[Path] = []


def using_store(path: Path) -> None:
    """Remember the store this command works on, for the error handler's message."""
    _opened.append(path)


def store_in_use() -> Path:
    """The store this run opened last (for an error that escaped without naming it)."""
    return _opened[-1] if _opened else db_path(None)


def format_error(exc: MaillogError) -> str:
    """The one-line form of an expected failure, as users (and the tests) see it."""
    return f"error: {exc.message}" + (f"; {exc.hint}" if exc.hint else "")


# The longest stderr line: its start (what failed) and end (the hint) are kept.
LINE_LIMIT = 2000


def error(message: str) -> None:
    """One line on stderr, made visible (never markup, never raw control characters) and
    with credentials masked: an argument or a record echoed in an error (`show
    'password=…'`, `--to https://user:pass@host`) never prints the secret it holds."""
    from maillog_cli.redaction import mask_credentials
    from maillog_cli.render.output import visible

    line = visible(mask_credentials(message))
    if len(line) > LINE_LIMIT:  # a 100k-character argument echoed whole buried the hint
        cut = len(line) - LINE_LIMIT
        half = LINE_LIMIT // 2
        line = f"{line[:half]}…[{cut} characters]…{line[-half:]}"
    sys.stderr.write(f"maillog: {line}\n")
    sys.stderr.flush()


def stdin_is_terminal() -> bool:
    """Whether a person can be asked (patched in tests)."""
    from maillog_cli.render.output import is_terminal

    return is_terminal(sys.stdin)  # type: ignore[arg-type]


def confirm_or_refuse(
    question: str,
    *,
    no_terminal: MaillogError,
    declined: MaillogError,
    show: Callable[[], None] = lambda: None,
    err: bool = False,
) -> None:
    """Go on only when a person at a terminal answers yes to `question`.

    Without a terminal nobody can answer, so `no_terminal` is raised before anything is
    shown; `show()` then prints what would happen, and any answer but yes raises
    `declined`. Both leave through the one error path (one line, exit 1).
    """
    if not stdin_is_terminal():
        raise no_terminal
    show()
    if not typer.confirm(question, default=False, err=err):
        raise declined


# --- values Typer refuses -----------------------------------------------------------------------
# Typer words a bad value the way its validator does ("Value error, 'xml' is not one of …",
# "Input should be less than or equal to 599"). Every bad value instead leaves like the
# ones maillog checks itself: `error: --format 'xml' is not one of table, json, jsonl, csv`,
# one line, exit 1. A malformed command line (unknown option, missing argument) stays
# Typer's usage message, exit 2.


def _option_name(exc: typer.BadParameter) -> str | None:
    """The option a refused value was given to (--format), when Typer knows it."""
    param = exc.param
    if param is None:
        hint = exc.param_hint
        return hint if isinstance(hint, str) else None
    longs = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    return longs[0] if longs else (getattr(param, "human_readable_name", "") or "").upper() or None


def bad_value(exc: typer.BadParameter) -> MaillogError:
    """A value Typer refused, worded for a person: which option, what was wrong, and where
    the accepted values are."""
    name = _option_name(exc) or "a value"
    error = None
    cause = exc.__cause__
    if cause is not None and hasattr(cause, "errors"):
        errors = cause.errors()
        error = errors[0] if errors else None
    command = exc.ctx.command_path if exc.ctx is not None else "maillog"
    hint = f"see {command} -h"
    if error is None:
        prefix = f"{_option_name(exc)}: " if _option_name(exc) else ""
        return MaillogError(prefix + exc.message, hint)
    value, kind, limits = error.get("input"), error.get("type"), error.get("ctx") or {}
    desc = getattr(exc.param, "type_descriptor", None)
    if desc is not None and desc.is_choice:
        accepted = ", ".join(str(getattr(c, "value", c)) for c in desc.choices or ())
        return MaillogError(f"{name} {value!r} is not one of {accepted}", hint)
    if kind in ("less_than_equal", "less_than"):
        bound = limits.get("le", limits.get("lt"))
        return MaillogError(f"{name} {value} is too large: at most {bound}", hint)
    if kind in ("greater_than_equal", "greater_than"):
        bound = limits.get("ge", limits.get("gt"))
        return MaillogError(f"{name} {value} is too small: at least {bound}", hint)
    if kind and kind.startswith("int"):
        return MaillogError(f"{name} {value!r} is not a whole number", hint)
    if kind and kind.startswith("float"):
        return MaillogError(f"{name} {value!r} is not a number", hint)
    message = str(error.get("msg", exc.message)).removeprefix("Value error, ")
    return MaillogError(f"{name} {value!r}: {message}", hint)


class MaillogGroup(TyperGroup):
    """The app's group: a value Typer refuses leaves through the one error path (exit 1)."""

    def invoke(self, ctx: Any) -> Any:  # Typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            raise bad_value(exc) from None

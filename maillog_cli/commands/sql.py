"""`sql`: the read-only escape hatch over the documented schema."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, FormatOption, OutputFormat


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)


def sql(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help="A SELECT over the documented schema (events, messages, audit, imports)."
        ),
    ],
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Read-only SQL escape hatch: the store is opened read-only, so nothing can change."""
    from maillog_cli.context import open_store
    from maillog_cli.render.output import console, is_terminal, table, write_rows, write_tsv

    store = open_store(ctx, db, readonly=True)
    store.conn.set_authorizer(_reads_only)
    try:
        cur = store.conn.execute(query)
    except sqlite3.Error as exc:
        raise MaillogError(
            f"SQL error: {exc}",
            "the schema is in the README (tables events, messages, audit, imports)",
        ) from None
    names = [d[0] for d in cur.description or []]
    rows: Any = (dict(zip(names, r, strict=False)) for r in cur)
    if fmt is not OutputFormat.table:
        write_rows(rows, names, fmt.value)
    elif is_terminal():
        console().print(
            table([(n, {"overflow": "fold"}) for n in names], ([r[n] for n in names] for r in rows))
        )
    else:
        write_tsv([r[n] for n in names] for r in rows)


def _reads_only(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """SQLite authorizer for `maillog sql`: no ATTACH (it creates files), no PRAGMA that sets."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if (
        action == sqlite3.SQLITE_PRAGMA
        and arg2 is not None
        and (arg1 or "").lower() not in _PRAGMAS_WITH_ARGS
    ):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


# Pragmas whose argument names a thing to read, not a value to set.
_PRAGMAS_WITH_ARGS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "integrity_check",
        "quick_check",
        "table_list",
    }
)

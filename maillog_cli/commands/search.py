"""`search`/`ls`, `show` and `sql`: reading the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import FormatOption, LimitOption, OutputFormat, filter_options
from maillog_cli.store.query import Filters


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("ls", help="Alias of search.")(search)
    app.command("show")(show)
    app.command("sql")(sql)


@filter_options
def search(
    ctx: typer.Context,
    text: Annotated[
        list[str] | None,
        typer.Argument(help="Free text in subject, addresses and diagnostics.", show_default=False),
    ] = None,
    messages: Annotated[
        bool, typer.Option("--messages", "-m", help="One row per email, with its latest status.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = 100,
    db: Annotated[
        Path | None, typer.Option("--db", help="Database file.", show_default=False)
    ] = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Search events (newest first) with filters and free text."""
    from maillog_cli.cli import open_store
    from maillog_cli.commands.listing import emit_events, rows_as_dicts
    from maillog_cli.store.query import events_sql

    store = open_store(ctx, db, readonly=True)
    sql, params = events_sql(filters, limit or None, messages=messages)
    cur = store.conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    emit_events(rows_as_dicts(cur, names), fmt)


def show(
    ctx: typer.Context,
    ident: Annotated[
        str,
        typer.Argument(
            metavar="MESSAGE_ID", help="Message-ID, provider message id or queue id; <> optional."
        ),
    ],
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json.", case_sensitive=False)
    ] = OutputFormat.table,
    raw: Annotated[
        bool, typer.Option("--raw", help="Print the stored email itself (when one was imported).")
    ] = False,
    db: Annotated[
        Path | None, typer.Option("--db", help="Database file.", show_default=False)
    ] = None,
) -> None:
    """One message: what is known about it, then its events as a timeline."""
    from maillog_cli.cli import open_store
    from maillog_cli.message_detail import load_message

    store = open_store(ctx, db, readonly=True)
    detail = load_message(store, ident)
    if detail is None:
        raise MaillogError(
            f"no message {ident!r} in {store.path}",
            "check the id with: maillog search --message-id ID, or maillog search TEXT",
        )
    if raw:
        if detail.raw is None:
            raise MaillogError(
                f"no stored content for {detail.message_id}",
                "import the original (.eml, mbox) first",
            )
        import sys

        sys.stdout.buffer.write(detail.raw)
        return
    if fmt in (OutputFormat.json, OutputFormat.jsonl):
        from maillog_cli.render.output import json_line

        typer.echo(json_line(detail.as_json()))
        return
    if fmt is OutputFormat.csv:
        from maillog_cli.model import EVENT_KEYS
        from maillog_cli.render.output import write_rows

        write_rows(detail.events, EVENT_KEYS, "csv")
        return
    from maillog_cli.render.output import console

    console().print(detail.renderable())


def sql(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help="A SELECT over the documented schema (events, messages, audit, imports)."
        ),
    ],
    fmt: FormatOption = OutputFormat.table,
    db: Annotated[
        Path | None, typer.Option("--db", help="Database file.", show_default=False)
    ] = None,
) -> None:
    """Read-only SQL escape hatch: the store is opened read-only, so nothing can change."""
    from maillog_cli.cli import open_store
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

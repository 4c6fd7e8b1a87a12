"""`search` and its alias `ls`: events (or messages) matching filters and free text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from maillog_cli.options import (
    DbOption,
    FormatOption,
    LimitOption,
    OutputFormat,
    TextArgument,
    filter_options,
)

if TYPE_CHECKING:  # loads with the command's run, not with --help
    from maillog_cli.store.query import Filters


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("ls", help="Alias of search.")(search)


@filter_options
def search(
    ctx: typer.Context,
    text: TextArgument = None,
    messages: Annotated[
        bool, typer.Option("--messages", "-m", help="One row per email, with its latest status.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = 100,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Search events (newest first) with filters and free text."""
    from maillog_cli.commands.listing import emit_events, plus_one, say_when_empty, up_to_limit
    from maillog_cli.context import open_store
    from maillog_cli.store.query import count_sql, has_rollups, iter_events

    store = open_store(ctx, db, readonly=True)

    def total() -> int:
        sql, params = count_sql(filters, messages=messages, rollups=has_rollups(store.conn))
        return int(store.conn.execute(sql, params).fetchone()[0])

    rows = iter_events(store.conn, filters, plus_one(limit), messages=messages)
    shown = emit_events(up_to_limit(rows, limit, total), fmt, messages=messages, conn=store.conn)
    say_when_empty(store.conn, shown, "messages" if messages else "events")

"""`search` and its alias `ls`: events (or messages) matching filters and free text."""

from __future__ import annotations

from typing import Annotated

import typer

from maillog_cli.options import DbOption, FormatOption, LimitOption, OutputFormat, filter_options
from maillog_cli.store.query import Filters


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("ls", help="Alias of search.")(search)


@filter_options
def search(
    ctx: typer.Context,
    text: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TEXT",
            help="Free text in subject, addresses and diagnostics.",
            show_default=False,
        ),
    ] = None,
    messages: Annotated[
        bool, typer.Option("--messages", "-m", help="One row per email, with its latest status.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = 100,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Search events (newest first) with filters and free text."""
    from maillog_cli.commands.listing import emit_events
    from maillog_cli.context import open_store
    from maillog_cli.store.query import iter_events

    store = open_store(ctx, db, readonly=True)
    emit_events(iter_events(store.conn, filters, limit or None, messages=messages), fmt)

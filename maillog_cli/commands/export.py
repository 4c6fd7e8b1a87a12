"""`maillog export`: the whole store (or what the filters select) in the full form that
`maillog import` restores as it was."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from maillog_cli.options import DbOption, filter_options

if TYPE_CHECKING:  # loads with the command's run, not with --help
    from maillog_cli.store.query import Filters


def register(app: typer.Typer) -> None:
    app.command("export")(export)


@filter_options
def export(
    ctx: typer.Context,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write: a file (.gz compresses), or - for stdout.",
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Write events, messages, aliases, stored emails and audit as JSON lines that
    `maillog import FILE` restores exactly (filters select events and their messages;
    audit goes along unless a filter other than --since/--until is given)."""
    from maillog_cli.context import open_store
    from maillog_cli.export import export as write_export
    from maillog_cli.export import refuse_the_store
    from maillog_cli.paths import shown_target
    from maillog_cli.render.output import visible

    store = open_store(ctx, db, readonly=True)
    refuse_the_store(output, store.path)
    header = write_export(store.conn, output, filters, force=force)
    if output != "-":
        parts = ", ".join(
            f"{header.get(k, 0)} {k}"
            for k in ("events", "messages", "aliases", "contents", "audit", "queue")
        )
        sys.stderr.write(visible(f"exported {parts} to {shown_target(output)}") + "\n")

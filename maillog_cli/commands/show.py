"""`show`: one message, what is known about it and its timeline."""

from __future__ import annotations

from typing import Annotated

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, OutputFormat


def register(app: typer.Typer) -> None:
    app.command("show")(show)


def show(
    ctx: typer.Context,
    ident: Annotated[
        str,
        typer.Argument(
            metavar="MESSAGE_ID|ADDRESS",
            help="Message-ID, provider message id or queue id (<> optional), or the start of "
            "one (the short id a listing shows); or a recipient address: that recipient's "
            "messages, newest first.",
        ),
    ],
    fmt: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (the message and its timeline), json or jsonl (one object: message, "
            "aliases, resends, events), csv (its events, one per row).",
            case_sensitive=False,
        ),
    ] = OutputFormat.table,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Print the stored email itself (when one was imported): its exact bytes "
            "in a pipe, with control characters made visible on a terminal.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """One message: what is known about it, then its events as a timeline."""
    from maillog_cli.context import open_store
    from maillog_cli.message_detail import load_message

    store = open_store(ctx, db, readonly=True)
    detail = load_message(store, ident)
    if detail is None and _recipient_messages(store, ident, fmt):
        return
    if detail is None:
        detail = _by_prefix(store, ident)
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
        _print_raw(detail.raw)
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
    from maillog_cli.render.message import message_view
    from maillog_cli.render.output import console

    console().print(message_view(detail))


def _by_prefix(store, ident: str):  # -> MessageDetail | None
    """The message whose id starts with `ident`: what a terminal listing shows (a unique
    prefix); several such messages is a one-line error that names some."""
    from maillog_cli.message_detail import load_message
    from maillog_cli.store.query import resolve_prefix

    mid = resolve_prefix(store.conn, ident)
    return load_message(store, mid) if mid else None


def _recipient_messages(store, ident: str, fmt: OutputFormat) -> bool:
    """`show ADDRESS`: the recipient's messages (each with its latest status), newest
    first, as `search --messages --to ADDRESS` lists them; False when there are none."""
    if "@" not in ident or ident.strip().startswith("<"):
        return False
    from maillog_cli.commands.listing import emit_events, plus_one, up_to_limit
    from maillog_cli.store.query import build, count_sql, has_rollups, iter_events

    filters = build(to=ident)
    limit = 100
    rows = list(iter_events(store.conn, filters, plus_one(limit), messages=True))
    if not rows:
        return False

    def total() -> int:
        sql, params = count_sql(filters, messages=True, rollups=has_rollups(store.conn))
        return int(store.conn.execute(sql, params).fetchone()[0])

    emit_events(up_to_limit(rows, limit, total), fmt, conn=store.conn)
    return True


def _print_raw(raw: bytes) -> None:
    """The stored email: byte for byte into a pipe or file (to save or re-send it); on a
    terminal as text with escapes made visible, lines and tabs kept, so a hostile message
    cannot drive the terminal."""
    import sys

    from maillog_cli.render.output import is_terminal, visible

    if not is_terminal(sys.stdout):
        sys.stdout.buffer.write(raw)
        return
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").removesuffix("\n")
    for line in text.split("\n"):
        sys.stdout.write("\t".join(visible(part) for part in line.split("\t")) + "\n")

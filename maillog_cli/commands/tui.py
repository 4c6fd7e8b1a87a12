"""`maillog tui`: the Textual browser. Textual is imported only when this command runs."""

from __future__ import annotations

from typing import Annotated

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption


def register(app: typer.Typer) -> None:
    app.command("tui")(tui)


def tui(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FILTER_WORDS",
            help="Start filtered, e.g. status:bounced domain:gmail.com since:yesterday (the words `/` takes).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Browse the store full-screen: emails, bounces, audit, stats (press ? inside for the keys)."""
    import shlex
    import sys

    from maillog_cli.commands import survive_closed_peers
    from maillog_cli.context import db_path
    from maillog_cli.render.output import is_terminal
    from maillog_cli.store.query import parse_words

    text = shlex.join(words) if words else ""
    filters = parse_words(text)
    if not (is_terminal(sys.stdin) and is_terminal(sys.stdout)):  # type: ignore[arg-type]
        raise MaillogError(
            "maillog tui needs a terminal",
            " ".join(["in scripts use: maillog search --messages", filters.as_options()]).strip(),
        )
    from maillog_cli.tui.data import Source

    source = Source(db_path(ctx, db))
    from maillog_cli.tui.app import MaillogApp

    survive_closed_peers()  # a resend from the TUI talks SMTP

    try:
        MaillogApp(source, filters, text).run()
    finally:
        source.close()

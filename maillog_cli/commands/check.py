"""`maillog check`: one pass over the `[[alert]]` rules — for cron, CI and monitoring.

Exit codes (docs/cli/check.md): 0 all clear, 3 at least one alert is firing; 1 stays an
error (a bad rule file, an unreadable store) and 2 a usage error, so a script can tell
"something is wrong with the mail" from "something is wrong with the check".
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from maillog_cli.commands import survive_closed_peers
from maillog_cli.options import DbOption, choices

if TYPE_CHECKING:
    CheckFormat = StrEnum
else:
    CheckFormat = choices("CheckFormat", ("table", "json"))

FIRING_EXIT = 3


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIME",
            help="Evaluate as if it were TIME (2026-03-02T12:00Z, yesterday 15:00 …); default now.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (for a person) or json (one object: the verdicts, the alerts, what was sent).",
            case_sensitive=False,
            rich_help_panel="Output",
        ),
    ] = "table",  # type: ignore[assignment]
    send: Annotated[
        bool,
        typer.Option(
            "--notify/--no-notify",
            help="Send the notifications that are due and remember them in the store"
            " (--no-notify: only report; the store is opened read-only).",
        ),
    ] = True,
    db: DbOption = None,
) -> None:
    """Evaluate the alert rules of the config file once: exit 0 all clear, 3 firing.

    A rule measures a rate or a count over a window, per domain, mailbox
    provider, sender, provider or tag. An alert says what changed before it:
    audit entries, new bounce reasons, the top remote replies. docs/alerts.md.

      maillog check
      maillog check --format json
      maillog check --now "2026-03-02 12:00" --no-notify
    """
    survive_closed_peers()
    from maillog_cli.alerts.rules import load_rules
    from maillog_cli.alerts.watch import document, run_pass
    from maillog_cli.context import open_store
    from maillog_cli.dates import now_utc, parse_when
    from maillog_cli.render.alerts import print_report

    as_json = str(fmt) == "json"
    rules = load_rules()
    at = parse_when(now) if now else now_utc()
    store = open_store(ctx, db, readonly=not send, create=False)
    result = run_pass(store, rules, at, line_writer(json_mode=as_json), send=send)
    for failure in result.failures:
        from maillog_cli.context import error

        error(f"notification failed: {failure}")
    data = document(result, rules)
    if as_json:
        from maillog_cli.render.output import json_line

        typer.echo(json_line(data))
    else:
        print_report(data)
    if result.firing:
        raise typer.Exit(FIRING_EXIT)


def line_writer(json_mode: bool = False):  # -> notify.Write
    """Where notification lines go: their stream (stderr for stdout's when stdout carries
    one JSON document), untrusted text made visible."""
    from maillog_cli.render.output import visible

    def write(stream: str, line: str) -> None:
        out = sys.stderr if (stream == "stderr" or json_mode) else sys.stdout
        out.write(visible(line) + "\n")
        out.flush()

    return write

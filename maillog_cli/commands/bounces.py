"""`maillog bounces`: the summary, the bounce events, explain, suppressions, reclassify.

Thin: parse → bounce_report / suppress → render. Output design (docs/cli/bounces.md):
every format gives the summary (`json` one object, `jsonl`/`csv` its rows, one per line,
tagged with `kind`); `--list` gives the bounce events themselves in the contract keys,
in any format, as `search` lists events.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import (
    DbOption,
    FormatOption,
    ObjectFormat,
    ObjectFormatOption,
    OutputFormat,
    cap_count,
    filter_options,
)

if TYPE_CHECKING:  # loads with the command's run, not with --help
    from maillog_cli.store.query import Filters

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bounces")


# --- summary / listing ------------------------------------------------------------------------


@app.callback()
@filter_options
def bounces(
    ctx: typer.Context,
    fmt: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (the summary; with --list a table of events, TSV in a pipe), json "
            "(one object), jsonl or csv (the summary's rows; with --list, events).",
            case_sensitive=False,
            rich_help_panel="Output",
        ),
    ] = OutputFormat.table,
    list_: Annotated[
        bool,
        typer.Option(
            "--list",
            "-l",
            help="List the bounce events themselves (newest first, as search does) instead of the summary.",
            rich_help_panel="Output",
        ),
    ] = False,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            help="Rows in the domain and diagnostic rankings.",
            min=1,
            callback=cap_count,
            rich_help_panel="Output",
        ),
    ] = 10,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help="With --list: at most this many events; 0 for all. (The summary uses --top.)",
            min=0,
            callback=cap_count,
            rich_help_panel="Output",
        ),
    ] = 100,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Bounce summary: by class, reason, domain and diagnostic, and a per-day trend.

    Looks at deferred, bounced, dropped and failed events unless --status says otherwise.
    Every --format prints the summary (json: one object; jsonl/csv: one row per class,
    reason, domain, diagnostic and day, tagged by `kind`). --list prints the matching
    events instead, newest first, in the contract keys (--limit applies):
    `maillog bounces --list --class hard --format csv --limit 0 > hard.csv`.
    """
    if ctx.invoked_subcommand is not None:
        if not filters.is_empty() or fmt is not OutputFormat.table or list_:
            raise MaillogError(
                f"options before {ctx.invoked_subcommand!r} do not apply to it",
                f"put them after it: maillog bounces {ctx.invoked_subcommand} …",
            )
        return
    from maillog_cli.bounce.report import bounce_filters
    from maillog_cli.context import open_store

    f = bounce_filters(filters)
    store = open_store(ctx, db, readonly=True)
    if list_:
        _list_events(store, f, fmt, limit)
        return
    from maillog_cli.bounce.report import summary

    result = summary(store, f, top=top)
    if fmt is OutputFormat.json:
        from maillog_cli.render.output import json_line

        typer.echo(json_line(result.as_json()))
        return
    if fmt is not OutputFormat.table:
        from maillog_cli.bounce.report import SUMMARY_ROW_KEYS
        from maillog_cli.render.output import write_rows

        write_rows(result.rows(), SUMMARY_ROW_KEYS, fmt.value)
        return
    from maillog_cli.render.bounces import print_summary

    print_summary(result, None if filters.is_empty() else filters.describe())


def _list_events(store: Any, f: Filters, fmt: OutputFormat, limit: int) -> None:
    from maillog_cli.commands.listing import emit_events, plus_one, say_when_empty, up_to_limit
    from maillog_cli.store.query import count_sql, iter_events

    def total() -> int:
        sql, params = count_sql(f)
        return int(store.conn.execute(sql, params).fetchone()[0])

    rows = up_to_limit(iter_events(store.conn, f, plus_one(limit)), limit, total)
    shown = emit_events(rows, fmt, conn=store.conn)
    say_when_empty(store.conn, shown, "bounces")


# --- explain ----------------------------------------------------------------------------------


@app.command("explain")
def explain_cmd(
    text: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TEXT",
            help="The bounce / reply text (quote it); - reads it from stdin.",
            show_default=False,
        ),
    ] = None,
    code: Annotated[
        int | None,
        typer.Option(
            "--code",
            help="SMTP reply code, when it is not in the text (e.g. 550).",
            min=200,
            max=599,
        ),
    ] = None,
    enhanced: Annotated[
        str | None,
        typer.Option(
            "--enhanced", help="Enhanced status code X.Y.Z, when not in the text (e.g. 5.1.1)."
        ),
    ] = None,
    hint: Annotated[
        str | None,
        typer.Option(
            "--hint",
            help="The provider's own label, e.g. ses:Permanent/NoEmail or sendgrid-drop:Bounced Address.",
        ),
    ] = None,
    fmt: ObjectFormatOption = ObjectFormat.table,
    db: DbOption = None,  # accepted like everywhere; explaining a text reads no store
) -> None:
    """Classify one bounce text: class, reason, the rule that matched, what it means, what to do.

    maillog bounces explain '550 5.7.26 Unauthenticated email from example.com is not accepted due to domain DMARC policy'
    """
    from maillog_cli.bounce.report import explain

    words = list(text or [])
    body = sys.stdin.read() if words == ["-"] else " ".join(words)
    if enhanced is not None and not _enhanced_ok(enhanced):
        raise MaillogError(
            f"--enhanced {enhanced!r} is not an enhanced status code",
            "write it as class.subject.detail, e.g. 5.1.1",
        )
    result = explain(body, code, enhanced, hint)
    if fmt != "table":
        from maillog_cli.render.output import json_line

        typer.echo(json_line(result.as_json()))
        return
    from maillog_cli.render.bounces import print_explanation

    print_explanation(result)


def _enhanced_ok(code: str) -> bool:
    parts = code.strip().lstrip("#").split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in "245"


# --- suppressions -----------------------------------------------------------------------------


@app.command("suppressions")
@filter_options(omit=("status",))
def suppressions_cmd(
    ctx: typer.Context,
    soft_after: Annotated[
        int,
        typer.Option(
            "--soft-after",
            help="Suppress after this many final soft bounces since the last delivery.",
            min=1,
            callback=cap_count,
        ),
    ] = 3,
    soft_window: Annotated[
        float,
        typer.Option(
            "--soft-window",
            help="…and the first and last of them at least this many days apart.",
            min=0,
        ),
    ] = 7.0,
    unsubscribes: Annotated[
        bool,
        typer.Option(
            "--unsubscribes/--no-unsubscribes", help="Include addresses that unsubscribed."
        ),
    ] = True,
    fmt: FormatOption = OutputFormat.table,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help="At most this many addresses; 0 (default) for all.",
            min=0,
            callback=cap_count,
            rich_help_panel="Output",
        ),
    ] = 0,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Addresses to stop mailing and why: hard bounces, complaints, unsubscribes, repeated soft bounces.

    maillog bounces suppressions --format csv > suppress.csv
    """
    from maillog_cli.bounce.suppress import SUPPRESSION_KEYS, suppression_list
    from maillog_cli.commands.listing import plus_one, up_to_limit
    from maillog_cli.context import open_store

    store = open_store(ctx, db, readonly=True)

    def addresses(at_most: int | None) -> Any:
        return suppression_list(
            store,
            filters,
            soft_after=soft_after,
            window_days=soft_window,
            unsubscribes=unsubscribes,
            limit=at_most,
        )

    rows = up_to_limit(addresses(plus_one(limit)), limit, lambda: sum(1 for _ in addresses(None)))
    if fmt is not OutputFormat.table:
        from maillog_cli.render.output import write_rows

        write_rows(rows, SUPPRESSION_KEYS, fmt.value)
        return
    from maillog_cli.render.bounces import print_suppressions, suppression_cells
    from maillog_cli.render.output import is_terminal, write_tsv

    if not is_terminal():
        write_tsv(suppression_cells(r, plain=True) for r in rows)
        return
    print_suppressions(rows)


# --- reclassify -------------------------------------------------------------------------------


@app.command("reclassify")
def reclassify_cmd(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; write nothing.")
    ] = False,
    batch: Annotated[
        int,
        typer.Option(
            "--batch", help="Events per transaction.", min=100, hidden=True, callback=cap_count
        ),
    ] = 50_000,
    fmt: ObjectFormatOption = ObjectFormat.table,
    db: DbOption = None,
) -> None:
    """Re-apply the bounce rules to every stored bounce event (after the rules changed).

    Only rows whose class or reason changes are written, one transaction per batch;
    each email's class and reason follow its latest event.
    """
    from maillog_cli.bounce.report import reclassify
    from maillog_cli.context import open_store

    store = open_store(ctx, db, readonly=dry_run, create=False)
    if sys.stderr.isatty() and fmt == "table":
        from maillog_cli.render.bounces import reclassify_progress

        with reclassify_progress() as progress:
            result = reclassify(store, batch=batch, dry_run=dry_run, progress=progress)
    else:
        result = reclassify(store, batch=batch, dry_run=dry_run)
    if fmt != "table":
        from maillog_cli.render.output import json_line

        typer.echo(json_line(result.as_json()))
        return
    from maillog_cli.render.bounces import print_reclassified

    print_reclassified(result)

"""`maillog bounces`: the summary, the bounce events, explain, suppressions, reclassify.

Thin: parse → bounce_report / suppress → render. Output design (docs/cli/bounces.md):
`--format table` (default) and `json` give the summary; `jsonl` and `csv` — and any
format with `--list` — give the bounce events themselves in the contract keys.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import (
    DbOption,
    FormatOption,
    LimitOption,
    OutputFormat,
    cap_count,
    filter_options,
)
from maillog_cli.store.query import Filters

if TYPE_CHECKING:
    from maillog_cli.bounce.report import Explanation, Reclassified, Summary

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TREND_DAYS = 31  # days shown in the table trend; json has them all
WHY_WORDS = {
    "hard_bounce": "hard bounce",
    "complaint": "complaint",
    "unsubscribed": "unsubscribed",
    "soft_bounces": "soft bounces",
}
CLASS_STYLE = {"hard": "red", "soft": "yellow", "block": "magenta", "undetermined": "grey50"}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bounces")


# --- summary / listing ------------------------------------------------------------------------


@app.callback()
@filter_options
def bounces(
    ctx: typer.Context,
    fmt: FormatOption = OutputFormat.table,
    list_: Annotated[
        bool,
        typer.Option(
            "--list",
            "-l",
            help="The bounce events themselves instead of the summary (any --format).",
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
    limit: LimitOption = 100,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Bounce summary: by class, reason, domain and diagnostic, and a per-day trend.

    Looks at deferred, bounced, dropped and failed events unless --status says otherwise.
    --format json prints the summary as one object; --format jsonl/csv (or --list) print
    the matching events, newest first, in the contract keys:
    `maillog bounces --class hard --format csv --limit 0 > hard.csv`.
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
    if list_ or fmt in (OutputFormat.jsonl, OutputFormat.csv):
        _list_events(store, f, fmt, limit)
        return
    from maillog_cli.bounce.report import summary

    result = summary(store, f, top=top)
    if fmt is OutputFormat.json:
        from maillog_cli.render.output import json_line

        typer.echo(json_line(result.as_json()))
        return
    _print_summary(result, filters)


def _list_events(store: Any, f: Filters, fmt: OutputFormat, limit: int) -> None:
    from maillog_cli.commands.listing import emit_events, rows_as_dicts
    from maillog_cli.store.query import events_sql

    sql, params = events_sql(f, limit or None)
    cur = store.conn.execute(sql, params)
    shown = emit_events(rows_as_dicts(cur, [d[0] for d in cur.description]), fmt)
    if limit and shown == limit:
        sys.stderr.write(f"maillog: showing the newest {limit} events; --limit 0 for all\n")


def _bar(n: int, most: int, width: int, style: str = ""):
    from rich.text import Text

    cells = round(width * n / most) if most else 0
    return Text("█" * max(cells, 1 if n else 0), style=style)


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _heading(out: Any, text: str) -> None:
    from rich.text import Text

    out.print()
    out.print(Text(text, style="bold"))


def _print_summary(s: Summary, user_filters: Filters) -> None:
    """The summary as a few narrow tables that fit an 80-column terminal."""
    from rich.text import Text

    from maillog_cli.render.output import console, one_line, table

    out = console()
    title = Text("Bounces", style="bold")
    title.append(
        f"  {s.events:,} events · {s.messages:,} messages · {s.recipients:,} recipients", style=""
    )
    out.print(title)
    if not user_filters.is_empty():
        out.print(Text(one_line(user_filters.describe()), style="dim"))
    if not s.events:
        out.print("no bounce events match", style="dim")
        return
    width = out.width
    num = {"justify": "right", "no_wrap": True}

    _heading(out, "By class")
    most = max(c["events"] for c in s.by_class)
    out.print(
        table(
            [
                ("class", {"no_wrap": True}),
                ("events", num),
                ("share", num),
                ("", {"no_wrap": True}),
            ],
            (
                [
                    Text(
                        c["bounce_class"] or "none",
                        style=CLASS_STYLE.get(c["bounce_class"] or "", ""),
                    ),
                    f"{c['events']:,}",
                    _pct(c["share"]),
                    _bar(
                        c["events"],
                        most,
                        max(10, width - 40),
                        CLASS_STYLE.get(c["bounce_class"] or "", ""),
                    ),
                ]
                for c in s.by_class
            ),
        )
    )

    _heading(out, "By reason")
    out.print(
        table(
            [
                ("reason", {"no_wrap": True}),
                ("class", {"no_wrap": True}),
                ("events", num),
                ("share", num),
            ],
            (
                [
                    r["bounce_reason"] or "none",
                    Text(
                        r["bounce_class"] or "none",
                        style=CLASS_STYLE.get(r["bounce_class"] or "", ""),
                    ),
                    f"{r['events']:,}",
                    _pct(r["share"]),
                ]
                for r in s.by_reason
            ),
        )
    )

    _heading(out, "Top recipient domains")
    out.print(
        table(
            [
                ("domain", {"no_wrap": True, "overflow": "ellipsis", "max_width": 26}),
                ("events", num),
                ("hard", num),
                ("soft", num),
                ("block", num),
                ("undet.", num),
                ("top reason", {"no_wrap": True, "overflow": "ellipsis"}),
            ],
            (
                [
                    d["domain"],
                    f"{d['events']:,}",
                    f"{d['hard']:,}",
                    f"{d['soft']:,}",
                    f"{d['block']:,}",
                    f"{d['undetermined']:,}",
                    d["top_reason"] or "",
                ]
                for d in s.domains
            ),
        )
    )

    _heading(out, "Top diagnostics (addresses, IPs and ids replaced)")
    out.print(
        table(
            [("events", num), ("reason", {"no_wrap": True}), ("diagnostic", {"overflow": "fold"})],
            (
                [f"{d['events']:,}", d["bounce_reason"] or "", one_line(d["pattern"], 160)]
                for d in s.diagnostics
            ),
        )
    )

    series = s.series[-TREND_DAYS:]
    _heading(
        out,
        "Per day"
        + (
            f" (last {TREND_DAYS} of {len(s.series)} days; --format json has all)"
            if len(s.series) > TREND_DAYS
            else ""
        ),
    )
    most = max((d["events"] for d in series), default=0)
    out.print(
        table(
            [
                ("day", {"no_wrap": True}),
                ("events", num),
                ("hard", num),
                ("soft", num),
                ("block", num),
                ("undet.", num),
                ("", {"no_wrap": True}),
            ],
            (
                [
                    d["day"],
                    f"{d['events']:,}",
                    f"{d['hard']:,}",
                    f"{d['soft']:,}",
                    f"{d['block']:,}",
                    f"{d['undetermined']:,}",
                    _bar(d["events"], most, max(8, width - 52)),
                ]
                for d in series
            ),
        )
    )


# --- explain ----------------------------------------------------------------------------------


@app.command("explain")
def explain_cmd(
    text: Annotated[
        list[str] | None,
        typer.Argument(
            help="The bounce / reply text (quote it); - reads it from stdin.", show_default=False
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
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json.", case_sensitive=False)
    ] = OutputFormat.table,
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
    if fmt is not OutputFormat.table:
        from maillog_cli.render.output import json_line

        typer.echo(json_line(result.as_json()))
        return
    _print_explanation(result)


def _enhanced_ok(code: str) -> bool:
    parts = code.strip().lstrip("#").split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in "245"


def _print_explanation(x: Explanation) -> None:
    from rich.table import Table
    from rich.text import Text

    from maillog_cli.render.output import console, visible

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    codes = " ".join(str(c) for c in (x.smtp_code, x.enhanced_code) if c) or "none found"
    style = CLASS_STYLE.get(x.bounce_class, "")
    rows = [
        ("class", Text(x.bounce_class, style=style + " bold") + Text(f" — {x.class_meaning}")),
        ("reason", Text(x.bounce_reason, style="bold")),
        ("rule", Text(visible(x.rule))),
        ("codes", Text(codes)),
        ("meaning", Text(x.meaning)),
        ("what to do", Text(x.action)),
        (f"for {x.bounce_class}", Text(x.class_action)),
        (
            "soft count",
            Text(
                "counts towards soft-bounce suppression"
                if x.counts_for_soft_suppression
                else "never counts towards soft-bounce suppression"
            ),
        ),
    ]
    for label, value in rows:
        grid.add_row(label, value)
    console().print(grid)


# --- suppressions -----------------------------------------------------------------------------


@app.command("suppressions")
@filter_options
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
    from maillog_cli.bounce.suppress import SUPPRESSION_KEYS, describe, suppression_list
    from maillog_cli.context import open_store

    store = open_store(ctx, db, readonly=True)
    rows = suppression_list(
        store,
        filters,
        soft_after=soft_after,
        window_days=soft_window,
        unsubscribes=unsubscribes,
        limit=limit or None,
    )
    if fmt is not OutputFormat.table:
        from maillog_cli.render.output import write_rows

        write_rows(rows, SUPPRESSION_KEYS, fmt.value)
        return
    from maillog_cli.render.output import console, is_terminal, one_line, table, write_tsv

    cells = ([r["address"], describe(r), r["diagnostic"] or ""] for r in rows)
    if not is_terminal():
        write_tsv(cells)
        return
    out = console()
    shown = [
        [
            r["address"],
            WHY_WORDS[r["reason"]],
            r["bounce_reason"] or "",
            f"{r['count']:,}",
            (r["last_seen"] or "")[:10],
            one_line(r["diagnostic"]),
        ]
        for r in rows
    ]
    if not shown:
        out.print("no address to suppress", style="dim")
        return
    # Everything but the diagnostic keeps its width; the diagnostic gets what is left
    # (two spaces between columns), at least 10 characters.
    widths = [min(cap, max(len(r[i]) for r in shown)) for i, cap in enumerate((32, 12, 17, 6, 10))]
    widths = [
        max(w, len(h))
        for w, h in zip(widths, ("address", "why", "reason", "n", "last"), strict=True)
    ]
    rest = max(10, out.width - sum(widths) - 2 * len(widths))
    for r in shown:
        r[5] = one_line(r[5], rest)
    out.print(
        table(
            [
                ("address", {"no_wrap": True, "overflow": "ellipsis", "width": widths[0]}),
                ("why", {"no_wrap": True, "width": widths[1]}),
                ("reason", {"no_wrap": True, "overflow": "ellipsis", "width": widths[2]}),
                ("n", {"no_wrap": True, "justify": "right", "width": widths[3]}),
                ("last", {"no_wrap": True, "width": widths[4]}),
                ("last diagnostic", {"no_wrap": True, "overflow": "ellipsis", "max_width": rest}),
            ],
            shown,
        )
    )


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
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table or json (the report).", case_sensitive=False),
    ] = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Re-apply the bounce rules to every stored bounce event (after the rules changed).

    Only rows whose class or reason changes are written, one transaction per batch;
    each email's class and reason follow its latest event.
    """
    from maillog_cli.bounce.report import reclassify
    from maillog_cli.context import open_store

    store = open_store(ctx, db, readonly=dry_run)
    if sys.stderr.isatty() and fmt is OutputFormat.table:
        result = _with_progress(store, batch, dry_run)
    else:
        result = reclassify(store, batch=batch, dry_run=dry_run)
    if fmt is not OutputFormat.table:
        from maillog_cli.render.output import json_line

        typer.echo(json_line(result.as_json()))
        return
    _print_reclassified(result)


def _with_progress(store: Any, batch: int, dry_run: bool) -> Reclassified:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from maillog_cli.bounce.report import reclassify
    from maillog_cli.render.output import console

    with Progress(
        TextColumn("reclassifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)
        return reclassify(
            store,
            batch=batch,
            dry_run=dry_run,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


def _print_reclassified(r: Reclassified) -> None:
    from maillog_cli.render.output import console, table

    err = console(stderr=True)
    verb = "would change" if r.dry_run else "changed"
    err.print(
        f"{r.scanned:,} bounce events read, {r.changed:,} {verb}"
        + ("" if r.dry_run else f", {r.messages:,} emails updated")
        + f" ({r.seconds:.1f} s)"
    )
    if r.moves:
        err.print(
            table(
                [
                    ("from", {"no_wrap": True}),
                    ("to", {"no_wrap": True}),
                    ("events", {"justify": "right"}),
                ],
                ([a or "none", b or "none", f"{n:,}"] for (a, b), n in r.moves.most_common(20)),
            )
        )

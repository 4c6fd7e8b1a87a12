"""`maillog stats`: delivery health per message — rates, counts, a per-day chart, breakdowns.

Thin: parse → maillog_cli.stats → render. Output (docs/cli/stats.md):
- no --by: `table` prints the overview and a per-day chart; `json` the output contract's object;
  `jsonl`/`csv` the per-day series, one row per day.
- --by KEY: `table` a table sorted by what needs attention (TSV in a pipe) and the chart;
  `json`/`jsonl`/`csv` its rows.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.options import (
    DbOption,
    FormatOption,
    LimitOption,
    OutputFormat,
    choices,
    filter_options,
)
from maillog_cli.stats import GROUPS, SORTS

if TYPE_CHECKING:  # loads with the command's run, not with --help
    from maillog_cli.store.query import Filters

if TYPE_CHECKING:  # made at run time from the core's tuples, which a type checker cannot see
    By = StrEnum
    Sort = StrEnum
else:
    By = choices("By", GROUPS)
    Sort = choices("Sort", SORTS)


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)


@filter_options
def stats(
    ctx: typer.Context,
    by: Annotated[
        By | None,
        typer.Option(
            "--by",
            "-b",
            help="One row per day, week (ISO), hour, domain, provider, type (tag), sender or relay "
            "(a mail server's next hop).",
            case_sensitive=False,
            show_default=False,
            rich_help_panel="Output",
        ),
    ] = None,
    sort: Annotated[
        Sort | None,
        typer.Option(
            "--sort",
            help="Order of the --by rows: attention (worst bounce or complaint rate first), "
            "volume, or key (day/week/hour: newest first, their default).",
            case_sensitive=False,
            show_default=False,
            rich_help_panel="Output",
        ),
    ] = None,
    chart: Annotated[
        bool,
        typer.Option(
            "--chart/--no-chart",
            help="Draw the per-day chart (table format).",
            rich_help_panel="Output",
        ),
    ] = True,
    lines: Annotated[
        str | None,
        typer.Option(
            "--lines",
            metavar="LINE,…",
            help="The chart's lines, comma-separated, among sent, delivery, bounce, "
            "complaint, open, click (default: sent,delivery,bounce,complaint,open).",
            show_default=False,
            rich_help_panel="Output",
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = 100,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Delivery health per message: delivered, bounced, complained, opened … and a per-day chart.

    Rates are fractions of the messages that were sent, each message counted once.
    --since/--until select messages by when they were first seen.

      maillog stats --since 30d
      maillog stats --by domain --since 7d
      maillog stats --format json
    """
    from maillog_cli import stats as core
    from maillog_cli.context import open_store

    chosen = _chart_lines(lines)
    store = open_store(ctx, db, readonly=True)
    if by is None:
        if fmt in (OutputFormat.jsonl, OutputFormat.csv):
            _write(core.series(store, filters), "day", fmt)
            return
        result = core.overview(store, filters)
        if fmt is OutputFormat.json:
            from maillog_cli.render.output import json_line

            typer.echo(json_line(result))
            return
        from maillog_cli.render.stats import print_overview

        print_overview(result, _described(filters), chart, chosen, _audit_days(store, result))
        return
    from maillog_cli.commands.listing import plus_one, up_to_limit

    order = sort.value if sort else None
    page, total = core.breakdown_page(store, filters, by.value, order, plus_one(limit))
    rows = up_to_limit(page, limit, lambda: total)
    if fmt is not OutputFormat.table:
        _write(rows, by.value, fmt)
        return
    from maillog_cli.render.output import is_terminal
    from maillog_cli.render.stats import breakdown_cells, print_breakdown, print_chart

    if not is_terminal():
        from maillog_cli.render.output import write_tsv

        write_tsv([breakdown_cells(r, by.value, plain=True) for r in rows])
        return
    print_breakdown(rows, by.value, _described(filters))
    if chart and by.value != "day":
        print_chart(core.series(store, filters, chart=True), lines=chosen)


def _audit_days(store: Any, result: dict[str, Any]) -> dict[str, int]:
    """The audit entries per day over the chart's days (its marks on the time axis)."""
    from maillog_cli.audit.queries import entries_per_day

    days = result["series"]
    return entries_per_day(store.conn, days[0]["day"], days[-1]["day"]) if days else {}


def _write(rows: list[dict[str, Any]], key: str, fmt: OutputFormat) -> None:
    from maillog_cli.render.output import write_rows
    from maillog_cli.stats import ROW_KEYS

    write_rows(rows, (key, *ROW_KEYS), fmt.value)


def _chart_lines(text: str | None) -> tuple[str, ...]:
    """--lines as a tuple of chart lines; an unknown name is a one-line error."""
    from maillog_cli.errors import MaillogError
    from maillog_cli.stats import CHART_LINES, DEFAULT_LINES

    if text is None:
        return DEFAULT_LINES
    names = tuple(dict.fromkeys(w.strip().lower() for w in text.split(",") if w.strip()))
    bad = [n for n in names if n not in CHART_LINES]
    if bad or not names:
        raise MaillogError(
            f"--lines {text!r}: {bad[0] if bad else 'no line'} is not a chart line",
            f"use some of: {', '.join(CHART_LINES)}",
        )
    return names


def _described(filters: Filters) -> str | None:
    return None if filters.is_empty() else filters.describe()

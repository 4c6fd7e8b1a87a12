"""`maillog bounces` for a person: the summary as narrow tables that fit 80 columns, one
explanation, the suppression list, the reclassify report and its progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from maillog_cli.bounce.report import Explanation, Reclassified, Summary
from maillog_cli.render.format import class_style, share, short_time
from maillog_cli.render.output import console, one_line, table, visible

TREND_DAYS = 31  # days shown in the table trend; json has them all
WHY_WORDS = {
    "hard_bounce": "hard bounce",
    "complaint": "complaint",
    "unsubscribed": "unsubscribed",
    "soft_bounces": "soft bounces",
}
NUM = {"justify": "right", "no_wrap": True}


def _bar(n: int, most: int, width: int, style: str = "") -> Text:
    cells = round(width * n / most) if most else 0
    return Text("█" * max(cells, 1 if n else 0), style=style)


def _class_cell(bounce_class: str | None) -> Text:
    return Text(bounce_class or "none", style=class_style(bounce_class))


def _heading(out: Console, text: str) -> None:
    out.print()
    out.print(Text(text, style="bold"))


# --- the summary ------------------------------------------------------------------------------


def print_summary(s: Summary, filters_described: str | None) -> None:
    """The summary: totals, then by class, by reason, domains, diagnostics and per day."""
    out = console()
    title = Text("Bounces", style="bold")
    title.append(
        f"  {s.events:,} events · {s.messages:,} messages · {s.recipients:,} recipients", style=""
    )
    out.print(title)
    if filters_described:
        out.print(Text(one_line(filters_described), style="dim"))
    if not s.events:
        out.print("no bounce events match", style="dim")
        return
    for section in (_by_class, _by_reason, _domains, _diagnostics, _per_day):
        section(out, s)


def _by_class(out: Console, s: Summary) -> None:
    _heading(out, "By class")
    most = max(c["events"] for c in s.by_class)
    columns: list[tuple[str, dict[str, Any]]] = [
        ("class", {"no_wrap": True}),
        ("events", NUM),
        ("share", NUM),
        ("", {"no_wrap": True}),
    ]
    rows = (
        [
            _class_cell(c["bounce_class"]),
            f"{c['events']:,}",
            share(c["share"]),
            _bar(c["events"], most, max(10, out.width - 40), class_style(c["bounce_class"])),
        ]
        for c in s.by_class
    )
    out.print(table(columns, rows))


def _by_reason(out: Console, s: Summary) -> None:
    _heading(out, "By reason")
    columns: list[tuple[str, dict[str, Any]]] = [
        ("reason", {"no_wrap": True}),
        ("class", {"no_wrap": True}),
        ("events", NUM),
        ("share", NUM),
    ]
    rows = (
        [
            r["bounce_reason"] or "none",
            _class_cell(r["bounce_class"]),
            f"{r['events']:,}",
            share(r["share"]),
        ]
        for r in s.by_reason
    )
    out.print(table(columns, rows))


def _class_counts(row: dict[str, Any]) -> list[str]:
    return [f"{row[k]:,}" for k in ("events", "hard", "soft", "block", "undetermined")]


CLASS_COUNT_COLUMNS = [(name, NUM) for name in ("events", "hard", "soft", "block", "undet.")]


def _domains(out: Console, s: Summary) -> None:
    _heading(out, "Top recipient domains")
    columns: list[tuple[str, dict[str, Any]]] = [
        ("domain", {"no_wrap": True, "overflow": "ellipsis", "max_width": 26}),
        *CLASS_COUNT_COLUMNS,
        ("top reason", {"no_wrap": True, "overflow": "ellipsis"}),
    ]
    rows = ([d["domain"], *_class_counts(d), d["top_reason"] or ""] for d in s.domains)
    out.print(table(columns, rows))


def _diagnostics(out: Console, s: Summary) -> None:
    _heading(out, "Top diagnostics (addresses, IPs and ids replaced)")
    columns: list[tuple[str, dict[str, Any]]] = [
        ("events", NUM),
        ("reason", {"no_wrap": True}),
        ("diagnostic", {"overflow": "fold"}),
    ]
    rows = (
        [f"{d['events']:,}", d["bounce_reason"] or "", one_line(d["pattern"], 160)]
        for d in s.diagnostics
    )
    out.print(table(columns, rows))


def _per_day(out: Console, s: Summary) -> None:
    series = s.series[-TREND_DAYS:]
    cut = len(s.series) > TREND_DAYS
    note = f" (last {TREND_DAYS} of {len(s.series)} days; --format json has all)" if cut else ""
    _heading(out, "Per day" + note)
    most = max((d["events"] for d in series), default=0)
    columns: list[tuple[str, dict[str, Any]]] = [
        ("day", {"no_wrap": True}),
        *CLASS_COUNT_COLUMNS,
        ("", {"no_wrap": True}),
    ]
    rows = (
        [d["day"], *_class_counts(d), _bar(d["events"], most, max(8, out.width - 52))]
        for d in series
    )
    out.print(table(columns, rows))


# --- explain ----------------------------------------------------------------------------------


def print_explanation(x: Explanation) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    codes = " ".join(str(c) for c in (x.smtp_code, x.enhanced_code) if c) or "none found"
    style = class_style(x.bounce_class)
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


# The suppression table's columns, in its order; a pipe gets them as TSV (the listing
# convention), the diagnostic whole.
SUPPRESSION_COLUMNS = ("address", "why", "reason", "n", "last", "last diagnostic")


def suppression_cells(row: dict[str, Any], plain: bool = False) -> list[str]:
    """One address as cells in SUPPRESSION_COLUMNS order; `plain` (TSV): no thousands
    separators, nothing made visible yet (write_tsv does it)."""
    count = row["count"]
    return [
        row["address"],
        WHY_WORDS[row["reason"]],
        row["bounce_reason"] or "",
        str(count) if plain else f"{count:,}",
        short_time(row["last_seen"], "day"),
        (row["diagnostic"] or "") if plain else one_line(row["diagnostic"]),
    ]


def print_suppressions(rows: list[dict[str, Any]]) -> None:
    """Everything but the diagnostic keeps its width; the diagnostic gets what is left
    (two spaces between columns), at least 10 characters."""
    out = console()
    shown = [suppression_cells(r) for r in rows]
    if not shown:
        out.print("no address to suppress", style="dim")
        return
    widths = [min(cap, max(len(r[i]) for r in shown)) for i, cap in enumerate((32, 12, 17, 6, 10))]
    widths = [max(w, len(h)) for w, h in zip(widths, SUPPRESSION_COLUMNS[:5], strict=True)]
    rest = max(10, out.width - sum(widths) - 2 * len(widths))
    for r in shown:
        r[5] = one_line(r[5], rest)
    options: tuple[dict[str, Any], ...] = (
        {"no_wrap": True, "overflow": "ellipsis", "width": widths[0]},
        {"no_wrap": True, "width": widths[1]},
        {"no_wrap": True, "overflow": "ellipsis", "width": widths[2]},
        {"no_wrap": True, "justify": "right", "width": widths[3]},
        {"no_wrap": True, "width": widths[4]},
        {"no_wrap": True, "overflow": "ellipsis", "max_width": rest},
    )
    out.print(table(list(zip(SUPPRESSION_COLUMNS, options, strict=True)), shown))


# --- reclassify -------------------------------------------------------------------------------


@contextmanager
def reclassify_progress() -> Iterator[Callable[[int, int], None]]:
    """A transient bar on stderr; yields the `progress(done, total)` callback to report to."""
    with Progress(
        TextColumn("reclassifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def print_reclassified(r: Reclassified) -> None:
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

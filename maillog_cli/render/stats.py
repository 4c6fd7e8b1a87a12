"""`maillog stats` for a person: the overview, a --by table and the per-day sparkline chart.

Rates over a threshold are red and marked with ! (the mark survives NO_COLOR).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from maillog_cli.render.output import console, one_line, table
from maillog_cli.stats import DEFAULT_LINES, THRESHOLDS, buckets, over, rate

# --- numbers -----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    """A rate as a percentage with two decimals (the complaint threshold is 0.1 %); — for none."""
    return "—" if value is None else f"{value * 100:.2f}%"


def _rate_cell(row: dict[str, Any], key: str) -> Text:
    """A rate, red and marked with ! when over its threshold (the mark survives NO_COLOR
    and pipes)."""
    if key in over(row):
        return Text(_pct(row[key]) + "!", style="bold red")
    return Text(_pct(row[key]) + " ")


# --- the overview ------------------------------------------------------------------------------

# (label, count key, rate key or None) of the rows about sent messages.
_OUTCOMES: tuple[tuple[str, str, str | None], ...] = (
    ("delivered", "delivered", "delivery"),
    ("bounced", "bounced", "bounce"),
    ("  hard", "hard", None),
    ("  soft", "soft", None),
    ("  block", "block", None),
    ("  undetermined", "undetermined", None),
    ("deferred, never delivered", "deferred", "deferral"),
    ("sent, not confirmed", "unconfirmed", "pending"),
    ("complained", "complained", "complaint"),
    ("opened", "opened", "open"),
    ("clicked", "clicked", "click"),
    ("unsubscribed", "unsubscribed", "unsubscribe"),
)


def print_overview(
    o: dict[str, Any],
    filters_described: str | None,
    chart: bool,
    lines: tuple[str, ...] = DEFAULT_LINES,
    audit_days: dict[str, int] | None = None,
) -> None:
    """The totals, one row per outcome with its rate, the other counts, and the chart."""
    out = console()
    out.print(
        Text.assemble(
            ("Stats", "bold"),
            f"  {o['messages']:,} messages · {o['sent']:,} sent (the base of every rate)",
        )
    )
    if filters_described:
        out.print(Text(one_line(filters_described), style="dim"))
    if not o["messages"]:
        out.print(Text("no messages match", style="dim"))
        return

    counts = o["counts"]
    rows: list[list[Any]] = []
    for label, key, rate_key in _OUTCOMES:
        n = counts[key]
        if rate_key:
            cell = _rate_cell(o["rates"], rate_key)
        else:  # a bounce class: its share of the sent messages
            cell = Text(_pct(rate(n, o["sent"])) + " ", style="dim")
        rows.append([Text(label, style="dim" if not rate_key else ""), f"{n:,}", cell])
    num = {"justify": "right", "no_wrap": True}
    out.print()
    out.print(table([("outcome", {"no_wrap": True}), ("messages", num), ("of sent", num)], rows))
    if over(o["rates"]):
        out.print(Text(_threshold_note(), style="dim"))

    out.print()
    not_sent = " · ".join(f"{s} {counts[s]:,}" for s in ("queued", "dropped", "failed"))
    out.print(Text.assemble(("not sent: ", "bold"), not_sent))
    inbound = {s: o["by_status"][s] for s in ("forwarded", "processed", "rejected")}
    if any(inbound.values()):
        line = " · ".join(f"{s} {n:,}" for s, n in inbound.items())
        out.print(Text.assemble(("inbound: ", "bold"), line))
    checks = [
        f"{method.upper()} {_pct(a['pass_rate'])} pass of {a['checked']:,}"
        for method, a in o["auth"].items()
        if a
    ]
    if checks:
        out.print(Text.assemble(("authentication: ", "bold"), " · ".join(checks)))
    if chart:
        print_chart(o["series"], out, lines, audit_days)


def _threshold_note() -> str:
    return (
        f"! over the levels mailbox providers publish: bounces {THRESHOLDS['bounce']:.0%},"
        f" complaints {THRESHOLDS['complaint']:.1%}"
    )


# --- breakdowns --------------------------------------------------------------------------------

# (header, rate key) of the rate columns of a --by table, after the key and `sent`.
_BY_RATES: tuple[tuple[str, str], ...] = (
    ("deliv.", "delivery"),
    ("bounce", "bounce"),
    ("compl.", "complaint"),
    ("defer.", "deferral"),
    ("open", "open"),
    ("click", "click"),
)


def breakdown_cells(row: dict[str, Any], by: str, plain: bool = False) -> list[Any]:
    """One --by row as table cells, or (`plain`) the TSV fields: the same rates with the
    same `!` marks, without colour, padding or thousands separators."""
    key = row[by] if row[by] is not None else "(none)"
    rates: list[Any] = [_rate_cell(row, k) for _, k in _BY_RATES]
    if plain:
        return [key, row["sent"], *(t.plain.rstrip() for t in rates)]
    return [key, f"{row['sent']:,}", *rates]


def print_breakdown(rows: list[dict[str, Any]], by: str, filters_described: str | None) -> None:
    """One row per group, its rates marked when over a threshold."""
    out = console()
    out.print(
        Text.assemble((f"Stats by {by}", "bold"), f"  {len(rows):,} rows · rates of sent messages")
    )
    if filters_described:
        out.print(Text(one_line(filters_described), style="dim"))
    if not rows:
        out.print(Text("no messages match", style="dim"))
        return
    num = {"justify": "right", "no_wrap": True}
    columns = [(by, {"no_wrap": True, "overflow": "ellipsis", "min_width": 8, "ratio": 1})]
    columns += [("sent", num)] + [(header, num) for header, _ in _BY_RATES]
    out.print(table(columns, (breakdown_cells(r, by) for r in rows)))
    if any(over(r) for r in rows):
        out.print(Text(_threshold_note(), style="dim"))


# --- the chart ---------------------------------------------------------------------------------

_LEVELS = "▂▃▄▅▆▇█"  # ▁ is kept for an exact zero, a blank for "nothing sent"
_LABEL_WIDTH = 11
_PEAK_WIDTH = 15


def _spark(values: list[float | None], scale: float) -> str:
    chars = []
    for v in values:
        if v is None:
            chars.append(" ")
        elif v <= 0 or scale <= 0:
            chars.append("▁")
        else:
            chars.append(_LEVELS[min(len(_LEVELS) - 1, int(v / scale * len(_LEVELS)))])
    return "".join(chars)


def print_chart(
    series: list[dict[str, Any]],
    out: Console | None = None,
    lines: tuple[str, ...] = DEFAULT_LINES,
    audit_days: dict[str, int] | None = None,
) -> None:
    """Sparklines per day — by default sent, delivery, bounce, complaint and open rate
    (`lines` chooses among CHART_LINES) — with a labelled date axis.

    One column per day when they fit (up to 3 characters wide), else per group of days
    (said in the title). Rate lines scale to the larger of their peak and their threshold,
    so a flat low line means "well under"; columns over a threshold are red.
    """
    out = out or console()
    if not series:
        return
    room = max(10, out.width - _LABEL_WIDTH - _PEAK_WIDTH - 2)
    bks = buckets(series, room)
    cell = max(1, min(3, room // len(bks)))
    days = -(-len(series) // len(bks))
    out.print()
    out.print(
        Text.assemble(
            ("Per day", "bold"),
            f"  {series[0]['day']} → {series[-1]['day']} (UTC, by first seen)"
            + (f", {days} days a column" if days > 1 else ""),
        )
    )

    def line(label: str, values: list[float | None], scale: float, peak: str, style: str) -> None:
        threshold = THRESHOLDS.get(label)
        text = Text(label.ljust(_LABEL_WIDTH))
        for ch, v in zip(_spark(values, scale), values, strict=True):
            hot = threshold is not None and v is not None and v > threshold
            text.append(ch * cell, style="bold red" if hot else style)
        text.append("  " + peak)
        out.print(text, no_wrap=True, overflow="crop")

    sent = [b.row["sent"] or None for b in bks]
    most = max((v or 0 for v in sent), default=0)
    if "sent" in lines:
        line("sent", sent, most, f"peak {most:,}", "cyan")
    styles = {
        "delivery": "green",
        "bounce": "yellow",
        "complaint": "yellow",
        "open": "blue",
        "click": "blue",
    }
    for key in (k for k in lines if k != "sent"):
        style = styles[key]
        values = [b.row.get(key) for b in bks]
        if key == "delivery":  # a rate that should be high: show its lowest day
            low = min((v for v in values if v is not None), default=0.0)
            line(key, values, 1.0, f"low {_pct(low)}", style)
            continue
        peak = max((v for v in values if v is not None), default=0.0)
        threshold = THRESHOLDS.get(key, 0.0)
        mark = "!" if threshold and peak > threshold else ""
        line(key, values, max(peak, threshold), f"peak {_pct(peak)}{mark}", style)
    if audit_days:
        out.print(_audit_row(bks, audit_days, cell), no_wrap=True, overflow="crop")
    out.print(_axis([b.first for b in bks], cell), no_wrap=True, overflow="crop")


def _audit_row(bks: list[Any], audit_days: dict[str, int], cell: int) -> Text:
    """`audit      ◆    ◆◆  3 entries`: a mark under each column with audit entries (who
    changed what: `maillog audit --since DAY`), so a change lines up with a spike."""
    text = Text("audit".ljust(_LABEL_WIDTH))
    total = 0
    for b in bks:
        n = sum(v for day, v in audit_days.items() if b.first <= day <= b.last)
        total += n
        text.append(("◆" if n else " ") * cell, style="magenta" if n else "")
    text.append(f"  {total:,} audit entr{'y' if total == 1 else 'ies'}")
    return text


def _axis(days: list[str], cell: int) -> Text:
    """Tick marks under the columns, with MM-DD labels that never overlap."""
    width = len(days) * cell
    ticks = [" "] * width
    labels = [" "] * (width + 5)
    step = -(-7 // cell)  # columns between labels: a label is 5 wide, plus 2 of gap
    marks = list(range(0, len(days), step))
    if (len(days) - 1 - marks[-1]) * cell >= 7:
        marks.append(len(days) - 1)  # the last day too, when it has room
    for i in marks:
        ticks[i * cell] = "╵"
        labels[i * cell : i * cell + 5] = days[i][5:10]
    pad = " " * _LABEL_WIDTH
    return Text(pad + "".join(ticks) + "\n" + pad + "".join(labels).rstrip(), style="dim")

"""The Stats tab: `maillog stats`'s figures for the current filter (maillog_cli/stats.py).

Shows the `stats --format json` object: messages, rates, messages by latest status, and the
last 30 days of the per-day series as bars, a day with audit entries marked ◆. If stats.py
is missing, a placeholder says so.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from maillog_cli.errors import MaillogError
from maillog_cli.render.format import share
from maillog_cli.render.output import status_text, visible
from maillog_cli.store.query import Filters
from maillog_cli.tui.data import Source


def stats_renderable(data: dict[str, Any], width: int) -> Any:
    """The stats object (the output contract's keys) as text, a status table and per-day bars."""
    from rich.console import Group

    parts: list[Any] = []
    head = Text()
    head.append("Stats ", style="bold")
    head.append(f"{data.get('messages', 0):,} messages\n")
    rates = data.get("rates") or {}
    for name in ("delivery", "bounce", "complaint", "open", "click"):
        if name in rates and rates[name] is not None:
            head.append(f"{name} ", style="dim")
            head.append(f"{share(float(rates[name]))}   ")
    parts.append(head)
    by_status = data.get("by_status") or {}
    if by_status:
        t = Table(box=None, pad_edge=False, show_header=True, header_style="bold", title=None)
        t.add_column("latest status", no_wrap=True)
        t.add_column("messages", justify="right")
        for status, n in sorted(by_status.items(), key=lambda kv: -int(kv[1] or 0)):
            t.add_row(status_text(status), f"{int(n or 0):,}")
        parts.append(t)
    series = data.get("series") or []
    if series:
        counts = [int(d.get("messages", d.get("sent", 0)) or 0) for d in series]
        top = max(counts) or 1
        bar_w = max(10, width - 30)
        chart = Text("\nPer day (messages)\n", style="bold")
        audit = data.get("audit_days") or {}
        for d, n in zip(series[-30:], counts[-30:], strict=False):
            chart.append(f"{visible(d.get('day', ''))[:10]:<11}", style="dim")
            chart.append("█" * max(1 if n else 0, round(n / top * bar_w)), style="cyan")
            chart.append(f" {n:,}")
            changes = audit.get(d.get("day"), 0)
            if changes:  # who changed what that day: the Audit tab
                chart.append(f"  ◆ {changes} audit", style="magenta")
            chart.append("\n")
        parts.append(chart)
    return Group(*parts)


def compute(source: Source, filters: Filters) -> dict[str, Any]:
    """stats.overview: the `maillog stats --format json` object ."""
    from maillog_cli.audit.queries import entries_per_day
    from maillog_cli.stats import overview

    data = source.locked(overview, filters)
    days = data.get("series") or []
    if days:
        first, last = days[-30:][0]["day"], days[-1]["day"]
        data["audit_days"] = source.locked(lambda s: entries_per_day(s.conn, first, last))
    return data


class StatsView(VerticalScroll):
    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.filters: Filters | None = None
        self._token = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("Stats: loading…", style="dim"), id="stats-body")

    def show(self, filters: Filters) -> None:
        if self.filters == filters:
            return
        self.filters = filters
        self._token += 1
        token = self._token

        def work() -> None:
            try:
                result: Any = compute(self.source, filters)
            except MaillogError as exc:
                result = exc
            self.app.call_from_thread(self._show, token, result)

        self.run_worker(work, thread=True, group="stats", exclusive=True, name="stats")

    def _show(self, token: int, result: Any) -> None:
        if token != self._token:
            return
        body = self.query_one("#stats-body", Static)
        if isinstance(result, MaillogError):
            body.update(Text(f"Stats: {result}", style="bold red"))
        else:
            body.update(stats_renderable(result, self.app.size.width))

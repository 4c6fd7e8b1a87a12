"""The Bounces tab: `maillog bounces`'s summary (bounce_report.summary) for the current filter.

Reasons are a selectable table; the highlighted reason's meaning and advice show below,
and enter opens the Emails tab filtered to that reason and class.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from maillog_cli.errors import MaillogError
from maillog_cli.render.format import class_style, share
from maillog_cli.render.output import visible
from maillog_cli.store.query import Filters
from maillog_cli.tui.cells import class_text, fit
from maillog_cli.tui.data import Source


class BouncesView(Vertical):
    """Totals and classes on top, reasons as a table, the selected reason explained."""

    class ShowReason(Message):
        def __init__(self, reason: str | None, bounce_class: str | None) -> None:
            super().__init__()
            self.reason = reason
            self.bounce_class = bounce_class

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.filters: Filters | None = None
        self.reasons: list[dict[str, Any]] = []
        self.summary: Any = None
        self._token = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("Bounces: loading…", style="dim"), id="bounces-header")
        yield DataTable(id="bounces-table", cursor_type="row", zebra_stripes=True, cell_padding=1)
        yield Static("", id="bounces-explain")

    def show(self, filters: Filters) -> None:
        """Compute the summary for `filters` (in a worker) unless it is already shown."""
        if self.filters == filters and self.summary is not None:
            return
        self.filters = filters
        self._token += 1
        token = self._token

        def work() -> None:
            try:
                result: Any = self.source.bounce_summary(filters)
            except MaillogError as exc:
                result = exc
            self.app.call_from_thread(self._show, token, result)

        self.run_worker(work, thread=True, group="bounces", exclusive=True, name="bounce summary")

    def _show(self, token: int, summary: Any) -> None:
        if token != self._token:
            return
        header = self.query_one("#bounces-header", Static)
        table = self.query_one("#bounces-table", DataTable)
        table.clear(columns=True)
        if isinstance(summary, MaillogError):
            self.summary = None
            header.update(Text(f"Bounces: {summary}", style="bold red"))
            return
        self.summary = summary
        t = Text()
        t.append("Bounces ", style="bold")
        t.append(visible(summary.filters) or "all", style="cyan")
        t.append(
            f"  ·  {summary.events:,} events, {summary.messages:,} messages, {summary.recipients:,} recipients\n"
        )
        for c in summary.by_class:
            if c["bounce_class"] is None:
                continue
            t.append(f"{c['bounce_class']} ", style=class_style(c["bounce_class"]))
            t.append(f"{c['events']:,} ({share(c['share'])})   ")
        if summary.domains:
            t.append("\ntop domains: ", style="dim")
            t.append(
                ", ".join(f"{visible(d['domain'])} {d['events']:,}" for d in summary.domains[:5])
            )
        header.update(t)
        width = self.app.size.width
        reason_w = 24 if width < 100 else 28
        table.add_column(Text("reason", style="bold"), width=reason_w, key="reason")
        class_w = 13 if width >= 100 else 7
        table.add_column(Text("class", style="bold"), width=class_w, key="class")
        table.add_column(Text("events", style="bold"), width=9, key="events")
        table.add_column(Text("share", style="bold"), width=8, key="share")
        # each of the five columns has one cell of padding either side: the gap between them
        meaning_w = max(10, width - reason_w - class_w - 9 - 8 - 2 * 5 - 3)
        table.add_column(Text("what it means", style="bold"), width=meaning_w, key="meaning")
        self.reasons = summary.by_reason
        from maillog_cli.bounce.classify import REASONS

        for i, r in enumerate(self.reasons):
            info = REASONS.get(r["bounce_reason"] or "")
            table.add_row(
                fit(r["bounce_reason"] or "(none)", reason_w),
                class_text(r["bounce_class"], class_w),
                Text(f"{r['events']:,} ", justify="right", end=""),
                Text(f"{share(r['share'])} ", justify="right", end=""),
                fit(info.meaning if info else "", meaning_w, "dim"),
                key=str(i),
            )
        if not self.reasons:
            self.query_one("#bounces-explain", Static).update(
                Text("No bounces match this filter.", style="dim")
            )
        else:
            self._explain(0)

    def _explain(self, index: int) -> None:
        from maillog_cli.bounce.classify import REASONS

        if not 0 <= index < len(self.reasons):
            return
        r = self.reasons[index]
        info = REASONS.get(r["bounce_reason"] or "")
        t = Text()
        t.append(visible(r["bounce_reason"] or "(no reason)"), style="bold")
        t.append(f" ({visible(r['bounce_class'])})\n")
        if info:
            t.append("Why: ", style="bold")
            t.append(info.meaning + "\n")
            t.append("What to do: ", style="bold")
            t.append(info.action + "\n")
        t.append("enter: show these emails", style="dim")
        self.query_one("#bounces-explain", Static).update(t)

    @on(DataTable.RowHighlighted, "#bounces-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._explain(event.cursor_row)

    @on(DataTable.RowSelected, "#bounces-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        i = event.cursor_row
        if 0 <= i < len(self.reasons):
            r = self.reasons[i]
            self.post_message(self.ShowReason(r["bounce_reason"], r["bounce_class"]))

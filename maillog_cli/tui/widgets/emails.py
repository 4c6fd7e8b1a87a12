"""The Emails tab: messages newest first, fetched a keyset page at a time as you scroll.

Only the rows scrolled past so far are held (pages of 200, fetched in a worker when the
cursor or the scroll position nears the end); the match count runs in its own worker and
fills the header when it is ready. Follow mode polls for events past the last position
seen (the `tail` keyset step) and puts the touched messages in place at the top, keeping
the cursor on the message it was on.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from maillog_cli.errors import MaillogError
from maillog_cli.render.columns import Column, email_columns
from maillog_cli.render.output import visible
from maillog_cli.store.query import Filters, Page
from maillog_cli.tui.data import PAGE_SIZE, Row, Source, Update, merge, short_id_width
from maillog_cli.tui.widgets.filter_bar import FilterBar
from maillog_cli.tui.widgets.message_list import PREFETCH, MessageList


class EmailsView(Vertical):
    """Header (filter, count, follow state), the filter bar, and the table."""

    class OpenMessage(Message):
        def __init__(self, message_id: str) -> None:
            super().__init__()
            self.message_id = message_id

    def __init__(
        self,
        source: Source,
        filters: Filters,
        words: str,
        follow_interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.filters = filters
        self.words = words
        self.rows: list[Row] = []
        self.exhausted = False
        self.loading = False
        self.count: int | None = None
        self.position = 0
        self.following = False
        self.new_since_follow = 0
        self.follow_interval = follow_interval
        self._token = 0
        self._columns: list[Column] = []
        self._timer: Timer | None = None
        self._stepping = False
        self._more = False
        self.error: str | None = None  # a failed worker's message, until the next reload

    def compose(self) -> ComposeResult:
        yield Static("", id="emails-header")
        bar = FilterBar(id="filter-bar")
        bar.display = False
        yield bar
        yield Static("", id="emails-columns")
        yield MessageList(id="emails-table")
        yield Static("", id="emails-empty")

    @property
    def table(self) -> MessageList:
        return self.query_one(MessageList)

    def on_mount(self) -> None:
        self.query_one("#emails-empty", Static).display = False
        self._timer = self.set_interval(self.follow_interval, self._tick, pause=True)
        self._set_columns(self.app.size.width)
        self.reload()

    # --- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        """Start over with the current filters: first page, then the count, both in workers."""
        self._token += 1
        token = self._token
        self.rows = []
        self.exhausted = False
        self.loading = True
        self.count = None
        self.error = None
        self.new_since_follow = 0
        self.table.clear()
        self._update_header()
        filters = self.filters

        def first_page() -> None:
            position = self.source.position()
            rows = self.source.page(filters)
            self.app.call_from_thread(self._add_page, token, rows, position)

        self.run_worker(first_page, thread=True, group="page", name="first page")
        self.source.interrupt_count()

        def count() -> None:
            n = self.source.count(filters)
            if n is not None:
                self.app.call_from_thread(self._set_count, token, n)

        self.run_worker(count, thread=True, group="count", name="count")

    def load_more(self) -> None:
        if self.loading or self.exhausted or not self.rows:
            return
        self.loading = True
        token = self._token
        last = self.rows[-1]
        after = Page(last["timestamp"], last["seq"])
        filters = self.filters

        def next_page() -> None:
            rows = self.source.page(filters, after=after)
            self.app.call_from_thread(self._add_page, token, rows, None)

        self.run_worker(next_page, thread=True, group="page", name="next page")

    def _add_page(self, token: int, rows: list[Row], position: int | None) -> None:
        if token != self._token:
            return
        self.loading = False
        if position is not None:
            self.position = position
        seen = {r["message_id"] for r in self.rows}
        fresh = [r for r in rows if r["message_id"] not in seen]
        self.exhausted = len(rows) < PAGE_SIZE
        self.rows += fresh
        self._fit_ids()
        table = self.table
        table.set_rows(self.rows)
        self._update_header()
        if (
            not self.exhausted
            and table.row_count
            and table.cursor_row >= table.row_count - PREFETCH
        ):
            self.load_more()

    def _set_count(self, token: int, n: int) -> None:
        if token == self._token:
            self.count = n
            self._update_header()

    def show_error(self, message: str) -> None:
        """A failed page/count/follow worker: say so in place of the rows (the app goes on)."""
        self.loading = False
        self._stepping = False
        self.error = message
        self._update_header()

    # --- filters -------------------------------------------------------------------------
    def open_filter(self) -> None:
        self.query_one(FilterBar).open(self.words)

    def apply_filter(self, filters: Filters, words: str) -> None:
        self.filters = filters
        self.words = words
        self.reload()
        self.table.focus()

    @on(FilterBar.Applied)
    def _applied(self, event: FilterBar.Applied) -> None:
        event.stop()
        self.apply_filter(event.filters, event.words)

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        event.stop()
        self.table.focus()

    # --- follow --------------------------------------------------------------------------
    def toggle_follow(self) -> bool:
        self.following = not self.following
        self.new_since_follow = 0
        if self._timer is not None:
            if self.following:
                self._timer.resume()
            else:
                self._timer.pause()
        self._update_header()
        return self.following

    def _stop_following(self) -> None:
        if self.following:
            self.toggle_follow()

    def _tick(self) -> None:
        if not self.following or self._stepping or self.loading:
            return
        self._stepping = True
        token, filters, position = self._token, self.filters, self.position

        def step() -> None:
            try:
                if self._more or self.source.changed():
                    update = self.source.follow_step(filters, position)
                    self._more = update.more
                    self.app.call_from_thread(self._apply_update, token, update)
            except MaillogError:  # the store was replaced: following it cannot go on
                self.app.call_from_thread(self._stop_following)
                raise  # shown in place of the rows (show_error)
            finally:
                self._stepping = False

        self.run_worker(step, thread=True, group="follow", name="follow step")

    def _apply_update(self, token: int, update: Update) -> None:
        if token != self._token:
            return
        self.position = max(self.position, update.position)
        if not update.touched:
            return
        before = {r["message_id"] for r in self.rows}
        merged = merge(self.rows, update.rows, update.touched, self.exhausted)
        self.new_since_follow += sum(1 for r in update.rows if r["message_id"] not in before)
        if self.count is not None:
            now = {r["message_id"] for r in merged}
            self.count += len(now - before) - len(before - now)
        self._replace_rows(merged)
        self._update_header()

    def _replace_rows(self, rows: list[Row]) -> None:
        """Redraw with `rows`, keeping the cursor on the same message and the view steady."""
        table = self.table
        old_index = table.cursor_row
        key = self.rows[old_index]["message_id"] if 0 <= old_index < len(self.rows) else None
        old_scroll = table.scroll_y
        self.rows = rows
        self._fit_ids()
        self._fill()
        index = next((i for i, r in enumerate(rows) if r["message_id"] == key), None)
        if index is None:
            index = min(max(old_index, 0), max(len(rows) - 1, 0))
        if old_scroll <= 0:
            table.move_cursor(row=index, animate=False)
        else:
            table.scroll_to(y=old_scroll + (index - old_index), animate=False, immediate=True)
            table.move_cursor(row=index, animate=False, scroll=False)

    # --- layout --------------------------------------------------------------------------
    def _fit_ids(self) -> None:
        """Widen the id column when a loaded id needs more cells: a shown id is never cut,
        so what the list shows is what `maillog show` takes."""
        if self._columns:
            self._set_columns(self.app.size.width)

    def _set_columns(self, width: int) -> bool:
        columns = email_columns(width, short_id_width(self.rows))
        if columns == self._columns:
            return False
        self._columns = columns
        header = Text(no_wrap=True, end="")
        for c in columns:
            header.append(c.label.ljust(c.width)[: c.width], style="bold")
        self.query_one("#emails-columns", Static).update(header)
        self.table.set_columns(columns)
        return True

    def _fill(self) -> None:
        self.table.set_rows(self.rows)

    def on_resize(self) -> None:
        if self._columns:
            self._set_columns(self.app.size.width)

    def _update_header(self) -> None:
        t = Text()
        t.append("Emails ", style="bold")
        t.append(
            visible(self.filters.describe()) if not self.filters.is_empty() else "all messages",
            style="cyan",
        )
        t.append("  ·  ")
        if self.count is None:
            t.append("counting…", style="dim")
        else:
            t.append(f"{self.count:,} message{'s' if self.count != 1 else ''}")
        if self.following:
            t.append("  ·  ")
            t.append("following", style="bold green")
            if self.new_since_follow:
                t.append(f" (+{self.new_since_follow} new)", style="green")
        hint = "   enter open  / filter  f follow  ? help"
        if t.cell_len + len(hint) <= self.app.size.width - 2:
            t.append(hint, style="dim")
        self.query_one("#emails-header", Static).update(t)
        empty = self.query_one("#emails-empty", Static)
        nothing = not self.rows and not self.loading
        empty.display = nothing or self.error is not None
        if self.error is not None:
            empty.update(Text(self.error + "  (press / to change the filter)", style="bold red"))
        elif nothing:
            empty.update(
                Text(
                    "No messages match. Press / to change the filter (empty it to see everything).",
                    style="dim",
                )
            )

    # --- events --------------------------------------------------------------------------
    @on(MessageList.Highlighted)
    def _highlighted(self, event: MessageList.Highlighted) -> None:
        if event.index >= self.table.row_count - PREFETCH:
            self.load_more()

    @on(MessageList.NearEnd)
    def _near_end(self, event: MessageList.NearEnd) -> None:
        event.stop()
        self.load_more()

    @on(MessageList.Selected)
    def _selected(self, event: MessageList.Selected) -> None:
        event.stop()
        if 0 <= event.index < len(self.rows):
            self.post_message(self.OpenMessage(self.rows[event.index]["message_id"]))

    def current_message_id(self) -> str | None:
        i = self.table.cursor_row
        return self.rows[i]["message_id"] if 0 <= i < len(self.rows) else None

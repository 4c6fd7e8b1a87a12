"""A line-API list of messages: draws only the visible rows, each cached as one strip.

DataTable renders every visible cell through Rich's layout on each scroll (≈100-200 ms
a page at 160 columns); this list renders a row once into segments and then only picks
strips, so a page-down costs a few milliseconds however many rows are loaded. It does
only what the Emails tab needs: a row cursor, keys, mouse, and "near the end" requests.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from maillog_cli.render.columns import Column
from maillog_cli.tui.cells import email_cells

Row = dict[str, Any]
PREFETCH = 60  # rows from the end at which more are asked for


class MessageList(ScrollView, can_focus=True):
    """Rows of messages with a cursor; posts Highlighted, Selected and NearEnd."""

    COMPONENT_CLASSES = {"message-list--cursor", "message-list--even-row"}
    DEFAULT_CSS = """
    MessageList {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        & > .message-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .message-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .message-list--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .message-list--even-row {
            background: $surface-darken-1 40%;
        }
    }
    """
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    class Highlighted(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Selected(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class NearEnd(Message):
        pass

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self.columns: list[Column] = []
        self._cursor = 0
        self._cache: dict[tuple[Any, Any], list[Segment]] = {}

    # --- data ------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def set_columns(self, columns: list[Column]) -> None:
        self.columns = columns
        self._cache.clear()
        self.refresh()

    def set_rows(self, rows: list[Row]) -> None:
        """Show `rows` (the caller's list: appending to it and calling rows_changed is enough)."""
        self.rows = rows
        self.rows_changed()

    def rows_changed(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.rows))
        if len(self._cache) > 5000:
            self._cache.clear()
        self._cursor = min(self._cursor, max(len(self.rows) - 1, 0))
        self.refresh()

    def clear(self) -> None:
        self.rows = []
        self._cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self.rows_changed()

    def get_row_at(self, index: int) -> list[Text]:
        return email_cells(self.rows[index], self.columns)

    # --- cursor ------------------------------------------------------------------------------
    def move_cursor(self, row: int, animate: bool = False, scroll: bool = True) -> None:
        if not self.rows:
            self._cursor = 0
            return
        row = max(0, min(row, len(self.rows) - 1))
        self._cursor = row
        if scroll:
            top, height = int(self.scroll_y), self.scrollable_content_region.height
            if row < top:
                self.scroll_to(y=row, animate=animate, immediate=True)
            elif height and row >= top + height:
                self.scroll_to(y=row - height + 1, animate=animate, immediate=True)
        self.refresh()
        self.post_message(self.Highlighted(row))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self._cursor + step)

    def action_page(self, step: int) -> None:
        """Move a screenful, keeping the cursor at the same place on the screen."""
        height = max(1, self.scrollable_content_region.height)
        target = max(0, min(int(self.scroll_y) + step * height, self.max_scroll_y))
        self.scroll_to(y=target, animate=False, immediate=True)
        self.move_cursor(self._cursor + step * height)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.rows) - 1)

    def action_select(self) -> None:
        if 0 <= self._cursor < len(self.rows):
            self.post_message(self.Selected(self._cursor))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y
        if 0 <= index < len(self.rows):
            if index == self._cursor or event.chain > 1:
                self.move_cursor(index)
                self.post_message(self.Selected(index))
            else:
                self.move_cursor(index)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.refresh()
        if self.rows and new + self.size.height >= len(self.rows) - PREFETCH:
            self.post_message(self.NearEnd())

    def on_resize(self, event: events.Resize) -> None:
        self.rows_changed()

    # --- drawing -----------------------------------------------------------------------------
    def _segments(self, row: Row) -> list[Segment]:
        key = (row.get("message_id"), row.get("seq"))
        cached = self._cache.get(key)
        if cached is None:
            line = Text(no_wrap=True, end="")
            for cell, column in zip(email_cells(row, self.columns), self.columns, strict=True):
                cell.truncate(column.width, pad=True)
                line.append_text(cell)
            cached = list(line.render(self.app.console))
            self._cache[key] = cached
        return cached

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = int(self.scroll_y) + y
        if index >= len(self.rows):
            return Strip.blank(width, base)
        segments = self._segments(self.rows[index])
        post: Style | None = None
        if index == self._cursor:
            post = self.get_component_rich_style("message-list--cursor")
        elif index % 2:
            base = base + self.get_component_rich_style("message-list--even-row", partial=True)
        styled = list(Segment.apply_style(segments, style=base, post_style=post))
        fill = base + post if post else base
        return Strip(styled).crop_extend(0, width, fill)

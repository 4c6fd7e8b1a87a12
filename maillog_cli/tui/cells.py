"""Rich cells for the TUI tables: untrusted text is made visible and never read as markup.

Plain Rich (no Textual) so it is cheap to test. The Emails columns for a terminal width
come from render.columns.email_columns.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from maillog_cli.render.columns import Column
from maillog_cli.render.format import class_style, short_time
from maillog_cli.render.output import one_line, status_text, visible


def fit(value: Any, width: int, style: str = "") -> Text:
    """One visible line that fits in `width` with a space to spare, cut with an ellipsis."""
    return Text(one_line(value, max(1, width - 1)), style=style, no_wrap=True, end="")


def class_text(bounce_class: str | None, width: int) -> Text:
    label = bounce_class or ""
    if width < 8 and label == "undetermined":
        label = "undet"
    return fit(label, width, class_style(bounce_class))


def email_cells(row: dict[str, Any], columns: list[Column]) -> list[Text]:
    """One message row (its latest event) as the cells of `columns`."""
    cells: list[Text] = []
    for c in columns:
        if c.key == "time":
            ts = short_time(row.get("timestamp"), "second" if c.width >= 20 else "minute")
            cells.append(fit(ts, c.width, "dim"))
        elif c.key == "status":
            t = status_text(row.get("status"))
            t.truncate(c.width - 1, overflow="ellipsis")
            cells.append(t)
        elif c.key == "id":
            cells.append(fit(row.get("short_id") or row.get("message_id"), c.width, "dim"))
        elif c.key == "class":
            cells.append(class_text(row.get("bounce_class"), c.width))
        elif c.key == "reason":
            cells.append(fit(row.get("bounce_reason"), c.width))
        else:
            cells.append(fit(row.get(c.key), c.width))
    return cells


def label_value(label: str, value: Any, style: str = "") -> Text:
    """`label  value` on one line, the value made visible."""
    t = Text()
    t.append(f"{label:<13}", style="bold")
    t.append(visible(value), style=style)
    return t

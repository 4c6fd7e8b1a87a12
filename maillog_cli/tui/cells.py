"""Rich cells for the TUI tables: untrusted text is made visible and never read as markup.

Plain Rich (no Textual) so it is cheap to test. Column sets adapt to the terminal width:
80 columns keep what answers "what happened and why" (time, status, recipient, subject,
class); wider terminals add provider, then the bounce reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from maillog_cli.render.output import one_line, status_text, visible

CLASS_STYLES = {"hard": "bold red", "block": "magenta", "soft": "yellow", "undetermined": "dim"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


def columns_for(width: int) -> list[Column]:
    """The Emails columns for a terminal `width` cells wide; subject takes what is left."""
    wide = width >= 140
    cols = [
        Column("time", "time (UTC)", 20 if wide else 17),
        Column("status", "status", 13 if wide else 11),
        Column("recipient", "recipient", 32 if wide else 24 if width >= 100 else 20),
        Column("subject", "subject", 0),
    ]
    if width >= 100:
        cols.append(Column("provider", "provider", 10))
    cols.append(Column("class", "class", 6 if width < 100 else 13))
    if wide:
        cols.append(Column("reason", "reason", 22))
    used = sum(c.width for c in cols) + 3  # the scrollbar and a margin
    subject = max(12, width - used)
    return [Column(c.key, c.label, subject) if c.key == "subject" else c for c in cols]


def fit(value: Any, width: int, style: str = "") -> Text:
    """One visible line that fits in `width` with a space to spare, cut with an ellipsis."""
    return Text(one_line(value, max(1, width - 1)), style=style, no_wrap=True, end="")


def class_text(bounce_class: str | None, width: int) -> Text:
    label = bounce_class or ""
    if width < 8 and label == "undetermined":
        label = "undet"
    return fit(label, width, CLASS_STYLES.get(bounce_class or "", ""))


def email_cells(row: dict[str, Any], columns: list[Column]) -> list[Text]:
    """One message row (its latest event) as the cells of `columns`."""
    cells: list[Text] = []
    for c in columns:
        if c.key == "time":
            ts = (row.get("timestamp") or "").replace("T", " ")
            cells.append(fit(ts[: 19 if c.width >= 20 else 16], c.width, "dim"))
        elif c.key == "status":
            t = status_text(row.get("status"))
            t.truncate(c.width - 1, overflow="ellipsis")
            cells.append(t)
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


def share(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"

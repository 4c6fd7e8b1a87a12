"""Events for a person: the plain cells (TSV in a pipe), the terminal table (search,
bounces --list) and the one-line form `tail` prints."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from maillog_cli.render.columns import event_line_columns, event_table_columns
from maillog_cli.render.format import reply_code, short_time
from maillog_cli.render.output import one_line, status_text, table

# The listing convention: the terminal table's columns, in its order; a pipe gets all of
# them as TSV, no header row, the id whole (a terminal shortens it to fit).
TABLE_COLUMNS = (
    "time",
    "id",
    "status",
    "recipient",
    "reason",
    "subject",
    "class",
    "code",
    "provider",
    "diagnostic",
)


def table_cells(row: dict[str, Any]) -> list[Any]:
    """One event as plain cells in TABLE_COLUMNS order."""
    return [
        short_time(row.get("timestamp")),
        row.get("message_id"),
        row.get("status"),
        row.get("recipient"),
        row.get("bounce_reason"),
        row.get("subject"),
        row.get("bounce_class"),
        reply_code(row),
        row.get("provider"),
        row.get("diagnostic"),
    ]


# A message's facts after TABLE_COLUMNS (search --messages).
MESSAGE_TABLE_COLUMNS = ("type", "tags", "size", "method", "opens", "clicks")


def message_cells(row: dict[str, Any]) -> list[Any]:
    """The plain cells of a message's facts, in MESSAGE_TABLE_COLUMNS order."""
    return [
        row.get("type"),
        ", ".join(row.get("tags") or []),
        row.get("size"),
        row.get("send_method"),
        row.get("open_count") or "",
        row.get("click_count") or "",
    ]


def event_table(
    rows: list[dict[str, Any]], width: int, title: str | None = None, messages: bool = False
) -> Table:
    """The events (with `messages`, each message's latest event and its facts) as a table
    that fits `width` cells: columns by event_table_columns()."""
    layout = event_table_columns(width, messages=messages)
    columns = [
        (
            c.label,
            {
                "no_wrap": True,
                "overflow": "ellipsis",
                "width": c.width,
                "style": "dim" if c.key in ("time", "id") else "",
            },
        )
        for c in layout
    ]
    keys = TABLE_COLUMNS + MESSAGE_TABLE_COLUMNS
    at = keys.index
    where = [at(c.key) for c in layout]
    cells = []
    for r in rows:
        c = table_cells(r) + (message_cells(r) if messages else [])
        c[at("status")] = status_text(r.get("status"))
        for key in ("id", "recipient", "subject", "diagnostic"):
            c[at(key)] = one_line(c[at(key)])
        if messages:
            for key in ("type", "tags"):
                c[at(key)] = one_line(c[at(key)])
        cells.append([c[i] for i in where])
    return table(columns, cells, title=title)


def event_line(row: dict[str, Any], width: int) -> Text:
    """One event on one terminal line: time, coloured status, recipient, subject, diagnostic."""
    time_, status_, to, subject, diag = event_line_columns(width)
    status = status_text(row.get("status"))
    status.truncate(status_.width, pad=True)

    def cell(value: Any, cells: int) -> Text:
        t = Text(one_line(value))
        t.truncate(cells, overflow="ellipsis", pad=True)
        return t

    line = Text.assemble(
        Text(short_time(row.get("timestamp")).ljust(time_.width), style="dim"),
        " ",
        status,
        " ",
        cell(row.get("recipient"), to.width),
        " ",
        cell(row.get("subject"), subject.width),
        " ",
    )
    diagnostic = Text(one_line(row.get("diagnostic") or reply_code(row)), style="dim")
    diagnostic.truncate(diag.width, overflow="ellipsis")
    line.append_text(diagnostic)
    line.rstrip()
    return line

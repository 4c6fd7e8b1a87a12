"""Events for a person: the plain cells (TSV in a pipe), the terminal table (search,
bounces --list) and the one-line form `tail` prints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from maillog_cli.render.columns import event_table_columns
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


def table_cells(row: dict[str, Any], messages: bool = False) -> list[Any]:
    """One event as plain cells in TABLE_COLUMNS order; with `messages` (search
    --messages) the message's facts come before the diagnostic, as in the table:
    MESSAGE_LISTING_COLUMNS order."""
    cells = _event_cells(row)
    if messages:
        return [*cells[:-1], *message_cells(row), cells[-1]]
    return cells


def _event_cells(row: dict[str, Any]) -> list[Any]:
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


# A message's facts (search --messages), between the event's columns and its diagnostic.
MESSAGE_TABLE_COLUMNS = ("type", "tags", "size", "method", "opens", "clicks")
MESSAGE_LISTING_COLUMNS = (*TABLE_COLUMNS[:-1], *MESSAGE_TABLE_COLUMNS, TABLE_COLUMNS[-1])


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


def _id_cell(row: dict[str, Any], short: Mapping[str, str] | None) -> str:
    """The message id as a terminal shows it: the unique prefix from `short` (what
    `show PREFIX` takes), or the whole id when there is none."""
    mid = row.get("message_id") or ""
    return one_line(short.get(mid, mid) if short else mid)


def event_table(
    rows: list[dict[str, Any]],
    width: int,
    title: str | None = None,
    messages: bool = False,
    short: Mapping[str, str] | None = None,
) -> Table:
    """The events (with `messages`, each message's latest event and its facts) as a table
    that fits `width` cells: columns by event_table_columns(); ids shortened by `short`
    (message id → unique prefix), the id column as wide as the longest of them."""
    ids = [_id_cell(r, short) for r in rows]
    id_width = max(map(len, ids), default=0) if short is not None else None
    layout = event_table_columns(width, messages=messages, id_width=id_width)
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
    at = (MESSAGE_LISTING_COLUMNS if messages else TABLE_COLUMNS).index
    where = [at(c.key) for c in layout]
    cells = []
    for r, id_ in zip(rows, ids, strict=True):
        c = table_cells(r, messages)
        c[at("status")] = status_text(r.get("status"))
        c[at("id")] = id_
        for key in ("recipient", "subject", "diagnostic"):
            c[at(key)] = one_line(c[at(key)])
        if messages:
            for key in ("type", "tags"):
                c[at(key)] = one_line(c[at(key)])
        cells.append([c[i] for i in where])
    return table(columns, cells, title=title)


def event_line(
    row: dict[str, Any], width: int, short_id: str | None = None, id_width: int = 0
) -> Text:
    """One event on one terminal line (`tail`): the columns search's table has at this
    width (event_table_columns), in its order and gaps, without the header; the id is
    `short_id` (the unique prefix) and its column at least `id_width` wide, so lines
    printed one by one still line up."""
    id_ = one_line(short_id if short_id is not None else row.get("message_id"))
    layout = event_table_columns(width, id_width=max(id_width, len(id_)))
    cells = table_cells(row)
    at = TABLE_COLUMNS.index
    line = Text()
    for n, column in enumerate(layout):
        if n:
            line.append("  ")
        key = column.key
        if key == "status":
            cell = status_text(row.get("status"))
        elif key == "id":
            cell = Text(id_, style="dim")
        elif key == "diagnostic":
            cell = Text(one_line(cells[at(key)]), style="dim")
        else:
            cell = Text(one_line(cells[at(key)]), style="dim" if key == "time" else "")
        last = n == len(layout) - 1
        cell.truncate(column.width, overflow="ellipsis", pad=not last)
        line.append_text(cell)
    line.rstrip()
    return line

"""Printing lists of events the same way in every command (search, tail, bounces …)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from maillog_cli.model import EVENT_KEYS, MESSAGE_KEYS
from maillog_cli.options import OutputFormat
from maillog_cli.render.output import (
    console,
    is_terminal,
    one_line,
    status_text,
    table,
    write_rows,
    write_tsv,
)

TABLE_COLUMNS = (
    "time",
    "status",
    "recipient",
    "subject",
    "provider",
    "class",
    "code",
    "diagnostic",
)


def rows_as_dicts(
    cursor: Iterable[sqlite3.Row | tuple[Any, ...]], names: list[str]
) -> Iterator[dict[str, Any]]:
    for row in cursor:
        yield dict(zip(names, row, strict=False))


def short_time(ts: str | None) -> str:
    return (ts or "")[:19].replace("T", " ")


def table_cells(row: dict[str, Any]) -> list[Any]:
    code = row.get("enhanced_code") or (str(row["smtp_code"]) if row.get("smtp_code") else "")
    return [
        short_time(row.get("timestamp")),
        row.get("status"),
        row.get("recipient"),
        row.get("subject"),
        row.get("provider"),
        row.get("bounce_class"),
        code,
        row.get("diagnostic"),
    ]


MESSAGE_TABLE_COLUMNS = ("type", "tags", "size", "method", "opens", "clicks")


def message_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `search --messages` row as MESSAGE_KEYS want it: lists as lists, flags as booleans."""
    for key in ("tags", "aliases"):
        text = row.get(key)
        row[key] = orjson.loads(text) if isinstance(text, str) else (text or [])
    row["has_content"] = bool(row.get("has_content"))
    return row


def message_cells(row: dict[str, Any]) -> list[Any]:
    """The table cells of a message's facts (MESSAGE_TABLE_COLUMNS)."""
    return [
        row.get("type"),
        ", ".join(row.get("tags") or []),
        row.get("size"),
        row.get("send_method"),
        row.get("open_count") or "",
        row.get("click_count") or "",
    ]


def emit_events(
    rows: Iterable[dict[str, Any]],
    fmt: OutputFormat | str,
    title: str | None = None,
    messages: bool = False,
) -> int:
    """Print events (or, with `messages`, one row per message: its latest event and the
    message's facts) in the chosen format; returns how many were printed."""
    fmt = OutputFormat(fmt)
    if messages:
        rows = (message_row(r) for r in rows)
    if fmt is not OutputFormat.table:
        return write_rows(rows, MESSAGE_KEYS if messages else EVENT_KEYS, fmt.value)
    if not is_terminal():
        if messages:
            return write_tsv(table_cells(r) + message_cells(r) for r in rows)
        return write_tsv(table_cells(r) for r in rows)
    rows = list(rows)
    out = console()
    if not rows:
        out.print("no matching events", style="dim")
        return 0
    # Narrow terminals keep what answers "what happened": time, status, who, why; wider ones
    # add subject, class, code and provider. Widths are set here, not left to Rich, which
    # would squash the short columns to nothing to make room for long diagnostics.
    width = out.width
    layout = [(0, "time", 19), (1, "status", 12), (2, "recipient", 22 if width < 100 else 30)]
    if width >= 120:
        layout.append((3, "subject", 22 if width < 160 else 30))
    if width >= 135:
        layout.append((5, "class", 12))
    if width >= 150:
        layout.append((6, "code", 9))
    if width >= 170:
        layout.append((4, "provider", 10))
    if messages and width >= 150:
        layout += [(8, "type", 13), (9, "tags", 16), (12, "opens", 5), (13, "clicks", 6)]
    rest = width - sum(w for _, _, w in layout) - 2 * len(layout)
    layout.append((7, "diagnostic", max(rest, 10)))
    columns = [
        (
            name,
            {"no_wrap": True, "overflow": "ellipsis", "width": w, "style": "dim" if i == 0 else ""},
        )
        for i, name, w in layout
    ]
    cells = []
    for r in rows:
        c = table_cells(r) + (message_cells(r) if messages else [])
        c[1] = status_text(r.get("status"))
        c[3] = one_line(c[3])
        c[7] = one_line(c[7])
        cells.append([c[i] for i, _, _ in layout])
    out.print(table(columns, cells, title=title))
    return len(rows)

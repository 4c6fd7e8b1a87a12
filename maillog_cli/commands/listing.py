"""Printing lists of events the same way in every command (search, tail, bounces …)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from maillog_cli.model import EVENT_KEYS, MESSAGE_KEYS
from maillog_cli.options import OutputFormat
from maillog_cli.render.events import event_table, message_cells, table_cells
from maillog_cli.render.output import console, is_terminal, write_rows, write_tsv


def message_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `search --messages` row as MESSAGE_KEYS want it: lists as lists, flags as booleans."""
    for key in ("tags", "aliases"):
        text = row.get(key)
        row[key] = orjson.loads(text) if isinstance(text, str) else (text or [])
    row["has_content"] = bool(row.get("has_content"))
    return row


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
    out.print(event_table(rows, out.width, title=title, messages=messages))
    return len(rows)

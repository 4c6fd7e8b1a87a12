"""Printing lists of events the same way in every command (search, tail, bounces …)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maillog_cli.model import EVENT_KEYS
from maillog_cli.options import OutputFormat
from maillog_cli.render.events import event_table, table_cells
from maillog_cli.render.output import console, is_terminal, write_rows, write_tsv


def emit_events(
    rows: Iterable[dict[str, Any]], fmt: OutputFormat | str, title: str | None = None
) -> int:
    """Print events in the chosen format; returns how many were printed."""
    fmt = OutputFormat(fmt)
    if fmt is not OutputFormat.table:
        return write_rows(rows, EVENT_KEYS, fmt.value)
    if not is_terminal():
        return write_tsv(table_cells(r) for r in rows)
    rows = list(rows)
    out = console()
    if not rows:
        out.print("no matching events", style="dim")
        return 0
    out.print(event_table(rows, out.width, title=title))
    return len(rows)

"""Printing lists of events the same way in every command (search, tail, bounces …)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from maillog_cli.model import EVENT_KEYS, MESSAGE_KEYS
from maillog_cli.options import OutputFormat
from maillog_cli.render.events import event_table, table_cells
from maillog_cli.render.output import console, is_terminal, write_rows, write_tsv
from maillog_cli.store.query import short_ids


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
    conn: sqlite3.Connection | None = None,
) -> int:
    """Print events (or, with `messages`, one row per message: its latest event and the
    message's facts) in the chosen format; returns how many were printed.

    On a terminal each id is shortened to its unique prefix in the store `conn` (what
    `show PREFIX` takes); a pipe gets whole ids."""
    fmt = OutputFormat(fmt)
    if messages:
        rows = (message_row(r) for r in rows)
    if fmt is not OutputFormat.table:
        return write_rows(rows, MESSAGE_KEYS if messages else EVENT_KEYS, fmt.value)
    if not is_terminal():
        return write_tsv(table_cells(r, messages) for r in rows)
    rows = list(rows)
    if not rows:
        return 0
    short = short_ids(conn, (r.get("message_id") for r in rows)) if conn is not None else None
    out = console()
    out.print(event_table(rows, out.width, title=title, messages=messages, short=short))
    return len(rows)


def up_to_limit(
    rows: Iterable[dict[str, Any]], limit: int | None, total: Callable[[], int]
) -> list[dict[str, Any]]:
    """At most `limit` rows (read one more to know), and when the limit cut the listing,
    say so on stderr with the whole count: "showing 100 of 2,361; --limit 0 for all".

    `rows` must have been asked for `limit + 1` rows; `total()` counts them all, and runs
    only when the limit did cut.
    """
    rows = list(rows)
    if limit and len(rows) > limit:
        rows = rows[:limit]
        sys.stderr.write(f"maillog: showing {limit:,} of {total():,}; --limit 0 for all\n")
    return rows


def plus_one(limit: int | None) -> int | None:
    """The row count to ask for so up_to_limit() can tell whether the limit cut."""
    return limit + 1 if limit else None


EMPTY_STORE = "No emails yet — import a provider dump: maillog import FILE"
EMPTY_AUDIT = "No audit entries yet — import an audit log: maillog import FILE"


def say_when_empty(
    conn: Any, shown: int, what: str = "events", table: str = "events", empty: str = EMPTY_STORE
) -> None:
    """Nothing listed: say why on stderr (stdout stays empty for a pipe), exit 0 — an
    empty store (no row in `table`: the `empty` message) and a filter that matches
    nothing ("no {what} match these filters") are different news."""
    if shown:
        return
    nothing = conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None
    sys.stderr.write(f"maillog: {empty if nothing else f'no {what} match these filters'}\n")

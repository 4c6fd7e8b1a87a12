"""An event id already stored for ANOTHER event is not a duplicate.

Events are unique by `event_id`, and sources name events by their own ids: Postmark a
bounce by its number, SparkPost by a long number, an application's CSV by 1, 2, 3 … Two
sources that number their events alike met in the store as "already present", and the
second one's events were silently dropped. A row whose id is stored with another provider
or another recipient (both known) is a different event: it is stored under its id plus a
digest of those two, so importing its file again still finds it (a true duplicate, the
same provider's event for the same recipient, stays one row).

Called from the import's write path only when some rows of a batch were not new, so a
first import pays nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from maillog_cli.store.db import EVENT_COLUMNS

_ID = EVENT_COLUMNS.index("event_id")
_PROVIDER = EVENT_COLUMNS.index("provider")
_RECIPIENT = EVENT_COLUMNS.index("recipient")
_CHUNK = 500  # ids per lookup (SQLite's parameter limit is far above)


def _differ(a: Any, b: Any) -> bool:
    """Both known and not the same (an unknown side never makes two events different)."""
    return a is not None and b is not None and str(a).lower() != str(b).lower()


def renamed_collisions(
    conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The rows of `rows` (just offered to INSERT OR IGNORE) whose id the store holds for
    a different event, each under its own derived id, to insert again."""
    stored: dict[str, tuple[Any, Any]] = {}
    ids = list(dict.fromkeys(r[_ID] for r in rows))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for event_id, provider, recipient in conn.execute(
            f"SELECT event_id, provider, recipient FROM events WHERE event_id IN ({marks})", chunk
        ):
            stored[event_id] = (provider, recipient)
    out = []
    for row in rows:
        seen = stored.get(row[_ID])
        if seen is None:
            continue
        if _differ(seen[0], row[_PROVIDER]) or _differ(seen[1], row[_RECIPIENT]):
            out.append(_with_id(row, derived_id(row)))
    return out


def derived_id(row: Sequence[Any]) -> str:
    """`ID~digest`: the source's id kept readable, made distinct by who the event is about."""
    who = f"{row[_PROVIDER] or ''}\n{str(row[_RECIPIENT] or '').lower()}"
    return f"{row[_ID]}~{hashlib.sha256(who.encode()).hexdigest()[:12]}"


def _with_id(row: tuple[Any, ...], event_id: str) -> tuple[Any, ...]:
    return (*row[:_ID], event_id, *row[_ID + 1 :])

"""What the TUI reads from the store, through the same query functions as the CLI.

Every read is a short statement on a read-only connection in autocommit mode, so an
import running in another process is never blocked and new commits are seen at once.
Pages are keyset pages (`query.iter_events(after=Page)`), never OFFSET, never "all".
The count runs on its own connection so that a new filter can interrupt it.
Nothing here imports Textual; the widgets call these functions from worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from maillog_cli.errors import MaillogError
from maillog_cli.follow import Changes, newer
from maillog_cli.render.format import short_time
from maillog_cli.store.db import Store
from maillog_cli.store.query import (
    AUDIT_IDS,
    MESSAGE_EVENT_SELECT,
    MESSAGE_IDS,
    SHORT_ID_MIN,
    Filters,
    IdSpace,
    Page,
    count_sql,
    has_rollups,
    iter_events,
    short_ids,
    where,
)

PAGE_SIZE = 200
Row = dict[str, Any]


def _dicts(cur: sqlite3.Cursor) -> list[Row]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur]


@dataclass
class Update:
    """What a follow step found: message rows to (re)place, ids they replace, the new position."""

    rows: list[Row]
    touched: set[str]
    position: int
    more: bool = False  # the step was full: more new events wait


class Source:
    """The store as the TUI sees it: read-only connections, one lock per connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._store = Store.open(self.path, readonly=True)
        self._lock = threading.Lock()
        self._count_store = Store.open(self.path, readonly=True)
        self._count_lock = threading.Lock()
        self._changes = Changes(self._store)

    @property
    def store(self) -> Store:
        return self._store

    def close(self) -> None:
        self.interrupt_count()
        with self._lock:
            self._store.close()
        with self._count_lock:
            self._count_store.close()

    # --- the Emails list ---------------------------------------------------------------
    def page(
        self, filters: Filters, after: Page | None = None, limit: int = PAGE_SIZE
    ) -> list[Row]:
        """One keyset page of messages (each with its latest event), newest first."""
        with self._lock:
            conn = self._store.conn
            rows = list(iter_events(conn, filters, limit, after=after, messages=True))
            return with_short_ids(conn, rows, "message_id", MESSAGE_IDS)

    def count(self, filters: Filters) -> int | None:
        """How many messages match; None when interrupted by `interrupt_count`."""
        sql, params = count_sql(filters, messages=True, rollups=has_rollups(self._count_store.conn))
        with self._count_lock:
            try:
                return int(self._count_store.conn.execute(sql, params).fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    return None
                raise

    def interrupt_count(self) -> None:
        self._count_store.conn.interrupt()

    def position(self) -> int:
        """The highest event position now: where following starts."""
        with self._lock:
            return int(
                self._store.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            )

    def changed(self) -> bool:
        """Has another connection committed since the last look (PRAGMA data_version)?
        MaillogError when the store's file was removed or replaced: it never changes again."""
        moved = self._store.replaced()
        if moved:
            raise MaillogError(moved, "quit, and run maillog tui again to see the file now there")
        with self._lock:
            return self._changes.changed()

    def follow_step(self, filters: Filters, position: int, limit: int = 2000) -> Update:
        """Messages touched by the events after `position`, and their rows that match now.

        Uses follow.newer (the `tail` keyset step over the events' positions) to find what
        changed, then re-reads those messages' latest events with the user's filters, so a
        message that moved on (deferred → delivered) is replaced or leaves the list.
        """
        with self._lock:
            events, top, more = newer(self._store, Filters(), position, step=limit)
            touched = {e["message_id"] for e in events if e.get("message_id")}
            rows: list[Row] = []
            if touched:
                clause, params = where(filters, "e", facts="m")
                ids = sorted(touched)
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    rows += _dicts(
                        self._store.conn.execute(
                            f"SELECT {MESSAGE_EVENT_SELECT} FROM messages m JOIN events e ON e.seq = m.last_seq"
                            f" WHERE m.message_id IN ({marks}) AND {clause}",
                            [*chunk, *params],
                        )
                    )
                with_short_ids(self._store.conn, rows, "message_id", MESSAGE_IDS)
        rows.sort(key=lambda r: (r["timestamp"], r["seq"]), reverse=True)
        return Update(rows, touched, top, more)

    # --- one message -------------------------------------------------------------------
    def message(self, ident: str):  # -> messages.MessageDetail | None
        from maillog_cli.message_detail import load_message

        with self._lock:
            return load_message(self._store, ident)

    def event_extras(self, message_id: str) -> list[tuple[str, Any]]:
        """(time, metadata) of each event that carried extra fields (tags, custom args, ip)."""
        with self._lock:
            cur = self._store.conn.execute(
                "SELECT timestamp, status, extra FROM events WHERE message_id = ? AND extra IS NOT NULL"
                " ORDER BY timestamp, seq",
                (message_id,),
            )
            out = []
            for ts, status, extra in cur:
                try:
                    value = orjson.loads(extra)
                except orjson.JSONDecodeError:
                    value = extra
                out.append((f"{short_time(ts)} {status}", value))
            return out

    # --- the other tabs: their commands' own core functions ----------------------------
    def bounce_summary(self, filters: Filters):  # -> bounce_report.Summary
        from maillog_cli.bounce.report import summary

        with self._lock:
            return summary(self._store, filters, top=10)

    def audit_entries(self, limit: int = 300) -> tuple[list[Row], list[Row], int]:
        """(newest entries, action counts, total entries) as `maillog audit` computes them."""
        from maillog_cli.audit.queries import action_counts, build, count_all, list_entries

        f = build()
        with self._lock:
            conn = self._store.conn
            entries = with_short_ids(conn, list(list_entries(conn, f, limit)), "id", AUDIT_IDS)
            return entries, action_counts(conn, f), count_all(conn)

    def locked(self, fn: Any, *args: Any) -> Any:
        """Run another command's core function `fn(store, *args)` on the browsing connection."""
        with self._lock:
            return fn(self._store, *args)


def with_short_ids(
    conn: sqlite3.Connection, rows: list[Row], key: str, space: IdSpace
) -> list[Row]:
    """`rows`, each with "short_id": its `key`'s shortest unique prefix, as the CLI's
    listings show it (what `maillog show` / `audit show` take)."""
    short = short_ids(conn, (r.get(key) for r in rows), space)
    for r in rows:
        r["short_id"] = short.get(r.get(key) or "", "")
    return rows


def short_id_width(rows: Iterable[Row]) -> int:
    """The cells the id column needs so no shown id is cut (never under SHORT_ID_MIN)."""
    return max([SHORT_ID_MIN, *(len(r.get("short_id") or "") for r in rows)])


def pretty_json(value: Any) -> str:
    """Indented JSON for a person: orjson escapes C0 controls; visible() the bidi/C1 ones."""
    from maillog_cli.render.output import visible

    text = orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
    return "\n".join(visible(line) for line in text.splitlines())


def merge(rows: list[Row], update: Iterable[Row], touched: set[str], exhausted: bool) -> list[Row]:
    """The loaded rows with the touched messages replaced by their current rows, in order.

    A row older than the last loaded one is left for paging to bring (unless everything
    is loaded), so the list never gets a hole.
    """
    kept = [r for r in rows if r["message_id"] not in touched]
    fresh = list(update)
    if not exhausted and kept:
        floor = (kept[-1]["timestamp"], kept[-1]["seq"])
        fresh = [r for r in fresh if (r["timestamp"], r["seq"]) > floor]
    merged = kept + fresh
    merged.sort(key=lambda r: (r["timestamp"], r["seq"]), reverse=True)
    return merged

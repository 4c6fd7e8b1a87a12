"""Parsed items into the store, in batches, inside the file's open write transaction:
classify bounces, insert events and audit entries, keep stored emails, refresh the
messages rows the file touched. Big files load in bulk mode (FTS and indexes deferred).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maillog_cli.ingest.records import FileResult
from maillog_cli.model import AuditEntry, Event, Restored, Skip, StoredMessage
from maillog_cli.store.db import Store, event_row

BATCH = 5000
# Files at least this big defer FTS maintenance to the end of the load; when they are also
# big next to the store, the events indexes are dropped and rebuilt (measured: benchmarks/).
BULK_BYTES = 8 << 20
BYTES_PER_EVENT = 250


def classifier() -> Callable[[Event], None]:
    from maillog_cli.bounce.classify import classify

    def apply(e: Event) -> None:
        if e.bounce_class is None or e.bounce_reason is None:
            v = classify(e.status, e.smtp_code, e.enhanced_code, e.diagnostic, e.bounce_hint)
            if v is not None:
                e.bounce_class = e.bounce_class or v.bounce_class
                e.bounce_reason = e.bounce_reason or v.bounce_reason

    return apply


class Ingest:
    """Collects parsed items for one file inside one open write transaction."""

    def __init__(
        self, store: Store, result: FileResult, import_id: int | None, size: int | None = None
    ) -> None:
        self.store, self.result, self.import_id = store, result, import_id
        self.bulk: tuple[int, list[str]] | None = None
        store.conn.execute("CREATE TEMP TABLE IF NOT EXISTS touched (message_id TEXT PRIMARY KEY)")
        store.conn.execute("DELETE FROM touched")
        if size is not None and size >= BULK_BYTES:
            expected = size // BYTES_PER_EVENT
            self.bulk = store.begin_bulk(drop_indexes=expected > 2 * store.event_count_estimate())
        self.events: list[Event] = []
        self.audit: list[AuditEntry] = []
        self.restored: list[Restored] = []
        self.classify = classifier()

    def add(self, item: Event | AuditEntry | Skip | StoredMessage | Restored) -> None:
        if isinstance(item, Event):
            self.classify(item)
            self.events.append(item)
            if len(self.events) >= BATCH:
                self.flush()
        elif isinstance(item, AuditEntry):
            self.audit.append(item)
            if len(self.audit) >= BATCH:
                self.flush()
        elif isinstance(item, Restored):
            self.restored.append(item)
            if len(self.restored) >= BATCH:
                self.flush()
        elif isinstance(item, StoredMessage):
            self._save_content(item)
        elif isinstance(item, Skip):
            self.result.skipped[item.why] += 1

    def _write_restored(self, items: list[Restored]) -> None:
        """Non-event rows of our full export form (messages, aliases, stored emails)."""
        for item in items:
            new = self.store.restore(item)
            if item.table == "messages":
                self.result.new_messages += new
                self.store.conn.execute(
                    "INSERT OR IGNORE INTO touched VALUES (?)", (item.values["message_id"],)
                )
            elif item.table == "message_content":
                self.result.contents += new

    def _save_content(self, item: StoredMessage) -> None:
        if self.store.save_content(item):
            self.result.contents += 1
        self.store.conn.execute("INSERT OR IGNORE INTO touched VALUES (?)", (item.message_id,))

    def flush(self) -> None:
        if self.events:
            rows = [event_row(e, self.import_id) for e in self.events]
            ids = {(e.message_id,) for e in self.events if e.message_id}
            aliases = {
                (a, e.message_id)
                for e in self.events
                if e.message_id
                for a in e.aliases
                if a and a != e.message_id
            }
            self.events = []
            self._write_events(rows, ids, aliases)
        if self.audit:
            entries, self.audit = self.audit, []
            self._write_audit(entries)
        if self.restored:
            restored, self.restored = self.restored, []
            self._write_restored(restored)

    def _write_events(
        self, rows: list[tuple[Any, ...]], ids: set[tuple[str]], aliases: set[tuple[str, str]]
    ) -> None:
        new = self.store.insert_rows(rows)
        self.result.new += new
        self.result.duplicates += len(rows) - new
        self.store.conn.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ids)
        if aliases:
            self.store.insert_aliases(aliases)

    def _write_audit(self, entries: list[AuditEntry]) -> None:
        self.result.audit += self.store.insert_audit(entries, self.import_id)
        self.result.audit_seen += len(entries)

    def index_text(self) -> None:
        """During a bulk load, bring the FTS rows up to date now (when there is idle time)."""
        if self.bulk is not None:
            before, dropped = self.bulk
            self.bulk = (self.store.index_text(before), dropped)

    def finish(self) -> None:
        self.flush()
        if self.bulk is not None:
            self.store.end_bulk(self.bulk)
        store = self.store
        touched = store.row_count_estimate("temp.touched")
        # A file that brings more messages than the store holds (a first load): the messages
        # indexes are built once after the refresh instead of row by row (−0.6 µs/event).
        with store.indexes_deferred("messages", touched > 2 * store.row_count_estimate("messages")):
            self.result.new_messages += store.refresh_messages("touched")

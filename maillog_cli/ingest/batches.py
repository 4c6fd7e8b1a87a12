"""Parsed items into the store, in batches, inside the file's open write transaction:
classify bounces, insert events and audit entries, keep stored emails, refresh the
messages rows the file touched. Big files load in bulk mode (FTS and indexes deferred).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maillog_cli.importers.mta.lines import MtaLine
from maillog_cli.ingest.records import FileResult
from maillog_cli.model import AuditEntry, Event, Restored, Skip, StoredMessage
from maillog_cli.store import identity
from maillog_cli.store.db import EVENT_COLUMNS, Store, event_row

BATCH = 5000
_MID = EVENT_COLUMNS.index("message_id")  # in a row made by store.db.event_row
# What the record loop hands over: parsed items, or a fast record's (store row, aliases).
Addable = Event | AuditEntry | Skip | StoredMessage | Restored | MtaLine | tuple[Any, ...]
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
        self.rows: list[tuple[Any, ...]] = []  # the batch's event rows, in the file's order
        self.aliases: set[tuple[str, str]] = set()  # (alias, message id) of those rows
        self.audit: list[AuditEntry] = []
        self.restored: list[Restored] = []
        self.mta_lines: list[MtaLine] = []
        self.correlator: Any = None
        self.classify = classifier()

    def add(self, item: Addable) -> None:
        if type(item) is MtaLine:  # a mail log's line fact (most items of a mail log)
            self.mta_lines.append(item)
            if len(self.mta_lines) >= BATCH:
                self.flush()
        elif type(item) is tuple:  # (store row, aliases): a fast record (ingest/fast.py)
            row, aliases = item
            self.rows.append(row)
            if aliases:
                mid = row[_MID]
                self.aliases.update((a, mid) for a in aliases if a and a != mid)
            if len(self.rows) >= BATCH:
                self.flush()
        elif isinstance(item, Event):
            self._add_event(item)
            if len(self.rows) >= BATCH:
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

    def _write_mta(self, lines: list[MtaLine]) -> None:
        """Mail-server log facts, correlated by queue id with the state kept in the store."""
        if self.correlator is None:
            from maillog_cli.importers.mta.correlate import Correlator
            from maillog_cli.store import mta_state

            rows = mta_state.StoreRows(self.store.conn)
            self.correlator = Correlator(rows, self._write_correlated, self._apply_mta)
        self.correlator.feed(lines)

    def _apply_mta(self, ops: list[Any]) -> None:
        """The correlation's changes to queue state and stored events (store/mta_state.py)."""
        from maillog_cli.store import mta_state

        mta_state.apply(self.store.conn, ops, self._write_correlated)

    def _add_event(self, e: Event) -> None:
        """An event classified and made its store row now, so a batch keeps the file's order
        whether its records came as rows (fast) or as Events."""
        self.classify(e)
        self.rows.append(event_row(e, self.import_id))
        if e.message_id:
            mid = e.message_id
            self.aliases.update((a, mid) for a in e.aliases if a and a != mid)

    def _write_correlated(self, events: list[Event]) -> None:
        for e in events:
            self._add_event(e)
        self._write_pending_events()

    def _write_restored(self, items: list[Restored]) -> None:
        """Non-event rows of our full export form (messages, aliases, stored emails, queue
        ids in flight).

        Message rows first, then the aliases (joined with the store's ids, which may merge
        messages), then the stored emails and queue ids under the id their message now has."""
        conn = self.store.conn
        for item in items:
            if item.table == "messages":
                self.result.new_messages += self.store.restore(item)
                conn.execute(
                    "INSERT OR IGNORE INTO touched VALUES (?)", (item.values["message_id"],)
                )
        aliases = [i for i in items if i.table == "message_aliases"]
        moved = identity.join_restored_aliases(
            conn, [(i.values["alias"], i.values["message_id"]) for i in aliases]
        )
        for item in aliases:
            mid = moved.get(item.values["message_id"], item.values["message_id"])
            if item.values["alias"] != mid:
                self.store.restore(Restored(item.table, {**item.values, "message_id": mid}))
        for item in items:
            if item.table == "message_content":
                mid = identity.current_id(conn, item.values["message_id"])
                values = {**item.values, "message_id": mid}
                self.result.contents += self.store.restore(Restored(item.table, values))
            elif item.table == "mta_queue":
                mid = identity.current_id(conn, item.values["message_id"])
                self.store.restore(Restored(item.table, {**item.values, "message_id": mid}))
            elif item.table not in ("messages", "message_aliases"):
                self.store.restore(item)  # refused there, with the table named

    def _save_content(self, item: StoredMessage) -> None:
        item.message_id = identity.join_content(self.store.conn, item.message_id)
        if self.store.save_content(item):
            self.result.contents += 1
        self.store.conn.execute("INSERT OR IGNORE INTO touched VALUES (?)", (item.message_id,))

    def flush(self) -> None:
        self._write_pending_events()
        if self.mta_lines:
            lines, self.mta_lines = self.mta_lines, []
            self._write_mta(lines)
        if self.audit:
            entries, self.audit = self.audit, []
            self._write_audit(entries)
        if self.restored:
            restored, self.restored = self.restored, []
            self._write_restored(restored)

    def _write_pending_events(self) -> None:
        if self.rows:
            rows, aliases = self.rows, self.aliases
            self.rows, self.aliases = [], set()
            self._write_events(rows, aliases)

    def _write_events(self, rows: list[tuple[Any, ...]], aliases: set[tuple[str, str]]) -> None:
        # One email, one message: ids that meet stored ones join them (store/identity.py),
        # which also gives the message ids the rows touch.
        rows, ids, aliases = identity.join_rows(self.store.conn, rows, aliases)
        new = self.store.insert_rows(rows)
        if new < len(rows):  # some ids were stored: for the same event, or another's?
            from maillog_cli.store.collisions import renamed_collisions

            new += self.store.insert_rows(renamed_collisions(self.store.conn, rows))
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

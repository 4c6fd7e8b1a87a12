"""The one SQLite file: open (WAL, busy timeout, migrations), batched writes, lookups.

Writers take `BEGIN IMMEDIATE` so two imports queue instead of failing with
"database is locked"; WAL lets `tail --follow` and the TUI read meanwhile.
Core code only: nothing here prints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from maillog_cli.audit.redaction import scrub
from maillog_cli.errors import MaillogError
from maillog_cli.model import EVENT_KEYS, AuditEntry, Event, StoredMessage
from maillog_cli.normalize import domain_of
from maillog_cli.statuses import LIFECYCLE, LIFECYCLE_RANK
from maillog_cli.store.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000
# The contract keys, with the derived recipient_domain after recipient, then our own columns.
_AT = EVENT_KEYS.index("recipient") + 1
EVENT_COLUMNS: tuple[str, ...] = (
    *EVENT_KEYS[:_AT],
    "recipient_domain",
    *EVENT_KEYS[_AT:],
    "bounce_hint",
    "tag",
    "extra",
    "import_id",
)
_INSERT_EVENT = (
    f"INSERT OR IGNORE INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
)


def now_iso() -> str:
    from maillog_cli.dates import format_dt

    return format_dt(datetime.now(UTC))


def _dumps(value: Any) -> str | None:
    """JSON text for a column; integers beyond 64 bits (orjson refuses them) go through json."""
    if not value:
        return None
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        import json

        return json.dumps(value, default=str, ensure_ascii=False)


def event_row(e: Event, import_id: int | None) -> tuple[Any, ...]:
    """An Event as the tuple `_INSERT_EVENT` takes, its free text scrubbed of secrets.

    This and `insert_audit` are where rows become bytes on disk: scrubbing here (by key
    and by value, audit.redaction.scrub) keeps secrets out of the file, its WAL, the
    FTS index, `sql` output and prune archives, whatever importer made the row.
    """
    return (
        e.event_id,
        e.message_id,
        e.timestamp,
        e.provider,
        e.direction or "outbound",
        e.status,
        e.raw_status,
        e.sender,
        e.recipient,
        domain_of(e.recipient),
        scrub(e.subject),
        e.smtp_code,
        e.enhanced_code,
        scrub(e.diagnostic),
        e.bounce_class,
        e.bounce_reason,
        e.bounce_hint,
        scrub(e.tag),
        _dumps(scrub(e.extra)),
        import_id,
    )


def _retry_locked(step: Callable[[], Any], seconds: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Run a set-up step, retrying while another process creates the same file.

    Switching a brand-new file to WAL takes an exclusive lock that the busy timeout does
    not wait for, so two imports started at once on a new store could fail without this.
    """
    import time

    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class Store:
    """An open maillog database."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool = False) -> None:
        self.path = path
        self.conn = conn
        self.readonly = readonly

    # --- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str, readonly: bool = False, create: bool = True) -> Store:
        """Open (and create and migrate) the store; MaillogError when it cannot be."""
        p = Path(path).expanduser()
        if p.is_dir():
            raise MaillogError(f"{p} is a directory", "give the path of a database file with --db")
        if readonly or not create:
            if not p.exists():
                raise MaillogError(
                    f"no maillog database at {p}", "import something first: maillog import FILE"
                )
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"file:{p}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(p, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            store = cls(p, conn, readonly=readonly)
            store.check_version()  # before anything writes: a newer file stays untouched
            if not readonly:
                _retry_locked(store._prepare_new_file)
                conn.execute("PRAGMA synchronous = NORMAL")
            # 32 MiB of page cache; temp b-trees (index builds, GROUP BY) spill to disk so
            # that importing a 1 GB file stays well under 150 MB of memory.
            conn.execute("PRAGMA cache_size = -32768")
            if not readonly:
                _retry_locked(store.migrate)
        except sqlite3.DatabaseError as exc:
            raise MaillogError(
                f"{p} is not a usable maillog database: {exc}",
                "check the path given with --db or $MAILLOG_DB",
            ) from exc
        return store

    def close(self) -> None:
        self.conn.close()

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def check_version(self) -> None:
        if self.version > len(MIGRATIONS):
            raise MaillogError(
                f"{self.path} was written by a newer maillog (schema {self.version})",
                "upgrade maillog",
            )

    def _prepare_new_file(self) -> None:
        """WAL, and incremental auto-vacuum while the file has no tables (it can only be set
        then); both are no-ops on a file another process has already prepared."""
        if self.version == 0:
            self.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self.conn.execute("PRAGMA journal_mode = WAL")

    def migrate(self) -> None:
        """Apply every migration newer than the file, each in its own transaction."""
        self.check_version()
        if self.version >= len(MIGRATIONS):
            return
        with self.write():
            current = self.version  # re-read under the lock: another process may have won
            for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                migration(self.conn)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        if self.readonly:
            raise MaillogError("the store is open read-only")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # --- writing -------------------------------------------------------------------
    def insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """INSERT OR IGNORE rows made by `event_row`; returns how many were new."""
        return self.conn.executemany(_INSERT_EVENT, rows).rowcount

    def insert_aliases(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO message_aliases(alias, message_id) VALUES (?, ?)", pairs
        )

    def save_content(self, m: StoredMessage) -> bool:
        """Store a raw email and its message-level facts; False when already stored."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO message_content(message_id, raw) VALUES (?, ?)",
            (m.message_id, m.raw),
        )
        self.conn.execute(
            """
            INSERT INTO messages(message_id, sender, recipient, recipient_domain, subject, size,
                                 first_seen, spf, dkim, dmarc, headers, has_content, send_method)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'smtp')
            ON CONFLICT(message_id) DO UPDATE SET
                sender = coalesce(messages.sender, excluded.sender),
                recipient = coalesce(messages.recipient, excluded.recipient),
                recipient_domain = coalesce(messages.recipient_domain, excluded.recipient_domain),
                subject = coalesce(messages.subject, excluded.subject),
                size = coalesce(excluded.size, messages.size),
                spf = coalesce(excluded.spf, messages.spf),
                dkim = coalesce(excluded.dkim, messages.dkim),
                dmarc = coalesce(excluded.dmarc, messages.dmarc),
                headers = coalesce(excluded.headers, messages.headers),
                has_content = 1
            """,
            (
                m.message_id,
                m.sender,
                m.recipients[0] if m.recipients else None,
                domain_of(m.recipients[0]) if m.recipients else None,
                scrub(m.subject),
                m.size,
                m.timestamp,
                m.spf,
                m.dkim,
                m.dmarc,
                _dumps(scrub(m.headers)),
            ),
        )
        return cur.rowcount > 0

    def insert_audit(self, entries: Sequence[AuditEntry], import_id: int | None) -> int:
        cur = self.conn.executemany(
            """INSERT OR IGNORE INTO audit(id, created_at, actor_id, actor_email, action,
                   raw_action, target_type, target_id, metadata, ip, user_agent, import_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    a.id,
                    a.created_at,
                    a.actor_id,
                    a.actor_email,
                    a.action,
                    a.raw_action,
                    a.target_type,
                    a.target_id,
                    orjson.dumps(scrub(a.metadata or {}), default=str).decode(),
                    a.ip,
                    scrub(a.user_agent),
                    import_id,
                )
                for a in entries
            ],
        )
        return cur.rowcount

    def refresh_messages(self, touched_table: str = "touched") -> int:
        """Recompute the messages rows of the ids in temp table `touched_table` from events.

        Set-based, in two statements: the latest lifecycle event per message (SQLite takes
        bare columns from the row that holds max()), then one upsert of the aggregates.
        Returns how many message rows are new.
        """
        before = self.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        lifecycle = ", ".join(f"'{s}'" for s in LIFECYCLE)
        rank = " ".join(f"WHEN '{s}' THEN {r}" for s, r in LIFECYCLE_RANK.items())
        self.conn.execute("DROP TABLE IF EXISTS temp.latest")
        self.conn.execute(
            f"""
            CREATE TEMP TABLE latest AS
            SELECT message_id, status, timestamp, bounce_class, bounce_reason, seq,
                   max(timestamp || CASE status {rank} ELSE 0 END || printf('%012d', seq)) AS k
            FROM events
            WHERE message_id IN (SELECT message_id FROM {touched_table}) AND status IN ({lifecycle})
            GROUP BY message_id
            """
        )
        self.conn.execute("CREATE INDEX temp.latest_id ON latest(message_id)")
        self.conn.execute(
            f"""
            INSERT INTO messages(message_id, sender, recipient, recipient_domain, subject, tag,
                provider, direction, first_seen, opened_at, clicked_at, complained_at,
                unsubscribed_at, event_count, spf, dkim, dmarc, last_status, last_status_at,
                bounce_class, bounce_reason, last_seq)
            SELECT a.*, l.status, l.timestamp, l.bounce_class, l.bounce_reason, l.seq
            FROM (
                SELECT message_id, max(sender), min(recipient), min(recipient_domain),
                    max(subject), max(tag), max(provider), max(direction), min(timestamp),
                    min(CASE WHEN status = 'opened' THEN timestamp END),
                    min(CASE WHEN status = 'clicked' THEN timestamp END),
                    min(CASE WHEN status = 'complained' THEN timestamp END),
                    min(CASE WHEN status = 'unsubscribed' THEN timestamp END),
                    count(*),
                    -- authentication results an importer found in the event (extra.spf …)
                    max(json_extract(extra, '$.spf')), max(json_extract(extra, '$.dkim')),
                    max(json_extract(extra, '$.dmarc'))
                FROM events WHERE message_id IN (SELECT message_id FROM {touched_table})
                GROUP BY message_id
            ) AS a LEFT JOIN latest l ON l.message_id = a.message_id
            WHERE true
            ON CONFLICT(message_id) DO UPDATE SET
                sender = coalesce(messages.sender, excluded.sender),
                recipient = coalesce(messages.recipient, excluded.recipient),
                recipient_domain = coalesce(messages.recipient_domain, excluded.recipient_domain),
                subject = coalesce(messages.subject, excluded.subject),
                tag = coalesce(excluded.tag, messages.tag),
                provider = coalesce(excluded.provider, messages.provider),
                direction = coalesce(excluded.direction, messages.direction),
                first_seen = min(coalesce(messages.first_seen, excluded.first_seen), excluded.first_seen),
                opened_at = excluded.opened_at,
                clicked_at = excluded.clicked_at,
                complained_at = excluded.complained_at,
                unsubscribed_at = excluded.unsubscribed_at,
                event_count = excluded.event_count,
                spf = coalesce(excluded.spf, messages.spf),
                dkim = coalesce(excluded.dkim, messages.dkim),
                dmarc = coalesce(excluded.dmarc, messages.dmarc),
                last_status = excluded.last_status,
                last_status_at = excluded.last_status_at,
                bounce_class = excluded.bounce_class,
                bounce_reason = excluded.bounce_reason,
                last_seq = excluded.last_seq
            """
        )
        self.conn.execute("DROP TABLE temp.latest")
        after = self.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        return after - before

    # --- bulk loads ----------------------------------------------------------------------
    def begin_bulk(self, drop_indexes: bool) -> tuple[int, list[str]]:
        """Defer FTS (and optionally index) maintenance to the end of a big load.

        Inside the caller's write transaction, so a kill or error rolls it all back.
        Returns the state `end_bulk` needs: the last seq before the load, and the
        SQL of the dropped indexes.
        """
        from maillog_cli.store.migrations import drop_fts_triggers

        before = self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        drop_fts_triggers(self.conn)
        dropped: list[str] = []
        if drop_indexes:
            for name, sql in self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
            ).fetchall():
                self.conn.execute(f'DROP INDEX "{name}"')
                dropped.append(sql)
        return before, dropped

    def end_bulk(self, state: tuple[int, list[str]]) -> None:
        """Rebuild what begin_bulk deferred: indexes, then the FTS rows of the new events."""
        from maillog_cli.store.migrations import create_fts_triggers

        before, dropped = state
        for sql in dropped:
            self.conn.execute(sql)
        self.index_text(before)
        create_fts_triggers(self.conn)

    def index_text(self, after: int) -> int:
        """Add the FTS rows of the events past seq `after` (during a bulk load); returns the
        last seq indexed, to pass next time."""
        last = self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if last > after:
            self.conn.execute(
                "INSERT INTO events_fts(rowid, subject, sender, recipient, diagnostic)"
                " SELECT seq, subject, sender, recipient, diagnostic FROM events"
                " WHERE seq > ? AND seq <= ?",
                (after, last),
            )
        return int(last)

    def event_count_estimate(self) -> int:
        """Rows in events, cheaply (max seq; deletions make it an over-estimate)."""
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    # --- provenance ------------------------------------------------------------------
    def start_import(self, source: str, fmt: str | None) -> int:
        cur = self.conn.execute(
            "INSERT INTO imports(source, format, started_at) VALUES (?, ?, ?)",
            (source, fmt, now_iso()),
        )
        return int(cur.lastrowid or 0)

    def finish_import(self, import_id: int, **counts: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in counts)
        self.conn.execute(
            f"UPDATE imports SET {sets}, finished_at = ? WHERE id = ?",
            (*counts.values(), now_iso(), import_id),
        )

    # --- reading ---------------------------------------------------------------------
    def resolve_message_id(self, ident: str) -> str | None:
        """The stored message id for any of its identities (with or without <>)."""
        from maillog_cli.normalize import message_id

        mid = message_id(ident)
        if not mid:
            return None
        for sql in (
            "SELECT message_id FROM messages WHERE message_id = ?",
            "SELECT message_id FROM message_aliases WHERE alias = ?",
            "SELECT message_id FROM events WHERE message_id = ? LIMIT 1",
        ):
            row = self.conn.execute(sql, (mid,)).fetchone()
            if row:
                return row[0]
        return None

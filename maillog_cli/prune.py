"""Retention: delete old events (and what they leave behind), archive first, never surprise.

The rules, in one place:
- The cut-off comes from `--older-than DURATION`, `--before DATE` or the config file's
  `retention`; an event goes when its timestamp is *strictly before* the cut-off (an event
  exactly at the cut-off stays), the same `timestamp < until` rule as the `--until` filter
  — indeed the cut-off is applied as `--until` through `query.where`.
- The set that goes is fixed once, in one read snapshot, as a temp table of seqs (`plan`):
  the archive, the counts shown and the deletion all work from that set, so an event
  imported meanwhile (even an old one) is neither deleted unarchived nor counted.
- Messages left with no events go too, with their stored content and aliases, and the
  mail-server correlation state of their queue ids (mta_queue rows naming only them: a
  message still in the store keeps its state, so later log lines still join it). Audit
  entries only when asked for, by their own cut-off.
- Deletion runs in batches, one `BEGIN IMMEDIATE … COMMIT` each: events, their FTS rows,
  the messages they emptied and the refresh of the messages they touched, and the running
  totals in `prunes` — so a kill leaves a consistent store and an honest record, and WAL
  readers are never blocked (writers wait at most one batch).

Core code: nothing here prints; progress goes to a callback.
"""

from __future__ import annotations

import gzip
import io
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import orjson

from maillog_cli.dates import DURATION_FORMS, format_dt, parse_duration, parse_when
from maillog_cli.errors import MaillogError
from maillog_cli.export import abandon_part
from maillog_cli.store.db import BUSY_TIMEOUT_MS, Store, now_iso, storage_error
from maillog_cli.store.query import Filters, where, with_changes

BATCH = 10_000  # the first batch; later ones are sized to take about BATCH_SECONDS
BATCH_SECONDS = 0.3
MAX_BATCH = 100_000
PRUNE_CACHE_KIB = 128 * 1024
# Checkpoint every 80 MiB of WAL rather than every 4 MiB: the batches rewrite the same index
# pages again and again, and each checkpoint copies (and fsyncs) every page it finds.
PRUNE_CHECKPOINT_PAGES = 20_000
# incremental_vacuum works in steps of this many pages (16 MiB at 4 KiB pages), each its own
# transaction, so that a writer waiting behind it waits for one step, not for the whole file.
VACUUM_STEP_PAGES = 4096

Progress = Callable[[int, int], None]


class BadCutoff(ValueError):
    """An option value that gives no usable cut-off (the command turns it into a usage error)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option
        self.message = message


@dataclass(frozen=True)
class Cutoff:
    """Events strictly older than `at` go; `source` says where the cut-off came from."""

    at: datetime
    source: str

    @property
    def iso(self) -> str:
        return format_dt(self.at)


def _from_duration(text: str, now: datetime) -> datetime:
    """now − duration; ValueError (with the accepted forms) for anything else, zero included."""
    delta = parse_duration(text)
    try:
        at = now - delta
    except (OverflowError, ValueError):
        raise ValueError(f"duration {text!r} is too large") from None
    if at >= now:
        raise ValueError(
            f"a zero duration ({text!r}) would delete everything; use {DURATION_FORMS}"
        )
    return at


def resolve_cutoff(
    older_than: str | None,
    before: str | None,
    retention: Any = None,
    config_name: str = "the config file",
    now: datetime | None = None,
) -> Cutoff | None:
    """The cut-off from the options, else from the config's `retention`; None when neither.

    Bad option values raise BadCutoff (a usage error); a bad `retention` raises
    MaillogError naming the config file (the command line was fine).
    """
    now = now or datetime.now(UTC)
    if older_than is not None and before is not None:
        raise BadCutoff("--before", "give --older-than or --before, not both")
    if older_than is not None:
        try:
            at = _from_duration(older_than, now)
        except ValueError as exc:
            raise BadCutoff("--older-than", _with_forms(str(exc))) from None
        return Cutoff(at, f"--older-than {older_than}")
    if before is not None:
        try:
            at = parse_when(before, now)
        except MaillogError as exc:
            raise BadCutoff("--before", f"{exc.message}; {exc.hint}") from None
        if at > now:
            raise BadCutoff(
                "--before", f"{format_dt(at)} is in the future: that would delete new events too"
            )
        return Cutoff(at, f"--before {before}")
    if retention is None:
        return None
    if not isinstance(retention, str):
        raise MaillogError(
            f'{config_name}: retention must be a string such as "180d"', f"use {DURATION_FORMS}"
        )
    try:
        at = _from_duration(retention, now)
    except ValueError as exc:
        raise MaillogError(f"{config_name}: retention: {_with_forms(str(exc))}") from None
    return Cutoff(at, f'retention = "{retention}" ({config_name})')


def resolve_audit_cutoff(
    older_than: str | None, events: Cutoff, now: datetime | None = None
) -> Cutoff:
    """`--audit-older-than`, else the events' own cut-off."""
    if older_than is None:
        return events
    try:
        at = _from_duration(older_than, now or datetime.now(UTC))
    except ValueError as exc:
        raise BadCutoff("--audit-older-than", _with_forms(str(exc))) from None
    return Cutoff(at, f"--audit-older-than {older_than}")


def _with_forms(message: str) -> str:
    return message if DURATION_FORMS in message else f"{message}; use {DURATION_FORMS}"


# --- plan --------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a prune will delete, fixed in one snapshot (the counts are exact)."""

    cutoff: Cutoff
    filters: Filters
    audit_cutoff: Cutoff | None
    events: int = 0
    messages: int = 0
    audit: int = 0
    mta_state: int = 0  # queue-id lifecycles (store/mta_state.py) of the messages that go
    bytes: int | None = None  # estimated; None when not estimated
    oldest: str | None = None
    newest: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.events or self.audit or self.mta_state)

    def record_filters(self) -> str | None:
        """The `prunes.filters` column: the filter words and the audit cut-off, as JSON."""
        out: dict[str, str] = {}
        if not self.filters.is_empty():
            out["filters"] = self.filters.describe()
        if self.audit_cutoff is not None:
            out["audit_before"] = self.audit_cutoff.iso
        return orjson.dumps(out).decode() if out else None

    def as_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.iso,
            "cutoff_source": self.cutoff.source,
            "filters": self.filters.describe() or None,
            "audit_cutoff": self.audit_cutoff.iso if self.audit_cutoff else None,
            "events": self.events,
            "messages": self.messages,
            "audit": self.audit,
            "mta_state": self.mta_state,
            "estimated_bytes": self.bytes,
            "oldest": self.oldest,
            "newest": self.newest,
        }


@dataclass
class Outcome:
    """What a prune did (the same numbers as its `prunes` row)."""

    prune_id: int | None = None
    events: int = 0
    messages: int = 0
    audit: int = 0
    mta_state: int = 0
    archive: str | None = None
    archived: int = 0
    batches: int = 0
    longest_batch: float = 0.0  # seconds: the longest a waiting writer could have waited
    size_before: int = 0
    size_after: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "prune_id": self.prune_id,
            "events": self.events,
            "messages": self.messages,
            "audit": self.audit,
            "mta_state": self.mta_state,
            "archive": self.archive,
            "archived": self.archived,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "batches": self.batches,
            "longest_batch_seconds": round(self.longest_batch, 3),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def file_size(path: Path) -> int:
    """The store on disk: the database file plus its WAL."""
    total = 0
    for p in (path, Path(f"{path}-wal")):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


class Pruner:
    """One prune over one open store: plan → (archive) → delete → reclaim."""

    def __init__(
        self,
        store: Store,
        cutoff: Cutoff,
        filters: Filters | None = None,
        audit_cutoff: Cutoff | None = None,
        batch: int | None = None,
    ) -> None:
        self.store = store
        self.conn = store.conn
        self.filters = filters or Filters()
        self.plan_ = Plan(cutoff=cutoff, filters=self.filters, audit_cutoff=audit_cutoff)
        # An explicit batch size is kept as is (tests); by default it adapts to BATCH_SECONDS.
        self.adaptive = batch is None
        self.batch = max(1, batch or BATCH)
        self.outcome = Outcome()

    # --- plan --------------------------------------------------------------------------
    def effective_filters(self) -> Filters:
        """The user's filters with the cut-off as `until` (the earlier of the two wins)."""
        until = self.plan_.cutoff.at
        if self.filters.until is not None and self.filters.until < until:
            until = self.filters.until
        return with_changes(self.filters, until=until)

    def plan(self, estimate: bool = True) -> Plan:
        """Fix the set that goes (temp tables) and count it, all in one read snapshot."""
        c = self.conn
        p = self.plan_
        clause, params = where(self.effective_filters(), "e")
        for name in ("doomed", "doomed_audit", "doomed_messages", "doomed_aliases", "doomed_queue"):
            c.execute(f"DROP TABLE IF EXISTS temp.{name}")
        c.execute("CREATE TEMP TABLE doomed(seq INTEGER PRIMARY KEY)")
        c.execute("CREATE TEMP TABLE doomed_audit(rid INTEGER PRIMARY KEY)")
        c.execute("BEGIN")
        try:
            c.execute(
                f"INSERT INTO temp.doomed(seq) SELECT e.seq FROM events e WHERE {clause} ORDER BY e.seq",
                params,
            )
            p.events = c.execute("SELECT count(*) FROM temp.doomed").fetchone()[0]
            if p.events:
                p.oldest, p.newest = c.execute(
                    "SELECT min(e.timestamp), max(e.timestamp) FROM temp.doomed d CROSS JOIN events e ON e.seq = d.seq"
                ).fetchone()
            # The messages every one of whose events is in the set: they go too.
            c.execute(
                """
                CREATE TEMP TABLE doomed_messages AS
                SELECT t.message_id FROM (
                    SELECT e.message_id, count(*) AS n FROM temp.doomed d CROSS JOIN events e ON e.seq = d.seq
                    WHERE e.message_id IS NOT NULL GROUP BY e.message_id
                ) AS t
                WHERE t.n = (SELECT count(*) FROM events x WHERE x.message_id = t.message_id)
                  AND EXISTS (SELECT 1 FROM messages m WHERE m.message_id = t.message_id)
                """
            )
            p.messages = c.execute("SELECT count(*) FROM temp.doomed_messages").fetchone()[0]
            # message_aliases has no index on message_id: map the few rows that may go once,
            # here, rather than scanning the table in every batch.
            c.execute(
                "CREATE TEMP TABLE doomed_aliases AS SELECT a.rowid AS rid, a.message_id"
                " FROM message_aliases a WHERE a.message_id IN (SELECT message_id FROM temp.doomed_messages)"
            )
            c.execute("CREATE INDEX temp.doomed_aliases_id ON doomed_aliases(message_id)")
            p.mta_state = self._count_mta_state() + self._plan_eventless_queue()
            if p.audit_cutoff is not None:
                c.execute(
                    "INSERT INTO temp.doomed_audit(rid) SELECT rowid FROM audit WHERE created_at < ? ORDER BY rowid",
                    (p.audit_cutoff.iso,),
                )
                p.audit = c.execute("SELECT count(*) FROM temp.doomed_audit").fetchone()[0]
            if estimate:
                p.bytes = self._estimate_bytes()
        finally:
            c.execute("COMMIT")
        return p

    def _count_mta_state(self) -> int:
        """The mta_queue rows of the messages that go (0 on a store from before m005)."""
        if not _has_table(self.conn, "mta_queue"):
            return 0
        return int(
            self.conn.execute(
                "SELECT count(*) FROM mta_queue WHERE message_id IN"
                " (SELECT message_id FROM temp.doomed_messages)"
            ).fetchone()[0]
        )

    def _plan_eventless_queue(self) -> int:
        """The mta_queue rows (ids, in temp.doomed_queue) of queue ids that ended before the
        cut-off without an event (a client that left before sending, a message removed
        unsent): no message ever names them, so no message's prune would clear them. Only
        by the cut-off alone: a filter (--provider …) names events, and these have none."""
        c = self.conn
        c.execute("CREATE TEMP TABLE doomed_queue(id INTEGER PRIMARY KEY)")
        if not _has_table(c, "mta_queue") or not self.filters.is_empty():
            return 0
        return c.execute(
            "INSERT INTO temp.doomed_queue(id) SELECT q.id FROM mta_queue q"
            " WHERE coalesce(q.removed_at, q.last_at) < ?"
            " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = q.message_id)",
            (self.plan_.cutoff.iso,),
        ).rowcount

    def _delete_eventless_queue(self) -> None:
        """Delete the planned event-less mta_queue rows (still without an event: an import
        since the plan may have given them one)."""
        c = self.conn
        if not c.execute("SELECT 1 FROM temp.doomed_queue LIMIT 1").fetchone():
            return
        with self.store.write():
            self.outcome.mta_state += c.execute(
                "DELETE FROM mta_queue WHERE id IN (SELECT id FROM temp.doomed_queue)"
                " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = mta_queue.message_id)"
            ).rowcount

    def _estimate_bytes(self) -> int:
        """Bytes the deleted rows occupy: each table's (and its indexes') pages in proportion
        to the rows that go, plus the exact size of the stored emails that go."""
        c = self.conn
        p = self.plan_
        try:
            pages = dict(
                c.execute("SELECT name, pgsize FROM dbstat WHERE aggregate = 1").fetchall()
            )
        except sqlite3.Error:  # SQLite built without dbstat: the whole file, by events share
            pages = {"events": self.store.path.stat().st_size}
        owner = dict(c.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        by_table: dict[str, int] = {}
        for name, size in pages.items():
            table = "events" if name.startswith("events_fts") else str(owner.get(name) or name)
            by_table[table] = by_table.get(table, 0) + int(size)

        def share(table: str, gone: int) -> float:
            total = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            return by_table.get(table, 0) * gone / total if total else 0.0

        content = c.execute(
            "SELECT coalesce(sum(length(raw)), 0) FROM message_content"
            " WHERE message_id IN (SELECT message_id FROM temp.doomed_messages)"
        ).fetchone()[0]
        return int(
            share("events", p.events)
            + share("messages", p.messages)
            + share("audit", p.audit)
            + content
        )

    # --- archive -------------------------------------------------------------------------
    def archive_rows(self) -> Iterator[dict[str, Any]]:
        """What goes, in the full form of `maillog export` (maillog_cli/export.py): the
        events, the messages that go whole with their aliases, stored emails and queue ids,
        the event-less queue ids, the audit entries — so that `maillog import ARCHIVE` brings back all that the prune took."""
        from maillog_cli.export import has_queue, records

        queue = None
        if has_queue(self.conn):  # the queue rows that go: the messages' and the event-less
            self.conn.execute("DROP TABLE IF EXISTS temp.doomed_queue_all")
            self.conn.execute(
                "CREATE TEMP TABLE doomed_queue_all AS SELECT id FROM temp.doomed_queue UNION"
                " SELECT id FROM mta_queue WHERE message_id IN (SELECT message_id FROM temp.doomed_messages)"
            )
            queue = "temp.doomed_queue_all"
        return records(
            self.conn,
            events="temp.doomed",
            messages="temp.doomed_messages",
            audit="temp.doomed_audit",
            queue=queue,
        )

    def archive(self, path: Path) -> int:
        """Write everything that goes to `path` (gzip when it ends in .gz), durably.

        Written to `path.part`, flushed and fsynced, renamed, and the directory fsynced:
        only then may anything be deleted. A file already there is never overwritten.
        """
        from maillog_cli.render.output import json_line

        started = time.monotonic()
        from maillog_cli.paths import write_target

        path = write_target(path)
        if path.exists():
            raise MaillogError(
                f"the archive {path} already exists; nothing was deleted",
                "give a new file name (maillog never overwrites an archive)",
            )
        part = path.with_name(path.name + ".part")
        n = 0
        try:
            raw = open(part, "xb")  # noqa: SIM115 - closed below, after fsync
        except FileExistsError:
            raise MaillogError(
                f"{part} exists (another prune writing, or a killed one); nothing was deleted",
                "remove it if no prune is running",
            ) from None
        except OSError as exc:
            raise MaillogError(f"cannot write the archive {path}: {exc.strerror}") from None
        out: io.TextIOWrapper | None = None
        try:
            binary: IO[bytes] = (
                cast(  # a GzipFile is a binary file; typeshed does not say it is an IO[bytes]
                    IO[bytes],
                    gzip.GzipFile(
                        filename=path.name.removesuffix(".gz"),
                        fileobj=raw,
                        mode="wb",
                        compresslevel=6,
                        mtime=0,
                    ),
                )
                if path.name.endswith(".gz")
                else raw
            )
            out = io.TextIOWrapper(binary, encoding="utf-8", newline="\n", write_through=False)
            self.conn.execute("BEGIN")  # one snapshot for the whole archive
            try:
                for row in self.archive_rows():
                    out.write(json_line(row))
                    out.write("\n")
                    n += row.get("maillog") in ("event", "audit")  # the rows that go
            finally:
                self.conn.execute("COMMIT")
            out.flush()
            out.detach()
            if binary is not raw:
                binary.close()  # the gzip trailer
            raw.flush()
            os.fsync(raw.fileno())
            raw.close()
            os.replace(part, path)
            _fsync_dir(path.parent)
        except BaseException as exc:
            abandon_part(part, out, raw)
            if isinstance(exc, OSError):
                raise MaillogError(
                    f"cannot write the archive {path}: {exc.strerror or exc}; nothing was deleted",
                    "free some space (or choose another place with --archive) and run it again",
                ) from None
            raise
        self.outcome.archive = str(path)
        self.outcome.archived = n
        self.outcome.seconds["archive"] = time.monotonic() - started
        return n

    # --- delete --------------------------------------------------------------------------
    def delete(self, progress: Progress | None = None) -> Outcome:
        """Delete the planned set in batches, one transaction each; record it in `prunes`.

        A write that fails (full disk, read-only store) ends in one MaillogError that says
        what was deleted; an archive written for a prune that deleted nothing is removed,
        so that the same command can simply be run again.
        """
        try:
            return self._delete(progress)
        except MaillogError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: MaillogError) -> MaillogError:
        o = self.outcome
        if o.archive is None:
            return exc
        if o.events == 0 and o.audit == 0:
            Path(o.archive).unlink(missing_ok=True)
            return MaillogError(
                f"{exc.message}; nothing was deleted, so the archive {o.archive} was removed",
                exc.hint,
            )
        return MaillogError(
            f"{exc.message}; {o.events} events and {o.audit} audit entries were deleted"
            f" and are in the archive {o.archive}",
            f"{exc.hint or 'fix the cause'}, with a new --archive name",
        )

    def _delete(self, progress: Progress | None) -> Outcome:
        c = self.conn
        o = self.outcome
        p = self.plan_
        started = time.monotonic()
        o.size_before = file_size(self.store.path)
        with self.store.write():
            cur = c.execute(
                "INSERT INTO prunes(at, cutoff, filters, events, messages, audit, archive)"
                " VALUES (?, ?, ?, 0, 0, 0, ?)",
                (now_iso(), p.cutoff.iso, p.record_filters(), o.archive),
            )
            o.prune_id = int(cur.lastrowid or 0)
        c.execute("CREATE TEMP TABLE IF NOT EXISTS batch(seq INTEGER PRIMARY KEY)")
        c.execute("CREATE TEMP TABLE IF NOT EXISTS touched(message_id TEXT PRIMARY KEY)")
        c.execute("CREATE TEMP TABLE IF NOT EXISTS gone(message_id TEXT PRIMARY KEY)")
        total = p.events + p.audit
        size = self.batch
        last = 0
        # The random-order indexes (event_id, message_id, recipient) make every batch touch
        # pages all over the file: a bigger cache and bigger batches save most of that work.
        cache = c.execute("PRAGMA cache_size").fetchone()[0]
        c.execute(f"PRAGMA cache_size = -{PRUNE_CACHE_KIB}")
        c.execute(f"PRAGMA wal_autocheckpoint = {PRUNE_CHECKPOINT_PAGES}")
        try:
            while True:
                hi = self._next_bound("doomed", "seq", last, size)
                if hi is None:
                    break
                t0 = time.monotonic()
                with self.store.write():
                    events, messages = self._delete_events(last, hi)
                    c.execute(
                        "UPDATE prunes SET events = events + ?, messages = messages + ? WHERE id = ?",
                        (events, messages, o.prune_id),
                    )
                elapsed = time.monotonic() - t0
                o.batches += 1
                o.longest_batch = max(o.longest_batch, elapsed)
                o.events += events
                o.messages += messages
                last = hi
                if self.adaptive:
                    size = _next_size(size, elapsed)
                if progress:
                    progress(o.events, total)
        finally:
            c.execute(f"PRAGMA cache_size = {cache}")
        self._delete_eventless_queue()
        last = 0
        while True:
            hi = self._next_bound("doomed_audit", "rid", last, self.batch)
            if hi is None:
                break
            with self.store.write():
                n = c.execute(
                    "DELETE FROM audit WHERE rowid IN (SELECT rid FROM temp.doomed_audit WHERE rid > ? AND rid <= ?)",
                    (last, hi),
                ).rowcount
                c.execute("UPDATE prunes SET audit = audit + ? WHERE id = ?", (n, o.prune_id))
            o.audit += n
            last = hi
            if progress:
                progress(o.events + o.audit, total)
        o.seconds["delete"] = time.monotonic() - started
        return o

    def _next_bound(self, table: str, key: str, after: int, size: int) -> int | None:
        """The last key of the next batch (keys > after), or None when none are left."""
        row = self.conn.execute(
            f"SELECT max({key}) FROM (SELECT {key} FROM temp.{table} WHERE {key} > ? ORDER BY {key} LIMIT ?)",
            (after, size),
        ).fetchone()
        return row[0] if row and row[0] is not None else None

    def _delete_events(self, lo: int, hi: int) -> tuple[int, int]:
        """One batch (seq in (lo, hi]): events and FTS rows, emptied messages, touched refresh."""
        c = self.conn
        c.execute("DELETE FROM temp.batch")
        c.execute("DELETE FROM temp.touched")
        c.execute("DELETE FROM temp.gone")
        c.execute(
            "INSERT INTO temp.batch(seq) SELECT seq FROM temp.doomed WHERE seq > ? AND seq <= ?",
            (lo, hi),
        )
        c.execute(
            "INSERT OR IGNORE INTO temp.touched(message_id) SELECT e.message_id FROM temp.batch b CROSS JOIN"
            " events e ON e.seq = b.seq WHERE e.message_id IS NOT NULL"
        )
        # The FTS delete trigger removes each event's index entries with it (measured: doing
        # it by hand with the trigger dropped per batch was no faster; docs/performance.md#prune).
        events = c.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM temp.batch)").rowcount
        c.execute(
            "INSERT INTO temp.gone(message_id) SELECT t.message_id FROM temp.touched t"
            " WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = t.message_id)"
        )
        c.execute(
            "DELETE FROM message_content WHERE message_id IN (SELECT message_id FROM temp.gone)"
        )
        c.execute(
            "DELETE FROM message_aliases WHERE rowid IN (SELECT rid FROM temp.doomed_aliases"
            " WHERE message_id IN (SELECT message_id FROM temp.gone))"
        )
        messages = c.execute(
            "DELETE FROM messages WHERE message_id IN (SELECT message_id FROM temp.gone)"
        ).rowcount
        if _has_table(c, "mta_queue"):
            self.outcome.mta_state += c.execute(
                "DELETE FROM mta_queue WHERE message_id IN (SELECT message_id FROM temp.gone)"
            ).rowcount
        c.execute("DELETE FROM temp.touched WHERE message_id IN (SELECT message_id FROM temp.gone)")
        if c.execute("SELECT 1 FROM temp.touched LIMIT 1").fetchone():
            self.store.refresh_messages("temp.touched")
        return events, messages

    # --- reclaim -------------------------------------------------------------------------
    def reclaim(self, full: bool = False) -> Outcome:
        """Give the freed pages back to the file system: incremental vacuum in steps, or a
        full VACUUM (rewrites the file: writers wait for it, WAL readers do not).

        A failure here (a full disk) comes after the prune itself is done: the error says so.
        """
        try:
            return self._reclaim(full)
        except MaillogError as exc:
            o = self.outcome
            raise MaillogError(
                f"{exc.message}; the prune itself is done ({o.events} events, {o.messages}"
                " messages deleted), only giving the freed space back to the disk failed",
                "free some space; the next prune gives it back",
            ) from None

    def _reclaim(self, full: bool) -> Outcome:
        c = self.conn
        started = time.monotonic()
        cache = c.execute("PRAGMA cache_size").fetchone()[0]
        c.execute(f"PRAGMA cache_size = -{PRUNE_CACHE_KIB}")
        c.execute(f"PRAGMA wal_autocheckpoint = {PRUNE_CHECKPOINT_PAGES}")
        if full:
            try:
                self.store.wait_for_lock(lambda: c.execute("VACUUM"))
            except sqlite3.DatabaseError as exc:
                raise storage_error(exc, self.store.path) from None
        elif c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            while c.execute("PRAGMA freelist_count").fetchone()[0] > 0:
                with self.store.write():
                    c.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})").fetchall()
        # Fold the WAL back into the file and truncate it, if no reader pins it right now;
        # otherwise the next checkpoint does it.
        c.execute("PRAGMA busy_timeout = 1000")
        try:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError:
            pass
        finally:
            c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            c.execute(f"PRAGMA cache_size = {cache}")
            c.execute("PRAGMA wal_autocheckpoint = 1000")
        self.outcome.size_after = file_size(self.store.path)
        self.outcome.seconds["reclaim"] = time.monotonic() - started
        return self.outcome


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        is not None
    )


def _next_size(size: int, elapsed: float) -> int:
    """The next batch size: aim at BATCH_SECONDS per transaction, at most doubling per step."""
    wanted = size * BATCH_SECONDS / max(elapsed, 1e-3)
    return int(min(MAX_BATCH, max(1000, min(wanted, size * 2))))


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- db info -----------------------------------------------------------------------------------

INFO_KEYS: tuple[str, ...] = (
    "path",
    "size",
    "wal_size",
    "free_bytes",
    "schema_version",
    "events",
    "messages",
    "audit",
    "imports",
    "oldest_event",
    "newest_event",
    "last_import",
    "last_import_source",
    "last_prune",
    "last_prune_cutoff",
    "last_prune_events",
)


def db_info(store: Store) -> dict[str, Any]:
    """The facts `maillog db info` shows, as one dict in INFO_KEYS order."""
    c = store.conn
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def one(sql: str, table: str) -> Any:
        return c.execute(sql).fetchone() if table in tables else None

    def count(table: str) -> int:
        row = one(f"SELECT count(*) FROM {table}", table)
        return int(row[0]) if row else 0

    path = store.path
    page_size = c.execute("PRAGMA page_size").fetchone()[0]
    c.execute("BEGIN")
    try:
        oldest = one("SELECT min(timestamp), max(timestamp) FROM events", "events") or (None, None)
        last_import = one(
            "SELECT coalesce(finished_at, started_at), source FROM imports ORDER BY id DESC LIMIT 1",
            "imports",
        ) or (None, None)
        last_prune = one(
            "SELECT at, cutoff, events FROM prunes ORDER BY id DESC LIMIT 1", "prunes"
        ) or (None, None, None)
        info = {
            "path": str(path),
            "size": path.stat().st_size if path.exists() else 0,
            "wal_size": file_size(path) - (path.stat().st_size if path.exists() else 0),
            "free_bytes": int(c.execute("PRAGMA freelist_count").fetchone()[0]) * int(page_size),
            "schema_version": store.version,
            "events": count("events"),
            "messages": count("messages"),
            "audit": count("audit"),
            "imports": count("imports"),
            "oldest_event": oldest[0],
            "newest_event": oldest[1],
            "last_import": last_import[0],
            "last_import_source": last_import[1],
            "last_prune": last_prune[0],
            "last_prune_cutoff": last_prune[1],
            "last_prune_events": last_prune[2],
        }
    finally:
        c.execute("COMMIT")
    return {k: info[k] for k in INFO_KEYS}

"""The partial state of mail-server queue ids, kept in the store (table mta_queue, m005).

A *lifecycle* is one message's run through a mail server's queue under one queue id:
from its first line (smtpd client=, pickup, cleanup message-id=, Exim `<=`) to `removed`
(Exim: `Completed`). Postfix reuses short queue ids, so one (host, queue id) may have
several lifecycles, told apart by time. Rows are cached per import and written back on
`flush`, inside the import's transaction, so the next file, import or followed chunk
continues where this one stopped.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from maillog_cli.model import Event
from maillog_cli.normalize import reply_fields
from maillog_cli.store import identity
from maillog_cli.store.migrations import MESSAGE_RELAY_SQL

if TYPE_CHECKING:
    from maillog_cli.store.db import Store

START_KINDS = frozenset({"client", "pickup", "msgid", "arrival"})
END_KINDS = frozenset({"removed"})


@dataclass(slots=True)
class Lifecycle:
    """One message under one queue id (a row of mta_queue)."""

    id: int | None
    host: str
    qid: str
    message_id: str
    first_at: str
    last_at: str
    started: int = 0
    removed_at: str | None = None
    sender: str | None = None
    header_id: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    client: str | None = None
    authenticated: int = 0  # a SASL login (a submission, so mail going out)
    notice: str | None = None
    relay: str | None = None  # the host of the latest delivery attempt (stats --by relay)
    stored: bool = False  # its events may already be in the store (not only in this batch)
    dirty: bool = False
    saved: bool = False  # its mta_queue row exists (an UPDATE, not an INSERT, writes it)
    fresh: bool = False  # begun by this import (so all its events are this import's)

    def note(self, when: str) -> None:
        """Widen the lifecycle's span to a line at `when`."""
        if when < self.first_at:
            self.first_at = when
        if when > self.last_at:
            self.last_at = when

    def contains(self, when: str) -> bool:
        return self.first_at <= when and (self.removed_at is None or when <= self.removed_at)


_COLUMNS = tuple(
    f.name for f in fields(Lifecycle) if f.name not in ("id", "stored", "dirty", "saved", "fresh")
)
_SELECT = f"SELECT id, {', '.join(_COLUMNS)} FROM mta_queue"
_values = attrgetter(*_COLUMNS)  # a lifecycle's row values, in _COLUMNS order

# A change for the store, as a compact tuple (it may cross a pipe from the forked parser):
# ("save", new rows, changed rows), ("rename", old, new), ("backfill", message id, sender,
# size), ("notice", message id, notice), ("move", …), ("merge", old, new, qid, direction),
# ("expire", template event). `apply` executes them, in order, on the write transaction.
Op = tuple[Any, ...]


class Rows(Protocol):
    """Where a correlation reads the stored lifecycles of queue ids it has not seen yet."""

    def next_id(self) -> int: ...

    def load(self, qids: list[str]) -> Iterable[tuple[Any, ...]]: ...

    def forgotten(self, qids: Iterable[str]) -> None: ...


class StoreRows:
    """The store itself (in-process import, a followed log): read on demand."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def next_id(self) -> int:
        return int(
            self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM mta_queue").fetchone()[0]
        )

    def load(self, qids: list[str]) -> Iterable[tuple[Any, ...]]:
        return load_rows(self.conn, qids)

    def forgotten(self, qids: Iterable[str]) -> None:
        """Nothing to note: the store is read for any queue id not in memory."""


def load_rows(conn: sqlite3.Connection, qids: list[str]) -> list[tuple[Any, ...]]:
    """The stored lifecycles of these queue ids, in one query."""
    if len(qids) == 1:
        return conn.execute(f"{_SELECT} WHERE qid = ?", (qids[0],)).fetchall()
    return conn.execute(
        f"{_SELECT} WHERE qid IN (SELECT value FROM json_each(?))", (json.dumps(qids),)
    ).fetchall()


class Snapshot:
    """What a forked parser needs of the store's queue state, read before the fork (the
    child inherits it and never touches the store's connection): the next free row id and
    which queue ids have stored lifecycles. Those few are asked of the parent (`ask`),
    whose answer comes after it has applied everything the child sent before."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.first_id = StoreRows(conn).next_id()
        self.stored = {q for (q,) in conn.execute("SELECT DISTINCT qid FROM mta_queue")}
        self.ask: Callable[[list[str]], list[tuple[Any, ...]]] | None = None

    def next_id(self) -> int:
        return self.first_id

    def load(self, qids: list[str]) -> Iterable[tuple[Any, ...]]:
        wanted = [q for q in qids if q in self.stored]
        if not wanted:
            return ()
        assert self.ask is not None
        return self.ask(wanted)

    def forgotten(self, qids: Iterable[str]) -> None:
        """Queue ids the correlation let go of (saved): the parent has them from now on."""
        self.stored.update(qids)


class QueueState:
    """Lifecycles by queue id: read from the store once per import (`Rows`), changed in
    memory, written back by `flush` as one "save" op per batch (each changed lifecycle
    once, however many lines it had)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.cache: dict[str, list[Lifecycle]] = {}  # qid → its lifecycles on every host
        self.by_message: dict[str, list[Lifecycle]] = {}  # message id → its lifecycles
        self.keys: set[str] = set()  # message ids given out in this batch
        self.changed: list[Lifecycle] = []  # dirty, in the order they changed
        self.next_id = rows.next_id()
        self.ended: deque[tuple[str, str]] = deque()  # (removed at, qid), in reading order

    def _all(self, qid: str) -> list[Lifecycle]:
        found = self.cache.get(qid)
        if found is None:
            self.prefetch((qid,))
            found = self.cache[qid]
        return found

    def prefetch(self, qids: Iterable[str]) -> None:
        """Load the stored lifecycles of queue ids not seen yet, in one query."""
        cache = self.cache
        wanted = [q for q in qids if q not in cache]
        if not wanted:
            return
        for qid in wanted:
            cache[qid] = []
        for row in self.rows.load(wanted):
            life = Lifecycle(*row)
            life.stored = life.saved = True
            cache[life.qid].append(life)
            self.by_message.setdefault(life.message_id, []).append(life)

    def _add(self, life: Lifecycle) -> Lifecycle:
        """A new lifecycle (a row to insert at the next flush)."""
        life.id, self.next_id = self.next_id, self.next_id + 1
        life.fresh = True
        self.cache.setdefault(life.qid, []).append(life)
        self.by_message.setdefault(life.message_id, []).append(life)
        return life

    def mark(self, life: Lifecycle) -> None:
        """`life` changed: write it at the next flush."""
        if not life.dirty:
            life.dirty = True
            self.changed.append(life)

    def evict(self, ended_before: str, idle_before: str, everything: bool) -> list[Lifecycle]:
        """Forget (after a flush) the queue ids whose every lifecycle ended before
        `ended_before` or had no line since `idle_before`: memory stays flat on a big file;
        a later line of one reads its rows again. Returns the lifecycles let go. Looks at
        the queue ids that ended since (or, with `everything`, at all of them: the idle)."""
        ended = self.ended
        candidates: list[str] = []
        while ended and ended[0][0] < ended_before:
            candidates.append(ended.popleft()[1])
        if everything:
            candidates = list(self.cache)
        gone: list[str] = []
        cache = self.cache
        for qid in dict.fromkeys(candidates):  # once each (a reused id ends more than once)
            lives = cache.get(qid)
            if lives is None:
                continue
            for life in lives:  # every lifecycle of it done with (a loop: no generator)
                removed = life.removed_at
                if life.dirty or not (
                    (removed is not None and removed < ended_before) or life.last_at < idle_before
                ):
                    break
            else:
                gone.append(qid)
        out: list[Lifecycle] = []
        for qid in gone:
            for life in self.cache.pop(qid):
                same = self.by_message.get(life.message_id)
                if same is not None:
                    same.remove(life)
                    if not same:
                        del self.by_message[life.message_id]
                out.append(life)
        self.rows.forgotten(gone)
        return out

    def lifecycles(self, host: str, qid: str) -> list[Lifecycle]:
        """Every known lifecycle of a queue id on a host, oldest first."""
        return sorted((x for x in self._all(qid) if x.host == host), key=lambda x: x.first_at)

    def find(self, host: str, qid: str, when: str, kind: str) -> Lifecycle:
        """The lifecycle a line of `kind` at `when` belongs to, made when there is none.

        Time decides, so the order files are read in does not:
        - the latest lifecycle started at or before `when`, while its span holds it (a
          new start after its `removed` is not inside: a reused queue id);
        - just before a lifecycle whose start was not seen yet (a later file read first),
          or a `client=` line before one that began at cleanup's `message-id=` (smtpd's
          line went to the older file): a *reach-back* row of that lifecycle's message (same message id, its own span),
          unless the line is a `removed`, which ends an earlier message. If a `removed`
          later falls inside a reach-back row, that row was an earlier message after all:
          `split_off` gives it its own id (the correlation calls it);
        - otherwise a new lifecycle (a reused queue id, or the first line seen).
        """
        every = self.cache.get(qid)
        if every is None:
            every = self._all(qid)
        if len(every) == 1:  # the usual case: one lifecycle of this queue id
            life = every[0]
            removed = life.removed_at
            if (  # inside its span (`contains`): so not a start after its end either
                life.host == host
                and life.first_at <= when
                and (removed is None or when <= removed)
                and not (kind == "client" and _restarted(life, when, kind))
            ):
                return self._touch(life, when, kind)
        known = [x for x in every if x.host == host]
        if len(known) > 1:
            known.sort(key=lambda x: x.first_at)
        for life in reversed(known):
            if life.first_at <= when:
                if life.contains(when) and not (
                    kind in START_KINDS and _restarted(life, when, kind)
                ):
                    return self._touch(life, when, kind)
                break  # the latest lifecycle before `when` had ended before it
        later = [life for life in known if life.first_at > when]
        if later and kind not in END_KINDS and _may_reach_back(later[0], kind):
            target = later[0]
            if not self.reaches_back(target):
                target = Lifecycle(None, host, qid, target.message_id, when, when, stored=True)
                self._add(target)
            return self._touch(target, when, kind)
        taken = bool(known) or qid in self.keys or any(x.message_id == qid for x in every)
        life = self._add(Lifecycle(None, host, qid, self._new_key(qid, when, taken), when, when))
        return self._touch(life, when, kind)

    def reaches_back(self, life: Lifecycle) -> Lifecycle | None:
        """The later lifecycle whose message a reach-back row's lines were given to."""
        for other in self._all(life.qid):
            if (
                other is not life
                and other.host == life.host
                and other.message_id == life.message_id
                and other.first_at > life.last_at
            ):
                return other
        return None

    def split_off(self, life: Lifecycle) -> tuple[str, str]:
        """A reach-back row that reached its `removed`: an earlier message under a reused
        queue id. It gets its own id; returns (the later message's id, the new one)."""
        old = life.message_id
        self._move(life, self._new_key(life.qid, life.first_at, True))
        return old, life.message_id

    def _move(self, life: Lifecycle, message_id: str) -> None:
        """Give a lifecycle another message id (kept in the by-message index)."""
        same = self.by_message.get(life.message_id)
        if same is not None and life in same:
            same.remove(life)
        life.message_id = message_id
        self.by_message.setdefault(message_id, []).append(life)
        self.mark(life)

    def _touch(self, life: Lifecycle, when: str, kind: str) -> Lifecycle:
        if when < life.first_at:  # `note` and `mark`, inline: once per line
            life.first_at = when
        if when > life.last_at:
            life.last_at = when
        if not life.dirty:
            life.dirty = True
            self.changed.append(life)
        if kind in START_KINDS:
            life.started = 1
        if kind in END_KINDS:
            life.removed_at = when
            self.ended.append((when, life.qid))
        return life

    def _new_key(self, qid: str, when: str, taken: bool) -> str:
        """The message id of a new lifecycle: the queue id itself, unless it is taken (a
        reused queue id, or the same id on another host); then the id and its first time."""
        key = qid
        if taken:
            key = f"{qid}~{when[:19].replace('-', '').replace(':', '')}"
        self.keys.add(key)
        return key

    def rename(self, old: str, new: str) -> Op:
        """Every lifecycle of message `old` (cached or stored) now belongs to `new`; returns
        the op that renames the stored rows not in memory."""
        for life in list(self.by_message.get(old, ())):
            self._move(life, new)
        return ("rename", old, new)

    def flush(self, evented: set[str]) -> Op | None:
        """The "save" op of the lifecycles changed since the last flush (their events are
        written by now, so later batches backfill them in the store). A lifecycle begun and
        ended in this import without an event (`evented`: the message ids that had one) is
        not kept: nothing will join it (a client that left, a message removed unsent)."""
        new: list[tuple[object, ...]] = []
        changed: list[tuple[object, ...]] = []
        gone: list[tuple[object, ...]] = []
        for life in self.changed:
            if self._spent(life, evented):
                if life.saved:
                    gone.append((life.id,))
                life.saved = False
                life.dirty = False
                continue
            values = (life.id, *_values(life))
            (changed if life.saved else new).append(values)
            life.saved = life.stored = True
            life.dirty = False
        self.changed = []
        self.keys.clear()
        return ("save", new, changed, gone) if new or changed or gone else None

    def _spent(self, life: Lifecycle, evented: set[str]) -> bool:
        """Begun and ended here, alone in its message, and no event: a row nothing needs."""
        return (
            life.fresh
            and life.started == 1
            and life.removed_at is not None
            and life.message_id not in evented
            and len(self.by_message.get(life.message_id, ())) == 1
        )


def _may_reach_back(later: Lifecycle, kind: str) -> bool:
    """A line just before lifecycle `later` may be its message's: when `later`'s start was
    not seen, or for smtpd's `client=` when `later` has no client (it began at cleanup).
    (A reused queue id's earlier message is split off again at its `removed`.)"""
    return not later.started or (kind == "client" and later.client is None)


def _restarted(life: Lifecycle, when: str, kind: str) -> bool:
    """A start line after the lifecycle already ended: a new message under a reused id.
    Also smtpd's `client=` after the lifecycle's own: smtpd logs it once, when it makes
    the queue file, and a queue id names one file at a time, so the earlier message's file
    is gone though no line said so (its client lost the connection after DATA, or smtpd
    refused its last recipient and the client quit: no qmgr, no `removed`)."""
    if life.removed_at is not None and when > life.removed_at:
        return True
    return kind == "client" and life.client is not None and when > life.first_at


def backfill(
    conn: sqlite3.Connection, message_id: str, sender: str | None, size: int | None
) -> None:
    """Give a message's stored events the sender and size a later-read line told (a
    rotated file imported out of order), and mark it for the messages refresh."""
    conn.execute(
        "UPDATE events SET sender = coalesce(sender, ?), size = coalesce(size, ?)"
        " WHERE message_id = ? AND (sender IS NULL OR size IS NULL)",
        (sender, size, message_id),
    )
    conn.execute("INSERT OR IGNORE INTO touched VALUES (?)", (message_id,))


def backfill_ids(
    conn: sqlite3.Connection, message_id: str, sender: str | None, size: int | None, ids: list[str]
) -> None:
    """`backfill` of the events with these ids (a message only this import wrote: found
    by the events' unique id, which a bulk load keeps indexed)."""
    conn.execute(
        "UPDATE events SET sender = coalesce(sender, ?), size = coalesce(size, ?)"
        " WHERE event_id IN (SELECT value FROM json_each(?)) AND (sender IS NULL OR size IS NULL)",
        (sender, size, json.dumps(ids)),
    )
    conn.execute("INSERT OR IGNORE INTO touched VALUES (?)", (message_id,))


def note_notice(conn: sqlite3.Connection, message_id: str, notice: str) -> None:
    """Record on a message's bounce events the queue id of the non-delivery notice sent."""
    conn.execute(
        "UPDATE events SET extra = json_set(coalesce(extra, '{}'), '$.notice', ?)"
        " WHERE message_id = ? AND status = 'bounced' AND json_valid(coalesce(extra, '{}'))",
        (notice, message_id),
    )


def move_op(life: Lifecycle, old: str, later: Lifecycle) -> Op:
    """The op that gives a split-off lifecycle's events (its span's) and its Message-ID
    alias their own message, and takes back the sender/size its lines lent the later
    message's events."""
    return (
        "move",
        life.message_id,
        old,
        life.first_at,
        life.removed_at or life.last_at,
        life.header_id if life.header_id and life.header_id != later.header_id else None,
        (life.sender or None) if later.sender is None and life.sender is not None else None,
        life.size if later.size is None else None,
    )


def move_events(
    conn: sqlite3.Connection,
    new: str,
    old: str,
    start: str,
    end: str,
    header_id: str | None,
    sender: str | None,
    size: int | None,
) -> None:
    """See `move_op`."""
    conn.execute(
        "UPDATE events SET message_id = ? WHERE message_id = ? AND timestamp >= ?"
        " AND timestamp <= ?",
        (new, old, start, end),
    )
    if header_id:
        conn.execute(
            "UPDATE message_aliases SET message_id = ? WHERE alias = ? AND message_id = ?",
            (new, header_id, old),
        )
    if sender is not None:
        conn.execute(
            "UPDATE events SET sender = NULL WHERE message_id = ? AND sender = ?", (old, sender)
        )
    if size is not None:
        conn.execute("UPDATE events SET size = NULL WHERE message_id = ? AND size = ?", (old, size))
    conn.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((old,), (new,)))


def merge_message(conn: sqlite3.Connection, old: str, new: str, qid: str, direction: str) -> None:
    """Message `old` (a content filter's re-queued copy, under queue id `qid`) is message
    `new`: its events carry the queue id they came under, and its arrival (`queued`) takes
    the original's direction — the filter re-injects from localhost, which would otherwise
    make inbound mail look sent; then it joins `new` as any two ids of one email do
    (identity.merge: events, aliases, message facts), and the queue id is an alias."""
    conn.execute(
        "UPDATE events SET"
        " direction = CASE WHEN status = 'queued' AND recipient IS NULL THEN ?"
        " ELSE direction END,"
        " extra = CASE WHEN json_valid(coalesce(extra, '{}'))"
        " THEN json_set(coalesce(extra, '{}'), '$.queue_id', ?) ELSE extra END"
        " WHERE message_id = ?",
        (direction, qid, old),
    )
    identity.merge(conn, {old: new})
    conn.execute(
        "INSERT OR REPLACE INTO message_aliases(alias, message_id) VALUES (?, ?)", (qid, new)
    )


def arrival_client(conn: sqlite3.Connection, message_id: str, direction: str, client: str) -> None:
    """A message's arrival (`queued`) learns its client from a line read later (smtpd's
    `client=` in the older file): the client and the direction it implies."""
    conn.execute(
        "UPDATE events SET direction = ?,"
        " extra = CASE WHEN json_valid(coalesce(extra, '{}'))"
        " THEN json_set(coalesce(extra, '{}'), '$.client', ?) ELSE extra END"
        " WHERE message_id = ? AND status = 'queued' AND recipient IS NULL",
        (direction, client, message_id),
    )
    conn.execute("INSERT OR IGNORE INTO touched VALUES (?)", (message_id,))


def still_deferred(conn: sqlite3.Connection, message_id: str) -> list[tuple[str, str | None, str]]:
    """(recipient, last deferral reply) of a message's recipients not delivered or bounced
    yet: the ones an `expired` line gives up on. (Its own bounces do not count, so that
    reading the same expiry again gives the same events.)"""
    return conn.execute(
        """
        SELECT recipient, diagnostic, max(timestamp) FROM events
        WHERE message_id = ? AND status = 'deferred' AND recipient IS NOT NULL
          AND recipient NOT IN (
              SELECT recipient FROM events WHERE message_id = ? AND recipient IS NOT NULL
                AND status IN ('delivered', 'bounced') AND raw_status IS NOT 'expired')
        GROUP BY recipient ORDER BY recipient
        """,
        (message_id, message_id),
    ).fetchall()


def expired_events(conn: sqlite3.Connection, template: Event) -> list[Event]:
    """`status=expired, returned to sender`: each recipient still deferred bounces, with
    its last deferral reply (one event without recipient when none is known). Made where
    the store is: the deferrals may be in an earlier file's events."""
    return expired_from(template, still_deferred(conn, template.message_id or ""))


def expired_from(template: Event, waiting: Iterable[tuple[Any, ...]]) -> list[Event]:
    """The expiry's bounces, one per (recipient, last deferral reply) still waiting."""
    out: list[Event] = []
    rows: list[tuple[Any, ...]] = list(waiting) or [(None, None, None)]
    for recipient, last_reply, _ in rows:
        event = replace(template, extra=dict(template.extra))
        event.recipient = recipient
        event.event_id = f"{template.event_id}:{recipient or ''}"
        code, enhanced, diag = reply_fields("bounced", last_reply)
        event.smtp_code, event.enhanced_code = code, enhanced
        event.diagnostic = (
            f"expired in the queue; last reply: {diag}" if diag else "expired in the queue"
        )
        event.bounce_class, event.bounce_reason = "soft", None
        out.append(event)
    return out


def apply(conn: sqlite3.Connection, ops: list[Op], write: Callable[[list[Event]], None]) -> None:
    """Execute a correlation's ops, in order, on the open write transaction (`write` puts
    the events an expiry makes into the store)."""
    for op in ops:
        kind = op[0]
        if kind == "save":
            _save(conn, op[1], op[2], op[3])
        elif kind == "rename":
            conn.execute("UPDATE mta_queue SET message_id = ? WHERE message_id = ?", (op[2], op[1]))
        elif kind == "backfill":
            backfill(conn, op[1], op[2], op[3])
        elif kind == "backfill_ids":
            backfill_ids(conn, op[1], op[2], op[3], op[4])
        elif kind == "notice":
            note_notice(conn, op[1], op[2])
        elif kind == "notice_ids":
            conn.execute(
                "UPDATE events SET extra = json_set(coalesce(extra, '{}'), '$.notice', ?)"
                " WHERE event_id IN (SELECT value FROM json_each(?))"
                " AND json_valid(coalesce(extra, '{}'))",
                (op[2], json.dumps(op[1])),
            )
        elif kind == "move":
            move_events(conn, *op[1:])
        elif kind == "merge":
            merge_message(conn, *op[1:])
        elif kind == "expire":
            write(expired_events(conn, op[1]))
        elif kind == "arrival":
            arrival_client(conn, op[1], op[2], op[3])
        else:
            raise ValueError(f"unknown mta_queue op {kind!r}")


def _save(
    conn: sqlite3.Connection,
    new: list[tuple[Any, ...]],
    changed: list[tuple[Any, ...]],
    gone: list[tuple[Any, ...]],
) -> None:
    """Insert the new lifecycles (with the ids the correlation gave them), update the
    changed ones, delete the spent ones."""
    if gone:
        conn.executemany("DELETE FROM mta_queue WHERE id = ?", gone)
    if new:
        conn.executemany(
            f"INSERT INTO mta_queue(id, {', '.join(_COLUMNS)})"
            f" VALUES (?, {', '.join('?' for _ in _COLUMNS)})",
            new,
        )
    if changed:
        sets = ", ".join(f"{c} = ?" for c in _COLUMNS)
        conn.executemany(
            f"UPDATE mta_queue SET {sets} WHERE id = ?", [(*row[1:], row[0]) for row in changed]
        )


# How many of the parent's idle looks (two per batch: after its events, after its queue
# ops) a message waits after its first write before its row is computed ahead: most
# messages end within a batch, so few rows are computed twice.
AHEAD_LAG = 2
TEMP_CACHE = -8192  # KiB
_AHEAD_TRIGGERS = ("events_up", "events_del")


class MessagesAhead:
    """A forked mail-log import's messages rows, computed while the child still parses,
    so that the import's end inserts them instead of aggregating every message then (the
    two processes took turns: ≈ 3 s of refresh after the child's last batch, per 1M lines).

    A message's row is computed a few batches after its first write (most messages have
    ended by then), from the events written since the look before that write: a range of
    seq, read without the events' message index (a bulk load drops it).

    Why the store stays the same as with the refresh alone:
    - a row is computed only for a message with no messages row, into
      temp.messages_ahead, never messages (the identity joins read which messages exist);
    - temp triggers mark it stale when its events are updated or deleted after (a later
      fact backfilled, events moved to another message);
    - `settle` (after the bulk load's indexes are back) also counts it stale when the
      message has another number of events than the row counted: events written after
      (an insert only adds), moved to it, or written before the range; takes the relay
      (the one fact from the queue rows) as the queue rows say then; inserts the rows
      not stale whose message still has no row — what the refresh would insert — and
      refreshes the rest, as the import's end did.
    """

    def __init__(self, store: Store) -> None:
        self.store, self.conn = store, store.conn
        # (temp.touched's last rowid, the events' last seq) at each look
        self.marks: list[tuple[int, int]] = []
        self.done = self._mark()  # the mark up to which rows were computed
        self.kept = 0  # rows computed ahead that went in as they were (settle)
        # the temp tables' page cache (2 MiB by default) holds the ids the triggers look up
        self.temp_cache = self.conn.execute("PRAGMA temp.cache_size").fetchone()[0]
        self.conn.execute(f"PRAGMA temp.cache_size = {TEMP_CACHE}")
        self._create()

    def _mark(self) -> tuple[int, int]:
        return self.conn.execute(
            "SELECT (SELECT coalesce(max(rowid), 0) FROM temp.touched),"
            " (SELECT coalesce(max(seq), 0) FROM main.events)"
        ).fetchone()

    def _create(self) -> None:
        conn = self.conn
        (table_sql,) = conn.execute(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'messages'"
        ).fetchone()
        for name in ("messages_ahead", "messages_step"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            conn.execute(table_sql.replace("CREATE TABLE messages", f"CREATE TEMP TABLE {name}", 1))
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS ahead_stale (message_id TEXT PRIMARY KEY)")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS ahead_todo (message_id TEXT PRIMARY KEY)")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS ahead_from (seq INTEGER)")
        conn.execute("DELETE FROM temp.ahead_stale")
        conn.execute("DROP VIEW IF EXISTS temp.ahead_events")
        conn.execute(
            "CREATE TEMP VIEW ahead_events AS SELECT * FROM main.events"
            " WHERE seq > (SELECT seq FROM temp.ahead_from)"
        )
        # EXISTS, not IN (SELECT …): a trigger would list the whole table at every row
        known = "EXISTS (SELECT 1 FROM messages_ahead a WHERE a.message_id = {}.message_id)"
        stale = "INSERT OR IGNORE INTO ahead_stale VALUES"  # (no schema name in a trigger)
        for name, when, values in zip(
            _AHEAD_TRIGGERS,
            ("AFTER UPDATE ON main.events", "AFTER DELETE ON main.events"),
            (("OLD", "NEW"), ("OLD",)),
            strict=True,
        ):
            test = " OR ".join(known.format(v) for v in values)
            rows = ", ".join(f"({v}.message_id)" for v in values)
            conn.execute(f"DROP TRIGGER IF EXISTS temp.ahead_{name}")
            conn.execute(
                f"CREATE TEMP TRIGGER ahead_{name} {when} WHEN {test} BEGIN {stale} {rows}; END"
            )

    def step(self) -> None:
        """Compute the rows of the messages first written AHEAD_LAG looks ago."""
        self.marks.append(self._mark())
        if len(self.marks) <= AHEAD_LAG:
            return
        upto = self.marks[-1 - AHEAD_LAG]
        (first, after), (last, _) = self.done, upto
        if last <= first:
            return
        conn = self.conn
        conn.execute("DELETE FROM temp.ahead_todo")
        conn.execute(
            "INSERT INTO temp.ahead_todo SELECT t.message_id FROM temp.touched t"
            " WHERE t.rowid > ? AND t.rowid <= ? AND t.message_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM main.messages m WHERE m.message_id = t.message_id)",
            (first, last),
        )
        # first written after look `done`: their events (in this range) came after it
        conn.execute("DELETE FROM temp.ahead_from")
        conn.execute("INSERT INTO temp.ahead_from VALUES (?)", (after,))
        self.done = upto
        # into a table of this look's rows alone, then added to the others: the refresh
        # counts the rows of its table twice (a scan of every row computed so far, at
        # every look, was most of this import's system time)
        conn.execute("DELETE FROM temp.messages_step")
        self.store.refresh_messages("ahead_todo", into="temp.messages_step", events="ahead_events")
        conn.execute("INSERT INTO temp.messages_ahead SELECT * FROM temp.messages_step")

    def settle(self) -> int:
        """Insert the rows still good, then refresh the other touched messages (the
        messages indexes built once after both when they are many); returns how many
        messages rows are new. Needs the events' message index."""
        conn, store = self.conn, self.store
        self.close()
        ready = self._still_good()
        conn.execute(
            "DELETE FROM temp.touched WHERE message_id IN (SELECT message_id FROM temp.ahead_todo)"
        )
        # The other touched messages: those without a row yet computed now beside them
        # (all new rows go in in one statement, in message id order, as the refresh
        # writes them: the same rowids, so a scan gives them in the same order); the
        # stored ones refreshed in place.
        conn.execute("DELETE FROM temp.messages_step")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS ahead_new (message_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.ahead_new")
        conn.execute(
            "INSERT INTO temp.ahead_new SELECT t.message_id FROM temp.touched t"
            " WHERE NOT EXISTS (SELECT 1 FROM main.messages m WHERE m.message_id = t.message_id)"
        )
        new = store.refresh_messages("ahead_new", into="temp.messages_step")
        conn.execute(
            "DELETE FROM temp.touched WHERE message_id IN (SELECT message_id FROM temp.ahead_new)"
        )
        rest = conn.execute("SELECT count(*) FROM temp.touched").fetchone()[0]
        columns = ", ".join(r[1] for r in conn.execute("PRAGMA main.table_info(messages)"))
        # as Ingest.finish decides for its refresh
        many = ready + new + rest > 2 * store.row_count_estimate("messages")
        with store.indexes_deferred("messages", many):
            conn.execute(
                f"INSERT INTO main.messages({columns}) SELECT {columns} FROM ("
                f" SELECT {columns} FROM temp.messages_ahead"
                " WHERE message_id IN (SELECT message_id FROM temp.ahead_todo)"
                f" UNION ALL SELECT {columns} FROM temp.messages_step) ORDER BY message_id"
            )
            new += store.refresh_messages("touched") if rest else 0
        conn.execute("DELETE FROM temp.touched")  # done: Ingest.finish's refresh has none
        for name in ("messages_ahead", "messages_step"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        return int(ready) + new

    def _still_good(self) -> int:
        """The ids of the rows computed ahead that go in as they are (temp.ahead_todo)."""
        conn = self.conn
        conn.execute(
            "INSERT OR IGNORE INTO temp.ahead_stale SELECT a.message_id FROM temp.messages_ahead a"
            " WHERE a.event_count != (SELECT count(*) FROM main.events e"
            " WHERE e.message_id = a.message_id)"
        )
        # the relay, the one fact from the queue rows, as they are now (a trigger on every
        # queue row written cost more than this one look per message: 1.7 s vs 0.1 s per 1M)
        relay = MESSAGE_RELAY_SQL.format("messages_ahead.message_id")
        conn.execute(f"UPDATE temp.messages_ahead SET relay = {relay} WHERE relay IS NOT {relay}")
        conn.execute("DELETE FROM temp.ahead_todo")
        conn.execute(
            "INSERT INTO temp.ahead_todo SELECT a.message_id FROM temp.messages_ahead a"
            " WHERE a.message_id NOT IN (SELECT message_id FROM temp.ahead_stale)"
            " AND NOT EXISTS (SELECT 1 FROM main.messages m WHERE m.message_id = a.message_id)"
        )
        self.kept = conn.execute("SELECT count(*) FROM temp.ahead_todo").fetchone()[0]
        return self.kept

    def close(self) -> None:
        """Drop the triggers and the view (the transaction goes on without them)."""
        for name in _AHEAD_TRIGGERS:
            self.conn.execute(f"DROP TRIGGER IF EXISTS temp.ahead_{name}")
        self.conn.execute("DROP VIEW IF EXISTS temp.ahead_events")
        self.conn.execute(f"PRAGMA temp.cache_size = {int(self.temp_cache)}")

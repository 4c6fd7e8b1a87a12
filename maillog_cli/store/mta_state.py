"""The partial state of mail-server queue ids, kept in the store (table mta_queue, m005).

A *lifecycle* is one message's run through a mail server's queue under one queue id:
from its first line (smtpd client=, pickup, cleanup message-id=, Exim `<=`) to `removed`
(Exim: `Completed`). Postfix reuses short queue ids, so one (host, queue id) may have
several lifecycles, told apart by time. Rows are cached per import and written back on
`flush`, inside the import's transaction, so the next file, import or followed chunk
continues where this one stopped.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields

from maillog_cli.store import identity

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

    def note(self, when: str) -> None:
        """Widen the lifecycle's span to a line at `when`."""
        if when < self.first_at:
            self.first_at = when
        if when > self.last_at:
            self.last_at = when
        self.dirty = True

    def contains(self, when: str) -> bool:
        return self.first_at <= when and (self.removed_at is None or when <= self.removed_at)


_COLUMNS = tuple(f.name for f in fields(Lifecycle) if f.name not in ("id", "stored", "dirty"))


class QueueState:
    """Lifecycles by queue id: looked up in the store, changed in memory, written back by
    `flush` (which also forgets the cache, so memory stays flat on big files)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cache: dict[str, list[Lifecycle]] = {}  # qid → its lifecycles on every host
        self.keys: set[str] = set()  # message ids given out in this batch

    def _all(self, qid: str) -> list[Lifecycle]:
        found = self.cache.get(qid)
        if found is None:
            rows = self.conn.execute(
                f"SELECT id, {', '.join(_COLUMNS)} FROM mta_queue WHERE qid = ?", (qid,)
            ).fetchall()
            found = [
                Lifecycle(**dict(zip(("id", *_COLUMNS), row, strict=True)), stored=True)
                for row in rows
            ]
            self.cache[qid] = found
        return found

    def prefetch(self, qids: set[str]) -> None:
        """Load the lifecycles of a batch's queue ids in one query (not one per id)."""
        wanted = [q for q in qids if q not in self.cache]
        if not wanted:
            return
        for qid in wanted:
            self.cache[qid] = []
        import json

        rows = self.conn.execute(
            f"SELECT id, {', '.join(_COLUMNS)} FROM mta_queue"
            " WHERE qid IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
        names = ("id", *_COLUMNS)
        for row in rows:
            life = Lifecycle(**dict(zip(names, row, strict=True)), stored=True)
            self.cache[life.qid].append(life)

    def lifecycles(self, host: str, qid: str) -> list[Lifecycle]:
        """Every known lifecycle of a queue id on a host, oldest first."""
        return sorted((x for x in self._all(qid) if x.host == host), key=lambda x: x.first_at)

    def find(self, host: str, qid: str, when: str, kind: str) -> Lifecycle:
        """The lifecycle a line of `kind` at `when` belongs to, made when there is none.

        Time decides, so the order files are read in does not:
        - the latest lifecycle started at or before `when`, while its span holds it (a
          new start after its `removed` is not inside: a reused queue id);
        - just before a lifecycle whose start was not seen yet (a later file read first):
          a *reach-back* row of that lifecycle's message (same message id, its own span),
          unless the line is a `removed`, which ends an earlier message. If a `removed`
          later falls inside a reach-back row, that row was an earlier message after all:
          `split_off` gives it its own id (the correlation calls it);
        - otherwise a new lifecycle (a reused queue id, or the first line seen).
        """
        every = self._all(qid)
        if len(every) == 1:  # the usual case: one lifecycle of this queue id
            life = every[0]
            if (
                life.host == host
                and life.first_at <= when
                and life.contains(when)
                and not (kind in START_KINDS and _restarted(life, when))
            ):
                return self._touch(life, when, kind)
        known = [x for x in every if x.host == host]
        if len(known) > 1:
            known.sort(key=lambda x: x.first_at)
        for life in reversed(known):
            if life.first_at <= when:
                if life.contains(when) and not (kind in START_KINDS and _restarted(life, when)):
                    return self._touch(life, when, kind)
                break  # the latest lifecycle before `when` had ended before it
        later = [life for life in known if life.first_at > when]
        if later and not later[0].started and kind not in END_KINDS:
            target = later[0]
            if not self.reaches_back(target):
                target = Lifecycle(None, host, qid, target.message_id, when, when, stored=True)
                every.append(target)
            return self._touch(target, when, kind)
        taken = bool(known) or qid in self.keys or any(x.message_id == qid for x in every)
        life = Lifecycle(None, host, qid, self._new_key(qid, when, taken), when, when)
        every.append(life)
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
        life.message_id = self._new_key(life.qid, life.first_at, True)
        life.dirty = True
        return old, life.message_id

    def _touch(self, life: Lifecycle, when: str, kind: str) -> Lifecycle:
        life.note(when)
        if kind in START_KINDS:
            life.started = 1
        if kind in END_KINDS:
            life.removed_at = when
        return life

    def _new_key(self, qid: str, when: str, taken: bool) -> str:
        """The message id of a new lifecycle: the queue id itself, unless it is taken (a
        reused queue id, or the same id on another host); then the id and its first time."""
        key = qid
        if taken:
            key = f"{qid}~{when[:19].replace('-', '').replace(':', '')}"
        self.keys.add(key)
        return key

    def rename(self, old: str, new: str) -> None:
        """Every lifecycle of message `old` (cached or stored) now belongs to `new`."""
        for every in self.cache.values():
            for life in every:
                if life.message_id == old:
                    life.message_id, life.dirty = new, True
        self.conn.execute("UPDATE mta_queue SET message_id = ? WHERE message_id = ?", (new, old))

    def flush(self) -> None:
        """Write changed lifecycles back to the store and forget the cache."""
        new: list[tuple[object, ...]] = []
        changed: list[tuple[object, ...]] = []
        for every in self.cache.values():
            for life in every:
                if life.dirty:
                    values = tuple(getattr(life, c) for c in _COLUMNS)
                    if life.id is None:
                        new.append(values)
                    else:
                        changed.append((*values, life.id))
        if new:
            self.conn.executemany(
                f"INSERT INTO mta_queue({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join('?' for _ in _COLUMNS)})",
                new,
            )
        if changed:
            sets = ", ".join(f"{c} = ?" for c in _COLUMNS)
            self.conn.executemany(f"UPDATE mta_queue SET {sets} WHERE id = ?", changed)
        self.cache.clear()
        self.keys.clear()


def _restarted(life: Lifecycle, when: str) -> bool:
    """A start line after the lifecycle already ended: a new message under a reused id."""
    return life.removed_at is not None and when > life.removed_at


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


def note_notice(conn: sqlite3.Connection, message_id: str, notice: str) -> None:
    """Record on a message's bounce events the queue id of the non-delivery notice sent."""
    conn.execute(
        "UPDATE events SET extra = json_set(coalesce(extra, '{}'), '$.notice', ?)"
        " WHERE message_id = ? AND status = 'bounced' AND json_valid(coalesce(extra, '{}'))",
        (notice, message_id),
    )


def move_events(conn: sqlite3.Connection, life: Lifecycle, old: str, later: Lifecycle) -> None:
    """Give a split-off lifecycle's events (its span's) and its Message-ID alias their own
    message, and take back the sender/size its lines lent the later message's events."""
    conn.execute(
        "UPDATE events SET message_id = ? WHERE message_id = ? AND timestamp >= ?"
        " AND timestamp <= ?",
        (life.message_id, old, life.first_at, life.removed_at or life.last_at),
    )
    if life.header_id and life.header_id != later.header_id:
        conn.execute(
            "UPDATE message_aliases SET message_id = ? WHERE alias = ? AND message_id = ?",
            (life.message_id, life.header_id, old),
        )
    if later.sender is None and life.sender is not None:
        conn.execute(
            "UPDATE events SET sender = NULL WHERE message_id = ? AND sender = ?",
            (old, life.sender or None),
        )
    if later.size is None and life.size is not None:
        conn.execute(
            "UPDATE events SET size = NULL WHERE message_id = ? AND size = ?", (old, life.size)
        )
    conn.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((old,), (life.message_id,)))


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

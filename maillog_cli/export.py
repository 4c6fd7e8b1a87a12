"""The full form: every row a store keeps about emails, as JSON lines that import back as
they were (`maillog export`, `prune --archive`).

Why a form of its own: the 15 event keys (README, Output contract) are a contract,
deliberately small; a copy of the store needs the rest too (tags, sizes, send methods,
auth results, aliases, the stored emails, audit ids). Each line is one row, named by its `maillog` key:

    {"maillog": "export", "version": 1, "events": N, …}   the header, first
    {"maillog": "event", …}     EVENT_RECORD_KEYS (ordered by timestamp, event_id)
    {"maillog": "message", …}   the messages columns but last_seq (ordered by message_id)
    {"maillog": "alias", "alias", "message_id"}
    {"maillog": "content", "message_id", "raw": base64}
    {"maillog": "audit", "entry": {…}}   AUDIT_RECORD_KEYS, metadata an object (nested,
                                so that the audit-log importer does not take it for its own)
    {"maillog": "queue", …}     QUEUE_RECORD_KEYS: a mail server's queue id still being
                                followed (mta_queue), so that the rest of its log, imported
                                after a restore, joins the messages it began

Rows come out in an order fixed by their own values, never by insertion order, so a store
restored from an export exports to the same bytes. Core code: nothing here prints.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import IO, Any

import orjson

from maillog_cli.errors import MaillogError
from maillog_cli.model import AUDIT_KEYS
from maillog_cli.store.db import EVENT_COLUMNS
from maillog_cli.store.query import Filters, where
from maillog_cli.store.query import _iso as iso_time  # the one rule for filter times

KIND = "maillog"  # the key that names a record's kind
VERSION = 1
# An event as the store keeps it, less what the store derives (recipient_domain,
# diagnostic_pattern) or numbers locally (import_id): the contract keys first, then our
# own columns.
EVENT_RECORD_KEYS: tuple[str, ...] = tuple(
    c for c in EVENT_COLUMNS if c not in ("recipient_domain", "import_id", "diagnostic_pattern")
)
AUDIT_RECORD_KEYS: tuple[str, ...] = (*AUDIT_KEYS[:5], "raw_action", *AUDIT_KEYS[5:])
# messages columns that are the store's own bookkeeping, not facts: rebuilt on import.
INTERNAL_MESSAGE_COLUMNS = frozenset({"last_seq"})
JSON_COLUMNS = frozenset({"tags", "headers", "extra", "metadata"})
# mta_queue columns but its local row number (store/mta_state.py).
QUEUE_RECORD_KEYS: tuple[str, ...] = (
    "host", "qid", "message_id", "first_at", "last_at", "started", "removed_at", "sender",
    "header_id", "size", "nrcpt", "client", "authenticated", "notice", "relay",
)  # fmt: skip
# The record kinds and the table each restores.
TABLES = {
    "event": "events",
    "message": "messages",
    "alias": "message_aliases",
    "content": "message_content",
    "audit": "audit",
    "queue": "mta_queue",
}


def message_columns(conn: sqlite3.Connection) -> list[str]:
    """The messages columns a message record carries, in the table's order."""
    return [
        r[1]
        for r in conn.execute("PRAGMA main.table_info(messages)")
        if r[1] not in INTERNAL_MESSAGE_COLUMNS
    ]


# --- what to export ----------------------------------------------------------------------------


def select(conn: sqlite3.Connection, filters: Filters | None = None) -> None:
    """Fill the temp tables `records` reads: the events matching `filters`, their messages
    (whole rows), and the audit entries — all of them without filters, those in the time
    window with only --since/--until, none with any other filter (they are not about email).

    Run inside the caller's read transaction, so the parts are one snapshot.
    """
    f = filters or Filters()
    for name in ("export_events", "export_messages", "export_audit", "export_queue"):
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
    conn.execute("CREATE TEMP TABLE export_events(seq INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE export_messages(message_id TEXT PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE export_audit(rid INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE export_queue(id INTEGER PRIMARY KEY)")
    clause, params = where(f, "e")
    conn.execute(
        f"INSERT INTO temp.export_events SELECT e.seq FROM events e WHERE {clause}", params
    )
    if f.is_empty():
        conn.execute("INSERT INTO temp.export_messages SELECT message_id FROM messages")
    else:
        conn.execute(
            "INSERT OR IGNORE INTO temp.export_messages SELECT e.message_id"
            " FROM temp.export_events x CROSS JOIN events e ON e.seq = x.seq"
            " WHERE e.message_id IN (SELECT message_id FROM messages)"
        )
    if has_queue(conn):  # all of it, or the queue ids of the messages exported
        conn.execute(
            "INSERT INTO temp.export_queue SELECT id FROM mta_queue"
            + (
                ""
                if f.is_empty()
                else " WHERE message_id IN (SELECT message_id FROM temp.export_messages)"
            )
        )
    time_only = not any(
        getattr(f, field.name) for field in fields(f) if field.name not in ("since", "until")
    )
    if time_only:
        audit_where, audit_params = ["1"], []
        if f.since:
            audit_where.append("created_at >= ?")
            audit_params.append(iso_time(f.since))
        if f.until:
            audit_where.append("created_at < ?")
            audit_params.append(iso_time(f.until))
        conn.execute(
            f"INSERT INTO temp.export_audit SELECT rowid FROM audit WHERE {' AND '.join(audit_where)}",
            audit_params,
        )


# --- the records -------------------------------------------------------------------------------


def records(
    conn: sqlite3.Connection,
    events: str = "temp.export_events",
    messages: str = "temp.export_messages",
    audit: str | None = "temp.export_audit",
    queue: str | None = "temp.export_queue",
) -> Iterator[dict[str, Any]]:
    """The header, then every selected row as a record.

    `events` names a table with a `seq` column, `messages` one with `message_id`, `audit`
    one with `rid` (audit rowids), `queue` one with `id` (mta_queue ids); prune passes its
    own plan tables.
    """
    counts = {
        "events": _count(conn, events),
        "messages": _count(conn, messages),
        "aliases": conn.execute(
            f"SELECT count(*) FROM message_aliases WHERE message_id IN (SELECT message_id FROM {messages})"
        ).fetchone()[0],
        "contents": conn.execute(
            f"SELECT count(*) FROM message_content WHERE message_id IN (SELECT message_id FROM {messages})"
        ).fetchone()[0],
        "audit": _count(conn, audit) if audit else 0,
        "queue": _count(conn, queue) if queue else 0,
    }
    yield {KIND: "export", "version": VERSION, **counts}
    yield from _event_records(conn, events)
    yield from _message_records(conn, messages)
    for alias, mid in conn.execute(
        f"SELECT alias, message_id FROM message_aliases WHERE message_id IN"
        f" (SELECT message_id FROM {messages}) ORDER BY alias"
    ):
        yield {KIND: "alias", "alias": alias, "message_id": mid}
    for mid, raw in conn.execute(
        f"SELECT message_id, raw FROM message_content WHERE message_id IN"
        f" (SELECT message_id FROM {messages}) ORDER BY message_id"
    ):
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogateescape")
        yield {KIND: "content", "message_id": mid, "raw": base64.b64encode(data).decode("ascii")}
    if audit:
        yield from _audit_records(conn, audit)
    if queue:
        yield from _queue_records(conn, queue)


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _json(text: Any) -> Any:
    """A JSON column as its value (text that is not JSON stays text: nothing is dropped)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _event_records(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    cols = ", ".join(f"e.{k}" for k in EVENT_RECORD_KEYS)
    cur = conn.execute(
        f"SELECT {cols} FROM {table} x CROSS JOIN events e ON e.seq = x.seq"
        " ORDER BY e.timestamp, e.event_id"
    )
    for row in cur:
        record = {KIND: "event", **dict(zip(EVENT_RECORD_KEYS, row, strict=True))}
        record["tags"] = _json(record["tags"])
        record["extra"] = _json(record["extra"])
        yield record


def _message_records(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    names = message_columns(conn)
    cols = ", ".join(f"m.{c}" for c in names)
    cur = conn.execute(
        f"SELECT {cols} FROM messages m WHERE m.message_id IN (SELECT message_id FROM {table})"
        " ORDER BY m.message_id"
    )
    for row in cur:
        record = {KIND: "message", **dict(zip(names, row, strict=True))}
        for c in JSON_COLUMNS & record.keys():
            record[c] = _json(record[c])
        yield record


def _audit_records(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    cols = ", ".join(f"a.{k}" for k in AUDIT_RECORD_KEYS)
    cur = conn.execute(
        f"SELECT {cols} FROM {table} x CROSS JOIN audit a ON a.rowid = x.rid"
        " ORDER BY a.created_at, a.id"
    )
    for row in cur:
        entry = dict(zip(AUDIT_RECORD_KEYS, row, strict=True))
        meta = _json(entry["metadata"])
        entry["metadata"] = meta if meta is not None else {}
        yield {KIND: "audit", "entry": entry}


def _queue_records(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    cols = ", ".join(f"q.{k}" for k in QUEUE_RECORD_KEYS)
    cur = conn.execute(
        f"SELECT {cols} FROM {table} x CROSS JOIN mta_queue q ON q.id = x.id"
        " ORDER BY q.host, q.qid, q.first_at, q.id"
    )
    for row in cur:
        yield {KIND: "queue", **dict(zip(QUEUE_RECORD_KEYS, row, strict=True))}


def has_queue(conn: sqlite3.Connection) -> bool:
    """Whether the store has mta_queue (a store from before m005, read as it is, has not)."""
    return bool(
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mta_queue'"
        ).fetchone()
    )


# --- writing -----------------------------------------------------------------------------------


def record_line(record: dict[str, Any]) -> str:
    """One record as its line (the escaping of all our JSON output); integers beyond 64
    bits, which orjson refuses, go through json (as the store's own JSON columns do)."""
    from maillog_cli.render.output import json_line

    try:
        return json_line(record) + "\n"
    except (TypeError, orjson.JSONEncodeError):
        import json

        # ASCII only: no control or bidi character reaches the file unescaped
        return json.dumps(record, default=str, separators=(",", ":")) + "\n"


def refuse_the_store(target: str, store: Path) -> None:
    """MaillogError when `target` is the store itself or one of its journal files:
    `export -o "$MAILLOG_DB" --force` replaced the store with its own export."""
    from maillog_cli.store.db import same_file, store_files

    if target != "-" and any(same_file(Path(target), f) for f in store_files(store)):
        raise MaillogError(
            f"{target} is the store being exported ({store}); nothing written",
            "give another file name: -o everything.jsonl.gz",
        )


@contextmanager
def open_output(target: str, force: bool = False) -> Iterator[IO[str]]:
    """A text stream for `-o`: stdout for `-`, else a file written beside its name and
    renamed into place when complete (gzip when the name ends in .gz, with no timestamp in
    the gzip header, so the same store gives the same bytes). An existing file is refused
    unless `force`; on any error the partial file is removed and the old one kept."""
    if target == "-":
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            yield out
        finally:
            out.flush()
            out.detach()
        return
    from maillog_cli.paths import write_target

    # A symlink stays one: the file it names is what gets replaced.
    path = write_target(target, into_special=True)
    if _special(path):
        with _straight_into(path) as into:
            yield into
        return
    if path.exists() and not force:
        raise MaillogError(f"{path} already exists", "give a new name, or --force to replace it")
    part = path.with_name(f".{path.name}.part")
    try:
        raw = open(part, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with _text_into(raw, path.name) as text:
            yield text
        raw.flush()
        os.fsync(raw.fileno())
        raw.close()
        os.replace(part, path)
    except OSError as exc:
        abandon_part(part, raw)
        raise _cannot_write(path, exc) from None
    except BaseException:
        abandon_part(part, raw)
        raise


@contextmanager
def _text_into(raw: IO[bytes], name: str) -> Iterator[io.TextIOWrapper]:
    """UTF-8 text into `raw`, gzipped when `name` ends in .gz; finished (not closed: the
    caller syncs and closes `raw`) when the block ends, closed when it fails."""
    binary: IO[bytes] | gzip.GzipFile = (
        # no name and no time in the gzip header: the same rows give the same bytes
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) if name.endswith(".gz") else raw
    )
    text = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
    try:
        yield text
        text.flush()
        text.detach()
        if binary is not raw:
            binary.close()
    except BaseException:
        abandon_part(None, text, binary)
        raise


def _cannot_write(path: Path, exc: OSError) -> MaillogError:
    """The one line for an output file that could not be opened, written or finished."""
    return MaillogError(f"cannot write {path}: {exc.strerror or exc}")


def _special(path: Path) -> bool:
    """Whether `path` is there and not a regular file: a device (/dev/null, /dev/stdout) or
    a named pipe, which the rename of a finished file would replace (the node itself, for
    every program on the machine), not write into."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


@contextmanager
def _straight_into(path: Path) -> Iterator[IO[str]]:
    """Write into a device or a pipe as into stdout (nothing to replace, so no --force)."""
    try:
        raw = open(path, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with _text_into(raw, path.name) as text:
            yield text
        raw.close()
    except OSError as exc:
        abandon_part(None, raw)
        raise _cannot_write(path, exc) from None


def abandon_part(part: Path | None, *streams: io.IOBase | IO[Any] | None) -> None:
    """Close a failed file's streams and remove its `.part`, so nothing half-written stays
    and the rerun can start.

    Closing flushes, and on a full disk the flush fails again: that second error is
    swallowed (the first one is reported) — the streams are closed all the same. (Closed
    plainly, a full disk's second error escaped before the `.part` was removed.)
    """
    for stream in streams:
        if stream is None:
            continue
        try:
            stream.close()
        except (OSError, ValueError):
            pass
    if part is not None:
        part.unlink(missing_ok=True)


def export(
    conn: sqlite3.Connection, target: str, filters: Filters | None = None, force: bool = False
) -> dict[str, Any]:
    """Write the full form of the rows `filters` select to `target`; returns the header
    (the counts written)."""
    header: dict[str, Any] = {}
    with open_output(target, force) as out:
        conn.execute("BEGIN")  # one snapshot for selection and rows
        try:
            select(conn, filters)
            for record in records(conn):
                if record[KIND] == "export":
                    header = record
                out.write(record_line(record))
        finally:
            conn.execute("COMMIT")
    return header

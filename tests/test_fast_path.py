"""The import fast path (ingest.fast) writes exactly what the plain path writes.

Each test builds one store with the fast path and one without (`fast.ENABLED = False`),
from the same file through the real CLI, and compares every row of every table, the
full-text index and the integrity checks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli.demo import iter_events
from maillog_cli.ingest import batches, fast
from maillog_cli.store.db import Store

# Records in and around the canonical shape: each must give the plain path's result,
# whether the fast path takes it or hands it on.
EDGE_RECORDS: list[Any] = [
    # canonical, but values the normalisers change
    {"event_id": "e1", "message_id": " <Mid-1@X> ", "timestamp": "2026-10-01T10:00:00.000Z",
     "status": "bounced", "sender": '"Shop" <Shop@Example.COM>', "recipient": " Ann@Example.org ",
     "subject": "   ", "diagnostic": "550 5.1.1 <ann@example.org>: no such user   "},
    {"event_id": "e2", "message_id": "mid-1@x", "timestamp": "2026-10-01T10:00:01.000Z",
     "status": "deferred", "smtp_code": 451, "enhanced_code": "4.7.1", "diagnostic": "try later"},
    {"event_id": "e3", "message_id": "mid-1@x", "timestamp": "2026-10-01T10:00:02.000Z",
     "status": "bounced", "smtp_code": "552", "enhanced_code": "bogus", "diagnostic": "5.2.2 full"},
    {"event_id": "e4", "message_id": "mid-1@x", "timestamp": "2026-10-01T10:00:03.000Z",
     "status": "bounced", "smtp_code": 0, "enhanced_code": "", "diagnostic": None},
    {"event_id": "e5", "message_id": "mid-1@x", "timestamp": "2026-10-01T10:00:04.000Z",
     "status": "opened", "bounce_class": "hard", "bounce_reason": "bad-mailbox",
     "direction": "inbound", "provider": "ses", "raw_status": "Open"},
    {"event_id": "e6", "message_id": "mid-2@x", "timestamp": "2026-10-01T10:00:05.000Z",
     "status": "bounced", "bounce_class": "soft", "bounce_reason": "mailbox-full",
     "recipient": "bob@example.org", "diagnostic": "password=hunter2secret rejected"},
    # no event id: the stable hash
    {"message_id": "mid-3@x", "timestamp": "2026-10-01T10:00:06.123Z", "status": "delivered",
     "provider": "postmark", "raw_status": "Delivery", "recipient": "c@example.org"},
    # not canonical: aliases, other time shapes, other types (the plain path decides)
    {"event_id": "e8", "timestamp": "2026-10-01T10:00:07.000Z", "status": "bounce"},
    {"event_id": "e9", "timestamp": "2026-10-01T12:00:07+02:00", "status": "sent"},
    {"event_id": "e10", "timestamp": 1790000000, "status": "sent"},
    {"event_id": "e11", "timestamp": "2026-10-01T10:00:07.000Z", "status": "sent", "smtp_code": True},
    {"event_id": "e12", "timestamp": "2026-10-01T10:00:07.000Z", "status": "sent", "sender": ["A@B.c"]},
    {"event_id": "e13", "timestamp": "2026-10-01T10:00:07.000Z", "status": "sent", "tags": ["x", "y"]},
    {"event_id": "e14", "timestamp": "2026-10-01T10:00:07.000Z", "status": "sent", "size": 12},
    {"event_id": 15, "timestamp": "2026-10-01T10:00:07.000Z", "status": "sent"},
    {"event_id": "e16", "timestamp": "2026-10-01T10:00:07.000Z", "status": " Delivered "},
    # bad records: the same errors either way
    {"event_id": "b1", "timestamp": "2026-02-30T10:00:00.000Z", "status": "sent"},
    {"event_id": "b2", "timestamp": "2026-10-01T24:00:00.000Z", "status": "sent"},
    {"event_id": "b3", "timestamp": "2026-10-01T10:00:60.000Z", "status": "sent"},
    {"event_id": "b4", "timestamp": "2301-10-01T10:00:00.000Z", "status": "sent"},
    {"event_id": "b5", "timestamp": "", "status": "sent"},
    {"event_id": "b6", "timestamp": "2026-10-01T10:00:00.000Z", "status": "teleported"},
    {"event_id": "b7", "timestamp": None, "status": "sent"},
    # a duplicate of a fast record
    {"event_id": "e2", "message_id": "mid-1@x", "timestamp": "2026-10-01T10:00:01.000Z",
     "status": "deferred", "smtp_code": 451, "enhanced_code": "4.7.1", "diagnostic": "try later"},
]  # fmt: skip


def _write(path: Path, records: list[Any]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def _generated(messages: int) -> list[Any]:
    return list(iter_events(messages, seed=3, now=datetime(2026, 11, 1, tzinfo=UTC)))


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (FTS shadow tables included), in rowid order; the imports
    rows without their clock times."""
    conn = sqlite3.connect(db)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
            )
        ]
        out = {}
        for name in names:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
            if name == "imports":
                cols = [c for c in cols if c not in ("started_at", "finished_at")]
            rows = conn.execute(f'SELECT {", ".join(cols)} FROM "{name}" ORDER BY 1, 2').fetchall()
            out[name] = rows
        return out
    finally:
        conn.close()


def check_integrity(db: Path) -> None:
    """SQLite's own checks of every b-tree and of the full-text index against events."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO events_fts(events_fts, rank) VALUES ('integrity-check', 1)")
        fts = conn.execute("SELECT count(*) FROM events_fts").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        assert fts == events
    finally:
        conn.close()


def _build(
    cli: Callable[..., Any], tmp_path: Path, name: str, files: list[Path], enabled: bool
) -> tuple[Path, list[str]]:
    fast.ENABLED = enabled
    db = tmp_path / f"{name}.db"
    outputs = []
    try:
        for f in files:
            r = cli("--db", db, "import", f)
            outputs.append(r.stdout + r.stderr.replace(str(db), "DB"))
    finally:
        fast.ENABLED = True
    return db, outputs


def _same_stores(cli: Callable[..., Any], tmp_path: Path, files: list[Path]) -> Path:
    fast_db, fast_out = _build(cli, tmp_path, "fast", files, True)
    plain_db, plain_out = _build(cli, tmp_path, "plain", files, False)
    assert fast_out == plain_out
    fast_rows, plain_rows = _tables(fast_db), _tables(plain_db)
    assert fast_rows.keys() == plain_rows.keys()
    for table, rows in plain_rows.items():
        assert fast_rows[table] == rows, f"table {table} differs"
    for words in (["mailbox"], ["newsletter"], ["--status", "bounced"], ["gmail.com"]):
        a = cli("--db", fast_db, "search", *words, "--format", "jsonl", "--limit", "0")
        b = cli("--db", plain_db, "search", *words, "--format", "jsonl", "--limit", "0")
        assert a.stdout == b.stdout and a.exit_code == b.exit_code
    check_integrity(fast_db)
    check_integrity(plain_db)
    return fast_db


def test_edge_records_give_the_plain_paths_store(cli: Callable[..., Any], tmp_path: Path) -> None:
    f = tmp_path / "edge.jsonl"
    _write(f, EDGE_RECORDS + _generated(40))
    db = _same_stores(cli, tmp_path, [f])
    conn = sqlite3.connect(db)
    stored = {r[0] for r in conn.execute("SELECT event_id FROM events")}
    conn.close()
    assert {"e1", "e2", "e3", "e4", "e5", "e6", "e16"} <= stored
    assert not {"b1", "b2", "b3", "b4", "b5", "b6", "b7"} & stored


def test_fast_path_takes_canonical_records_only() -> None:
    """The records the fast path claims, and the ones it leaves to the plain path."""
    taken = [fast.listing_event(r) is not None for r in EDGE_RECORDS if isinstance(r, dict)]
    assert taken[:7] == [True] * 7
    assert not any(taken[7:-1])
    assert all(fast.listing_event(r) is not None for r in _generated(20))
    assert fast.listing_event({"maillog": "event", "status": "sent", "timestamp": "x"}) is None


@pytest.mark.slow
def test_bulk_loads_give_the_plain_paths_store(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked parser and the bulk mode (indexes dropped and rebuilt, FTS deferred), an
    empty store then a loaded one, a file that repeats part of the first."""
    monkeypatch.setattr(batches, "BULK_BYTES", 1)  # every file is a bulk load in a child
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    rows = _generated(3000)
    _write(first, rows[:5000] + EDGE_RECORDS)
    _write(second, rows[4000:])
    _same_stores(cli, tmp_path, [first, second])


def _schema(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_bulk_load_leaves_every_index_and_trigger(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load drops indexes, FTS triggers and FTS merging for its duration: at the end
    the schema is the one the migrations make, the FTS merges again, and the store passes
    SQLite's checks; a later small import is indexed by the triggers as usual."""
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    rows = _generated(400)
    _write(small, rows[:10])
    _write(big, rows[10:])
    plain = tmp_path / "plain.db"
    Store.open(plain).close()  # the schema the migrations make
    bulk = tmp_path / "bulk.db"
    monkeypatch.setattr(batches, "BULK_BYTES", 1)
    assert cli("--db", bulk, "import", big).exit_code == 0
    monkeypatch.setattr(batches, "BULK_BYTES", 8 << 20)
    assert cli("--db", bulk, "import", small).exit_code == 0
    assert _schema(bulk) == _schema(plain)
    check_integrity(bulk)
    conn = sqlite3.connect(bulk)
    try:
        merge = conn.execute("SELECT v FROM events_fts_config WHERE k = 'automerge'").fetchone()
        assert merge is None or merge[0] == 4
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 400
    finally:
        conn.close()
    found = cli("--db", bulk, "search", rows[0]["recipient"], "--format", "jsonl", "--limit", "0")
    assert rows[0]["event_id"] in found.stdout


def test_row_builder_gives_the_classified_events_row() -> None:
    """The forked parser's rows (fast.row_builder) are `event_row` of the classified
    `listing_event`, tuple for tuple, and it declines exactly what listing_event declines."""
    from maillog_cli.store.db import event_row

    classify = batches.classifier()
    build = fast.row_builder(7)
    records = [*EDGE_RECORDS, *_generated(300)]
    records += [{k: v for k, v in r.items() if k != "event_id"} for r in records[-50:]]
    records += [{k: v for k, v in r.items() if k != "message_id"} for r in records[-50:]]
    rows = 0
    for record in records:
        event = fast.listing_event(record)
        row = build(record)
        if event is None:
            assert row is None, record
            continue
        classify(event)
        assert row == event_row(event, 7), record
        rows += 1
    assert rows > 800

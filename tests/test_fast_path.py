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
        item = build(record)
        if event is None:
            assert item is None, record
            continue
        classify(event)
        assert item == (event_row(event, 7), ()), record
        rows += 1
    assert rows > 800


# SendGrid webhook events in and around the shape the forked parser's row builder takes:
# each must give what importers.sendgrid gives, whether the fast path takes it or not.
_SG = {
    "email": "Ann@Example.org",
    "timestamp": 1791677079,
    "event": "delivered",
    "sg_event_id": "sg1",
    "sg_message_id": "abc.filter0417p1-1.0",
    "smtp-id": "<m1@x>",
}
SENDGRID_RECORDS: list[Any] = [
    _SG,
    {**_SG, "sg_event_id": "sg2", "event": "bounce", "reason": "550 5.1.1 no such user",
     "status": "5.1.1", "type": "bounce", "bounce_classification": "Invalid Address"},
    {**_SG, "sg_event_id": "sg3", "event": "dropped", "reason": "Bounced Address "},
    {**_SG, "sg_event_id": "sg4", "event": "deferred", "response": "451 4.7.1 try later",
     "attempt": "2", "tls": 1, "pool": {"name": "p", "id": 1}},
    {**_SG, "sg_event_id": "sg5", "event": "open", "ip": "203.0.113.9", "useragent": "UA",
     "reason": "opened it", "response": "  ", "sg_machine_open": False},
    {**_SG, "sg_event_id": "sg6", "event": "click", "url": "https://x.example/?token=abc12345",
     "url_offset": {"index": 0, "type": "html"}, "category": "one"},
    {**_SG, "sg_event_id": "sg7", "event": "processed", "category": ["a", 7, None, True, "b"],
     "marketing_campaign_id": 0, "anymail_id": "any-1", "customer": "c9", "password": "hunter2"},
    {**_SG, "sg_event_id": 8, "event": "spamreport", "unique_args": {"anymail_id": "any-2"}},
    {**_SG, "sg_event_id": "sg9", "event": "unsubscribe", "unique_args": '{"anymail_id": "a3"}'},
    {**_SG, "sg_event_id": "", "event": "group_unsubscribe", "asm_group_id": 5},
    {"email": "b@x", "timestamp": 1791677080, "event": "delivered", "smtp-id": "<<m2@x>>"},
    {"email": "b@x", "timestamp": 1791677081, "event": "delivered", "sg_message_id": " <m3.recvd-9> "},
    {"email": ["C@X", "d@x"], "timestamp": 1791677082, "event": "processed", "sg_event_id": "sg13"},
    {**_SG, "sg_event_id": "sg14", "event": "deferred", "response": "password=s3cretvalue1 refused"},
    {**_SG, "sg_event_id": "sg15", "event": "bounce", "reason": "", "status": "5.7.1"},
    {**_SG, "sg_event_id": "sg16", "marketing_campaign_id": "", "marketing_campaign_name": "N"},
    {"email": "e@x", "timestamp": 1791677083, "event": "delivered", "sg_event_id": "sg17"},
    {"email": "f@x", "timestamp": 1791677084, "event": "delivered",
     "sg_message_id": "<<m4.filter9>>", "smtp-id": "<<m4.filter9>>"},
    {"email": "g@x", "timestamp": 1791677085, "event": "delivered", "sg_message_id": "m5",
     "smtp-id": " m5 "},
    # not for the fast path: the plain path skips, reads or rejects them
    {**_SG, "sg_event_id": "sg20", "event": "group_resubscribe"},
    {**_SG, "sg_event_id": "sg21", "event": "exploded"},
    {**_SG, "sg_event_id": "sg22", "event": ["delivered"]},
    {**_SG, "sg_event_id": "sg23", "timestamp": "1791677079"},
    {**_SG, "sg_event_id": "sg24", "timestamp": 1791677079.5},
    {**_SG, "sg_event_id": "sg25", "timestamp": 99},
    {**_SG, "sg_event_id": "sg26", "timestamp": None},
    {**_SG, "sg_event_id": "sg27", "timestamp": True},
    {**_SG, "sg_event_id": {"id": 1}},
    {"event": "account_status_change", "timestamp": 1791677079},
    # a duplicate
    {**_SG, "sg_event_id": "sg2", "event": "bounce", "reason": "550 5.1.1 no such user",
     "status": "5.1.1", "type": "bounce", "bounce_classification": "Invalid Address"},
]  # fmt: skip


def _sendgrid_records(messages: int) -> list[Any]:
    from maillog_cli.demo import sendgrid_batch

    return sendgrid_batch(messages, seed=4, now=datetime(2026, 11, 1, tzinfo=UTC))


def test_sendgrid_rows_are_the_parsed_events_rows() -> None:
    """fast.sendgrid_builder gives `event_row` of the classified `sendgrid.parse` event and
    its aliases, record for record; it declines every record the plain path skips or
    rejects (and a few it reads, which then take the plain path)."""
    from maillog_cli.importers import sendgrid
    from maillog_cli.importers.base import Context
    from maillog_cli.model import Event
    from maillog_cli.store.db import event_row

    classify = batches.classifier()
    taken = 0
    for forced in (False, True):
        build = fast.sendgrid_builder(7, forced)
        for record in [*SENDGRID_RECORDS, *_sendgrid_records(200)]:
            item = build(record)
            try:
                parsed = list(sendgrid.parse(record, Context()))
            except Exception:  # the plain path's record error
                assert item is None, record
                continue
            if item is None:
                continue
            [event] = parsed
            assert isinstance(event, Event)
            classify(event)
            assert item == (event_row(event, 7), event.aliases), record
            taken += 1
    assert taken > 1000
    build = fast.sendgrid_builder(7, False)
    assert sum(build(r) is not None for r in SENDGRID_RECORDS) == 19 + 1


@pytest.mark.slow
def test_sendgrid_bulk_loads_give_the_plain_paths_store(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked parser's SendGrid rows build the same store as the plain path: every
    table, FTS, output and the bad records' messages, auto-detected and with --format."""
    monkeypatch.setattr(batches, "BULK_BYTES", 1)  # every file is a bulk load in a child
    records = _sendgrid_records(2500)
    first, second = tmp_path / "sg-a.jsonl", tmp_path / "sg-b.jsonl"
    _write(first, records[:4000] + SENDGRID_RECORDS)
    _write(second, records[3000:])
    _same_stores(cli, tmp_path, [first, second])
    forced = tmp_path / "forced"
    forced.mkdir()
    for enabled, name in ((True, "fast"), (False, "plain")):
        fast.ENABLED = enabled
        try:
            out = cli("--db", forced / f"{name}.db", "import", "--format", "sendgrid", first)
        finally:
            fast.ENABLED = True
        assert out.exit_code == 1  # its bad records
    fast_rows, plain_rows = _tables(forced / "fast.db"), _tables(forced / "plain.db")
    assert fast_rows == plain_rows

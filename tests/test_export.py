"""`maillog export` and `prune --archive` write the full form; `maillog import` restores it
exactly: export → import → export gives the same bytes and every table its row count."""

from __future__ import annotations

import gzip
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from .conftest import require_shared

TABLES = ("events", "messages", "message_aliases", "message_content", "audit")
ROOT = Path(__file__).resolve().parents[1]


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def round_trip(cli, monkeypatch, tmp_path: Path, first: Path) -> tuple[bytes, bytes, Path]:
    """Export the store at `first`, import that into a fresh store, export it again."""
    a = tmp_path / "a.jsonl.gz"
    assert cli("--db", first, "export", "-o", a).exit_code == 0
    second = tmp_path / "restored.db"
    r = cli("--db", second, "import", a)
    assert r.exit_code == 0, r
    b = tmp_path / "b.jsonl.gz"
    assert cli("--db", second, "export", "-o", b).exit_code == 0
    return a.read_bytes(), b.read_bytes(), second


def test_demo_store_round_trip_is_byte_identical(
    cli, monkeypatch, tmp_path: Path, db_path: Path
) -> None:
    demo = tmp_path / "demo"
    assert cli("demo", "--out", demo).exit_code == 0
    assert cli("import", *sorted(demo.iterdir())).exit_code == 0
    before = counts(db_path)
    assert all(before.values()), before  # the demo fills every table
    first, second, restored = round_trip(cli, monkeypatch, tmp_path, db_path)
    assert first == second
    assert counts(restored) == before
    # and the stored facts themselves, not only their count
    cols = [r[1] for r in rows(db_path, "PRAGMA table_info(messages)") if r[1] != "last_seq"]
    sql = f"SELECT {', '.join(cols)} FROM messages ORDER BY message_id"
    assert rows(restored, sql) == rows(db_path, sql)
    content = "SELECT message_id, raw FROM message_content ORDER BY message_id"
    assert rows(restored, content) == rows(db_path, content)


def test_all_shared_samples_round_trip_byte_identical(
    cli, monkeypatch, tmp_path: Path, db_path: Path
) -> None:
    shared = require_shared()
    files = [
        p
        for p in sorted((shared / "samples").rglob("*"))
        if p.is_file() and p.suffix != ".md" and p.name != "expected.jsonl"
    ]
    cli("import", *files)
    assert counts(db_path)["events"] > 100
    first, second, restored = round_trip(cli, monkeypatch, tmp_path, db_path)
    assert first == second
    assert counts(restored) == counts(db_path)


@pytest.fixture
def small(cli, tmp_path: Path) -> None:
    """Two emails with content, aliases, tags and auth results, plus audit entries."""
    eml = tmp_path / "sent.eml"
    eml.write_text(
        "From: a@example.net\nTo: b@example.org\nSubject: hi\nDate: Mon, 5 Jan 2026 10:00:00 +0000\n"
        "Message-ID: <one@example.net>\nAuthentication-Results: mx; spf=pass; dkim=fail; dmarc=pass\n"
        "X-Mailgun-Tag: receipts\n\nbody\n"
    )
    events = tmp_path / "events.jsonl"
    base = {"recipient": "b@example.org", "provider": "sendgrid"}
    events.write_bytes(
        b"".join(
            orjson.dumps(r) + b"\n"
            for r in [
                {
                    **base,
                    "message_id": "one@example.net",
                    "event_id": "d1",
                    "status": "delivered",
                    "timestamp": "2026-01-05T10:00:05Z",
                    "tags": ["receipts"],
                },
                {
                    **base,
                    "message_id": "two@example.net",
                    "event_id": "b2",
                    "status": "bounced",
                    "timestamp": "2026-03-01T10:00:00Z",
                    "diagnostic": "550 5.1.1 user unknown",
                },
            ]
        )
    )
    audit = tmp_path / "audit.json"
    audit.write_bytes(
        orjson.dumps(
            [
                {
                    "id": "aud-1",
                    "created_at": "2026-01-05T09:00:00Z",
                    "action": "api_key.create",
                    "actor_email": "alice@example.net",
                    "metadata": {"name": "ci"},
                },
                {
                    "id": "aud-2",
                    "created_at": "2026-03-05T09:00:00Z",
                    "action": "domain.verify",
                    "actor_email": "bob@example.net",
                },
            ]
        )
    )
    for path in (eml, events, audit):
        r = cli("import", path)
        assert r.exit_code == 0, r


def read_records(path: Path) -> list[dict]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [orjson.loads(x) for x in data.splitlines()]


@pytest.mark.usefixtures("small")
def test_export_refuses_an_existing_file_unless_forced(cli, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("keep me")
    r = cli("export", "-o", out)
    assert r.exit_code == 1 and "already exists" in r.stderr and "--force" in r.stderr
    assert out.read_text() == "keep me"
    assert cli("export", "-o", out, "--force").exit_code == 0
    records = read_records(out)
    assert records[0] == {
        "maillog": "export",
        "version": 1,
        "events": 3,
        "messages": 2,
        "aliases": 0,
        "contents": 1,
        "audit": 2,
        "queue": 0,
    }
    assert [r["maillog"] for r in records[1:]] == [
        "event",
        "event",
        "event",
        "message",
        "message",
        "content",
        "audit",
        "audit",
    ]
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.usefixtures("small")
def test_gz_by_name_and_stdout(cli, tmp_path: Path, db_path: Path) -> None:
    gz = tmp_path / "x.jsonl.gz"
    plain = tmp_path / "x.jsonl"
    assert cli("export", "-o", gz).exit_code == 0
    assert cli("export", "-o", plain).exit_code == 0
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "maillog_cli", "export", "-o", "-"],
        env={**os.environ, "MAILLOG_DB": str(db_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == plain.read_bytes()


@pytest.mark.usefixtures("small")
def test_filters_select_events_their_messages_and_timed_audit(cli, tmp_path: Path) -> None:
    out = tmp_path / "bounced.jsonl"
    assert cli("export", "--status", "bounced", "-o", out).exit_code == 0
    records = read_records(out)
    assert [(r["maillog"], r.get("event_id") or r.get("message_id")) for r in records[1:]] == [
        ("event", "b2"),
        ("message", "two@example.net"),
    ]
    out = tmp_path / "march.jsonl"
    assert cli("export", "--since", "2026-02-01", "-o", out).exit_code == 0
    kinds = [
        (r["maillog"], r.get("event_id") or (r.get("entry") or {}).get("id"))
        for r in read_records(out)
    ]
    assert ("audit", "aud-2") in kinds and ("audit", "aud-1") not in kinds


@pytest.mark.usefixtures("small")
def test_import_merges_into_a_store_with_newer_events(cli, tmp_path: Path) -> None:
    """A restored message row is recomputed from the events the store then holds."""
    out = tmp_path / "x.jsonl"
    assert cli("export", "-o", out).exit_code == 0
    other = tmp_path / "other.db"
    later = tmp_path / "later.jsonl"
    later.write_bytes(
        orjson.dumps(
            {
                "message_id": "two@example.net",
                "event_id": "c9",
                "status": "complained",
                "timestamp": "2026-03-02T10:00:00Z",
                "recipient": "b@example.org",
            }
        )
        + b"\n"
    )
    assert cli("--db", other, "import", later).exit_code == 0
    assert cli("--db", other, "import", out).exit_code == 0
    (row,) = rows(
        other,
        "SELECT event_count, last_status, complained_at FROM messages WHERE message_id = 'two@example.net'",
    )
    assert row == (2, "bounced", "2026-03-02T10:00:00.000Z")


def test_bad_full_form_records_are_reported_by_line(cli, tmp_path: Path, db_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"maillog": "export", "version": 1}\n'
        '{"maillog": "content", "message_id": "x@y", "raw": "not base64!"}\n'
        '{"maillog": "event", "event_id": "e", "timestamp": "2026-01-01T00:00:00.000Z", "status": "nonsense"}\n'
        '{"maillog": "alias", "alias": 5, "message_id": "x@y"}\n'
    )
    r = cli("import", path)
    assert r.exit_code == 1
    assert "bad.jsonl:2: 'raw' is not base64" in r.stderr
    assert "bad.jsonl:3: unknown status 'nonsense'" in r.stderr
    assert "bad.jsonl:4: 'alias' is not a string" in r.stderr
    newer = tmp_path / "newer.jsonl"
    newer.write_text('{"maillog": "export", "version": 99}\n')
    r = cli("import", newer)
    assert r.exit_code == 1 and "newer maillog" in r.stderr


# --- prune --archive ------------------------------------------------------------------------------


@pytest.mark.usefixtures("small")
def test_prune_archive_brings_back_what_it_took(cli, tmp_path: Path, db_path: Path) -> None:
    def message(db: Path) -> list[tuple]:
        return rows(
            db,
            "SELECT message_id, tags, size, spf, dkim, dmarc, has_content FROM messages"
            " WHERE message_id = 'one@example.net'",
        )

    taken = message(db_path)
    assert taken and taken[0][1] == '["receipts"]' and taken[0][2] and taken[0][3] == "pass"
    with sqlite3.connect(db_path) as conn:  # an alias of the email that goes
        conn.execute("INSERT INTO message_aliases VALUES ('provider-id-1', 'one@example.net')")
    raw = rows(db_path, "SELECT raw FROM message_content")
    archive = tmp_path / "old.jsonl.gz"
    r = cli("prune", "--before", "2026-02-01", "--include-audit", "--archive", archive, "--yes")
    assert r.exit_code == 0, r
    assert message(db_path) == [] and rows(db_path, "SELECT count(*) FROM message_content") == [
        (0,)
    ]

    fresh = tmp_path / "fresh.db"
    assert cli("--db", fresh, "import", archive).exit_code == 0
    assert message(fresh) == taken
    assert rows(fresh, "SELECT raw FROM message_content") == raw
    assert rows(fresh, "SELECT alias, message_id FROM message_aliases") == [
        ("provider-id-1", "one@example.net")
    ]
    assert rows(fresh, "SELECT id FROM audit") == [("aud-1",)]
    # and back into the pruned store: whole again
    assert cli("import", archive).exit_code == 0
    assert message(db_path) == taken


def test_integers_beyond_64_bits_are_written_not_a_traceback(
    cli, tmp_path: Path, db_path: Path
) -> None:
    from maillog_cli.export import record_line

    line = record_line({"maillog": "event", "extra": {"n": 2**70, "t": "\u202e"}})
    assert orjson.loads(line)["extra"]["t"] == "\u202e" and str(2**70) in line
    assert "\u202e" not in line


@pytest.mark.usefixtures("small")
def test_round_trip_through_the_forked_parser(
    cli, monkeypatch, tmp_path: Path, db_path: Path
) -> None:
    """Big files are parsed in a child process; restored rows cross the pipe intact."""
    from maillog_cli.ingest import batches, forked

    monkeypatch.setattr(batches, "BULK_BYTES", 1)
    out = tmp_path / "x.jsonl"
    assert cli("export", "-o", out).exit_code == 0
    source = forked.readers.open_source(str(out))
    try:
        assert forked.wanted(source)  # the path under test is the forked one
    finally:
        source.close()
    first, second, restored = round_trip(cli, monkeypatch, tmp_path, db_path)
    assert first == second and counts(restored) == counts(db_path)

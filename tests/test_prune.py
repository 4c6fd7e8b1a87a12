"""`maillog prune` and `maillog db info`: exact counts, dry run, refusal, archive round trip,
audit kept, a kill mid-prune, bad durations, retention from the config file."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli.dates import format_dt
from maillog_cli.model import EVENT_KEYS, Event, StoredMessage
from maillog_cli.prune import BadCutoff, resolve_cutoff
from maillog_cli.store.db import Store, event_row

ROOT = Path(__file__).resolve().parents[1]
FORMS = "90d, 12w, 6mo, 1y, 36h"


def event(
    n: int, mid: str, ts: str, status: str = "delivered", to: str = "mia@example.com", **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {k: None for k in EVENT_KEYS}
    row.update(
        event_id=f"ev-{n:05d}",
        message_id=mid,
        timestamp=ts,
        provider="postfix",
        direction="outbound",
        status=status,
        raw_status=status,
        sender="app@example.com",
        recipient=to,
        subject=f"Report {mid}",
    )
    row.update(kw)
    return row


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def ago(days: float) -> str:
    return format_dt(datetime.now(UTC) - timedelta(days=days))


def q(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def count(db: Path, table: str) -> int:
    return q(db, f"SELECT count(*) FROM {table}")[0][0]


def search_jsonl(cli) -> str:
    r = cli("search", "--format", "jsonl", "--limit", "0")
    assert r.exit_code == 0, r
    return r.stdout


# Fixed-time store: 3 messages around the cut-off 2024-06-20T07:00:02Z.
#   m1: 07:00:00 sent, 07:00:01.999 delivered  → both older: m1 goes
#   m2: 07:00:01 sent, 07:00:02.000 delivered  → the one exactly at the cut-off stays
#   m3: 07:05:00 sent, 07:06:00 opened         → stays
BOUNDARY = "2024-06-20T07:00:02Z"


@pytest.fixture
def fixed(cli, tmp_path: Path) -> Path:
    rows = [
        event(1, "m1@x", "2024-06-20T07:00:00.000Z", "sent"),
        event(2, "m1@x", "2024-06-20T07:00:01.999Z", "delivered"),
        event(3, "m2@x", "2024-06-20T07:00:01.000Z", "sent", to="ops@example.org"),
        event(4, "m2@x", "2024-06-20T07:00:02.000Z", "delivered", to="ops@example.org"),
        event(5, "m3@x", "2024-06-20T07:05:00.000Z", "sent"),
        event(6, "m3@x", "2024-06-20T07:06:00.000Z", "opened"),
    ]
    r = cli("import", write_jsonl(tmp_path / "fixed.jsonl", rows))
    assert r.exit_code == 0, r
    return tmp_path / "maillog.db"


def test_boundary_exact_counts(cli, fixed: Path) -> None:
    r = cli("prune", "--before", BOUNDARY, "--dry-run", "--format", "json")
    assert r.exit_code == 0, r
    plan = orjson.loads(r.stdout)
    assert (plan["events"], plan["messages"], plan["audit"]) == (3, 1, 0)
    assert plan["cutoff"] == "2024-06-20T07:00:02.000Z"
    r = cli("prune", "--before", BOUNDARY, "--yes", "--format", "json")
    assert r.exit_code == 0, r
    done = orjson.loads(r.stdout)
    assert (done["events"], done["messages"]) == (3, 1)
    # The event exactly at the cut-off stays; m1 is gone with both its events; m2 keeps one.
    assert q(fixed, "SELECT event_id FROM events ORDER BY seq") == [
        ("ev-00004",),
        ("ev-00005",),
        ("ev-00006",),
    ]
    assert q(
        fixed, "SELECT message_id, event_count, last_status FROM messages ORDER BY message_id"
    ) == [
        ("m2@x", 1, "delivered"),
        ("m3@x", 2, "sent"),
    ]
    # FTS rows went with their events.
    assert q(fixed, "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'ops'") == [(1,)]
    assert q(fixed, "SELECT cutoff, events, messages, audit, filters FROM prunes") == [
        ("2024-06-20T07:00:02.000Z", 3, 1, 0, None)
    ]


def test_filters_narrow_what_goes(cli, fixed: Path) -> None:
    r = cli(
        "prune",
        "--before",
        "2024-06-21",
        "--status",
        "opened",
        "--status",
        "sent",
        "--to",
        "mia@example.com",
        "--yes",
    )
    assert r.exit_code == 0, r
    assert q(fixed, "SELECT event_id FROM events ORDER BY seq") == [
        ("ev-00002",),
        ("ev-00003",),
        ("ev-00004",),
    ]
    assert q(fixed, "SELECT message_id FROM messages ORDER BY message_id") == [("m1@x",), ("m2@x",)]
    assert q(fixed, "SELECT events, messages, filters FROM prunes") == [
        (3, 1, '{"filters":"status:opened status:sent to:mia@example.com"}')
    ]


def test_older_than_counts(cli, tmp_path: Path, db_path: Path) -> None:
    rows = [event(i, f"r{i}@x", ago(d)) for i, d in enumerate([400, 200, 181, 179, 30, 1], start=1)]
    cli("import", write_jsonl(tmp_path / "rel.jsonl", rows))
    r = cli("prune", "--older-than", "180d", "--yes", "--format", "json")
    assert r.exit_code == 0, r
    assert orjson.loads(r.stdout)["events"] == 3
    assert [x[0] for x in q(db_path, "SELECT event_id FROM events ORDER BY seq")] == [
        "ev-00004",
        "ev-00005",
        "ev-00006",
    ]
    assert count(db_path, "messages") == 3


def test_duration_forms_give_exact_cutoffs() -> None:
    now = datetime(2026, 3, 31, 12, 0, 0, 123456, tzinfo=UTC)
    cases = {
        "90d": "2025-12-31T12:00:00.123Z",
        "12w": "2026-01-06T12:00:00.123Z",
        "6mo": "2025-09-30T12:00:00.123Z",
        "1y": "2025-03-31T12:00:00.123Z",
        "36h": "2026-03-30T00:00:00.123Z",
        "1y6mo": "2024-09-30T12:00:00.123Z",
    }
    for text, want in cases.items():
        cut = resolve_cutoff(text, None, now=now)
        assert cut is not None and cut.iso == want, text
    assert resolve_cutoff(None, "2026-01-01", now=now).iso == "2026-01-01T00:00:00.000Z"  # type: ignore[union-attr]
    assert resolve_cutoff(None, None, None, now=now) is None
    with pytest.raises(BadCutoff):
        resolve_cutoff(None, "2026-04-01", now=now)


@pytest.mark.parametrize("value", ["5x", "abc", "-5d", "1y-3d", "d", "90 days ago", "1.5d"])
def test_bad_durations_are_usage_errors(cli, fixed: Path, value: str) -> None:
    # a bad value is one line, exit 1, in every command (issue 16)
    r = cli("prune", "--older-than", value, "--dry-run")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r
    assert FORMS in " ".join(r.stderr.split()), r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--older-than", "0d"],
        ["--older-than", "0h0min"],
        ["--before", "2100-01-01"],
        ["--before", "not a date"],
        ["--older-than", "90d", "--before", "2024-01-01"],
        ["--older-than", "90d", "--audit-older-than", "1y"],
        ["--older-than", "90d", "--include-audit", "--audit-older-than", "0d"],
        [],  # no cut-off and no retention in the config file
    ],
)
def test_refused_cutoffs(cli, fixed: Path, args: list[str]) -> None:
    r = cli("prune", *args, "--yes")
    assert r.exit_code == 1 and r.stderr.startswith("maillog: error: "), r
    assert count(fixed, "events") == 6


def db_content(db: Path) -> tuple[list[str], str]:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = list(conn.iterdump())
    finally:
        conn.close()
    return dump, hashlib.sha256(db.read_bytes()).hexdigest()


def test_dry_run_changes_nothing(cli, fixed: Path, tmp_path: Path) -> None:
    cli("import", write_jsonl(tmp_path / "audit.jsonl", [audit_entry(1, "2024-01-01T00:00:00Z")]))
    before = db_content(fixed)
    for args in (["--before", BOUNDARY], ["--older-than", "1d", "--include-audit"]):
        r = cli("prune", *args, "--dry-run")
        assert r.exit_code == 0, r
        assert "would delete" in r.stdout
    assert db_content(fixed) == before


def test_refuses_without_yes_when_not_a_terminal(cli, fixed: Path) -> None:
    r = cli("prune", "--before", BOUNDARY, input="y\n")
    assert r.exit_code == 1, r
    assert "--yes" in r.stderr
    assert count(fixed, "events") == 6 and count(fixed, "prunes") == 0


def test_terminal_is_asked(cli, fixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maillog_cli import context

    monkeypatch.setattr(context, "stdin_is_terminal", lambda: True)
    r = cli("prune", "--before", BOUNDARY, input="n\n")
    # A no is refused like resend's: one error line, exit 1.
    assert r.exit_code == 1, r
    assert r.stderr.endswith(
        "maillog: error: nothing deleted; answer y to delete, or use --dry-run to look first\n"
    ), r
    assert count(fixed, "events") == 6
    r = cli("prune", "--before", BOUNDARY, input="y\n")
    assert r.exit_code == 0, r
    assert count(fixed, "events") == 3


def audit_entry(n: int, created_at: str, **kw: Any) -> dict[str, Any]:
    entry = {
        "id": f"aud-{n:03d}",
        "created_at": created_at,
        "actor_id": "usr_bob",
        "actor_email": "bob@acme.com",
        "action": "smtp.update",
        "target_type": "smtp",
        "target_id": "default",
        "metadata": {"changed": ["host"], "host": f"smtp{n}.acme.com", "note": "caf\u00e9 \u202e"},
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
    }
    entry.update(kw)
    return entry


def test_audit_kept_unless_included(cli, fixed: Path, tmp_path: Path) -> None:
    entries = [audit_entry(1, ago(1000)), audit_entry(2, ago(500)), audit_entry(3, ago(1))]
    assert cli("import", write_jsonl(tmp_path / "audit.jsonl", entries)).exit_code == 0
    assert count(fixed, "audit") == 3
    assert cli("prune", "--before", BOUNDARY, "--yes").exit_code == 0
    assert count(fixed, "audit") == 3 and count(fixed, "events") == 3
    # Included: by the events' cut-off, or by their own.
    r = cli(
        "prune",
        "--before",
        "2024-06-20T07:05:00Z",
        "--include-audit",
        "--audit-older-than",
        "2y",
        "--yes",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r
    assert orjson.loads(r.stdout)["audit"] == 1  # only the first entry is older than 2 years
    assert q(fixed, "SELECT id FROM audit ORDER BY id") == [("aud-002",), ("aud-003",)]
    r = cli("prune", "--older-than", "100d", "--include-audit", "--yes", "--format", "json")
    assert orjson.loads(r.stdout)["audit"] == 1
    assert q(fixed, "SELECT id FROM audit") == [("aud-003",)]
    assert q(fixed, "SELECT audit FROM prunes ORDER BY id") == [(0,), (1,), (1,)]


@pytest.mark.parametrize("name", ["old.jsonl.gz", "old.jsonl"])
def test_archive_round_trip(cli, fixed: Path, tmp_path: Path, name: str) -> None:
    entries = [audit_entry(1, "2023-01-01T00:00:00Z"), audit_entry(2, ago(1))]
    cli("import", write_jsonl(tmp_path / "audit.jsonl", entries))
    # An email with stored content and an alias: it goes with its events, then comes back.
    store = Store.open(fixed)
    with store.write():
        store.save_content(
            StoredMessage(
                "m4@x",
                "2024-06-19T00:00:00.000Z",
                "app@example.com",
                ("z@example.com",),
                "Hi",
                5,
                b"Hi\r\n",
            )
        )
        store.insert_rows(
            [
                event_row(
                    Event(
                        "2024-06-19T00:00:00.000Z", "sent", event_id="ev-00007", message_id="m4@x"
                    ),
                    None,
                )
            ]
        )
        store.insert_aliases([("queue-4", "m4@x")])
        store.conn.execute("CREATE TEMP TABLE touched AS SELECT 'm4@x' AS message_id")
        store.refresh_messages()
    store.close()
    events_before = search_jsonl(cli)
    audit_before = cli("audit", "--format", "jsonl", "--limit", "0").stdout
    archive = tmp_path / name

    r = cli(
        "prune",
        "--before",
        BOUNDARY,
        "--include-audit",
        "--archive",
        archive,
        "--yes",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r
    out = orjson.loads(r.stdout)
    assert (out["events"], out["messages"], out["audit"], out["archived"]) == (4, 2, 1, 5)
    assert count(fixed, "message_content") == 0 and count(fixed, "message_aliases") == 0
    raw = archive.read_bytes()
    lines = (gzip.decompress(raw) if name.endswith(".gz") else raw).decode().splitlines()
    records = [orjson.loads(x) for x in lines]
    # the full form of `maillog export`: a header, then events … audit, each named by kind
    assert records[0]["maillog"] == "export"
    assert sorted(
        r.get("event_id") or r["entry"]["id"] for r in records if r["maillog"] in ("event", "audit")
    ) == [
        "aud-001",
        "ev-00001",
        "ev-00002",
        "ev-00003",
        "ev-00007",
    ]
    assert set(EVENT_KEYS) <= set(records[1])
    assert not (tmp_path / (name + ".part")).exists()
    assert q(fixed, "SELECT archive FROM prunes") == [(str(archive),)]

    assert cli("import", archive).exit_code == 0
    assert search_jsonl(cli) == events_before
    assert cli("audit", "--format", "jsonl", "--limit", "0").stdout == audit_before
    assert q(fixed, "SELECT message_id, event_count FROM messages ORDER BY message_id") == [
        ("m1@x", 2),
        ("m2@x", 2),
        ("m3@x", 2),
        ("m4@x", 1),
    ]


def test_existing_archive_is_never_overwritten(cli, fixed: Path, tmp_path: Path) -> None:
    archive = tmp_path / "old.jsonl"
    archive.write_text("keep me\n")
    r = cli("prune", "--before", BOUNDARY, "--archive", archive, "--yes")
    assert r.exit_code == 1 and "already exists" in r.stderr, r
    assert archive.read_text() == "keep me\n"
    assert count(fixed, "events") == 6 and count(fixed, "prunes") == 0


def test_nothing_to_prune_writes_nothing(cli, fixed: Path, tmp_path: Path) -> None:
    r = cli("prune", "--before", "2020-01-01", "--archive", tmp_path / "a.jsonl", "--yes")
    assert r.exit_code == 0 and "nothing to prune" in r.stdout, r
    assert not (tmp_path / "a.jsonl").exists() and count(fixed, "prunes") == 0


def test_retention_from_the_config_file(cli, tmp_path: Path, db_path: Path) -> None:
    rows = [event(1, "a@x", ago(200)), event(2, "b@x", ago(100)), event(3, "c@x", ago(2))]
    cli("import", write_jsonl(tmp_path / "r.jsonl", rows))
    config = tmp_path / "config.toml"  # $MAILLOG_CONFIG (conftest)
    config.write_text('retention = "180d"\n')
    r = cli("prune", "--yes", "--format", "json")
    assert r.exit_code == 0, r
    assert orjson.loads(r.stdout)["cutoff_source"].startswith('retention = "180d"')
    assert [x[0] for x in q(db_path, "SELECT event_id FROM events ORDER BY seq")] == [
        "ev-00002",
        "ev-00003",
    ]
    # An option wins over the config.
    assert cli("prune", "--older-than", "30d", "--yes").exit_code == 0
    assert count(db_path, "events") == 1
    # A bad retention is the config file's fault: exit 1, naming the file.
    for bad in ('retention = "soon"\n', 'retention = "0d"\n', "retention = 180\n"):
        config.write_text(bad)
        r = cli("prune", "--yes")
        assert r.exit_code == 1 and "config.toml" in r.stderr and "retention" in r.stderr, r


def test_vacuum_and_incremental_vacuum_give_space_back(cli, tmp_path: Path, db_path: Path) -> None:
    rows = [
        event(i, f"v{i}@x", ago(400 if i % 2 else 1), diagnostic="x" * 500) for i in range(2000)
    ]
    cli("import", write_jsonl(tmp_path / "v.jsonl", rows))
    for args in (["--older-than", "1y"], ["--older-than", "1d", "--vacuum"]):
        size = db_path.stat().st_size
        r = cli("prune", *args, "--yes", "--format", "json")
        assert r.exit_code == 0, r
        assert orjson.loads(r.stdout)["events"] == 1000
        assert q(db_path, "PRAGMA freelist_count") == [(0,)]
        assert db_path.stat().st_size < size
    assert count(db_path, "events") == 0 and count(db_path, "messages") == 0


def test_db_info(cli, fixed: Path, tmp_path: Path) -> None:
    r = cli("db", "info", "--format", "json")
    assert r.exit_code == 0, r
    info = orjson.loads(r.stdout)
    assert info["path"] == str(fixed) and info["schema_version"] >= 2 and info["size"] > 0
    assert (info["events"], info["messages"], info["audit"], info["imports"]) == (6, 3, 0, 1)
    assert (info["oldest_event"], info["newest_event"]) == (
        "2024-06-20T07:00:00.000Z",
        "2024-06-20T07:06:00.000Z",
    )
    assert info["last_import_source"] == str(tmp_path / "fixed.jsonl")
    assert info["last_prune"] is None
    cli("prune", "--before", BOUNDARY, "--yes")
    info = orjson.loads(cli("db", "info", "-f", "json").stdout)
    assert (
        info["events"],
        info["messages"],
        info["last_prune_cutoff"],
        info["last_prune_events"],
    ) == (
        3,
        2,
        "2024-06-20T07:00:02.000Z",
        3,
    )
    r = cli("db", "info")
    assert r.exit_code == 0 and "oldest event\t2024-06-20T07:00:02.000Z" in r.stdout, r


def test_db_info_without_a_store(cli, tmp_path: Path) -> None:
    r = cli("db", "info", "--db", tmp_path / "nope.db")
    assert r.exit_code == 1 and "no maillog database" in r.stderr
    assert not (tmp_path / "nope.db").exists()


# --- a kill mid-prune ------------------------------------------------------------------------

KILL_MESSAGES = 4000  # 3 events each; the middle third of the messages straddles the cut-off


@pytest.mark.slow
def test_kill_mid_prune_leaves_a_consistent_store(cli, tmp_path: Path, db_path: Path) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for m in range(KILL_MESSAGES):
        for k, status in enumerate(("sent", "delivered", "opened")):
            ts = format_dt(base + timedelta(minutes=m * 3 + k * 2000))
            rows.append(event(m * 3 + k, f"k{m}@x", ts, status, to=f"u{m % 97}@example.com"))
    assert cli("import", write_jsonl(tmp_path / "big.jsonl", rows)).exit_code == 0
    cutoff = format_dt(base + timedelta(minutes=KILL_MESSAGES * 3 // 2))
    original = {r[0] for r in q(db_path, "SELECT event_id FROM events")}
    doomed = {r[0] for r in q(db_path, "SELECT event_id FROM events WHERE timestamp < ?", cutoff)}
    assert len(original) == 3 * KILL_MESSAGES and 0 < len(doomed) < len(original)

    archive = tmp_path / "a.jsonl"
    env = {**os.environ, "MAILLOG_DB": str(db_path)}
    args = [
        sys.executable,
        "-m",
        "maillog_cli",
        "prune",
        "--before",
        cutoff,
        "--yes",
        "--batch-size",
        "20",
    ]
    proc = subprocess.Popen(
        [*args, "--archive", str(archive)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    deleted = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            row = q(db_path, "SELECT max(events) FROM prunes")[0][0]
        except sqlite3.OperationalError:
            row = None
        if row:
            deleted = row
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < deleted < len(doomed), "the prune was not caught mid-way"

    check_consistent(db_path)
    remaining = {r[0] for r in q(db_path, "SELECT event_id FROM events")}
    records = [orjson.loads(x) for x in archive.read_text().splitlines()]
    archived = {r["event_id"] for r in records if r["maillog"] == "event"}
    assert archived == doomed  # complete before anything was deleted
    assert original - remaining <= archived  # nothing gone that is not in the archive
    assert remaining >= original - doomed  # nothing gone that should have stayed
    assert q(db_path, "SELECT events FROM prunes")[0][0] == len(
        original - remaining
    )  # an honest record

    # Run again: it finishes the job.
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    check_consistent(db_path)
    assert {r[0] for r in q(db_path, "SELECT event_id FROM events")} == original - doomed


def check_consistent(db: Path) -> None:
    assert q(db, "PRAGMA integrity_check") == [("ok",)]
    q(
        db, "INSERT INTO events_fts(events_fts) VALUES ('integrity-check')"
    )  # raises when FTS drifted
    # Every message has events, every event's message has a row, and the counts agree.
    assert q(
        db,
        "SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = m.message_id)",
    ) == [(0,)]
    assert q(db, "SELECT count(DISTINCT message_id) FROM events") == q(
        db, "SELECT count(*) FROM messages"
    )
    assert q(
        db,
        "SELECT count(*) FROM messages m WHERE event_count != (SELECT count(*) FROM events e WHERE e.message_id = m.message_id)",
    ) == [(0,)]

"""The counts behind "showing 100 of N" are the number of rows the listing would print:
`search --messages` without filters counts messages by their latest event without
looking each event up, and must still count exactly the messages listed — after
engagement-only messages, a prune and a second import."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson

from maillog_cli.demo import iter_events
from maillog_cli.store.db import Store
from maillog_cli.store.query import build, count_sql
from maillog_cli.store.query import iter_events as listed

NOW = datetime(2026, 3, 20, tzinfo=UTC)


def _write(path: Path, messages: int, seed: int) -> Path:
    with path.open("wb") as f:
        for row in iter_events(messages, seed=seed, now=NOW, days=20):
            f.write(orjson.dumps(row) + b"\n")
    return path


def _engagement_only(path: Path) -> Path:
    """Opens and clicks of messages the store has no lifecycle event of (no last_seq)."""
    rows = [
        {"event_id": f"eng-{i}", "message_id": f"eng-{i}@x.example", "status": status,
         "timestamp": f"2026-03-1{i % 9}T10:00:00Z", "recipient": f"r{i}@x.example",
         "provider": "sendgrid"}
        for i, status in enumerate(["opened", "clicked", "opened", "unsubscribed"])
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _counts(db: Path) -> tuple[int, int, int]:
    """(fast count, the plain join count, rows the listing gives)."""
    store = Store.open(db, readonly=True)
    try:
        f = build()
        fast = store.conn.execute(*count_sql(f, messages=True)).fetchone()[0]
        plain = store.conn.execute(
            "SELECT count(*) FROM messages m JOIN events e ON e.seq = m.last_seq"
        ).fetchone()[0]
        rows = sum(1 for _ in listed(store.conn, f, None, messages=True))
        return fast, plain, rows
    finally:
        store.close()


def test_the_unfiltered_message_count_is_the_messages_listed(cli, tmp_path, db_path):
    assert cli("import", _write(tmp_path / "a.jsonl", 600, seed=1)).exit_code == 0
    assert cli("import", _engagement_only(tmp_path / "eng.jsonl")).exit_code == 0
    fast, plain, rows = _counts(db_path)
    engaged_only = (
        Store.open(db_path, readonly=True)
        .conn.execute("SELECT count(*) FROM messages WHERE last_seq IS NULL")
        .fetchone()[0]
    )
    assert engaged_only >= 4  # messages that are not listed exist
    assert fast == plain == rows
    assert cli("prune", "--before", "2026-03-08", "--yes").exit_code == 0
    assert cli("import", _write(tmp_path / "b.jsonl", 300, seed=2)).exit_code == 0
    fast, plain, rows = _counts(db_path)
    assert fast == plain == rows > 0


def test_search_messages_says_how_many_there_are(cli, tmp_path, db_path):
    assert cli("import", _write(tmp_path / "a.jsonl", 400, seed=1)).exit_code == 0
    _, plain, _ = _counts(db_path)
    r = cli("search", "--messages", "--limit", "5", "--format", "jsonl")
    assert r.exit_code == 0
    assert f"showing 5 of {plain:,}" in r.stderr

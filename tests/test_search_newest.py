"""Free text finds the newest matches by walking the newest events in the time index when
that is cheaper than reading every match (store/query.py `_newest_window`): the rows are
exactly the ones the plain query (every match read and sorted) gives — matches spread
evenly, all of them recent, all of them old (the walk finds too few and every match is
read), imported out of time order, many in the same millisecond, with --messages."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from maillog_cli.store import query
from maillog_cli.store.query import build, events_sql, iter_events

START = datetime(2026, 3, 1, tzinfo=UTC)


def _row(n: int, when: datetime, subject: str) -> dict:
    return {
        "event_id": f"e{n}",
        "message_id": f"m{n // 3}@x.example",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "provider": "sendgrid",
        "status": ("sent", "delivered", "opened")[n % 3],
        "recipient": f"user{n % 50}@example.org",
        "sender": "app@acme.example",
        "subject": subject,
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 events over 60 days, imported in two files: the newer half first."""
    from typer.testing import CliRunner

    from maillog_cli.cli import app

    folder = tmp_path_factory.mktemp("newest")
    rows = []
    for n in range(6000):
        when = START + timedelta(minutes=14 * n)
        if n % 400 == 0:  # a burst: many events in one millisecond (ties broken by seq)
            when = START + timedelta(minutes=14 * (n - n % 400))
        words = ["receipt"]
        words += ["spread"] if n % 20 == 0 else []
        words += ["recent"] if n > 5200 and n % 5 == 0 else []
        words += ["ancient"] if n < 900 and n % 3 == 0 else []
        words += ["tied"] if n % 400 < 40 else []
        rows.append(_row(n, when, " ".join(words)))
    newer, older = folder / "newer.jsonl", folder / "older.jsonl"
    newer.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows[3000:]))
    older.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows[:3000]))
    db = folder / "s.db"
    for path in (newer, older):
        result = CliRunner().invoke(app, ["--db", str(db), "import", "-q", str(path)])
        assert result.exit_code == 0, result.output
    return db


def _plain(conn: sqlite3.Connection, text: str, limit: int, messages: bool) -> list[tuple]:
    sql, params = events_sql(build(text=text), limit, messages=messages)
    return conn.execute(sql, params).fetchall()


@pytest.mark.parametrize("messages", [False, True])
@pytest.mark.parametrize("limit", [1, 11, 101, 1001])
@pytest.mark.parametrize("text", ["receipt", "spread", "recent", "ancient", "tied", "nothing"])
def test_the_newest_matches_are_the_plain_query_s(store, text, limit, messages):
    conn = sqlite3.connect(store)
    try:
        got = [
            tuple(r.values()) for r in iter_events(conn, build(text=text), limit, messages=messages)
        ]
        assert got == _plain(conn, text, limit, messages)
    finally:
        conn.close()


def test_the_walk_is_taken_and_falls_back_when_the_matches_are_old(store):
    """Not vacuous: common and recent words walk the newest events; old ones fall back."""
    conn = sqlite3.connect(store)
    try:
        window = {
            w: query._newest_window(conn, build(text=w), 11, None)
            for w in ("receipt", "spread", "ancient")
        }
        assert all(window.values()), window
        sql, params = events_sql(build(text="ancient"), 11, newest_from=window["ancient"])
        assert len(conn.execute(sql, params).fetchall()) < 11  # so every match is read
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "SEARCH e USING INDEX events_timestamp (timestamp>?)" in plan, plan
        assert query._newest_window(conn, build(text="spread", statuses=["sent"]), 11, None) is None
    finally:
        conn.close()


def test_search_through_the_cli(store, cli):
    r = cli("--db", store, "search", "spread", "--limit", "5", "--format", "jsonl")
    assert r.exit_code == 0, r
    ids = [orjson.loads(line)["event_id"] for line in r.stdout.splitlines()]
    assert ids == ["e5980", "e5960", "e5940", "e5920", "e5900"]
    assert "showing 5 of 300" in r.stderr

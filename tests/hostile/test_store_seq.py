"""events.seq never goes backwards: a prune that deleted the newest rows must not hand
their numbers out again, or `tail --follow` (which asks for seq > the last it saw) skips
new events. Existing stores are upgraded in place by a migration."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from maillog_cli import follow
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MIGRATIONS
from maillog_cli.store.query import Filters
from tests.hostile.storekit import T0, event, write_jsonl

OLD_DAY = datetime(2019, 5, 1, tzinfo=UTC)


def test_follower_sees_every_event_imported_after_a_prune_of_the_newest_rows(
    cli, tmp_path: Path, db_path: Path
) -> None:
    recent = [event(f"r{i}", i) for i in range(100)]
    backfill = [event(f"old{i}", i, day=OLD_DAY) for i in range(50)]  # old, but imported last
    assert cli("import", "-q", write_jsonl(tmp_path / "recent.jsonl", recent)).exit_code == 0
    assert cli("import", "-q", write_jsonl(tmp_path / "old.jsonl", backfill)).exit_code == 0

    reader = Store.open(db_path, readonly=True)
    _, position = follow.last_matches(reader, Filters(), 10)
    assert position == 150

    r = cli("prune", "--before", "2020-01-01", "--yes")  # deletes seq 101-150
    assert r.exit_code == 0, r
    fresh = [event(f"n{i}", 200 + i) for i in range(50)]
    assert cli("import", "-q", write_jsonl(tmp_path / "new.jsonl", fresh)).exit_code == 0

    seen: list[str] = []
    while True:
        rows, position, more = follow.newer(reader, Filters(), position)
        seen += [r["event_id"] for r in rows]
        if not more:
            break
    reader.close()
    assert seen == [f"n{i}" for i in range(50)]


def old_store(path: Path, n: int) -> None:
    """A store as maillog wrote it before migration 3 (seq without AUTOINCREMENT)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for number, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany(
        "INSERT INTO events(seq, event_id, message_id, timestamp, status, subject)"
        " VALUES (?, ?, ?, ?, 'delivered', ?)",
        [(i * 2, f"e{i}", f"m{i}", T0.isoformat(), f"needle {i}") for i in range(1, n + 1)],
    )
    conn.close()


def test_the_migration_upgrades_an_existing_store_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_store(db, 20)
    with sqlite3.connect(db) as conn:
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name"
        ).fetchall()
    conn.close()

    store = Store.open(db)
    c = store.conn
    assert store.version == len(MIGRATIONS)
    assert (
        "AUTOINCREMENT"
        in c.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    )
    assert c.execute("SELECT seq, event_id FROM events ORDER BY seq").fetchall() == [
        (i * 2, f"e{i}") for i in range(1, 21)
    ]
    # every index the old store had is still there (later migrations add their own)
    assert set(indexes) <= set(
        c.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name"
        ).fetchall()
    )
    # Full-text search still finds the old rows (their FTS rowids are their seqs) …
    assert c.execute("SELECT rowid FROM events_fts WHERE events_fts MATCH 'needle'").fetchall()
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # … and deleting the newest row no longer frees its number.
    with store.write():
        c.execute("DELETE FROM events WHERE seq = 40")
        c.execute("INSERT INTO events(event_id, timestamp, status) VALUES ('x', 't', 'sent')")
    assert c.execute("SELECT seq FROM events WHERE event_id = 'x'").fetchone()[0] == 41
    assert c.execute("INSERT INTO events_fts(events_fts) VALUES ('integrity-check')")
    store.close()


def test_the_one_time_upgrade_says_so_and_then_never_again(tmp_path: Path) -> None:
    from tests.hostile.storekit import run, write_jsonl

    db = tmp_path / "old.db"
    old_store(db, 3)
    new = write_jsonl(tmp_path / "n.jsonl", [event("n1")])
    first = run("import", "-q", new, db=db)
    assert first.returncode == 0, first.stderr
    assert f"upgrading {db} from schema 2 to {len(MIGRATIONS)}" in first.stderr
    again = run("import", "-q", new, db=db)
    assert again.returncode == 0 and "upgrading" not in again.stderr

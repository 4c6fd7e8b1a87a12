"""The store: migrations on open, refusal of newer files, WAL, and the messages refresh."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from maillog_cli.errors import MaillogError
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MIGRATIONS

TABLES = {
    "events",
    "messages",
    "message_content",
    "message_aliases",
    "audit",
    "imports",
    "prunes",
    "meta",
    "events_fts",
    "mta_queue",  # mail-server queue ids' partial state (store/mta_state.py)
    "alert_state",
    "stats_hours",  # what stats counts, per hour (migration 9, kept by triggers)
    "stats_groups",  # … per provider, sender, tag and domain
}


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'events_fts_%' AND name NOT LIKE 'sqlite_%'"
            )
        }


def test_blank_file_is_migrated_to_the_latest_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    store = Store.open(db)
    assert store.version == len(MIGRATIONS)
    assert tables(db) == TABLES
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    store.close()


def test_an_older_file_is_upgraded_in_place_keeping_its_data(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO events(event_id, timestamp, status) VALUES ('e1', '2026-01-01T00:00:00.000Z', 'sent')"
    )
    conn.commit()
    conn.close()
    assert "prunes" not in tables(db)
    store = Store.open(db)
    assert store.version == len(MIGRATIONS)
    assert "prunes" in tables(db)
    assert store.conn.execute("SELECT event_id FROM events").fetchall() == [("e1",)]
    store.close()


def test_a_file_from_a_newer_maillog_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    before = db.read_bytes()
    with pytest.raises(MaillogError, match="newer maillog"):
        Store.open(db)
    assert db.read_bytes() == before


def test_not_a_database(cli, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not sqlite" * 100)
    r = cli("--db", bogus, "search")
    assert r.exit_code == 1 and "not a usable maillog database" in r.stderr


def test_reading_commands_do_not_create_a_store(cli, tmp_path: Path) -> None:
    r = cli("--db", tmp_path / "nothing.db", "search")
    assert r.exit_code == 1 and "no maillog database" in r.stderr
    assert not (tmp_path / "nothing.db").exists()

"""Someone else's SQLite file is never taken over: every command refuses it in one line
and leaves its bytes alone; empty files and new paths are ours to create."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from maillog_cli.store.db import Store
from maillog_cli.store.migrations import APPLICATION_ID, MIGRATIONS
from tests.hostile.storekit import event, write_jsonl

COMMANDS = [
    ("bounces", "reclassify"),
    ("import", "{events}"),
    ("prune", "--older-than", "1d", "--yes"),
    ("search",),
    ("sql", "SELECT 1"),
    ("stats",),
    ("tail", "-n", "1"),
    ("show", "x@example.org"),
    ("audit",),
    ("bounces",),
]


def foreign(path: Path, user_version: int = 0, app_id: int = 0, tables: bool = True) -> Path:
    with sqlite3.connect(path) as conn:
        if tables:
            conn.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL)")
            conn.execute("INSERT INTO customers(name) VALUES ('Ada')")
        conn.execute(f"PRAGMA user_version = {user_version}")
        conn.execute(f"PRAGMA application_id = {app_id}")
    conn.close()
    return path


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize(
    "kind",
    [
        {"user_version": 0},
        {"user_version": 2},  # another program that numbers its schema, like us
        {"user_version": 0, "app_id": 0x12345678, "tables": False},
    ],
    ids=["plain", "versioned", "other-app-id"],
)
def test_a_foreign_sqlite_file_is_refused_untouched(
    cli, tmp_path: Path, args: tuple[str, ...], kind: dict
) -> None:
    db = foreign(tmp_path / "theirs.db", **kind)
    before = db.read_bytes()
    events = write_jsonl(tmp_path / "e.jsonl", [event("e1")])
    r = cli("--db", db, *[a.format(events=events) for a in args])
    assert r.exit_code == 1, r
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "is not a maillog store" in r.stderr and "point --db at a maillog store" in r.stderr
    if kind.get("tables", True):
        assert "customers, invoices" in r.stderr
    else:
        assert "application_id 0x12345678" in r.stderr
    assert db.read_bytes() == before
    assert not Path(f"{db}-wal").exists()


def test_an_empty_file_and_a_new_path_become_stores(cli, tmp_path: Path) -> None:
    events = write_jsonl(tmp_path / "e.jsonl", [event("e1")])
    empty = tmp_path / "empty.db"
    empty.touch()
    # (a path in a missing directory is refused instead: test_fidelity6_db_path)
    for db in (empty, tmp_path / "fresh.db"):
        assert cli("--db", db, "import", "-q", events).exit_code == 0
        store = Store.open(db, readonly=True)
        assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        store.close()


def test_readers_on_an_empty_file_say_so_in_one_line(cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for args in (("search",), ("sql", "SELECT * FROM events"), ("stats",), ("tail",)):
        r = cli("--db", empty, *args)
        assert r.exit_code == 1 and "no maillog database" in r.stderr, (args, r)
        assert "no such table" not in r.stderr
    assert empty.read_bytes() == b""


def test_a_store_from_before_application_id_is_still_ours(cli, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for number, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.commit()
    conn.close()
    r = cli("--db", db, "search", "-f", "jsonl")
    assert r.exit_code == 0, r
    assert (
        cli("--db", db, "import", "-q", write_jsonl(tmp_path / "e.jsonl", [event("e1")])).exit_code
        == 0
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()

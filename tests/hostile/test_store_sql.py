"""`maillog sql` on hostile input: file names that look like URI parts, writes and pointer
leaks refused by the authorizer itself, and runaway queries stopped with one line."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from maillog_cli.commands.sql import _reads_only
from tests.hostile.storekit import count, event, one_line_error, run, spawn, write_jsonl

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
DOUBLING = (
    "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT length(s) FROM r"
)


@pytest.fixture
def store(tmp_path: Path, cli) -> Path:
    db = tmp_path / "store.db"
    rows = [event(f"e{i}", i) for i in range(5)]
    assert cli("--db", db, "import", "-q", write_jsonl(tmp_path / "e.jsonl", rows)).exit_code == 0
    return db


@pytest.mark.parametrize("suffix", ["#snap", "?mode=rw", "?mode=rwc&cache=shared", "%23x"])
def test_a_db_path_that_looks_like_a_uri_opens_that_file_only(
    cli, store: Path, suffix: str
) -> None:
    # The hostile name is an empty file next to the real store: `sql` must open it (and
    # find nothing), never the real store read-write.
    twin = Path(f"{store}{suffix}")
    twin.touch()
    r = cli("--db", twin, "sql", "DELETE FROM events")
    assert r.exit_code == 1 and "Traceback" not in r.stderr
    assert count(store) == 5
    assert twin.read_bytes() == b""


def test_a_real_store_with_hash_and_query_in_its_name_is_read(cli, tmp_path: Path) -> None:
    db = tmp_path / "odd #1 ?mode=rw.db"
    write_jsonl(tmp_path / "e.jsonl", [event("e1")])
    assert cli("--db", db, "import", "-q", tmp_path / "e.jsonl").exit_code == 0
    r = cli("--db", db, "sql", "SELECT count(*) AS n FROM events", "-f", "jsonl")
    assert r.exit_code == 0 and r.stdout.strip() == '{"n":1}'
    assert cli("--db", db, "sql", "DELETE FROM events").exit_code == 1
    assert count(db) == 1


WRITES = [
    "DELETE FROM events",
    "UPDATE events SET status = 'x'",
    "INSERT INTO meta(key, value) VALUES ('k', 'v')",
    "REPLACE INTO meta(key, value) VALUES ('k', 'v')",
    "CREATE TABLE t(x)",
    "CREATE TEMP TABLE t(x)",
    "CREATE VIEW v AS SELECT 1",
    "CREATE INDEX i ON events(subject)",
    "CREATE TRIGGER tr AFTER INSERT ON meta BEGIN SELECT 1; END",
    "CREATE VIRTUAL TABLE f USING fts5(x)",
    "DROP TABLE prunes",
    "DROP INDEX events_timestamp",
    "DROP TRIGGER events_fts_ai",
    "ALTER TABLE events RENAME TO gone",
    "ALTER TABLE events ADD COLUMN x",
    "REINDEX",
    "ANALYZE",
    "VACUUM INTO '{tmp}/copy.db'",
    "ATTACH '{tmp}/other.db' AS other",
    "BEGIN IMMEDIATE",
    "SAVEPOINT s",
    "PRAGMA user_version = 99",
    "PRAGMA application_id = 1",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = ON",
    "PRAGMA hard_heap_limit = 0",
    "PRAGMA optimize",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA incremental_vacuum",
    "INSERT INTO events_fts(events_fts) VALUES ('rebuild')",
    "SELECT fts3_tokenizer('simple')",
    "SELECT load_extension('/tmp/evil.so')",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_authorizer_alone_refuses_every_write(
    store: Path, tmp_path: Path, statement: str
) -> None:
    # A read-WRITE connection: the authorizer must refuse on its own, whatever the open mode.
    before = store.read_bytes()
    conn = sqlite3.connect(store, isolation_level=None)
    schema = conn.execute("SELECT * FROM sqlite_master").fetchall()
    conn.set_authorizer(_reads_only)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|authorization denied"):
        conn.execute(statement.format(tmp=tmp_path)).fetchall()
    conn.set_authorizer(None)
    assert not conn.in_transaction
    assert conn.execute("SELECT * FROM sqlite_master").fetchall() == schema
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 5
    assert conn.execute("PRAGMA user_version").fetchone()[0] != 99
    conn.close()
    assert store.read_bytes() == before
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "other.db").exists()


def test_reading_still_works_through_the_authorizer(cli, store: Path) -> None:
    for query in (
        "SELECT status, count(*) AS n FROM events GROUP BY status",
        "SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH 'Report'",
        "SELECT name FROM pragma_table_info('events') WHERE name = 'seq'",
        "PRAGMA table_info(events)",
        "PRAGMA user_version",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3) SELECT x FROM c",
    ):
        r = cli("--db", store, "sql", query, "-f", "jsonl")
        assert r.exit_code == 0 and r.stdout.strip(), (query, r)


def test_an_endless_query_stops_at_the_timeout_with_one_line(cli, store: Path) -> None:
    started = time.monotonic()
    r = cli("--db", store, "sql", "--timeout", "0.5", ENDLESS)
    assert time.monotonic() - started < 10
    assert r.exit_code == 1 and "ran longer than 0.5 s" in r.stderr and "--timeout" in r.stderr


def test_an_endless_query_streaming_rows_stops_at_the_timeout(tmp_path: Path, store: Path) -> None:
    r = run(
        "sql",
        "--timeout",
        "1",
        "-f",
        "jsonl",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
        db=store,
        timeout=60,
    )
    assert r.returncode == 1 and "ran longer than 1 s" in one_line_error(r.stderr)


def test_a_doubling_string_stops_at_the_memory_limit(store: Path) -> None:
    # A subprocess: SQLite's hard heap limit is per process and can only be lowered.
    started = time.monotonic()
    r = run("sql", "--max-memory", "32", DOUBLING, db=store, timeout=60)
    assert time.monotonic() - started < 20
    assert r.returncode == 1
    assert "more than the 32 MB memory limit" in one_line_error(r.stderr)


def test_ctrl_c_interrupts_a_running_query(store: Path) -> None:
    proc = spawn("sql", "--timeout", "0", ENDLESS, db=store)
    time.sleep(2.0)  # well into the query (start-up included)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except Exception:
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode == 130 and "Traceback" not in err, err

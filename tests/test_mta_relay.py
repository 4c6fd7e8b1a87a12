"""A message's relay (`stats --by relay`) is its own fact: the messages refresh keeps it
from the queue state (migrations.MESSAGE_RELAY_SQL, migration 11), so `stats --by relay`
walks one index instead of joining every relayed message's queue rows to its message.

Each test imports the mail-log fixtures with the real CLI into a real SQLite file and
holds the stored relay to the rule over the queue rows themselves (the latest row that
reached a relay, of two as late the later row), across files, imports, re-queues,
reused ids, an upgrade from schema 8 and an export round trip.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MIGRATIONS

from .test_mta_logs import copy, imported

# The rule, written out over mta_queue alone (no shared SQL): the relay of the message's
# latest queue row with one, by last_at, then by row id.
LATEST_ROW_RELAY = """
    SELECT m.message_id, (
        SELECT q.relay FROM mta_queue q
        WHERE q.message_id = m.message_id AND q.relay IS NOT NULL
        AND NOT EXISTS (
            SELECT 1 FROM mta_queue r WHERE r.message_id = q.message_id AND r.relay IS NOT NULL
            AND (r.last_at > q.last_at OR (r.last_at = q.last_at AND r.id > q.id))))
    FROM messages m ORDER BY m.message_id
"""
LOGS = ("postfix_mixed.log", "reused.log", "amavis.log", "expired.log", "exim_mainlog")


def stored(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def by_relay(cli: Any, db: Path) -> dict[str | None, int]:
    r = cli("--db", db, "stats", "--by", "relay", "--format", "jsonl")
    assert r.exit_code == 0, r
    return {row["relay"]: row["messages"] for row in map(json.loads, r.stdout.splitlines())}


def import_all(cli: Any, db: Path, tmp_path: Path) -> None:
    """Every fixture, the rotated pair newer file first (a message split across them)."""
    for name in (*LOGS, "rotated.log", "rotated.log.1"):
        imported(cli, db, copy(name, tmp_path))


def test_each_messages_relay_is_its_latest_queue_rows(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    import_all(cli, db_path, tmp_path)
    want = stored(db_path, LATEST_ROW_RELAY)
    assert stored(db_path, "SELECT message_id, relay FROM messages ORDER BY message_id") == want
    relays = Counter(relay for _, relay in want)
    assert len(relays) >= 5 and relays[None]  # not vacuous: relays, and messages without one
    assert by_relay(cli, db_path) == dict(relays)


def test_a_relay_learned_in_a_later_import_moves_the_message(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """3F1A2B4C5D's retry (another relay, hours later) comes in a second import."""
    log = copy("postfix_mixed.log", tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    retry = next(i for i, line in enumerate(lines) if "14:00:04" in line and "status=sent" in line)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    first.write_text("".join(lines[:retry]))
    second.write_text("".join(lines[retry:]))
    for part in (first, second):
        part.touch()
        imported(cli, db_path, copy_mtime(part, log))
        assert stored(db_path, "SELECT message_id, relay FROM messages ORDER BY 1") == stored(
            db_path, LATEST_ROW_RELAY
        )
    relay = "SELECT relay FROM messages WHERE message_id = '3F1A2B4C5D'"
    assert stored(db_path, relay) == [("mx.example.com",)]


def copy_mtime(part: Path, like: Path) -> Path:
    """`part` with the fixture's last-write time (the syslog year's reference)."""
    import os

    stat = like.stat()
    os.utime(part, (stat.st_atime, stat.st_mtime))
    return part


def test_an_upgraded_store_gets_the_relays_its_queue_rows_say(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """A store of schema 10 (no relay column: migration 11 undone on the same import)
    upgrades to the relays today's import keeps."""
    import_all(cli, db_path, tmp_path)
    relays = "SELECT message_id, relay FROM messages ORDER BY message_id"
    today = stored(db_path, relays)
    conn = sqlite3.connect(db_path)
    conn.executescript(
        """
        DROP INDEX messages_stats_relay;
        ALTER TABLE messages DROP COLUMN relay;
        DROP INDEX mta_queue_message;
        CREATE INDEX mta_queue_message ON mta_queue(message_id);
        PRAGMA user_version = 10;
        """
    )
    conn.close()
    assert MIGRATIONS[10].__name__ == "m011_message_relay"  # the relay is migration 11
    Store.open(db_path).close()  # the upgrade
    assert stored(db_path, relays) == today == stored(db_path, LATEST_ROW_RELAY)
    assert any(relay for _, relay in today)


def test_the_relay_survives_an_export_and_import(cli: Any, db_path: Path, tmp_path: Path) -> None:
    """The message's relay goes with the message, not with the queue rows (which the export
    also carries, for a log continued after a restore): left out, the relay stays."""
    import_all(cli, db_path, tmp_path)
    dump, restored = tmp_path / "all.jsonl", tmp_path / "restored.db"
    assert cli("--db", db_path, "export", "-o", dump).exit_code == 0
    lines = dump.read_text().splitlines(keepends=True)
    assert any('"maillog":"queue"' in x for x in lines)
    dump.write_text("".join(x for x in lines if '"maillog":"queue"' not in x))
    imported(cli, restored, dump)
    assert stored(restored, "SELECT count(*) FROM mta_queue") == [(0,)]
    assert by_relay(cli, restored) == by_relay(cli, db_path)


def test_a_reader_upgrades_a_store_an_older_maillog_wrote(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """`stats --by relay` (a read-only command) on a store from before migration 11: migrations apply on
    open, for readers too, so it answers instead of failing on the missing column."""
    import_all(cli, db_path, tmp_path)
    want = by_relay(cli, db_path)
    conn = sqlite3.connect(db_path)
    conn.executescript(
        """
        DROP INDEX messages_stats_relay;
        ALTER TABLE messages DROP COLUMN relay;
        PRAGMA user_version = 10;
        """
    )
    conn.close()
    assert by_relay(cli, db_path) == want
    assert stored(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]

"""A store an older maillog wrote, in a file this maillog cannot write (a read-only mount,
another user's file), is read as it is: no upgrade, so no stats rollups (migration 9), no
stored bounce patterns (10) and no relay per message (11). The readers still answer, with
the same figures as on the upgraded store; `stats --by relay` says what to do."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from maillog_cli.store import db as store_db

from .conftest import fixture_files

SCHEMA_8 = """
DROP TRIGGER stats_hours_ai; DROP TRIGGER stats_hours_ad; DROP TRIGGER stats_hours_au;
DROP TRIGGER stats_groups_ai; DROP TRIGGER stats_groups_ad; DROP TRIGGER stats_groups_au;
DROP TABLE stats_hours; DROP TABLE stats_groups;
DROP INDEX events_bounce_days; DROP INDEX events_bounce_patterns;
ALTER TABLE events DROP COLUMN diagnostic_pattern;
DROP INDEX messages_stats_relay; ALTER TABLE messages DROP COLUMN relay;
PRAGMA user_version = 8;
"""


@pytest.fixture
def stores(cli, tmp_path: Path) -> tuple[Path, Path]:
    """The same events in an up-to-date store and in one as maillog 8 left it."""
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    files = fixture_files(".json", ".jsonl", ".csv", ".log")
    assert files
    for path in (new, old):
        r = cli("--db", path, "import", *files)
        assert r.exit_code in (0, 1), r  # some fixtures hold bad records on purpose
    conn = sqlite3.connect(old)
    conn.executescript(SCHEMA_8)
    conn.close()
    return new, old


def test_readers_answer_from_an_old_store_they_cannot_upgrade(
    cli, stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    new, old = stores
    monkeypatch.setattr(store_db, "write_problem", lambda path: "the file is read-only (test)")
    for args in (
        ["stats", "--format", "json"],
        ["stats", "--by", "domain", "--format", "json"],
        ["stats", "--by", "hour", "--format", "json"],
        ["search", "--messages", "--format", "json", "--limit", "0"],
        ["bounces", "--format", "json"],
    ):
        want = cli("--db", new, *args)
        got = cli("--db", old, *args)
        assert got.exit_code == 0, (args, got)
        assert json.loads(got.stdout) == json.loads(want.stdout), args
    r = cli("--db", old, "stats", "--by", "relay")
    assert r.exit_code == 1
    assert "older maillog" in r.stderr and "writable" in r.stderr
    assert "Traceback" not in r.stderr
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA user_version").fetchone() == (8,)  # untouched


def test_the_same_store_writable_is_upgraded_by_a_reader(cli, stores: tuple[Path, Path]) -> None:
    new, old = stores
    r = cli("--db", old, "stats", "--by", "relay", "--format", "json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout) == json.loads(
        cli("--db", new, "stats", "--by", "relay", "--format", "json").stdout
    )

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from maillog_cli.model import EVENT_KEYS

from .conftest import PROVIDER_FIXTURES


def test_import_search_show_roundtrip(cli, tmp_path: Path, db_path: Path) -> None:
    """Every provider fixture in, our own format out, and that output back in: nothing lost."""
    files = sorted(PROVIDER_FIXTURES.iterdir())
    r = cli("import", *files)
    assert r.exit_code == 0, r
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    assert stored > 40
    r = cli("search", "--format", "jsonl", "--limit", "0")
    rows = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == stored
    assert all(list(row) == list(EVENT_KEYS) for row in rows)
    assert [row["timestamp"] for row in rows] == sorted(
        (row["timestamp"] for row in rows), reverse=True
    )
    out = tmp_path / "out.jsonl"
    out.write_text(r.stdout)
    other = tmp_path / "other.db"
    assert cli("--db", other, "import", out).exit_code == 0
    again = cli("--db", other, "search", "--format", "jsonl", "--limit", "0")
    # The same events; ties in time may list in another order (seq follows the file).
    assert sorted(again.stdout.splitlines()) == sorted(r.stdout.splitlines())

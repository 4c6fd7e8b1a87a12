from __future__ import annotations

from pathlib import Path

import orjson

from maillog_cli.model import EVENT_KEYS

from .conftest import require_shared


def test_import_search_show_roundtrip(cli, tmp_path: Path) -> None:
    shared = require_shared()
    r = cli("import", shared / "samples/maillog/events.jsonl")
    assert r.exit_code == 0, r
    assert "5 new events" in r.stderr
    r = cli("search", "--format", "jsonl", "--limit", "0")
    rows = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 5
    assert all(list(row) == list(EVENT_KEYS) for row in rows)
    assert [row["timestamp"] for row in rows] == sorted(
        (row["timestamp"] for row in rows), reverse=True
    )
    out = tmp_path / "out.jsonl"
    out.write_text(r.stdout)
    other = tmp_path / "other.db"
    assert cli("--db", other, "import", out).exit_code == 0
    again = cli("--db", other, "search", "--format", "jsonl", "--limit", "0")
    assert again.stdout == r.stdout

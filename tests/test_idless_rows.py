"""Rows that name no message get a stable synthetic message id: counted by `stats`, the same
row imported twice is stored once, and the id cannot be taken for a real one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

CSV = """date,email,from,subject,status
2026-02-01T09:00:00Z,ann@example.com,shop@acme.test,Your order,delivered
2026-02-01T09:05:00Z,bob@example.com,shop@acme.test,Your order,bounced
2026-02-01T09:07:00Z,cy@example.com,shop@acme.test,Welcome,sent
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def stats(cli) -> dict:
    r = cli("stats", "--format", "json")
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


def message_ids(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return sorted(r[0] for r in conn.execute("SELECT message_id FROM messages"))


def test_idless_rows_are_messages_that_stats_counts(cli, tmp_path, db_path) -> None:
    r = cli("import", write(tmp_path, "log.csv", CSV))
    assert r.exit_code == 0, r
    s = stats(cli)
    assert s["messages"] == 3
    assert s["by_status"]["delivered"] == 1
    assert s["by_status"]["bounced"] == 1
    ids = message_ids(db_path)
    assert len(ids) == 3 and all(i.startswith("noid-") for i in ids)
    shown = cli("show", ids[0])
    assert shown.exit_code == 0, shown


def test_the_same_idless_row_imported_again_is_the_same_message(cli, tmp_path, db_path) -> None:
    assert cli("import", write(tmp_path, "a.csv", CSV)).exit_code == 0
    before = message_ids(db_path)
    # the same rows again, from another file and another shape (JSONL, other column names)
    rows = [line.split(",") for line in CSV.splitlines()[1:]]
    jsonl = "\n".join(
        json.dumps({"created_at": t, "recipient": to, "sender": fr, "subject": su, "event": st})
        for t, to, fr, su, st in rows
    )
    r = cli("import", write(tmp_path, "b.jsonl", jsonl))
    assert r.exit_code == 0, r
    assert message_ids(db_path) == before
    assert stats(cli)["messages"] == 3
    r = cli("import", write(tmp_path, "c.csv", CSV))
    assert "0 new events" in r.stdout + r.stderr


def test_rows_with_a_real_id_keep_it(cli, tmp_path, db_path) -> None:
    text = "date,email,status,message_id\n2026-02-01T09:00:00Z,ann@example.com,sent,abc@mail\n"
    assert cli("import", write(tmp_path, "ids.csv", text)).exit_code == 0
    assert message_ids(db_path) == ["abc@mail"]

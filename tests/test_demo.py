from __future__ import annotations

import sqlite3
from pathlib import Path

from maillog_cli.dates import format_dt


def test_demo_data_imports_cleanly_and_covers_every_part(
    cli, tmp_path: Path, db_path: Path
) -> None:
    from datetime import UTC, datetime

    out = tmp_path / "demo"
    r = cli("demo", "--out", out, "--messages", "300")
    now = format_dt(datetime.now(UTC))
    assert r.exit_code == 0, r
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "audit-log.json",
        "events.jsonl",
        "sendgrid-webhook.json",
        "sent-mail.mbox",
    ]
    r = cli("import", *files)
    assert r.exit_code == 0, r
    assert (
        "[audit]" in r.stderr
        and "[sendgrid]" in r.stderr
        and "[email]" in r.stderr
        and "emails stored" in r.stderr
    )
    with sqlite3.connect(db_path) as conn:
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM events")}
        newest = conn.execute("SELECT max(timestamp) FROM events").fetchone()[0]
        secrets = conn.execute(
            "SELECT count(*) FROM audit WHERE metadata LIKE '%hunter2%'"
        ).fetchone()[0]
        content = conn.execute("SELECT count(*) FROM message_content").fetchone()[0]
    assert {"queued", "delivered", "bounced", "deferred", "opened"} <= statuses
    assert newest <= now
    assert secrets == 0 and content > 0

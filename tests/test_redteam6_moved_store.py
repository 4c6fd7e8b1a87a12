"""Red team 6: a long-running writer whose store file is removed or replaced under it.

`tail --import` kept importing into the file it had opened: after `rm maillog.db` (or a
backup moved over it) every new line was "imported" into a file nobody would read again.
(`maillog serve`'s case is in test_redteam6_serve.py.)
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _line(i: int) -> str:
    return json.dumps({
        "event_id": f"t{i}", "message_id": f"t{i}@example.com",
        "timestamp": "2026-01-01T00:00:00Z", "provider": "ses", "status": "delivered",
        "recipient": f"t{i}@example.org",
    }) + "\n"  # fmt: skip


def _stored(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_tail_import_stops_with_an_error_when_its_store_is_removed(tmp_path: Path) -> None:
    db, hooks = tmp_path / "m.db", tmp_path / "hooks.jsonl"
    hooks.write_text(_line(1))
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "--import", str(hooks), "--interval", "0.1",
         "--from-start", "--format", "jsonl"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while _stored(db) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _stored(db) == 1
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        with hooks.open("a") as fh:
            fh.write(_line(2))
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert f"{db} was removed or replaced while maillog had it open" in err
    assert "hooks.jsonl from line 2 on is not imported" in err

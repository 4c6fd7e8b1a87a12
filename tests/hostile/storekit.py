"""What the hostile store tests share: events made at test time, the CLI as a subprocess."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(ident: str, minute: int = 0, day: datetime = T0, **extra: Any) -> dict[str, Any]:
    """One event in maillog's own JSONL format, `minute` minutes after `day`."""
    row = {
        "event_id": ident,
        "message_id": f"{ident}@relay.example.com",
        "timestamp": (day + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provider": "postfix",
        "status": "delivered",
        "sender": "app@example.com",
        "recipient": f"{ident}@example.org",
        "subject": f"Report {ident}",
    }
    row.update(extra)
    return row


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def env(db: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT), **extra}


def run(
    *args: Any, db: Path, timeout: float = 120, **extra_env: str
) -> subprocess.CompletedProcess:
    """The real program, in its own process (its exit code, stderr and signals are real)."""
    return subprocess.run(
        [sys.executable, "-m", "maillog_cli", *map(str, args)],
        env=env(db, **extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn(*args: Any, db: Path, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", *map(str, args)],
        env=env(db, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def count(db: Path, table: str = "events") -> int:
    from urllib.parse import quote

    with sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def one_line_error(stderr: str) -> str:
    """The stderr of a failed command: exactly one `maillog: error:` line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert lines and lines[-1].startswith("maillog: error: "), stderr
    return lines[-1]

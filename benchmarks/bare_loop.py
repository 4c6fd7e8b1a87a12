"""The loop a user would write by hand, the yardstick of issue 17's import targets.

    python benchmarks/bare_loop.py FILE [--db out.db] [--shape maillog|sendgrid] [--keep]

`json.loads` per line + `executemany` in 10k batches, one transaction, WAL,
`synchronous=NORMAL`, an `events` table with the 15 contract columns of DESIGN.md,
`UNIQUE(event_id)` and 4 indexes (`timestamp`; `status, timestamp`; `recipient`;
`message_id`). Without `--keep` the database starts empty; with it, the file goes into the
table already there ("the bare loop into its own loaded table").

For a SendGrid dump the loop only renames keys (the values go in as they come: epoch
seconds, SendGrid's own event words), the least a hand-written loop can do.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

COLUMNS = (
    "event_id",
    "message_id",
    "timestamp",
    "provider",
    "direction",
    "status",
    "raw_status",
    "sender",
    "recipient",
    "subject",
    "smtp_code",
    "enhanced_code",
    "diagnostic",
    "bounce_class",
    "bounce_reason",
)
SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, {', '.join(COLUMNS)},"
    " UNIQUE(event_id))",
    "CREATE INDEX IF NOT EXISTS events_ts ON events(timestamp)",
    "CREATE INDEX IF NOT EXISTS events_status_ts ON events(status, timestamp)",
    "CREATE INDEX IF NOT EXISTS events_rcpt ON events(recipient)",
    "CREATE INDEX IF NOT EXISTS events_msg ON events(message_id)",
)
INSERT = f"INSERT OR IGNORE INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
BATCH = 10_000
# Which key of a SendGrid webhook event feeds each contract column (None: no such key).
SENDGRID_KEYS = {
    "event_id": "sg_event_id",
    "message_id": "sg_message_id",
    "timestamp": "timestamp",
    "status": "event",
    "raw_status": "event",
    "recipient": "email",
    "subject": "subject",
    "diagnostic": "reason",
}


def remove(db: Path) -> None:
    """The database and its WAL companions, so the next load starts from nothing."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def _keys(shape: str) -> tuple[str | None, ...]:
    if shape == "maillog":
        return COLUMNS
    return tuple(SENDGRID_KEYS.get(c) for c in COLUMNS)


def load(path: Path, db: Path, shape: str = "maillog", keep: bool = False) -> tuple[float, int]:
    """Load one JSONL file; returns (wall seconds of the load, rows in the table after).

    The clock starts after the schema exists, as a user's loop would run against a table
    created once; it stops after the commit.
    """
    if not keep:
        remove(db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for sql in SCHEMA:
        conn.execute(sql)
    keys = _keys(shape)
    start = time.perf_counter()
    conn.execute("BEGIN")
    batch: list[tuple[object, ...]] = []
    with path.open("rb") as f:
        for line in f:
            r = json.loads(line)
            batch.append(tuple(map(r.get, keys)))  # a missing key (or None) gives None
            if len(batch) >= BATCH:
                conn.executemany(INSERT, batch)
                batch.clear()
    conn.executemany(INSERT, batch)
    conn.execute("COMMIT")
    wall = time.perf_counter() - start
    rows = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return wall, int(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--db", type=Path, default=Path("bare.db"))
    ap.add_argument("--shape", choices=("maillog", "sendgrid"), default="maillog")
    ap.add_argument("--keep", action="store_true", help="load into the table already there")
    args = ap.parse_args()
    wall, rows = load(args.file, args.db, args.shape, args.keep)
    print(f"{args.file}: {wall:.2f} s, {rows:,} rows in {args.db}")


if __name__ == "__main__":
    main()

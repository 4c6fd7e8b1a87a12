"""What SQLite alone needs to write a maillog store, beside the bare loop (issue 17).

    python benchmarks/import_floor.py [--events 200000] [--runs 3]

Issue 17 asks `maillog import` for 2× the bare loop (benchmarks/bare_loop.py). This script
measures the part no Python tuning can remove: the same events, already parsed and turned
into store rows by a real import, copied into a fresh store with one `INSERT … SELECT` (no
Python per row at all), then every step an import of a first big file does after it — the
events indexes built, the messages rows computed, the messages indexes built, the FTS rows,
the commit. Beside it, the bare loop's whole run and the bare loop's own SQLite share (its
rows already parsed, `executemany` into its indexed table).

If the floor alone is longer than half the bare loop, 2× is out of reach for any importer
writing this store with one writer, however fast its parser: the figure says by how much.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import bare_loop  # noqa: E402
from import_targets import OUT, dataset  # noqa: E402

from maillog_cli.store.db import Store  # noqa: E402
from maillog_cli.store.migrations import create_fts_triggers, drop_fts_triggers  # noqa: E402


def import_rows(path: Path, work: Path) -> Path:
    """A store holding `path`'s events, written by a real `maillog import` (not timed)."""
    db = work / "source.db"
    subprocess.run(
        [sys.executable, "-P", "-m", "maillog_cli", "--db", str(db), "import", str(path)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return db


def timed(stages: dict[str, float], name: str, step: Callable[[], object]) -> None:
    start = time.perf_counter()
    step()
    stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


def floor(source: Path, work: Path) -> dict[str, float]:
    """Seconds per step of writing `source`'s events into a new store, SQLite only."""
    target = work / "floor.db"
    bare_loop.remove(target)
    store = Store.open(target)
    conn = store.conn
    cols = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    names = ", ".join(cols)
    conn.execute(f"ATTACH DATABASE '{source}' AS src")
    stages: dict[str, float] = {}
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    drop_fts_triggers(conn)
    conn.execute("INSERT INTO events_fts(events_fts, rank) VALUES ('automerge', 0)")
    dropped = store._drop_indexes("events")
    conn.execute("CREATE TEMP TABLE touched (message_id TEXT PRIMARY KEY)")
    timed(
        stages,
        "events rows (INSERT … SELECT)",
        lambda: conn.execute(f"INSERT INTO events({names}) SELECT {names} FROM src.events"),
    )
    timed(
        stages,
        "aliases",
        lambda: conn.execute("INSERT INTO message_aliases SELECT * FROM src.message_aliases"),
    )
    timed(
        stages,
        "touched ids",
        lambda: conn.execute(
            "INSERT OR IGNORE INTO touched SELECT message_id FROM events"
            " WHERE message_id IS NOT NULL"
        ),
    )
    timed(stages, "events indexes", lambda: [conn.execute(sql) for sql in dropped])
    timed(stages, "FTS rows", lambda: store.index_text(0))
    conn.execute("INSERT INTO events_fts(events_fts, rank) VALUES ('automerge', 4)")
    create_fts_triggers(conn)

    def refresh() -> None:
        with store.indexes_deferred("messages", True):
            stages["messages rows"] = -time.perf_counter()
            store.refresh_messages("touched")
            stages["messages rows"] += time.perf_counter()
            stages["messages indexes"] = -time.perf_counter()
        stages["messages indexes"] += time.perf_counter()

    refresh()
    timed(stages, "commit", lambda: conn.execute("COMMIT"))
    timed(stages, "checkpoint", lambda: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    stages["total"] = time.perf_counter() - start
    store.close()
    return stages


def bare_sqlite_share(path: Path, work: Path) -> float:
    """The bare loop's SQLite part: its rows parsed beforehand, then executemany + commit."""
    db = work / "bare-share.db"
    bare_loop.remove(db)
    rows = []
    with path.open("rb") as f:
        for line in f:
            rec = json.loads(line)
            rows.append(tuple(rec.get(c) for c in bare_loop.COLUMNS))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for sql in bare_loop.SCHEMA:
        conn.execute(sql)
    start = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(0, len(rows), bare_loop.BATCH):
        conn.executemany(bare_loop.INSERT, rows[i : i + bare_loop.BATCH])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3, help="best of N for each figure")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = dataset("maillog", args.events, "maillog", seed=42)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        work = Path(tmp)
        source = import_rows(path, work)
        bare_runs, share_runs, floors = [], [], []
        for _ in range(args.runs):
            bare_runs.append(bare_loop.load(path, work / "bare.db")[0])
            share_runs.append(bare_sqlite_share(path, work))
            floors.append(floor(source, work))
    bare = min(bare_runs)
    share = min(share_runs)
    best = min(floors, key=lambda s: s["total"])
    n = args.events
    print(f"# SQLite floor of a maillog store, {n:,} events of our JSONL, best of {args.runs}")
    print(f"bare loop, whole run            {bare:6.2f} s")
    print(f"bare loop, its SQLite share     {share:6.2f} s  (rows parsed beforehand)")
    print(
        f"maillog store, SQLite only      {best['total']:6.2f} s  (no parsing, no Python per row)"
    )
    for name, seconds in best.items():
        if name != "total":
            print(f"  {name:30s} {seconds:6.2f} s")
    print(
        f"best import possible with this store and one writer: {bare / best['total']:.2f}×"
        f" the bare loop (issue 17 asks 2×; needs the floor ≤ {bare / 2:.2f} s)"
    )


if __name__ == "__main__":
    main()

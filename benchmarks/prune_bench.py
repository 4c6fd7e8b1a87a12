"""`maillog prune`: time to prune half of a 1M-event store, and how long a reader is blocked.

    python benchmarks/prune_bench.py [--events 1000000] [--archive] [--rounds 1]

Builds (once, cached in benchmarks/out/) a store of --events generated events through the
real `maillog import`, copies it, then runs `maillog prune --before MEDIAN --yes` as a
separate process — half of the events go (FTS rows included), with the messages they
empty — while another process loops over `search`-like queries (newest page, a status
filter, a domain filter, free text, the `tail --follow` poll) and records how long each one
took. Prints the prune's wall time (and its delete / reclaim parts), the longest write
transaction (what a concurrent import could wait), and the reader's longest and p99
query time during the prune next to the same figures before it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from maillog_cli.store.db import Store  # noqa: E402
from maillog_cli.store.query import build, events_sql  # noqa: E402

MAILLOG = [sys.executable, "-m", "maillog_cli"]


def base_store(events: int) -> Path:
    """A migrated store holding `events` generated events (built once, then reused)."""
    from generate import write as generate

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"prune-base-{events}.db"
    if db.exists():
        return db
    data = OUT / ("events-1m.jsonl" if events == 1_000_000 else f"events-{events}.jsonl")
    if not data.exists():
        t = time.monotonic()
        generate(data, events, "maillog")
        print(f"generated {events:,} events in {time.monotonic() - t:.1f} s", file=sys.stderr)
    t = time.monotonic()
    tmp = db.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    subprocess.run([*MAILLOG, "--db", str(tmp), "import", "--quiet", str(data)], check=True)
    os.replace(tmp, db)
    print(f"imported into {db} in {time.monotonic() - t:.1f} s", file=sys.stderr)
    return db


def fresh_copy(base: Path) -> Path:
    work = OUT / "prune-work.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, work)
    return work


QUERIES = [
    build(),  # the newest page (search, the TUI's first screen)
    build(statuses=["bounced"]),
    build(domain="gmail.com"),
    build(text="invoice"),
]


def reader(db: str, stop, phase, results) -> None:  # type: ignore[no-untyped-def]
    """Search-like queries in a loop; each one's wall time, per phase (before / during)."""
    store = Store.open(db, readonly=True)
    times: dict[int, list[float]] = {0: [], 1: []}
    i = 0
    while not stop.is_set():
        f = QUERIES[i % len(QUERIES)]
        i += 1
        sql, params = events_sql(f, 100)
        t = time.monotonic()
        store.conn.execute(sql, params).fetchall()
        store.conn.execute("PRAGMA data_version").fetchone()  # the tail --follow poll
        times[phase.value].append(time.monotonic() - t)
        time.sleep(0.01)
    results.put({k: v for k, v in times.items()})


def figures(samples: list[float]) -> str:
    if not samples:
        return "no queries"
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return (
        f"{len(samples)} queries, median {statistics.median(samples) * 1000:.1f} ms,"
        f" p99 {p99 * 1000:.1f} ms, longest {samples[-1] * 1000:.0f} ms"
    )


def median_timestamp(db: Path) -> str:
    store = Store.open(db, readonly=True)
    n = store.conn.execute("SELECT count(*) FROM events").fetchone()[0]
    ts = store.conn.execute(
        "SELECT timestamp FROM events ORDER BY timestamp LIMIT 1 OFFSET ?", (n // 2,)
    ).fetchone()[0]
    store.close()
    return ts


def one_round(base: Path, archive: bool, baseline: float) -> None:
    db = fresh_copy(base)
    cutoff = median_timestamp(db)
    ctx = mp.get_context("spawn")
    stop, phase, results = ctx.Event(), ctx.Value("i", 0), ctx.Queue()
    proc = ctx.Process(target=reader, args=(str(db), stop, phase, results))
    proc.start()
    time.sleep(baseline)
    phase.value = 1
    args = [*MAILLOG, "--db", str(db), "prune", "--before", cutoff, "--yes", "--format", "json"]
    arch = OUT / "prune-archive.jsonl.gz"
    arch.unlink(missing_ok=True)
    if archive:
        args += ["--archive", str(arch)]
    t = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True)
    wall = time.monotonic() - t
    stop.set()
    times = results.get()
    proc.join()
    if r.returncode != 0:
        sys.exit(f"prune failed: {r.stderr}")
    out = json.loads(r.stdout)
    s = out["seconds"]
    print(f"pruned {out['events']:,} events and {out['messages']:,} messages (cut-off {cutoff})")
    print(
        f"  prune wall time {wall:.1f} s  (archive {s.get('archive', 0):.1f} s, delete"
        f" {s['delete']:.1f} s in {out['batches']} batches, reclaim {s['reclaim']:.1f} s)"
    )
    print(
        f"  longest write transaction (a concurrent import waits at most this): {out['longest_batch_seconds']:.2f} s"
    )
    print(f"  file {out['size_before'] / 1e6:,.0f} MB -> {out['size_after'] / 1e6:,.0f} MB")
    print(f"  reader before the prune: {figures(times[0])}")
    print(f"  reader during the prune: {figures(times[1])}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--archive", action="store_true", help="also write a .jsonl.gz archive first")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--baseline", type=float, default=3.0, help="seconds of reader-only queries first"
    )
    args = ap.parse_args()
    base = base_store(args.events)
    for _ in range(args.rounds):
        one_round(base, args.archive, args.baseline)


if __name__ == "__main__":
    main()

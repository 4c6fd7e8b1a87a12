"""Import and query speed on 1M events, each figure beside a bare baseline from the same run.

    python benchmarks/import_bench.py [--events 1000000] [--big]

Baselines (issues 2 and 17): the bare loop of `bare_loop.py` (`json.loads` + `executemany`
in 10k batches into an events table of the 15 contract columns with 4 indexes and a unique
event id); and `jq 'select(.event=="bounce")'` over the raw SendGrid dump
when jq is installed. `--big` also measures peak memory importing a ~1 GB JSONL file and a
200 MB one-line JSON array.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT / "benchmarks"))
import bare_loop as hand_loop  # noqa: E402
from generate import write  # noqa: E402

MAILLOG = [sys.executable, "-m", "maillog_cli"]


def run(args: list[str], db: Path, quiet: bool = True) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one maillog command."""
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run(
        [*MAILLOG, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if quiet else None,
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise SystemExit(
            f"maillog {' '.join(args)} failed: {proc.stderr.decode()[-500:] if proc.stderr else ''}"
        )
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, rss


def fresh(db: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return db


def bare_loop(path: Path, db: Path) -> float:
    """The baseline of issue 17 (benchmarks/bare_loop.py), into an empty table."""
    return hand_loop.load(path, db)[0]


def line(
    name: str,
    seconds: float,
    events: int | None = None,
    baseline: float | None = None,
    extra: str = "",
) -> None:
    rate = f"{events / seconds:>9,.0f} ev/s" if events else " " * 14
    ratio = f"  ({baseline / seconds:.2f}× the bare loop)" if baseline else ""
    print(f"{name:<48} {seconds:7.2f} s {rate}{ratio}{extra}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument(
        "--big", action="store_true", help="also the 1 GB / 200 MB memory checks (slow)"
    )
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    n = args.events
    ours = OUT / f"maillog-{n}.jsonl"
    sg = OUT / f"sendgrid-{n}.jsonl"
    if not ours.exists():
        write(ours, n, "maillog")
    if not sg.exists():
        write(sg, n, "sendgrid")
    db = OUT / "bench.db"

    print(f"# import and queries, {n:,} events ({ours.stat().st_size / 1e6:.0f} MB of our JSONL)")
    base = bare_loop(ours, OUT / "bare.db")
    line("bare loop (bare_loop.py: json.loads + executemany)", base, n)
    wall, rss = run(["import", "-q", str(ours)], fresh(db))
    line("maillog import, our JSONL, empty store", wall, n, base, f"  peak {rss:.0f} MB")
    ours2 = OUT / f"maillog-{n}-b.jsonl"
    if not ours2.exists():
        from datetime import UTC, datetime

        import generate

        generate.NOW = datetime(2026, 10, 1, tzinfo=UTC)
        write(ours2, n, "maillog", seed=4242)
    wall, _ = run(["import", "-q", str(ours2)], db)
    line(f"maillog import into a store holding {n:,}", wall, n, base)
    wall, _ = run(["import", "-q", str(sg)], fresh(OUT / "sg.db"))
    line("maillog import, SendGrid webhook JSONL, empty", wall, n, base)
    if shutil.which("jq"):
        start = time.perf_counter()
        subprocess.run(
            ["jq", "-c", 'select(.event=="bounce")', str(sg)], stdout=subprocess.DEVNULL, check=True
        )
        line("jq 'select(.event==\"bounce\")' over the dump", time.perf_counter() - start)

    conn = sqlite3.connect(db)
    rcpt = conn.execute(
        "SELECT recipient FROM events WHERE recipient IS NOT NULL LIMIT 1 OFFSET ?",
        (min(1000, n // 2),),  # a small --events run has fewer rows than the offset
    ).fetchone()[0]
    domain = conn.execute(
        "SELECT recipient_domain FROM events WHERE recipient_domain = 'yahoo.com' LIMIT 1"
    ).fetchone()[0]
    mid = conn.execute(
        "SELECT message_id FROM events LIMIT 1 OFFSET ?", (min(5000, n // 2),)
    ).fetchone()[0]
    conn.close()
    total = 2 * n
    print(f"# whole commands on a {total:,}-event store (includes Python start-up)")
    for label, cmd in (
        ("maillog --help", ["--help"]),
        ("search --status bounced --limit 50", ["search", "--status", "bounced", "--limit", "50"]),
        (f"search --to {rcpt}", ["search", "--to", rcpt]),
        (f"search --domain {domain} --since 7d", ["search", "--domain", domain, "--since", "7d"]),
        ("search --messages --limit 50", ["search", "--messages", "--limit", "50"]),
        ('search "mailbox" (FTS) --limit 50', ["search", "mailbox", "--limit", "50"]),
        ("show MSGID", ["show", mid]),
    ):
        best = min(run(cmd, db)[0] for _ in range(3))
        line(label, best, extra="  (best of 3)")

    if args.big:
        print("# peak memory on big inputs")
        big = OUT / "big-1gb.jsonl"
        if not big.exists():
            write(big, 4_000_000, "maillog")
        wall, rss = run(["import", "-q", str(big)], fresh(OUT / "big.db"))
        line(
            f"import {big.stat().st_size / 1e9:.1f} GB JSONL",
            wall,
            4_000_000,
            extra=f"  peak {rss:.0f} MB",
        )
        arr = OUT / "array-200mb.json"
        if not arr.exists():
            with arr.open("wb") as f, (OUT / f"maillog-{n}.jsonl").open("rb") as src:
                f.write(b"[")
                size, first = 0, True
                for raw in src:
                    if size > 200e6:
                        break
                    f.write((b"" if first else b",") + raw.rstrip(b"\n"))
                    size += len(raw)
                    first = False
                f.write(b"]")
        wall, rss = run(["import", "-q", str(arr)], fresh(OUT / "arr.db"))
        line(
            f"import {arr.stat().st_size / 1e6:.0f} MB one-line JSON array",
            wall,
            extra=f"  peak {rss:.0f} MB",
        )


if __name__ == "__main__":
    main()

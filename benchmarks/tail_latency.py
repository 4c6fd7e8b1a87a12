"""`tail --follow`: delay from an import's commit to the line, and the CPU of an idle follower.

    python benchmarks/tail_latency.py [--store-events 200000] [--rounds 20] [--idle 10]

Builds a store of --store-events generated events, starts `maillog tail --follow --format
jsonl --status bounced` as a separate process, then imports one new bounce at a time from
this process and measures, on one monotonic clock, the time from the import's commit to
its line arriving on the follower's stdout. Then leaves the follower idle and reads its
CPU time from /proc. Also times one idle poll in-process (the data_version check, and
the keyset query that runs when something did change) to show that neither grows with
the store.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import write as generate  # noqa: E402

from maillog_cli import follow as core  # noqa: E402
from maillog_cli.ingest.pipeline import Options, import_path  # noqa: E402
from maillog_cli.store.db import Store  # noqa: E402
from maillog_cli.store.query import build  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bounce(i: int) -> bytes:
    return (
        orjson.dumps(
            {
                "event_id": f"bench-tail-{i}",
                "message_id": f"bench-tail-{i}@example.com",
                "timestamp": f"2026-11-01T12:00:{i % 60:02d}Z",
                "provider": "postfix",
                "status": "bounced",
                "recipient": f"user{i}@gmail.com",
                "subject": "bench",
                "smtp_code": 550,
                "enhanced_code": "5.1.1",
                "diagnostic": "550 5.1.1 User unknown",
            }
        )
        + b"\n"
    )


def timed(fn, repeat: int = 200) -> float:
    """Median seconds of one call."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store-events", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds the follower is left idle")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        db = tmpdir / "bench.db"
        seed_file = tmpdir / "seed.jsonl"
        n = generate(seed_file, args.store_events, "maillog")
        t = time.perf_counter()
        writer = Store.open(db)
        import_path(writer, str(seed_file), Options(), lambda m: None)
        print(f"store: {n:,} events imported in {time.perf_counter() - t:.1f}s")

        # One idle poll, in-process, on this store.
        reader = Store.open(db, readonly=True)
        changes = core.Changes(reader)
        top = reader.conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        f = build(statuses=["bounced"], domain="gmail.com")
        print(
            f"idle poll: data_version check {timed(changes.changed) * 1e6:.1f} µs; keyset query with nothing new {timed(lambda: core.newer(reader, f, top)) * 1e6:.1f} µs"
        )
        reader.close()

        env = {**os.environ, "MAILLOG_DB": str(db), "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "maillog_cli",
                "tail",
                "--follow",
                "--format",
                "jsonl",
                "-n",
                "1",
                "--status",
                "bounced",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        arrivals: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def pump() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                arrivals.put((time.monotonic(), line))

        threading.Thread(target=pump, daemon=True).start()
        try:
            arrivals.get(timeout=60)  # the backlog line: the follower is following
            delays = []
            rng = random.Random(7)
            for i in range(args.rounds):
                time.sleep(rng.uniform(0.05, 0.4))  # land at any phase of the poll interval
                path = tmpdir / f"one-{i}.jsonl"
                path.write_bytes(bounce(i))
                import_path(writer, str(path), Options(), lambda m: None)
                committed = time.monotonic()
                arrived, line = arrivals.get(timeout=10)
                assert orjson.loads(line)["event_id"] == f"bench-tail-{i}", line
                delays.append(arrived - committed)
            delays.sort()
            p95 = delays[min(len(delays) - 1, int(len(delays) * 0.95))]
            print(
                f"commit → line ({args.rounds} imports, interval 0.25 s): median {statistics.median(delays) * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
            )
            before = cpu_seconds(proc.pid)
            time.sleep(args.idle)
            used = cpu_seconds(proc.pid) - before
            print(
                f"idle follower: {used * 1000:.0f} ms CPU over {args.idle:.0f} s ({used / args.idle:.2%} of one core)"
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            writer.close()


if __name__ == "__main__":
    main()

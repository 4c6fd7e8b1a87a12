"""Time `maillog stats` as whole commands on a 1M-event store.

    python benchmarks/stats_bench.py [--events 1000000] [--db /tmp/stats-bench.db] [--runs 3]

Writes our JSONL with benchmarks/generate.py and imports it with `maillog import` (both
skipped when the files exist), then runs each command in a fresh process with its
stdout on a pseudo-terminal (so the Rich table and the chart are drawn, as a person sees
them) and prints the best and the median wall time of --runs runs. Targets (issue 9):
`stats --since 30d` under 1 s, `stats --by domain` under 2 s. The generator's data end
on 2026-11-01, so besides the literal `--since 30d` (relative to today) the script also
times the last 30 days of the data (`--since 2026-10-02`, about half the messages) and
`--by domain` over its last 7 days.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "maillog"

# (arguments after `stats`, target in seconds or None)
CASES: list[tuple[list[str], float | None]] = [
    (["--since", "30d"], 1.0),
    (["--since", "2026-10-02"], 1.0),
    (["--by", "domain"], 2.0),
    (["--by", "domain", "--since", "2026-10-25"], 2.0),
    ([], None),
    (["--by", "provider"], None),
    (["--by", "sender"], None),
    (["--by", "week"], None),
    (["--format", "json"], None),
    (["--by", "domain", "--format", "csv"], None),
]


def _command() -> list[str]:
    return [str(BIN)] if BIN.exists() else [sys.executable, "-m", "maillog_cli"]


def build(events: int, db: Path) -> None:
    """The JSONL file and the store, unless they are there already."""
    data = db.with_suffix(".jsonl")
    if not data.exists():
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--events", str(events), "--out", str(data)],
            check=True,
        )  # fmt: skip
        print(f"generate: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if not db.exists():
        t = time.perf_counter()
        subprocess.run([*_command(), "--db", str(db), "import", str(data)], check=True)
        print(f"import: {time.perf_counter() - t:.1f} s", file=sys.stderr)


def run_on_tty(args: list[str]) -> tuple[float, int]:
    """Wall time of one command whose stdout is a terminal; (seconds, bytes printed)."""
    master, slave = pty.openpty()
    got = [0]

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            got[0] += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {**os.environ, "COLUMNS": "80"}
    t = time.perf_counter()
    proc = subprocess.run(args, stdout=slave, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.perf_counter() - t
    os.close(slave)
    reader.join(timeout=5)
    os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return elapsed, got[0]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/stats-bench.db"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    build(args.events, args.db)
    base = [*_command(), "--db", str(args.db), "stats"]
    run_on_tty([*base, "--since", "30d"])  # warm the page cache once
    missed = 0
    print(f"{'command':<48} {'best':>7} {'median':>7}  target")
    for extra, target in CASES:
        times = [run_on_tty([*base, *extra])[0] for _ in range(args.runs)]
        best, median = min(times), statistics.median(times)
        verdict = (
            ""
            if target is None
            else (f"< {target:.0f} s ok" if median < target else f"< {target:.0f} s MISSED")
        )
        missed += bool(target is not None and median >= target)
        print(f"{'stats ' + ' '.join(extra):<48} {best:>6.2f}s {median:>6.2f}s  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

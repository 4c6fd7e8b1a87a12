"""TUI timings on a 1M-event store, driven headless with Textual's Pilot.

    python benchmarks/tui_bench.py [--db PATH] [--events 1000000]

Builds the store once (benchmarks/generate.py → `maillog import`), then prints:
- start: from importing the app to the first page of rows drawn (headless, 160×48);
- scroll: the cost of one page-down, averaged over many, including the page fetches
  that happen as the cursor nears the end of what is loaded — as CPU time (the work:
  key handling, fetch, drawing the frame) and as wall time, which also counts Pilot's
  waits for the app to be idle and the ~60 Hz screen refresh timer;
- the same with a filter (status:bounced) and with free text (FTS).
Targets from issue 10: first page under 1 s, a page of scrolling under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def build(db: Path, events: int) -> None:
    if db.exists():
        return
    OUT.mkdir(parents=True, exist_ok=True)
    data = (
        OUT / f"events-{events // 1000}k.jsonl" if events < 1_000_000 else OUT / "events-1m.jsonl"
    )
    if not data.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "generate.py"),
                "--events",
                str(events),
                "--out",
                str(data),
            ],
            check=True,
        )
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "maillog_cli", "--db", str(db), "import", str(data)], check=True
    )
    print(f"built {db} in {time.perf_counter() - t:.1f} s", file=sys.stderr)


async def measure(
    db: Path, words: str, presses: int
) -> tuple[float, list[float], list[float], int]:
    t0 = time.perf_counter()
    from maillog_cli.store.query import parse_words
    from maillog_cli.tui.app import MaillogApp
    from maillog_cli.tui.data import Source

    source = Source(db)
    app = MaillogApp(source, parse_words(words), words)
    async with app.run_test(size=(160, 48)) as pilot:
        view = app.emails
        while not view.rows and not view.exhausted:  # the first page (none may match)
            await pilot.pause(0.001)
        await pilot.pause()  # drawn
        start = time.perf_counter() - t0
        costs, cpu = [], []
        for _ in range(presses):
            t, c = time.perf_counter(), time.process_time()
            await pilot.press("pagedown")
            await pilot.pause()
            while view.loading:  # a page fetch the press started: part of its cost
                await pilot.pause(0.001)
            costs.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        rows = len(view.rows)
    source.close()
    return start, costs, cpu, rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", type=Path, default=OUT / "tui-1m.db")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--presses", type=int, default=60)
    args = ap.parse_args()
    build(args.db, args.events)
    for words in ("", "status:bounced", "domain:gmail.com class:hard", '"password"'):
        start, costs, cpu, rows = asyncio.run(measure(args.db, words, args.presses))
        wall = sorted(c * 1000 for c in costs)
        work = sorted(c * 1000 for c in cpu)
        print(
            f"{words or '(no filter)':<28} first page {start * 1000:5.0f} ms | page-down CPU mean {statistics.mean(work):5.1f}"
            f" p95 {work[int(len(work) * 0.95) - 1]:5.1f} ms, wall (incl. Pilot's idle waits) mean"
            f" {statistics.mean(wall):5.1f} p95 {wall[int(len(wall) * 0.95) - 1]:5.1f} ms | {rows} rows loaded"
        )


if __name__ == "__main__":
    main()

"""`make bench`: every benchmark script in turn, each printing its own figures.

Big-data checks live here, not in `make test`. Set BENCH_EVENTS to shrink the runs
(default 1,000,000), BENCH_BIG=1 for the 1 GB memory checks and BENCH_GROWTH=1 for
import_targets' growth series (N → 5N events in one store).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "import_bench",
    "import_targets",
    "import_floor",
    "bounce_accuracy",
    "reclassify_bench",
    "stats_bench",
    "prune_bench",
    "tail_latency",
    "tui_bench",
    "serve_bench",
    "mta_bench",
    "check_bench",
    "query_times",
)


def main() -> int:
    helpers = ("run_all", "generate", "bare_loop")  # modules the benchmarks use, not benchmarks
    scripts = {p.stem: p for p in HERE.glob("*.py") if p.stem not in helpers}
    names = [n for n in ORDER if n in scripts] + sorted(set(scripts) - set(ORDER))
    failed = []
    for name in names:
        args = []
        if name == "import_bench":
            args = ["--events", os.environ.get("BENCH_EVENTS", "1000000")] + (
                ["--big"] if os.environ.get("BENCH_BIG") else []
            )
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(scripts[name]), *args], cwd=HERE.parent)
        print(
            f"--- {name}: {'ok' if code == 0 else f'exit {code}'} in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Deterministic generator of realistic events for the benchmarks (millions, fast).

    python benchmarks/generate.py --events 1000000 --format maillog > events.jsonl
    python benchmarks/generate.py --events 1000000 --format sendgrid > sendgrid.jsonl

Uses the same lifecycles as `maillog demo` (maillog_cli/demo.py); ~2.6 events per message.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from maillog_cli.demo import iter_events, sendgrid_batch  # noqa: E402

NOW = datetime(2026, 11, 1, tzinfo=UTC)  # fixed, so every run writes the same bytes
EVENTS_PER_MESSAGE = 2.5


def write(path: Path, events: int, fmt: str, seed: int = 42, now: datetime | None = None) -> int:
    """Write about `events` events; returns the exact count written. Another `seed` (and
    `now`) gives other messages and event ids: a second file that adds, not duplicates."""
    now = now or NOW
    messages = int(events / EVENTS_PER_MESSAGE) + 1
    n = 0
    with path.open("wb") as f:
        if fmt == "maillog":
            for row in iter_events(messages, seed=seed, now=now, days=60):
                f.write(orjson.dumps(row) + b"\n")
                n += 1
                if n >= events:
                    break
        else:
            step = 20_000
            for start in range(0, messages, step):
                for e in sendgrid_batch(min(step, messages - start), seed + start, now):
                    f.write(orjson.dumps(e) + b"\n")
                    n += 1
                    if n >= events:
                        return n
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("maillog", "sendgrid"), default="maillog")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=42, help="another seed: other messages")
    args = ap.parse_args()
    n = write(args.out, args.events, args.format, args.seed)
    print(f"{n} events → {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

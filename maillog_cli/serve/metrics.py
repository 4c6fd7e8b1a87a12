"""Per-provider counters for `GET /metrics` (Prometheus text format 0.0.4) and the
one-line summary `maillog serve` writes on stderr every minute."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

PREFIX = "maillog_serve"
# (name, help) of the per-provider counters, in the order /metrics lists them.
COUNTERS = (
    ("requests_received", "Webhook requests received (every POST to /hooks/PROVIDER)."),
    ("requests_stored", "Requests answered 2xx after their events were committed."),
    ("events_stored", "Events stored (new in the store)."),
    ("events_duplicate", "Events already in the store (a provider's retry, a replay)."),
    ("records_rejected", "Bad records inside an accepted body (the rest of the body was stored)."),
)


@dataclass
class Metrics:
    """Counters shared by the request handlers and the writer thread."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (counter, provider)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # (provider, reason)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: Counter[str] = field(default_factory=Counter)  # totals at the last summary

    def add(self, counter: str, provider: str, n: int = 1) -> None:
        with self.lock:
            self.counts[(counter, provider)] += n

    def reject(self, provider: str, reason: str) -> None:
        with self.lock:
            self.rejected[(provider, reason)] += 1

    def prometheus(self, providers: list[str]) -> str:
        with self.lock:
            counts, rejected = Counter(self.counts), Counter(self.rejected)
        lines: list[str] = []
        for name, text in COUNTERS:
            lines += [
                f"# HELP {PREFIX}_{name}_total {text}",
                f"# TYPE {PREFIX}_{name}_total counter",
            ]
            lines += [
                f'{PREFIX}_{name}_total{{provider="{p}"}} {counts[(name, p)]}' for p in providers
            ]
        name = f"{PREFIX}_requests_rejected_total"
        lines += [
            f"# HELP {name} Requests refused, by reason (bad_signature, missing_signature, stale,"
            " replayed, malformed, too_large, store_unavailable, …).",
            f"# TYPE {name} counter",
        ]
        lines += [
            f'{name}{{provider="{p}",reason="{r}"}} {n}' for (p, r), n in sorted(rejected.items())
        ]
        return "\n".join(lines) + "\n"

    def summary(self, every: float = 60.0) -> str:
        """What happened since the last summary, in one line."""
        with self.lock:
            now: Counter[str] = Counter()
            for (name, _p), n in self.counts.items():
                now[name] += n
            for (_p, _r), n in self.rejected.items():
                now["rejected"] += n
            delta = {k: now[k] - self.last[k] for k in now}
            self.last = now
        return (
            f"in the last {every:g} s {delta.get('requests_received', 0)} requests,"
            f" {delta.get('events_stored', 0)} events stored,"
            f" {delta.get('events_duplicate', 0)} duplicates,"
            f" {delta.get('rejected', 0)} refused"
        )

"""Time `maillog bounces reclassify` (and the summary and suppression queries) on 1M events.

    python benchmarks/reclassify_bench.py [--events 1000000] [--db /tmp/reclassify-bench.db]

Builds the store quickly (executemany straight into the events table, FTS triggers off,
messages from one set-based refresh), with the demo's lifecycles over 60 days and every
bounce text carrying its recipient's address so that the classifier's cache rarely hits.
With --all-bounces every event is a bounce event (the worst case). Then stores a stale verdict on every bounce event (as if the rules had changed) and
times reclassify, which must rewrite them all: the target is under 20 s for 1M events.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maillog_cli.bounce import classify as bounces  # noqa: E402
from maillog_cli.bounce.report import reclassify, summary  # noqa: E402
from maillog_cli.bounce.suppress import suppression_list  # noqa: E402
from maillog_cli.demo import BOUNCES, iter_events  # noqa: E402
from maillog_cli.store.db import _INSERT_EVENT, EVENT_COLUMNS, Store  # noqa: E402
from maillog_cli.store.migrations import drop_fts_triggers  # noqa: E402
from maillog_cli.store.query import build  # noqa: E402

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def rows(events: int, all_bounces: bool):
    """Rows for _INSERT_EVENT (in EVENT_COLUMNS order, so a new column cannot break it), about 2.5 events per message, already classified.

    all_bounces: every event becomes a bounce event (the demo's texts in turn), the
    worst case for reclassify.
    """
    n = 0
    for e in iter_events(events // 2 + 1, seed=42, now=NOW, days=60):
        diag = e.get("diagnostic")
        if all_bounces:
            e["status"], diag = BOUNCES[n % len(BOUNCES)]
        v = bounces.classify(e["status"], None, None, diag, None)
        if v is not None and diag:
            diag = f"<{e['recipient']}>: {diag}"
        row = dict.fromkeys(EVENT_COLUMNS)
        row.update(
            {k: e.get(k) for k in EVENT_COLUMNS if k in e},
            direction="outbound",
            recipient_domain=e["recipient"].rsplit("@", 1)[1],
            diagnostic=diag,
            bounce_class=v.bounce_class if v else None,
            bounce_reason=v.bounce_reason if v else None,
        )
        yield tuple(row[c] for c in EVENT_COLUMNS)
        n += 1
        if n >= events:
            return


def timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label:<44} {time.perf_counter() - t:7.2f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/reclassify-bench.db"))
    ap.add_argument(
        "--all-bounces", action="store_true", help="Every event a bounce event with its own text."
    )
    args = ap.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    store = Store.open(args.db)
    conn = store.conn
    drop_fts_triggers(conn)

    def build_store() -> None:
        with store.write():
            batch = []
            for row in rows(args.events, args.all_bounces):
                batch.append(row)
                if len(batch) >= 50_000:
                    conn.executemany(_INSERT_EVENT, batch)
                    batch.clear()
            conn.executemany(_INSERT_EVENT, batch)
            conn.execute("CREATE TEMP TABLE touched (message_id TEXT PRIMARY KEY)")
            conn.execute("INSERT OR IGNORE INTO touched SELECT message_id FROM events")
            store.refresh_messages()

    timed(f"build {args.events:,} events + messages", build_store)
    total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    bounce = conn.execute(
        "SELECT count(*) FROM events WHERE status IN ('bounced','deferred','dropped','failed')"
    ).fetchone()[0]
    print(
        f"{total:,} events, {bounce:,} bounce events, "
        f"{conn.execute('SELECT count(DISTINCT diagnostic) FROM events WHERE bounce_class IS NOT NULL').fetchone()[0]:,} distinct bounce texts"
    )

    with store.write():  # "the rules changed": every stored verdict is now stale
        conn.execute(
            "UPDATE events SET bounce_class = 'undetermined', bounce_reason = 'other' WHERE bounce_class IS NOT NULL"
        )
        conn.execute(
            "UPDATE messages SET bounce_class = 'undetermined', bounce_reason = 'other' WHERE bounce_class IS NOT NULL"
        )
    bounces._classify.cache_clear()
    r = timed("reclassify (every bounce event changes)", lambda: reclassify(store))
    print(f"    read {r.scanned:,}, changed {r.changed:,}, emails updated {r.messages:,}")
    r = timed("reclassify again (nothing changes)", lambda: reclassify(store))
    print(f"    read {r.scanned:,}, changed {r.changed:,}")
    s = timed("bounces summary (all time)", lambda: summary(store, build()))
    print(
        f"    {s.events:,} events, {len(s.series)} days, top text: {s.diagnostics[0]['pattern'][:60]}"
    )
    last = datetime.fromisoformat(
        conn.execute("SELECT max(timestamp) FROM events").fetchone()[0].replace("Z", "+00:00")
    )
    timed(
        "bounces summary --since 7d", lambda: summary(store, build(since="7d", now=last), now=last)
    )
    n = timed(
        "bounces suppressions (all)", lambda: sum(1 for _ in suppression_list(store, build()))
    )
    print(f"    {n:,} addresses")
    store.close()


if __name__ == "__main__":
    main()

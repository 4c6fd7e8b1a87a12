"""Each bounce event's diagnostic pattern is stored at import (migration 10) and
`maillog bounces` ranks the stored patterns: the summary must be exactly the one the
patterns worked out from the diagnostics at query time give (`top_patterns`, the
reference kept for this), whatever path wrote the events, after an upgrade, after
reclassify, with every filter, and on a store a reader has not upgraded yet."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli.bounce.report import bounce_filters, reclassify, summary, top_patterns
from maillog_cli.demo import iter_events
from maillog_cli.ingest import batches
from maillog_cli.ingest.fast import listing_event
from maillog_cli.normalize import bounce_pattern
from maillog_cli.statuses import BOUNCE_STATUSES, STATUSES
from maillog_cli.store import db as store_db
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import (
    BOUNCE_DISTINCT_INDEXES,
    BOUNCE_INDEXES,
    BOUNCE_MESSAGES_INDEX,
    BOUNCE_STATUS_SQL,
    MIGRATIONS,
    m010_diagnostic_patterns,
)
from maillog_cli.store.query import BOUNCE_CLASSES, Filters, where

from .conftest import CORPUS, PROVIDER_FIXTURES, SAMPLES

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def reference_summary(store: Store, f: Filters, top: int) -> dict[str, Any]:
    """`summary(...).as_json()` as it was computed before patterns were stored: each
    figure one statement over the matching events' rows (no bounce index, no groups),
    every distinct text patterned in Python at query time (top_patterns)."""
    f = bounce_filters(f)
    clause, params = where(f, "e")
    conn = store.conn
    m = f"FROM events e NOT INDEXED WHERE {clause}"

    def rows(sql: str, *more: Any) -> list[tuple[Any, ...]]:
        return conn.execute(sql, [*params, *more]).fetchall()

    events, messages, recipients = rows(
        f"SELECT count(*), count(DISTINCT e.message_id), count(DISTINCT e.recipient) {m}"
    )[0]

    def share(n: int) -> float:
        return round(n / events, 4) if events else 0.0

    by_reason = rows(
        f"SELECT e.bounce_class, e.bounce_reason, count(*) AS n {m} GROUP BY 1, 2 ORDER BY n DESC, 2"
    )
    per_class: dict[Any, int] = {}
    for cls, _, n in by_reason:
        per_class[cls] = per_class.get(cls, 0) + n
    classes: list[Any] = [*BOUNCE_CLASSES, *([None] if per_class.get(None) else [])]
    sums = ", ".join(f"sum(e.bounce_class = '{c}')" for c in BOUNCE_CLASSES)
    domains = rows(
        f"SELECT e.recipient_domain AS d, count(*) AS n, {sums} {m} AND d IS NOT NULL"
        " GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?",
        top,
    )
    top_reason = {}
    for domain, *_ in domains:
        top_reason[domain] = rows(
            f"SELECT e.bounce_reason, count(*) AS n {m} AND e.recipient_domain = ?"
            " GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
            domain,
        )[0][0]
    texts = rows(
        f"SELECT e.diagnostic, e.bounce_reason, e.bounce_class, count(*) {m}"
        " AND e.diagnostic IS NOT NULL GROUP BY 1, 2, 3"
    )
    days: dict[str, dict[str, int]] = {}
    for day, cls, n in rows(
        f"SELECT substr(e.timestamp, 1, 10), e.bounce_class, count(*) {m} GROUP BY 1, 2"
    ):
        per = days.setdefault(day, {c: 0 for c in ("events", *BOUNCE_CLASSES)})
        per["events"] += n
        if cls in per:
            per[cls] += n
    return {
        "filters": f.describe(),
        "events": events,
        "messages": messages,
        "recipients": recipients,
        "by_class": [
            {"bounce_class": c, "events": per_class.get(c, 0), "share": share(per_class.get(c, 0))}
            for c in classes
        ],
        "by_reason": [
            {"bounce_reason": r, "bounce_class": c, "events": n, "share": share(n)}
            for c, r, n in by_reason
        ],
        "domains": [
            {
                "domain": d,
                "events": n,
                "share": share(n),
                **dict(zip(BOUNCE_CLASSES, counts, strict=True)),
                "top_reason": top_reason[d],
            }
            for d, n, *counts in domains
        ],
        "diagnostics": [
            {
                "pattern": pattern,
                "example": example,
                "bounce_reason": reason,
                "bounce_class": cls,
                "events": n,
                "share": share(n),
            }
            for pattern, n, example, reason, cls in top_patterns(texts, top)
        ],
        "days": days,
    }


def comparable(summary_json: dict[str, Any]) -> dict[str, Any]:
    """A summary's JSON with its series as the reference keeps it (days with events)."""
    out = {k: v for k, v in summary_json.items() if k != "series"}
    out["days"] = {
        row["day"]: {k: v for k, v in row.items() if k != "day"}
        for row in summary_json["series"]
        if row["events"]
    }
    return out


def filter_sets(store: Store) -> list[Filters]:
    """No filter, a window, each bounce status alone, other statuses, class, reason,
    domain, provider and free text: the ones the index covers and the ones it does not."""
    newest = store.conn.execute("SELECT max(timestamp) FROM events").fetchone()[0]
    end = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    domain = store.conn.execute(
        f"SELECT recipient_domain FROM events WHERE {BOUNCE_STATUS_SQL}"
        " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    recipient, mid = store.conn.execute(
        f"SELECT recipient, message_id FROM events WHERE {BOUNCE_STATUS_SQL}"
        " AND recipient IS NOT NULL ORDER BY seq LIMIT 1"
    ).fetchone()
    return [
        Filters(),
        Filters(to=recipient),
        Filters(message_id=mid),
        Filters(since=end - timedelta(days=7)),
        Filters(since=end - timedelta(days=30), until=end - timedelta(days=2)),
        Filters(statuses=["bounced"]),
        Filters(statuses=["deferred", "dropped"]),
        Filters(statuses=["delivered"]),  # patterns not stored: worked out at query time
        Filters(statuses=["bounced", "delivered", "sent"]),
        Filters(bounce_class=["hard"]),
        Filters(reason=["mailbox_full"]),
        Filters(domain=domain),
        Filters(providers=["sendgrid", "postmark"]),
        Filters(text="mailbox"),
    ]


def assert_same_as_reference(store: Store, tops: tuple[int, ...] = (10, 3)) -> None:
    for f in filter_sets(store):
        for top in tops:
            got = comparable(summary(store, f, top=top, now=NOW).as_json())
            want = reference_summary(store, f, top)
            assert got == want, (f, top)


def assert_patterns_stored(db: Path) -> int:
    """Every event's stored pattern is normalize.bounce_pattern of its status and
    diagnostic (None for other statuses); returns how many bounce events have one."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT status, diagnostic, diagnostic_pattern FROM events").fetchall()
    finally:
        conn.close()
    for status, diagnostic, stored in rows:
        assert stored == bounce_pattern(status, diagnostic), (status, diagnostic)
    return sum(1 for r in rows if r[2] is not None)


def _demo_file(path: Path, messages: int, seed: int = 5) -> Path:
    path.write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in iter_events(messages, seed=seed, now=NOW))
    )
    return path


# --- every path that builds rows stores the pattern ------------------------------------------


@pytest.mark.slow
def test_provider_fixtures_and_samples_store_each_bounce_s_pattern(
    cli: Callable[..., Any], db_path: Path
) -> None:
    """The importers' own Events (store.db.event_row), mail-server logs (Postfix, Exim)
    and SendGrid, imported through the real CLI."""
    files = [p for p in sorted(PROVIDER_FIXTURES.iterdir()) if p.is_file()]
    if SAMPLES.exists():
        files += [p for p in sorted(SAMPLES.rglob("*")) if p.is_file() and p.suffix != ".md"]
    for f in files:
        cli("--db", db_path, "import", f)
    assert assert_patterns_stored(db_path) > 20
    store = Store.open(db_path, readonly=True)
    assert_same_as_reference(store)


def test_forked_fast_rows_store_the_pattern(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our JSONL and SendGrid webhook records made rows by ingest.fast in the forked
    parser (bulk mode), into an empty store and then a loaded one."""
    monkeypatch.setattr(batches, "BULK_BYTES", 1)  # every file a bulk load in a child
    db = tmp_path / "fast.db"
    first = _demo_file(tmp_path / "a.jsonl", 1500, seed=5)
    second = _demo_file(tmp_path / "b.jsonl", 800, seed=6)
    sendgrid = PROVIDER_FIXTURES / "sendgrid.json"
    for f in (first, second, sendgrid):
        assert cli("--db", db, "import", f).exit_code == 0
    assert assert_patterns_stored(db) > 200
    conn = sqlite3.connect(db)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    assert names.issuperset(BOUNCE_INDEXES)  # there after the bulk loads
    assert_same_as_reference(Store.open(db, readonly=True))


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared DSN corpus is not here")
def test_the_dsn_corpus_summary_is_the_reference_s(cli: Callable[..., Any], db_path: Path) -> None:
    files = [p for p in sorted(CORPUS.iterdir()) if p.suffix == ".eml"]
    for f in files:
        cli("--db", db_path, "import", f)
    assert assert_patterns_stored(db_path) > 20
    assert_same_as_reference(Store.open(db_path, readonly=True))


# --- upgrades, readers of old stores, reclassify ---------------------------------------------


def _old_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store written by a maillog without migration 10 (and so without patterns)."""
    old = MIGRATIONS[: MIGRATIONS.index(m010_diagnostic_patterns)]
    with monkeypatch.context() as old_maillog:
        old_maillog.setattr(store_db, "MIGRATIONS", old)
        Store.open(path).close()
    classify = batches.classifier()
    rows = []
    for record in iter_events(1000, seed=9, now=NOW):
        event = listing_event(record)
        assert event is not None
        classify(event)
        rows.append(store_db.event_row(event, None)[:-1])  # the old row: no pattern
    columns = store_db.EVENT_COLUMNS[:-1]
    with sqlite3.connect(path) as conn:  # events as the old maillog wrote them
        conn.executemany(
            f"INSERT OR IGNORE INTO events ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            rows,
        )
    conn.close()


def test_an_upgraded_store_and_a_not_yet_upgraded_one_give_the_same_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    _old_store(path, monkeypatch)
    with monkeypatch.context() as read_only_file:  # a reader upgrades only what it can write
        read_only_file.setattr(store_db, "write_problem", lambda p: "read-only (test)")
        reader = Store.open(path, readonly=True)
    assert reader.version == MIGRATIONS.index(m010_diagnostic_patterns)
    assert_same_as_reference(reader)
    before = [summary(reader, f, now=NOW).as_json() for f in filter_sets(reader)]
    reader.close()

    Store.open(path).close()  # the upgrade fills the patterns
    assert assert_patterns_stored(path) > 80
    upgraded = Store.open(path, readonly=True)
    assert upgraded.version == len(MIGRATIONS)
    assert [summary(upgraded, f, now=NOW).as_json() for f in filter_sets(upgraded)] == before
    assert_same_as_reference(upgraded)


def test_reclassify_keeps_the_summary_right(cli: Callable[..., Any], tmp_path: Path) -> None:
    """Reclassify rewrites verdicts, never texts: the stored patterns stay true and the
    examples carry the new verdicts."""
    db = tmp_path / "r.db"
    assert cli("--db", db, "import", _demo_file(tmp_path / "d.jsonl", 1500)).exit_code == 0
    store = Store.open(db)
    with store.write() as conn:
        conn.execute(
            "UPDATE events SET bounce_class = 'undetermined', bounce_reason = 'other'"
            f" WHERE {BOUNCE_STATUS_SQL} AND seq % 3 = 0"
        )
    assert_same_as_reference(store)
    done = reclassify(store, batch=500, workers=1)
    assert done.changed > 50
    assert assert_patterns_stored(db) > 100
    assert_same_as_reference(store)


def test_summary_through_the_cli_uses_the_bounce_index(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The same JSON from the CLI with the index and with the index dropped (the planner
    then reads the events' rows): the index changes how, never what."""
    db = tmp_path / "c.db"
    assert cli("--db", db, "import", _demo_file(tmp_path / "d.jsonl", 1200)).exit_code == 0
    args = [
        ["bounces", "-f", "json"],
        ["bounces", "-f", "json", "--status", "bounced", "--top", "3"],
        ["bounces", "-f", "json", "--status", "delivered"],
        ["bounces", "-f", "json", "--class", "soft", "--domain", "gmail.com"],
    ]
    indexed = [cli("--db", db, *a).stdout for a in args]
    conn = sqlite3.connect(db)
    for name in (*BOUNCE_INDEXES, *BOUNCE_DISTINCT_INDEXES):
        conn.execute(f"DROP INDEX {name}")
    conn.commit()
    conn.close()
    assert [cli("--db", db, *a).stdout for a in args] == indexed
    assert all(orjson.loads(out)["diagnostics"] for out in indexed[:2])


def test_all_time_counts_walk_the_narrow_indexes_and_windows_do_not(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The distinct messages and recipients of the all-time summary (or a status subset)
    come from migration 12's indexes, the same figures as the reference; a filter the
    indexes lack counts over the source as before."""
    db = tmp_path / "n.db"
    assert cli("--db", db, "import", _demo_file(tmp_path / "d.jsonl", 900)).exit_code == 0
    store = Store.open(db)
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    for f, narrow in (
        (Filters(), True),
        (Filters(statuses=["bounced", "failed"]), True),
        (Filters(since=NOW - timedelta(days=7)), False),
        (Filters(domain="gmail.com"), False),
    ):
        seen.clear()
        got = summary(store, f, now=NOW).as_json()
        walked = [sql for sql in seen if BOUNCE_MESSAGES_INDEX in sql]
        assert bool(walked) is narrow, f
        want = reference_summary(store, f, 10)
        assert (got["messages"], got["recipients"]) == (want["messages"], want["recipients"])
        assert got["messages"] > 0
    store.close()


def test_the_index_s_status_list_is_the_bounce_statuses() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE events (status TEXT)")
    conn.executemany("INSERT INTO events VALUES (?)", [(s,) for s in STATUSES])
    chosen = {r[0] for r in conn.execute(f"SELECT status FROM events WHERE {BOUNCE_STATUS_SQL}")}
    assert chosen == BOUNCE_STATUSES


def test_an_export_leaves_the_pattern_out_and_its_import_works_it_out_again(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The pattern is derived, like recipient_domain: not in our export form, and the store
    an export is imported into stores the same patterns."""
    first, second, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.jsonl"
    assert cli("--db", first, "import", _demo_file(tmp_path / "d.jsonl", 300)).exit_code == 0
    assert cli("--db", first, "export", "-o", out).exit_code == 0
    assert b"diagnostic_pattern" not in out.read_bytes()
    assert cli("--db", second, "import", out).exit_code == 0
    query = "SELECT event_id, diagnostic_pattern FROM events ORDER BY event_id"
    stored = [sqlite3.connect(db).execute(query).fetchall() for db in (first, second)]
    assert stored[0] == stored[1]
    assert assert_patterns_stored(second) > 20


def test_a_bulk_load_keeps_the_bounce_indexes(tmp_path: Path) -> None:
    """Bulk mode drops the events indexes and builds them again at the end, but not the
    bounce indexes: 6 % of the rows are cheaper to add one by one than to build again
    (that reads every event's row)."""
    store = Store.open(tmp_path / "b.db")
    with store.write() as conn:
        state = store.begin_bulk(drop_indexes=True)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        kept = (*BOUNCE_INDEXES, *BOUNCE_DISTINCT_INDEXES)
        assert names.issuperset(kept)
        assert "events_timestamp" not in names  # the others went
        assert not any(name in sql for sql in state[1] for name in kept)
        store.end_bulk(state)
    store.close()


def test_bounce_events_without_a_stored_pattern_join_the_same_ranking(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Some bounce texts patterned at query time next to stored ones (the patterns index
    holds both): the same totals and examples as the reference."""
    db = tmp_path / "m.db"
    assert cli("--db", db, "import", _demo_file(tmp_path / "d.jsonl", 1500)).exit_code == 0
    store = Store.open(db)
    with store.write() as conn:
        gone = conn.execute(
            "UPDATE events SET diagnostic_pattern = NULL"
            f" WHERE {BOUNCE_STATUS_SQL} AND diagnostic IS NOT NULL AND seq % 4 = 0"
        ).rowcount
    assert gone > 30
    assert_same_as_reference(store)

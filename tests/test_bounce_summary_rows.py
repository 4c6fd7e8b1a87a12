"""The bounce summary reads the matching events once into a temporary table: on a
read-only store too, again and again, leaving nothing behind, and with the figures of
the same statements over `events` itself (the plain way it was computed before)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from maillog_cli.bounce.report import summary
from maillog_cli.demo import iter_events
from maillog_cli.store.db import Store
from maillog_cli.store.query import build

NOW = datetime(2026, 3, 20, tzinfo=UTC)


def test_summary_on_a_read_only_store_twice_leaves_no_table(cli, tmp_path, db_path):
    data = tmp_path / "e.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in iter_events(800, seed=4, now=NOW)))
    assert cli("import", data).exit_code == 0
    store = Store.open(db_path, readonly=True)
    try:
        first = summary(store, build(), now=NOW).as_json()
        again = summary(store, build(), now=NOW).as_json()
        assert first == again and first["events"] > 0
        plain = store.conn.execute(
            "SELECT count(*), count(DISTINCT message_id), count(DISTINCT recipient) FROM events"
            " WHERE status IN ('bounced', 'deferred', 'dropped', 'failed')"
        ).fetchone()
        assert (first["events"], first["messages"], first["recipients"]) == plain
        by_domain = dict(
            store.conn.execute(
                "SELECT recipient_domain, count(*) FROM events WHERE status IN"
                " ('bounced', 'deferred', 'dropped', 'failed') AND recipient_domain IS NOT NULL"
                " GROUP BY 1"
            ).fetchall()
        )
        assert all(by_domain[d["domain"]] == d["events"] for d in first["domains"])
        narrowed = summary(store, build(domain="gmail.com", since="2026-03-10", now=NOW), now=NOW)
        assert 0 < narrowed.events < first["events"]
        assert not store.conn.execute("SELECT name FROM sqlite_temp_master").fetchall()
    finally:
        store.close()

"""`stats` reads the covering indexes of migration 8 (grouped by the index's own columns,
then counted over those few rows): on a varied generated store every breakdown, the
overview and every filter give exactly what the plain per-message SQL gives, and the
query plans walk the stats indexes instead of the messages table."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from maillog_cli import stats
from maillog_cli.demo import iter_events
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MESSAGE_RELAY_SQL
from maillog_cli.store.query import build, where

NOW = datetime(2026, 3, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """1,500 demo messages over 20 days, plus every flag the counts read set on some
    messages (auth results in any case, opens stated as counts, tags, relays)."""
    from typer.testing import CliRunner

    from maillog_cli.cli import app

    folder = tmp_path_factory.mktemp("statsindex")
    data, db = folder / "events.jsonl", folder / "s.db"
    with data.open("wb") as f:
        for row in iter_events(1500, seed=3, now=NOW, days=20):
            f.write(orjson.dumps(row) + b"\n")
    result = CliRunner().invoke(app, ["--db", str(db), "import", "-q", str(data)])
    assert result.exit_code == 0, result.output
    s = Store.open(db)
    rnd = random.Random(5)
    ids = [r[0] for r in s.conn.execute("SELECT message_id FROM messages ORDER BY message_id")]
    auth = [None, "", "pass", "PASS", "fail", "softfail"]
    with s.write():
        for mid in ids:
            s.conn.execute(
                "UPDATE messages SET spf = ?, dkim = ?, dmarc = ?, open_count = ?,"
                " click_count = ?, tag = ? WHERE message_id = ?",
                (
                    rnd.choice(auth), rnd.choice(auth), rnd.choice(auth),
                    rnd.choice([0, 0, 0, 2]), rnd.choice([0, 0, 0, 1]),
                    rnd.choice([None, None, "welcome", "digest"]), mid,
                ),
            )  # fmt: skip
        for n, mid in enumerate(ids[::7]):
            for k in range(1 + n % 3):  # several rows, some with the same time: the tie rule
                s.conn.execute(
                    "INSERT INTO mta_queue(host, qid, message_id, first_at, last_at, relay)"
                    " VALUES ('mx', ?, ?, '2026-03-01T00:00:00Z', ?, ?)",
                    (
                        f"Q{n}x{k}", mid, f"2026-03-0{1 + (k > 0)}T00:00:00Z",
                        None if n % 5 == 0 else f"mx{(n + k) % 4}.example[192.0.2.1]:25",
                    ),
                )  # fmt: skip
        s.conn.execute(  # what the messages refresh keeps (migration 11)
            f"UPDATE messages SET relay = {MESSAGE_RELAY_SQL.format('messages.message_id')}"
        )
    yield s
    s.close()


def _plain(store: Store, by: str, **filters: str) -> list[tuple]:
    """The straightforward SQL: every count evaluated on every message row."""
    f = build(**filters, now=NOW)
    clause, params = where(f, "m", messages=True)
    sql = stats._select(stats.GROUPS[by], clause, stats._COUNTS + stats._OVERVIEW_EXTRAS)
    return sorted(store.conn.execute(sql, params).fetchall(), key=repr)


def _indexed(store: Store, by: str, **filters: str) -> list[tuple]:
    f = build(**filters, now=NOW)
    clause, params = where(f, "m", messages=True)
    sql, params = stats._grouped_sql(by, clause, params, f, stats._COUNTS + stats._OVERVIEW_EXTRAS)
    return sorted(store.conn.execute(sql, params).fetchall(), key=repr)


FILTERS: list[dict[str, str]] = [
    {},
    {"since": "2026-03-10T13:17:00Z"},
    {"since": "2026-03-05", "until": "2026-03-12T06:30:00Z"},
    {"until": "2026-03-12T06:30:00Z"},
    {"since": "2026-03-12T06:20:00Z", "until": "2026-03-12T09:40:00Z"},
    {"statuses": ["bounced", "opened"]},
    {"domain": "gmail.com"},
    {"providers": ["sendgrid"], "since": "2026-03-15"},
    {"text": "password"},
]


@pytest.mark.parametrize("by", list(stats.GROUPS))
@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_every_breakdown_equals_the_plain_per_message_sql(store, by, filters):
    plain = _plain(store, by, **filters)
    assert plain  # the store has messages for every case
    assert _indexed(store, by, **filters) == plain


def test_the_store_covers_what_the_counts_read(store):
    """Not a vacuous comparison: every flag and every relay case occurs."""
    totals = store.conn.execute(
        "SELECT sum(opened_at IS NULL AND open_count > 0), sum(lower(spf) = 'pass' AND spf != 'pass'),"
        " sum(complained_at IS NOT NULL), sum(unsubscribed_at IS NOT NULL),"
        " sum(last_status = 'bounced'), count(DISTINCT tag) FROM messages"
    ).fetchone()
    assert all(totals), totals
    relays = {r[0] for r in _plain(store, "relay")}
    assert None in relays and len(relays) >= 4


def _plan(store: Store, by: str, **filters: str) -> list[str]:
    f = build(**filters, now=NOW)
    clause, params = where(f, "m", messages=True)
    sql, params = stats._grouped_sql(by, clause, params, f, stats._COUNTS)
    return [r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def test_breakdowns_read_the_stats_indexes(store):
    for by, index in (
        ("domain", "messages_stats_domain"),
        ("sender", "messages_stats_who"),
        ("type", "messages_stats_who"),
    ):
        plan = _plan(store, by)  # all time: the rollup per provider, sender, tag, domain
        assert any("stats_groups" in line for line in plan), plan
        assert not any(line.startswith(("SCAN m", "SEARCH m ")) for line in plan), plan
        plan = _plan(store, by, since="2026-03-15")
        assert any(index in line for line in plan), (by, plan)
        assert "SCAN m" not in plan, (by, plan)  # never the messages table itself


@pytest.mark.parametrize("by", ["day", "week", "hour", "relay"])
def test_time_groups_read_the_rollup_and_only_the_window_s_edge_hours(store, by):
    """All time: the per-hour rollup (migration 9) alone, never a message row (--by relay:
    and the relayed messages' index). A window:
    the rollup's whole hours and the two edge hours searched in the time index."""
    plan = _plan(store, by)
    assert any("stats_hours" in line for line in plan), plan
    walks = [
        line
        for line in plan
        if line.startswith(("SCAN m", "SEARCH m ")) and "messages_stats_relay" not in line
    ]  # --by relay walks the relayed messages' own index (migration 11)
    assert not walks, plan
    if by == "relay":
        assert any("messages_stats_relay" in line for line in plan), plan
    plan = _plan(store, by, since="2026-03-15T13:17:00Z", until="2026-03-17")
    assert "SEARCH stats_hours USING PRIMARY KEY (hour>? AND hour<?)" in plan, plan
    assert "SEARCH m USING INDEX messages_stats_time (<expr>=?)" in plan, plan


def test_the_cli_output_is_the_plain_sql_s(store, cli):
    """Through the command: `stats --by domain --format json` is the plain SQL's rows."""
    r = cli("--db", str(Path(store.path)), "stats", "--by", "domain", "--format", "json")
    assert r.exit_code == 0, r.output
    got = {row["domain"]: row["messages"] for row in orjson.loads(r.stdout)}
    plain = {row[0]: row[1] for row in _plain(store, "domain")}
    assert got == plain

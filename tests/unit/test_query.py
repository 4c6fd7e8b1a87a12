"""maillog_cli/store/query.py: user words → Filters → parameterised SQL, keyset pages.

The SQL is checked twice: its exact text (the rule each filter becomes), and run against a
real store made by the real importer (what each filter finds)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maillog_cli.errors import MaillogError
from maillog_cli.store.db import Store
from maillog_cli.store.query import (
    Filters,
    Page,
    build,
    count_sql,
    events_sql,
    parse_words,
    where,
)

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


# --- words → Filters -----------------------------------------------------------------------------


def test_words_are_validated_and_normalised_like_the_options() -> None:
    f = parse_words(
        "status:bounce,deferred domain:@Gmail.COM. to:Mia provider:SES class:Hard "
        'id:<ABC@x> subject:50%_off since:7d "free text" https://x.y/z',
        NOW,
    )
    assert f.statuses == ["bounced", "deferred"]  # synonyms become the canonical status
    assert f.domain == "gmail.com"  # no @, no trailing dot, lower case
    assert f.to == "mia"
    assert f.providers == ["ses"]
    assert f.bounce_class == ["hard"]
    assert f.message_id == "ABC@x"  # angle brackets go, case stays
    assert f.subject == "50%_off"
    assert f.since == datetime(2026, 2, 25, 12, 0, tzinfo=UTC)
    assert f.text == "free text https://x.y/z"  # a URL's colon is not a filter word


def test_repeated_words_add_up_and_duplicates_go() -> None:
    f = parse_words("status:BOUNCED status:bounced,spam reason:mailbox_full,,", NOW)
    assert f.statuses == ["bounced", "complained"]
    assert f.reason == ["mailbox_full"]


def test_describe_gives_words_that_read_back_to_the_same_filters() -> None:
    f = parse_words(
        "status:bounced to:'a b@x.com' domain:x.com provider:ses class:soft since:2026-01-01 "
        'until:2026-02-01 "it\'s here"',
        NOW,
    )
    assert parse_words(f.describe(), NOW) == f
    assert Filters().describe() == ""


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("foo:bar", "unknown filter word foo:"),
        ("to:", "to: needs a value"),
        ('"open', "cannot read the filter"),
        ("status:nope", "unknown status 'nope'"),
        ("class:x", "unknown bounce class 'x'"),
        ("since:2026-02-01 until:2026-01-01", "--since is after --until"),
        ("since:someday", "cannot read the date 'someday'"),
    ],
)
def test_bad_words_are_one_clear_error(words: str, message: str) -> None:
    with pytest.raises(MaillogError, match=message):
        parse_words(words, NOW)


def test_empty() -> None:
    assert Filters().is_empty() and parse_words("", NOW).is_empty()
    assert not parse_words("x", NOW).is_empty()
    assert build(to="  ", text="   ") == Filters()


# --- Filters → SQL -------------------------------------------------------------------------------


def test_no_filter_is_true() -> None:
    assert where(Filters()) == ("1", [])


def test_each_filter_is_one_clause_and_every_value_a_parameter() -> None:
    f = parse_words(
        "status:bounced,deferred to:mia domain:gmail.com subject:50%_off provider:ses "
        "id:ABC@x class:hard reason:mailbox_full since:2026-01-01 until:2026-02-01 hello",
        NOW,
    )
    sql, params = where(f)
    assert sql.split(" AND ") == [
        "e.status IN (?, ?)",
        "lower(substr(e.recipient, 1, ?)) = lower(?)",
        "e.recipient_domain = ?",
        "instr(lower(e.subject), lower(?)) > 0",
        "e.provider IN (?)",
        "(e.message_id = ? OR e.message_id IN "
        "(SELECT message_id FROM message_aliases WHERE alias = ?))",
        "e.bounce_class IN (?)",
        "e.bounce_reason IN (?)",
        "e.timestamp >= ?",
        "e.timestamp < ?",
        "e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)",
    ]
    assert params == [
        "bounced",
        "deferred",
        4,  # a bare local part matches by prefix: its length, then itself
        "mia@",
        "gmail.com",
        "50%_off",  # literal: instr has no wildcards (and no pattern length limit)
        "ses",
        "ABC@x",
        "ABC@x",
        "hard",
        "mailbox_full",
        "2026-01-01T00:00:00.000Z",
        "2026-02-01T00:00:00.000Z",
        '"hello"',  # FTS syntax in the user's text is literal
    ]


@pytest.mark.parametrize(
    ("to", "clause", "param"),
    [
        ("Mia@Example.COM", "e.recipient = ?", "mia@example.com"),
        ("mi*@x.com", "e.recipient GLOB ?", "mi*@x.com"),
        ("m_a", "lower(substr(e.recipient, 1, ?)) = lower(?)", [4, "m_a@"]),
    ],
)
def test_address_forms(to: str, clause: str, param: str | list[object]) -> None:
    assert where(build(to=to)) == (clause, param if isinstance(param, list) else [param])


def test_per_message_filters_use_the_messages_columns() -> None:
    f = parse_words("status:opened,bounced since:2026-01-01 hello", NOW)
    sql, params = where(f, "m", messages=True)
    assert sql.split(" AND ") == [
        "(m.last_status IN (?) OR m.opened_at IS NOT NULL)",
        "m.first_seen >= ?",
        "m.message_id IN (SELECT message_id FROM events WHERE seq IN "
        "(SELECT rowid FROM events_fts WHERE events_fts MATCH ?))",
    ]
    assert params == ["bounced", "2026-01-01T00:00:00.000Z", '"hello"']


def test_naive_datetimes_are_utc() -> None:
    f = Filters(since=datetime(2026, 1, 1, 8, 30))
    assert where(f)[1] == ["2026-01-01T08:30:00.000Z"]


def test_events_sql_pages_by_keyset_and_limits() -> None:
    sql, params = events_sql(Filters(), 10, Page("2024-01-01T00:00:00.000Z", 5))
    assert sql.endswith(
        "WHERE 1 AND e.timestamp <= ? AND (e.timestamp < ? OR (e.timestamp = ? AND e.seq < ?))"
        " ORDER BY e.timestamp DESC, e.seq DESC LIMIT ?"
    )
    assert params == ["2024-01-01T00:00:00.000Z"] * 3 + [5, 10]
    assert "LIMIT" not in events_sql(Filters(), None)[0]


# --- against a real store ------------------------------------------------------------------------


def event(n: int, minute: int, **extra: Any) -> dict[str, Any]:
    row = {
        "event_id": f"e{n:03d}",
        "message_id": f"m{n % 7}@x",
        "timestamp": f"2024-06-20T07:{minute:02d}:00Z",
        "status": "delivered",
        "recipient": f"user{n % 3}@{'gmail.com' if n % 2 else 'example.org'}",
        "subject": f"Report {n}",
    }
    row.update(extra)
    return row


@pytest.fixture
def store(cli, tmp_path: Path, db_path: Path) -> sqlite3.Connection:
    # 40 events on 8 distinct minutes: many share a timestamp, so pages must break ties by seq.
    rows = [event(n, n % 8) for n in range(40)]
    rows += [
        event(100, 30, status="bounced", subject="50% off_now", recipient="Mia@gmail.com"),
        event(101, 31, status="bounced", subject="500 offers", recipient="mia.b@gmail.com"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli("import", str(path))
    assert r.exit_code == 0, r
    s = Store.open(db_path)
    yield s.conn
    s.close()


def ids(conn: sqlite3.Connection, f: Filters) -> list[str]:
    sql, params = events_sql(f, None)
    return [row[1] for row in conn.execute(sql, params)]


@pytest.mark.parametrize("size", [1, 3, 7, 42, 100])
def test_keyset_pages_cover_every_row_once_in_order(store: sqlite3.Connection, size: int) -> None:
    everything = [(r[3], r[0]) for r in store.execute(*events_sql(Filters(), None))]
    assert len(everything) == 42 and everything == sorted(everything, reverse=True)
    seen: list[tuple[str, int]] = []
    after = None
    while True:
        page = [(r[3], r[0]) for r in store.execute(*events_sql(Filters(), size, after))]
        assert len(page) <= size
        if not page:
            break
        seen += page
        after = Page(*page[-1])
    assert seen == everything


def test_filters_find_what_they_say(store: sqlite3.Connection) -> None:
    assert ids(store, build(subject="50% off")) == ["e100"]  # % is a literal, not a wildcard
    assert ids(store, build(to="mia")) == ["e100"]  # local part prefix: mia@, not mia.b@
    assert ids(store, build(to="MIA@gmail.com")) == ["e100"]
    assert ids(store, build(to="mia*")) == ["e101", "e100"]
    assert ids(store, build(statuses=["bounced"], domain="GMAIL.com")) == ["e101", "e100"]
    assert ids(store, build(text="offers")) == ["e101"]
    assert ids(store, build(text='") OR 1 --')) == []  # hostile text is a phrase, not syntax
    assert len(ids(store, build(since="2024-06-20T07:07Z", until="2024-06-20T07:31Z"))) == 6


def test_count_sql_counts_events_or_messages(store: sqlite3.Connection) -> None:
    assert store.execute(*count_sql(Filters())).fetchone()[0] == 42
    assert store.execute(*count_sql(Filters(), messages=True)).fetchone()[0] == 7
    latest = store.execute(*events_sql(Filters(), None, messages=True)).fetchall()
    assert len(latest) == 7  # each message once, by its latest event

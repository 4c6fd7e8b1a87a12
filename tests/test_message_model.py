"""The message model: every fact a source carries about an email reaches its messages row,
`show`, `search --messages` and the filters; old stores are upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from maillog_cli.model import EVENT_KEYS, MESSAGE_KEYS
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MIGRATIONS

from .conftest import require_shared


def q(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def jsonl(result) -> list[dict]:
    assert result.exit_code == 0, result
    return [orjson.loads(x) for x in result.stdout.splitlines()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


# --- facts from every source --------------------------------------------------------------------


def test_provider_samples_fill_tags_sizes_types_and_send_methods(cli, db_path: Path) -> None:
    samples = require_shared() / "samples"
    files = [p for p in sorted(samples.rglob("*")) if p.is_file() and p.suffix != ".md"]
    files = [p for p in files if p.name != "expected.jsonl"]
    assert cli("import", *files).exit_code in (0, 1)
    facts = {
        provider: (tags, size, typ, method)
        for provider, tags, size, typ, method in q(
            db_path,
            "SELECT provider, group_concat(DISTINCT tags), max(size), group_concat(DISTINCT type),"
            " group_concat(DISTINCT send_method) FROM messages GROUP BY provider",
        )
    }
    # tags/categories of every provider that has them, name:value maps flattened
    for provider, tag in (
        ("mailgun", "invoice"),
        ("sendgrid", "alerts"),
        ("postmark", "password-reset"),
        ("mandrill", "booking"),
        ("brevo", "shipping"),
        ("postal", "verify"),
        ("resend", "category:product_update"),
        ("ses", "flow:order-confirmation"),
        ("sparkpost", "june-newsletter"),
    ):
        assert tag in (facts[provider][0] or ""), (provider, facts[provider])
    assert facts["mailgun"][1] and facts["sparkpost"][1]  # message.size, msg_size
    assert facts["mailgun"][3] == "api"  # "method": "HTTP"
    assert set(facts["postmark"][2].split(",")) == {"outbound", "broadcast"}  # MessageStream


def test_open_and_click_counts_with_first_and_last_times(cli, tmp_path: Path) -> None:
    base = {"message_id": "m1@x.example", "recipient": "a@x.example", "provider": "test"}
    rows = [
        {**base, "event_id": "s", "status": "delivered", "timestamp": "2026-01-01T10:00:00Z"},
        {**base, "event_id": "o1", "status": "opened", "timestamp": "2026-01-01T11:00:00Z"},
        {**base, "event_id": "o2", "status": "opened", "timestamp": "2026-01-02T11:00:00Z"},
        {**base, "event_id": "o3", "status": "opened", "timestamp": "2026-01-03T11:00:00Z"},
        {**base, "event_id": "c1", "status": "clicked", "timestamp": "2026-01-01T11:05:00Z"},
        {**base, "event_id": "c2", "status": "clicked", "timestamp": "2026-01-04T09:00:00Z"},
        {**base, "event_id": "x", "status": "complained", "timestamp": "2026-01-05T09:00:00Z"},
    ]
    assert cli("import", write_jsonl(tmp_path / "e.jsonl", rows)).exit_code == 0
    (row,) = jsonl(cli("search", "--messages", "-f", "jsonl"))
    assert list(row) == list(MESSAGE_KEYS)
    assert (row["open_count"], row["first_opened_at"], row["last_opened_at"]) == (
        3,
        "2026-01-01T11:00:00.000Z",
        "2026-01-03T11:00:00.000Z",
    )
    assert (row["click_count"], row["first_clicked_at"], row["last_clicked_at"]) == (
        2,
        "2026-01-01T11:05:00.000Z",
        "2026-01-04T09:00:00.000Z",
    )
    assert row["complained_at"] == "2026-01-05T09:00:00.000Z"
    shown = cli("show", "m1@x.example").stdout
    assert "3 times, first 2026-01-01 11:00:00, last 2026-01-03 11:00:00" in shown


def test_listing_rows_read_back_the_message_keys(cli, tmp_path: Path) -> None:
    """Our own message-shaped output (tags, type, size, send method) imports back."""
    row = {
        "message_id": "m2@x.example",
        "event_id": "e2",
        "status": "delivered",
        "timestamp": "2026-01-01T10:00:00Z",
        "recipient": "b@x.example",
        "tags": ["welcome", "campaign:spring"],
        "type": "transactional",
        "size": 2048,
        "send_method": "SMTP",
    }
    assert cli("import", write_jsonl(tmp_path / "m.jsonl", [row])).exit_code == 0
    (out,) = jsonl(cli("search", "--messages", "-f", "jsonl"))
    assert (out["tags"], out["type"], out["size"], out["send_method"]) == (
        ["campaign:spring", "welcome"],
        "transactional",
        2048,
        "smtp",
    )
    csv_out = cli("search", "--messages", "-f", "csv").stdout
    assert csv_out.splitlines()[0].split(",") == list(MESSAGE_KEYS)


# --- filters ------------------------------------------------------------------------------------


@pytest.fixture
def tagged(cli, tmp_path: Path) -> None:
    rows = []
    for i, (tags, typ, method) in enumerate(
        [
            (["welcome"], "transactional", "api"),
            (["campaign:spring", "news"], "broadcast", "smtp"),
            ([], None, None),
        ]
    ):
        rows.append(
            {
                "message_id": f"t{i}@x.example",
                "event_id": f"t{i}",
                "status": "delivered",
                "timestamp": f"2026-01-0{i + 1}T10:00:00Z",
                "recipient": f"r{i}@x.example",
                "tags": tags,
                "type": typ,
                "send_method": method,
            }
        )
    assert cli("import", write_jsonl(tmp_path / "t.jsonl", rows)).exit_code == 0


def ids(result) -> list[str]:
    return [r["message_id"] for r in jsonl(result)]


@pytest.mark.usefixtures("tagged")
def test_tag_type_and_send_method_filters(cli) -> None:
    assert ids(cli("search", "--tag", "welcome", "-f", "jsonl")) == ["t0@x.example"]
    # a name:value tag is found by its value and by the whole pair, in any case
    assert ids(cli("search", "--tag", "Spring", "-f", "jsonl")) == ["t1@x.example"]
    assert ids(cli("search", "--tag", "campaign:spring", "-m", "-f", "jsonl")) == ["t1@x.example"]
    assert ids(cli("search", "--tag", "news", "--tag", "welcome", "-f", "jsonl")) == [
        "t1@x.example",
        "t0@x.example",
    ]
    assert ids(cli("search", "--type", "broadcast", "-m", "-f", "jsonl")) == ["t1@x.example"]
    assert ids(cli("search", "--send-method", "HTTP", "-f", "jsonl")) == ["t0@x.example"]
    assert ids(cli("search", "--send-method", "smtp", "--tag", "welcome", "-f", "jsonl")) == []
    stats = orjson.loads(cli("stats", "--tag", "welcome", "-f", "json").stdout)
    assert stats["messages"] == 1


@pytest.mark.usefixtures("tagged")
def test_filter_words_in_the_tui_syntax(cli) -> None:
    from maillog_cli.store.query import parse_words

    f = parse_words("tag:news type:broadcast method:smtp")
    assert (f.tags, f.types, f.send_methods) == (["news"], ["broadcast"], ["smtp"])
    assert f.describe() == "tag:news type:broadcast method:smtp"
    # the TUI's suggestion for scripts keeps them, and selects what the words did
    options = f.as_options()
    assert options == "--tag news --type broadcast --send-method smtp"
    by_words = ids(cli("search", "-m", *options.split(), "-f", "jsonl"))
    assert by_words == ["t1@x.example"]


@pytest.mark.usefixtures("tagged")
def test_event_rows_keep_exactly_the_event_keys(cli) -> None:
    for row in jsonl(cli("search", "-f", "jsonl")):
        assert list(row) == list(EVENT_KEYS)
    rows = jsonl(cli("search", "--messages", "-f", "jsonl"))
    assert all(list(r)[: len(EVENT_KEYS)] == list(EVENT_KEYS) for r in rows)


@pytest.mark.usefixtures("tagged")
def test_show_prints_the_facts(cli) -> None:
    out = cli("show", "t1@x.example").stdout
    lines = {" ".join(line.split()) for line in out.splitlines()}  # labels: a grid column
    assert "Type broadcast" in lines
    assert "Tags campaign:spring, news" in lines
    assert "Sent via smtp" in lines
    detail = orjson.loads(cli("show", "t1@x.example", "-f", "json").stdout)["message"]
    assert detail["tags"] == ["campaign:spring", "news"] and "last_seq" not in detail


# --- raw emails ---------------------------------------------------------------------------------


EML = """\
Received: from mx.example.net by mx.example.org with ESMTPS id 1; Mon, 5 Jan 2026 10:00:02 +0000
Received: from client (unknown [10.0.0.1]) by smtp.example.net {proto}; Mon, 5 Jan 2026 10:00:00 +0000
From: a@example.net
To: b@example.org
Subject: hello
Date: Mon, 5 Jan 2026 10:00:00 +0000
Message-ID: <{mid}@example.net>
X-Mailgun-Tag: receipts
X-SES-MESSAGE-TAGS: flow=signup, ses:configuration-set=x

body
"""


@pytest.mark.parametrize(
    ("proto", "method"), [("with ESMTPSA", "smtp"), ("with HTTP", "api"), ("", None)]
)
def test_eml_send_method_comes_from_its_first_hop(
    cli, tmp_path: Path, db_path: Path, proto: str, method: str | None
) -> None:
    text = EML.replace("{proto}", proto).replace("{mid}", "one")
    if not proto:  # no protocol anywhere in the trail, and no receiving server's stamp
        text = "\n".join(x for x in text.splitlines() if not x.startswith("Received")) + "\n"
    path = tmp_path / "one.eml"
    path.write_text(text)
    assert cli("import", path).exit_code == 0
    assert q(db_path, "SELECT send_method, tags, size FROM messages") == [
        (method, '["flow:signup","receipts"]', len(text.encode()))
    ]


# --- old stores ---------------------------------------------------------------------------------


def test_an_old_store_is_upgraded_with_its_tags_and_counts(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {number}")
    events = [
        ("e1", "delivered", '{"tags": ["a", "b"]}'),
        ("e2", "opened", '{"tags": {"ses:operation": ["SendEmail"], "flow": ["x"]}}'),
        ("e3", "opened", None),
        ("e4", "clicked", None),
    ]
    for i, (eid, status, extra) in enumerate(events):
        conn.execute(
            "INSERT INTO events(event_id, message_id, timestamp, status, extra)"
            " VALUES (?, 'old@x', ?, ?, ?)",
            (eid, f"2026-01-0{i + 1}T00:00:00.000Z", status, extra),
        )
    conn.execute(
        "INSERT INTO messages(message_id, opened_at, clicked_at, event_count)"
        " VALUES ('old@x', '2026-01-02T00:00:00.000Z', '2026-01-04T00:00:00.000Z', 4)"
    )
    conn.close()

    store = Store.open(db_path)
    assert store.version == len(MIGRATIONS)
    row = store.conn.execute(
        "SELECT tags, open_count, last_opened_at, click_count, last_clicked_at FROM messages"
    ).fetchone()
    assert row == (
        '["a","b","flow:x"]',
        2,
        "2026-01-03T00:00:00.000Z",
        1,
        "2026-01-04T00:00:00.000Z",
    )
    store.close()

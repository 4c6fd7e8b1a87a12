"""One email, one message: every id a source carries joins the same message, whatever the
import order (store/identity.py).

Each pairing is a provider record (built here from the documented format) and the raw
email it describes, or two provider records of one email; both are imported in both orders
and the store must hold one message with one timeline, found (with its stored email) by
every id, resendable by the provider's id, and unchanged by importing everything again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SENDER = "shop@example.net"
RCPT = "buyer@example.org"
RFC_ID = "order-5532@shop.example.net"


def eml(message_id: str = RFC_ID, to: str = RCPT, extra: str = "") -> str:
    """The sent copy of the email, as an .eml."""
    return (
        f"From: Shop <{SENDER}>\r\nTo: <{to}>\r\nSubject: Your order 5532\r\n"
        f"Date: Mon, 10 Jun 2024 09:59:50 +0000\r\nMessage-ID: <{message_id}>\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Thank you for your order.\r\n"
    )


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@dataclass
class Source:
    name: str  # file name (the suffix tells the reader what it is)
    text: str


@dataclass
class Pairing:
    """Two sources of one email, the ids each carries, and the id to resend by."""

    a: Source
    b: Source
    ids: list[str]  # every id of the email, as a user would paste them
    resend_by: str
    events: int  # events of the email, both sources together
    extra_ids: list[str] = field(default_factory=list)


def ses(message_id: str = "0100018f00aa11bb-ses-5532-000000", rfc: str | None = RFC_ID) -> Source:
    mail: dict = {
        "timestamp": "2024-06-10T10:00:00.000Z",
        "messageId": message_id,
        "source": SENDER,
        "destination": [RCPT],
        "headers": [{"name": "Message-ID", "value": f"<{rfc}>"}] if rfc else [],
        "commonHeaders": {"from": [SENDER], "to": [RCPT], "subject": "Your order 5532"},
    }
    if rfc:
        mail["commonHeaders"]["messageId"] = f"<{rfc}>"
    record = {
        "eventType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": "2024-06-10T10:00:02.000Z",
            "recipients": [RCPT],
            "smtpResponse": "250 2.0.0 OK",
        },
    }
    return Source("ses.jsonl", jsonl(record))


SES_ID = "0100018f00aa11bb-ses-5532-000000"


def pairing_ses() -> Pairing:
    return Pairing(ses(), Source("sent.eml", eml()), [RFC_ID, f"<{RFC_ID}>", SES_ID], SES_ID, 2)


PAIRINGS: dict[str, Callable[[], Pairing]] = {
    "ses-eml": pairing_ses,
}


def _import(cli, tmp_path: Path, src: Source) -> None:
    path = tmp_path / src.name
    path.write_text(src.text)
    r = cli("import", str(path))
    assert r.exit_code == 0, r


def _messages(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT message_id, has_content FROM messages").fetchall()


def _event_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT DISTINCT message_id FROM events")}


def _state(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return [
            *conn.execute("SELECT event_id, message_id FROM events ORDER BY event_id"),
            *conn.execute("SELECT alias, message_id FROM message_aliases ORDER BY alias"),
            *conn.execute("SELECT message_id, has_content, event_count FROM messages"),
        ]


@pytest.mark.parametrize("order", ["provider-first", "email-first"])
@pytest.mark.parametrize("name", sorted(PAIRINGS))
def test_one_email_is_one_message_in_either_order(
    cli, tmp_path: Path, db_path: Path, name: str, order: str
) -> None:
    p = PAIRINGS[name]()
    first, second = (p.a, p.b) if order == "provider-first" else (p.b, p.a)
    _import(cli, tmp_path, first)
    _import(cli, tmp_path, second)

    messages = _messages(db_path)
    assert len(messages) == 1, messages
    (mid, has_content) = messages[0]
    assert _event_ids(db_path) == {mid}
    for ident in p.ids:
        r = cli("show", ident, "--format", "json")
        assert r.exit_code == 0, (ident, r)
        shown = json.loads(r.stdout)
        assert shown["message"]["message_id"] == mid, ident
        assert len(shown["events"]) == p.events, ident
        raw = cli("show", ident, "--raw")
        assert raw.exit_code == 0 and "Thank you for your order." in raw.stdout, (ident, raw)
        found = cli("search", "--message-id", ident, "--format", "json", "--limit", "0")
        assert {e["message_id"] for e in json.loads(found.stdout)} == {mid}, ident
        assert len(json.loads(found.stdout)) == p.events, ident
    r = cli("resend", p.resend_by, "--dry-run", "--to", "check@example.com")
    assert r.exit_code == 0, r

    before = _state(db_path)
    _import(cli, tmp_path, first)
    _import(cli, tmp_path, second)
    assert _state(db_path) == before


@pytest.mark.parametrize("name", sorted(PAIRINGS))
def test_the_joined_message_is_the_same_in_either_order(cli, tmp_path: Path, name: str) -> None:
    p = PAIRINGS[name]()
    states = []
    for order, (x, y) in (("ab", (p.a, p.b)), ("ba", (p.b, p.a))):
        db = tmp_path / f"{order}.db"
        for src in (x, y):
            path = tmp_path / src.name
            path.write_text(src.text)
            assert cli("--db", str(db), "import", str(path)).exit_code == 0
        states.append(_state(db))
    assert states[0] == states[1]

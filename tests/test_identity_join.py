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
from dataclasses import dataclass
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
    content: bool = True  # one of them is the email itself


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
SG_SHORT = "Qx7rT2mPa9c4nZk1LwB8dE"
SG_LONG = f"{SG_SHORT}.filter0931p1mdw1-20417-6667A1F2-3.0"
MG_KEY = "AgEFwyUg0xG2mk3p-Rq4oQ8tLz2bYc9e"
PM_ID = "3f6c2b1e-8a47-4d2c-9b5e-1a7f0c9d2e84"
POSTAL_TOKEN = "Hq2LpX9vRt4k"
SP_ID = "0004f1e2d3c4b5a69788"
SP_TX = "84719302485721"
RS_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
ANYMAIL_ID = "9b1c6f0e-5d2a-4c8b-a7e3-2f4d6b8a0c1e"


def sendgrid(rfc: str | None = RFC_ID, custom: dict | None = None) -> Source:
    base = {"email": RCPT, "sg_message_id": SG_LONG, **(custom or {})}
    if rfc:
        base["smtp-id"] = f"<{rfc}>"
    return Source(
        "sendgrid.json",
        json.dumps(
            [
                {**base, "timestamp": 1718013600, "event": "processed", "sg_event_id": "sgp-1"},
                {
                    **base,
                    "timestamp": 1718013603,
                    "event": "delivered",
                    "sg_event_id": "sgd-1",
                    "response": "250 2.0.0 OK",
                },
            ]
        ),
    )


def mailgun(rfc: str = RFC_ID, variables: dict | None = None) -> Source:
    data = {
        "id": "mgev-delivered-5532",
        "event": "delivered",
        "timestamp": 1718013604.25,
        "recipient": RCPT,
        "message": {"headers": {"message-id": rfc, "from": SENDER, "to": RCPT}},
        "storage": {"key": MG_KEY, "url": f"https://storage.example.net/messages/{MG_KEY}"},
        "delivery-status": {"code": 250, "message": "OK"},
    }
    if variables:
        data["user-variables"] = variables
    return Source("mailgun.jsonl", jsonl({"signature": {}, "event-data": data}))


def postmark() -> Source:
    record = {
        "RecordType": "Delivery",
        "MessageID": PM_ID,
        "Recipient": RCPT,
        "DeliveredAt": "2024-06-10T10:00:04Z",
        "Details": "smtp;250 2.0.0 OK",
        "MessageStream": "outbound",
        "Headers": [{"Name": "Message-ID", "Value": f"<{RFC_ID}>"}],
    }
    return Source("postmark.jsonl", jsonl(record))


def postal() -> Source:
    message = {
        "id": 731,
        "token": POSTAL_TOKEN,
        "direction": "outgoing",
        "message_id": RFC_ID,
        "to": RCPT,
        "from": SENDER,
        "subject": "Your order 5532",
        "timestamp": 1718013590.0,
    }
    record = {
        "event": "MessageSent",
        "timestamp": 1718013604.5,
        "uuid": "postal-sent-5532",
        "payload": {
            "message": message,
            "status": "Sent",
            "details": f"Message for {RCPT} accepted",
            "output": "250 2.0.0 OK\n",
            "timestamp": 1718013604.4,
        },
    }
    return Source("postal.jsonl", jsonl(record))


def sparkpost(message_id: str = SP_ID, rcpt: str = RCPT, event_id: str = "spev-1") -> dict:
    return {
        "msys": {
            "message_event": {
                "type": "delivery",
                "event_id": event_id,
                "message_id": message_id,
                "transmission_id": SP_TX,
                "timestamp": "1718013604",
                "rcpt_to": rcpt,
                "friendly_from": SENDER,
                "subject": "Your order 5532",
                "rcpt_meta": {"anymail_id": ANYMAIL_ID},
            }
        }
    }


def resend() -> Source:
    data = {
        "email_id": RS_ID,
        "created_at": "2024-06-10T09:59:59.000Z",
        "from": SENDER,
        "to": [RCPT],
        "subject": "Your order 5532",
        "message_id": f"<{RFC_ID}>",
    }
    record = {"type": "email.delivered", "created_at": "2024-06-10T10:00:04.000Z", "data": data}
    return Source("resend.jsonl", jsonl(record))


MD_ID = "7c1f9e2d4b6a80354f1e2d3c4b5a6978"
BREVO_RFC = "202406100959.77120034501@smtp-relay.mailin.fr"


def mandrill() -> Source:
    msg = {
        "_id": MD_ID,
        "ts": 1718013590,
        "email": RCPT,
        "sender": SENDER,
        "subject": "Your order 5532",
        "state": "sent",
        "metadata": {"anymail_id": ANYMAIL_ID},
    }
    return Source(
        "mandrill.json", json.dumps([{"event": "send", "_id": MD_ID, "ts": 1718013600, "msg": msg}])
    )


def brevo() -> Source:
    record = {
        "event": "delivered",
        "email": RCPT,
        "message-id": f"<{BREVO_RFC}>",
        "ts_epoch": 1718013604000,
        "subject": "Your order 5532",
    }
    return Source("brevo.jsonl", jsonl(record))


QUEUE_ID = "A7B3C9D1E2"


def postfix() -> Source:
    """The mail server's own log: the queue id, and the Message-ID cleanup saw."""
    q = f"mx postfix/qmgr[900]: {QUEUE_ID}:"
    return Source(
        "mail.log",
        f"Jun 10 10:00:01 mx postfix/cleanup[1202]: {QUEUE_ID}: message-id=<{RFC_ID}>\n"
        f"Jun 10 10:00:01 {q} from=<{SENDER}>, size=4211, nrcpt=1 (queue active)\n"
        f"Jun 10 10:00:02 mx postfix/smtp[1203]: {QUEUE_ID}: to=<{RCPT}>,"
        " relay=mx1.example.org[192.0.2.10]:25, delay=1.1, delays=0.1/0.01/0.5/0.49,"
        " dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9D8C7B6A5F)\n"
        f"Jun 10 10:00:02 {q} removed\n",
    )


def sent(extra: str = "") -> Source:
    return Source("sent.eml", eml(extra=extra))


def with_ids(*ids: str) -> list[str]:
    """The ids as a user may paste them: each, and an RFC id in <> too."""
    return [v for i in ids for v in ((i, f"<{i}>") if "@" in i else (i,))]


PAIRINGS: dict[str, Callable[[], Pairing]] = {
    "ses-eml": lambda: Pairing(ses(), sent(), with_ids(RFC_ID, SES_ID), SES_ID, 2),
    "sendgrid-eml": lambda: Pairing(
        sendgrid(), sent(), with_ids(RFC_ID, SG_SHORT, SG_LONG), SG_SHORT, 3
    ),
    "mailgun-eml": lambda: Pairing(mailgun(), sent(), with_ids(RFC_ID, MG_KEY), MG_KEY, 2),
    "postmark-eml": lambda: Pairing(postmark(), sent(), with_ids(RFC_ID, PM_ID), PM_ID, 2),
    "postal-eml": lambda: Pairing(
        postal(), sent(), with_ids(RFC_ID, POSTAL_TOKEN), POSTAL_TOKEN, 2
    ),
    # SparkPost's events never carry the Message-ID: the sender's own id joins them, set
    # through the SMTP API header the sent copy keeps.
    "sparkpost-eml": lambda: Pairing(
        Source("sparkpost.json", json.dumps([sparkpost()])),
        sent(f'X-MSYS-API: {{"metadata": {{"anymail_id": "{ANYMAIL_ID}"}}}}\r\n'),
        with_ids(RFC_ID, SP_ID, ANYMAIL_ID),
        SP_ID,
        2,
    ),
    # Mandrill's events carry no Message-ID either: X-MC-Metadata in the sent copy
    "mandrill-eml": lambda: Pairing(
        mandrill(),
        sent(f'X-MC-Metadata: {{"anymail_id": "{ANYMAIL_ID}"}}\r\n'),
        with_ids(RFC_ID, MD_ID, ANYMAIL_ID),
        MD_ID,
        2,
    ),
    # Brevo names the email by the Message-ID it gave it
    "brevo-eml": lambda: Pairing(
        brevo(), Source("sent.eml", eml(BREVO_RFC)), with_ids(BREVO_RFC), BREVO_RFC, 2
    ),
    "postfix-eml": lambda: Pairing(postfix(), sent(), with_ids(RFC_ID, QUEUE_ID), QUEUE_ID, 3),
    "resend-eml": lambda: Pairing(resend(), sent(), with_ids(RFC_ID, RS_ID), RS_ID, 2),
    # django-anymail's anymail_id: a SendGrid custom arg and Mailgun user-variables.
    "anymail-sendgrid-mailgun": lambda: Pairing(
        sendgrid(rfc=None, custom={"anymail_id": ANYMAIL_ID}),
        mailgun(
            rfc="20240610100000.5532.1@mg.shop.example.net", variables={"anymail_id": ANYMAIL_ID}
        ),
        with_ids(ANYMAIL_ID, SG_SHORT, MG_KEY, "20240610100000.5532.1@mg.shop.example.net"),
        SG_SHORT,
        3,
        content=False,
    ),
    # two providers' dumps of one email, sharing its Message-ID
    "ses-sendgrid": lambda: Pairing(
        ses(), sendgrid(), with_ids(RFC_ID, SES_ID, SG_SHORT, SG_LONG), SES_ID, 3, content=False
    ),
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
    assert has_content == p.content
    assert _event_ids(db_path) == {mid}
    for ident in p.ids:
        r = cli("show", ident, "--format", "json")
        assert r.exit_code == 0, (ident, r)
        shown = json.loads(r.stdout)
        assert shown["message"]["message_id"] == mid, ident
        assert len(shown["events"]) == p.events, ident
        if p.content:
            raw = cli("show", ident, "--raw")
            assert raw.exit_code == 0 and "Thank you" in raw.stdout, (ident, raw)
        found = cli("search", "--message-id", ident, "--format", "json", "--limit", "0")
        assert {e["message_id"] for e in json.loads(found.stdout)} == {mid}, ident
        assert len(json.loads(found.stdout)) == p.events, ident
    if p.content:
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


def test_joined_messages_survive_export_and_import_byte_identical(
    cli, tmp_path: Path, db_path: Path
) -> None:
    for name in ("ses-eml", "sendgrid-eml", "sparkpost-eml"):
        p = PAIRINGS[name]()
        for src in (p.b, p.a):  # the email first: its message is then merged into
            src.name = f"{name}-{src.name}"
            _import(cli, tmp_path, src)
    assert _messages(db_path) == [(RFC_ID, 1)]  # one email, told by three providers
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli("export", "-o", a).exit_code == 0
    restored = tmp_path / "restored.db"
    assert cli("--db", restored, "import", a).exit_code == 0
    assert cli("--db", restored, "export", "-o", b).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert _state(restored) == _state(db_path)
    for ident in (SES_ID, SG_SHORT, SP_ID, ANYMAIL_ID):
        assert "Thank you" in cli("--db", restored, "show", ident, "--raw").stdout


def test_one_transmission_to_two_recipients_stays_two_emails(
    cli, tmp_path: Path, db_path: Path
) -> None:
    """SparkPost's transmission id (and metadata set once per transmission) is shared by
    every recipient's email: it must not merge them."""
    records = [
        sparkpost("0004f1e2d3c4b5a60001", "ann@example.org", "spev-a"),
        sparkpost("0004f1e2d3c4b5a60002", "ben@example.org", "spev-b"),
    ]
    for record in records:  # one file each: the second meets the first in the store
        _import(
            cli,
            tmp_path,
            Source(f"{record['msys']['message_event']['event_id']}.json", json.dumps([record])),
        )
    _import(cli, tmp_path, Source("both.json", json.dumps(records)))  # and within one batch
    assert len(_messages(db_path)) == 2
    r = cli("show", SP_TX, "--format", "json")
    assert r.exit_code != 0 or len(json.loads(r.stdout)["events"]) == 1


@pytest.mark.parametrize("blank", ["", "<>", " < > ", "null", "0", "none", "12"])
def test_a_blank_or_reused_id_never_joins_two_emails(
    cli, tmp_path: Path, db_path: Path, blank: str
) -> None:
    """Two different emails from two providers whose RFC id field is empty or a placeholder."""
    ses_record = json.loads(ses(rfc=None).text)
    ses_record["mail"]["commonHeaders"]["messageId"] = blank
    _import(cli, tmp_path, Source("ses.jsonl", jsonl(ses_record)))
    _import(
        cli,
        tmp_path,
        Source(
            "sg.json",
            sendgrid(rfc=None).text.replace(
                '"sg_message_id"', f'"smtp-id": {json.dumps(blank)}, "sg_message_id"'
            ),
        ),
    )
    _import(
        cli,
        tmp_path,
        Source("resend.jsonl", resend().text.replace(json.dumps(f"<{RFC_ID}>"), json.dumps(blank))),
    )
    messages = sorted(m for m, _ in _messages(db_path))
    assert messages == sorted([SES_ID, SG_SHORT, RS_ID])


def test_a_second_send_with_the_same_message_id_stays_a_second_email(
    cli, tmp_path: Path, db_path: Path
) -> None:
    """One provider names one email by one id: two SES sends that reuse a Message-ID are
    two emails, even after the Message-ID joined the first to its .eml."""
    _import(cli, tmp_path, sent())
    _import(cli, tmp_path, ses())
    _import(cli, tmp_path, Source("ses2.jsonl", ses("0100018f00aa11bb-ses-9999-000000").text))
    assert len(_messages(db_path)) == 2
    assert cli("show", "0100018f00aa11bb-ses-9999-000000").exit_code == 0


def test_later_events_of_a_joined_email_go_to_it(cli, tmp_path: Path, db_path: Path) -> None:
    """After the join, an event that names the email only by the provider's id (an open:
    no Message-ID) lands on the joined message."""
    _import(cli, tmp_path, ses())
    _import(cli, tmp_path, sent())
    record = json.loads(ses(rfc=None).text)
    record["eventType"] = "Open"
    del record["delivery"]
    record["open"] = {
        "timestamp": "2024-06-10T11:00:00.000Z",
        "ipAddress": "198.51.100.9",
        "userAgent": "Mail",
    }
    _import(cli, tmp_path, Source("open.jsonl", jsonl(record)))
    assert _messages(db_path) == [(RFC_ID, 1)]
    assert _event_ids(db_path) == {RFC_ID}
    shown = json.loads(cli("show", SES_ID, "--format", "json").stdout)
    assert [e["status"] for e in shown["events"]][-1] == "opened"


def test_one_provider_alone_keeps_its_own_id_and_a_join_takes_the_message_id(
    cli, tmp_path: Path, db_path: Path
) -> None:
    """The id events are listed under: the provider's own while it is the only source (the
    field docs/providers.md names), the RFC Message-ID once a second source joins."""
    _import(cli, tmp_path, ses())
    _import(cli, tmp_path, sendgrid(rfc="other-7@shop.example.net"))
    assert sorted(m for m, _ in _messages(db_path)) == sorted([SES_ID, SG_SHORT])
    _import(cli, tmp_path, sent())
    assert sorted(m for m, _ in _messages(db_path)) == sorted([RFC_ID, SG_SHORT])
    rows = json.loads(cli("search", "--format", "json", "--limit", "0").stdout)
    assert {r["message_id"] for r in rows if r["provider"] in ("ses", None)} == {RFC_ID}


@pytest.mark.parametrize("exported", ["provider", "email"])
def test_an_export_joins_the_email_another_store_holds(
    cli, tmp_path: Path, db_path: Path, exported: str
) -> None:
    """`maillog import` of one store's export into a store that holds the other half of
    the email: one message, its stored email found by the provider's id."""
    other = tmp_path / "other.db"
    first, second = (ses(), sent()) if exported == "provider" else (sent(), ses())
    (tmp_path / first.name).write_text(first.text)
    assert cli("--db", other, "import", tmp_path / first.name).exit_code == 0
    out = tmp_path / "other.jsonl"
    assert cli("--db", other, "export", "-o", out).exit_code == 0
    _import(cli, tmp_path, second)
    assert cli("import", out).exit_code == 0
    assert _messages(db_path) == [(RFC_ID, 1)]
    assert _event_ids(db_path) == {RFC_ID}
    assert "Thank you" in cli("show", SES_ID, "--raw").stdout


@pytest.mark.slow
@pytest.mark.parametrize("order", ["provider-first", "email-first"])
def test_a_bulk_load_joins_too(cli, tmp_path: Path, db_path: Path, order: str) -> None:
    """A file big enough to be parsed in a second process and loaded in bulk (indexes
    dropped) joins its email with the stored .eml like a small one."""
    record = json.loads(ses().text)
    lines = [json.dumps(record)]
    for n in range(16000):  # other emails, to pass the bulk threshold
        record["mail"]["messageId"] = f"0100018f00aa11bb-bulk-{n:06d}-000000"
        record["mail"]["commonHeaders"]["messageId"] = f"<bulk-{n}@shop.example.net>"
        record["mail"]["headers"] = [
            {"name": "Message-ID", "value": f"<bulk-{n}@shop.example.net>"}
        ]
        lines.append(json.dumps(record))
    big = Source("big-ses.jsonl", "\n".join(lines) + "\n")
    assert len(big.text) >= 8 << 20
    for src in (big, sent()) if order == "provider-first" else (sent(), big):
        _import(cli, tmp_path, src)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 16001
        assert conn.execute(
            "SELECT message_id, has_content, event_count FROM messages WHERE has_content"
        ).fetchall() == [(RFC_ID, 1, 2)]
    assert "Thank you" in cli("show", SES_ID, "--raw").stdout

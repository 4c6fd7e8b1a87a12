"""The raw-email importer: .eml, mbox and Maildir sources, built for real in tmp_path."""

from __future__ import annotations

import csv
import hashlib
import io
import mailbox
import os
import re
from email.message import EmailMessage

import pytest

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context
from maillog_cli.importers.email import files as ef
from maillog_cli.model import Event, Skip, StoredMessage

from ..conftest import CORPUS, CORPUS_MISSING, fixture_files

CTX = Context()


def make_message(
    msg_id: str | None = "<Abc.123@Example.com>",
    date: str | None = "Thu, 04 Jan 2024 10:00:00 +0100",
    subject: str = "Quarterly report — naïve café",
    body: str = "Hello,\nsee attached.\n",
    **extra: str,
) -> bytes:
    m = EmailMessage()
    m["From"] = '"Lindqvist, Ava" <Ava.Lindqvist@Example.com>'
    m["To"] = "Bob <BOB@example.org>, carl@example.net"
    m["Cc"] = "dora@example.com, bob@example.org"
    m["Bcc"] = "eve@example.com"
    m["Subject"] = subject
    if date is not None:
        m["Date"] = date
    if msg_id is not None:
        m["Message-ID"] = msg_id
    m["Reply-To"] = "help@example.com"
    m["List-Unsubscribe"] = "<mailto:unsub@example.com>"
    for name, value in extra.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return bytes(m)


def read_bytes(data: bytes, name: str = "x.eml", ctx: Context = CTX) -> list[tuple[int, object]]:
    return list(ef.read(io.BytesIO(data), name, ctx))


def items_of(pairs):
    return [item for _loc, item in pairs]


def mboxrd(messages: list[tuple[bytes, bytes]]) -> bytes:
    """An mboxrd file: From_ line, quoted body (>*From gains one >), blank separator."""
    out = []
    for from_line, raw in messages:
        quoted = re.sub(rb"(?m)^(>*From )", rb">\1", raw)
        if not quoted.endswith(b"\n"):
            quoted += b"\n"
        out.append(from_line + b"\n" + quoted + b"\n")
    return b"".join(out)


# --- one .eml --------------------------------------------------------------------------------


def test_eml_yields_stored_message_and_one_sent_event_per_recipient():
    raw = make_message(
        Authentication_Results=(
            "mx.example.org; spf=pass smtp.mailfrom=example.com; "
            "dkim=pass (2048-bit key; unprotected) header.d=example.com; dmarc=fail"
        )
    )
    pairs = read_bytes(raw)
    assert all(loc == 1 for loc, _ in pairs)
    stored, *events = items_of(pairs)
    assert isinstance(stored, StoredMessage)
    assert stored.message_id == "Abc.123@Example.com"  # case kept, <> removed
    assert stored.timestamp == "2024-01-04T09:00:00.000Z"
    assert stored.sender == "ava.lindqvist@example.com"
    assert stored.recipients == (
        "bob@example.org",
        "carl@example.net",
        "dora@example.com",
        "eve@example.com",
    )
    assert stored.subject == "Quarterly report — naïve café"
    assert stored.raw == raw  # byte-exact
    assert stored.size == len(raw)
    assert (stored.spf, stored.dkim, stored.dmarc) == ("pass", "pass", "fail")
    h = stored.headers
    assert h["Subject"] == "Quarterly report — naïve café"  # RFC 2047 decoded
    assert h["From"] == '"Lindqvist, Ava" <Ava.Lindqvist@Example.com>'
    assert h["Message-ID"] == "<Abc.123@Example.com>"
    assert h["Reply-To"] == "help@example.com"
    assert h["List-Unsubscribe"] == "<mailto:unsub@example.com>"
    assert h["Date"] == "Thu, 04 Jan 2024 10:00:00 +0100"
    assert "Authentication-Results" not in h

    assert [e.recipient for e in events] == list(stored.recipients)
    for e in events:
        assert isinstance(e, Event)
        assert (e.status, e.raw_status, e.provider) == ("sent", "sent", None)
        assert e.message_id == "Abc.123@Example.com"
        assert e.sender == "ava.lindqvist@example.com"
        assert e.subject == stored.subject
        assert e.timestamp == stored.timestamp
        assert e.extra == {"source": "eml"}
        assert e.event_id and e.event_id.startswith("h:")
    assert len({e.event_id for e in events}) == len(events)


def test_crlf_message_and_undisclosed_recipients():
    raw = (
        b"From: Sender <s@example.com>\r\nTo: undisclosed-recipients:;\r\n"
        b"Bcc: Hidden@Example.com\r\nSubject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
        b"Date: Mon, 1 Jul 2024 08:00:00 -0000\r\nMessage-ID: <crlf@x>\r\n\r\nbody\r\n"
    )
    stored, event = items_of(read_bytes(raw))
    assert stored.raw == raw
    assert stored.recipients == ("hidden@example.com",)
    assert stored.subject == "Grüße"
    assert event.recipient == "hidden@example.com"


def test_auth_results_first_result_of_each_method_and_received_spf():
    raw = make_message(
        Authentication_Results="mx.a.org; dkim=neutral (no key; d=x=y) header.d=a.org",
    )
    # a second, older Authentication-Results and a Received-SPF below it
    head, sep, body = raw.partition(b"\n\n")
    raw = (
        head
        + b"\nAuthentication-Results: relay.b.org; dkim=pass; spf=softfail; dmarc=none\n"
        + b"Received-SPF: pass (b.org: domain of s@a.org designates 192.0.2.1)\n"
        + sep[1:]
        + body
    )
    stored = items_of(read_bytes(raw))[0]
    assert (stored.spf, stored.dkim, stored.dmarc) == ("softfail", "neutral", "none")

    only_spf_header = make_message(Received_SPF="Fail (example.org: not permitted)")
    stored = items_of(read_bytes(only_spf_header))[0]
    assert (stored.spf, stored.dkim, stored.dmarc) == ("fail", None, None)


def test_message_without_message_id_gets_a_stable_synthetic_id(tmp_path):
    raw = make_message(msg_id=None)
    stored, *events = items_of(read_bytes(raw))
    expected = "sha1-" + hashlib.sha1(raw).hexdigest()[:32]
    assert stored.message_id == expected == ef.synthetic_id(raw)
    assert len(expected) == 37
    assert all(e.message_id == expected for e in events)
    # the same message from an mbox (its From_ line is not part of it) keeps the id
    mbox = mboxrd([(b"From ava@example.com Thu Jan  4 09:00:00 2024", raw)])
    again = items_of(read_bytes(mbox, "sent.mbox"))[0]
    assert again.message_id == expected and again.raw == raw
    # and importing twice gives the same event ids
    assert [e.event_id for e in events] == [e.event_id for e in items_of(read_bytes(raw))[1:]]


def test_missing_or_unreadable_date_is_a_record_error_not_an_exception():
    ((loc, item),) = read_bytes(make_message(date=None))
    assert loc == 1 and isinstance(item, RecordError)
    assert "Date" in str(item)
    # EmailMessage refuses to write a bad Date, so put it in by hand
    raw = b"Date: the day after tomorrow-ish\n" + make_message(date=None)
    ((_, item),) = read_bytes(raw)
    assert isinstance(item, RecordError) and "unreadable Date" in str(item)


def test_date_without_zone_uses_tz_option():
    from datetime import timedelta, timezone

    raw = make_message(date="4 Jan 2024 10:00:00")
    stored = items_of(read_bytes(raw, ctx=Context(default_tz=timezone(timedelta(hours=2)))))[0]
    assert stored.timestamp == "2024-01-04T08:00:00.000Z"


def test_ordinary_mail_with_a_bounce_like_subject_stays_a_sent_message():
    raw = make_message(subject="Your application was rejected")
    items = items_of(read_bytes(raw))
    assert isinstance(items[0], StoredMessage)
    assert {e.status for e in items[1:]} == {"sent"}


# --- mbox ------------------------------------------------------------------------------------


def test_mbox_splits_messages_unquotes_from_lines_and_keeps_bytes():
    tricky = make_message(
        msg_id="<one@x>",
        body="From the desk of Ava:\n>From quoted once\n>>From quoted twice\n\nFrom here on.\n",
    )
    plain = make_message(msg_id="<two@x>", date=None)  # date from the From_ line
    third = make_message(msg_id="<three@x>", body="last one, no trailing newline")
    data = mboxrd(
        [
            (b"From ava@example.com Thu Jan  4 09:00:00 2024", tricky),
            (b"From ava@example.com Fri Jan  5 11:30:15 2024", plain),
            (b"From MAILER-DAEMON Sat Jan  6 12:00:00 2024", third),
        ]
    )
    assert ef.sniff("sent.mbox", data[:65536])
    pairs = read_bytes(data, "sent.mbox")
    stored = [(loc, i) for loc, i in pairs if isinstance(i, StoredMessage)]
    assert [i.message_id for _, i in stored] == ["one@x", "two@x", "three@x"]
    assert stored[0][1].raw == tricky
    assert stored[1][1].raw == plain
    assert stored[2][1].raw == third
    # locations are the physical lines of the From_ lines
    lines = data.split(b"\n")
    for loc, _ in stored:
        assert lines[loc - 1].startswith(b"From ")
    assert [loc for loc, _ in stored][0] == 1
    assert stored[1][1].timestamp == "2024-01-05T11:30:15.000Z"
    events = [i for _, i in pairs if isinstance(i, Event)]
    assert len(events) == 12 and {e.extra["source"] for e in events} == {"mbox"}


def test_mbox_written_by_the_stdlib(tmp_path):
    path = tmp_path / "sent.mbox"
    box = mailbox.mbox(path)
    raws = [make_message(msg_id=f"<m{i}@x>", body=f"message {i}\nFrom me\n") for i in range(5)]
    for raw in raws:
        box.add(raw)
    box.flush()
    box.close()
    data = path.read_bytes()
    assert ef.sniff(path.name, data[:65536])
    with path.open("rb") as fh:
        stored = [i for _, i in ef.read(fh, path.name, CTX) if isinstance(i, StoredMessage)]
    assert [s.message_id for s in stored] == [f"m{i}@x" for i in range(5)]
    assert all(b"\nFrom me\n" in s.raw for s in stored)  # ">From me" unquoted


def test_mbox_is_read_lazily():
    one = make_message(msg_id="<lazy@x>")
    data = mboxrd([(b"From a@x Thu Jan  4 09:00:00 2024", one)] * 200)
    stream = io.BytesIO(data)
    it = ef.read(stream, "big.mbox", CTX)
    first = next(it)
    assert isinstance(first[1], StoredMessage)
    assert stream.tell() < len(data) // 10


def test_a_bad_message_in_an_mbox_does_not_stop_the_rest():
    good = make_message(msg_id="<good@x>")
    bad = b"X-Junk: " + b"a" * (1 << 20) + b"\nFrom: x@y\n\nbody\n"
    nul = b"From: a@b\nSubject: nul\x00byte\nDate: Thu, 04 Jan 2024 10:00:00 +0000\n\nhi\n"
    no_date = make_message(msg_id="<nodate@x>", date=None)
    data = (
        mboxrd([(b"From a@x Thu Jan  4 09:00:00 2024", good)])
        + mboxrd([(b"From a@x Thu Jan  4 09:00:00 2024", bad)])
        + mboxrd([(b"From a@x Thu Jan  4 09:00:00 2024", nul)])
        # a From_ line without a date: the message has neither date
        + b"From a@x\n"
        + no_date
        + b"\n"
        + mboxrd([(b"From a@x Thu Jan  4 09:00:00 2024", good.replace(b"good@", b"good2@"))])
    )
    items = items_of(read_bytes(data, "m.mbox"))
    ids = [i.message_id for i in items if isinstance(i, StoredMessage)]
    errors = [i for i in items if isinstance(i, Exception)]
    assert ids[0] == "good@x" and ids[-1] == "good2@x"
    assert all(isinstance(e, RecordError) for e in errors)
    reasons = " | ".join(map(str, errors))
    assert "longer than" in reasons and "NUL" in reasons and "without a Date" in reasons
    assert len(errors) == 3 and len(ids) == 2


# --- Maildir ---------------------------------------------------------------------------------


def test_maildir_cur_and_new(tmp_path):
    md = mailbox.Maildir(tmp_path / "Mail", create=True)
    md.add(make_message(msg_id="<new@x>"))  # lands in new/
    msg = mailbox.MaildirMessage(make_message(msg_id="<cur@x>"))
    msg.set_subdir("cur")
    msg.add_flag("S")
    md.add(msg)
    (tmp_path / "Mail" / "cur" / "broken").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    (tmp_path / "Mail" / "new" / ".hidden").write_bytes(make_message(msg_id="<hidden@x>"))
    # a Maildir++ sub-folder
    sub = md.add_folder("Sent")
    sub.add(make_message(msg_id="<sent@x>"))
    md.close()

    root = tmp_path / "Mail"
    assert ef.is_maildir(root)
    assert not ef.is_maildir(tmp_path)
    assert not ef.is_maildir(root / "cur" / "broken")
    pairs = list(ef.read_maildir(root, CTX))
    stored = {i.message_id: loc for loc, i in pairs if isinstance(i, StoredMessage)}
    assert set(stored) == {"new@x", "cur@x", "sent@x"}
    assert stored["new@x"].startswith("new/") and stored["cur@x"].startswith("cur/")
    assert stored["sent@x"].startswith(".Sent/new/")
    errors = [(loc, i) for loc, i in pairs if isinstance(i, Exception)]
    assert [loc for loc, _ in errors] == ["cur/broken"]
    assert isinstance(errors[0][1], RecordError)
    events = [i for _, i in pairs if isinstance(i, Event)]
    assert {e.extra["source"] for e in events} == {"maildir"}


# --- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(bytes(range(256)) * 40, id="garbage-bytes"),
        pytest.param(os.urandom(4096).replace(b"\n", b"x"), id="random-bytes"),
        pytest.param(bytes(range(1, 256)) * 40, id="garbage-without-nul"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)), id="png"),
        pytest.param(b"\x00\xff" * 500, id="nul-and-ff"),
        pytest.param(
            b"From: a@b\nTo: c@d\nSubject: x\x00y\nDate: Thu, 4 Jan 2024 10:00:00 +0000\n\nhi\n",
            id="nul-in-header",
        ),
        pytest.param(b"Subject: " + b"A" * (1 << 20) + b"\nFrom: a@b\n\nbody\n", id="1mb-header"),
        pytest.param(
            b"X-Folded: a\n" + b" b\n" * 40000 + b"From: a@b\n\nbody\n", id="folded-header"
        ),
        pytest.param(
            b"From: a@b\nReferences: " + b"<x@y> " * 20000 + b"\n\nbody\n", id="long-field"
        ),
        pytest.param(b"   leading continuation\nFrom: a@b\n\n", id="continuation-first"),
        pytest.param(b"just some text\nwith lines\n", id="plain-text"),
        pytest.param(b"Content-Type: text/plain\n\nno addresses, no date\n", id="no-useful-header"),
    ],
)
def test_hostile_input_gives_a_record_error_item(raw):
    pairs = read_bytes(raw)
    assert len(pairs) == 1
    loc, item = pairs[0]
    assert loc == 1
    assert isinstance(item, RecordError), item
    assert 0 < len(str(item)) < 200


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b"From: a@b\nTo: c@d\nDate: Thu, 4 Jan 2024 10:00:00 +0000\n"
            b"Content-Type: multipart/mixed\n\n--nothing\nContent-Type: text/plain\n\nhi\n",
            id="multipart-without-boundary",
        ),
        pytest.param(
            b"From: =?utf-8?q?=FF=FE?= <a@b>\nTo: =?bogus-charset?b?!!!?= <c@d>\n"
            b"Subject: =?utf-8?b?broken base64?=\xff\xfe raw 8-bit\n"
            b"Date: Thu, 4 Jan 2024 10:00:00 +0000\nMessage-ID: <\xe9t\xe9@x>\n"
            b"Content-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
            id="bad-encodings",
        ),
        pytest.param(
            b"From: a@b\nTo: c@d\nDate: Thu, 4 Jan 2024 10:00:00 +0000\n"
            b"Content-Type: multipart/mixed; boundary=b\n\n"
            + b"--b\nContent-Type: multipart/mixed; boundary=b\n\n"
            * 3000,
            id="deep-nesting",
        ),
    ],
)
def test_broken_mime_never_raises(raw):
    items = items_of(read_bytes(raw))
    assert items
    for item in items:
        assert isinstance(item, StoredMessage | Event | Skip | RecordError)
    stored = [i for i in items if isinstance(i, StoredMessage)]
    for s in stored:
        assert s.raw == raw
        # everything stored is valid text (SQLite/JSON safe)
        for value in (*s.headers.values(), s.subject or "", s.message_id):
            value.encode("utf-8")


def test_raw_8bit_headers_are_read_as_utf8_else_latin1():
    raw = (
        "From: Jörg <jörg@example.com>\nTo: zoë@example.com\nSubject: Grüße aus Köln\n"
        "Date: Thu, 4 Jan 2024 10:00:00 +0000\nMessage-ID: <été@x>\n\nhi\n"
    ).encode()
    stored, event = items_of(read_bytes(raw))
    assert stored.subject == "Grüße aus Köln"
    assert stored.message_id == "été@x"
    assert stored.sender == "jörg@example.com"
    assert event.recipient == "zoë@example.com"
    latin = raw.decode("utf-8").encode("latin-1")
    stored = items_of(read_bytes(latin))[0]
    assert stored.subject == "Grüße aus Köln" and stored.raw == latin


# --- bounces ---------------------------------------------------------------------------------


def make_dsn(
    action: str = "failed",
    status: str = "5.1.1",
    original_id: str | None = "<orig-1@example.com>",
    recipient: str = "Missing@Example.org",
    last_attempt: str | None = "Thu, 04 Jan 2024 10:05:00 +0000",
) -> bytes:
    """An RFC 3464 report as Postfix writes it, returning a message built with EmailMessage."""
    original = EmailMessage()
    original["From"] = "Ava <ava@example.com>"
    original["To"] = recipient
    original["Subject"] = "Your invoice"
    original["Date"] = "Thu, 04 Jan 2024 10:00:00 +0000"
    if original_id:
        original["Message-ID"] = original_id
    original.set_content("invoice attached\n")
    fields = [
        "Reporting-MTA: dns; mx.example.com",
        "Arrival-Date: Thu, 04 Jan 2024 10:00:00 +0000",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Action: {action}",
        f"Status: {status}",
        "Remote-MTA: dns; mx.example.org",
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected",
    ]
    if last_attempt:
        fields.append(f"Last-Attempt-Date: {last_attempt}")
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
        b"To: ava@example.com\n"
        b"Subject: Undelivered Mail Returned to Sender\n"
        b"Date: Thu, 04 Jan 2024 10:06:00 +0000\n"
        b"Message-ID: <bounce-77@mx.example.com>\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\n'
        b"\n--BB\nContent-Type: text/plain\n\n"
        b"I'm sorry to have to inform you that your message could not be delivered.\n"
        b"\n--BB\nContent-Type: message/delivery-status\n\n"
        + "\n".join(fields).encode()
        + b"\n\n--BB\nContent-Type: message/rfc822\n\n"
        + bytes(original)
        + b"\n--BB--\n"
    )


def test_dsn_becomes_a_bounced_event_for_the_original_message():
    pytest.importorskip(
        "maillog_cli.importers.email.dsn",
        reason="maillog_cli.importers.email.dsn (the DSN parser) is missing",
    )
    raw = make_dsn()
    items = items_of(read_bytes(raw, "bounce.eml"))
    assert not any(isinstance(i, StoredMessage) for i in items)  # the bounce is not ours
    (e,) = items
    assert isinstance(e, Event)
    assert e.status == "bounced" and e.raw_status == "dsn:failed"
    assert e.message_id == "orig-1@example.com"
    assert e.recipient == "missing@example.org"
    assert e.smtp_code == 550 and e.enhanced_code == "5.1.1"
    assert e.diagnostic and "Recipient address rejected" in e.diagnostic
    assert e.provider is None
    assert e.timestamp == "2024-01-04T10:05:00.000Z"  # Last-Attempt-Date
    assert e.extra["source"] == "dsn"
    assert e.extra["remote_mta"] == "mx.example.org"
    assert e.extra["bounce_message_id"] == "bounce-77@mx.example.com"
    assert e.sender == "ava@example.com" and e.subject == "Your invoice"
    assert e.event_id and "note" not in e.extra


def test_delayed_dsn_is_deferred_and_missing_original_id_is_noted():
    pytest.importorskip(
        "maillog_cli.importers.email.dsn",
        reason="maillog_cli.importers.email.dsn (the DSN parser) is missing",
    )
    (e,) = items_of(read_bytes(make_dsn("delayed", "4.4.1", original_id=None, last_attempt=None)))
    assert e.status == "deferred" and e.raw_status == "dsn:delayed"
    assert e.enhanced_code == "4.4.1"
    assert e.message_id == "bounce-77@mx.example.com"
    assert "note" in e.extra
    assert e.timestamp == "2024-01-04T10:06:00.000Z"  # the bounce's Date


def test_bounce_without_a_readable_recipient_is_skipped():
    pytest.importorskip(
        "maillog_cli.importers.email.dsn",
        reason="maillog_cli.importers.email.dsn (the DSN parser) is missing",
    )
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\nTo: postmaster@example.com\n"
        b"Subject: Undelivered Mail Returned to Sender\nDate: Thu, 4 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <b@x>\n\nSomething went wrong.\n"
    )
    assert items_of(read_bytes(raw)) == [Skip("bounce message without a readable recipient")]


# --- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("msg.eml", make_message()),
        ("noext", make_message()),
        (
            "x.eml",
            b"Return-Path: <a@b>\nReceived: from x by y;\n\tThu, 4 Jan 2024\nFrom: a@b\n\nhi",
        ),
        ("x", b"Delivered-To: a@b\nMIME-Version: 1.0\nContent-Type: text/plain\n\nhi\n"),
        ("x.eml", b"From: a@b\r\n\r\nhi\r\n"),
        ("x", b"From: <MAILER-DAEMON@x>\nSubject: failure\n\nbody with a \x00 byte\n"),
        ("sent.mbox", b"From ava@example.com Thu Jan  4 09:00:00 2024\nFrom: a@b\nTo: c@d\n\nhi\n"),
        ("mbox", b"From MAILER-DAEMON Fri Jul  5 10:12:13 2024\nReturn-Path: <>\n\nhi\n"),
    ],
)
def test_sniff_accepts_emails_and_mboxes(name, head):
    assert ef.sniff(name, head)


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("events.json", b'{"event": "delivered", "email": "a@b"}\n'),
        ("events.json", b'  \n\n [{"From": "a@b"}]'),
        ("events.jsonl", b'{"Message-ID": "x"}\n{"Message-ID": "y"}\n'),
        ("export.csv", b"Message-ID,Status,To,Subject\nabc,delivered,a@b,Hi\n"),
        ("export.csv", b"From,To,Subject,Date\na@b,c@d,Hi,2024-01-04T10:00:00Z\n"),
        ("export.csv", b"From address,To,Subject\na@b,c@d,Hi: 10:00\n"),
        ("events.csv", b"event_id,message_id,timestamp,provider\nh:1,x,2024-01-04T10:00:00Z,ses\n"),
        ("body.form", b"mandrill_events=%5B%7B%22event%22%3A%22send%22%7D%5D"),
        ("config.yaml", b"name: maillog\nversion: 1\n"),
        ("notes.txt", b"From 10:30 onwards we meet\nin the hall\n"),
        ("x.eml", b""),
        ("x.eml", b"\x00\x01\x02From: a@b\n"),
        ("x.eml", b'\xef\xbb\xbf{"a": 1}'),
    ],
)
def test_sniff_rejects_json_csv_and_other_text(name, head):
    assert not ef.sniff(name, head)


def test_sniff_rejects_every_provider_fixture_and_shared_sample():
    files = fixture_files()
    assert files
    for p in files:
        if p.suffix in (".md",):
            continue
        assert not ef.sniff(p.name, p.read_bytes()[:65536]), p


# --- the real bounce corpus ------------------------------------------------------------------


def _corpus_rows() -> list[dict[str, str]]:
    with (CORPUS / "expected.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.skipif(
    not (CORPUS / "expected.tsv").is_file(),
    reason=CORPUS_MISSING,
)
def test_corpus_bounces_in_one_mbox(tmp_path):
    dsn = pytest.importorskip(
        "maillog_cli.importers.email.dsn",
        reason="maillog_cli.importers.email.dsn (the DSN parser) is missing",
    )
    from maillog_cli.bounce.classify import classify

    rows = _corpus_rows()  # all 186 (0.5 MB, well under a second)
    assert len(rows) >= 180
    parts = []
    for row in rows:
        raw = (CORPUS / row["file"]).read_bytes()
        from_line = b"From MAILER-DAEMON Thu Jan  4 10:00:00 2024"
        if raw.startswith(b"From "):  # some samples carry their own From_ line
            from_line, raw = raw.split(b"\n", 1)
        parts.append((from_line, raw))
    path = tmp_path / "bounces.mbox"
    path.write_bytes(mboxrd(parts))
    with path.open("rb") as fh:
        assert ef.sniff(path.name, fh.read(65536))
        fh.seek(0)
        pairs = list(ef.read(fh, path.name, CTX))

    by_loc: dict[int, list] = {}
    for loc, item in pairs:
        by_loc.setdefault(loc, []).append(item)
    assert len(by_loc) == len(rows)  # every bounce came out as its own message
    assert not any(isinstance(i, StoredMessage) for _, i in pairs)  # bounces are not stored

    recipient_ok = code_ok = code_rows = class_ok = 0
    misses = []
    for row, items in zip(rows, by_loc.values(), strict=True):
        events = [i for i in items if isinstance(i, Event)]
        assert events, (row["file"], items)
        assert {e.status for e in events} <= {"bounced", "deferred"}
        assert all(e.extra["source"] == "dsn" and e.event_id for e in events)
        e = events[0]
        raw = (CORPUS / row["file"]).read_bytes()
        direct = [r for r in dsn.parse_dsn(raw) if r.recipient]
        # expected.tsv has no recipient column: the recipient must be the one the parser
        # finds in the file on its own, and must be written in the file
        if direct and e.recipient == direct[0].recipient and e.recipient.encode() in raw.lower():
            recipient_ok += 1
        else:
            misses.append(f"{row['file']}: recipient {e.recipient}")
        if row["status"]:
            code_rows += 1
            if e.enhanced_code == row["status"]:
                code_ok += 1
            else:
                misses.append(f"{row['file']}: enhanced {e.enhanced_code} vs {row['status']}")
        verdict = classify("bounced", e.smtp_code, e.enhanced_code, e.diagnostic)
        if verdict.bounce_class == row["bounce_class"]:
            class_ok += 1
        else:
            misses.append(f"{row['file']}: class {verdict.bounce_class} vs {row['bounce_class']}")
    # Measured: recipient 186/186, enhanced code 96/97 of the rows with a Status (the miss,
    # rfc3464-34, has its Status only in a malformed DSN part), class 186/186.
    assert recipient_ok == len(rows), misses
    assert code_ok >= code_rows - 2, misses
    assert class_ok >= 0.97 * len(rows), misses


@pytest.mark.skipif(
    not (CORPUS / "expected.tsv").is_file(),
    reason=CORPUS_MISSING,
)
def test_sniff_accepts_every_corpus_message():
    names = [r["file"] for r in _corpus_rows()]
    missed = [n for n in names if not ef.sniff(n, (CORPUS / n).read_bytes()[:65536])]
    assert not missed

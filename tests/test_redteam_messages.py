"""Red-team findings about one row per email.

`search --messages` (and `show ADDRESS`) give a message's latest event; where that event
does not carry the sender or subject (a Postmark Delivery, a SendGrid or Brevo open) the
row showed null although another event of the same email named them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

MID = "883953f4-6105-42a2-a16a-77a8eac79483"
POSTMARK = [
    {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 100001,
        "MessageID": MID,
        "Email": "john@example.com",
        "From": "Shop <sender@example.com>",
        "Subject": "Welcome \u2728",
        "BouncedAt": "2026-11-30T09:00:00Z",
    },
    {  # later, and carries neither From nor Subject
        "RecordType": "Delivery",
        "MessageID": MID,
        "Recipient": "john@example.com",
        "DeliveredAt": "2026-11-30T10:10:45.1230000-04:00",
        "Details": "smtp;250 2.0.0 OK",
    },
]


@pytest.fixture
def store(cli, tmp_path: Path) -> None:
    src = tmp_path / "postmark.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in POSTMARK))
    assert cli("import", str(src)).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [("search", "--messages"), ("show", "john@example.com")],
    ids=["search-messages", "show-address"],
)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_message_row_keeps_the_sender_and_subject_another_event_gave(
    cli, store: None, args: tuple[str, ...], fmt: str
) -> None:
    result = cli(*args, "--format", fmt)
    assert result.exit_code == 0, result
    if fmt == "json":
        (row,) = json.loads(result.stdout)
        assert (row["status"], row["sender"], row["subject"]) == (
            "delivered",
            "sender@example.com",
            "Welcome \u2728",
        )
    else:
        header, line = result.stdout.splitlines()[:2]
        assert ",delivered,Delivery,sender@example.com,john@example.com,Welcome \u2728," in line


def test_the_events_themselves_stay_as_their_source_gave_them(cli, store: None) -> None:
    rows = json.loads(cli("search", "--format", "json").stdout)
    delivered = next(r for r in rows if r["status"] == "delivered")
    assert delivered["subject"] is None and delivered["sender"] is None


def _ses(event_type: str, **body: object) -> dict[str, object]:
    mail = {
        "timestamp": "2026-11-30T10:00:00.000Z",
        "messageId": "0100019abc-three-000000",
        "source": "shop@example.com",
        "destination": ["a@example.com", "b@example.com", "c@example.com"],
        "commonHeaders": {"subject": "Three"},
    }
    return {"eventType": event_type, "mail": mail, **body}


def test_one_ses_open_of_a_three_recipient_email_counts_once(cli, tmp_path: Path) -> None:
    """SES does not say who opened, so each Open becomes an event per recipient (formats.md
    4.6); the email was still opened twice, not six times."""
    src = tmp_path / "ses.jsonl"
    records = [
        _ses("Send", send={}),
        _ses("Open", open={"timestamp": "2026-11-30T11:00:00.000Z", "ipAddress": "1.2.3.4"}),
        _ses("Open", open={"timestamp": "2026-11-30T12:00:00.000Z", "ipAddress": "1.2.3.4"}),
        _ses("Click", click={"timestamp": "2026-11-30T12:01:00.000Z", "link": "https://x"}),
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert cli("import", str(src)).exit_code == 0
    (row,) = json.loads(cli("search", "--messages", "--format", "json").stdout)
    assert (row["open_count"], row["click_count"], row["event_count"]) == (2, 1, 12)
    shown = cli("show", "0100019abc-three-000000")
    assert re.search(r"Opened +2 times", shown.stdout), shown.stdout


POSTFIX = """\
Nov 30 10:00:00 mx postfix/cleanup[101]: 4BxY2k3QvTz9: message-id=<order-99@example.com>
Nov 30 10:00:00 mx postfix/qmgr[102]: 4BxY2k3QvTz9: from=<shop@example.com>, size=4242, nrcpt=2 (queue active)
Nov 30 10:00:01 mx postfix/smtp[103]: 4BxY2k3QvTz9: to=<alice@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 OK  1700000000 x1si - gsmtp)
Nov 30 10:00:02 mx postfix/smtp[103]: 4BxY2k3QvTz9: to=<bob@yahoo.com>, relay=mta5.am0.yahoodns.net[67.195.204.72]:25, delay=2, delays=0.1/0/1/0.9, dsn=5.0.0, status=bounced (host mta5.am0.yahoodns.net[67.195.204.72] said: 554 delivery error: dd This user doesn't have a yahoo.com account (bob@yahoo.com) [-5] - mta1.mail.yahoo.com (in reply to end of DATA command))
Nov 30 10:00:03 mx postfix/qmgr[102]: 4BxY2k3QvTz9: removed
"""


def test_show_gives_each_recipient_of_one_email_its_own_fate(cli, tmp_path: Path) -> None:
    """One email to alice and bob: alice's copy was delivered, bob's bounced. `show` said
    `To alice@gmail.com` and `Status bounced`, which reads as alice's bounce."""
    log = tmp_path / "mail.log"
    log.write_text(POSTFIX)
    assert cli("import", str(log), "--year", "2026").exit_code == 0
    shown = cli("show", "order-99@example.com")
    assert shown.exit_code == 0, shown
    assert re.search(
        r"To +alice@gmail\.com delivered, bob@yahoo\.com bounced \(hard\)\n", shown.stdout
    ), shown.stdout
    detail = json.loads(cli("show", "order-99@example.com", "--format", "json").stdout)
    assert [(r["recipient"], r["status"], r["bounce_class"]) for r in detail["recipients"]] == [
        ("alice@gmail.com", "delivered", None),
        ("bob@yahoo.com", "bounced", "hard"),
    ]


def test_one_recipient_is_shown_as_before(cli, store: None) -> None:
    shown = cli("show", MID)
    assert re.search(r"\nTo +john@example\.com\n", shown.stdout), shown.stdout


SENT = """\
From: Shop <shop@example.com>
To: alice@example.org
Subject: Your order
Message-ID: <order-5@example.com> (added by postmaster@example.com)
Date: Mon, 30 Nov 2026 10:00:00 +0000

Thanks!
"""

DSN = """\
From: Mail Delivery Subsystem <mailer-daemon@example.org>
To: shop@example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 30 Nov 2026 10:05:00 +0000
Message-ID: <dsn-5@example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain

It bounced.
--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; alice@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--BB
Content-Type: text/rfc822-headers

From: Shop <shop@example.com>
To: alice@example.org
Message-ID: <order-5@example.com>

--BB--
"""


@pytest.mark.parametrize("order", ["sent-first", "bounce-first"])
def test_a_message_id_header_with_a_comment_is_the_id_its_bounce_quotes(
    cli, tmp_path: Path, order: str
) -> None:
    """`Message-ID: <id> (added by …)` was stored as `<id> (added by …)`, brackets and all,
    so the bounce that quotes `<id>` became a second message."""
    (tmp_path / "sent.eml").write_text(SENT)
    (tmp_path / "dsn.eml").write_text(DSN)
    files = ["sent.eml", "dsn.eml"] if order == "sent-first" else ["dsn.eml", "sent.eml"]
    assert cli("import", *(str(tmp_path / f) for f in files)).exit_code == 0
    rows = json.loads(cli("search", "--messages", "--format", "json").stdout)
    assert [(r["message_id"], r["status"]) for r in rows] == [("order-5@example.com", "bounced")]


@pytest.mark.parametrize(
    "flt", [("--subject", "Welcome"), ("--from", "sender@example.com")], ids=["subject", "from"]
)
def test_message_filters_find_the_facts_the_row_shows(
    cli, store: None, flt: tuple[str, str]
) -> None:
    """`stats --subject Welcome` counted the email, `search --messages --subject Welcome`
    listed nothing: the filter looked only at the latest event, which names no subject."""
    rows = json.loads(cli("search", "--messages", *flt, "--format", "json").stdout)
    assert [r["message_id"] for r in rows] == [MID]
    stats = json.loads(cli("stats", *flt, "--format", "json").stdout)
    assert stats["messages"] == len(rows) == 1

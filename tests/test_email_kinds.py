"""Mail that is not a plain sent email nor a textbook DSN, imported for real into a store:
sniffing, text-only recipients, introductory lines, local delivery programs, ARF
complaints, automatic replies, forwarded bounces, provider JSON by email, received mail."""

from __future__ import annotations

import json
import mailbox
import sqlite3
from pathlib import Path

import pytest

from maillog_cli.importers.email import files as ef

ORIGINAL = b"""From: Shop <orders@shop.example>
To: bob@example.org
Subject: Your order 5532
Date: Thu, 06 Jun 2024 09:00:00 +0000
Message-ID: <order-5532@shop.example>

Thanks for your order.
"""


def rows(db: Path, sql: str = "SELECT status, recipient, message_id FROM events ORDER BY seq"):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def import_bytes(cli, tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return cli("import", path)


# --- sniffing: RFC 5322 header first lines are email, not CSV --------------------------------

BROKEN_HEADER_BOUNCE = b"""Received: from mx.example.org (mx.example.org [192.0.2.7])
\tby mail.shop.example with ESMTP id 4Vx; Thu, 06 Jun 2024 09:00:05 +0000
X-Spam.Status: No
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mail.shop.example>
To: orders@shop.example
Subject: Undelivered Mail Returned to Sender
Date: Thu, 06 Jun 2024 09:00:05 +0000
X-Failed-Recipients: bob@example.org

<bob@example.org>: host mx.example.org said: 550 5.1.1 user unknown
"""


@pytest.mark.parametrize(
    "first",
    [
        b"Received: from a (a [192.0.2.1]) by b",
        b"Delivered-To: orders@shop.example",
        b"X-Apparently-To: orders@shop.example",
        b"Return-Path: <>",
    ],
)
def test_header_first_lines_sniff_as_email_even_with_an_odd_line_later(
    cli, tmp_path, db_path, first
):
    lines = BROKEN_HEADER_BOUNCE.split(b"\n")
    data = b"\n".join([first, *lines[2:]])  # the odd "X-Spam.Status" line stays
    assert ef.sniff("bounce-0001", data)
    r = import_bytes(cli, tmp_path, "bounce-0001", data)
    assert r.exit_code == 0, r
    assert rows(db_path) == [("bounced", "bob@example.org", rows(db_path)[0][2])]


@pytest.mark.parametrize("before", [b"\n", b"\r\n\r\n", b"  \n"])
def test_blank_lines_before_the_headers(cli, tmp_path, db_path, before):
    data = before + BROKEN_HEADER_BOUNCE.replace(b"\n", b"\r\n" if b"\r" in before else b"\n")
    r = import_bytes(cli, tmp_path, "bounce-0002", data)
    assert r.exit_code == 0, r
    assert [row[:2] for row in rows(db_path)] == [("bounced", "bob@example.org")]


def test_csv_and_yaml_still_do_not_sniff_as_email():
    assert not ef.sniff("x", b"Received,Status\n2024-01-01,sent\n")
    assert not ef.sniff("x", b"name: maillog\nversion: 1\n")


# --- the failed recipient named only in the text ---------------------------------------------

NO_FINAL_RECIPIENT = b"""Return-Path: <>
From: postmaster@mx.example.org
To: orders@shop.example
Subject: Delivery Status Notification (Failure)
Date: Thu, 06 Jun 2024 09:00:05 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

For assistance contact helpdesk@mx.example.org.

Your message to <bob@example.org> was rejected: 550 5.1.1 mailbox unknown

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Action: failed
Status: 5.1.1

--b1
Content-Type: text/rfc822-headers

From: orders@shop.example
To: bob@example.org
Message-ID: <order-5532@shop.example>

--b1--
"""


def test_recipient_named_only_in_the_text_still_yields_a_bounce(cli, tmp_path, db_path):
    r = import_bytes(cli, tmp_path, "b.eml", NO_FINAL_RECIPIENT)
    assert r.exit_code == 0, r
    assert rows(db_path) == [("bounced", "bob@example.org", "order-5532@shop.example")]


def test_recipient_from_the_returned_headers_when_the_text_names_none(cli, tmp_path, db_path):
    data = NO_FINAL_RECIPIENT.replace(
        b"For assistance contact helpdesk@mx.example.org.\n\nYour message to <bob@example.org> was",
        b"Your message was",
    )
    r = import_bytes(cli, tmp_path, "b.eml", data)
    assert r.exit_code == 0, r
    assert rows(db_path) == [("bounced", "bob@example.org", "order-5532@shop.example")]


# --- the diagnostic is the line that says why -------------------------------------------------

INTRO_BOUNCE = b"""Return-Path: <>
From: MAILER-DAEMON@mail.shop.example
To: orders@shop.example
Subject: failure notice
Date: Thu, 06 Jun 2024 09:00:05 +0000

There was an error delivering your mail to bob@example.org for the following reason:
Delivery failed 20 attempts
"""


def test_diagnostic_skips_the_introductory_line(cli, tmp_path, db_path):
    r = import_bytes(cli, tmp_path, "b.eml", INTRO_BOUNCE)
    assert r.exit_code == 0, r
    got = rows(db_path, "SELECT recipient, diagnostic, bounce_reason FROM events")
    assert got == [("bob@example.org", "Delivery failed 20 attempts", "expired")]


# --- local delivery programs -----------------------------------------------------------------

EXIM_PIPE = b"""Return-Path: <>
From: Mail Delivery System <Mailer-Daemon@mail.example.org>
To: orders@shop.example
Subject: Mail delivery failed: returning message to sender
Date: Thu, 06 Jun 2024 09:00:05 +0000
X-Failed-Recipients: bob@example.org
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  pipe to |/usr/local/bin/deliver-mail
    generated by bob@example.org
    local delivery failed
"""


def test_local_delivery_program_failure_is_a_server_error(cli, tmp_path, db_path):
    r = import_bytes(cli, tmp_path, "b.eml", EXIM_PIPE)
    assert r.exit_code == 0, r
    got = rows(db_path, "SELECT status, recipient, bounce_class, bounce_reason FROM events")
    assert got == [("bounced", "bob@example.org", "soft", "server_error")]


# --- ARF feedback reports -> complained on the original message -------------------------------

ARF = b"""Return-Path: <fbl@isp.example>
From: Feedback Loop <fbl@isp.example>
To: abuse@shop.example
Subject: FW: Your order 5532
Date: Fri, 07 Jun 2024 12:00:00 +0000
Message-ID: <report-77@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.55.

--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: IspFBL/1.0
Version: 1
Original-Mail-From: <orders@shop.example>
Original-Rcpt-To: <bob@example.org>
Arrival-Date: Thu, 06 Jun 2024 09:00:03 +0000
Source-IP: 192.0.2.55

--arf
Content-Type: message/rfc822

From: Shop <orders@shop.example>
To: redacted@isp.example
Subject: Your order 5532
Date: Thu, 06 Jun 2024 09:00:00 +0000
Message-ID: <order-5532@shop.example>

Thanks for your order.

--arf--
"""


def test_arf_report_is_a_complaint_on_the_original_message(cli, tmp_path, db_path):
    assert import_bytes(cli, tmp_path, "sent.eml", ORIGINAL).exit_code == 0
    r = import_bytes(cli, tmp_path, "arf.eml", ARF)
    assert r.exit_code == 0, r
    assert rows(db_path) == [
        ("sent", "bob@example.org", "order-5532@shop.example"),
        ("complained", "bob@example.org", "order-5532@shop.example"),
    ]
    assert not rows(db_path, "SELECT * FROM events WHERE recipient = 'abuse@shop.example'")


def test_arf_without_original_rcpt_to_uses_the_original_headers(cli, tmp_path, db_path):
    data = ARF.replace(b"Original-Rcpt-To: <bob@example.org>\n", b"").replace(
        b"To: redacted@isp.example", b"To: bob@example.org"
    )
    r = import_bytes(cli, tmp_path, "arf.eml", data)
    assert r.exit_code == 0, r
    assert rows(db_path) == [("complained", "bob@example.org", "order-5532@shop.example")]


def test_arf_auth_failure_report_is_not_a_complaint(cli, tmp_path, db_path):
    r = import_bytes(
        cli,
        tmp_path,
        "arf.eml",
        ARF.replace(b"Feedback-Type: abuse", b"Feedback-Type: auth-failure"),
    )
    assert r.exit_code == 0, r
    assert rows(db_path) == []
    assert "1 skipped" in r.stdout + r.stderr


# --- automatic replies are never bounces -----------------------------------------------------

OUT_OF_OFFICE = b"""Return-Path: <>
From: Bob <bob@example.org>
To: orders@shop.example
Subject: Out of Office: Your order 5532
Date: Thu, 06 Jun 2024 09:00:10 +0000
Auto-Submitted: auto-replied
In-Reply-To: <order-5532@shop.example>
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain

I am out of the office until Monday. Mail sent to me is not delivered to my
deputy; for urgent matters call the front desk.

--x
Content-Type: message/rfc822

From: orders@shop.example
To: bob@example.org
Subject: Your order 5532

Thanks.
--x--
"""


@pytest.mark.parametrize(
    "data",
    [
        OUT_OF_OFFICE,
        OUT_OF_OFFICE.replace(b"Auto-Submitted: auto-replied", b"X-Autoreply: yes"),
        OUT_OF_OFFICE.replace(b"Auto-Submitted: auto-replied", b"Precedence: bulk").replace(
            b"Out of Office:", b"Abwesenheitsnotiz:"
        ),
    ],
)
def test_automatic_replies_are_not_bounces(cli, tmp_path, db_path, data):
    r = import_bytes(cli, tmp_path, "reply.eml", data)
    assert r.exit_code == 0, r
    assert rows(db_path) == []
    assert "automatic reply" in r.stdout + r.stderr or "1 skipped" in r.stdout + r.stderr


def test_a_bounce_marked_auto_replied_is_still_a_bounce(cli, tmp_path, db_path):
    assert import_bytes(cli, tmp_path, "b.eml", EXIM_PIPE).exit_code == 0
    assert rows(db_path, "SELECT status FROM events") == [("bounced",)]


# --- a bounce forwarded by a person ---------------------------------------------------------

FORWARDED_INLINE = b"""From: Alice <alice@shop.example>
To: it@shop.example
Subject: Fwd: Undelivered Mail Returned to Sender
Date: Thu, 06 Jun 2024 10:00:00 +0000
Message-ID: <fwd-1@shop.example>

Can you look at this?

---------- Forwarded message ---------
From: Mail Delivery System <MAILER-DAEMON@mail.shop.example>
Date: Thu, Jun 6, 2024 at 9:00 AM
Subject: Undelivered Mail Returned to Sender
To: <orders@shop.example>


This is the mail system at host mail.shop.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<bob@example.org>: host mx.example.org[192.0.2.7] said: 550 5.1.1
    <bob@example.org>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)
"""


def test_inline_forwarded_bounce_is_the_bounce(cli, tmp_path, db_path):
    r = import_bytes(cli, tmp_path, "fwd.eml", FORWARDED_INLINE)
    assert r.exit_code == 0, r
    got = rows(db_path, "SELECT status, recipient, bounce_reason FROM events")
    assert got == [("bounced", "bob@example.org", "user_unknown")]


def test_attached_forwarded_bounce_is_the_bounce_of_the_original(cli, tmp_path, db_path):
    outer = (
        b"From: Alice <alice@shop.example>\nTo: it@shop.example\n"
        b"Subject: Fwd: Delivery Status Notification (Failure)\n"
        b"Date: Thu, 06 Jun 2024 10:00:00 +0000\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="fw"\n\n--fw\nContent-Type: text/plain\n\n'
        b"FYI\n\n--fw\nContent-Type: message/rfc822\n\n"
        + NO_FINAL_RECIPIENT.replace(b"Return-Path: <>\n", b"Message-ID: <dsn-9@mx.example.org>\n")
        + b"\n--fw--\n"
    )
    r = import_bytes(cli, tmp_path, "fwd.eml", outer)
    assert r.exit_code == 0, r
    assert rows(db_path) == [("bounced", "bob@example.org", "order-5532@shop.example")]


# --- a provider's JSON notification delivered as an email ------------------------------------

SES_NOTIFICATION = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "bob@example.org"}],
        "timestamp": "2024-06-06T09:00:05.000Z",
        "feedbackId": "0100018f-feed-0001",
    },
    "mail": {
        "timestamp": "2024-06-06T09:00:00.000Z",
        "messageId": "0100018f-ses-0001",
        "source": "orders@shop.example",
        "destination": ["bob@example.org"],
    },
}


@pytest.mark.parametrize(
    "body",
    [
        SES_NOTIFICATION,
        {
            "Type": "Notification",
            "MessageId": "sns-1",
            "TopicArn": "arn:aws:sns:eu-west-1:1:bounces",
            "Message": json.dumps(SES_NOTIFICATION),
            "Timestamp": "2024-06-06T09:00:06.000Z",
        },
        # the mail folded a long line inside the JSON strings (a raw line break)
        json.dumps(
            {
                "Type": "Notification",
                "MessageId": "sns-1",
                "TopicArn": "arn:aws:sns:eu-west-1:1:bounces",
                "Message": json.dumps(
                    {
                        **SES_NOTIFICATION,
                        "mail": {**SES_NOTIFICATION["mail"], "subject": "Your@@ order"},
                    }
                ),
            },
            indent=2,
        ).replace("@@", "\n"),
    ],
)
def test_ses_notification_by_email_becomes_ses_events(cli, tmp_path, db_path, body):
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    data = (
        b"From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@shop.example\n"
        b"Subject: AWS Notification Message\nDate: Thu, 06 Jun 2024 09:00:06 +0000\n"
        b"Content-Type: text/plain; charset=UTF-8\n\n" + text.encode()
    )
    r = import_bytes(cli, tmp_path, "sns.eml", data)
    assert r.exit_code == 0, r
    got = rows(db_path, "SELECT provider, status, recipient, message_id, bounce_class FROM events")
    assert got == [("ses", "bounced", "bob@example.org", "0100018f-ses-0001", "hard")]


# --- received mail in a Maildir ------------------------------------------------------------


def test_received_maildir_mail_is_inbound_and_sent_folder_is_outbound(cli, tmp_path, db_path):
    received = (
        b"Return-Path: <alice@partner.example>\nDelivered-To: orders@shop.example\n"
        b"Received: from mx.partner.example by mail.shop.example; Thu, 06 Jun 2024 08:00:00 +0000\n"
        b"From: alice@partner.example\nTo: orders@shop.example\nSubject: Question\n"
        b"Date: Thu, 06 Jun 2024 08:00:00 +0000\nMessage-ID: <q-1@partner.example>\n\nHi\n"
    )
    box = mailbox.Maildir(tmp_path / "Mail", create=True)
    box.add(received)
    box.add_folder("Sent").add(
        ORIGINAL.replace(b"From: Shop", b"Return-Path: <orders@shop.example>\nFrom: Shop")
    )
    box.close()
    r = cli("import", tmp_path / "Mail")
    assert r.exit_code == 0, r
    got = rows(db_path, "SELECT message_id, status, direction FROM events ORDER BY message_id")
    assert got == [
        ("order-5532@shop.example", "sent", "outbound"),
        ("q-1@partner.example", "processed", "inbound"),
    ]
    msgs = rows(db_path, "SELECT message_id, direction FROM messages ORDER BY message_id")
    assert msgs == [("order-5532@shop.example", "outbound"), ("q-1@partner.example", "inbound")]


EXCHANGE_STYLE = b"""From: postmaster@corp.example
To: orders@shop.example
Subject: Undeliverable: Your order 5532
Date: Thu, 06 Jun 2024 09:00:05 +0000

Your message did not reach some or all of the intended recipients.

      Subject:  Your order 5532
      To:       bob@example.org
      Sent:     Thu, 06 Jun 2024 09:00:00 +0000

The following recipient(s) cannot be reached: the e-mail account does not exist.
"""


def test_recipient_only_on_a_to_line_of_the_report(cli, tmp_path, db_path):
    r = import_bytes(cli, tmp_path, "ndr.eml", EXCHANGE_STYLE)
    assert r.exit_code == 0, r
    got = rows(db_path, "SELECT status, recipient, bounce_reason FROM events")
    assert got == [("bounced", "bob@example.org", "user_unknown")]


def test_a_bulk_newsletter_about_vacations_is_still_a_sent_mail(cli, tmp_path, db_path):
    newsletter = ORIGINAL.replace(b"Subject: Your order 5532", b"Subject: Vacation deals").replace(
        b"Message-ID:", b"Precedence: bulk\nAuto-Submitted: auto-generated\nMessage-ID:"
    )
    assert import_bytes(cli, tmp_path, "news.eml", newsletter).exit_code == 0
    assert rows(db_path, "SELECT status FROM events") == [("sent",)]


def test_a_vacation_reply_to_our_message_is_an_automatic_reply(cli, tmp_path, db_path):
    reply = (
        b"From: bob@example.org\nTo: orders@shop.example\nSubject: Re: Your order 5532 [vacation]\n"
        b"Date: Thu, 06 Jun 2024 09:00:10 +0000\nPrecedence: bulk\n"
        b"In-Reply-To: <order-5532@shop.example>\n\nI am on vacation until Monday.\n"
    )
    r = import_bytes(cli, tmp_path, "reply.eml", reply)
    assert r.exit_code == 0, r
    assert rows(db_path) == []


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        ("Mail Delivery Service <delivery@mx.example.org>", "Message status"),
        ("System Administrator <admin@mx.example.org>", "Unzustellbar: Your order 5532"),
        ("System Administrator <admin@mx.example.org>", "Nondeliverable mail"),
        ("System Administrator <admin@mx.example.org>", "Warning: message 1Abc delayed 24 hours"),
    ],
)
def test_bounce_senders_and_subjects_in_other_wordings(cli, tmp_path, db_path, sender, subject):
    data = (
        (
            f"From: {sender}\nTo: orders@shop.example\nSubject: {subject}\n"
            "Date: Thu, 06 Jun 2024 09:00:05 +0000\nMIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="z"\n\n--z\nContent-Type: text/plain\n\n'
            "Delivery to the following recipient failed permanently:\n\n"
            "    bob@example.org\n\n550 5.1.1 user unknown\n\n--z\nContent-Type: message/rfc822\n\n"
        ).encode()
        + ORIGINAL
        + b"\n--z--\n"
    )
    r = import_bytes(cli, tmp_path, "b.eml", data)
    assert r.exit_code == 0, r
    assert [row[:2] for row in rows(db_path)] == [("bounced", "bob@example.org")]

"""Layouts of failure reports found in a held-out check against real bounces: each test
builds a message of that layout and checks what parse_dsn and the classifier make of it."""

from maillog_cli.bounce.classify import classify
from maillog_cli.importers.email.dsn import parse_dsn


def verdicts(raw: bytes) -> list[tuple[str | None, str, str]]:
    return [
        (
            r.recipient,
            *(lambda v: (v.bounce_reason, v.bounce_class))(
                classify("bounced", r.smtp_code, r.status, r.diagnostic)
            ),
        )
        for r in parse_dsn(raw)
    ]


# One entry per failed recipient, the address alone on its line, no blank line between
# entries and no X-Failed-Recipients header (GMX / web.de style).
GMX_LIKE = b"""\
From: MAILER-DAEMON@mail.example.net
To: alice@example.com
Subject: Mail delivery failed: returning message to sender
Date: Tue, 02 Jan 2024 10:00:00 +0100
Content-Type: text/plain; charset=utf-8

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address
failed:

"carol@example.org":
SMTP error from remote server after RCPT command:
host: mx.example.org
5.2.2 <carol@example.org>... Over quota, try later
"dave@example.org":
SMTP error from remote server after RCPT command:
host: mx.example.org
5.1.1 <dave@example.org>... No such mailbox here

--- The header of the original message is following. ---

Message-ID: <m1@example.com>
From: alice@example.com
To: carol@example.org, dave@example.org
Subject: hello
"""

# Exim lists the failed addresses indented, each followed by its own error lines.
EXIM_LIKE = b"""\
From: Mail Delivery System <Mailer-Daemon@relay.example.com>
To: alice@example.com
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: erin@example.net, frank@example.net
Date: Tue, 02 Jan 2024 10:00:00 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  erin@example.net
    host mx.example.net [192.0.2.7]
    SMTP error from remote mail server after RCPT TO:<erin@example.net>:
    552 5.2.2 Mailbox full
  frank@example.net
    host mx.example.net [192.0.2.7]
    SMTP error from remote mail server after RCPT TO:<frank@example.net>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

Message-ID: <m2@example.com>
From: alice@example.com
Subject: hello
"""


def test_each_listed_recipient_gets_its_own_entry_without_a_failed_recipients_header():
    assert verdicts(GMX_LIKE) == [
        ("carol@example.org", "mailbox_full", "soft"),
        ("dave@example.org", "user_unknown", "hard"),
    ]


def test_an_entry_stops_at_the_next_recipients_address_line():
    assert verdicts(EXIM_LIKE) == [
        ("erin@example.net", "mailbox_full", "soft"),
        ("frank@example.net", "user_unknown", "hard"),
    ]
    first = parse_dsn(EXIM_LIKE)[0]
    assert first.diagnostic is not None and "frank" not in first.diagnostic


def test_a_lone_address_line_that_is_not_a_failure_list_stays_one_recipient():
    raw = b"""\
From: postmaster@mx.example.org
To: alice@example.com
Subject: Undeliverable: hello
Date: Tue, 02 Jan 2024 10:00:00 +0000

Your message could not be delivered to:

  grace@example.org

550 5.1.1 Recipient address not found
"""
    assert verdicts(raw) == [("grace@example.org", "user_unknown", "hard")]


# Old sendmail (V5) sends only the session transcript: one paragraph holding several
# "While talking to host:" sessions, each with the remote replies for its own recipient.
SENDMAIL_TRANSCRIPT = b"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@gw.example.com>
To: alice@example.com
Subject: Returned mail: see transcript for details
Date: Tue, 02 Jan 2024 10:00:00 +0000

   ----- Transcript of session follows -----
While talking to mx.example.net:
>>> RCPT To:<henry@example.net>
<<< 452 4.2.2 Mailbox over quota
452 <henry@example.net>... Deferred
While talking to mx.example.org:
>>> RCPT To:<ivy@example.org>
<<< 550 5.1.1 No such user here
550 <ivy@example.org>... User unknown

   ----- Unsent message follows -----
From: alice@example.com
To: henry@example.net
Subject: hello

hi
"""


def test_transcript_replies_come_from_the_recipients_own_session():
    first = parse_dsn(SENDMAIL_TRANSCRIPT)[0]
    assert first.recipient == "henry@example.net"
    assert first.diagnostic is not None and "No such user" not in first.diagnostic
    v = classify("bounced", first.smtp_code, first.status, first.diagnostic)
    assert (v.bounce_reason, v.bounce_class) == ("mailbox_full", "soft")


# Sendmail keeps only the first line of a multi-line reply in Diagnostic-Code; the cause
# ("SPF") is on a later line, which the session transcript shows.
TRUNCATED_MULTILINE = b"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@gw.example.com>
To: alice@example.com
Subject: Returned mail: see transcript for details
Date: Tue, 02 Jan 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1

   ----- Transcript of session follows -----
... while talking to mx.example.net.:
>>> DATA
<<< 550-5.7.1 The message from example.com was refused because it failed the
<<< 550-5.7.1 sender's SPF check. Ask the domain owner to list this
<<< 550 5.7.1 server. ref 12ab
554 5.0.0 Service unavailable

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; gw.example.com

Final-Recipient: RFC822; jack@example.net
Action: failed
Status: 5.7.1
Diagnostic-Code: SMTP; 550-5.7.1 The message from example.com was refused because it failed the

--B1--
"""


def test_a_diagnostic_cut_after_the_first_line_of_a_multiline_reply_is_completed():
    (r,) = parse_dsn(TRUNCATED_MULTILINE)
    assert r.diagnostic is not None and r.diagnostic.endswith("server. ref 12ab")
    assert r.diagnostic.startswith("SMTP; 550-5.7.1 The message from example.com")
    v = classify("bounced", r.smtp_code, r.status, r.diagnostic)
    assert (v.bounce_reason, v.bounce_class) == ("auth_policy", "block")


# OpenSMTPD puts one "address: reply" line per recipient in the notification and leaves
# Diagnostic-Code out of the delivery-status blocks.
ONE_LINE_PER_RECIPIENT = b"""\
Subject: Delivery status notification: failed
From: Mailer Daemon <MAILER-DAEMON@relay.example.com>
To: alice@example.com
Date: Tue, 02 Jan 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OS1"

--OS1
Content-Type: text/plain; charset=us-ascii

    An error has occurred while attempting to deliver a message for
    the following list of recipients:

kim@example.net: 550 5.1.1 <kim@example.net>: no such mailbox
lee@example.net: 452 4.2.2 <lee@example.net>: over quota

    Below is a copy of the original message:

--OS1
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.com

Final-Recipient: rfc822; kim@example.net
Action: failed
Status: 5.0.0

Final-Recipient: rfc822; lee@example.net
Action: failed
Status: 5.0.0

--OS1--
"""


def test_a_one_line_entry_ends_where_the_next_recipients_line_starts():
    assert verdicts(ONE_LINE_PER_RECIPIENT) == [
        ("kim@example.net", "user_unknown", "hard"),
        ("lee@example.net", "mailbox_full", "soft"),
    ]


# V5 sendmail names each failed recipient only in a status line of its transcript
# ("554 <addr>... why"), several in one paragraph, sessions and status lines interleaved.
V5_TRANSCRIPT = b"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@gw.example.com>
To: alice@example.com
Subject: Returned mail: User unknown
Date: Tue, 02 Jan 2024 10:00:00 +0000

   ----- Transcript of session follows -----
While talking to mx.example.net:
>>> RCPT To:<mona@example.net>
<<< 452 Mailbox over quota
452 <mona@example.net>... Deferred
550 example.org (smtp)... 550 Host unknown
554 <ned@example.org>... 550 Host unknown (Authoritative answer from name server)
While talking to mx.example.info:
>>> RCPT To:<olga@example.info>
<<< 550 No such user here
550 <olga@example.info>... User unknown

   ----- Unsent message follows -----
From: alice@example.com
To: mona@example.net
Subject: hello

hi
"""


def test_each_recipient_of_an_old_sendmail_transcript_gets_its_own_reason():
    assert verdicts(V5_TRANSCRIPT) == [
        ("mona@example.net", "mailbox_full", "soft"),
        ("ned@example.org", "domain_not_found", "hard"),
        ("olga@example.info", "user_unknown", "hard"),
    ]

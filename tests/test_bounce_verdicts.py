"""Verdicts the text alone could not give: provider labels as the tie-breaker, new phrase
classes (each with sibling wordings), multi-line replies, advice text, and the per-code
advice of `bounces explain`. Provider cases go through the real import into a real store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from maillog_cli.bounce.classify import classify
from maillog_cli.bounce.rules import CLIENT_ERROR_ADVICE


def verdict(text, hint=None, status="bounced"):
    v = classify(status, None, None, text, hint)
    assert v is not None
    return v.bounce_class, v.bounce_reason


# --- the provider's verdict decides when the text names no cause ------------------------------

PROVIDER_CASES = [
    # (text, provider label, class, reason)
    (None, "brevo:hard_bounce", "hard", "user_unknown"),
    ("", "brevo:invalid_email", "hard", "user_unknown"),
    ("Invalid", "sendgrid-drop:Invalid", "hard", "user_unknown"),
    (None, "ses:Permanent/General", "hard", "user_unknown"),
    (None, "ses:Permanent", "hard", "user_unknown"),
    (None, "ses:Transient/General", "soft", "other"),
    ("Bad content", "ses-reject:Bad content", "block", "content_rejected"),
    ("typofix", "mailjet:hard/typofix", "hard", "domain_not_found"),
    ("preblocked", "mailjet:soft/preblocked", "hard", "suppressed"),
    ("some unknown mailjet error", "mailjet:hard/brand-new-error", "hard", "user_unknown"),
    (None, "postmark:HardBounce", "hard", "user_unknown"),
    (None, "mandrill:hard_bounce/invalid_domain", "hard", "domain_not_found"),
    ("", "mandrill:soft_bounce/general", "soft", "other"),
    (None, "sparkpost:50", "block", "policy_rejected"),
]


@pytest.mark.parametrize(("text", "hint", "cls", "reason"), PROVIDER_CASES)
def test_provider_label_decides_thin_text(text, hint, cls, reason):
    assert verdict(text, hint) == (cls, reason)
    # Without the label the same text is undetermined: the label made the verdict.
    assert verdict(text) == ("undetermined", "other")


@pytest.mark.parametrize(
    ("text", "hint", "reason"),
    [
        (
            "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org",
            "ses:Permanent/General",
            "blocklisted",
        ),
        ("552 5.2.2 mailbox is full", "brevo:hard_bounce", "mailbox_full"),
        ("550 5.7.1 message rejected as spam", "mailjet:hard/typofix", "spam_content"),
    ],
)
def test_text_still_wins_over_coarse_labels(text, hint, reason):
    assert verdict(text, hint)[1] == reason


RESEND_STOCK = (
    "The recipient's email provider sent a hard bounce message, but didn't specify the reason"
    " for the hard bounce. We recommend removing the recipient's email address from your"
    " mailing list. Sending messages to addresses that produce hard bounces can have a"
    " negative impact on your reputation as a sender."
)


def test_resend_stock_hard_bounce_text_is_not_a_reputation_block():
    assert verdict(RESEND_STOCK, "resend:Permanent/General") == ("hard", "user_unknown")
    assert verdict(RESEND_STOCK)[1] != "reputation"
    # Sibling advice wording.
    assert verdict("Bounced. This may have a negative effect on your sender reputation.")[1] == (
        "other"
    )
    # A real reputation verdict still is one.
    assert verdict("421 4.7.0 IP not in whitelist; poor reputation of the sending IP")[1] == (
        "reputation"
    )


# --- new phrase classes, with sibling wordings ------------------------------------------------

PHRASE_CASES = [
    # domain without a mail exchanger
    ("Unable to find MX of domain example.invalid", "domain_not_found"),
    ("550 could not find an MX for example.org", "domain_not_found"),
    ("MX record not found for example.net", "domain_not_found"),
    ("No mail host for this domain", "domain_not_found"),
    # the user id / address is invalid
    ("550 Invalid final delivery userid", "user_unknown"),
    ("554 invalid userid", "user_unknown"),
    ("550 userid unknown", "user_unknown"),
    ("553 Invalid user name in address", "user_unknown"),
    ("550 Recipient address is invalid", "user_unknown"),
    # ...but our own login is still our own login
    ("535 Invalid username or password", "auth_error"),
    # retries exhausted
    ("Delivery failed 20 attempts", "expired"),
    ("Message delivery failed after 12 attempts", "expired"),
    ("giving up after 5 retries", "expired"),
    ("retries exhausted for this message", "expired"),
    ("Maximum number of delivery attempts reached", "expired"),
    # network errors
    ("Network error on destination MXs", "network_error"),
    ("Temporary network failure talking to the remote host", "network_error"),
    ("network problem while delivering", "network_error"),
    # message format limits (RFC 5322 line length)
    ("Line limit exceeded", "content_rejected"),
    ("554 5.6.0 line too long", "content_rejected"),
    ("message has lines longer than 998 characters", "content_rejected"),
    ("Maximum line length exceeded", "content_rejected"),
    # volume of unwanted mail from the sender
    ("421 too many unwanted messages have been sent from [203.0.113.5]", "reputation"),
    ("554 unwanted mail from your IP address", "reputation"),
    ("421 suspicious activity detected from your network", "reputation"),
    # the receiver's own block list, for abuse
    ("550 blocked by ldap:ou=blocked,dc=example,dc=org Blocked for abuse", "blocklisted"),
    ("554 your host was banned for abuse", "blocklisted"),
    ("550 sender blocked due to abuse", "blocklisted"),
    # network policy
    ("554 Host network not allowed", "policy_rejected"),
    ("554 your IP is not allowed to connect", "policy_rejected"),
    ("550 access not permitted from your network", "policy_rejected"),
    ("421 connection not allowed", "policy_rejected"),
    # quota wordings without "mailbox ... full"
    ("452 4.2.2 user is over the quota", "mailbox_full"),
    ("552 recipient inbox is full", "mailbox_full"),
    ("552 Quota reached for this user", "mailbox_full"),
    # unknown address wordings
    ("550 no such address here", "user_unknown"),
    ("550 bob is not a known user", "user_unknown"),
    ("550 Addressee unknown, relay=mx", "user_unknown"),
    # no answer from the host
    ("Remote host did not respond within 300 seconds", "network_error"),
    ("421 server not responding", "network_error"),
    # the receiving system's own fault
    ("Temporary system error, please retry", "server_error"),
    # local delivery programs
    (
        "pipe to |/usr/local/bin/deliver generated by user@example.com local delivery failed",
        "server_error",
    ),
    ('Command died with status 1: "/usr/bin/procmail"', "server_error"),
    ("procmail: Error while writing to /var/mail/x", "server_error"),
    ("Child process of virtual_delivery transport returned 75 (EX_TEMPFAIL)", "server_error"),
    ("maildrop: unable to open mailbox", "server_error"),
]


@pytest.mark.parametrize(("text", "reason"), PHRASE_CASES)
def test_phrase_classes(text, reason):
    assert verdict(text)[1] == reason, classify("bounced", None, None, text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # "block list" split by the continuation prefix: the 5.7.1 alone would say policy
        (
            "550-5.7.1 The sending IP is on our block\n550 5.7.1 list, see our postmaster page",
            "blocklisted",
        ),
        # "rate limited" split: the 4.7.0 alone says nothing
        ("421-4.7.0 Your messages are being rate\n421 4.7.0 limited, try again", "rate_limited"),
        # "550-" prefixes without enhanced codes (Exim style)
        ("550-The account you wrote to does not\n550-exist here\n550 Goodbye", "user_unknown"),
    ],
)
def test_continuation_prefixes_do_not_split_phrases(text, reason):
    assert verdict(text)[1] == reason


# --- through the importers: the label reaches the classifier ----------------------------------


def _stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT status, bounce_class, bounce_reason FROM events ORDER BY seq"
        ).fetchall()


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "brevo.json",
            {
                "event": "hard_bounce",
                "email": "a@example.org",
                "message-id": "<m1@x>",
                "ts_epoch": 1718344806417,
                "reason": "",
            },
            ("bounced", "hard", "user_unknown"),
        ),
        (
            "brevo-invalid.json",
            {
                "event": "invalid_email",
                "email": "a@",
                "message-id": "<m2@x>",
                "ts_epoch": 1718344806417,
            },
            ("dropped", "hard", "user_unknown"),
        ),
        (
            "mailjet.json",
            {
                "event": "bounce",
                "time": 1718344806,
                "MessageID": 19421777835146490,
                "email": "a@gmial.com",
                "hard_bounce": True,
                "error_related_to": "recipient",
                "error": "typofix",
            },
            ("bounced", "hard", "domain_not_found"),
        ),
        (
            "sendgrid.json",
            [
                {
                    "event": "dropped",
                    "email": "a@example.org",
                    "timestamp": 1718344806,
                    "sg_event_id": "e1",
                    "sg_message_id": "m3.filter",
                    "reason": "Invalid",
                }
            ],
            ("dropped", "hard", "user_unknown"),
        ),
        (
            "ses.json",
            {
                "eventType": "Bounce",
                "mail": {
                    "timestamp": "2024-06-08T10:00:00.000Z",
                    "messageId": "m4",
                    "source": "s@example.com",
                    "destination": ["a@example.org"],
                },
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "timestamp": "2024-06-08T10:00:01.000Z",
                    "bouncedRecipients": [{"emailAddress": "a@example.org"}],
                },
            },
            ("bounced", "hard", "user_unknown"),
        ),
        (
            "mandrill.json",
            [
                {
                    "event": "hard_bounce",
                    "ts": 1718344806,
                    "_id": "a" * 32,
                    "msg": {
                        "_id": "a" * 32,
                        "email": "a@example.org",
                        "sender": "s@example.com",
                        "state": "bounced",
                        "bounce_description": "bad_mailbox",
                        "diag": "",
                    },
                }
            ],
            ("bounced", "hard", "user_unknown"),
        ),
        (
            "ses-reject.json",
            {
                "eventType": "Reject",
                "mail": {
                    "timestamp": "2024-06-08T10:00:00.000Z",
                    "messageId": "m5",
                    "source": "s@example.com",
                    "destination": ["a@example.org"],
                },
                "reject": {"reason": "Bad content"},
            },
            ("dropped", "block", "content_rejected"),
        ),
    ],
)
def test_import_passes_the_provider_verdict(cli, tmp_path, db_path, name, body, expected):
    path = tmp_path / name
    path.write_text(json.dumps(body))
    r = cli("import", path)
    assert r.exit_code == 0, r
    assert _stored(db_path) == [expected]


# --- `bounces explain`: one explanation per client error code ---------------------------------

CLIENT_TEXTS = {
    "ENOTFOUND": "getaddrinfo ENOTFOUND gmial.com",
    "ESOCKET": "Error: ESOCKET 140234:error:1408F10B:SSL routines:wrong version number",
    "ECONNREFUSED": "connect ECONNREFUSED 192.0.2.10:587",
    "ETIMEDOUT": "Connection timeout ETIMEDOUT",
    "ECONNRESET": "read ECONNRESET",
    "EAUTH": "Invalid login: 535-5.7.8 Username and Password not accepted EAUTH",
    "EENVELOPE": "EENVELOPE Can't send mail - all recipients were rejected: 550 5.1.1 user unknown",
    "EMESSAGE": "EMESSAGE Message failed: 552 5.3.4 Message size exceeds fixed limit",
}


def test_each_client_error_code_has_its_own_explanation(cli):
    meanings = {}
    for code, text in CLIENT_TEXTS.items():
        r = cli("bounces", "explain", text, "--format", "json")
        assert r.exit_code == 0, r
        meanings[code] = json.loads(r.stdout)
        assert meanings[code]["meaning"].startswith(code + ":"), meanings[code]
    assert len({m["meaning"] for m in meanings.values()}) == len(CLIENT_TEXTS)
    assert "typo" in meanings["ENOTFOUND"]["meaning"]
    assert "TLS" in meanings["ESOCKET"]["meaning"]
    assert meanings["ESOCKET"]["bounce_reason"] == "tls_error"
    # The embedded reply still decides the reason, and its meaning is part of the text.
    assert meanings["EENVELOPE"]["bounce_reason"] == "user_unknown"
    assert "mailbox does not exist" in meanings["EENVELOPE"]["meaning"]
    assert meanings["EMESSAGE"]["bounce_reason"] == "message_too_large"


def test_every_client_error_name_has_advice():
    from maillog_cli.bounce.rules import CLIENT_ERRORS

    codes = {name for name in CLIENT_ERRORS if name.startswith("e") and name.isalnum()}
    assert codes - {"eai_again"} <= set(CLIENT_ERROR_ADVICE)


# --- receivers' refusal families that matched nothing ----------------------------------------

REFUSAL_FAMILIES = [
    # (text, class, reason)
    # our software broke RFC 5321 while handing the message over
    ("550 Protocol violation (in reply to DATA command)", "block", "content_rejected"),
    ("554 5.5.0 SMTP protocol violation: bare LF", "block", "content_rejected"),
    ("421 4.5.0 SMTP protocol error, closing connection", "block", "content_rejected"),
    # a greeting that refuses this client (RFC 5321 3.1)
    ("554 mx1.example.net ESMTP not accepting messages", "block", "policy_rejected"),
    ("554 in-07.example.com ESMTP not accepting connections", "block", "policy_rejected"),
    ("550 We are not accepting mail from 192.0.2.44", "block", "policy_rejected"),
    ("554 5.7.1 Connection refused by policy", "block", "policy_rejected"),
    ("550 Connection refused due to local policy", "block", "policy_rejected"),
    ("550 5.7.1 IP address is not permitted", "block", "policy_rejected"),
    # the sending IP is not one the sender domain allows
    ("554 INVALID IP FOR SENDING MAIL OF DOMAIN example.org [RCPT_TO]", "block", "auth_policy"),
    ("550 IP address not authorized to send for the sender domain", "block", "auth_policy"),
    # whole-sender verdicts without a list (Yahoo TSS09 / TS03, Microsoft 5.7.705 / 5.7.708)
    (
        "553 5.7.2 [TSS09] All messages from 192.0.2.7 will be permanently deferred;"
        " Retrying will NOT succeed.",
        "block",
        "reputation",
    ),
    (
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        "block",
        "reputation",
    ),
    ("550 5.7.705 Access denied, tenant has exceeded threshold.", "block", "reputation"),
    (
        "550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains.",
        "block",
        "sender_rejected",
    ),
    # RFC 5321's 421 text is a receiver fault, with its common inflections
    (
        "421 mx.example.org Service not available, closing transmission channel",
        "soft",
        "server_error",
    ),
    ("421 4.3.2 Service currently not available", "soft", "server_error"),
    ("421 Service temporarily not available", "soft", "server_error"),
    # Google Groups in Japanese: "you may have no permission to post to the group"
    (
        "送信先のグループ（team-x）が存在しないか、グループにメッセージを投稿する権限がない"
        "可能性があります。",
        "block",
        "policy_rejected",
    ),
]


@pytest.mark.parametrize(("text", "cls", "reason"), REFUSAL_FAMILIES)
def test_refusal_families(text, cls, reason):
    assert verdict(text) == (cls, reason), classify("bounced", None, None, text)


@pytest.mark.parametrize(
    ("text", "cls", "reason"),
    [
        # a TCP refusal is still a network fault
        ("connect to mx.example.org[192.0.2.9]:25: Connection refused", "soft", "network_error"),
        ("Connection refused by mx.example.org", "soft", "network_error"),
        # Exchange's own outage wording stays a receiver fault
        ("452 4.3.2 System not accepting network messages", "soft", "server_error"),
        # "closing transmission channel" alone is RFC boilerplate: the code decides
        ("421 closing transmission channel", "soft", "other"),
        # a TLS protocol error is about TLS (precedence: content first only for SMTP)
        ("TLS handshake failed: protocol error", "block", "tls_error"),
        # a bare 5.7.1 given at MAIL FROM keeps its verdict (bounces.md step 6 changes only
        # user_unknown / domain_not_found there)
        (
            "Connected to 192.0.2.5 but sender was rejected. Remote host said: 550 5.7.1"
            " Access denied",
            "block",
            "policy_rejected",
        ),
        # advice in passing: bounces.md says the SPF phrase wins over the spam verdict
        (
            "Your email to group x was rejected due to spam classification. Set up SPF records"
            " for your sending domain.",
            "block",
            "auth_policy",
        ),
    ],
)
def test_refusal_family_boundaries(text, cls, reason):
    assert verdict(text) == (cls, reason), classify("bounced", None, None, text)


JA_GROUPS_BOUNCE = """\
Return-Path: <>
To: sender@example.jp
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
Subject: Delivery Status Notification (Failure)
X-Failed-Recipients: team-x@googlegroups.com
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

sender@example.jp 様

送信先のグループ（team-x）が存在しないか、グループにメッセージを投稿する権限がない可能性があります。

 * グループ名が間違っている。

Google Groups
"""


def test_japanese_google_groups_bounce_is_a_posting_refusal():
    from maillog_cli.importers.email.dsn import parse_dsn

    (rec,) = parse_dsn(JA_GROUPS_BOUNCE.encode())
    assert rec.recipient == "team-x@googlegroups.com"
    v = classify("bounced", rec.smtp_code, rec.status, rec.diagnostic)
    assert (v.bounce_class, v.bounce_reason) == ("block", "policy_rejected"), rec


# --- the big receivers' documented refusals, in the same shape --------------------------------

RECEIVER_DOCUMENTED = [
    # (text, class, reason)
    # no mail straight from dynamic / residential IPs: use the provider's relay
    (
        "550 DY-001 (XYZ-MC2F1) Unfortunately, messages from 192.0.2.1 weren't sent. We"
        " generally do not accept email from dynamic IP's.",
        "block",
        "policy_rejected",
    ),
    (
        "550 5.7.0 <a@example.jp>... Please use the smtp server of your ISP.",
        "block",
        "policy_rejected",
    ),
    (
        "554 Residential IP address refused; send through your provider's mail relay",
        "block",
        "policy_rejected",
    ),
    (
        "550 OU-001 (XYZ-MC1F4) Unfortunately, messages from 192.0.2.1 weren't sent. Please"
        " contact your Internet service provider.",
        "block",
        "policy_rejected",
    ),
    # Microsoft 5.7.12: a recipient that takes mail from its own organisation only
    (
        "550 5.7.12 The sender was not authenticated by the organization.",
        "block",
        "policy_rejected",
    ),
    # Microsoft 4.7.500-4.7.699: the sending IP is restricted while being evaluated
    ("451 4.7.550 Access denied, please try again later", "block", "reputation"),
    # Gmail: From: domain not aligned with SPF/DKIM is DMARC, not a malformed header
    (
        "421-4.7.32 Your email has been rate limited because the From: header (RFC5322) in"
        " this message isn't aligned with either the authenticated SPF or DKIM organizational"
        " domain.",
        "block",
        "auth_policy",
    ),
    (
        "550 5.7.32 The From: header of this message is not aligned with the authenticated DKIM"
        " domain",
        "block",
        "auth_policy",
    ),
    ("550-5.7.1 Unauthenticated email is not accepted from this domain.", "block", "auth_policy"),
    ("550 5.7.26 Blocked because the sender is unauthenticated.", "block", "auth_policy"),
    (
        "421-4.7.0 This message is suspicious due to the nature of the content and/or the"
        " links within.",
        "block",
        "spam_content",
    ),
    ("554 Message refused: suspicious links", "block", "spam_content"),
    (
        "421-4.7.0 IP not in whitelist for RCPT domain, closing connection.",
        "block",
        "policy_rejected",
    ),
    ("550 Your server is not in the allowlist of this domain", "block", "policy_rejected"),
    # Microsoft 365 banned-sender list and own-organisation rules
    ("550 5.7.502 Access denied, banned sender.", "block", "blocklisted"),
    (
        "550 5.7.501 Access denied, spam abuse detected. To request removal from this list"
        " please forward this message to delist@example.com.",
        "block",
        "blocklisted",
    ),
    ("550 5.7.503 Access denied", "block", "blocklisted"),
    (
        "550 5.7.510 Access denied, example.org does not accept email over IPv6",
        "block",
        "policy_rejected",
    ),
    (
        "550 5.7.520 Access denied, Your organization does not allow external forwarding.",
        "block",
        "policy_rejected",
    ),
    (
        "550 5.7.703 Your message can't be delivered because messages to a@example.org are"
        " blocked by your organization.",
        "block",
        "policy_rejected",
    ),
]


@pytest.mark.parametrize(("text", "cls", "reason"), RECEIVER_DOCUMENTED)
def test_receivers_documented_refusals(text, cls, reason):
    assert verdict(text) == (cls, reason), classify("bounced", None, None, text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # the header's own form is still a content problem
        (
            "550-5.7.1 Messages with multiple addresses in From: header are not accepted.",
            "content_rejected",
        ),
        ("550 5.7.1 This message is not RFC 5322 compliant.", "content_rejected"),
        # our own missing login is still ours
        ("550 Unauthenticated senders not allowed", "auth_error"),
        ("535 5.7.8 Authentication credentials invalid", "auth_error"),
        # Outlook.com's hourly limits and block list keep their reasons
        (
            "421 RP-001 Unfortunately, some messages from 192.0.2.1 weren't sent. We have limits"
            " for how many messages can be sent per hour.",
            "rate_limited",
        ),
        (
            "550 SC-001 Unfortunately, messages from 192.0.2.1 weren't sent. Part of their"
            " network is on our block list.",
            "blocklisted",
        ),
        # an allowlist remark next to a reputation verdict is the reputation verdict
        ("421 4.7.0 IP not in whitelist; poor reputation of the sending IP", "reputation"),
    ],
)
def test_receivers_documented_boundaries(text, reason):
    assert verdict(text)[1] == reason, classify("bounced", None, None, text)

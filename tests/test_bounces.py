"""The bounce classifier (maillog_cli/bounces.py) against docs/bounces.md."""

import pytest

from maillog_cli.bounce.classify import (
    BOUNCE_STATUSES,
    ENHANCED_CODES,
    PROVIDER_HINTS,
    REASONS,
    TEXT_PATTERNS,
    Verdict,
    classify,
    extract_codes,
    match_text,
    normalise_text,
)

# (diagnostic, smtp_code, enhanced_code, expected reason) — texts as receivers send them.
TEXT_CASES = [
    # user_unknown
    (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "550-5.1.1 double-checking the recipient's email address for typos or\n"
        "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp",
        None,
        None,
        "user_unknown",
    ),
    (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        550,
        "5.1.10",
        "user_unknown",
    ),
    (
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
        550,
        "5.4.1",
        "user_unknown",
    ),
    (
        "554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0]",
        554,
        None,
        "user_unknown",
    ),
    ("550 5.1.1 <x@icloud.com>: user does not exist", 550, "5.1.1", "user_unknown"),
    ("User some.name (x@example.jp) not listed in Domino Directory", None, None, "user_unknown"),
    ("550 Benutzer unbekannt", 550, None, "user_unknown"),
    ("551 not our user", 551, None, "user_unknown"),
    ("550 5.1.1", 550, None, "user_unknown"),
    # mailbox_disabled
    (
        "550-5.2.1 The email account that you tried to reach is disabled.",
        550,
        "5.2.1",
        "mailbox_disabled",
    ),
    ("550 5.1.1 <x@icloud.com>: inactive email address", 550, "5.1.1", "mailbox_disabled"),
    ("550 Mailbox is frozen.", 550, None, "mailbox_disabled"),
    ("550 Invalid mailbox: account is disabled", 550, None, "mailbox_disabled"),
    # a locked account, named with the address in between, under a bare 5.7.1
    (
        "550 5.7.1 <pat@example.org>: Recipient address rejected: User pat@example.org"
        " temporarily locked, retry later",
        550,
        "5.7.1",
        "mailbox_disabled",
    ),
    ("554 Account locked", 554, None, "mailbox_disabled"),
    # a mailbox file locked by a concurrent delivery is the host's passing fault
    ("451 4.2.0 user mailbox locked by another process", 451, "4.2.0", "other"),
    # domain_not_found
    ("556 5.1.10 Recipient address has null MX", 556, "5.1.10", "domain_not_found"),
    (
        "Host or domain name not found. Name service error for name=x.example type=A: Host not found",
        None,
        None,
        "domain_not_found",
    ),
    (
        "DNS Error: DNS type 'mx' lookup of x.example responded with code NXDOMAIN",
        None,
        None,
        "domain_not_found",
    ),
    (
        "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)",
        None,
        None,
        "domain_not_found",
    ),
    ("521 5.3.2 x.example does not accept mail", 521, None, "domain_not_found"),
    ("", 556, None, "domain_not_found"),
    # suppressed
    (
        "Amazon SES has suppressed sending to this address because it has a recent history "
        "of bouncing as an invalid address.",
        None,
        None,
        "suppressed",
    ),
    ("Bounced Address", None, None, "suppressed"),
    (
        "You tried to send to a recipient that has been marked as inactive.",
        None,
        None,
        "suppressed",
    ),
    # mailbox_full
    ("552 5.2.2 <x@example.org>: mailbox is full", 552, "5.2.2", "mailbox_full"),
    (
        "552-5.2.2 The recipient's inbox is out of storage space and inactive.",
        552,
        "5.2.2",
        "mailbox_full",
    ),
    ("552 5.2.2 <x@icloud.com>: user is over quota", 552, "5.2.2", "mailbox_full"),
    ("mailbox is full: retry timeout exceeded", None, None, "mailbox_full"),
    ("452 4.2.2 Mailbox size limit exceeded", 452, "4.2.2", "mailbox_full"),
    ("550 Postfach voll", 550, None, "mailbox_full"),
    # greylisted
    (
        "450 4.2.0 <a@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/",
        450,
        "4.2.0",
        "greylisted",
    ),
    ("451 4.7.1 Please try again later: greylisting in effect", 451, "4.7.1", "greylisted"),
    # rate_limited
    (
        "450 4.2.1 The user you are trying to contact is receiving mail too quickly.",
        450,
        "4.2.1",
        "rate_limited",
    ),
    (
        "550-5.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages",
        550,
        "5.2.1",
        "rate_limited",
    ),
    (
        "421 4.7.0 Too many concurrent SMTP connections from this IP address",
        421,
        "4.7.0",
        "rate_limited",
    ),
    ("Throttling failure: Maximum sending rate exceeded.", None, None, "rate_limited"),
    (
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
        554,
        "5.2.0",
        "rate_limited",
    ),
    (
        "550 5.1.1 <x@example.com> - 203.0.113.2 has sent to too many recipients this hour.",
        550,
        "5.1.1",
        "rate_limited",
    ),
    ("HTTP 429 Too Many Requests", None, None, "rate_limited"),
    # server_error
    ("451 4.3.0 Error: queue file write error", 451, "4.3.0", "server_error"),
    ("554 5.4.6 Hop count exceeded - possible mail loop", 554, "5.4.6", "server_error"),
    ("452 4.3.1 Insufficient system storage", 452, "4.3.1", "server_error"),
    ("451 4.3.0 Temporary lookup failure", 451, "4.3.0", "server_error"),
    ("X-Unix; 255", None, None, "server_error"),
    # network_error
    ("connect to mx.example.com[192.0.2.1]:25: Connection timed out", None, None, "network_error"),
    ("Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)", None, None, "network_error"),
    (
        "Name service error for domain example.com: Host not found, try again",
        None,
        None,
        "network_error",
    ),
    ("The recipient server did not accept our requests to connect.", None, None, "network_error"),
    ("", None, "4.4.2", "network_error"),
    # expired
    ("550 4.4.7 Message expired: unable to deliver in 840 minutes", 550, "4.4.7", "expired"),
    ("Envelope expired", None, None, "expired"),
    ("", None, "4.4.7", "expired"),
    (
        "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going to try again; this message has been in the queue too long.",
        None,
        None,
        "expired",
    ),
    # blocklisted
    (
        "550 5.7.1 Service unavailable; client [203.0.113.9] blocked using bl.spamcop.net",
        550,
        "5.7.1",
        "blocklisted",
    ),
    (
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        554,
        "5.7.1",
        "blocklisted",
    ),
    (
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150).",
        550,
        "5.7.1",
        "blocklisted",
    ),
    ("550 5.7.606 Access denied, banned sending IP [198.51.100.2].", 550, "5.7.606", "blocklisted"),
    ("554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", 554, None, "blocklisted"),
    ("550 5.7.1 Client host blocked for spamming issues.", 550, "5.7.1", "blocklisted"),
    ("", 550, "5.7.640", "blocklisted"),
    # reputation
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1",
        421,
        "4.7.0",
        "reputation",
    ),
    (
        "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
        421,
        "4.7.28",
        "reputation",
    ),
    (
        "421 4.7.0 This message is suspicious due to the very low reputation of the sending IP address.",
        421,
        "4.7.0",
        "reputation",
    ),
    (
        "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
        451,
        "4.7.650",
        "reputation",
    ),
    # spam_content
    (
        "550-5.7.1 Our system has detected that this message is likely unsolicited mail.",
        550,
        "5.7.1",
        "spam_content",
    ),
    ("554 5.7.0 Reject, id=20025-09 - SPAM", 554, "5.7.0", "spam_content"),
    ("550 5.7.1 Message content rejected, UBE, id=00000-22-225", 550, "5.7.1", "spam_content"),
    (
        "554 email rejected due to security policies - MCSpamSignature.sa.2.2",
        554,
        None,
        "spam_content",
    ),
    # content_rejected
    (
        "550 5.7.1 This message is not RFC 5322 compliant. To reduce the amount of spam sent to Gmail, this message has been blocked.",
        550,
        "5.7.1",
        "content_rejected",
    ),
    (
        "552 5.7.0 This message was blocked because its content presents a potential security issue.",
        552,
        "5.7.0",
        "content_rejected",
    ),
    ("554 5.7.0 Header error", 554, "5.7.0", "content_rejected"),
    ("550 5.7.1 Duplicate header 'DKIM-Signature'", 550, "5.7.1", "content_rejected"),
    ("550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal; bare LF", 550, "5.6.11", "content_rejected"),
    ("554 5.6.0 Virus found in message", 554, "5.6.0", "content_rejected"),
    # auth_policy
    (
        "550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender "
        "and Gmail users, and has been blocked. The sender must authenticate with at least one "
        "of SPF or DKIM. For this message, DKIM checks did not pass and SPF check for "
        "[example.com] did not pass with ip: [192.0.2.1].",
        550,
        "5.7.26",
        "auth_policy",
    ),
    (
        "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.",
        550,
        "5.7.26",
        "auth_policy",
    ),
    (
        "421-4.7.26 This mail has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.",
        421,
        "4.7.26",
        "auth_policy",
    ),
    (
        "550 5.7.509 Access denied, sending domain [EXAMPLE.JP] does not pass DMARC verification",
        550,
        "5.7.509",
        "auth_policy",
    ),
    (
        "550-5.7.25 The IP address sending this message does not have a PTR record setup.",
        550,
        "5.7.25",
        "auth_policy",
    ),
    (
        "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]",
        450,
        "4.7.1",
        "auth_policy",
    ),
    (
        "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
        504,
        "5.5.2",
        "auth_policy",
    ),
    ("", 550, "5.7.23", "auth_policy"),
    # policy_rejected
    (
        "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
        554,
        "5.7.9",
        "policy_rejected",
    ),
    ("550 5.7.1 Delivery not authorized, message refused", 550, "5.7.1", "policy_rejected"),
    (
        "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required",
        550,
        "5.7.1",
        "policy_rejected",
    ),
    ("550 5.7.1 Command rejected", 550, "5.7.1", "policy_rejected"),
    (
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list",
        553,
        "5.7.1",
        "blocklisted",
    ),
    # relay_denied
    ("554 5.7.1 <x@example.org>: Relay access denied", 554, "5.7.1", "relay_denied"),
    (
        "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
        550,
        "5.7.54",
        "relay_denied",
    ),
    ("550 Relaying denied. Proper authentication required.", 550, None, "relay_denied"),
    # sender_rejected
    (
        "553 5.1.8 <b@old.example>... Domain of sender address b@old.example does not exist (in reply to MAIL FROM command)",
        553,
        "5.1.8",
        "sender_rejected",
    ),
    (
        "550 5.7.1 <x@example.com>: Sender address rejected: Access denied",
        550,
        "5.7.1",
        "sender_rejected",
    ),
    (
        "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: a@example.com",
        554,
        None,
        "sender_rejected",
    ),
    (
        "450 4.1.8 <a@example.com>: Sender address rejected: Domain not found",
        450,
        "4.1.8",
        "sender_rejected",
    ),
    # message_too_large
    ("552 5.3.4 Message size exceeds fixed limit", 552, "5.3.4", "message_too_large"),
    (
        "552-5.2.3 Your message exceeded Google's message size limits.",
        552,
        "5.2.3",
        "message_too_large",
    ),
    # auth_error
    ("530 5.7.0 Authentication Required", 530, "5.7.0", "auth_error"),
    ("535 5.7.3 Authentication unsuccessful", 535, "5.7.3", "auth_error"),
    ("550 Unauthenticated senders not allowed", 550, None, "auth_error"),
    (
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
        535,
        "5.7.139",
        "auth_error",
    ),
    # tls_error
    ("530 5.7.0 Must issue a STARTTLS command first", 530, "5.7.0", "tls_error"),
    ("500 Remote server does not support TLS (state 6).", 500, None, "tls_error"),
    (
        "421-4.7.29 Your email has been rate limited because this message wasn't sent over a TLS connection.",
        421,
        "4.7.29",
        "tls_error",
    ),
    ("451 4.7.321 STARTTLS is required to send mail", 451, "4.7.321", "tls_error"),
    # other
    ("554 Delivery error", 554, None, "other"),
    ("550 Requested action not taken: mailbox unavailable", 550, None, "other"),
    ("451 4.7.1 Try again later", 451, "4.7.1", "other"),
    # a list or group that takes posts from its members only
    (
        "The group you wrote to (team-x) may not exist, or you may not have permission to"
        " post messages to the group.",
        None,
        None,
        "policy_rejected",
    ),
    ("550 Post by non-member to a members-only list", 550, None, "policy_rejected"),
    ("You are not allowed to post to this mailing list", None, None, "policy_rejected"),
]


@pytest.mark.parametrize(("diagnostic", "smtp_code", "enhanced", "reason"), TEXT_CASES)
def test_text_cases(diagnostic, smtp_code, enhanced, reason):
    verdict = classify("bounced", smtp_code, enhanced, diagnostic)
    assert verdict.bounce_reason == reason, verdict.rule
    expected_class = REASONS[reason].bounce_class
    if expected_class is not None:
        assert verdict.bounce_class == expected_class


def test_every_reason_has_a_case():
    covered = {reason for *_, reason in TEXT_CASES} | {r for *_, r in CLIENT_CASES}
    assert covered == set(REASONS)


# Worked examples of bounces.md section 8: (status, diagnostic, reason, class)
WORKED_EXAMPLES = [
    (
        "bounced",
        "550 5.7.1 Service unavailable; client [203.0.113.9] blocked using bl.spamcop.net",
        "blocklisted",
        "block",
    ),
    ("bounced", "552 5.2.2 <x@example.org>: mailbox is full", "mailbox_full", "soft"),
    (
        "deferred",
        "450 4.2.1 The user you are trying to contact is receiving mail too quickly",
        "rate_limited",
        "soft",
    ),
    (
        "bounced",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found",
        "user_unknown",
        "hard",
    ),
    ("bounced", "556 5.1.10 Recipient address has null MX", "domain_not_found", "hard"),
    (
        "deferred",
        "421 4.7.26 This mail has been rate limited because it is unauthenticated. SPF or DKIM",
        "auth_policy",
        "block",
    ),
    (
        "deferred",
        "host mx.example.com[192.0.2.1] said: 450 4.2.0 <a@example.com>: Recipient address rejected: Greylisted",
        "greylisted",
        "soft",
    ),
    ("bounced", "550 4.4.7 Delivery failed: message expired", "expired", "soft"),
    (
        "bounced",
        "host mx.example.net[192.0.2.2] said: 553 5.1.8 <b@old.example>... Domain of sender "
        "address b@old.example does not exist (in reply to MAIL FROM command)",
        "sender_rejected",
        "block",
    ),
    (
        "bounced",
        "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)",
        "network_error",
        "soft",
    ),
    (
        "dropped",
        "Amazon SES has suppressed sending to this address because it has a recent history of "
        "bouncing as an invalid address.",
        "suppressed",
        "hard",
    ),
    ("failed", "connect ECONNREFUSED 192.0.2.10:587", "network_error", "soft"),
    (
        "failed",
        "Invalid login: 535-5.7.8 Username and Password not accepted",
        "auth_error",
        "block",
    ),
    ("bounced", "554 Delivery error", "other", "undetermined"),
]


@pytest.mark.parametrize(("status", "diagnostic", "reason", "cls"), WORKED_EXAMPLES)
def test_worked_examples(status, diagnostic, reason, cls):
    verdict = classify(status, None, None, diagnostic)
    assert (verdict.bounce_reason, verdict.bounce_class) == (reason, cls), verdict.rule


# Known hard cases of bounces.md section 9.
HARD_CASES = [
    # A bare vendor-reused code: the registry meaning is used.
    ("550 5.1.10", None, None, "domain_not_found", "hard"),
    # Expiry notice that repeats the last deferral's text: network_error, soft.
    (
        "connect to mx.example.com[192.0.2.1]:25: Connection timed out",
        None,
        "4.4.7",
        "network_error",
        "soft",
    ),
    # Japanese carriers' "Unknown user" after DATA reads as user_unknown.
    ("550 Unknown user x@docomo.ne.jp", None, None, "user_unknown", "hard"),
    # Generic blocks stay other / policy_rejected.
    ("554 Service unavailable", None, None, "other", "undetermined"),
    ("550 Access denied", None, "5.7.1", "policy_rejected", "block"),
    ("550 Rejected", None, None, "other", "undetermined"),
    # List word wins over spam.
    ("554 Client host blocked for spamming issues", None, None, "blocklisted", "block"),
    (
        "550 5.7.1 Message rejected: blacklisted URL in message",
        None,
        "5.7.1",
        "blocklisted",
        "block",
    ),
    # Advice text: the SPF phrase wins over spam.
    (
        "550 Your message looks like spam. Please set up SPF records for your domain.",
        None,
        None,
        "auth_policy",
        "block",
    ),
    # 4xx with a hard reason: hard, the status stays deferred.
    (
        "450 4.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual alias table",
        None,
        None,
        "user_unknown",
        "hard",
    ),
    (
        "450 4.1.2 <x@example.invalid>: Recipient address rejected: Domain not found",
        None,
        None,
        "domain_not_found",
        "hard",
    ),
    # Non-Latin text without a code falls to other.
    ("宛先が見つかりません", None, None, "other", "undetermined"),
    # Stage correction: refused at connection time or at MAIL FROM.
    (
        "SMTP error from remote mail server after initial connection: 550 5.1.1 unknown domain",
        None,
        None,
        "auth_policy",
        "block",
    ),
    (
        "Connected to 192.0.2.1 but sender was rejected. Remote host said: 553 sorry, that domain isn't in my list (#5.1.1) user unknown",
        None,
        None,
        "sender_rejected",
        "block",
    ),
    (
        "SMTP error from remote mail server after MAIL FROM:<a@example.com>: 550 5.1.7 No such domain",
        None,
        None,
        "sender_rejected",
        "block",
    ),
    # Stage does not change blocks given at MAIL FROM.
    (
        "Connected to 98.136.96.74 but sender was rejected. Remote host said: 421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints",
        None,
        None,
        "reputation",
        "block",
    ),
    # Yahoo trace token and IP addresses are not enhanced codes.
    ("421 Messages from 192.0.2.25 deferred - 4.16.55.1", None, None, "other", "soft"),
    # The other class follows the enhanced code before the reply code.
    ("550 something odd", None, "4.0.0", "other", "soft"),
]


@pytest.mark.parametrize(("diagnostic", "smtp_code", "enhanced", "reason", "cls"), HARD_CASES)
def test_known_hard_cases(diagnostic, smtp_code, enhanced, reason, cls):
    verdict = classify("bounced", smtp_code, enhanced, diagnostic)
    assert (verdict.bounce_reason, verdict.bounce_class) == (reason, cls), verdict.rule


# Client-side errors (status failed): (diagnostic, reason)
CLIENT_CASES = [
    ("connect ECONNREFUSED 192.0.2.10:587", "network_error"),
    ("Connection timeout", "network_error"),
    ("connect ETIMEDOUT 192.0.2.10:465", "network_error"),
    ("getaddrinfo ENOTFOUND smtp.example.net", "network_error"),
    ("[Errno -2] Name or service not known", "network_error"),
    ("dial tcp: lookup smtp.example.net: no such host", "network_error"),
    ("Greeting never received", "network_error"),
    ("SMTPServerDisconnected: Connection unexpectedly closed", "network_error"),
    ("Invalid login: 535 Authentication failed", "auth_error"),
    ('EAUTH: Missing credentials for "PLAIN"', "auth_error"),
    ("SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')", "auth_error"),
    ("SMTP Error: Could not authenticate.", "auth_error"),
    ("ESOCKET: self-signed certificate in certificate chain", "tls_error"),
    (
        "ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer certificate",
        "tls_error",
    ),
    ("x509: certificate signed by unknown authority", "tls_error"),
    ("ESOCKET: write EPIPE", "network_error"),
    ("Daily message quota exceeded", "rate_limited"),
    (
        "Email address is not verified. The following identities failed the check in region EU-WEST-1: a@example.com",
        "sender_rejected",
    ),
    # EENVELOPE carries the server's reply: that decides.
    (
        "EENVELOPE: Can't send mail - all recipients were rejected: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
        "user_unknown",
    ),
    ("Mailbox unavailable. The server response was: 5.2.2 mailbox full", "mailbox_full"),
    ("something unexpected happened", "other"),
]


@pytest.mark.parametrize(("diagnostic", "reason"), CLIENT_CASES)
def test_client_errors(diagnostic, reason):
    assert classify("failed", None, None, diagnostic).bounce_reason == reason


def test_client_error_rule_names_the_error():
    verdict = classify("failed", None, None, "connect ECONNREFUSED 192.0.2.10:587")
    assert verdict == Verdict("soft", "network_error", "client error ECONNREFUSED")


# Provider hints: (hint, diagnostic, reason)
HINT_CASES = [
    ("ses:Permanent/NoEmail", "550 5.7.1 spam", "user_unknown"),
    ("ses:Permanent/Suppressed", None, "suppressed"),
    ("ses:Permanent/OnAccountSuppressionList", None, "suppressed"),
    ("ses:Transient/MailboxFull", None, "mailbox_full"),
    ("ses:Transient/MessageTooLarge", None, "message_too_large"),
    ("ses:Transient/AttachmentRejected", None, "content_rejected"),
    ("ses:Transient/ContentRejected", "554 Virus found", "content_rejected"),
    ("ses:Transient/ContentRejected", "554 rejected as spam", "spam_content"),
    ("ses:Transient/ContentRejected", "554 relay access denied", "spam_content"),
    # Not trusted: the text decides.
    ("ses:Permanent/General", "554 5.7.1 blocked using zen.spamhaus.org", "blocklisted"),
    ("ses:Undetermined/Undetermined", "552 mailbox full", "mailbox_full"),
    ("ses-delay:MailboxFull", None, "mailbox_full"),
    ("ses-delay:SpamDetected", None, "spam_content"),
    ("ses-delay:TransientCommunicationFailure", None, "network_error"),
    ("ses-delay:RecipientServerError", None, "server_error"),
    ("ses-complaint:OnAccountSuppressionList", None, "suppressed"),
    ("sendgrid-drop:Bounced Address", None, "suppressed"),
    ("sendgrid-drop:Unsubscribed Address", None, "suppressed"),
    ("sendgrid-drop:Spam Reporting Address", None, "suppressed"),
    ("sendgrid-drop:Invalid", "550 user unknown", "user_unknown"),
    ("sendgrid-class:Reputation", None, "reputation"),
    ("sendgrid-class:Frequency or Volume Too High", None, "rate_limited"),
    ("sendgrid-class:Content", None, "spam_content"),
    ("sendgrid-class:Invalid Address", "550 5.7.1 blocked using bl.spamcop.net", "blocklisted"),
    ("mailgun-reason:suppress-bounce", None, "suppressed"),
    ("mailgun-reason:suppress-complaint", None, "suppressed"),
    ("mailgun-reason:old", None, "expired"),
    ("mailgun-reason:greylisted", None, "greylisted"),
    ("mailgun-reason:generic", "550 5.7.1 spam detected", "spam_content"),
    ("mailgun-code:605", None, "suppressed"),
    ("mailgun-code:607", None, "suppressed"),
    ("postmark:BadEmailAddress", None, "user_unknown"),
    ("postmark:DnsError", None, "network_error"),
    ("postmark:SpamNotification", None, "spam_content"),
    ("postmark:VirusNotification", None, "content_rejected"),
    ("postmark:DMARCPolicy", None, "auth_policy"),
    ("postmark:ManuallyDeactivated", None, "suppressed"),
    ("postmark:HardBounce", "550 5.2.2 mailbox full", "mailbox_full"),
    ("sparkpost:10", None, "user_unknown"),
    ("sparkpost:22", None, "mailbox_full"),
    ("sparkpost:23", None, "message_too_large"),
    ("sparkpost:24", None, "expired"),
    ("sparkpost:25", None, "suppressed"),
    ("sparkpost:51", None, "blocklisted"),
    ("sparkpost:52", None, "spam_content"),
    ("sparkpost:53", None, "content_rejected"),
    ("sparkpost:54", None, "relay_denied"),
    ("sparkpost:21", "421 4.7.0 reputation", "reputation"),
    ("resend:Permanent/Suppressed", None, "suppressed"),
    ("resend:Permanent/General", "550 5.1.1 user unknown", "user_unknown"),
    ("somebody:Else", "550 5.1.1 user unknown", "user_unknown"),
]


@pytest.mark.parametrize(("hint", "diagnostic", "reason"), HINT_CASES)
def test_provider_hints(hint, diagnostic, reason):
    verdict = classify("bounced", None, None, diagnostic, hint)
    assert verdict.bounce_reason == reason, verdict.rule


def test_hint_rule_names_the_provider_label():
    verdict = classify("dropped", None, None, None, "ses:Permanent/NoEmail")
    assert verdict.rule == "provider: ses Permanent/NoEmail"
    assert verdict.bounce_class == "hard"


def test_hints_table_uses_the_documented_prefixes():
    prefixes = {key.split(":", 1)[0] for key in PROVIDER_HINTS}
    assert prefixes <= {
        "ses", "ses-delay", "ses-complaint", "sendgrid-drop", "sendgrid-class",
        "mailgun-reason", "mailgun-code", "postmark", "sparkpost", "resend",
    }  # fmt: skip


@pytest.mark.parametrize(
    "status", ["delivered", "sent", "queued", "opened", "clicked", "complained", "rejected", ""]
)
def test_non_bounce_statuses_get_none(status):
    assert classify(status, 550, "5.1.1", "550 5.1.1 user unknown") is None


@pytest.mark.parametrize("status", sorted(BOUNCE_STATUSES))
def test_bounce_statuses_always_get_a_verdict(status):
    verdict = classify(status, None, None, None)
    assert verdict == Verdict("undetermined", "other", "nothing matched")


def test_status_none_classifies_anyway():
    assert classify(None, None, None, "mailbox is full").bounce_reason == "mailbox_full"


def test_rules_are_readable():
    assert classify("bounced", None, None, "552 mailbox is full").rule == "text: mailbox full"
    assert classify("bounced", 550, "5.1.1", "").rule == "enhanced code 5.1.1"
    assert classify("bounced", 551, None, None).rule == "reply code 551"
    rule = classify("bounced", None, None, "after MAIL FROM:<a@b.example>: 550 no such domain").rule
    assert rule == "text: domain not found; refused at MAIL FROM -> sender_rejected"


def test_code_extraction():
    assert extract_codes(normalise_text("host said: 550-5.1.1 the account")) == (550, "5.1.1")
    assert extract_codes("192.0.2.25 said 4.16.55.1") == (None, None)
    assert extract_codes("(#4.4.1)") == (None, "4.4.1")
    assert extract_codes("2024-04-29t23:34:45.000z 5.7.606") == (None, "5.7.606")
    assert extract_codes("size=222: 550 x") == (222, None)
    # An enhanced code inside the text replaces a bare X.0.0.
    assert classify("bounced", None, "5.0.0", "550 5.2.2 over").bounce_reason == "mailbox_full"
    assert classify("bounced", None, "5.0.0", "bounced (#5.1.1)").rule == "enhanced code 5.1.1"


def test_tables_are_consistent():
    reasons = set(REASONS)
    assert len(reasons) == 22
    assert {reason for reason, _, _ in TEXT_PATTERNS} <= reasons
    assert set(ENHANCED_CODES.values()) <= reasons
    assert set(PROVIDER_HINTS.values()) <= reasons | {"spam_content|content_rejected"}
    classes = {info.bounce_class for info in REASONS.values()}
    assert classes == {"hard", "soft", "block", None}
    counting = {r for r, info in REASONS.items() if info.counts_for_soft_suppression}
    assert counting == {"mailbox_full", "server_error", "network_error", "expired"}


def test_precedence_overlapping_phrases():
    # "not listed in" (Domino) is user_unknown although "listed in" is a list word.
    assert match_text("user x not listed in domino directory")[0] == "user_unknown"
    # An earlier-listed reason wins wherever in the text it occurs.
    assert match_text("mailbox unavailable: spam detected, blocked using zen")[0] == "blocklisted"
    assert match_text("domain of sender address x does not exist")[0] == "sender_rejected"
    assert match_text("nothing here") is None


def test_hostile_input_does_not_raise():
    for text in ["", " ", "\x00" * 100, "5" * 10000, "(" * 500, "\u202e550 5.1.1", "a@b" * 1000]:
        assert classify("bounced", None, None, text) is not None
    assert classify("bounced", None, "garbage", "x").bounce_reason == "other"


def test_words_inside_addresses_do_not_decide_the_reason() -> None:
    v = classify(
        "bounced",
        None,
        None,
        "550 5.1.1 <nospam@example.com>: Recipient address rejected: User unknown",
    )
    assert (v.bounce_class, v.bounce_reason) == ("hard", "user_unknown")
    v = classify(
        "bounced",
        None,
        None,
        "550 5.1.1 <mailbox-full@example.com>: User unknown in virtual mailbox table",
    )
    assert v.bounce_reason == "user_unknown"


def test_a_port_is_not_a_reply_code() -> None:
    from maillog_cli.bounce.classify import extract_codes

    assert extract_codes("connect econnrefused 127.0.0.1:587") == (None, None)

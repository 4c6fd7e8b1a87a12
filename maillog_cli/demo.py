"""Realistic, deterministic demo data: what `maillog demo` writes and the benchmarks load.

A sender's last weeks as the providers would report them:

- Messages start on a daily and weekly curve (quiet nights and weekends, a Tuesday
  newsletter burst), never uniformly; the files are in time order like a real export.
- Each message has one lifecycle in its provider's own words: accepted (queued or sent)
  → delivered → opened → clicked, or → deferred with growing retry delays → delivered or
  bounced, or → bounced, or → dropped because the provider already suppresses the address.
  Consecutive events of a message are at least a second apart; nothing lands in the future.
- An address has one fate, decided by the address itself (so every file and seed agrees):
  an unknown or disabled mailbox stays that way, a typo domain never resolves, a full
  mailbox is full for a while and then recovers. Sender-side trouble (spam verdicts,
  blocklists, reputation and rate deferrals, greylisting) can hit any address.
- Reply texts come from the receiving domain's family (Gmail, Yahoo, Microsoft, or a
  Postfix/Exim host for the rest), with the enhanced status codes (RFC 3463) and the
  wording those receivers publish; client-side failures only happen in two incidents
  that the audit log explains (a relay outage, a wrong SMTP password).
- Audit actions come from the documented catalogue (maillog_cli.audit.queries.ACTIONS).

Output is in real input formats, so the demo exercises import and auto-detection.
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson

from maillog_cli.dates import format_dt

# --- who sends what to whom ------------------------------------------------------------------

PROVIDERS: tuple[tuple[str, int], ...] = (
    ("sendgrid", 30),
    ("ses", 20),
    ("mailgun", 15),
    ("postmark", 15),
    ("resend", 10),
    ("postfix", 10),
)
ALL_PROVIDERS = tuple(name for name, _ in PROVIDERS)
DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 30),
    ("outlook.com", 12),
    ("yahoo.com", 9),
    ("icloud.com", 6),
    ("hotmail.com", 6),
    ("gmx.de", 4),
    ("web.de", 3),
    ("example.com", 8),
    ("example.org", 6),
    ("acme-corp.example", 5),
    ("mail.ru", 2),
    ("protonmail.com", 2),
    ("fastmail.com", 2),
    ("gmial.com", 0.5),
    ("hotmial.com", 0.3),
)
# Typos of big domains: they do not exist, so every message to them bounces.
TYPO_DOMAINS = frozenset({"gmial.com", "hotmial.com"})
FIRST = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
    "yuki", "zoe", "amir", "bea", "chen", "dario", "elif", "femi", "gosia", "hana", "ines",
    "jonas", "kiri", "lea", "mateo",
)  # fmt: skip
# (sender, subject templates, chance of an open, chance of a click after an open)
STREAMS: tuple[tuple[str, tuple[str, ...], float, float], ...] = (
    ("noreply@acme.example", ("Reset your password", "Confirm your email address",
                              "Welcome to Acme, {name}!", "Your trial ends in 3 days"), 0.55, 0.45),
    ("billing@acme.example", ("Your receipt #{n}", "Invoice {n} is due",
                              "Your order #{n} has shipped"), 0.5, 0.25),
    ("security@acme.example", ("Security alert: new sign-in",), 0.7, 0.2),
    ("reports@acme.example", ("Daily report {n}",), 0.35, 0.1),
)  # fmt: skip
NEWSLETTER = ("news@mail.acme.example", ("Weekly digest — {n} new updates",
                                         "Ünïcödé newsletter ✉️ {n}"), 0.25, 0.3)  # fmt: skip
STREAM_WEIGHTS = (40, 30, 10, 20)
SENDERS = (*(s[0] for s in STREAMS), NEWSLETTER[0])
SENDING_IP = "198.51.100.7"

# Each provider's own word for each canonical status (raw_status); a missing status is a
# stage the provider does not report (Postmark has no "accepted" event, Postfix no opens).
PROVIDER_WORDS: dict[str, dict[str, str]] = {
    "sendgrid": {"queued": "processed", "delivered": "delivered", "deferred": "deferred",
                 "bounced": "bounce", "dropped": "dropped", "opened": "open", "clicked": "click",
                 "complained": "spamreport", "unsubscribed": "unsubscribe", "failed": "error"},
    "ses": {"sent": "Send", "delivered": "Delivery", "deferred": "DeliveryDelay",
            "bounced": "Bounce", "dropped": "Bounce", "opened": "Open", "clicked": "Click",
            "complained": "Complaint", "unsubscribed": "Subscription", "failed": "error"},
    "mailgun": {"queued": "accepted", "delivered": "delivered", "deferred": "failed",
                "bounced": "failed", "dropped": "failed", "opened": "opened",
                "clicked": "clicked", "complained": "complained",
                "unsubscribed": "unsubscribed", "failed": "error"},
    "postmark": {"delivered": "Delivery", "deferred": "Transient", "bounced": "Bounce",
                 "dropped": "InactiveRecipient", "opened": "Open", "clicked": "Click",
                 "complained": "SpamComplaint", "unsubscribed": "SubscriptionChange",
                 "failed": "error"},
    "resend": {"sent": "email.sent", "delivered": "email.delivered",
               "deferred": "email.delivery_delayed", "bounced": "email.bounced",
               "opened": "email.opened", "clicked": "email.clicked",
               "complained": "email.complained", "failed": "error"},
    "postfix": {"queued": "queued", "delivered": "sent", "deferred": "deferred",
                "bounced": "bounced", "failed": "error"},
}  # fmt: skip
# What a provider says when it does not even try an address it already suppresses.
SUPPRESSION_TEXTS: dict[str, str] = {
    "sendgrid": "Bounced Address",
    "ses": "Amazon SES did not send the message to this address because it is on the suppression list for your account.",
    "mailgun": "Not delivering to previously bounced address",
    "postmark": "You tried to send to a recipient that has been marked as inactive. Found inactive addresses: {rcpt}. Inactive recipients are ones that have generated a hard bounce or a spam complaint.",
}

# --- receivers' replies ----------------------------------------------------------------------
# Written from the receivers' published error pages and RFC 3463/5321/7505; placeholders:
# {rcpt} {domain} {local} {ip} {gid} (a Google trace id) {host} (a Microsoft front end).

GMAIL, YAHOO, MICROSOFT, GENERIC = "gmail", "yahoo", "microsoft", "generic"
FAMILY_OF_DOMAIN = {
    "gmail.com": GMAIL,
    "yahoo.com": YAHOO,
    "outlook.com": MICROSOFT,
    "hotmail.com": MICROSOFT,
}
_G = " {gid} - gsmtp"
_MS = " [{host}.prod.protection.outlook.com]"
_YH = " - mta{n4}.mail.{dc}.yahoo.com"

REPLIES: dict[tuple[str, str], tuple[str, ...]] = {
    # --- Gmail
    (GMAIL, "user_unknown"): (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser"
        + _G,
    ),
    (GMAIL, "mailbox_disabled"): (
        "550-5.2.1 The email account that you tried to reach is disabled. For more information, go to 550 5.2.1  https://support.google.com/mail/?p=DisabledUser"
        + _G,
    ),
    (GMAIL, "mailbox_full"): (
        "552-5.2.2 The recipient's inbox is out of storage space. Please direct the recipient to 552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm"
        + _G,
    ),
    (GMAIL, "mailbox_full_temp"): (
        "452-4.2.2 The recipient's inbox is out of storage space and inactive. Please direct the recipient to 452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp"
        + _G,
        "452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to 452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp"
        + _G,
    ),
    (GMAIL, "rate_limited"): (
        "450-4.2.1 The user you are trying to contact is receiving mail at a rate that 450-4.2.1 prevents additional messages from being delivered. Please resend your 450-4.2.1 message at a later time. If the user is able to receive mail at that 450-4.2.1 time, your message will be delivered. For more information, go to 450 4.2.1  https://support.google.com/mail/?p=ReceivingRate"
        + _G,
    ),
    (GMAIL, "reputation"): (
        "421-4.7.0 This message is suspicious due to the very low reputation of the 421-4.7.0 sending IP address. To protect our users from spam, mail sent from your IP 421-4.7.0 address has been temporarily rate limited. For more information, go to 421 4.7.0  https://support.google.com/mail/?p=UnsolicitedRateLimitError"
        + _G,
        "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating 421-4.7.28 from your IP address [{ip}]. To protect our users from spam, mail 421-4.7.28 sent from your IP address has been temporarily rate limited. 421 4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError"
        + _G,
    ),
    (GMAIL, "spam_content"): (
        "550-5.7.1 Our system has detected that this message is likely unsolicited mail. To 550-5.7.1 reduce the amount of spam sent to Gmail, this message has been 550-5.7.1 blocked. For more information, go to 550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError"
        + _G,
    ),
    (GMAIL, "auth_policy"): (
        "550-5.7.26 Unauthenticated email from mail.acme.example is not accepted due to domain's 550-5.7.26 DMARC policy. Please contact the administrator of mail.acme.example domain if 550-5.7.26 this was a legitimate mail. To learn about the DMARC initiative, go to 550 5.7.26  https://support.google.com/mail/?p=DmarcRejection"
        + _G,
    ),
    (GMAIL, "message_too_large"): (
        "552-5.2.3 Your message exceeded Google's message size limits. For more information, 552 5.2.3 go to  https://support.google.com/mail/?p=MaxSizeError"
        + _G,
    ),
    # --- Yahoo
    (YAHOO, "user_unknown"): (
        "554 delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) [0]" + _YH,
        "552 1 Requested mail action aborted, mailbox not found" + _YH,
    ),
    (YAHOO, "mailbox_disabled"): (
        "554 delivery error: dd Sorry your message to {rcpt} cannot be delivered. This mailbox is disabled (554.30)."
        + _YH,
    ),
    (YAHOO, "mailbox_full"): (
        "554 delivery error: dd Sorry your message to {rcpt} cannot be delivered. This account is over quota."
        + _YH,
    ),
    (YAHOO, "mailbox_full_temp"): (
        "452 4.2.2 Mailbox quota exceeded for {rcpt}, try again later" + _YH,
    ),
    (YAHOO, "rate_limited"): ("450 User is receiving mail too quickly" + _YH,),
    (YAHOO, "reputation"): (
        "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    ),
    (YAHOO, "policy_rejected"): (
        "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
    ),
    (YAHOO, "auth_policy"): (
        "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM. Authentication results: DKIM = did not pass; SPF did not pass. See https://postmaster.yahooinc.com/error-codes",
    ),
    # --- Microsoft (outlook.com, hotmail.com)
    (MICROSOFT, "user_unknown"): (
        "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" + _MS,
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by SMTP address lookup"
        + _MS,
    ),
    (MICROSOFT, "mailbox_full"): (
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception"
        + _MS,
    ),
    (MICROSOFT, "mailbox_full_temp"): (
        "452 4.2.2 The recipient's mailbox is full and can't accept messages now. Please try resending this message later, or contact the recipient directly. (QuotaExceeded)"
        + _MS,
    ),
    (MICROSOFT, "server_error"): (
        "451 4.7.500 Server busy. Please try again later from [{ip}]. (S77714) [Name=Protocol Filter Agent][AGT=PFA][MxId=11BB3C1D2A6F9E01]"
        + _MS,
    ),
    (MICROSOFT, "reputation"): (
        "451 4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)"
        + _MS,
    ),
    (MICROSOFT, "blocklisted"): (
        "550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors."
        + _MS,
    ),
    (MICROSOFT, "auth_policy"): (
        "550 5.7.509 Access denied, sending domain mail.acme.example does not pass DMARC verification and has a DMARC policy of reject."
        + _MS,
    ),
    (MICROSOFT, "spam_content"): (
        "550 5.7.1 Service unavailable, Client host [{ip}] blocked by the recipient's content filter: this message looks like spam. https://aka.ms/EXOSmtpErrors"
        + _MS,
    ),
    # --- anything else: a Postfix host, an Exim host
    (GENERIC, "user_unknown"): (
        "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
        "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table",
        "550 5.1.1 <{rcpt}>... User unknown",
    ),
    (GENERIC, "mailbox_disabled"): (
        "550 5.2.1 <{rcpt}>: Recipient address rejected: mailbox is disabled",
        "550 5.2.1 Account {local} has been deactivated by its owner",
    ),
    (GENERIC, "mailbox_full"): (
        "552 5.2.2 <{rcpt}>: Mailbox is full / Blocks limit exceeded / Inode limit exceeded",
        "552 5.2.2 Quota exceeded (mailbox for user is full)",
    ),
    (GENERIC, "mailbox_full_temp"): (
        "452 4.2.2 <{rcpt}>: Mailbox is full, try again later",
        "452 4.2.2 Over quota: {local} has exceeded the mailbox quota",
    ),
    (GENERIC, "domain_not_found"): (
        "Host or domain name not found. Name service error for name={domain} type=MX: Host not found",
        "550 5.1.2 <{rcpt}>: unrouteable address: DNS lookup of {domain} gave NXDOMAIN",
    ),
    (GENERIC, "greylisted"): (
        "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{domain}.html",
        "451 4.7.1 Please try again later (greylisted, first delivery attempt from this host)",
    ),
    (GENERIC, "rate_limited"): (
        "421 4.7.0 mx.{domain} Error: too many connections from {ip}",
        "450 4.7.1 Rate limit exceeded for sender, slow down and try again later",
    ),
    (GENERIC, "blocklisted"): (
        "554 5.7.1 Service unavailable; Client host [{ip}] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip={ip}",
        "550 5.7.1 Rejected: {ip} listed at bl.spamcop.net",
    ),
    (GENERIC, "spam_content"): (
        "550 5.7.1 Message rejected as spam by content filter (score 9.4 > 6.0)",
        "550 5.7.1 Your message was rejected because it appears to be spam (SpamAssassin score 8.7)",
    ),
    (GENERIC, "message_too_large"): (
        "552 5.3.4 Message size exceeds fixed limit",
        "552 5.2.3 Message size exceeds maximum permitted size of 10485760 bytes",
    ),
}
# The reasons an address's own mailbox causes (its fate) versus what the sender causes.
ADDRESS_REASONS = frozenset(
    {"user_unknown", "mailbox_disabled", "domain_not_found", "mailbox_full"}
)
BLOCKS: dict[str, tuple[str, ...]] = {
    GMAIL: ("spam_content", "auth_policy", "message_too_large"),
    YAHOO: ("policy_rejected", "auth_policy"),
    MICROSOFT: ("blocklisted", "auth_policy", "spam_content"),
    GENERIC: ("blocklisted", "spam_content", "message_too_large"),
}
# Temporary trouble that a retry gets past: (reason, how many deferrals at most).
DEFERRALS: dict[str, tuple[tuple[str, int], ...]] = {
    GMAIL: (("rate_limited", 2), ("reputation", 4)),
    YAHOO: (("rate_limited", 2), ("reputation", 4)),
    MICROSOFT: (("server_error", 2), ("reputation", 3)),
    GENERIC: (("greylisted", 1), ("rate_limited", 2)),
}
DELIVERED: dict[str, tuple[str, ...]] = {
    GMAIL: ("250 2.0.0 OK  {epoch}" + _G,),
    YAHOO: ("250 ok dirdel",),
    MICROSOFT: (
        "250 2.6.0 <{mid}> [InternalId={n12}, Hostname={host}.prod.outlook.com] {size} bytes in 0.{n3}, {kbs} KB/sec Queued mail for delivery -> 250 2.1.5",
    ),
    GENERIC: ("250 2.0.0 Ok: queued as {qid}", "250 OK id={exim}"),
}
# Client-side failures: the app could not hand the message to its relay at all.
OUTAGE_TEXTS = (
    "connect ECONNREFUSED 10.0.4.25:587",
    "Greeting never received",
    "Connection timeout",
)
LOGIN_TEXTS = ("Invalid login: 535-5.7.8 Username and Password not accepted.",)


def family_of(domain: str) -> str:
    """Which receiver answers for a domain: the big three by name, a plain MTA otherwise."""
    return FAMILY_OF_DOMAIN.get(domain, GENERIC)


# --- time ------------------------------------------------------------------------------------

# Relative sending volume per UTC hour (Europe's and America's working days) and weekday.
HOURLY = (2, 1.5, 1, 1, 1.2, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 11, 10, 9, 8, 7, 6, 4, 3)
WEEKDAY = (1.0, 1.1, 1.05, 1.0, 0.9, 0.5, 0.45)
NEWSLETTER_DAY, NEWSLETTER_HOUR, NEWSLETTER_MINUTES = 1, 9, 40  # Tuesdays 09:00-09:40 UTC
NEWSLETTER_BOOST = 25.0


@dataclass(frozen=True)
class Incident:
    """A stretch of time in which every send fails on our side; the audit log shows the SMTP
    settings change at `end` that fixed it (and, for the password, the one at `start`)."""

    start: datetime
    end: datetime
    texts: tuple[str, ...]


def incidents(now: datetime, days: int) -> tuple[Incident, Incident]:
    """A relay outage one night, and a wrong SMTP password yesterday afternoon (fixed 35 min
    later), so "who changed settings yesterday?" has an answer in the demo."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    outage = (
        today - timedelta(days=max(days * 3 // 7, 2)) + timedelta(hours=2, minutes=11, seconds=38)
    )
    login = today - timedelta(days=1) + timedelta(hours=14, minutes=3, seconds=17)
    return (
        Incident(outage, outage + timedelta(minutes=26, seconds=9), OUTAGE_TEXTS),
        Incident(login, login + timedelta(minutes=34, seconds=52), LOGIN_TEXTS),
    )


class Clock:
    """Message start times that follow the daily and weekly curve, in increasing order.

    Stratified sampling of the curve's cumulative weight per minute: fast, deterministic,
    never uniform, and sorted without sorting."""

    def __init__(self, start: datetime, now: datetime) -> None:
        self.start = start
        minutes = max(int((now - start).total_seconds() // 60), 1)
        self.weights = [self._weight(start + timedelta(minutes=m)) for m in range(minutes)]
        self.cumulative = list(accumulate(self.weights))

    @staticmethod
    def _weight(t: datetime) -> float:
        w = HOURLY[t.hour] * WEEKDAY[t.weekday()]
        return w * NEWSLETTER_BOOST if is_newsletter_time(t) else w

    def at(self, fraction: float) -> datetime:
        """The time below which `fraction` of the day-curve's volume lies."""
        total = self.cumulative[-1]
        target = min(fraction, 0.999999) * total
        minute = min(bisect_right(self.cumulative, target), len(self.cumulative) - 1)
        before = self.cumulative[minute - 1] if minute else 0.0
        within = (target - before) / self.weights[minute]
        return self.start + timedelta(minutes=minute + min(max(within, 0.0), 0.999))


def is_newsletter_time(t: datetime) -> bool:
    return (
        t.weekday() == NEWSLETTER_DAY
        and t.hour == NEWSLETTER_HOUR
        and t.minute < NEWSLETTER_MINUTES
    )


def retry_delays(rng: random.Random, limit: timedelta = timedelta(hours=72)) -> Iterator[float]:
    """Seconds after the first attempt of each retry: the wait doubles from 10-20 minutes,
    and the queue gives up after 72 h (SES, SendGrid and Postfix all retry about that long)."""
    delay, elapsed = rng.uniform(600, 1200), 0.0
    while True:
        elapsed += delay * rng.uniform(0.85, 1.15)
        if elapsed > limit.total_seconds():
            return
        yield elapsed
        delay = min(delay * 2, 24 * 3600)


# --- addresses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fate:
    """What an address's mailbox does to every message, whoever sends it.

    `reason` is an ADDRESS_REASONS member or None (a working mailbox); a full mailbox is
    full only from `full_from` to `full_until` (fractions of the demo's time span)."""

    reason: str | None
    full_from: float = 0.0
    full_until: float = 0.0


def fate_of(address: str) -> Fate:
    """The address's fate from a hash of the address: the same in every file and seed."""
    domain = address.rsplit("@", 1)[1]
    if domain in TYPO_DOMAINS:
        return Fate("domain_not_found")
    h = zlib.crc32(address.encode()) / 2**32
    if h < 0.012:
        return Fate("user_unknown")
    if h < 0.016:
        # Microsoft answers a closed account as an unknown one.
        return Fate("user_unknown" if family_of(domain) == MICROSOFT else "mailbox_disabled")
    if h < 0.046:
        begin = (h - 0.016) / 0.03 * 0.8
        return Fate("mailbox_full", begin, begin + 0.1 + (h * 1e4 % 1) * 0.2)
    return Fate(None)


def recipient_pool(rng: random.Random, size: int) -> tuple[list[str], list[float]]:
    """Addresses and cumulative weights: a few people get many messages, most get one or two."""
    names = [d for d, _ in DOMAINS]
    domain_weights = [w for _, w in DOMAINS]
    pool = []
    for _ in range(size):
        name = rng.choice(FIRST)
        domain = rng.choices(names, domain_weights)[0]
        suffix = rng.choice(("", str(rng.randint(1, 999)), f".{rng.choice(FIRST)}"))
        pool.append(f"{name}{suffix}@{domain}")
    return pool, list(accumulate(1 / (i + 1) ** 0.6 for i in range(size)))


# --- one message -----------------------------------------------------------------------------


class _Message:
    """Builds one message's events in order, never closer than a second, never after now."""

    def __init__(self, rng: random.Random, now: datetime, base: dict[str, Any]) -> None:
        self.rng, self.now, self.base = rng, now, base
        self.words = PROVIDER_WORDS[base["provider"]]
        self.events: list[tuple[datetime, dict[str, Any]]] = []
        self.id = f"{rng.getrandbits(64):016x}"  # providers' event ids look random
        self.last: datetime | None = None
        self.open = True  # false once an event would be in the future

    def add(self, when: datetime, status: str, diag: str | None = None) -> bool:
        """Record an event (in the provider's words); False once time runs past now."""
        if self.last is not None and when < self.last + timedelta(seconds=1):
            when = self.last + timedelta(seconds=1, milliseconds=self.rng.randint(1, 999))
        if not self.open or when > self.now or status not in self.words:
            self.open = self.open and when <= self.now
            return self.open
        self.last = when
        self.events.append(
            (
                when,
                {
                    "event_id": f"{self.id}-{len(self.events)}",
                    **self.base,
                    "timestamp": format_dt(when),
                    "status": status,
                    "raw_status": self.words[status],
                    "diagnostic": diag,
                },
            )
        )
        return True


# Random trace details of replies: a Google id, a Microsoft front end, Postfix/Exim queue ids.
TRACE_IDS: dict[str, Callable[[random.Random], object]] = {
    "gid": lambda r: f"{r.getrandbits(48):012x}si{r.randint(10**6, 10**7 - 1)}.{r.randint(1, 999)}",
    "host": lambda r: f"{r.choice(('AM', 'DB', 'BN', 'CY'))}{r.randint(1, 9)}PEPF{r.getrandbits(32):08X}",
    "n4": lambda r: r.randint(1000, 9999),
    "dc": lambda r: r.choice(("gq1", "bf2", "ne1")),
    "n12": lambda r: r.randint(10**11, 10**12),
    "n3": lambda r: r.randint(100, 999),
    "size": lambda r: r.randint(9000, 90000),
    "kbs": lambda r: f"{r.uniform(20, 900):.3f}",
    "qid": lambda r: f"4{r.choice('WXYZ')}{r.getrandbits(40):010X}",
    "exim": lambda r: f"1t{r.getrandbits(20):05X}-00{r.getrandbits(16):04X}-{r.randint(10, 99)}",
}  # fmt: skip


class _Details(dict[str, object]):
    """The placeholders of one reply: known values, trace ids drawn when first asked for."""

    def __init__(self, known: dict[str, str], rng: random.Random) -> None:
        super().__init__(known)
        self.rng = rng

    def __missing__(self, key: str) -> object:
        value = self[key] = TRACE_IDS[key](self.rng)
        return value


# Every reply text with the status it comes with, for benchmarks and tests.
def _example(text: str) -> str:
    """A reply template filled with fixed example details."""
    known = {"rcpt": "bob@example.org", "local": "bob", "domain": "example.org"}
    known |= {"ip": SENDING_IP, "mid": "1.7.0@mail.acme.example", "epoch": "1793491200"}
    return text.format_map(_Details(known, random.Random(0)))


BOUNCES: tuple[tuple[str, str], ...] = tuple(
    ("deferred" if reason.endswith("_temp") or text[:1] == "4" else "bounced", _example(text))
    for (_, reason), texts in REPLIES.items()
    for text in texts
) + (
    ("dropped", SUPPRESSION_TEXTS["sendgrid"]),
    *(("failed", t) for t in OUTAGE_TEXTS + LOGIN_TEXTS),
)


class _Generator:
    """The lifecycles of a run: shared state is the suppression lists the providers keep."""

    def __init__(self, seed: int, now: datetime, days: int, providers: tuple[str, ...]) -> None:
        self.rng = random.Random(seed)
        self.seed, self.now = seed, now
        self.start = now - timedelta(days=days)
        self.span = (now - self.start).total_seconds()
        self.providers = [p for p, _ in PROVIDERS if p in providers] or list(providers)
        self.provider_weights = [dict(PROVIDERS).get(p, 10) for p in self.providers]
        self.incidents = incidents(now, days)
        self.suppressed: set[tuple[str, str]] = set()

    def fill(self, text: str, rcpt: str, mid: str, when: datetime | None = None) -> str:
        """A reply template with this message's details; the trace ids in it are random,
        like the real ones, and drawn only when the template has them (generation speed)."""
        if "{" not in text:
            return text
        local, domain = rcpt.rsplit("@", 1)
        known = {"rcpt": rcpt, "local": local, "domain": domain, "ip": SENDING_IP, "mid": mid}
        known["epoch"] = str(int((when or self.now).timestamp()))
        return text.format_map(_Details(known, self.rng))

    def reply(self, family: str, reason: str, rcpt: str, mid: str) -> str:
        return self.fill(self.rng.choice(REPLIES[(family, reason)]), rcpt, mid)

    def messages(self, count: int) -> Iterator[list[tuple[datetime, dict[str, Any]]]]:
        rng = self.rng
        clock = Clock(self.start, self.now)
        pool, weights = recipient_pool(rng, max(40, count // 3))
        for n in range(count):
            t = clock.at((n + rng.random()) / count)
            rcpt = rng.choices(pool, cum_weights=weights)[0]
            stream = (
                NEWSLETTER
                if is_newsletter_time(t) or rng.random() < 0.05
                else rng.choices(STREAMS, STREAM_WEIGHTS)[0]
            )
            sender, subjects, p_open, p_click = stream
            name = rcpt.split("@")[0].rstrip("0123456789").split(".")[0]
            mid = f"{t:%Y%m%d%H%M%S}.{self.seed}.{n}@mail.acme.example"
            base = {
                "message_id": mid,
                "provider": rng.choices(self.providers, self.provider_weights)[0],
                "sender": sender,
                "recipient": rcpt,
                "subject": rng.choice(subjects).format(
                    n=rng.randint(1000, 99999), name=name.title()
                ),
            }
            msg = _Message(rng, self.now, base)
            self.lifecycle(msg, t, stream is NEWSLETTER, p_open, p_click)
            yield msg.events

    def lifecycle(
        self, msg: _Message, t: datetime, newsletter: bool, p_open: float, p_click: float
    ) -> None:
        rng, rcpt = self.rng, msg.base["recipient"]
        for incident in self.incidents:
            if incident.start <= t < incident.end:
                msg.add(t, "failed", rng.choice(incident.texts))
                return
        msg.add(t, "queued" if "queued" in msg.words else "sent")
        attempt = t + timedelta(seconds=rng.uniform(2.5, 9.0))
        domain = rcpt.rsplit("@", 1)[1]
        family, fate = family_of(domain), fate_of(rcpt)
        mid = msg.base["message_id"]
        if fate.reason in ("user_unknown", "mailbox_disabled", "domain_not_found"):
            self.hard_bounce(msg, attempt, family, fate.reason)
            return
        if fate.reason == "mailbox_full" and self.is_full(fate, attempt):
            self.deferrals(msg, attempt, family, fate)
            return
        roll = rng.random()
        if roll < (0.02 if newsletter else 0.004):
            reason = rng.choice(BLOCKS[family])
            msg.add(attempt, "bounced", self.reply(family, reason, rcpt, mid))
            return
        if roll < 0.06:
            reason, most = rng.choice(DEFERRALS[family])
            retries = retry_delays(rng)
            for _ in range(rng.randint(1, most)):
                if not msg.add(attempt, "deferred", self.reply(family, reason, rcpt, mid)):
                    return
                attempt = t + timedelta(seconds=next(retries))
        if msg.add(
            attempt, "delivered", self.fill(rng.choice(DELIVERED[family]), rcpt, mid, attempt)
        ):
            self.engagement(msg, attempt, newsletter, p_open, p_click)

    def hard_bounce(self, msg: _Message, attempt: datetime, family: str, reason: str) -> None:
        """The first try bounces; a provider that keeps a suppression list drops the rest."""
        rcpt, provider = msg.base["recipient"], msg.base["provider"]
        if (rcpt, provider) in self.suppressed and provider in SUPPRESSION_TEXTS:
            text = SUPPRESSION_TEXTS[provider].format(rcpt=rcpt)
            msg.add(attempt - timedelta(seconds=1), "dropped", text)
            return
        family = GENERIC if reason == "domain_not_found" else family
        if family != GENERIC and (family, reason) not in REPLIES:
            reason = "user_unknown"
        if msg.add(attempt, "bounced", self.reply(family, reason, rcpt, msg.base["message_id"])):
            self.suppressed.add((rcpt, provider))

    def is_full(self, fate: Fate, when: datetime) -> bool:
        at = (when - self.start).total_seconds() / self.span
        return fate.full_from <= at < fate.full_until

    def deferrals(self, msg: _Message, attempt: datetime, family: str, fate: Fate) -> None:
        """A full mailbox: deferred with growing delays until it recovers or the queue gives up."""
        rng, rcpt, mid = self.rng, msg.base["recipient"], msg.base["message_id"]
        first = attempt
        for delay in retry_delays(rng):
            if not msg.add(attempt, "deferred", self.reply(family, "mailbox_full_temp", rcpt, mid)):
                return
            attempt = first + timedelta(seconds=delay)
            if not self.is_full(fate, attempt):
                text = self.fill(rng.choice(DELIVERED[family]), rcpt, mid, attempt)
                msg.add(attempt, "delivered", text)
                return
        msg.add(attempt, "bounced", self.reply(family, "mailbox_full", rcpt, mid))

    def engagement(
        self, msg: _Message, delivered: datetime, newsletter: bool, p_open: float, p_click: float
    ) -> None:
        """Opens after minutes to days (log-normal), clicks seconds to minutes after an open;
        complaints and unsubscribes only for the newsletter."""
        rng = self.rng
        if newsletter and rng.random() < 0.004:
            msg.add(delivered + timedelta(minutes=rng.uniform(5, 2000)), "complained")
            return
        if rng.random() >= p_open:
            return
        when = delivered + timedelta(
            seconds=min(max(rng.lognormvariate(math.log(2400), 1.4), 20), 4 * 86400)
        )
        for _ in range(1 + (rng.random() < 0.2)):
            if not msg.add(when, "opened"):
                return
            if rng.random() < p_click:
                when += timedelta(seconds=rng.uniform(4, 600))
                if not msg.add(when, "clicked"):
                    return
            when += timedelta(hours=rng.uniform(1, 30))
        if newsletter and rng.random() < 0.03:
            msg.add(when + timedelta(seconds=rng.uniform(5, 120)), "unsubscribed")


def iter_events(
    messages: int,
    seed: int = 7,
    now: datetime | None = None,
    days: int = 21,
    providers: tuple[str, ...] = ALL_PROVIDERS,
) -> Iterator[dict[str, Any]]:
    """Our own format's rows, in time order, deterministic per seed and `now`.

    A message's later events wait in a heap until every message that starts earlier has
    been generated (start times only grow), so the stream is sorted without holding it."""
    now = now or datetime.now(UTC)
    gen = _Generator(seed, now, days, providers)
    pending: list[tuple[datetime, int, dict[str, Any]]] = []
    order = 0
    for events in gen.messages(messages):
        if events:
            while pending and pending[0][0] <= events[0][0]:
                yield heapq.heappop(pending)[2]
        for when, row in events:
            heapq.heappush(pending, (when, order, row))
            order += 1
    while pending:
        yield heapq.heappop(pending)[2]


# --- provider files --------------------------------------------------------------------------

SENDGRID_WORDS = {
    "queued": "processed",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounced": "bounce",
    "dropped": "dropped",
    "opened": "open",
    "clicked": "click",
    "complained": "spamreport",
    "unsubscribed": "unsubscribe",
}


def sendgrid_batch(messages: int, seed: int, now: datetime) -> list[dict[str, Any]]:
    """A SendGrid Event Webhook batch (integer-second timestamps, SendGrid's own keys)."""
    out = []
    attempts: dict[str, int] = {}
    rng = random.Random(seed)
    for row in iter_events(messages, seed=seed, now=now, providers=("sendgrid",)):
        status = row["status"]
        if status not in SENDGRID_WORDS:
            continue
        ts = int(datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp())
        local = row["message_id"].split("@")[0].replace(".", "")
        e: dict[str, Any] = {
            "email": row["recipient"],
            "timestamp": ts,
            "event": SENDGRID_WORDS[status],
            "sg_event_id": row["event_id"],
            "sg_message_id": f"{local}.filter0417p1las1-1234-5F4C-1.0",
            "category": ["demo"],
        }
        if status not in ("opened", "clicked", "complained", "unsubscribed"):
            e["smtp-id"] = f"<{row['message_id']}>"
        if status == "delivered":
            e["response"] = row["diagnostic"]
            e["tls"] = 1
        if status == "deferred":
            attempts[row["message_id"]] = attempts.get(row["message_id"], 0) + 1
            e["response"] = row["diagnostic"]
            e["attempt"] = str(attempts[row["message_id"]])
        if status in ("bounced", "dropped"):
            e["reason"] = row["diagnostic"]
        if status == "bounced":
            e["type"] = "blocked" if " 5.7." in (row["diagnostic"] or "") else "bounce"
        if status in ("opened", "clicked"):
            e["ip"] = f"203.0.113.{rng.randint(1, 254)}"
            e["useragent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)"
        if status == "clicked":
            e["url"] = "https://acme.example/account?utm_source=email"
        out.append(e)
    return out


# Audit entries: (action, target type, metadata); every action is in the documented
# catalogue (maillog_cli.audit.queries.ACTIONS; tests/test_demo.py checks it).
ROUTINE_AUDIT: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("login", "session", {"method": "password"}, 30),
    ("login", "session", {"method": "sso"}, 12),
    ("login.failed", "session", {"reason": "wrong password"}, 4),
    ("api_key.create", "api_key", {"name": "ci-deploy", "scopes": ["send"]}, 1),
    ("api_key.update", "api_key", {"name": "ci-deploy", "scopes": ["send", "read"]}, 1),
    ("api_key.revoke", "api_key", {"name": "old-laptop"}, 1),
    (
        "webhook.update",
        "webhook",
        {"url": "https://hooks.acme.example/mail", "events": ["bounce", "spamreport"]},
        2,
    ),
    ("suppression.remove", "suppression", {"email": "bob@example.org"}, 2),
    ("suppression.remove", "suppression", {"email": "hana@gmx.de"}, 1),
    ("suppression.add", "suppression", {"email": "mallory@example.com"}, 2),
    ("project.update", "project", {"name": "Acme transactional", "track_opens": True}, 2),
    ("bounce_token.rotate", "bounce_token", {}, 1),
    ("workspace.member_add", "member", {"email": "new.hire@acme.example", "role": "developer"}, 1),
    ("workspace.member_role", "member", {"email": "carol@acme.example", "role": "admin"}, 1),
)
ACTORS = (
    ("usr_01", "alice@acme.example"),
    ("usr_02", "bob@acme.example"),
    ("usr_03", "carol@acme.example"),
    ("svc_ci", None),
)


def _target_id(rng: random.Random, target: str, meta: dict[str, Any]) -> str:
    """One id per thing (the project, the key named ci-deploy …); a new one per session."""
    if target == "session":
        return f"ses_{rng.getrandbits(40):010x}"
    name = str(meta.get("name") or meta.get("email") or meta.get("url") or "")
    if target == "project":
        name = ""
    return f"{target[:3]}_{zlib.crc32(f'{target}:{name}'.encode()) % 9000 + 1000}"


def audit_page(entries: int, seed: int, now: datetime, days: int = 21) -> dict[str, Any]:
    """An audit API page, newest first: routine work in office hours, the newsletter sends,
    and the two incidents' settings changes (the password change that broke sending, its fix)."""
    rng = random.Random(seed)
    start = now - timedelta(days=days)
    clock = Clock(start, now)
    outage, login = incidents(now, days)
    story: list[tuple[datetime, str, str, dict[str, Any], int]] = [
        (login.start, "smtp.update", "smtp_settings",
         {"field": "password", "password": "hunter2"}, 1),
        (login.end, "smtp.update", "smtp_settings",
         {"field": "password", "password": "correct horse battery staple"}, 0),
        (outage.end, "smtp.update", "smtp_settings",
         {"field": "host", "from": "10.0.4.25", "to": "smtp.acme.example"}, 0),
    ]  # fmt: skip
    day = start.replace(hour=NEWSLETTER_HOUR, minute=0, second=0, microsecond=0)
    while day < now:
        if day.weekday() == NEWSLETTER_DAY and day > start:
            story.append((day - timedelta(seconds=rng.uniform(5, 50)), "broadcast.send",
                          "broadcast", {"name": f"Weekly digest {day:%Y-%m-%d}",
                                        "recipients": rng.randint(900, 1400)}, 2))  # fmt: skip
        day += timedelta(days=1)
    routine = max(entries - len(story), 0)
    routine_weights = [w for *_, w in ROUTINE_AUDIT]
    for i in range(routine):
        when = clock.at((i + rng.random()) / max(routine, 1))
        action, target, meta, _ = rng.choices(ROUTINE_AUDIT, routine_weights)[0]
        actor = 3 if action.startswith("api_key") and rng.random() < 0.5 else rng.randrange(3)
        story.append((when, action, target, meta, actor))
    story = sorted((s for s in story if s[0] <= now), key=lambda s: s[0])
    story = story[-entries:] if entries else []
    rows = []
    for i, (when, action, target, meta, actor) in enumerate(story):
        actor_id, actor_email = ACTORS[actor]
        rows.append(
            {
                "id": f"01HAUD{i:04d}",
                "created_at": format_dt(when),
                "actor_id": actor_id,
                "actor_email": actor_email,
                "action": action,
                "target_type": target,
                "target_id": _target_id(rng, target, meta),
                "metadata": meta,
                "ip": f"203.0.113.{rng.randint(1, 254)}",
                "user_agent": None if actor == 3 else "Mozilla/5.0 (X11; Linux x86_64)",
            }
        )
    rows.reverse()
    return {"entries": rows, "next_cursor": None}


def sent_mbox(queued: list[dict[str, Any]]) -> bytes:
    """An mbox of sent mail for some demo messages, so `show` and `resend` have content.

    The Date is the first whole second after the provider accepted the message, so the
    `sent` event it becomes sits between `queued` and the delivery attempt (>= 2 s later)."""
    chunks = []
    for row in queued:
        msg = EmailMessage()
        msg["From"] = f"Acme <{row['sender']}>"
        msg["To"] = row["recipient"]
        msg["Subject"] = row["subject"]
        accepted = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        when = accepted.replace(microsecond=0) + timedelta(seconds=1)
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<{row['message_id']}>"
        msg["Authentication-Results"] = (
            "mx.acme.example; spf=pass smtp.mailfrom=acme.example; dkim=pass header.d=acme.example; dmarc=pass header.from=acme.example"
        )
        msg.set_content(f"Hello,\n\nthis is the demo message {row['subject']}.\n\n-- \nAcme\n")
        body = msg.as_bytes().replace(b"\nFrom ", b"\n>From ")
        chunks.append(
            b"From "
            + row["sender"].encode()
            + b" "
            + when.strftime("%a %b %d %H:%M:%S %Y").encode()
            + b"\n"
            + body
            + b"\n"
        )
    return b"".join(chunks)


DEMO_FILES = ("events.jsonl", "sendgrid-webhook.json", "audit-log.json", "sent-mail.mbox")
MBOX_MESSAGES = 40


def write_demo(
    out: Path,
    messages: int = 2500,
    seed: int = 7,
    now: datetime | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the demo files; returns their paths (to hand to `maillog import`).

    Files already there are never overwritten unless `force`: refused before anything
    is written."""
    _refuse_overwrite(out, force)
    now = now or datetime.now(UTC)
    out.mkdir(parents=True, exist_ok=True)
    events, sg, audit, mbox = (out / name for name in DEMO_FILES)
    queued: list[dict[str, Any]] = []
    with events.open("wb") as f:
        for row in iter_events(messages, seed=seed, now=now):
            f.write(orjson.dumps(row) + b"\n")
            if row["status"] == "queued":
                queued.append(row)
    sg.write_bytes(
        orjson.dumps(
            sendgrid_batch(max(messages // 10, 10), seed + 1, now), option=orjson.OPT_INDENT_2
        )
    )
    audit.write_bytes(orjson.dumps(audit_page(120, seed, now), option=orjson.OPT_INDENT_2))
    step = max(len(queued) // MBOX_MESSAGES, 1)
    mbox.write_bytes(sent_mbox(queued[::step][:MBOX_MESSAGES]))
    return [events, sg, audit, mbox]


def _refuse_overwrite(out: Path, force: bool) -> None:
    from maillog_cli.errors import MaillogError
    from maillog_cli.paths import write_target

    if out.is_symlink() and not out.exists():
        write_target(out)  # says which link and where it points
    if out.exists() and not out.is_dir():
        raise MaillogError(f"--out {out} is a file, not a folder; nothing written")
    there = [n for n in DEMO_FILES if (out / n).exists() or (out / n).is_symlink()]
    for name in there:  # a link, a folder or a pipe among them: --force never goes through it
        if (out / name).is_symlink():
            raise MaillogError(
                f"{out / name} is a symbolic link; nothing written",
                "demo files are written in place, never through a link: remove it or choose"
                " another --out folder",
            )
        write_target(out / name)
    if there and not force:
        raise MaillogError(
            f"{out} already holds {', '.join(there)}; nothing written",
            "choose another --out folder, or add --force to overwrite them",
        )

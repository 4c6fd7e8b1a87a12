"""What `maillog resend` would send: the selection, each message's envelope and refusal,
and the bytes (the stored original behind one RFC 5322 §3.6.6 resent block).

Decided before anything is sent; nothing here talks to a server or prints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from maillog_cli.bounce.suppress import suppression_reason
from maillog_cli.errors import MaillogError
from maillog_cli.normalize import domain_of
from maillog_cli.resend.settings import ADDRESS, one_address
from maillog_cli.store.db import Store
from maillog_cli.store.query import Filters, resolve_prefix, where

SHOWN_HEADERS = ("from", "to", "cc", "subject", "date", "message-id")


# --- selection and refusal ------------------------------------------------------------------


@dataclass
class Selection:
    ids: list[str]
    without_content: int = 0  # filter matches left out because nothing is stored to send


def no_content_error(message_id: str) -> MaillogError:
    return MaillogError(
        f"no stored content for {message_id}: import the original (.eml, mbox) first"
    )


def select(store: Store, idents: Sequence[str], filters: Filters | None) -> Selection:
    """The messages to resend, each once: the named ones, then those the filters match.

    Filters apply to each message's latest status (like `search --messages`), so
    `--status deferred` never picks a message that was delivered since.
    """
    ids: list[str] = []
    for ident in idents:
        mid = store.resolve_message_id(ident) or resolve_prefix(store.conn, ident)
        if mid is None:
            raise MaillogError(
                f"no message {ident!r} in {store.path}",
                "check the id with: maillog search --message-id ID",
            )
        if not _has_content(store, mid):
            raise no_content_error(mid)
        ids.append(mid)
    without = 0
    if filters is not None and not filters.is_empty():
        clause, params = where(filters, "e")
        cur = store.conn.execute(
            "SELECT m.message_id, EXISTS (SELECT 1 FROM message_content c WHERE c.message_id = m.message_id)"
            f" FROM messages m JOIN events e ON e.seq = m.last_seq WHERE {clause}"
            " ORDER BY m.first_seen, m.message_id",
            params,
        )
        for mid, has in cur:
            if has:
                ids.append(mid)
            else:
                without += 1
    return Selection(list(dict.fromkeys(ids)), without)


def _has_content(store: Store, message_id: str) -> bool:
    row = store.conn.execute(
        "SELECT 1 FROM message_content WHERE message_id = ?", (message_id,)
    ).fetchone()
    return row is not None


def refusal_reason(store: Store, address_: str) -> str | None:
    """Why `address_` must not be mailed (None: fine): the suppression list's one rule."""
    return suppression_reason(store, address_)


# --- the plan -------------------------------------------------------------------------------


@dataclass
class Plan:
    """One message to resend, as decided before anything is sent."""

    original_id: str
    raw: bytes
    subject: str | None
    envelope_from: str | None
    recipients: tuple[str, ...]
    refusal: str | None = None  # suppressed recipient: not sent unless --force
    problem: str | None = None  # cannot be sent at all (no recipient, bad address)
    forced: str | None = None  # a refusal that --force overrode

    @property
    def ready(self) -> bool:
        return self.refusal is None and self.problem is None


def make_plans(
    store: Store,
    ids: Sequence[str],
    to: Sequence[str] = (),
    sender: str | None = None,
    force: bool = False,
) -> list[Plan]:
    """Content, envelope and refusal for each selected message."""
    override = tuple(dict.fromkeys(a for t in to if (a := one_address(t) or t.strip())))
    plans: list[Plan] = []
    for mid in ids:
        row = store.conn.execute(
            "SELECT m.sender, m.recipient, m.subject, c.raw FROM message_content c"
            " LEFT JOIN messages m ON m.message_id = c.message_id WHERE c.message_id = ?",
            (mid,),
        ).fetchone()
        if row is None:
            raise no_content_error(mid)
        original_sender, recipient, subject, raw = row
        everyone = () if override else _recipients(store, mid)
        recipients = override or ((recipient,) if recipient else ())
        plan = Plan(mid, bytes(raw), subject, sender or original_sender, recipients)
        bad = [a for a in (plan.envelope_from, *recipients) if a and not ADDRESS.fullmatch(a)]
        if len(everyone) > 1:
            plan.problem = (
                f"it went to {len(everyone)} recipients ({', '.join(everyone[:5])}"
                f"{', …' if len(everyone) > 5 else ''}); choose with --to ADDRESS (repeatable)"
            )
        elif not recipients:
            plan.problem = "no recipient known: give --to ADDRESS"
        elif not plan.envelope_from:
            plan.problem = "no sender known: set [smtp] from, $MAILLOG_SMTP_FROM or --smtp-from"
        elif bad:
            plan.problem = f"not a usable address: {bad[0]}"
        else:
            reasons = [f"{a}: {r}" for a in recipients if (r := refusal_reason(store, a))]
            if reasons:
                if force:
                    plan.forced = "; ".join(reasons)
                else:
                    plan.refusal = "; ".join(reasons)
        plans.append(plan)
    return plans


def _recipients(store: Store, mid: str) -> tuple[str, ...]:
    """Every recipient the message's events name. An email to several people is one
    message whose row keeps one of them: resending to that one alone, chosen for the
    user, would be a surprise (a copy again for someone who had it, none for the rest)."""
    rows = store.conn.execute(
        "SELECT DISTINCT recipient FROM events WHERE message_id = ? AND recipient IS NOT NULL"
        " ORDER BY recipient",
        (mid,),
    )
    return tuple(r[0] for r in rows)


# --- the message ----------------------------------------------------------------------------


@dataclass
class Outgoing:
    """The bytes to send: a resent block, then the original unchanged."""

    message_id: str  # the new message's id (the Resent-Message-ID without <>)
    resent_headers: list[tuple[str, str]]
    data: bytes


def build_message(plan: Plan, now: datetime | None = None) -> Outgoing:
    """Prepend RFC 5322 §3.6.6 Resent-* fields to the stored original, in its line endings."""
    from email.utils import format_datetime, make_msgid

    raw = _without_mbox_line(plan.raw)
    first_eol = raw.find(b"\n")
    eol = b"\r\n" if first_eol > 0 and raw[first_eol - 1 : first_eol] == b"\r" else b"\n"
    resent_from = plan.envelope_from or ""
    msgid = make_msgid(domain=domain_of(resent_from) or "maillog.invalid")
    headers = [
        ("Resent-Date", format_datetime(now or datetime.now(UTC))),
        ("Resent-From", resent_from),
        ("Resent-To", ", ".join(plan.recipients)),
        ("Resent-Message-ID", msgid),
    ]
    block = b"".join(f"{name}: {value}".encode() + eol for name, value in headers)
    return Outgoing(msgid.strip("<>"), headers, block + raw)


def _without_mbox_line(raw: bytes) -> bytes:
    """An mbox `From ` separator line is not part of the message."""
    if raw.startswith(b"From "):
        end = raw.find(b"\n")
        return raw[end + 1 :] if end >= 0 else b""
    return raw


def original_headers(raw: bytes) -> tuple[list[tuple[str, str]], int, int]:
    """(the headers a person checks, how many other header fields, body size) of an email."""
    from email.parser import HeaderParser
    from email.policy import compat32

    raw = _without_mbox_line(raw)
    cut = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: cut.start()] if cut else raw
    # Shown, not parsed for meaning: undecodable bytes become U+FFFD, never surrogates.
    msg = HeaderParser(policy=compat32).parsestr(head.decode("utf-8", "replace"))
    items = msg.items()
    shown = [(k, " ".join(str(v).split())) for k, v in items if k.lower() in SHOWN_HEADERS]
    body = len(raw) - cut.end() if cut else 0
    return shown, len(items) - len(shown), body

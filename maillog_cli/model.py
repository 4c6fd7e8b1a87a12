"""The canonical records every importer produces and every command reads.

`EVENT_KEYS` is the output contract (README, "Output contract"): json/jsonl/csv rows have exactly
these keys, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_KEYS: tuple[str, ...] = (
    "event_id",
    "message_id",
    "timestamp",
    "provider",
    "direction",
    "status",
    "raw_status",
    "sender",
    "recipient",
    "subject",
    "smtp_code",
    "enhanced_code",
    "diagnostic",
    "bounce_class",
    "bounce_reason",
)

# One row per message (`search --messages` in json/jsonl/csv): the event keys of its latest
# lifecycle event, exactly as above, then what is known about the message as a whole.
MESSAGE_FACT_KEYS: tuple[str, ...] = (
    "first_seen",
    "type",
    "tags",
    "size",
    "send_method",
    "open_count",
    "first_opened_at",
    "last_opened_at",
    "click_count",
    "first_clicked_at",
    "last_clicked_at",
    "complained_at",
    "unsubscribed_at",
    "spf",
    "dkim",
    "dmarc",
    "aliases",
    "has_content",
    "resent_from",
    "event_count",
)
MESSAGE_KEYS: tuple[str, ...] = EVENT_KEYS + MESSAGE_FACT_KEYS

AUDIT_KEYS: tuple[str, ...] = (
    "id",
    "created_at",
    "actor_id",
    "actor_email",
    "action",
    "target_type",
    "target_id",
    "metadata",
    "ip",
    "user_agent",
)


@dataclass(slots=True)
class Event:
    """One lifecycle event of one message, already normalised.

    Importers fill what their source carries; the pipeline derives the rest
    (event id hash, bounce class, recipient domain).
    """

    timestamp: str  # "YYYY-MM-DDTHH:MM:SS.mmmZ", see dates.to_iso
    status: str  # canonical, see statuses.STATUSES
    raw_status: str | None = None
    provider: str | None = None
    event_id: str | None = None
    message_id: str | None = None
    direction: str = "outbound"
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    smtp_code: int | None = None
    enhanced_code: str | None = None
    diagnostic: str | None = None
    bounce_class: str | None = None
    bounce_reason: str | None = None
    # The provider's own bounce label ("ses:Permanent/NoEmail"); see bounces.py.
    bounce_hint: str | None = None
    # Message-level facts some sources carry (MESSAGE_FACT_KEYS); `tag` is the first of
    # `tags`, kept for the events.tag column older stores and scripts read.
    tag: str | None = None
    tags: tuple[str, ...] = ()
    type: str | None = None  # the kind of email: transactional, broadcast, a template …
    size: int | None = None
    send_method: str | None = None  # smtp, api (how it was handed to the provider)
    aliases: tuple[str, ...] = ()
    # Everything else worth keeping (ip, user agent, url, custom args) as JSON.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StoredMessage:
    """A raw email (from .eml / mbox / Maildir) with what resend and show need."""

    message_id: str
    timestamp: str
    sender: str | None
    recipients: tuple[str, ...]
    subject: str | None
    size: int
    raw: bytes
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    send_method: str | None = None  # from the Received trail: smtp, api


@dataclass(slots=True)
class AuditEntry:
    """One administrative action from an audit-log export."""

    id: str | None
    created_at: str
    action: str
    actor_id: str | None = None
    actor_email: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    raw_action: str | None = None


@dataclass(slots=True)
class Restored:
    """A row of our full export form (messages, message_aliases, message_content, mta_queue)
    that is not an event: written as it was, so that export → import → export gives the same bytes."""

    table: str
    values: dict[str, Any]


@dataclass(slots=True)
class Skip:
    """A valid record that describes no delivery event (a ping, a resubscribe …)."""

    why: str

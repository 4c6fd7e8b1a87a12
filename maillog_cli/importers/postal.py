"""Postal (self-hosted) webhooks (docs/providers.md#postal).

One object per POST: `{"event", "timestamp", "payload": {…}, "uuid"}`. The event time
is the top-level `timestamp`; `payload.message.timestamp` is when the message was
created. `MessageBounced` describes the original message in `original_message`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import (
    Context,
    Parsed,
    as_dict,
    finish,
    map_status,
    other_ids,
)
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import (
    address,
    diagnostic,
    message_id,
    reply_fields,
    tag_list,
    text_or_none,
)

NAME = "postal"
PROVIDER = "postal"
SIGNATURE = "`event`, `payload` (object) and `uuid`"
SHAPES = "webhook body (one object), JSONL of bodies, JSON array of bodies"

# `event` → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "MessageSent": "delivered",
    "MessageDelayed": "deferred",
    "MessageDeliveryFailed": "bounced",
    "MessageHeld": "queued",  # held for review; a later release produces MessageSent
    "MessageBounced": "bounced",  # a DSN arrived after acceptance
    "MessageLoaded": "opened",
    "MessageLinkClicked": "clicked",
    "DomainDNSError": None,
    "SendLimitApproaching": None,
    "SendLimitExceeded": None,
}


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"event"})


def detect(obj: dict[str, Any]) -> bool:
    return "event" in obj and isinstance(obj.get("payload"), dict) and "uuid" in obj


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    word = obj.get("event")
    status = map_status(STATUS_MAP, word)
    if status is None:
        return [Skip(f"postal {word}")]
    payload = as_dict(obj.get("payload"), "payload")
    if "original_message" in payload:
        msg = as_dict(payload.get("original_message"), "payload.original_message")
    else:
        msg = as_dict(payload.get("message"), "payload.message")
    if msg.get("direction") == "incoming":
        return [Skip("postal incoming message (HTTP endpoint failure)")]

    output = diagnostic(payload.get("output"))
    details = diagnostic(payload.get("details"))
    smtp, enhanced, diag = reply_fields(status, output or details)

    extra: dict[str, Any] = {}
    for key, value in (
        ("postal_status", payload.get("status")),
        ("details", details if output else None),
        ("ip", payload.get("ip_address")),
        ("user_agent", payload.get("user_agent")),
        ("url", payload.get("url")),
        ("sent_with_ssl", payload.get("sent_with_ssl")),
        ("time", payload.get("time")),
        ("spam_status", msg.get("spam_status")),
        ("postal_id", msg.get("id")),
        ("postal_token", msg.get("token")),
    ):
        if isinstance(value, bool | int | float):
            extra[key] = value
        elif text_or_none(value) is not None:
            extra[key] = text_or_none(value)
    bounce = payload.get("bounce")
    if isinstance(bounce, dict):
        bounce_id = message_id(bounce.get("message_id"))
        if bounce_id:
            extra["bounce_message_id"] = bounce_id
        bounce_subject = text_or_none(bounce.get("subject"))
        if bounce_subject:
            extra["bounce_subject"] = bounce_subject

    when = obj.get("timestamp")
    if when is None or when == "":
        when = payload.get("timestamp")  # the attempt time; same second in practice
    if when is None or when == "":
        raise RecordError("missing 'timestamp'")

    return [
        finish(
            Event(
                timestamp=ctx.time(when),
                status=status,
                raw_status=word,
                provider=PROVIDER,
                event_id=text_or_none(obj.get("uuid")),
                message_id=(mid := message_id(msg.get("message_id"))),
                sender=address(msg.get("from")),
                recipient=address(msg.get("to")),
                subject=text_or_none(msg.get("subject")),
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                tag=text_or_none(msg.get("tag")),
                tags=tag_list(msg.get("tag")),
                # the token is Postal's random handle for the message (its X-Postal-MsgID
                # header); the numeric id is a per-server counter and names nothing globally
                aliases=other_ids(mid, text_or_none(msg.get("token"))),
                extra=extra,
            )
        )
    ]

"""SendGrid Event Webhook (docs/providers.md#sendgrid).

The POST body is a JSON array of flat event objects (the pipeline walks it and hands us
each one). The event time is `timestamp` (integer seconds); the message id is
`sg_message_id` cut at the first `.filter` / `.recvd-` so every event of one message
threads, with `smtp-id` (the RFC Message-ID) as the fallback and an alias.

The Email Activity API's messages (`{"messages": [{"msg_id", "to_email", "status", …}]}`)
are SendGrid's too and read here (importers/sendgrid_activity.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import (
    Context,
    Parsed,
    custom_ids,
    finish,
    map_status,
    other_ids,
    require,
)
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, text_or_none
from maillog_cli.statuses import BOUNCE_STATUSES, ENGAGEMENT

NAME = "sendgrid"
PROVIDER = "sendgrid"
SIGNATURE = (
    "`event` and any of `sg_event_id`, `sg_message_id`, `smtp-id`; "
    "`msg_id`, `to_email` and `status` or `events` (Email Activity API message)"
)
SHAPES = (
    "Event Webhook POST body (JSON array), JSONL of bodies or of single events, "
    "Email Activity API page (`messages`) and message details (`events`)"
)

# `event` → canonical status; None = skip. SendGrid's `processed` means "accepted into
# SendGrid's queue", which is canonical `queued` (canonical `processed` is inbound).
STATUS_MAP: dict[str, str | None] = {
    "processed": "queued",
    "deferred": "deferred",
    "delivered": "delivered",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "group_resubscribe": None,
    "account_status_change": None,
}

# Where sg_message_id stops being the send API's id (docs/providers.md#sendgrid).
_CUT_MARKERS = (".filter", ".recvd-")
_CUT_AT = re.compile("|".join(re.escape(m) for m in _CUT_MARKERS))  # the first of either
# Documented keys that are not custom arguments, and where the known extras go.
_EXTRA_KEYS: dict[str, str] = {
    "ip": "ip",
    "useragent": "user_agent",
    "url": "url",
    "url_offset": "url_offset",
    "attempt": "attempt",
    "tls": "tls",
    "pool": "pool",
    "asm_group_id": "asm_group_id",
    "sg_machine_open": "machine_open",
    "type": "bounce_type",
    "bounce_classification": "bounce_classification",
    "sg_template_id": "template_id",
    "sg_template_name": "template_name",
    "sg_content_type": "content_type",
    "marketing_campaign_id": "marketing_campaign_id",
    "marketing_campaign_name": "marketing_campaign_name",
    "marketing_campaign_version": "marketing_campaign_version",
    "marketing_campaign_split_id": "marketing_campaign_split_id",
    "singlesend_id": "singlesend_id",
    "singlesend_name": "singlesend_name",
    "cert_err": "cert_err",
}
_KNOWN_KEYS = frozenset(
    {
        "email",
        "timestamp",
        "event",
        "smtp-id",
        "sg_event_id",
        "sg_message_id",
        "category",
        "response",
        "reason",
        "status",
        "send_at",
        *_EXTRA_KEYS,
    }
)


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"msg_id", "event"})


def detect(obj: dict[str, Any]) -> bool:
    if "event" not in obj:
        return "msg_id" in obj and _activity().detect(obj)
    if "sg_event_id" in obj or "sg_message_id" in obj or "smtp-id" in obj:
        return True
    return obj.get("event") == "account_status_change"


def cut_message_id(value: Any) -> str | None:
    """`u7Hq….filter0417p1…` / `pX3f….recvd-5b8f…` → the send API's id; else the whole value."""
    s = message_id(value)
    if s is None:
        return None
    m = _CUT_AT.search(s, 1)
    return s[: m.start()] if m else s


def tags_of(value: Any) -> list[str]:
    """`category`: a string or an array of strings."""
    if isinstance(value, list):
        return [t for v in value if (t := text_or_none(v)) is not None]
    t = text_or_none(value)
    return [t] if t is not None else []


def bounce_hint(status: str, word: Any, obj: dict[str, Any]) -> str | None:
    """SendGrid's own verdict on a failure (a drop's reason, a bounce's classification),
    kept for the classifier; None for other events."""
    if status not in BOUNCE_STATUSES:
        return None
    reason = text_or_none(obj.get("reason"))
    if word == "dropped" and reason:
        return f"sendgrid-drop:{reason.strip()}"
    classification = text_or_none(obj.get("bounce_classification"))
    return f"sendgrid-class:{classification.strip()}" if classification else None


def extra_data(
    obj: dict[str, Any],
    status: str,
    tags: list[str],
    keys: Iterable[str],
    unknown: Collection[str],
) -> dict[str, Any]:
    """An event's extra data: its tags, SendGrid's own fields (`keys`, those of
    _EXTRA_KEYS the record has, in its order), an engagement event's words, and the
    custom args (`unknown`: the keys SendGrid does not define)."""
    extra: dict[str, Any] = {}
    if tags:
        extra["tags"] = tags
    for key in keys:
        value = obj[key]
        if value is not None and value != "":
            extra[_EXTRA_KEYS[key]] = value
    if status in ENGAGEMENT:
        # Engagement events carry no reply: keep SendGrid's words as data, not diagnostic.
        for key in ("reason", "response"):
            if text_or_none(obj.get(key)):
                extra[key] = obj[key]
    if unknown:
        extra["custom_args"] = {k: obj[k] for k in obj if k in unknown}
    return extra


def _activity() -> Any:
    """importers/sendgrid_activity.py (imported on first use: it builds on this module)."""
    from maillog_cli.importers import sendgrid_activity

    return sendgrid_activity


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    if "event" not in obj and "msg_id" in obj:
        return _activity().parse(obj, ctx)
    word = obj.get("event")
    status = map_status(STATUS_MAP, word)
    if status is None:
        return [Skip(f"sendgrid {word}")]

    timestamp = ctx.time(require(obj, "timestamp"))
    smtp_id = message_id(obj.get("smtp-id"))
    long_id = message_id(obj.get("sg_message_id"))
    msg_id = cut_message_id(long_id) or smtp_id
    # custom args are merged into the event (django-anymail's `anymail_id`)
    aliases = other_ids(msg_id, smtp_id, long_id, *custom_ids(obj, obj.get("unique_args")))

    text = text_or_none(obj.get("response")) or text_or_none(obj.get("reason"))
    smtp, enhanced, diag = reply_fields(status, text, None, obj.get("status"))

    hint = bounce_hint(status, word, obj)

    tags = tags_of(obj.get("category"))
    extra = extra_data(
        obj,
        status,
        tags,
        [k for k in obj if k in _EXTRA_KEYS],  # record order: the same text every run
        obj.keys() - _KNOWN_KEYS,
    )

    event_id = obj.get("sg_event_id")
    if event_id is not None and not isinstance(event_id, str | int):
        raise RecordError(f"'sg_event_id' is not a string: {event_id!r}")
    return [
        finish(
            Event(
                timestamp=timestamp,
                status=status,
                raw_status=word,
                provider=PROVIDER,
                event_id=text_or_none(event_id),
                message_id=msg_id,
                recipient=address(obj.get("email")),
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                bounce_hint=hint,
                tag=tags[0] if tags else None,
                tags=tuple(tags),
                type="marketing" if obj.get("marketing_campaign_id") not in (None, "") else None,
                aliases=aliases,
                extra=extra,
            )
        )
    ]

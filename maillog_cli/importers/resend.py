"""Resend webhooks (docs/providers.md#resend).

One object per POST: `{"type": "email.…", "created_at": ISO, "data": {…}}`. The event
time is the top-level `created_at` (`data.created_at` is when the email was created);
the message id is Resend's `data.email_id`. There is no event id in the body (it is only
in the `svix-id` header), so ids are hashed.

Emails API: `GET /emails/{id}` answers `{"object": "email", "id", "to": […], "from",
"subject", "created_at", "last_event", …}` and `GET /emails` a list page
`{"object": "list", "data": [ …the same without "object"… ]}`. Each email becomes one
event per recipient (`to`, `cc`, `bcc`) with its `last_event`, at `created_at`: the API
gives no time of the last event, so this is when the email was created.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import (
    Context,
    Parsed,
    as_dict,
    custom_ids,
    finish,
    map_status,
    other_ids,
)
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, tag_list, text_or_none

NAME = "resend"
PROVIDER = "resend"
SIGNATURE = (
    "`type` (`email.*`, `contact.*`, `domain.*`), `created_at` and a `data` object; "
    "an email object (`object` = `email`, or `id`, `created_at` and `last_event`)"
)
SHAPES = "webhook body, JSONL of bodies, emails API objects and list pages (`object` = `list`)"

# `type` (bounces refined as `email.bounced:<subType>`) → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "email.scheduled": "queued",
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.delivery_delayed": "deferred",
    "email.bounced": "bounced",
    "email.bounced:Suppressed": "dropped",
    "email.bounced:OnAccountSuppressionList": "dropped",
    "email.failed": "failed",
    "email.suppressed": "dropped",
    "email.complained": "complained",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "email.received": "processed",
    # emails API `last_event` words that no webhook type has
    "email.queued": "queued",
    "email.canceled": None,
}
# Contact and domain notifications describe no email.
SKIP_PREFIXES: tuple[str, ...] = ("contact.", "domain.")
_PREFIXES: tuple[str, ...] = ("email.", *SKIP_PREFIXES)
INBOUND_TYPES = frozenset({"email.received"})


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"type", "object", "last_event"})


def detect(obj: dict[str, Any]) -> bool:
    kind = obj.get("type")
    return (
        isinstance(kind, str)
        and kind.startswith(_PREFIXES)
        and "created_at" in obj
        and isinstance(obj.get("data"), dict)
    ) or _is_email(obj)


def _is_email(obj: dict[str, Any]) -> bool:
    """An emails API object (or an item of its list page, which has no `object`)."""
    if "id" not in obj or "created_at" not in obj:
        return False
    return obj.get("object") == "email" or ("last_event" in obj and "to" in obj)


def _sub(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return as_dict(value, f"data.{key}") if value is not None else {}


def _tags(value: Any) -> dict[str, Any]:
    """`data.tags`: an object name → value, or (older payloads) `[{name, value}]`."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict) and text_or_none(item.get("name")):
                out[str(item["name"])] = item.get("value")
        return out
    return {}


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    if _is_email(obj) and "data" not in obj:
        return list(_email(obj, ctx))
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise RecordError(f"'type' is not a string: {kind!r}")
    if kind.startswith(SKIP_PREFIXES):
        return [Skip(f"resend {kind}")]
    data = as_dict(obj.get("data"), "data")
    bounce = _sub(data, "bounce")
    key = kind
    sub_type = text_or_none(bounce.get("subType"))
    if kind == "email.bounced" and sub_type and f"{kind}:{sub_type}" in STATUS_MAP:
        key = f"{kind}:{sub_type}"
    status = map_status(STATUS_MAP, key, "type")
    if status is None:
        return [Skip(f"resend {kind}")]
    if obj.get("created_at") in (None, ""):
        raise RecordError("missing 'created_at'")
    timestamp = ctx.time(obj["created_at"])

    failed = _sub(data, "failed")
    suppressed = _sub(data, "suppressed")
    click = _sub(data, "click")
    codes = bounce.get("diagnosticCode")
    if isinstance(codes, list):
        first = next((c for c in codes if text_or_none(c)), None)
    else:
        first = codes
    text = (
        text_or_none(first)
        or text_or_none(bounce.get("message"))
        or text_or_none(failed.get("reason"))
        or text_or_none(suppressed.get("message"))
    )
    smtp, enhanced, diag = reply_fields(status, text)

    hint = None
    bounce_type = text_or_none(bounce.get("type"))
    if bounce_type:
        hint = f"resend:{bounce_type}/{sub_type}" if sub_type else f"resend:{bounce_type}"

    tags = _tags(data.get("tags"))
    extra: dict[str, Any] = {}
    if tags:
        extra["tags"] = tags
    rfc_id = message_id(data.get("message_id"))
    for name, value in (
        ("rfc_message_id", rfc_id),
        ("ip", click.get("ipAddress")),
        ("user_agent", click.get("userAgent")),
        ("url", click.get("link")),
        ("broadcast_id", data.get("broadcast_id")),
        ("template_id", data.get("template_id")),
        ("bounce_type", bounce_type),
        ("bounce_subtype", sub_type),
        ("bounce_message", bounce.get("message") if text != bounce.get("message") else None),
        ("failed_reason", failed.get("reason")),
        ("suppressed_type", suppressed.get("type")),
    ):
        if value not in (None, "", [], {}):
            extra[name] = value
    if isinstance(codes, list) and len(codes) > 1:
        extra["diagnostic_codes"] = codes
    if isinstance(data.get("to"), list) and len(data["to"]) > 1:
        extra["to"] = data["to"]

    msg_id = message_id(data.get("email_id"))
    first_tag = next(iter(tags.values()), None) if tags else None
    return [
        finish(
            Event(
                timestamp=timestamp,
                status=status,
                raw_status=kind,
                provider=PROVIDER,
                direction="inbound" if kind in INBOUND_TYPES else "outbound",
                message_id=msg_id,
                sender=address(data.get("from")),
                recipient=address(data.get("to")),
                subject=text_or_none(data.get("subject")),
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                bounce_hint=hint,
                tag=text_or_none(first_tag) if not isinstance(first_tag, dict | list) else None,
                tags=tag_list(tags),
                type="broadcast" if text_or_none(data.get("broadcast_id")) else None,
                aliases=other_ids(msg_id, rfc_id, *custom_ids(tags)),
                extra=extra,
            )
        )
    ]


def _email(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    """An emails API object: its `last_event` for each recipient, at `created_at`."""
    word = obj.get("last_event")
    if not isinstance(word, str) or not word.strip():
        raise RecordError(f"'last_event' is not a word: {word!r}")
    kind = f"email.{word.strip()}"
    status = map_status(STATUS_MAP, kind, "last_event")
    if status is None:
        return [Skip(f"resend {kind}")]
    if obj.get("created_at") in (None, ""):
        raise RecordError("missing 'created_at'")
    recipients: dict[str | None, None] = {}
    for key in ("to", "cc", "bcc"):
        values = obj.get(key)
        for value in values if isinstance(values, list) else [values]:
            if (a := address(value)) is not None:
                recipients.setdefault(a)
    tags = _tags(obj.get("tags"))
    first_tag = next(iter(tags.values()), None) if tags else None
    msg_id = message_id(obj.get("id"))
    extra: dict[str, Any] = {"tags": tags} if tags else {}
    if text_or_none(obj.get("scheduled_at")):
        extra["scheduled_at"] = obj["scheduled_at"]
    return [
        finish(
            Event(
                timestamp=ctx.time(obj["created_at"]),
                status=status,
                raw_status=kind,
                provider=PROVIDER,
                message_id=msg_id,
                sender=address(obj.get("from")),
                recipient=recipient,
                subject=text_or_none(obj.get("subject")),
                tag=text_or_none(first_tag) if not isinstance(first_tag, dict | list) else None,
                tags=tag_list(tags),
                aliases=other_ids(msg_id, *custom_ids(tags)),
                extra=dict(extra),
            )
        )
        for recipient in (recipients or {None: None})
    ]

"""Postmark webhooks and Bounces API pages (docs/providers.md#postmark).

Webhook: one object per POST with `RecordType`. Bounces API (`GET /bounces`):
`{"TotalCount": n, "Bounces": [ … ]}` whose objects are Bounce records without
`RecordType`. Each record type has its own time field (`DeliveredAt`, `BouncedAt`,
`ReceivedAt`, `ChangedAt`), ISO with an offset and often seven fraction digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import (
    Context,
    Parsed,
    as_dict,
    custom_ids,
    finish,
    header_message_ids,
    map_status,
    other_ids,
)
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, tag_list, text_or_none

NAME = "postmark"
PROVIDER = "postmark"
SIGNATURE = "`RecordType` (webhook); `Bounces` array with `TotalCount` (Bounces API page)"
SHAPES = "webhook body, JSONL of bodies, Bounces API page"

# `RecordType`, `Bounce:<Type>` and `SubscriptionChange:<SuppressionReason>` (the latter
# only when SuppressSending is true) → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "Delivery": "delivered",
    "Open": "opened",
    "Click": "clicked",
    "SpamComplaint": "complained",
    "Bounce:HardBounce": "bounced",
    "Bounce:SoftBounce": "bounced",
    "Bounce:Blocked": "bounced",
    "Bounce:DMARCPolicy": "bounced",
    "Bounce:VirusNotification": "bounced",
    "Bounce:SpamNotification": "bounced",
    "Bounce:BadEmailAddress": "bounced",
    "Bounce:Unknown": "bounced",
    "Bounce:Transient": "deferred",
    "Bounce:DnsError": "deferred",
    "Bounce:ManuallyDeactivated": "dropped",
    "Bounce:Unconfirmed": "dropped",
    "Bounce:Unsubscribe": "unsubscribed",
    "Bounce:SpamComplaint": "complained",
    "Bounce:SMTPApiError": "failed",
    "Bounce:TemplateRenderingFailed": "failed",
    "Bounce:AutoResponder": None,
    "Bounce:AddressChange": None,
    "Bounce:ChallengeVerification": None,
    "Bounce:OpenRelayTest": None,
    "Bounce:Subscribe": None,
    "Bounce:InboundError": None,
    "SubscriptionChange:ManualSuppression": "unsubscribed",
    "SubscriptionChange": None,
}
# Bounce `TypeCode` → `Type`, for records that carry only the code.
TYPE_CODES: dict[int, str] = {
    1: "HardBounce",
    2: "Transient",
    16: "Unsubscribe",
    32: "Subscribe",
    64: "AutoResponder",
    128: "AddressChange",
    256: "DnsError",
    512: "SpamNotification",
    1024: "OpenRelayTest",
    2048: "Unknown",
    4096: "SoftBounce",
    8192: "VirusNotification",
    16384: "ChallengeVerification",
    100000: "BadEmailAddress",
    100001: "SpamComplaint",
    100002: "ManuallyDeactivated",
    100003: "Unconfirmed",
    100006: "Blocked",
    100007: "SMTPApiError",
    100008: "InboundError",
    100009: "DMARCPolicy",
    100010: "TemplateRenderingFailed",
}
# The event time of each record type.
TIME_FIELD: dict[str, str] = {
    "Delivery": "DeliveredAt",
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
}
_EXTRA_KEYS: dict[str, str] = {
    "MessageStream": "message_stream",
    "Metadata": "metadata",
    "UserAgent": "user_agent",
    "OriginalLink": "url",
    "Client": "client",
    "OS": "os",
    "Platform": "platform",
    "TypeCode": "type_code",
    "Inactive": "inactive",
    "CanActivate": "can_activate",
    "DumpAvailable": "dump_available",
    "ServerID": "server_id",
    "FirstOpen": "first_open",
    "ClickLocation": "click_location",
    "ReadSeconds": "read_seconds",
    "Origin": "origin",
    "SuppressSending": "suppress_sending",
    "SuppressionReason": "suppression_reason",
    "Description": "description",
}


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"RecordType", "Bounces"})


def detect(obj: dict[str, Any]) -> bool:
    if "RecordType" in obj:
        return True
    return isinstance(obj.get("Bounces"), list) and "TotalCount" in obj


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    if "RecordType" in obj:
        return [_record(obj, obj.get("RecordType"), ctx)]
    return list(_page(obj, ctx))


def _page(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed | RecordError]:
    bounces = obj.get("Bounces")
    if not isinstance(bounces, list):
        raise RecordError("Bounces is not an array")
    if not bounces:
        yield Skip("postmark empty Bounces API page")
        return
    for i, item in enumerate(bounces):
        # One bad item is reported on its own; the rest of the page still imports.
        try:
            yield _record(as_dict(item, "the item"), "Bounce", ctx)
        except RecordError as exc:
            yield RecordError(f"Bounces[{i}]: {exc}")


def _bounce_type(rec: dict[str, Any]) -> str:
    kind = text_or_none(rec.get("Type"))
    if kind is not None:
        return kind.strip()
    code = rec.get("TypeCode")
    if isinstance(code, int) and code in TYPE_CODES:
        return TYPE_CODES[code]
    raise RecordError("missing 'Type'")


def _suppress_sending(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _record(rec: dict[str, Any], record_type: Any, ctx: Context) -> Parsed:
    if not isinstance(record_type, str):
        raise RecordError(f"'RecordType' is not a string: {record_type!r}")
    bounce_type = None
    if record_type == "Bounce":
        bounce_type = _bounce_type(rec)
        key = raw_status = f"Bounce:{bounce_type}"
    elif record_type == "SubscriptionChange":
        raw_status = record_type
        reason = text_or_none(rec.get("SuppressionReason"))
        key = (
            f"SubscriptionChange:{reason}"
            if _suppress_sending(rec.get("SuppressSending")) and reason
            else record_type
        )
        if key not in STATUS_MAP:
            key = record_type
    else:
        key = raw_status = record_type
    status = map_status(STATUS_MAP, key, "RecordType" if bounce_type is None else "bounce Type")
    if status is None:
        return Skip(f"postmark {key}")

    time_field = TIME_FIELD[record_type]
    when = rec.get(time_field)
    if when in (None, ""):
        raise RecordError(f"missing {time_field!r}")

    smtp, enhanced, diag = reply_fields(status, text_or_none(rec.get("Details")))
    extra: dict[str, Any] = {}
    for src, name in _EXTRA_KEYS.items():
        value = rec.get(src)
        if value not in (None, "", {}, []):
            extra[name] = value
    geo = rec.get("Geo")
    if isinstance(geo, dict):
        if text_or_none(geo.get("IP")):
            extra["ip"] = geo["IP"]
        location = {k: v for k, v in geo.items() if k != "IP" and v not in (None, "")}
        if location:
            extra["geo"] = location
    if status in ("opened", "clicked", "complained", "unsubscribed") and text_or_none(
        rec.get("Details")
    ):
        extra["details"] = rec["Details"]
    if bounce_type is not None:
        extra["bounce_type"] = bounce_type

    event_id = rec.get("ID") if record_type in ("Bounce", "SpamComplaint") else None
    recipient = rec.get("Recipient")
    if text_or_none(recipient) is None:
        recipient = rec.get("Email")
    return finish(
        Event(
            timestamp=ctx.time(when),
            status=status,
            raw_status=raw_status,
            provider=PROVIDER,
            event_id=text_or_none(event_id) if not isinstance(event_id, dict | list) else None,
            message_id=(mid := message_id(rec.get("MessageID"))),
            sender=address(rec.get("From")),
            recipient=address(recipient),
            subject=text_or_none(rec.get("Subject")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            bounce_hint=f"postmark:{bounce_type}" if bounce_type else None,
            tag=text_or_none(rec.get("Tag")),
            tags=tag_list(rec.get("Tag")),
            type=text_or_none(rec.get("MessageStream")),
            aliases=other_ids(
                mid,
                *header_message_ids(rec.get("Headers"), "Name", "Value"),
                *custom_ids(rec.get("Metadata")),
            ),
            extra=extra,
        )
    )

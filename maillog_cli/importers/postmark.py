"""Postmark webhooks and API pages (docs/providers.md#postmark).

Webhook: one object per POST with `RecordType`. API pages are `{"TotalCount": n, <list>}`:
Bounces (`GET /bounces`, Bounce records without `RecordType`), Opens and Clicks
(`GET /messages/outbound/opens|clicks`), outbound messages (`GET /messages/outbound`:
`Messages` with `Status` and `Recipients`; the details call adds `MessageEvents`) and
inbound messages (`InboundMessages`). Each record type has its own time field
(`DeliveredAt`, `BouncedAt`, `ReceivedAt`, `ChangedAt`), ISO with an offset and often
seven fraction digits. The inbound webhook has no `RecordType` but `FromFull`/`ToFull`:
one `processed` event per recipient, direction inbound.
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
SIGNATURE = (
    "`RecordType` (webhook); `FromFull` + `ToFull` + `MessageID` (inbound webhook); "
    "`TotalCount` with a `Bounces`, `Opens`, `Clicks`, `Messages` or `InboundMessages` "
    "array (API pages)"
)
SHAPES = (
    "webhook body, JSONL of bodies, inbound webhook, Bounces / Opens / Clicks API pages, "
    "outbound and inbound message search pages and message details (`MessageEvents`)"
)

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
    # inbound webhook (no RecordType; Postmark's RecordType "Inbound" where given)
    "Inbound": "processed",
    # message search / details: the message's `Status` (outbound: Queued, Sent;
    # inbound: Processed, Blocked, Queued, Scheduled, Failed — the POST to your server)
    "Message:Queued": "queued",
    "Message:Sent": "sent",
    "Message:Processed": "processed",
    "Message:Scheduled": "queued",
    "Message:Blocked": "dropped",
    "Message:Failed": "failed",
    # message details: each of `MessageEvents` by its `Type`
    "MessageEvent:Delivered": "delivered",
    "MessageEvent:Transient": "deferred",
    "MessageEvent:Bounced": "bounced",
    "MessageEvent:Opened": "opened",
    "MessageEvent:LinkClicked": "clicked",
    "MessageEvent:SubscriptionChanged": "unsubscribed",
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
DETECT_KEYS = frozenset({"RecordType", "TotalCount", "FromFull"})
# An API page's list → the RecordType of its items (None: a message search page).
PAGE_LISTS: dict[str, str | None] = {
    "Bounces": "Bounce",
    "Opens": "Open",
    "Clicks": "Click",
    "Messages": None,
    "InboundMessages": None,
}


def detect(obj: dict[str, Any]) -> bool:
    if "RecordType" in obj:
        return True
    if _is_inbound(obj):
        return True
    return "TotalCount" in obj and any(_postmark_list(obj.get(k)) for k in PAGE_LISTS)


def _postmark_list(items: Any) -> bool:
    """A page's list as Postmark fills it: empty, or objects with a `MessageID` (a
    `{"TotalCount", "Messages": […]}` of some other system's rows is not Postmark's)."""
    if not isinstance(items, list):
        return False
    first = next((i for i in items if isinstance(i, dict)), None)
    return not items or (first is not None and "MessageID" in first)


def _is_inbound(obj: dict[str, Any]) -> bool:
    return (
        isinstance(obj.get("FromFull"), dict)
        and isinstance(obj.get("ToFull"), list)
        and "MessageID" in obj
    )


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    if _is_inbound(obj) and obj.get("RecordType") in (None, "Inbound"):
        return list(_inbound(obj, ctx))
    if "RecordType" in obj:
        return [_record(obj, obj.get("RecordType"), ctx)]
    return list(_page(obj, ctx))


def _page(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed | RecordError]:
    key = next((k for k in PAGE_LISTS if _postmark_list(obj.get(k))), None)
    if key is None:
        raise RecordError("the page has no Bounces, Opens, Clicks or Messages array")
    items = obj[key]
    if not items:
        yield Skip(f"postmark empty {key} API page")
        return
    for i, item in enumerate(items):
        # One bad item is reported on its own; the rest of the page still imports.
        try:
            rec = as_dict(item, "the item")
            if PAGE_LISTS[key] is None:
                yield from _message(rec, ctx, inbound=key == "InboundMessages")
            elif _is_inbound(rec):
                yield from _inbound(rec, ctx)
            else:
                yield _record(rec, rec.get("RecordType") or PAGE_LISTS[key], ctx)
        except RecordError as exc:
            yield RecordError(f"{key}[{i}]: {exc}")


def _addresses(*lists: Any) -> list[str]:
    """The addresses of Postmark's `[{"Email", "Name"}]` lists (or plain strings), once each."""
    found: dict[str, None] = {}
    for values in lists:
        for v in values if isinstance(values, list) else []:
            a = address(v.get("Email") if isinstance(v, dict) else v)
            if a:
                found.setdefault(a)
    return list(found)


def _message(rec: dict[str, Any], ctx: Context, inbound: bool) -> Iterator[Parsed]:
    """A message search result (or message details): its `Status` for each recipient at
    `ReceivedAt`, then each of its `MessageEvents`."""
    word = text_or_none(rec.get("Status"))
    if word is None:
        raise RecordError("missing 'Status'")
    status = map_status(STATUS_MAP, f"Message:{word}", "message Status")
    when = rec.get("ReceivedAt") or rec.get("Date")
    if when in (None, ""):
        raise RecordError("missing 'ReceivedAt'")
    recipients: list[str | None] = [*_addresses(rec.get("Recipients"))] or [
        *_addresses(
            rec.get("ToFull") or rec.get("To"),
            rec.get("CcFull") or rec.get("Cc"),
            rec.get("BccFull") or rec.get("Bcc"),
        )
    ]
    fields = _message_fields(rec)
    for recipient in recipients or [None]:
        if status is None:
            continue
        yield finish(
            Event(
                timestamp=ctx.time(when),
                status=status,
                raw_status=f"Message:{word}",
                provider=PROVIDER,
                recipient=recipient,
                direction="inbound" if inbound else "outbound",
                extra=_message_extra(rec),
                **fields,
            )
        )
    events = rec.get("MessageEvents")
    for i, ev in enumerate(events if isinstance(events, list) else []):
        try:
            yield _message_event(as_dict(ev, "the event"), fields, ctx)
        except RecordError as exc:
            raise RecordError(f"MessageEvents[{i}]: {exc}") from None


def _message_fields(rec: dict[str, Any]) -> dict[str, Any]:
    """The Event fields every event of one message search result shares."""
    mid = message_id(rec.get("MessageID"))
    sender = rec.get("FromFull")
    sender = sender.get("Email") if isinstance(sender, dict) else rec.get("From")
    return {
        "message_id": mid,
        "sender": address(sender),
        "subject": text_or_none(rec.get("Subject")),
        "tag": text_or_none(rec.get("Tag")),
        "tags": tag_list(rec.get("Tag")),
        "type": text_or_none(rec.get("MessageStream")),
        "aliases": other_ids(
            mid,
            *header_message_ids(rec.get("Headers"), "Name", "Value"),
            *custom_ids(rec.get("Metadata")),
        ),
    }


def _message_extra(rec: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for src, name in (
        ("MessageStream", "message_stream"),
        ("Metadata", "metadata"),
        ("TrackOpens", "track_opens"),
        ("TrackLinks", "track_links"),
        ("Sandboxed", "sandboxed"),
        ("MailboxHash", "mailbox_hash"),
        ("OriginalRecipient", "original_recipient"),
    ):
        value = rec.get(src)
        if value not in (None, "", {}, []):
            extra[name] = value
    attachments = rec.get("Attachments")
    if isinstance(attachments, list) and attachments:
        extra["attachments"] = len(attachments)
    return extra


def _message_event(ev: dict[str, Any], fields: dict[str, Any], ctx: Context) -> Parsed:
    """One of a message's `MessageEvents` (`Recipient`, `Type`, `ReceivedAt`, `Details`)."""
    kind = text_or_none(ev.get("Type"))
    found = ev.get("Details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    key = f"MessageEvent:{kind}"
    if kind == "SubscriptionChanged" and not _suppress_sending(details.get("SuppressSending")):
        return Skip("postmark SubscriptionChanged without a suppression")
    status = map_status(STATUS_MAP, key, "MessageEvents Type")
    if status is None:
        return Skip(f"postmark {key}")
    when = ev.get("ReceivedAt")
    if when in (None, ""):
        raise RecordError("missing 'ReceivedAt'")
    text = text_or_none(details.get("DeliveryMessage")) or text_or_none(details.get("Summary"))
    smtp, enhanced, diag = reply_fields(status, text)
    extra = {
        k.lower(): v
        for k, v in details.items()
        if k in ("DestinationServer", "DestinationIP", "BounceID", "Link", "ClickLocation")
        and v not in (None, "")
    }
    return finish(
        Event(
            timestamp=ctx.time(when),
            status=status,
            raw_status=key,
            provider=PROVIDER,
            recipient=address(ev.get("Recipient")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            extra=extra,
            **fields,
        )
    )


def _inbound(rec: dict[str, Any], ctx: Context) -> Iterator[Parsed]:
    """An inbound webhook (or inbound message details): one `processed` event for each
    of its recipients (`ToFull`, `CcFull`, `BccFull`; else `OriginalRecipient`), at the
    message's `Date` (or `ReceivedAt`), direction inbound."""
    when = rec.get("ReceivedAt") or rec.get("Date")
    if when in (None, ""):
        raise RecordError("missing 'Date'")
    recipients: list[str | None] = [
        *_addresses(rec.get("ToFull"), rec.get("CcFull"), rec.get("BccFull"))
    ] or [address(rec.get("OriginalRecipient"))]
    status = map_status(STATUS_MAP, "Inbound", "RecordType")
    assert status is not None
    fields = _message_fields(rec)
    for recipient in recipients:
        yield finish(
            Event(
                timestamp=ctx.time(when),
                status=status,
                raw_status="Inbound",
                provider=PROVIDER,
                recipient=recipient,
                direction="inbound",
                extra=_message_extra(rec),
                **fields,
            )
        )


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
    elif record_type in TIME_FIELD:
        key = raw_status = record_type
    else:
        raise RecordError(f"unknown RecordType {record_type!r}")
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

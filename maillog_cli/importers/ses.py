"""Amazon SES event records (docs/providers.md#ses), in all three wrappings.

- SNS notification: `{"Type", "MessageId", "TopicArn", "Message": "<JSON string>", …}`;
  `Message` is parsed a second time.
- Raw record (Firehose → S3): `{"eventType" | "notificationType", "mail": {…}, …}`.
- EventBridge: `{"source": "aws.ses", "detail-type", "detail": <raw record>}`.

One record can describe several recipients: one event per recipient, each with its own
reply text, and `:recipient` appended to the record's single id when there are several.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

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
from maillog_cli.normalize import (
    address,
    message_id,
    reply_fields,
    send_method,
    tag_list,
    text_or_none,
)

NAME = "ses"
PROVIDER = "ses"
SIGNATURE = (
    "SNS envelope (`Type`, `Message`, `TopicArn`/`MessageId`); record with a `mail` object "
    "and `eventType`/`notificationType`; EventBridge `source` = `aws.ses`"
)
SHAPES = (
    "SNS HTTP/SQS bodies, Firehose records (one per line or back to back), EventBridge "
    "events; inside Lambda (SNS, SQS, Kinesis) events and SQS messages"
)

# `eventType` / `notificationType`, refined as `Bounce:<bounceType>:<bounceSubType>`,
# `Complaint:<complaintSubType>` and `Subscription:OptOut` → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "Send": "sent",
    "Delivery": "delivered",
    "Bounce": "bounced",
    "Bounce:Permanent:Suppressed": "dropped",
    "Bounce:Permanent:OnAccountSuppressionList": "dropped",
    "Complaint": "complained",
    "Complaint:OnAccountSuppressionList": "dropped",
    "DeliveryDelay": "deferred",
    "Reject": "dropped",
    "Rendering Failure": "failed",
    "Open": "opened",
    "Click": "clicked",
    "Subscription:OptOut": "unsubscribed",
    "Subscription": None,
    "Received": None,
    "AmazonSnsSubscriptionSucceeded": None,
}
# The object that carries each event type's own details (and its event time).
DETAIL_KEY: dict[str, str] = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "DeliveryDelay": "deliveryDelay",
    "Reject": "reject",
    "Rendering Failure": "failure",
    "Open": "open",
    "Click": "click",
    "Subscription": "subscription",
}
# Event types without an event time of their own: the send time is the event time.
SEND_TIME_TYPES = frozenset({"Send", "Reject", "Rendering Failure"})
# SNS envelope `Type`s that carry no SES event.
SNS_SKIP_TYPES = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"Type", "mail", "source"})


def detect(obj: dict[str, Any]) -> bool:
    if "Type" in obj and "Message" in obj and ("TopicArn" in obj or "MessageId" in obj):
        return True
    if _is_record(obj):
        return True
    return obj.get("source") == "aws.ses" and isinstance(obj.get("detail"), dict)


def _is_record(obj: dict[str, Any]) -> bool:
    mail = obj.get("mail")
    return (
        isinstance(mail, dict)
        and "messageId" in mail
        and ("eventType" in obj or "notificationType" in obj)
    )


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    if "Type" in obj and "Message" in obj:
        return list(_sns(obj, ctx))
    if "mail" in obj or "eventType" in obj or "notificationType" in obj:
        return list(_record(obj, ctx, envelope_id=None, fallback_time=None))
    detail = as_dict(obj.get("detail"), "detail")
    if not ("eventType" in detail or "notificationType" in detail):
        raise RecordError("EventBridge detail has no 'eventType' or 'notificationType'")
    return list(_record(detail, ctx, envelope_id=None, fallback_time=obj.get("time")))


def _loads_message(text: str) -> Any:
    """The SNS `Message` string as JSON; lone surrogate escapes become U+FFFD."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    value = json.loads(text)  # ValueError when it is not JSON at all
    # Only lone surrogates (which SQLite cannot store) get here: make them printable.
    return orjson.loads(_LONE_SURROGATE.sub("\ufffd", json.dumps(value, ensure_ascii=False)))


def _sns(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed]:
    kind = obj.get("Type")
    if not isinstance(kind, str):
        raise RecordError(f"SNS 'Type' is not a string: {kind!r}")
    if kind in SNS_SKIP_TYPES:
        yield Skip(f"ses SNS {kind}")
        return
    if kind != "Notification":
        raise RecordError(f"unknown SNS Type {kind!r}")
    message = obj.get("Message")
    if isinstance(message, str):
        try:
            message = _loads_message(message.strip())
        except (ValueError, RecursionError):
            yield Skip("ses SNS notification whose Message is not JSON")
            return
    if not isinstance(message, dict):
        yield Skip("ses SNS notification whose Message is not an event record")
        return
    if not ("eventType" in message or "notificationType" in message):
        raise RecordError("SNS Message has no 'eventType' or 'notificationType'")
    yield from _record(
        message,
        ctx,
        envelope_id=text_or_none(obj.get("MessageId")),
        fallback_time=obj.get("Timestamp"),
    )


def _word(rec: dict[str, Any]) -> str:
    word = rec.get("eventType")
    if word is None:
        word = rec.get("notificationType")
    if not isinstance(word, str):
        raise RecordError(f"'eventType' is not a string: {word!r}")
    return word


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{what} is not an array")
    return value


def _record(
    rec: dict[str, Any], ctx: Context, envelope_id: str | None, fallback_time: Any
) -> Iterator[Parsed]:
    word = _word(rec)
    if word not in DETAIL_KEY:
        # Received (inbound), subscription-succeeded notices …; raises for unknown words.
        if map_status(STATUS_MAP, word, "eventType") is not None:
            raise RecordError(f"unknown eventType {word!r}")
        yield Skip(f"ses {word}")
        return

    mail = as_dict(rec.get("mail"), "mail")
    detail_key = DETAIL_KEY[word]
    detail = rec.get(detail_key)
    detail = as_dict(detail, detail_key) if detail is not None else {}

    key, raw_status, hint = _status_key(word, detail)
    status = map_status(STATUS_MAP, key, "eventType")
    if status is None:
        yield Skip(f"ses {word} without an opt-out")
        return
    timestamp = _event_time(word, mail, detail, detail_key, fallback_time, ctx)

    # Who: one event per recipient, each with its own reply where SES gives one.
    targets = list(_targets(word, mail, detail)) or [(None, {})]
    base_id = envelope_id or text_or_none(detail.get("feedbackId"))
    message = _message_fields(mail)
    shared = _extra(word, mail, detail)
    for recipient, per in targets:
        smtp, enhanced, diag = reply_fields(
            status, text_or_none(_reply_text(word, per, detail)), None, per.get("status")
        )
        extra = dict(shared)
        for k in ("action", "status"):
            if text_or_none(per.get(k)):
                extra[f"recipient_{k}"] = per[k]
        event_id = None
        if base_id:
            event_id = f"{base_id}:{recipient}" if len(targets) > 1 else base_id
        yield finish(
            Event(
                timestamp=timestamp,
                status=status,
                raw_status=raw_status,
                provider=PROVIDER,
                event_id=event_id,
                recipient=recipient,
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                bounce_hint=hint,
                extra=extra,
                **message,
            )
        )


def _status_key(word: str, detail: dict[str, Any]) -> tuple[str, str, str | None]:
    """(STATUS_MAP key, raw status, provider label for the classifier) of one record.

    The label is SES's own verdict: bounce type/subtype, complaint subtype, delay type,
    and a Reject's reason ("Bad content": SES found a virus).
    """
    key = raw_status = word
    hint = None
    if word == "Bounce":
        btype = text_or_none(detail.get("bounceType"))
        bsub = text_or_none(detail.get("bounceSubType"))
        raw_status = ":".join(p for p in (word, btype, bsub) if p)
        key = f"Bounce:{btype}:{bsub}" if f"Bounce:{btype}:{bsub}" in STATUS_MAP else word
        if btype:
            hint = f"ses:{btype}/{bsub}" if bsub else f"ses:{btype}"
    elif word == "Complaint":
        sub = text_or_none(detail.get("complaintSubType"))
        if sub:
            hint = f"ses-complaint:{sub}"
            if f"Complaint:{sub}" in STATUS_MAP:
                key = f"Complaint:{sub}"
    elif word == "DeliveryDelay":
        delay = text_or_none(detail.get("delayType"))
        if delay:
            hint = f"ses-delay:{delay}"
    elif word == "Reject":
        reason = text_or_none(detail.get("reason"))
        if reason:
            hint = f"ses-reject:{reason}"
    elif word == "Subscription":
        if _opted_out(detail):
            key = "Subscription:OptOut"
    return key, raw_status, hint


def _event_time(
    word: str,
    mail: dict[str, Any],
    detail: dict[str, Any],
    detail_key: str,
    fallback_time: Any,
    ctx: Context,
) -> str:
    """The event object's own time, else (Send, Reject, Rendering Failure) the send
    time, else the envelope's publish time."""
    when = detail.get("timestamp")
    if when in (None, "") and word in SEND_TIME_TYPES:
        when = mail.get("timestamp")
    if when in (None, ""):
        when = fallback_time
    if when in (None, ""):
        raise RecordError(f"missing {detail_key}.timestamp")
    return ctx.time(when)


def _message_fields(mail: dict[str, Any]) -> dict[str, Any]:
    """The Event fields every recipient's event of one record shares (from `mail`)."""
    msg_id = message_id(mail.get("messageId"))
    common = mail.get("commonHeaders")
    common = as_dict(common, "mail.commonHeaders") if common is not None else {}
    header_id = message_id(common.get("messageId"))
    tags = mail.get("tags")
    return {
        "message_id": msg_id,
        "sender": address(mail.get("source")),
        "subject": text_or_none(common.get("subject")),
        "tag": _user_tag(tags),
        "tags": tuple(t for t in tag_list(tags) if not t.startswith("ses:")),
        "send_method": _send_method(tags),
        "aliases": other_ids(
            msg_id, header_id, *header_message_ids(mail.get("headers")), *custom_ids(tags)
        ),
    }


def _reply_text(word: str, per: dict[str, Any], detail: dict[str, Any]) -> Any:
    """The reply / reason text of one recipient's event, by event type."""
    return {
        "Bounce": per.get("diagnosticCode"),
        "DeliveryDelay": per.get("diagnosticCode"),
        "Delivery": detail.get("smtpResponse"),
        "Reject": detail.get("reason"),
        "Rendering Failure": detail.get("errorMessage"),
    }.get(word)


def _opted_out(detail: dict[str, Any]) -> bool:
    prefs = detail.get("newTopicPreferences")
    if not isinstance(prefs, dict):
        return False
    if prefs.get("unsubscribeAll") is True:
        return True
    statuses = prefs.get("topicSubscriptionStatus")
    if not isinstance(statuses, list):
        return False
    return any(isinstance(s, dict) and s.get("subscriptionStatus") == "OptOut" for s in statuses)


def _targets(
    word: str, mail: dict[str, Any], detail: dict[str, Any]
) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(recipient, that recipient's details) for each event the record expands to."""
    listed = {
        "Bounce": ("bouncedRecipients", True),
        "Complaint": ("complainedRecipients", True),
        "DeliveryDelay": ("delayedRecipients", True),
        "Delivery": ("recipients", False),
    }.get(word)
    if listed is None:
        key, objects, values = "mail.destination", False, mail.get("destination")
    else:
        key, objects = listed
        values = detail.get(key)
        key = f"{DETAIL_KEY[word]}.{key}"
    seen: set[str | None] = set()
    for i, item in enumerate(_list(values, key)):
        if objects:
            per = as_dict(item, f"{key}[{i}]")
            recipient = address(per.get("emailAddress"))
        else:
            if isinstance(item, dict | list):
                raise RecordError(f"{key}[{i}] is not an address")
            per, recipient = {}, address(item)
        if recipient in seen:
            continue
        seen.add(recipient)
        yield recipient, per


def _user_tag(tags: Any) -> str | None:
    """The first value of the first tag that is not one of SES's own `ses:*` tags."""
    if not isinstance(tags, dict):
        return None
    for name, values in tags.items():
        if str(name).startswith("ses:"):
            continue
        if isinstance(values, list):
            for v in values:
                if (t := text_or_none(v)) is not None:
                    return t
        elif (t := text_or_none(values)) is not None:
            return t
    return None


def _send_method(tags: Any) -> str | None:
    """SES's own `ses:operation` tag: SendSmtpEmail is the SMTP interface, the rest the API."""
    if not isinstance(tags, dict):
        return None
    ops = tags.get("ses:operation")
    op = ops[0] if isinstance(ops, list) and ops else ops
    return send_method("SendSmtpEmail" if op == "SendSmtpEmail" else "api" if op else None)


def _verdicts(detail: dict[str, Any]) -> dict[str, str]:
    """spf/dkim/dmarc from an inbound receipt's `spfVerdict`… (`{"status": "PASS"}`)."""
    receipt = detail.get("receipt")
    found: dict[str, str] = {}
    if isinstance(receipt, dict):
        for method in ("spf", "dkim", "dmarc"):
            verdict = receipt.get(f"{method}Verdict")
            status = text_or_none(verdict.get("status")) if isinstance(verdict, dict) else None
            if status:
                found[method] = status.strip().lower()
    return found


def _extra(word: str, mail: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = _verdicts(detail)
    tags = mail.get("tags")
    if isinstance(tags, dict) and tags:
        extra["tags"] = tags
    for src, name in (
        ("ipAddress", "ip"),
        ("userAgent", "user_agent"),
        ("link", "url"),
        ("linkTags", "link_tags"),
        ("remoteMtaIp", "remote_mta_ip"),
        ("reportingMTA", "reporting_mta"),
        ("processingTimeMillis", "processing_time_ms"),
        ("feedbackId", "feedback_id"),
        ("bounceType", "bounce_type"),
        ("bounceSubType", "bounce_subtype"),
        ("complaintFeedbackType", "complaint_feedback_type"),
        ("complaintSubType", "complaint_subtype"),
        ("arrivalDate", "arrival_date"),
        ("delayType", "delay_type"),
        ("expirationTime", "expiration_time"),
        ("templateName", "template_name"),
        ("contactList", "contact_list"),
        ("source", "subscription_source"),
    ):
        value = detail.get(src)
        if value not in (None, "", [], {}):
            extra[name] = value
    if word == "Reject" and text_or_none(detail.get("reason")):
        extra["reject_reason"] = detail["reason"]
    if word in ("Open", "Click", "Complaint", "Subscription") and text_or_none(
        detail.get("smtpResponse")
    ):
        extra["smtp_response"] = detail["smtpResponse"]
    if text_or_none(mail.get("sourceArn")):
        extra["source_arn"] = mail["sourceArn"]
    if word == "Subscription":
        for key in ("newTopicPreferences", "oldTopicPreferences"):
            if isinstance(detail.get(key), dict):
                extra[key] = detail[key]
    return extra

"""Mailgun webhooks, Events API and Logs API pages (docs/providers.md#mailgun).

Webhook: `{"signature": {…}, "event-data": {…}}`; every field lives in `event-data`.
Events API page: `{"items": [event-data, …], "paging": {…}}`. Logs API page:
`{"items": […], "pagination": {…}, "start", "end", "aggregates"}` whose items carry
`@timestamp` (ISO) instead of the float `timestamp`. A bare event-data object (an API item
saved on its own, a webhook body's `event-data` logged alone) is read the same way.

Legacy webhooks (before 2018, still sent to old routes) POST flat form fields, which
dumps keep as a JSON object: `event`, `recipient`, `Message-Id`, `timestamp`, `token`,
`signature` (a string), `message-headers` (a JSON string of `[name, value]` pairs), and
for failures `code`, `error` / `description`, `reason`, `notification`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from email.utils import getaddresses
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
    require,
)
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import (
    address,
    message_id,
    reply_fields,
    send_method,
    text_or_none,
)
from maillog_cli.statuses import BOUNCE_STATUSES

NAME = "mailgun"
PROVIDER = "mailgun"
SIGNATURE = (
    "`signature` and `event-data` objects (webhook); `items` with `paging`/`pagination` "
    "(API page); a bare event-data object (`event`, `timestamp`, and `log-level`, "
    "`recipient-domain`, `delivery-status` or `message.headers`); legacy form fields "
    "(`event`, `timestamp`, `token`, `signature` as a string)"
)
SHAPES = (
    "webhook body, JSONL of bodies, bare event-data objects, Events API page, Logs API page, "
    "legacy (form-encoded) webhook fields stored as JSON"
)

# `event` (refined for `failed` as `failed:<severity>` and `failed:<severity>:<reason>`,
# most specific first) → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "accepted": "queued",
    "delivered": "delivered",
    "failed": "bounced",
    "failed:permanent": "bounced",
    "failed:temporary": "deferred",
    "failed:permanent:suppress-bounce": "dropped",
    "failed:permanent:suppress-complaint": "dropped",
    "failed:permanent:suppress-unsubscribe": "dropped",
    # legacy webhooks: `bounced` (the receiver refused), `dropped` refined by `reason`
    # (`hardfail`: an address that bounced before, never tried; `maxfails`: retries used
    # up; `old`: too old to deliver)
    "bounced": "bounced",
    "dropped": "dropped",
    "dropped:hardfail": "dropped",
    "dropped:maxfails": "bounced",
    "dropped:old": "bounced",
    "rejected": "dropped",
    "opened": "opened",
    "clicked": "clicked",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
    "stored": None,
    "email_validation": None,
    "trapped": None,
    "list_member_uploaded": None,
    "list_member_upload_error": None,
    "list_uploaded": None,
}
# Mailing-list events of any name describe no delivery.
SKIP_PREFIXES: tuple[str, ...] = ("list_",)


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"signature", "items", "event-data", "log-level", "token", "event"})
# Keys only a Mailgun event-data object carries (beside `event` and a time).
_EVENT_DATA_KEYS = ("log-level", "recipient-domain", "delivery-status", "user-variables")


def detect(obj: dict[str, Any]) -> bool:
    if isinstance(obj.get("signature"), dict) and isinstance(obj.get("event-data"), dict):
        return True
    if isinstance(obj.get("items"), list) and ("paging" in obj or "pagination" in obj):
        return True
    return _is_event_data(obj) or _is_legacy(obj)


def _is_event_data(obj: dict[str, Any]) -> bool:
    if not isinstance(obj.get("event"), str) or not ("timestamp" in obj or "@timestamp" in obj):
        return False
    message = obj.get("message")
    return any(k in obj for k in _EVENT_DATA_KEYS) or (
        isinstance(message, dict) and isinstance(message.get("headers"), dict)
    )


def _is_legacy(obj: dict[str, Any]) -> bool:
    form = _flat(obj)
    return (
        isinstance(form.get("event"), str)
        and isinstance(form.get("signature"), str)
        and "token" in form
        and "timestamp" in form
    )


def _flat(form: dict[str, Any]) -> dict[str, Any]:
    """Form fields as one value each: a parsed form saved with every value in a list
    (`{"event": ["bounced"]}`, as multi-value form parsers keep them) is the same form."""
    if not any(isinstance(v, list) for v in form.values()):
        return form
    return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in form.items()}


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    if "event-data" in obj:
        return [_event(as_dict(obj.get("event-data"), "event-data"), ctx)]
    if "items" in obj and not _is_event_data(obj):
        return list(_page(obj, ctx))
    if _is_legacy(obj) and not _is_event_data(obj):
        return [_event(_from_legacy(_flat(obj)), ctx)]
    return [_event(obj, ctx)]


def _from_legacy(form: dict[str, Any]) -> dict[str, Any]:
    """A legacy webhook's flat fields in the shape of an event-data object, so one reading
    serves both (the same email is one message whichever webhook reported it)."""
    headers = _legacy_headers(form.get("message-headers"))
    mid = form.get("Message-Id") or form.get("message-id") or headers.get("message-id")
    headers["message-id"] = mid
    code, text = form.get("code"), form.get("error") or form.get("description")
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    tags = form.get("tag") or form.get("X-Mailgun-Tag")
    d: dict[str, Any] = {
        "event": form.get("event"),
        "timestamp": form.get("timestamp"),
        "recipient": form.get("recipient"),
        "message": {"headers": headers},
        "delivery-status": {"code": code, "message": text},
        "tags": tags if isinstance(tags, list) else [tags] if tags else None,
        "ip": form.get("ip"),
        "url": form.get("url"),
    }
    variables = form.get("X-Mailgun-Variables")
    if isinstance(variables, str):
        try:
            variables = json.loads(variables)
        except ValueError:
            variables = None
    if isinstance(variables, dict) and variables:
        d["user-variables"] = variables
    if text_or_none(form.get("reason")):
        d["reason"] = form["reason"]
    if text_or_none(form.get("user-agent")):
        d["client-info"] = {"user-agent": form["user-agent"]}
    if text_or_none(form.get("notification")):
        d["notification"] = form["notification"]
    return d


def _legacy_headers(value: Any) -> dict[str, Any]:
    """`message-headers`: a JSON string (or list) of `[name, value]` pairs, names lowered;
    the first of a repeated header wins."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    found: dict[str, Any] = {}
    if isinstance(value, list):
        for pair in value:
            if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                found.setdefault(pair[0].lower(), pair[1])
    return found


def _page(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed | RecordError]:
    items = obj.get("items")
    if not isinstance(items, list):
        raise RecordError("items is not an array")
    if not items:
        yield Skip("mailgun empty API page")
        return
    for i, item in enumerate(items):
        # One bad item is reported on its own; the rest of the page still imports.
        try:
            yield _event(as_dict(item, "the item"), ctx)
        except RecordError as exc:
            yield RecordError(f"items[{i}]: {exc}")


def _status(d: dict[str, Any]) -> tuple[str, str | None, str]:
    """(event word, canonical status or None for skip, raw_status)."""
    word = require(d, "event")
    if not isinstance(word, str):
        raise RecordError(f"'event' is not a string: {word!r}")
    if word not in STATUS_MAP and word.startswith(SKIP_PREFIXES):
        return word, None, word
    if word == "dropped":  # legacy: refined by `reason`
        reason = text_or_none(d.get("reason"))
        key = f"dropped:{reason}" if f"dropped:{reason}" in STATUS_MAP else word
        return word, map_status(STATUS_MAP, key), key
    if word != "failed":
        return word, map_status(STATUS_MAP, word), word
    severity = text_or_none(d.get("severity"))
    reason = text_or_none(d.get("reason"))
    keys = []
    if severity:
        if reason:
            keys.append(f"failed:{severity}:{reason}")
        keys.append(f"failed:{severity}")
    key = next((k for k in keys if k in STATUS_MAP), "failed")
    raw = f"failed:{severity}" if severity else "failed"
    return word, map_status(STATUS_MAP, key), raw


def _headers(d: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    message = d.get("message")
    if message is None:
        return {}, {}
    message = as_dict(message, "message")
    headers = message.get("headers")
    if headers is None:
        return message, {}
    return message, as_dict(headers, "message.headers")


def _first_address(value: Any) -> str | None:
    """The first address of a header value that may list several."""
    text = text_or_none(value)
    if text is None or not isinstance(value, str):
        return address(value)
    if "," in text:
        for _name, addr in getaddresses([text]):
            if addr:
                return address(addr)
    return address(text)


def _event(d: dict[str, Any], ctx: Context) -> Parsed:
    word, status, raw_status = _status(d)
    if status is None:
        return Skip(f"mailgun {word}")

    if d.get("timestamp") not in (None, ""):
        timestamp = ctx.time(d["timestamp"])
    elif d.get("@timestamp") not in (None, ""):
        timestamp = ctx.time(d["@timestamp"])
    else:
        raise RecordError("missing 'timestamp'")

    message, headers = _headers(d)
    msg_id = message_id(headers.get("message-id") or headers.get("Message-Id"))
    recipient = address(d.get("recipient")) or _first_address(headers.get("to"))
    envelope = d.get("envelope")
    envelope = as_dict(envelope, "envelope") if envelope is not None else {}
    sender = _first_address(headers.get("from")) or address(envelope.get("sender"))

    ds = d.get("delivery-status")
    ds = as_dict(ds, "delivery-status") if ds is not None else {}
    if word == "rejected":
        reject = d.get("reject")
        reject = as_dict(reject, "reject") if reject is not None else {}
        text = text_or_none(reject.get("reason")) or text_or_none(reject.get("description"))
    else:
        text = text_or_none(ds.get("message")) or text_or_none(ds.get("description"))
    code = ds.get("code")
    smtp, enhanced, diag = reply_fields(status, text, code, ds.get("enhanced-code"))

    hint = None
    reason = text_or_none(d.get("reason"))
    if status in BOUNCE_STATUSES:
        if reason:
            hint = f"mailgun-reason:{reason}"
        elif isinstance(code, int) and not isinstance(code, bool) and not 200 <= code <= 599:
            hint = f"mailgun-code:{code}"

    extra = _extra(d, envelope, ds, reason)
    tags = extra.get("tags") or []
    storage = d.get("storage")
    storage_key = text_or_none(storage.get("key")) if isinstance(storage, dict) else None
    size = message.get("size")
    return finish(
        Event(
            timestamp=timestamp,
            status=status,
            raw_status=raw_status,
            provider=PROVIDER,
            event_id=text_or_none(d.get("id")),
            message_id=msg_id,
            sender=sender,
            recipient=recipient,
            subject=text_or_none(headers.get("subject")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            bounce_hint=hint,
            tag=tags[0] if tags else None,
            tags=tuple(tags),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            send_method=send_method(d.get("method")),
            aliases=other_ids(
                msg_id, storage_key, *custom_ids(d.get("user-variables"), d.get("user_variables"))
            ),
            extra=extra,
        )
    )


def _extra(
    d: dict[str, Any], envelope: dict[str, Any], ds: dict[str, Any], reason: str | None
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    tags = d.get("tags")
    if isinstance(tags, list):
        kept = [t for v in tags if (t := text_or_none(v)) is not None]
        if kept:
            extra["tags"] = kept
    elif text_or_none(tags):
        extra["tags"] = [text_or_none(tags)]
    for key, name in (
        ("user-variables", "user_variables"),
        ("ip", "ip"),
        ("url", "url"),
        ("severity", "severity"),
        ("geolocation", "geolocation"),
        ("campaigns", "campaigns"),
        ("method", "method"),
        ("notification", "notification"),
    ):
        value = d.get(key)
        if value not in (None, "", [], {}):
            extra[name] = value
    if reason:
        extra["reason"] = reason
    client = d.get("client-info")
    if isinstance(client, dict) and text_or_none(client.get("user-agent")):
        extra["user_agent"] = client["user-agent"]
    if text_or_none(envelope.get("sender")):
        extra["envelope_sender"] = envelope["sender"]
    if text_or_none(envelope.get("sending-ip")):
        extra["sending_ip"] = envelope["sending-ip"]
    for key in ("attempt-no", "mx-host", "retry-seconds", "tls", "bounce-type"):
        value = ds.get(key)
        if value not in (None, ""):
            extra[key.replace("-", "_")] = value
    code = ds.get("code")
    if code not in (None, "") and not (isinstance(code, int) and 200 <= code <= 599):
        extra["mailgun_code"] = code
    flags = d.get("flags")
    if isinstance(flags, dict) and flags.get("is-delayed-bounce"):
        extra["delayed_bounce"] = True
    storage = d.get("storage")
    if isinstance(storage, dict) and text_or_none(storage.get("url")):
        extra["storage_url"] = storage["url"]
    return extra

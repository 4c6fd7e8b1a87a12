"""SendGrid Email Activity API, read by the `sendgrid` format (docs/providers.md#sendgrid).

`GET /v3/messages` answers `{"messages": [ … ]}`, one summary per email and recipient:
`msg_id`, `from_email`, `to_email`, `subject`, `status` (`processing`, `delivered`,
`not_delivered`), `opens_count`, `clicks_count`, `last_event_time`. The message details
call (`GET /v3/messages/{msg_id}`) adds `events`: `[{"event_name", "processed", "reason",
"mx_server", "attempt_num", "url", "http_user_agent", "bounce_type"}]`, each an event of
its own (the summary then says nothing more). `msg_id` is the webhook's long
`sg_message_id`, cut the same way, so the API and webhook events of an email are one
message. The words are the Activity feed's, as its CSV export has them
(sendgrid_csv.STATUS_MAP).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers import sendgrid_csv
from maillog_cli.importers.base import (
    Context,
    Parsed,
    as_dict,
    custom_ids,
    finish,
    map_status,
    other_ids,
)
from maillog_cli.importers.sendgrid import bounce_hint, cut_message_id, tags_of
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, text_or_none

PROVIDER = "sendgrid"
STATUS_MAP = sendgrid_csv.STATUS_MAP

# Summary fields kept as extra data (field → extra key).
_EXTRA: dict[str, str] = {
    "opens_count": "opens_count",
    "clicks_count": "clicks_count",
    "template_id": "template_id",
    "asm_group_id": "asm_group_id",
    "teammate": "teammate",
    "api_key_id": "api_key_id",
    "originating_ip": "originating_ip",
    "outbound_ip": "ip",
    "outbound_ip_type": "ip_type",
    "categories": "categories",
}
_EVENT_EXTRA: dict[str, str] = {
    "mx_server": "mx",
    "attempt_num": "attempt",
    "url": "url",
    "http_user_agent": "user_agent",
    "bounce_type": "bounce_type",
}


def detect(obj: dict[str, Any]) -> bool:
    """An Activity API message: `msg_id` and `to_email`, with a `status` or `events`."""
    return "msg_id" in obj and "to_email" in obj and ("status" in obj or "events" in obj)


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    long_id = message_id(obj.get("msg_id"))
    if long_id is None:
        raise RecordError("missing 'msg_id'")
    msg_id = cut_message_id(long_id)
    categories = obj.get("categories")
    tags = tags_of(categories)
    shared: dict[str, Any] = {
        "provider": PROVIDER,
        "message_id": msg_id,
        "sender": address(obj.get("from_email")),
        "recipient": address(obj.get("to_email")),
        "subject": text_or_none(obj.get("subject")),
        "tag": tags[0] if tags else None,
        "tags": tuple(tags),
        "aliases": other_ids(msg_id, long_id, *custom_ids(obj.get("unique_args"))),
    }
    extra = {
        name: obj[key] for key, name in _EXTRA.items() if obj.get(key) not in (None, "", [], {})
    }
    custom = _custom_args(obj.get("unique_args"))
    if custom:
        extra["custom_args"] = custom
    events = obj.get("events")
    if isinstance(events, list) and events:
        out: list[Parsed | RecordError] = []
        for i, ev in enumerate(events):
            try:
                out.append(_event(as_dict(ev, "the event"), shared, extra, ctx))
            except RecordError as exc:
                out.append(RecordError(f"events[{i}]: {exc}"))
        return out
    word = obj.get("status")
    status = map_status(STATUS_MAP, _key(word), "status")
    if status is None:
        return [Skip(f"sendgrid activity {word}")]
    when = obj.get("last_event_time")
    if when in (None, ""):
        raise RecordError("missing 'last_event_time'")
    return [
        finish(
            Event(timestamp=ctx.time(when), status=status, raw_status=word, extra=extra, **shared)
        )
    ]


def _custom_args(value: Any) -> dict[str, Any] | None:
    """`unique_args`: the sender's custom arguments, a JSON object written as a string."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) and value else None


def _key(word: Any) -> Any:
    return word.strip().lower() if isinstance(word, str) else word


def _event(
    ev: dict[str, Any], shared: dict[str, Any], extra: dict[str, Any], ctx: Context
) -> Parsed:
    """One of a message's `events`: its `event_name` at its `processed` time."""
    word = ev.get("event_name")
    status = map_status(STATUS_MAP, _key(word), "event_name")
    if status is None:
        return Skip(f"sendgrid activity {word}")
    when = ev.get("processed")
    if when in (None, ""):
        raise RecordError("missing 'processed'")
    smtp, enhanced, diag = reply_fields(status, text_or_none(ev.get("reason")))
    own = dict(extra)
    for key, name in _EVENT_EXTRA.items():
        if ev.get(key) not in (None, ""):
            own[name] = ev[key]
    return finish(
        Event(
            timestamp=ctx.time(when),
            status=status,
            raw_status=word,
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            bounce_hint=bounce_hint(status, "dropped" if status == "dropped" else word, ev),
            extra=own,
            **shared,
        )
    )

"""Mandrill (Mailchimp Transactional) webhooks (docs/providers.md#mandrill).

The webhook POST is form-encoded: `mandrill_events=<url-encoded JSON array>`. Dumps
show up in three shapes, all accepted: the raw form body (`decode_form_body`, called
by the file reader), the parsed form `{"mandrill_events": "<JSON string>" | [ … ]}`,
and the bare decoded array (the pipeline walks it and hands us each event).

The messages API (`/messages/search`, `/messages/info`) answers message objects instead:
`ts`, `_id`, `state`, `email`, `sender`, `subject`, `tags`, `metadata`, `opens` /
`opens_detail`, `clicks` / `clicks_detail` and `smtp_events`. One becomes its `state` at
its last SMTP event's time (else `ts`, the send time), an opened / clicked event per detail entry, and a deferred event per deferral in
`smtp_events`, all under its `_id` (the webhooks' message id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

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
from maillog_cli.normalize import address, json_kind, message_id, reply_fields, text_or_none

NAME = "mandrill"
PROVIDER = "mandrill"
SIGNATURE = (
    "form body `mandrill_events=…`; `mandrill_events` (JSON string or array); `event` + "
    "`msg` object; `state`, `_id`, `ts` and `email` (messages API)"
)
SHAPES = (
    "raw form-encoded webhook body, parsed form object, decoded event array (JSON/JSONL), "
    "messages API search results and message info"
)

FIELD = "mandrill_events"

# `event` → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "send": "sent",
    "deferral": "deferred",
    "hard_bounce": "bounced",
    "soft_bounce": "bounced",  # reported once Mandrill stops retrying
    "reject": "dropped",
    "spam": "complained",
    "unsub": "unsubscribed",
    "open": "opened",
    "click": "clicked",
    "inbound": None,  # an inbound route, not a delivery event
    # messages API: a message's `state`, and the `type` of its `smtp_events`
    "state:sent": "sent",
    "state:queued": "queued",
    "state:scheduled": "queued",
    "state:deferred": "deferred",
    "state:soft-bounced": "bounced",
    "state:bounced": "bounced",
    "state:rejected": "dropped",
    "state:invalid": "dropped",
    "state:spam": "complained",
    "state:unsub": "unsubscribed",
}
# Sync events (`type` + `action` + `reject`, no `event`) report allow/deny-list changes.
SYNC_TYPES = ("whitelist", "blacklist")


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({FIELD, "event", "type", "state"})


def detect(obj: dict[str, Any]) -> bool:
    if isinstance(obj.get(FIELD), str | list):
        return True
    return _is_event(obj) or _is_message(obj)


def _is_message(obj: dict[str, Any]) -> bool:
    """A messages API result: `state`, `_id`, `ts` and `email`, no `event`."""
    return (
        "event" not in obj
        and isinstance(obj.get("state"), str)
        and all(k in obj for k in ("_id", "ts", "email"))
    )


def _is_event(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if "event" in obj:
        return isinstance(obj.get("msg"), dict)
    return "type" in obj and "reject" in obj


def decode_form_body(text: str) -> Any:
    """A raw `application/x-www-form-urlencoded` webhook body → the decoded JSON value.

    Splits on `&`, URL-decodes with `+` as space (UTF-8) and parses the
    `mandrill_events` field as JSON. Raises RecordError naming what is wrong.
    """
    if not isinstance(text, str):
        raise RecordError("form body is not text")
    body = text.lstrip("\ufeff").strip()
    values: list[str] = []
    for pair in body.split("&"):
        if not pair.strip():
            continue
        name, sep, value = pair.partition("=")
        if _unquote(name.strip(), "a field name") != FIELD:
            continue
        if not sep:
            raise RecordError(f"{FIELD} has no value (no '=')")
        values.append(_unquote(value.strip(), FIELD))
    if not values:
        raise RecordError(f"no {FIELD} field in the form body")
    decoded = [_loads(v) for v in values]
    if len(decoded) == 1:
        return decoded[0]
    merged: list[Any] = []
    for d in decoded:
        merged.extend(d if isinstance(d, list) else [d])
    return merged


def _unquote(value: str, what: str) -> str:
    try:
        return unquote_plus(value, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise RecordError(
            f"{what} is not valid UTF-8 once URL-decoded (byte {exc.start})"
        ) from None


def _loads(text: str) -> Any:
    if not text.strip():
        raise RecordError(f"{FIELD} is empty")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{FIELD} is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise RecordError(f"{FIELD} is nested too deeply") from None
    if not isinstance(value, list | dict):
        raise RecordError(f"{FIELD} is not a JSON array (got {json_kind(value)})")
    return value


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    if FIELD in obj and not _is_event(obj):
        return list(_parse_envelope(obj[FIELD], ctx))
    if _is_message(obj):
        return list(_parse_message(obj, ctx))
    return [_parse_event(obj, ctx)]


def _parse_message(msg: dict[str, Any], ctx: Context) -> Iterator[Parsed]:
    """A messages API result: its `state` at `ts`, then its deferrals, opens and clicks.
    Each is the webhook event of the same word would be, so `_parse_event` builds it."""
    state = msg["state"]
    key = f"state:{state}"
    map_status(STATUS_MAP, key, "state")  # an unknown state is an error for the record
    found = msg.get("smtp_events")
    smtp: list[Any] = found if isinstance(found, list) else []
    # the state's own time is its last SMTP event's (`ts` is when the message was sent)
    last = smtp[-1] if smtp and isinstance(smtp[-1], dict) else {}
    when = last.get("ts") if last.get("type") == state and last.get("ts") else msg.get("ts")
    record = {"event": key, "ts": when, "_id": msg["_id"], "msg": msg}
    yield _parse_event(record, ctx, _STATE_HINT_WORDS.get(state))
    for ev in smtp:
        if isinstance(ev, dict) and ev.get("type") == "deferred" and ev is not smtp[-1]:
            one = {**msg, "smtp_events": [ev], "diag": None}
            yield _parse_event({"event": "deferral", "ts": ev.get("ts"), "msg": one}, ctx)
    for word, details in (("open", "opens_detail"), ("click", "clicks_detail")):
        entries = msg.get(details)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                raise RecordError(f"{details} entry is not an object")
            yield _parse_event(
                {
                    "event": word,
                    "ts": entry.get("ts"),
                    "_id": msg["_id"],
                    "msg": msg,
                    "ip": entry.get("ip"),
                    "location": entry.get("location"),
                    "user_agent": entry.get("ua"),
                    "url": entry.get("url"),
                },
                ctx,
            )


def _parse_envelope(value: Any, ctx: Context) -> Iterator[Parsed]:
    if isinstance(value, str):
        value = _loads(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise RecordError(f"{FIELD} is not a JSON array")
    if not value:
        yield Skip("mandrill empty batch")
        return
    for i, element in enumerate(value):
        where = f"{FIELD}[{i}]"
        if not _is_event(element):
            keys = sorted(element)[:8] if isinstance(element, dict) else json_kind(element)
            raise RecordError(f"{where} is not a Mandrill event: {keys}")
        try:
            yield _parse_event(element, ctx)
        except RecordError as exc:
            raise RecordError(f"{where}: {exc}") from None


# A message's failing `state` as the webhook word the classifier's labels are keyed on.
_STATE_HINT_WORDS = {
    "bounced": "hard_bounce",
    "soft-bounced": "soft_bounce",
    "rejected": "reject",
    "deferred": "deferral",
}


def _parse_event(ev: dict[str, Any], ctx: Context, hint_word: str | None = None) -> Parsed:
    if "event" not in ev:
        kind = text_or_none(ev.get("type")) or "?"
        return Skip(
            f"mandrill sync event ({kind})" if kind in SYNC_TYPES else "mandrill sync event"
        )
    word = ev.get("event")
    status = map_status(STATUS_MAP, word)
    if status is None:
        return Skip(f"mandrill {word}")
    msg = as_dict(ev.get("msg"), "msg")

    text = text_or_none(msg.get("diag")) or _last_smtp_diag(msg.get("smtp_events"))
    smtp, enhanced, diag = reply_fields(status, text)

    tags = msg.get("tags")
    if isinstance(tags, str):
        tags = [tags]
    tag_list = (
        [t for t in tags if isinstance(t, str) and t.strip()] if isinstance(tags, list) else []
    )
    extra: dict[str, Any] = {}
    if tag_list:
        extra["tags"] = tag_list
    for key in ("metadata", "location", "user_agent_parsed"):
        value = msg.get(key) if key == "metadata" else ev.get(key)
        if isinstance(value, dict) and value:
            extra[key] = value
    for key, value in (
        ("opens", msg.get("opens")),
        ("clicks", msg.get("clicks")),
        ("subaccount", msg.get("subaccount")),
        ("template", msg.get("template")),
        ("state", msg.get("state")),
        ("bounce_description", msg.get("bounce_description")),
        ("bgtools_code", msg.get("bgtools_code")),
        ("ip", ev.get("ip")),
        ("location", ev.get("location")),
        ("user_agent", ev.get("user_agent")),
        ("url", ev.get("url")),
    ):
        text_value = text_or_none(value)
        if text_value is not None and key not in extra:
            extra[key] = value if isinstance(value, int | float) else text_value

    return finish(
        Event(
            timestamp=ctx.time(require(ev, "ts")),
            status=status,
            raw_status=word,
            provider=PROVIDER,
            message_id=(mid := message_id(ev.get("_id")) or message_id(msg.get("_id"))),
            aliases=other_ids(mid, msg.get("_id"), *custom_ids(msg.get("metadata"))),
            sender=address(msg.get("sender")),
            recipient=address(msg.get("email")),
            subject=text_or_none(msg.get("subject")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            bounce_hint=(
                _bounce_hint(hint_word or word, msg) if status in _BOUNCE_STATUSES else None
            ),
            tag=tag_list[0] if tag_list else None,
            tags=tuple(dict.fromkeys(tag_list)),
            size=_last_smtp_size(msg.get("smtp_events")),
            extra=extra,
        )
    )


def _last_smtp_size(events: Any) -> int | None:
    """`size` (bytes) of the last element of `msg.smtp_events` that has one."""
    if not isinstance(events, list):
        return None
    for ev in reversed(events):
        size = ev.get("size") if isinstance(ev, dict) else None
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            return size
    return None


_BOUNCE_STATUSES = frozenset({"bounced", "deferred", "dropped", "failed"})


def _bounce_hint(word: Any, msg: dict[str, Any]) -> str:
    """Mandrill's verdict for the classifier, `mandrill:<event>/<bounce_description>`;
    used only when the `diag` text names no cause."""
    description = text_or_none(msg.get("bounce_description"))
    return f"mandrill:{word}/{description}" if description else f"mandrill:{word}"


def _last_smtp_diag(events: Any) -> str | None:
    """`diag` of the last element of `msg.smtp_events` (a list of objects), if any."""
    if not isinstance(events, list) or not events:
        return None
    last = events[-1]
    return text_or_none(last.get("diag")) if isinstance(last, dict) else None

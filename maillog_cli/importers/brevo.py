"""Brevo (formerly Sendinblue) transactional and marketing webhooks (docs/providers.md#brevo).

One flat object per POST (an array when batched webhooks are on; the pipeline walks
it). The event time is `ts_epoch` (milliseconds, UTC), else `ts_event`, else `ts`;
`date` / `date_event` are wall-clock time in the account's zone and only a last resort.

Marketing (campaign) webhooks carry `camp_id` and `campaign name` and no `message-id`:
one campaign email is `brevo-campaign:<camp_id>:<email>`, so its events are one message.

The transactional events API (`GET /v3/smtp/statistics/events`) answers
`{"events": [{"email", "date", "messageId", "event", "subject", "reason", "tag", "ip",
"from", …}]}`: `date` is ISO with its offset, `messageId` the webhooks' `message-id`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from dateutil import tz as du_tz

from maillog_cli.dates import to_iso
from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context, Parsed, custom_ids, finish, map_status, other_ids
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, text_or_none

NAME = "brevo"
PROVIDER = "brevo"
SIGNATURE = (
    "`event` and a Brevo time key: `ts_epoch` or `ts_event`; an events API item (`event` "
    "a Brevo word, `messageId`, `email` and `date`)"
)
SHAPES = (
    "transactional and marketing (campaign) webhook bodies, batched webhook array, JSONL of bodies"
)

# `event` → canonical status; None = skip.
STATUS_MAP: dict[str, str | None] = {
    "request": "queued",
    "delivered": "delivered",
    "deferred": "deferred",
    "soft_bounce": "bounced",
    "hard_bounce": "bounced",
    "blocked": "dropped",
    "invalid_email": "dropped",
    "error": "failed",
    "spam": "complained",
    "complaint": "complained",
    "opened": "opened",
    "unique_opened": "opened",
    "proxy_open": "opened",
    "unique_proxy_open": "opened",
    "click": "clicked",
    "unsubscribed": "unsubscribed",
    "unsubscribe": "unsubscribed",
    "list_addition": None,
    # the webhook settings' event names, which marketing webhooks send as the word
    "hardBounce": "bounced",
    "softBounce": "bounced",
    "invalid": "dropped",
    "uniqueOpened": "opened",
    "proxyOpen": "opened",
    "listAddition": None,
    "loadedByProxy": "opened",
    "contact_updated": None,
    "contact_deleted": None,
}
# The zone Brevo documents for `date` (CET/CEST), used only when no epoch field exists
# and no --tz was given.
ACCOUNT_ZONE = "Europe/Paris"
_TIME_KEYS = ("ts_epoch", "ts_event", "ts")
# Events whose name is Brevo's verdict (hard_bounce, invalid_email, blocked …): passed to
# the classifier, which uses it when the `reason` text names no cause.
_BOUNCE_STATUSES = frozenset({"bounced", "deferred", "dropped", "failed"})


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"ts_epoch", "ts_event", "messageId"})


def detect(obj: dict[str, Any]) -> bool:
    """`event` with one of Brevo's own time keys: `event` with a `message-id` alone is
    any application's log line."""
    if "event" in obj and ("ts_epoch" in obj or "ts_event" in obj):
        return True
    return _is_api_event(obj)


def _is_api_event(obj: dict[str, Any]) -> bool:
    """An events API item: a Brevo word with its `messageId`, `email` and `date`."""
    word = obj.get("event")
    return (
        isinstance(word, str)
        and word in STATUS_MAP
        and all(k in obj for k in ("messageId", "email", "date"))
    )


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    word = obj.get("event")
    status = map_status(STATUS_MAP, word)
    if status is None:
        return [Skip(f"brevo {word}")]
    smtp, enhanced, diag = reply_fields(status, obj.get("reason"))

    tags = _tags(obj)
    extra: dict[str, Any] = {}
    if tags:
        extra["tags"] = tags
    custom = obj.get("X-Mailin-custom")
    if isinstance(custom, str) and custom.strip():
        try:
            extra["custom"] = json.loads(custom)
        except (json.JSONDecodeError, RecursionError):
            extra["custom"] = custom
    elif isinstance(custom, dict | list) and custom:
        extra["custom"] = custom
    for src, key in (
        ("template_id", "template_id"),
        ("sending_ip", "sending_ip"),
        ("user_agent", "user_agent"),
        ("device_used", "device_used"),
        ("link", "url"),
        ("ip", "ip"),
        ("id", "webhook_id"),
        ("camp_id", "campaign_id"),
        ("campaign name", "campaign_name"),
        ("date_sent", "date_sent"),
        ("ts_sent", "ts_sent"),
    ):
        value = obj.get(src)
        if text_or_none(value) is not None:
            extra[key] = value if isinstance(value, int | float) else text_or_none(value)

    return [
        finish(
            Event(
                timestamp=_timestamp(obj, ctx),
                status=status,
                raw_status=word,
                provider=PROVIDER,
                message_id=(
                    mid := message_id(obj.get("message-id"))
                    or message_id(obj.get("messageId"))
                    or _campaign_id(obj)
                ),
                aliases=other_ids(mid, *custom_ids(obj.get("X-Mailin-custom"))),
                sender=address(obj.get("sender_email")) or address(obj.get("from")),
                recipient=address(obj.get("email")),
                subject=text_or_none(obj.get("subject")),
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                bounce_hint=f"brevo:{word}" if status in _BOUNCE_STATUSES else None,
                tag=tags[0] if tags else text_or_none(obj.get("campaign name")),
                tags=tuple(dict.fromkeys(tags)),
                type="marketing" if _campaign_id(obj) else None,
                extra=extra,
            )
        )
    ]


def _timestamp(obj: dict[str, Any], ctx: Context) -> str:
    for key in _TIME_KEYS:
        value = obj.get(key)
        if value is not None and value != "":
            try:
                return ctx.time(value)
            except RecordError as exc:
                raise RecordError(f"{key}: {exc}") from None
    date = obj.get("date") or obj.get("date_event")
    if date is not None and date != "":
        zone: tzinfo | None = ctx.default_tz or du_tz.gettz(ACCOUNT_ZONE)
        try:
            return to_iso(date, zone)
        except RecordError as exc:
            raise RecordError(f"date: {exc}") from None
    raise RecordError("missing 'ts_epoch', 'ts_event', 'ts' and 'date'")


def _campaign_id(obj: dict[str, Any]) -> str | None:
    """A marketing email's id: its campaign and recipient (Brevo names no message)."""
    camp, email = text_or_none(obj.get("camp_id")), address(obj.get("email"))
    return f"brevo-campaign:{camp}:{email}" if camp and email else None


def _tags(obj: dict[str, Any]) -> list[str]:
    """`tags` (array) or `tag` (a string, sometimes a JSON-encoded array)."""
    value = obj.get("tags")
    if value is None or value == "" or value == []:
        value = obj.get("tag")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                return [text]
        else:
            return [text] if text else []
    if isinstance(value, list):
        return [t.strip() for t in value if isinstance(t, str) and t.strip()]
    return []

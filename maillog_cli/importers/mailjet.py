"""Mailjet event API webhooks (docs/providers.md#mailjet).

"Group events" on: a JSON array of events (the pipeline walks it); off: one bare
object. `MessageID` is a 64-bit integer that can exceed 2**53, so it is rendered from
the exact JSON integer; a float (a lossy reader) is replaced by `mj_message_id`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
from maillog_cli.normalize import address, message_id, reply_fields, tag_list, text_or_none

NAME = "mailjet"
PROVIDER = "mailjet"
SIGNATURE = "`event`, `time` and any of `MessageID`, `Message_GUID`, `mj_message_id`"
SHAPES = "grouped webhook array, single webhook object, JSONL of bodies"

# `event` → canonical status; "bounce:greylisted" is a bounce whose `error` is
# `greylisted` and that is not a hard bounce (Mailjet retries it). None = skip.
STATUS_MAP: dict[str, str | None] = {
    "sent": "delivered",  # Mailjet's `sent` = the receiving server accepted it
    "bounce": "bounced",
    "bounce:greylisted": "deferred",
    "blocked": "dropped",
    "spam": "complained",
    "unsub": "unsubscribed",
    "open": "opened",
    "click": "clicked",
}
_ID_KEYS = ("MessageID", "Message_GUID", "mj_message_id")


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"event"})


def detect(obj: dict[str, Any]) -> bool:
    return "event" in obj and "time" in obj and any(k in obj for k in _ID_KEYS)


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    word = obj.get("event")
    key = word
    if word == "bounce" and obj.get("hard_bounce") is not True:
        error = obj.get("error")
        if isinstance(error, str) and f"bounce:{error.strip().lower()}" in STATUS_MAP:
            key = f"bounce:{error.strip().lower()}"
    status = map_status(STATUS_MAP, key)
    if status is None:
        return [Skip(f"mailjet {word}")]
    text = (
        text_or_none(obj.get("smtp_reply"))
        or text_or_none(obj.get("comment"))
        or text_or_none(obj.get("error"))
    )
    smtp, enhanced, diag = reply_fields(status, text)

    extra: dict[str, Any] = {}
    for src, dst in (
        ("Message_GUID", "message_guid"),
        ("customcampaign", "customcampaign"),
        ("CustomID", "custom_id"),
        ("Payload", "payload"),
        ("mj_campaign_id", "mj_campaign_id"),
        ("mj_contact_id", "mj_contact_id"),
        ("mj_list_id", "mj_list_id"),
        ("ip", "ip"),
        ("agent", "user_agent"),
        ("url", "url"),
        ("geo", "geo"),
        ("source", "source"),
        ("error_related_to", "error_related_to"),
        ("error", "error"),
    ):
        value = obj.get(src)
        if text_or_none(value) is not None:
            extra[dst] = value if isinstance(value, int | float) else text_or_none(value)
    for flag in ("hard_bounce", "blocked"):
        if isinstance(obj.get(flag), bool):
            extra[flag] = obj[flag]

    return [
        finish(
            Event(
                timestamp=ctx.time(require(obj, "time")),
                status=status,
                raw_status=word,
                provider=PROVIDER,
                message_id=(mid := _message_id(obj)),
                # not Message_GUID: seen shared by the messages of one send
                aliases=other_ids(mid, *custom_ids(obj.get("Payload"))),
                recipient=address(obj.get("email")),
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                bounce_hint=_bounce_hint(obj)
                if status in ("bounced", "deferred", "dropped")
                else None,
                tag=text_or_none(obj.get("customcampaign")),
                tags=tag_list(obj.get("customcampaign")),
                extra=extra,
            )
        )
    ]


def _bounce_hint(obj: dict[str, Any]) -> str:
    """Mailjet's verdict for the classifier: `mailjet:<hard|soft>/<error>` (bounces.py).

    Used only when the reply text names no cause (`error` "typofix", "preblocked" …).
    """
    kind = "hard" if obj.get("hard_bounce") is True else "soft"
    error = text_or_none(obj.get("error"))
    return f"mailjet:{kind}/{error}" if error else f"mailjet:{kind}"


def _message_id(obj: dict[str, Any]) -> str | None:
    """`MessageID` as a decimal string; else `mj_message_id`; else `Message_GUID`."""
    value = obj.get("MessageID")
    alt = message_id(obj.get("mj_message_id"))
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        if value > 0:
            return str(value)
    elif isinstance(value, float):
        # A reader that turned the integer into a float may have lost digits.
        if alt:
            return alt
        if value.is_integer() and 0 < value < 2**53:
            return str(int(value))
    elif isinstance(value, str) and value.strip() not in ("", "0"):
        return message_id(value)
    return alt or message_id(obj.get("Message_GUID"))

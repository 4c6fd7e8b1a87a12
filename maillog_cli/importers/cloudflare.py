"""Cloudflare Email Service: GraphQL Analytics results (docs/providers.md#cloudflare).

`{"data": {"viewer": {"zones": [{"emailSendingAdaptive": [rows],
"emailRoutingAdaptive": [rows]}]}}, "errors": null}` — one or both lists per zone.
Sending rows are outbound; Email Routing rows are inbound. Rows carry whatever fields
the query selected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context, Parsed, as_dict, finish, map_status, require
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, text_or_none

NAME = "cloudflare"
PROVIDER = "cloudflare"
SIGNATURE = "`data.viewer.zones` (GraphQL Analytics: emailSendingAdaptive / emailRoutingAdaptive)"
SHAPES = "GraphQL Analytics API response (JSON document)"

SENDING = "emailSendingAdaptive"
ROUTING = "emailRoutingAdaptive"

# Sending `status` → canonical status. Routing rows are looked up as
# "routing:<status>:<action>", then "routing:<status>". None = skip.
STATUS_MAP: dict[str, str | None] = {
    "sent": "sent",
    "delivered": "delivered",
    "deliveryFailed": "bounced",
    "rejected": "dropped",  # recipient on the account suppression list
    "failed": "failed",  # configuration / auth
    "routing:delivered:forward": "forwarded",
    "routing:delivered:worker": "processed",
    "routing:delivered:drop": "dropped",
    "routing:delivered": "forwarded",  # the default action is forward
    "routing:forwarded": "forwarded",
    "routing:processed": "processed",
    "routing:rejected": "rejected",  # SPF/DKIM/DMARC or policy
    "routing:dropped": "dropped",
    "routing:deliveryFailed": "bounced",  # the destination refused the forward
}
_EXTRA_KEYS: dict[str, str] = {
    "sessionId": "session_id",
    "eventType": "event_type",
    "sendingDomain": "sending_domain",
    "errorCause": "error_cause",
    "action": "action",
    "ruleMatched": "rule_matched",
    "spf": "spf",
    "dkim": "dkim",
    "dmarc": "dmarc",
    "arc": "arc",
    "isSpam": "is_spam",
    "isNDR": "is_ndr",
    "isLastEvent": "is_last_event",
    "spamScore": "spam_score",
    "spamThreshold": "spam_threshold",
}


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"data"})


def detect(obj: dict[str, Any]) -> bool:
    data = obj.get("data")
    if not isinstance(data, dict):
        return False
    viewer = data.get("viewer")
    return isinstance(viewer, dict) and "zones" in viewer


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    return list(_parse(obj, ctx))


def _parse(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed]:
    zones = as_dict(as_dict(obj.get("data"), "data").get("viewer"), "data.viewer").get("zones")
    if zones is None:
        zones = []
    if not isinstance(zones, list):
        raise RecordError("data.viewer.zones is not an array")
    rows = 0
    for z, zone in enumerate(zones):
        zone = as_dict(zone, f"data.viewer.zones[{z}]")
        for dataset, inbound in ((SENDING, False), (ROUTING, True)):
            items = zone.get(dataset)
            if items is None:
                continue
            where = f"zones[{z}].{dataset}"
            if not isinstance(items, list):
                raise RecordError(f"{where} is not an array")
            for i, row in enumerate(items):
                rows += 1
                try:
                    yield _row(as_dict(row, "the row"), inbound, zone, ctx)
                except RecordError as exc:
                    raise RecordError(f"{where}[{i}]: {exc}") from None
    if not rows:
        errors = obj.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            text = first.get("message") if isinstance(first, dict) else first
            raise RecordError(f"GraphQL response has errors and no rows: {str(text)[:200]}")
        yield Skip("cloudflare GraphQL result without rows")


def _lookup(word: str, action: str | None, inbound: bool) -> str | None:
    """The STATUS_MAP entry for a row (first letter case-insensitive: `Delivered`)."""
    candidates = [word, word[:1].lower() + word[1:]]
    for w in candidates:
        if inbound:
            if action and f"routing:{w}:{action}" in STATUS_MAP:
                return map_status(STATUS_MAP, f"routing:{w}:{action}", "status")
            if f"routing:{w}" in STATUS_MAP:
                return map_status(STATUS_MAP, f"routing:{w}", "status")
        elif w in STATUS_MAP:
            return map_status(STATUS_MAP, w, "status")
    raise RecordError(f"unknown {'routing ' if inbound else ''}status {word!r}")


def _row(row: dict[str, Any], inbound: bool, zone: dict[str, Any], ctx: Context) -> Parsed:
    word = require(row, "status")
    if not isinstance(word, str):
        raise RecordError(f"'status' is not a string: {word!r}")
    action = text_or_none(row.get("action"))
    action_key = action.strip().lower() if action else None
    status = _lookup(word.strip(), action_key, inbound)
    raw_status = f"{word}:{action}" if inbound and action else word
    if status is None:
        return Skip(f"cloudflare {raw_status}")
    smtp, enhanced, diag = reply_fields(status, row.get("errorDetail"))

    recipient = address(row.get("to"))
    if recipient is None and not inbound:
        recipient = address(row.get("envelopeTo"))
    extra: dict[str, Any] = {}
    for src, key in _EXTRA_KEYS.items():
        value = row.get(src)
        if isinstance(value, bool | int | float):
            extra[key] = value
        elif text_or_none(value) is not None:
            extra[key] = text_or_none(value)
    zone_tag = text_or_none(zone.get("zoneTag"))
    if zone_tag:
        extra["zone_tag"] = zone_tag

    return finish(
        Event(
            timestamp=ctx.time(require(row, "datetime")),
            status=status,
            raw_status=raw_status,
            provider=PROVIDER,
            message_id=message_id(row.get("messageId")),
            direction="inbound" if inbound else "outbound",
            sender=address(row.get("from")),
            recipient=recipient,
            subject=text_or_none(row.get("subject")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            extra=extra,
        )
    )

"""SparkPost (Bird) webhooks and Events API pages (docs/providers.md#sparkpost).

Webhook: a JSON array of `{"msys": {"<class>": {…event…}}}` wrappers (the pipeline walks
the array and hands us each wrapper); `{"msys": {}}` is a ping. Events API: a page
`{"results": [ …event… ], "total_count", "links"}` whose results are the bare events; a
bare event on its own (an API result saved alone, a wrapper's inner object logged) is read
the same way. Almost every scalar is a string, numbers included.
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
    map_status,
    other_ids,
    require,
)
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, tag_list, text_or_none
from maillog_cli.statuses import BOUNCE_STATUSES

NAME = "sparkpost"
PROVIDER = "sparkpost"
SIGNATURE = (
    "`msys` object (webhook element) or `results` array of objects with `type` (Events API); "
    "a bare event (`type`, `timestamp`, `rcpt_to`/`raw_rcpt_to` and `event_id`/"
    "`message_id`/`transmission_id`)"
)
SHAPES = (
    "webhook POST body (array of msys wrappers), one wrapper per JSONL line, Events API page, "
    "bare events (JSON array or JSONL)"
)

# `type` → canonical status. Bounces are refined by `bounce_class`: "<type>:<class>" keys
# are looked up first (60 auto-reply, 80 subscribe, 100 challenge-response: no event;
# 90 unsubscribe). None = skip.
STATUS_MAP: dict[str, str | None] = {
    "injection": "queued",
    "delivery": "delivered",
    "delay": "deferred",
    "bounce": "bounced",
    "out_of_band": "bounced",
    "policy_rejection": "dropped",
    "generation_rejection": "dropped",
    "generation_failure": "failed",
    "spam_complaint": "complained",
    "open": "opened",
    "initial_open": "opened",
    "amp_open": "opened",
    "amp_initial_open": "opened",
    "click": "clicked",
    "amp_click": "clicked",
    "list_unsubscribe": "unsubscribed",
    "link_unsubscribe": "unsubscribed",
    "bounce:60": None,
    "bounce:80": None,
    "bounce:90": "unsubscribed",
    "bounce:100": None,
    "out_of_band:60": None,
    "out_of_band:80": None,
    "out_of_band:90": "unsubscribed",
    "out_of_band:100": None,
    # Relay (inbound), A/B test, ingest and SMS events describe no outbound delivery.
    "relay_injection": None,
    "relay_rejection": None,
    "relay_delivery": None,
    "relay_tempfail": None,
    "relay_permfail": None,
    "ab_test_completed": None,
    "ab_test_cancelled": None,
    "ingest_success": None,
    "ingest_error": None,
    "sms_status": None,
}
# Whole families of event types that are skipped, whatever their exact name.
SKIP_PREFIXES: tuple[str, ...] = ("relay_", "ab_test_", "ingest_", "sms_")
# Event types whose raw_status carries `:bounce_class`.
_BOUNCE_TYPES = ("bounce", "out_of_band")
# Scalars worth keeping (source key → extra key).
_EXTRA_KEYS: dict[str, str] = {
    "campaign_id": "campaign_id",
    "template_id": "template_id",
    "transmission_id": "transmission_id",
    "subaccount_id": "subaccount_id",
    "ip_pool": "ip_pool",
    "sending_ip": "sending_ip",
    "ip_address": "ip",
    "user_agent": "user_agent",
    "target_link_url": "url",
    "target_link_name": "link_name",
    "num_retries": "num_retries",
    "queue_time": "queue_time",
    "delv_method": "delv_method",
    "mailbox_provider": "mailbox_provider",
    "fbtype": "fbtype",
    "report_by": "report_by",
    "bounce_class": "bounce_class",
    "reason": "reason",
    "msg_from": "envelope_from",
}


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"msys", "results", "rcpt_to", "raw_rcpt_to"})
_ID_KEYS = ("event_id", "message_id", "transmission_id")


def detect(obj: dict[str, Any]) -> bool:
    if isinstance(obj.get("msys"), dict):
        return True
    if _is_bare(obj):
        return True
    results = obj.get("results")
    if not isinstance(results, list):
        return False
    if not results:
        # An empty Events API page still looks like one.
        return "total_count" in obj and "links" in obj
    return all(isinstance(r, dict) and "type" in r for r in results)


def _is_bare(obj: dict[str, Any]) -> bool:
    """A bare event: its `type`, its time, its recipient and one of its ids."""
    return (
        isinstance(obj.get("type"), str)
        and "timestamp" in obj
        and ("rcpt_to" in obj or "raw_rcpt_to" in obj)
        and any(k in obj for k in _ID_KEYS)
    )


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    if "msys" in obj:
        return list(_parse_wrapper(obj, ctx))
    if _is_bare(obj) and not isinstance(obj.get("results"), list):
        return [_build(obj, ctx)]
    return list(_parse_page(obj, ctx))


def _parse_wrapper(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed]:
    msys = as_dict(obj.get("msys"), "msys")
    if not msys:
        yield Skip("sparkpost ping (empty msys)")
        return
    for cls, inner in msys.items():
        yield _event(as_dict(inner, f"msys.{cls}"), ctx, f"msys.{cls}")


def _parse_page(obj: dict[str, Any], ctx: Context) -> Iterator[Parsed | RecordError]:
    results = obj.get("results")
    if not isinstance(results, list):
        raise RecordError("results is not an array")
    if not results:
        yield Skip("sparkpost empty Events API page")
        return
    for i, item in enumerate(results):
        # One bad result is reported on its own; the rest of the page still imports.
        try:
            yield _event(as_dict(item, f"results[{i}]"), ctx, f"results[{i}]")
        except RecordError as exc:
            yield exc


def _bounce_class(value: Any) -> str | None:
    """`"10"`, `10` or `10.0` → "10"; anything else (absent, junk) → None."""
    text = text_or_none(value)
    if text is None:
        return None
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return str(int(number)) if number.is_integer() and number >= 0 else None


def _event(ev: dict[str, Any], ctx: Context, where: str) -> Parsed:
    try:
        return _build(ev, ctx)
    except RecordError as exc:
        raise RecordError(f"{where}: {exc}") from None


def _build(ev: dict[str, Any], ctx: Context) -> Parsed:
    kind = require(ev, "type")
    if not isinstance(kind, str):
        raise RecordError(f"'type' is not a string: {kind!r}")
    bclass = _bounce_class(ev.get("bounce_class"))
    if kind in _BOUNCE_TYPES and bclass is not None and f"{kind}:{bclass}" in STATUS_MAP:
        status = map_status(STATUS_MAP, f"{kind}:{bclass}", "type")
    elif kind not in STATUS_MAP and kind.startswith(SKIP_PREFIXES):
        status = None
    else:
        status = map_status(STATUS_MAP, kind, "type")
    if status is None:
        return Skip(
            f"sparkpost {kind}" + (f" (bounce_class {bclass})" if kind in _BOUNCE_TYPES else "")
        )

    raw_status = f"{kind}:{bclass}" if kind in _BOUNCE_TYPES and bclass is not None else kind
    text = text_or_none(ev.get("raw_reason")) or text_or_none(ev.get("reason"))
    smtp, enhanced, diag = reply_fields(status, text, code_field=ev.get("error_code"))
    hint = f"sparkpost:{bclass}" if bclass is not None and status in BOUNCE_STATUSES else None

    extra: dict[str, Any] = {}
    for src, key in _EXTRA_KEYS.items():
        value = text_or_none(ev.get(src))
        if value is not None:
            extra[key] = value
    for key in ("rcpt_tags", "rcpt_meta", "geo_ip"):
        value = ev.get(key)
        if isinstance(value, list | dict) and value:
            extra[key] = value
    if "reason" in extra and extra["reason"] == diag:
        del extra["reason"]

    return finish(
        Event(
            timestamp=ctx.time(require(ev, "timestamp")),
            status=status,
            raw_status=raw_status,
            provider=PROVIDER,
            event_id=text_or_none(ev.get("event_id")),
            message_id=(
                mid := message_id(ev.get("message_id")) or message_id(ev.get("transmission_id"))
            ),
            sender=address(ev.get("friendly_from")) or address(ev.get("msg_from")),
            recipient=address(ev.get("rcpt_to")) or address(ev.get("raw_rcpt_to")),
            subject=text_or_none(ev.get("subject")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            bounce_hint=hint,
            tag=text_or_none(ev.get("campaign_id")),
            tags=tag_list([ev.get("campaign_id"), *_listed(ev.get("rcpt_tags"))]),
            type=_transactional(ev.get("transactional")),
            size=_int_or_none(ev.get("msg_size")),
            # never the transmission id: one transmission is many recipients' emails
            aliases=other_ids(mid, *custom_ids(ev.get("rcpt_meta"), ev.get("metadata"))),
            extra=extra,
        )
    )


def _int_or_none(value: Any) -> int | None:
    text = text_or_none(value)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _transactional(value: Any) -> str | None:
    """`transactional`: "1" for transactional mail, "0" for the rest (campaigns)."""
    if isinstance(value, bool):
        return "transactional" if value else "non-transactional"
    text = text_or_none(value)
    return {"1": "transactional", "0": "non-transactional"}.get(text.strip()) if text else None

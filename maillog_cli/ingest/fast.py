"""The fast path for records already in our canonical shape (`search --format jsonl`).

Why: re-importing our own output is the bulk load users run most, and on it the generic
path spent ≈ 8 µs per record on detection and on normalising fields that are already
normal (docs/performance.md). Here a record whose keys are the listing keys, whose values
are plain strings (or nulls, or an integer reply code), whose status is a canonical word
and whose timestamp is exactly our shape becomes its Event with one precompiled check and
cached normalisers; anything else returns None and takes the plain path
(`importers.maillog`), which also words every error.

The Event is the same, field for field, as `importers.maillog` makes (the normalisers are
the same functions, cached): `tests/test_fast_path.py` builds a store both ways and compares
every table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from maillog_cli import importers
from maillog_cli.dates import MAX_YEAR, MIN_YEAR
from maillog_cli.importers.base import finish, synthetic_message_id
from maillog_cli.model import EVENT_KEYS, Event
from maillog_cli.normalize import (
    address,
    diagnostic,
    enhanced_code,
    event_hash,
    message_id,
    smtp_code,
)
from maillog_cli.redaction import _scrub_text
from maillog_cli.statuses import BOUNCE_STATUSES, COLOURS, ENGAGEMENT, canonical_status

ENABLED = True  # tests switch it off to build the same store by the plain path
NAME = "maillog"
# Keys a fast record may have: the listing keys (the 15 output keys), no more.
FAST_KEYS = frozenset(EVENT_KEYS)
# Status words that are already canonical (what canonical_status returns unchanged).
_STATUSES = frozenset(s for s in COLOURS if canonical_status(s) == s)
# Our timestamp shape with every field in range (the day of the month is checked below).
_TIMESTAMP = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z"
)
_CACHE = 65536

_address = lru_cache(maxsize=_CACHE)(address)
_message_id = lru_cache(maxsize=_CACHE)(message_id)


@lru_cache(maxsize=4096)
def _day_ok(day: str) -> bool:
    """A real calendar day within the years dates.to_iso accepts (no 30 February)."""
    year = int(day[:4])
    if not MIN_YEAR <= year <= MAX_YEAR:
        return False
    try:
        date(year, int(day[5:7]), int(day[8:10]))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=_CACHE)
def _reply(code: Any, enhanced: Any, text: str | None) -> tuple[int | None, str | None, str | None]:
    """(smtp_code, enhanced_code, diagnostic) as importers.maillog derives them."""
    diag = diagnostic(text)
    return smtp_code(code or None, diag), enhanced_code(enhanced or None, diag), diag


_ROUTES: dict[tuple[Any, ...], bool] = {}


def _route(keys: tuple[Any, ...]) -> bool:
    """Whether records with these keys are ours for sure: only listing keys, status and
    timestamp among them, and no other importer that detection would ask first."""
    fast = _ROUTES.get(keys)
    if fast is None:
        if len(_ROUTES) >= 1024:  # ever-changing keys: stay bounded
            _ROUTES.clear()
        fast = False
        if FAST_KEYS.issuperset(keys) and "status" in keys and "timestamp" in keys:
            # importers.detect asks, in order, the detectors whose DETECT_KEYS meet the keys
            asked = (
                m
                for m in importers.json_importers()
                if getattr(m, "DETECT_KEYS", None) is None or not m.DETECT_KEYS.isdisjoint(keys)
            )
            fast = next(asked).NAME == NAME
        _ROUTES[keys] = fast
    return fast


def _text(value: Any) -> str | None:
    """normalize.text_or_none for a value already known to be a string or None."""
    return value if value and not value.isspace() else None


def _canonical(obj: dict[str, Any]) -> bool:
    """Whether a record is ours for sure: listing keys, plain string (or null) values, an
    integer or string reply code, a canonical status and our exact timestamp shape."""
    if "status" not in obj or not ENABLED or not _route(tuple(obj)):  # "status": cheap first
        return False
    for key, value in obj.items():
        if value is not None and type(value) is not str and key != "smtp_code":
            return False
    stamp = obj.get("timestamp")
    if (
        obj.get("status") not in _STATUSES
        or stamp is None
        or len(stamp) != 24
        or _TIMESTAMP.fullmatch(stamp) is None
        or not _day_ok(stamp[:10])
    ):
        return False
    code = obj.get("smtp_code")
    return code is None or type(code) is int or type(code) is str


def listing_event(obj: dict[str, Any]) -> Event | None:
    """The Event of a canonical listing record, or None: then the plain path reads it."""
    if not _canonical(obj):
        return None
    get = obj.get
    status = get("status")
    stamp = get("timestamp")
    code = get("smtp_code")
    engagement = status in ENGAGEMENT
    smtp, enhanced, diag = _reply(code, get("enhanced_code"), get("diagnostic"))
    return finish(
        Event(
            timestamp=stamp,
            status=status,
            raw_status=_text(get("raw_status")),
            provider=_text(get("provider")),
            event_id=_text(get("event_id")),
            message_id=_message_id(get("message_id")),
            direction=_text(get("direction")) or "outbound",
            sender=_address(get("sender")),
            recipient=_address(get("recipient")),
            subject=_text(get("subject")),
            smtp_code=smtp,
            enhanced_code=enhanced,
            diagnostic=diag,
            bounce_class=None if engagement else _text(get("bounce_class")),
            bounce_reason=None if engagement else _text(get("bounce_reason")),
        )
    )


Row = tuple[Any, ...]


def row_builder(import_id: int | None) -> Callable[[dict[str, Any]], Row | None]:
    """`listing_row`: a canonical record straight to its store row, or None (then the
    plain path reads it). The row is `store.db.event_row` of the classified `listing_event`,
    field for field (tests/test_fast_path.py), without the Event in between: the forked
    parser sends rows, and on our own JSONL the Event, its classification and the row
    were ≈ 5 µs of its ≈ 18 per record."""
    from maillog_cli.bounce.classify import classify
    from maillog_cli.store.db import _domain_of

    def listing_row(obj: dict[str, Any]) -> Row | None:
        if not _canonical(obj):
            return None
        get = obj.get
        status = _STATUS_OBJECT[get("status")]
        stamp = get("timestamp")
        smtp, enhanced, diag = _reply(get("smtp_code"), get("enhanced_code"), get("diagnostic"))
        raw_status = _text(get("raw_status"))
        provider = _text(get("provider"))
        recipient = _address(get("recipient"))
        sender = _address(get("sender"))
        subject = _text(get("subject"))
        mid = _message_id(get("message_id"))
        event_id = _text(get("event_id"))
        if not event_id:
            event_id = event_hash(provider, mid, stamp, raw_status, recipient)
        if not mid:
            mid = synthetic_message_id(
                Event(stamp, status, sender=sender, recipient=recipient, subject=subject)
            )
        if status in ENGAGEMENT:
            bounce_class = bounce_reason = None
        else:
            bounce_class = _text(get("bounce_class"))
            bounce_reason = _text(get("bounce_reason"))
        if status in BOUNCE_STATUSES and (bounce_class is None or bounce_reason is None):
            verdict = classify(status, smtp, enhanced, diag, None)
            if verdict is not None:
                bounce_class = bounce_class or verdict.bounce_class
                bounce_reason = bounce_reason or verdict.bounce_reason
        return (
            event_id,
            mid,
            stamp,
            provider,
            _text(get("direction")) or "outbound",
            status,
            raw_status,
            sender,
            recipient,
            _domain_of(recipient),
            None if subject is None else _scrub_text(subject),
            smtp,
            enhanced,
            None if diag is None else _scrub_text(diag),
            bounce_class,
            bounce_reason,
            None,  # bounce_hint
            None,  # tag
            None,  # tags
            None,  # type
            None,  # size
            None,  # send_method
            None,  # extra
            import_id,
        )

    return listing_row


# One string object per status word: rows that share it pickle it once per batch.
_STATUS_OBJECT = {s: s for s in _STATUSES}

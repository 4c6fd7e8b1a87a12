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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from sys import intern
from typing import Any

from maillog_cli import importers
from maillog_cli.dates import MAX_YEAR, MIN_YEAR, to_iso
from maillog_cli.importers.base import finish, synthetic_message_id
from maillog_cli.model import EVENT_KEYS, Event
from maillog_cli.normalize import (
    address,
    bounce_pattern,
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
_STR_OR_NONE = frozenset({str, type(None)})

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


def _shared(value: Any) -> str | None:
    """`_text`, as one string object per distinct value (sys.intern): a provider or a raw
    status repeats on every row, and the forked parser's batches pickle a string once and
    then refer to it (pickling 0.97 -> 0.64 µs per row, unpickling 0.87 -> 0.74)."""
    return intern(value) if value and not value.isspace() else None


def _canonical(obj: dict[str, Any]) -> bool:
    """Whether a record is ours for sure: listing keys, plain string (or null) values, an
    integer or string reply code, a canonical status and our exact timestamp shape."""
    if "status" not in obj or not ENABLED or not _route(tuple(obj)):  # "status": cheap first
        return False
    if not _STR_OR_NONE.issuperset(map(type, obj.values())):  # one C pass, usually
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
    status = obj["status"]
    stamp = obj["timestamp"]
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
# What a row builder gives the forked parser: a store row and the email's other ids.
RowItem = tuple[Row, tuple[str, ...]]
_NO_ALIASES: tuple[str, ...] = ()


def row_builder(import_id: int | None) -> Callable[[dict[str, Any]], RowItem | None]:
    """`listing_row`: a canonical record straight to its store row, or None (then the
    plain path reads it). The row is `store.db.event_row` of the classified `listing_event`,
    field for field (tests/test_fast_path.py), without the Event in between: the forked
    parser sends rows, and on our own JSONL the Event, its classification and the row
    were ≈ 5 µs of its ≈ 18 per record."""
    from maillog_cli.store.db import _domain_of

    def listing_row(obj: dict[str, Any]) -> RowItem | None:
        if not _canonical(obj):
            return None
        get = obj.get
        status = _STATUS_OBJECT[obj["status"]]
        stamp = obj["timestamp"]
        smtp, enhanced, diag = _reply(get("smtp_code"), get("enhanced_code"), get("diagnostic"))
        raw_status = _shared(get("raw_status"))
        provider = _shared(get("provider"))
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
        diag, bounce_class, bounce_reason, pattern = _failure(
            status, smtp, enhanced, diag, None, bounce_class, bounce_reason
        )
        row = (
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
            diag,
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
            pattern,
        )
        return row, _NO_ALIASES

    return listing_row


def _failure(
    status: str,
    smtp: int | None,
    enhanced: str | None,
    diag: str | None,
    hint: str | None,
    bounce_class: str | None,
    bounce_reason: str | None,
) -> tuple[str | None, str | None, str | None, str | None]:
    """A row's failure fields as event_row makes them: the class and reason the record gave,
    the classifier's verdict for what it left out (bounce statuses only), the diagnostic
    scrubbed, and the pattern of the scrubbed text."""
    if status in BOUNCE_STATUSES and (bounce_class is None or bounce_reason is None):
        # here, not at the top: the classifier compiles its rules on import (≈ 65 ms)
        from maillog_cli.bounce.classify import classify

        verdict = classify(status, smtp, enhanced, diag, hint)
        if verdict is not None:
            bounce_class = bounce_class or verdict.bounce_class
            bounce_reason = bounce_reason or verdict.bounce_reason
    if diag is not None:
        diag = _scrub_text(diag)
    return diag, bounce_class, bounce_reason, bounce_pattern(status, diag)


# One string object per status word: rows that share it pickle it once per batch.
_STATUS_OBJECT = {s: s for s in _STATUSES}


# --- SendGrid Event Webhook records -----------------------------------------------------------


def sendgrid_builder(
    import_id: int | None, forced: bool
) -> Callable[[dict[str, Any]], RowItem | None]:
    """`sendgrid_row`: a SendGrid webhook event straight to its store row and aliases, or
    None (then the plain path reads it: skips, odd values and every error stay its own).
    The same, field for field, as `importers.sendgrid.parse`, the classifier and
    `store.db.event_row` (tests/test_fast_path.py compares the stores), without the Event;
    what depends only on a record's keys (which extras, which custom args) is worked out
    once per key order. `forced`: --format sendgrid (no detection, only its own check)."""
    from maillog_cli import importers
    from maillog_cli.importers import sendgrid as sg
    from maillog_cli.importers.base import CUSTOM_ID_KEYS, custom_ids, other_ids
    from maillog_cli.normalize import reply_fields, text_or_none
    from maillog_cli.store.db import _domain_of, extra_json

    detect = importers.detect
    cut_search = sg._CUT_AT.search

    def _cut_at(value: str) -> int | None:
        """Where sendgrid.cut_message_id cuts an id (None: nowhere)."""
        found = cut_search(value, 1)
        return found.start() if found else None

    status_map = sg.STATUS_MAP
    words = {w: w for w in status_map}
    extra_names = sg._EXTRA_KEYS
    routes: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...], bool]] = {}

    def route(keys: tuple[Any, ...]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        """(extra keys in record order, unknown keys in record order, may hold custom ids)."""
        found = routes.get(keys)
        if found is None:
            if len(routes) >= 1024:
                routes.clear()
            found = routes[keys] = (
                tuple(k for k in keys if k in extra_names),
                tuple(k for k in keys if k not in sg._KNOWN_KEYS),
                any(k in keys for k in CUSTOM_ID_KEYS),
            )
        return found

    def sendgrid_row(obj: dict[str, Any]) -> RowItem | None:
        if not ENABLED:
            return None
        if not (sg.detect(obj) if forced else detect(obj) is sg):
            return None
        word: Any = obj.get("event")
        status = status_map.get(word) if type(word) is str else None
        stamp = obj.get("timestamp")
        if status is None or type(stamp) is not int or not _EPOCH_MIN <= stamp <= _EPOCH_MAX:
            return None  # a skip, an unknown word or another time shape: the plain path
        word = words[word]  # the table's own string: pickled once per batch
        event_id = obj.get("sg_event_id")
        if event_id is not None and not isinstance(event_id, str | int):
            return None  # its record error
        extras, unknown, custom = route(tuple(obj))
        timestamp = _epoch_iso(stamp)
        smtp_id = message_id(obj.get("smtp-id"))
        long_id = message_id(obj.get("sg_message_id"))
        # sendgrid.cut_message_id and base.other_ids, which normalise these ids once more
        again_smtp, again_long = _again(smtp_id), _again(long_id)
        cut = again_long and again_long[: _cut_at(again_long)]
        mid = cut or smtp_id
        unique_args = obj.get("unique_args")
        if custom or unique_args is not None:
            aliases = other_ids(mid, smtp_id, long_id, *custom_ids(obj, unique_args))
        else:
            aliases = () if again_smtp is None or again_smtp == mid else (again_smtp,)
            if again_long is not None and again_long != mid and again_long != again_smtp:
                aliases += (again_long,)
        text = text_or_none(obj.get("response")) or text_or_none(obj.get("reason"))
        smtp, enhanced, diag = reply_fields(status, text, None, obj.get("status"))
        hint = sg.bounce_hint(status, word, obj)
        tags = sg.tags_of(obj.get("category"))
        extra = sg.extra_data(obj, status, tags, extras, unknown)
        event_id = text_or_none(event_id)
        email = obj.get("email")
        recipient = _address(email) if type(email) is str else address(email)  # lists too
        if not event_id:
            event_id = event_hash(sg.PROVIDER, mid, timestamp, word, recipient)
        if not mid:
            mid = synthetic_message_id(Event(timestamp, status, recipient=recipient))
        diag, bounce_class, bounce_reason, pattern = _failure(
            status, smtp, enhanced, diag, hint, None, None
        )
        row = (
            event_id,
            mid,
            timestamp,
            sg.PROVIDER,
            "outbound",
            status,
            word,
            None,  # sender
            recipient,
            _domain_of(recipient),
            None,  # subject
            smtp,
            enhanced,
            diag,
            bounce_class,
            bounce_reason,
            hint,
            _scrub_text(tags[0]) if tags else None,
            _tags_json(tuple(tags)) if tags else None,
            "marketing" if obj.get("marketing_campaign_id") not in (None, "") else None,
            None,  # size
            None,  # send_method
            extra_json(extra) if extra else None,
            import_id,
            pattern,
        )
        return row, aliases

    return sendgrid_row


def _again(value: str | None) -> str | None:
    """normalize.message_id of what it already returned: the same, unless one more pair of
    angle brackets encloses it (`<<id>>` loses one pair each time)."""
    if value is not None and value[0] == "<" and value[-1] == ">":
        return message_id(value)
    return value


_EPOCH_MIN = datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp()
_EPOCH_MAX = datetime(MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
_DAYS: dict[int, str] = {}


def _epoch_iso(seconds: int) -> str:
    """dates.to_iso of whole epoch seconds in range, with the day's "YYYY-MM-DDT" cached:
    webhook dumps repeat the day on thousands of events."""
    day, rest = divmod(seconds, 86400)
    prefix = _DAYS.get(day)
    if prefix is None:
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        prefix = _DAYS[day] = to_iso(day * 86400)[:11]
    return f"{prefix}{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.000Z"


@lru_cache(maxsize=4096)
def _tags_json(tags: tuple[str, ...]) -> str | None:
    """events.tags as event_row writes it: the scrubbed tags, sorted, as JSON."""
    from maillog_cli.redaction import scrub
    from maillog_cli.store.db import _dumps

    return _dumps(sorted({scrub(t) for t in tags}))


@dataclass(frozen=True, slots=True)
class Readers:
    """What records.iter_items tries on a record before detection: our canonical shape
    (`listing_event`, or in the forked parser `row_builder`), then SendGrid's (rows only)."""

    canonical: Callable[[dict[str, Any]], Any]
    sendgrid: Callable[[dict[str, Any]], Any] | None = None


EVENTS = Readers(listing_event)


def row_readers(import_id: int | None, forced_name: str | None) -> Readers:
    """The forked parser's readers: records straight to store rows (with --format, only
    that format's)."""
    sendgrid = None
    if forced_name in (None, "sendgrid"):
        sendgrid = sendgrid_builder(import_id, forced_name is not None)
    return Readers(row_builder(import_id), sendgrid)

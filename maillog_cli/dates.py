"""Timestamps in, one shape out; relative dates and durations for filters and retention.

Every stored or printed time is UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds,
truncated), so times sort as strings. ISO 8601 and epochs take a fast path;
python-dateutil is only asked for the rarer shapes because it is slow per call.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # dateutil loads lazily: it costs start-up time on every command
    from dateutil.relativedelta import relativedelta

from maillog_cli.errors import MaillogError, RecordError

MIN_YEAR, MAX_YEAR = 1971, 2200
_EPOCH_MIN = datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp()
_EPOCH_MAX = datetime(MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
_DIGITS = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
_ISO_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_CANONICAL = re.compile(r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-6]\d\.\d{3}Z")


def format_dt(dt: datetime) -> str:
    """A timezone-aware datetime as the one output shape (milliseconds truncated)."""
    dt = dt.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def _check_range(dt: datetime, value: object) -> datetime:
    if not (MIN_YEAR <= dt.year <= MAX_YEAR):
        raise RecordError(f"timestamp {value!r} is outside {MIN_YEAR}-{MAX_YEAR}")
    return dt


def _from_epoch(number: Decimal, value: object) -> str:
    if number >= Decimal(10) ** 14:
        number /= Decimal(1_000_000)
    elif number >= Decimal(10) ** 11:
        number /= Decimal(1000)
    if not (_EPOCH_MIN <= number <= _EPOCH_MAX):
        raise RecordError(f"timestamp {value!r} is not a plausible epoch time")
    whole = int(number)
    millis = int((number - whole) * 1000)
    dt = datetime.fromtimestamp(whole, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def to_iso(value: object, default_tz: tzinfo | None = None) -> str:
    """Normalise any timestamp a source may carry, or raise RecordError.

    Numbers and all-digit strings are Unix epochs (seconds below 1e11, milliseconds
    from 1e11, microseconds from 1e14); strings are ISO 8601 (any offset, any
    fraction length), RFC 2822, or whatever dateutil reads. Zone-less times are in
    `default_tz` (UTC when None).
    """
    if type(value) is int and _EPOCH_MIN <= value <= _EPOCH_MAX:
        # Whole epoch seconds: the hot path of webhook dumps.
        return f"{datetime.fromtimestamp(value, UTC):%Y-%m-%dT%H:%M:%S}.000Z"
    if isinstance(value, bool) or value is None:
        raise RecordError(f"timestamp {value!r} is not a time")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise RecordError(f"timestamp {value!r} is not a time")
        return _from_epoch(Decimal(str(value)), value)
    if isinstance(value, Decimal):
        return _from_epoch(value, value)
    if not isinstance(value, str):
        raise RecordError(f"timestamp {value!r} is not a time")
    if len(value) == 24 and _CANONICAL.fullmatch(value) and MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
        # Already our shape (our own output read back): the hot path of bulk imports.
        try:
            datetime(
                int(value[:4]),
                int(value[5:7]),
                int(value[8:10]),
                int(value[11:13]),
                int(value[14:16]),
                int(value[17:19]),
            )
        except ValueError as exc:
            raise RecordError(f"timestamp {value!r} is not a time") from exc
        return value
    text = value.strip()
    if not text:
        raise RecordError("timestamp is empty")
    if _DIGITS.match(text):
        try:
            return _from_epoch(Decimal(text), value)
        except InvalidOperation as exc:  # pragma: no cover - regex guards it
            raise RecordError(f"timestamp {value!r} is not a time") from exc
    dt: datetime | None = None
    if _ISO_LIKE.match(text) and len(text) <= 40:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = None
    if dt is None:
        dt = _slow_parse(text, value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_tz or UTC)
    return format_dt(_check_range(dt, value))


def _slow_parse(text: str, value: object) -> datetime:
    if len(text) > 100:
        raise RecordError("timestamp is too long to be a time")
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    from dateutil import parser as du_parser

    try:
        return du_parser.parse(text)
    except (ValueError, OverflowError, TypeError) as exc:
        raise RecordError(f"timestamp {value!r} is not a time") from exc


def parse_tz(name: str | None) -> tzinfo | None:
    """`--tz` value (an IANA name or an offset like +02:00) to a tzinfo."""
    if not name:
        return None
    from dateutil import tz as du_tz

    zone = du_tz.gettz(name)
    if zone is None:
        raise MaillogError(
            f"unknown time zone {name!r}",
            "use an IANA name such as Europe/Berlin or an offset like +02:00",
        )
    return zone


# --- durations and relative dates -------------------------------------------------

_DURATION_PART = re.compile(
    r"(\d+)\s*(y|yr|yrs|years?|mo|mon|months?|w|wk|weeks?|d|days?|h|hr|hours?|min|mins|minutes?|m|s|sec|seconds?)",
    re.I,
)
DURATION_FORMS = "90d, 12w, 6mo, 1y, 36h, 30min, or combinations like 1y6mo"


def parse_duration(text: str) -> relativedelta:
    """`90d`, `12w`, `6mo`, `1y`, `36h`, `1y6mo` … → relativedelta; ValueError otherwise."""
    from dateutil.relativedelta import relativedelta

    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError(f"empty duration; use {DURATION_FORMS}")
    pos, total = 0, relativedelta()
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        n, unit = int(m.group(1)), m.group(2)
        if n > 100_000:
            raise ValueError(f"duration {text!r} is too large")
        if unit.startswith("y"):
            total += relativedelta(years=n)
        elif unit.startswith("mo"):
            total += relativedelta(months=n)
        elif unit.startswith("w"):
            total += relativedelta(weeks=n)
        elif unit.startswith("d"):
            total += relativedelta(days=n)
        elif unit.startswith("h"):
            total += relativedelta(hours=n)
        elif unit.startswith("m"):
            total += relativedelta(minutes=n)
        else:
            total += relativedelta(seconds=n)
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"{text!r} is not a duration; use {DURATION_FORMS}")
    return total


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A filter's date: relative (`2h`, `7d`, `yesterday`, `last monday`) or absolute.

    Raises MaillogError with the accepted forms when it cannot be read.
    """
    now = now or datetime.now(UTC)
    s = text.strip().lower()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if s == "now":
        return now
    if s == "today":
        return today
    if s == "yesterday":
        return today - timedelta(days=1)
    if s.startswith("last ") and s[5:] in _WEEKDAYS:
        back = (today.weekday() - _WEEKDAYS.index(s[5:])) % 7 or 7
        return today - timedelta(days=back)
    if s.startswith("last ") and s[5:] in ("week", "month", "year"):
        return now - parse_duration("1" + {"week": "w", "month": "mo", "year": "y"}[s[5:]])
    try:
        return now - parse_duration(s.removesuffix(" ago"))
    except ValueError:
        pass
    try:
        iso = to_iso(text)
    except RecordError as exc:
        raise MaillogError(
            f"cannot read the date {text!r}",
            "use an absolute date (2026-01-31, 2026-01-31T12:00Z) or a relative one (2h, 7d, 6mo, yesterday, last monday)",
        ) from exc
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))

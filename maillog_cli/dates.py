"""Timestamps in, one shape out; relative dates and durations for filters and retention.

Every stored or printed time is UTC as `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds,
truncated), so times sort as strings. ISO 8601 and epochs take a fast path;
python-dateutil is only asked for the rarer shapes because it is slow per call.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
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
    try:
        return format_dt(_check_range(dt, value))
    except (ValueError, OverflowError) as exc:  # a UTC offset of 24 h or more, a year past 9999
        if isinstance(exc, RecordError):
            raise
        raise RecordError(f"timestamp {value!r} has an impossible UTC offset") from None


# Two defaults that differ in year, month and day: whatever dateutil takes from the default
# instead of the text shows up as a difference between the two readings.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))


# "UTC+2", "GMT-05:30": dateutil reads these the POSIX way (UTC+2 is two hours BEHIND UTC),
# which no log writer means; they are rewritten to the ISO offset before parsing.
_UTC_PLUS = re.compile(r"\s*(?:UTC|GMT)\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$", re.I)
# A trailing word that names a zone ("CEST", "(PST)"). RFC 2822's parser returns a time it
# cannot place without a zone, which would be stored as UTC, hours off and silently.
_ZONE_WORD = re.compile(r"\s\(?([A-Za-z]{2,6})\)?\s*$")
_UTC_WORDS = frozenset({"UT", "UTC", "GMT", "Z", "AM", "PM"})
# Zone abbreviations with one meaning, as fixed offsets in hours: RFC 822's North American
# names (which email.utils already reads in an RFC 2822 date), and the European, Asian and
# Pacific ones exports write. Ambiguous ones (IST, BST, AST…) stay refused: a guess would be
# hours off for someone.
ZONE_HOURS: dict[str, float] = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
    "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3,
    "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
_ZONE_SECONDS = {name: int(hours * 3600) for name, hours in ZONE_HOURS.items()}
# An RFC 2822 date whose offset is written with a colon ("Fri, 1 Aug 2014 16:45:32 -04:00",
# as Postmark's inbound `Date` shows it): RFC 2822's parser drops the zone it cannot read
# and returns the clock time as if it were UTC, hours off. It is rewritten to `-0400` first.
_COLON_OFFSET = re.compile(r"(\d:\d{2}\s+[+-]\d{2}):(\d{2})(\s*\([^()]*\))?\s*$")
# RFC 2822's parser skips an "AM"/"PM" it does not expect: "10:00 PM" came back as 10:00.
_TWELVE_HOUR = re.compile(r"\d\s*[AP]\.?M\b", re.I)


class _UnplacedZone(Exception):
    """A zone name dateutil found that ZONE_HOURS does not place (from `_zone_seconds`)."""


def _zone_seconds(name: str, offset: int | None) -> int | None:
    """dateutil's `tzinfos`: UTC and the abbreviations of ZONE_HOURS, as seconds east of
    UTC; any other name is refused (dateutil would store the time as UTC, hours off)."""
    if not name:
        return offset  # a numeric offset alone ("+01:00"): as written
    if name.upper() in _UTC_WORDS:
        return 0
    seconds = _ZONE_SECONDS.get(name.upper())
    if seconds is None:
        raise _UnplacedZone(name)
    return seconds


def _unplaced_zone(value: object, name: str) -> RecordError:
    return RecordError(
        f"timestamp {value!r} names a time zone maillog cannot place ({name}); "
        "write it with a UTC offset such as +01:00"
    )


def _slow_parse(text: str, value: object) -> datetime:
    """RFC 2822 or dateutil, but only a FULL date in a zone it can place: a bare "Tuesday",
    "10:30", "March" or "5 pm" would otherwise be completed from today, and an unknown zone
    name ("CEST") read as UTC, each stored as a wrong, silent time."""
    if len(text) > 100:
        raise RecordError("timestamp is too long to be a time")
    offset = _UTC_PLUS.search(text)
    if offset:
        sign, hours, minutes = offset.groups()
        text = f"{text[: offset.start()]} {sign}{int(hours):02d}:{minutes or '00'}"
    text = _COLON_OFFSET.sub(r"\1\2\3", text)
    from email.utils import parsedate_to_datetime  # here: email.utils costs every start-up 5 ms

    try:
        if _TWELVE_HOUR.search(text):
            raise ValueError("a 12-hour clock: dateutil's")
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    else:
        zone = _ZONE_WORD.search(text)
        if dt.tzinfo is None and zone and zone.group(1).upper() not in _UTC_WORDS:
            seconds = _ZONE_SECONDS.get(zone.group(1).upper())
            if seconds is None:
                raise _unplaced_zone(value, zone.group(1))
            dt = dt.replace(tzinfo=timezone(timedelta(seconds=seconds)))
        return dt
    import warnings

    from dateutil import parser as du_parser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", du_parser.UnknownTimezoneWarning)
            first, second = (
                du_parser.parse(text, default=d, tzinfos=_zone_seconds) for d in _DEFAULTS
            )
    except _UnplacedZone as exc:
        raise _unplaced_zone(value, str(exc)) from None
    except du_parser.UnknownTimezoneWarning:
        zone = _ZONE_WORD.search(text)
        raise _unplaced_zone(value, zone.group(1) if zone else "a zone name") from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise RecordError(f"timestamp {value!r} is not a time") from exc
    if first.date() != second.date():
        raise RecordError(f"{value!r} is not a full date (give year, month and day)")
    return first


_TZ_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.I)
# IANA names are words joined by "/": nothing that could climb out of the zone directory.
_TZ_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,40}(?:/[A-Za-z0-9][A-Za-z0-9_+-]{0,40}){0,3}")


def parse_tz(name: str | None) -> tzinfo | None:
    """`--tz` value (an IANA name, UTC, or an offset like +02:00) to a tzinfo.

    The name is checked before dateutil sees it: dateutil reads any path it is given
    (`../../etc/passwd`) and fails with a traceback on files that are not zones.
    """
    if not name:
        return None
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    unknown = MaillogError(
        f"unknown time zone {name!r}",
        "use an IANA name such as Europe/Berlin, UTC, or an offset like +02:00",
    )
    offset = _TZ_OFFSET.fullmatch(text)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24) or int(minutes or 0) >= 60:
            raise unknown
        return timezone(-delta if sign == "-" else delta)
    if not _TZ_NAME.fullmatch(text) or ".." in text:
        raise unknown
    import warnings

    from dateutil import tz as du_tz

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zone = du_tz.gettz(text)
    except Exception:  # dateutil raises ValueError/OSError for files that are not zones
        zone = None
    if zone is None:
        raise unknown
    return zone


# --- durations and relative dates -------------------------------------------------

_DURATION_PART = re.compile(
    # longest spelling first: a regex alternation takes the first that matches ("3days" ≠ "3d"+"ays")
    r"(\d+)\s*(years?|yrs?|y|months?|mon|mo|weeks?|wks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)",
    re.I,
)
DURATION_FORMS = "90d, 12w, 6mo, 1y, 36h, 30min, or combinations like 1y6mo"


# (how a unit's spelling starts, its name); "mo" before "m": months before minutes.
_UNITS: tuple[tuple[str, str], ...] = (("y", "years"), ("mo", "months"), ("w", "weeks"))
_UNITS += (("d", "days"), ("h", "hours"), ("m", "minutes"), ("s", "seconds"))


class DurationTooLarge(ValueError):
    """A well-formed duration past any time maillog stores (not a typo: said so)."""


def _duration_parts(text: str) -> dict[str, int]:
    """`1y6mo` → {"years": 1, "months": 6}; ValueError with the accepted forms otherwise."""
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError(f"empty duration; use {DURATION_FORMS}")
    pos, parts = 0, dict[str, int]()
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        n, unit = int(m.group(1)), m.group(2)
        if n > 100_000:
            raise DurationTooLarge(f"duration {text!r} is too large")
        key = next(name for prefix, name in _UNITS if unit.startswith(prefix))
        parts[key] = parts.get(key, 0) + n
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"{text!r} is not a duration; use {DURATION_FORMS}")
    return parts


def parse_duration(text: str) -> relativedelta:
    """`90d`, `12w`, `6mo`, `1y`, `36h`, `1y6mo` … → relativedelta; ValueError otherwise."""
    from dateutil.relativedelta import relativedelta

    return relativedelta(**_duration_parts(text))


def _ago(text: str, now: datetime) -> datetime:
    """`now` minus a duration. Only years and months need dateutil's calendar arithmetic
    (and its import time): a `7d` or `36h` filter is plain timedelta, to the microsecond."""
    parts = _duration_parts(text)
    if "years" in parts or "months" in parts:
        try:
            return now - parse_duration(text)
        except ValueError:  # dateutil: "year -6974 is out of range"
            raise DurationTooLarge(f"duration {text!r} is too large") from None
    return now - timedelta(**parts)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ABBR = {d[:3]: d for d in _WEEKDAYS} | {
    "tues": "tuesday",
    "thur": "thursday",
    "thurs": "thursday",
}
_CLOCK = re.compile(r"(?:at\s*)?(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?")
WHEN_FORMS = (
    "use an absolute date (2026-01-31, 2026-01-31T12:00Z) or a relative one"
    " (2h, 7d, 6mo, yesterday, monday, last monday, 3pm, yesterday 15:00)"
)


def now_utc() -> datetime:
    """The current time: the one clock relative dates use (tests replace it)."""
    return datetime.now(UTC)


def _clock(text: str) -> tuple[int, int, int] | None:
    """`3pm`, `15:00`, `10:30:15`, `5 pm`, `at 9am` → (h, m, s); None when not a clock time."""
    m = _CLOCK.fullmatch(text)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    meridiem = (m.group(4) or "").replace(".", "")
    if not meridiem and m.group(2) is None:
        return None  # a bare number is not a clock time ("15" could be a day or a count)
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second


def _day_word(word: str, today: datetime) -> datetime | None:
    """today / yesterday / a weekday (its most recent occurrence, today included) /
    `last WEEKDAY` (strictly before today) → that day's midnight; None otherwise."""
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    last = word.startswith("last ")
    name = word[5:].strip() if last else word
    name = _WEEKDAY_ABBR.get(name, name)
    if name not in _WEEKDAYS:
        return None
    back = (today.weekday() - _WEEKDAYS.index(name)) % 7
    if last and back == 0:
        back = 7
    return today - timedelta(days=back)


def _words_when(s: str, now: datetime) -> datetime | None:
    """Day words and clock words, always resolved to the PAST: `monday` on a Thursday is
    three days ago (never next Monday), `3pm` is today's 3 pm once it has passed, else
    yesterday's. A day word with a clock (`yesterday 15:00`, `monday 9am`) is that day."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day = _day_word(s, today)
    if day is not None:
        return day
    clock = _clock(s)
    if clock is not None:
        at = today.replace(hour=clock[0], minute=clock[1], second=clock[2])
        return at if at <= now else at - timedelta(days=1)
    for cut in range(len(s) - 1, 0, -1):
        if s[cut] != " ":
            continue
        day, clock = _day_word(s[:cut].strip(), today), _clock(s[cut:].strip())
        if day is not None and clock is not None:
            return day.replace(hour=clock[0], minute=clock[1], second=clock[2])
    return None


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A filter's date: relative (`2h`, `7d`, `yesterday`, `monday`, `3pm`) or absolute.

    Words mean their most recent past occurrence; an absolute date must be a full date.
    Raises MaillogError with the accepted forms when it cannot be read.
    """
    now = now or now_utc()
    s = " ".join(text.strip().lower().split())
    if s == "now":
        return now
    words = _words_when(s, now)
    if words is not None:
        return words
    if s.startswith("last ") and s[5:] in ("week", "month", "year"):
        return _ago("1" + {"week": "w", "month": "mo", "year": "y"}[s[5:]], now)
    try:
        ago = _ago(s.removesuffix(" ago"), now)
    except (DurationTooLarge, OverflowError):
        ago = datetime.min.replace(tzinfo=UTC)
    except ValueError:
        ago = None
    if ago is not None:
        if ago.year < MIN_YEAR:  # `800000d` was "not a time"; `100000d` reached 1753
            raise MaillogError(
                f"cannot read the date {text!r}: it reaches back before {MIN_YEAR}, older"
                " than any time maillog stores",
                "give a shorter duration, or leave the option out for no lower bound",
            )
        return ago
    try:
        iso = to_iso(text)
    except RecordError as exc:
        reason = str(exc).replace(f"timestamp {text!r} ", "").replace(f"{text!r} ", "")
        raise MaillogError(f"cannot read the date {text!r}: it {reason}", WHEN_FORMS) from None
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def parse_since(text: str, now: datetime | None = None, flag: str = "--since") -> datetime:
    """A start time, which cannot lie in the future: such a filter matches nothing, and
    an empty answer with exit 0 would look like "no mail" rather than a mistyped date."""
    now = now or now_utc()
    at = parse_when(text, now)
    if at > now:
        raise MaillogError(
            f"{flag} {text!r} is {format_dt(at)}, in the future",
            "give a time in the past (e.g. 2h, yesterday, monday, 2026-01-31)",
        )
    return at

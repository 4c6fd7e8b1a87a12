"""maillog_cli/dates.py: one timestamp shape out (UTC, milliseconds truncated), epochs by size,
zones, durations and the relative words filters accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from maillog_cli.dates import format_dt, parse_duration, parse_tz, parse_when, to_iso
from maillog_cli.errors import MaillogError, RecordError

# A Wednesday, with microseconds, so truncation and weekday arithmetic both show.
NOW = datetime(2026, 3, 4, 15, 30, 12, 345678, tzinfo=UTC)


# --- format_dt / to_iso: truncation, never rounding ---------------------------------------------


def test_format_dt_truncates_to_milliseconds_and_converts_to_utc() -> None:
    assert format_dt(datetime(2024, 1, 1, 23, 59, 59, 999999, tzinfo=UTC)) == (
        "2024-01-01T23:59:59.999Z"
    )
    plus2 = timezone(timedelta(hours=2))
    assert format_dt(datetime(2024, 1, 1, 1, 0, 0, 1500, tzinfo=plus2)) == (
        "2023-12-31T23:00:00.001Z"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.123Z"),  # nanoseconds
        ("2024-01-01T00:00:00.9999Z", "2024-01-01T00:00:00.999Z"),  # not rounded up to :01
        ("2024-06-20T07:00:00+02:00", "2024-06-20T05:00:00.000Z"),
        ("Thu, 20 Jun 2024 07:00:00 +0200", "2024-06-20T05:00:00.000Z"),  # RFC 2822
        ("2024-06-20 07:00", "2024-06-20T07:00:00.000Z"),  # zone-less: UTC
        ("June 20 2024 7am", "2024-06-20T07:00:00.000Z"),  # dateutil's shapes
        ("2024-06-20T07:00:00.000Z", "2024-06-20T07:00:00.000Z"),  # our own shape back
    ],
)
def test_strings_become_the_one_shape(value: str, expected: str) -> None:
    assert to_iso(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1700000000, "2023-11-14T22:13:20.000Z"),  # seconds
        (1700000000123, "2023-11-14T22:13:20.123Z"),  # milliseconds from 1e11
        (1700000000123456, "2023-11-14T22:13:20.123Z"),  # microseconds from 1e14
        (1700000000.5, "2023-11-14T22:13:20.500Z"),
        ("1700000000", "2023-11-14T22:13:20.000Z"),  # all-digit strings are epochs too
        ("1700000000.1239", "2023-11-14T22:13:20.123Z"),  # truncated
        (Decimal("1700000000.001"), "2023-11-14T22:13:20.001Z"),
    ],
)
def test_epochs_by_magnitude(value: object, expected: str) -> None:
    assert to_iso(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "is not a time"),
        (None, "is not a time"),
        (float("nan"), "is not a time"),
        (float("inf"), "is not a time"),
        (5, "not a plausible epoch"),
        (99999999999, "not a plausible epoch"),  # just below the millisecond range
        ("1900-01-01T00:00:00Z", "outside 1971-2200"),
        ("2024-02-30T00:00:00.000Z", "is not a time"),  # our shape, impossible date
        ("", "is empty"),
        ("   ", "is empty"),
        ("x" * 101, "too long"),
        ("not a time", "is not a time"),
        ([2024], "is not a time"),
    ],
)
def test_what_is_not_a_time_is_a_record_error(value: object, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        to_iso(value)


def test_a_negative_number_string_is_not_a_date() -> None:
    with pytest.raises(RecordError):
        to_iso("-5")


# --- zones ---------------------------------------------------------------------------------------


def test_zone_less_times_use_the_default_zone_with_its_daylight_saving() -> None:
    berlin = parse_tz("Europe/Berlin")
    assert to_iso("2024-06-20 07:00", berlin) == "2024-06-20T05:00:00.000Z"  # CEST, +2
    assert to_iso("2024-01-20 07:00", berlin) == "2024-01-20T06:00:00.000Z"  # CET, +1
    assert to_iso("2024-06-20T07:00:00+00:00", berlin) == "2024-06-20T07:00:00.000Z"  # explicit
    assert to_iso(1700000000, berlin) == "2023-11-14T22:13:20.000Z"  # epochs have no zone


def test_no_zone_name_means_none_and_an_unknown_one_says_what_to_use() -> None:
    assert parse_tz(None) is None and parse_tz("") is None
    with pytest.raises(MaillogError, match="unknown time zone 'Mars/Olympus'") as exc:
        parse_tz("Mars/Olympus")
    assert "Europe/Berlin" in str(exc.value.hint)


def test_an_offset_is_a_zone_as_the_hint_promises() -> None:
    assert to_iso("2024-06-20 07:00", parse_tz("+02:00")) == "2024-06-20T05:00:00.000Z"


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", relativedelta(days=90)),
        ("12w", relativedelta(weeks=12)),
        ("6mo", relativedelta(months=6)),
        ("1y", relativedelta(years=1)),
        ("36h", relativedelta(hours=36)),
        ("30min", relativedelta(minutes=30)),
        ("1m", relativedelta(minutes=1)),  # m is minutes; months are mo
        ("45s", relativedelta(seconds=45)),
        ("1y6mo", relativedelta(years=1, months=6)),
        (" 1Y 6MO ", relativedelta(years=1, months=6)),  # case and spaces do not matter
    ],
)
def test_durations(text: str, expected: relativedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5x", "d", "1y junk", "-3d", "100001d"])
def test_what_is_not_a_duration_says_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3days", relativedelta(days=3)),
        ("2hours", relativedelta(hours=2)),
        ("2years", relativedelta(years=2)),
        ("30mins", relativedelta(minutes=30)),
        ("10sec", relativedelta(seconds=10)),
        ("1week", relativedelta(weeks=1)),
        ("2 months 3 days", relativedelta(months=2, days=3)),
        ("5m", relativedelta(minutes=5)),
    ],
)
def test_spelled_out_units(text: str, expected: relativedelta) -> None:
    assert parse_duration(text) == expected


# --- relative words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("today", datetime(2026, 3, 4, tzinfo=UTC)),  # truncated to midnight UTC
        ("Yesterday", datetime(2026, 3, 3, tzinfo=UTC)),
        ("last monday", datetime(2026, 3, 2, tzinfo=UTC)),
        ("last wednesday", datetime(2026, 2, 25, tzinfo=UTC)),  # today's weekday: a week back
        ("last week", NOW - timedelta(weeks=1)),  # not truncated
        ("last month", datetime(2026, 2, 4, 15, 30, 12, 345678, tzinfo=UTC)),
        ("last year", datetime(2025, 3, 4, 15, 30, 12, 345678, tzinfo=UTC)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d ago", NOW - timedelta(days=7)),
        ("1mo", datetime(2026, 2, 4, 15, 30, 12, 345678, tzinfo=UTC)),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:00+01:00", datetime(2026, 1, 31, 11, 0, tzinfo=UTC)),
    ],
)
def test_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_when_defaults_to_the_real_clock() -> None:
    before = datetime.now(UTC)
    got = parse_when("1h")
    assert before - timedelta(hours=1, seconds=5) <= got <= datetime.now(UTC) - timedelta(hours=1)


def test_an_unreadable_date_names_the_accepted_forms() -> None:
    with pytest.raises(MaillogError, match="cannot read the date 'garbage'") as exc:
        parse_when("garbage", NOW)
    assert "2026-01-31" in str(exc.value.hint) and "last monday" in str(exc.value.hint)

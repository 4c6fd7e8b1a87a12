"""Weekday and clock words mean their most recent PAST occurrence (issue 16 #2).

On a Thursday, `--since monday` is three days ago (it meant next Monday), `--since friday`
last Friday (it meant tomorrow) and `--since 3pm` yesterday 15:00 when it is noon — and a
`--since` that still lies in the future is an error that says so, never an empty answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from maillog_cli import dates
from maillog_cli.dates import parse_since, parse_when
from maillog_cli.errors import MaillogError

THURSDAY_NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def at(text: str) -> str:
    return dates.format_dt(parse_when(text, THURSDAY_NOON))


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("monday", "2026-11-30T00:00:00.000Z"),
        ("Mon", "2026-11-30T00:00:00.000Z"),
        ("wednesday", "2026-12-02T00:00:00.000Z"),
        ("thursday", "2026-12-03T00:00:00.000Z"),  # today is Thursday: today
        ("friday", "2026-11-27T00:00:00.000Z"),  # never tomorrow
        ("sunday", "2026-11-29T00:00:00.000Z"),
        ("last thursday", "2026-11-26T00:00:00.000Z"),  # "last" skips today
        ("last monday", "2026-11-30T00:00:00.000Z"),
        ("today", "2026-12-03T00:00:00.000Z"),
        ("yesterday", "2026-12-02T00:00:00.000Z"),
    ],
)
def test_day_words_are_the_most_recent_past_day(word: str, expected: str) -> None:
    assert at(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("3pm", "2026-12-02T15:00:00.000Z"),  # not yet 3 pm today: yesterday's
        ("3 PM", "2026-12-02T15:00:00.000Z"),
        ("15:00", "2026-12-02T15:00:00.000Z"),
        ("11am", "2026-12-03T11:00:00.000Z"),  # already past: today's
        ("10:30", "2026-12-03T10:30:00.000Z"),
        ("12:00", "2026-12-03T12:00:00.000Z"),  # exactly now is not the future
        ("12am", "2026-12-03T00:00:00.000Z"),
        ("12pm", "2026-12-03T12:00:00.000Z"),
        ("yesterday 15:00", "2026-12-02T15:00:00.000Z"),
        ("monday 9am", "2026-11-30T09:00:00.000Z"),
    ],
)
def test_clock_words_are_the_most_recent_past_time(word: str, expected: str) -> None:
    assert at(word) == expected


def test_a_since_in_the_future_is_an_error_that_says_so() -> None:
    with pytest.raises(MaillogError, match="in the future"):
        parse_since("2026-12-04", THURSDAY_NOON)
    with pytest.raises(MaillogError, match="in the future"):
        parse_since("thursday 3pm", THURSDAY_NOON)
    assert parse_since("thursday 11am", THURSDAY_NOON) == datetime(2026, 12, 3, 11, tzinfo=UTC)


@pytest.mark.parametrize("word", ["March", "5", "13pm", "25:00", "tomorrow", "Tuesday next"])
def test_words_that_are_no_full_time_are_refused(word: str) -> None:
    with pytest.raises(MaillogError, match="cannot read the date"):
        parse_when(word, THURSDAY_NOON)


@pytest.fixture
def thursday_noon(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's clock (dates.now_utc) pinned to Thursday 2026-12-03 12:00 UTC."""
    monkeypatch.setattr(dates, "now_utc", lambda: THURSDAY_NOON)


def test_cli_since_words_through_a_real_store(cli, tmp_path: Path, thursday_noon) -> None:
    times = {
        "sat": "2026-11-28T10:00:00.000Z",
        "mon": "2026-11-30T08:00:00.000Z",
        "wed": "2026-12-02T16:00:00.000Z",
        "thu": "2026-12-03T11:00:00.000Z",
    }
    f = tmp_path / "rows.jsonl"
    f.write_bytes(
        b"".join(
            orjson.dumps(
                {"event_id": k, "message_id": f"{k}@x", "timestamp": t, "status": "delivered"}
            )
            + b"\n"
            for k, t in times.items()
        )
    )
    assert cli("import", f).exit_code == 0

    def since(word: str) -> list[str]:
        r = cli("search", "-f", "jsonl", "--since", word)
        assert r.exit_code == 0, r
        return [orjson.loads(line)["event_id"] for line in r.stdout.splitlines()]

    assert since("monday") == ["thu", "wed", "mon"]
    assert since("friday") == ["thu", "wed", "mon", "sat"]
    assert since("3pm") == ["thu", "wed"]
    assert since("thursday") == ["thu"]
    r = cli("search", "--since", "2026-12-04")
    assert r.exit_code == 1 and "in the future" in r.stderr
    r = cli("audit", "--since", "2027-01-01")
    assert r.exit_code == 1 and "in the future" in r.stderr


@pytest.mark.parametrize(
    "text",
    ["7d", "36h", "30min", "90s", "2w3d", "1 week 2 days", "100000s", "5 hours ago", "last week"]
    + ["6mo", "1y", "1y6mo2d", "last month", "3 months ago", "1y1d1h1m1s"],
)
def test_durations_go_back_exactly_as_calendar_arithmetic_does(text: str) -> None:
    """`--since 7d` avoids dateutil (start-up time) and still lands where relativedelta does."""
    from dateutil.relativedelta import relativedelta

    now = datetime(2024, 3, 31, 12, 30, 15, 123456, tzinfo=UTC)
    spelled = text.removeprefix("last ").removesuffix(" ago")
    spelled = {"week": "1w", "month": "1mo"}.get(spelled, spelled)
    assert isinstance(dates.parse_duration(spelled), relativedelta)
    assert parse_when(text, now) == now - dates.parse_duration(spelled)


@pytest.mark.parametrize("text", ["", "7x", "d7", "7d junk", "100001d"])
def test_a_bad_duration_is_refused_in_words(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        dates.parse_duration(text)

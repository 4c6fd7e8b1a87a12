"""Numeric UTC offsets in every spelling providers write them (dates.to_iso): RFC 2822
with `-0400`, with `-04:00` (Postmark's inbound `Date`), with a zone comment; ISO 8601
with `-04:00`, `-0400`, `-04`, and seven fraction digits (Postmark, .NET). A time with an
offset is stored in UTC, never as its clock time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli.dates import to_iso


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("Tue, 03 Mar 2026 10:00:01 -0400", "2026-03-03T14:00:01.000Z"),
        ("Tue, 03 Mar 2026 10:00:01 -04:00", "2026-03-03T14:00:01.000Z"),
        ("Tue, 3 Mar 2026 10:00:01 -0400 (EDT)", "2026-03-03T14:00:01.000Z"),
        ("Tue, 3 Mar 2026 10:00:01 -04:00 (EDT)", "2026-03-03T14:00:01.000Z"),
        ("3 Mar 2026 10:00 +05:30", "2026-03-03T04:30:00.000Z"),
        ("Tue, 03 Mar 2026 23:30:00 -09:30", "2026-03-04T09:00:00.000Z"),
        ("Tue, 03 Mar 2026 10:00:01 +0000", "2026-03-03T10:00:01.000Z"),
        ("2026-03-03T10:00:01-04:00", "2026-03-03T14:00:01.000Z"),
        ("2026-03-03T10:00:01.0183118-04:00", "2026-03-03T14:00:01.018Z"),
        ("2026-03-03T10:00:01-0400", "2026-03-03T14:00:01.000Z"),
        ("2026-03-03 10:00:01.674981-04", "2026-03-03T14:00:01.674Z"),
        ("2026-03-03 10:00:01 -04:00", "2026-03-03T14:00:01.000Z"),
    ],
)
def test_offsets_are_applied(text: str, utc: str) -> None:
    assert to_iso(text) == utc


def test_postmark_inbound_date_through_a_real_import(cli: Any, tmp_path: Path) -> None:
    """Postmark's inbound webhook `Date` is an RFC 2822 date with a colon in its offset."""
    body = {
        "FromFull": {"Email": "support@postmarkapp.com", "Name": "Support", "MailboxHash": ""},
        "ToFull": [{"Email": "in@inbound.example.com", "Name": "", "MailboxHash": ""}],
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "Subject": "Test subject",
        "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
        "Headers": [],
        "Attachments": [],
    }
    f = tmp_path / "inbound.json"
    f.write_text(json.dumps(body), encoding="utf-8")
    assert cli("import", f).exit_code == 0
    (row,) = (orjson.loads(x) for x in cli("search", "--format", "jsonl").stdout.splitlines())
    assert row["timestamp"] == "2014-08-01T20:45:32.000Z"

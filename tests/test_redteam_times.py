"""Red-team findings about times a source writes in words.

A time is stored right or refused with FILE:LINE, never stored hours off in silence:
`10:00 PM` is 22:00 (RFC 2822's parser skipped the PM), `UTC+2` is two hours ahead
(dateutil reads it the POSIX way, behind), a zone abbreviation with one meaning (`CEST`,
`EST`) is its offset, and one that is ambiguous or unknown (`IST`, `BST`) is a malformed
record, not UTC, and no library warning leaks out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maillog_cli.dates import to_iso
from maillog_cli.errors import RecordError

STORED = {
    "Nov 30 2026 10:00 PM": "2026-11-30T22:00:00.000Z",
    "Mon, 30 Nov 2026 10:00:00 PM +0100": "2026-11-30T21:00:00.000Z",
    "11/30/2026 9:05 p.m.": "2026-11-30T21:05:00.000Z",
    "2026-11-30 10:00:00 UTC+2": "2026-11-30T08:00:00.000Z",
    "2026-11-30 10:00 GMT-05:30": "2026-11-30T15:30:00.000Z",
    "Sun, 30 Nov 2026 10:00:00 PST": "2026-11-30T18:00:00.000Z",
    "Sun, 30 Nov 2026 10:00:00 +0100 (CET)": "2026-11-30T09:00:00.000Z",
    "2026-11-30 10:00:00 GMT": "2026-11-30T10:00:00.000Z",
    "Sun, 30 Nov 2026 10:00:00 CEST": "2026-11-30T08:00:00.000Z",
    "2026-11-30 10:00:00 CET": "2026-11-30T09:00:00.000Z",
    "2026-11-30 10:00 EST": "2026-11-30T15:00:00.000Z",
    "Nov 30 2026 10:00 PM PDT": "2026-12-01T05:00:00.000Z",
    "2026-11-30 10:00 AEDT": "2026-11-29T23:00:00.000Z",
}
REFUSED = ["Sun, 30 Nov 2026 10:00:00 BST", "2026-11-30 10:00:00 IST", "2026-11-30 10:00 XYZ"]


@pytest.mark.parametrize("text", STORED)
def test_a_time_in_words_is_the_time_it_says(text: str) -> None:
    assert to_iso(text) == STORED[text]


@pytest.mark.parametrize("text", REFUSED)
def test_a_zone_name_that_cannot_be_placed_is_refused(text: str) -> None:
    with pytest.raises(RecordError, match="cannot place"):
        to_iso(text)


def test_import_stores_each_time_right_or_names_the_line(cli, tmp_path: Path) -> None:
    src = tmp_path / "times.jsonl"
    times = [*STORED, *REFUSED]
    src.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"e{i}",
                    "message_id": f"m{i}",
                    "status": "delivered",
                    "timestamp": t,
                    "recipient": f"r{i}@example.com",
                }
            )
            + "\n"
            for i, t in enumerate(times)
        )
    )
    result = cli("import", str(src))
    assert result.exit_code == 1, result
    for line, text in enumerate(REFUSED, start=len(STORED) + 1):
        assert f"times.jsonl:{line}: timestamp {text!r} names a time zone" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
    rows = json.loads(cli("search", "--format", "json", "--limit", "0").stdout)
    got = {r["event_id"]: r["timestamp"] for r in rows}
    assert got == {f"e{i}": STORED[t] for i, t in enumerate(STORED)}

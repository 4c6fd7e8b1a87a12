"""Odd dates and numbers are record errors or one-line errors, never guesses or tracebacks.

issue 14 #9: a record's timestamp must be a full date; "Tuesday", "10:30", "March", "5 pm"
were completed from the import day (some in the future). issue 14 #13: UTC offsets of 24 h
or more, counts wider than 64 bits and `--tz` paths ended in tracebacks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
import typer

from maillog_cli.cli import app
from maillog_cli.dates import to_iso
from maillog_cli.errors import RecordError

NOT_FULL_DATES = [
    "Tuesday",
    "-1",
    "10:30",
    "March",
    "5 pm",
    "",
    "0",
    "March 2024",
    "12/31",
    "Mar 3",
]
FULL_DATES = {
    "2024-03-05": "2024-03-05T00:00:00.000Z",
    "2024-03-05 10:30": "2024-03-05T10:30:00.000Z",
    "Tue, 5 Mar 2024 10:30:00 +0100": "2024-03-05T09:30:00.000Z",
    "5 March 2024": "2024-03-05T00:00:00.000Z",
    "03/05/2024 5 pm": "2024-03-05T17:00:00.000Z",
    "1709634600": "2024-03-05T10:30:00.000Z",
    "2024-03-05T10:30:00+23:59": "2024-03-04T10:31:00.000Z",
}
BAD_OFFSETS = ["2024-01-01T00:00:00+25:00", "2024-01-01T00:00:00-24:00", "2024-01-01 00:00 +2400"]


@pytest.mark.parametrize("value", NOT_FULL_DATES + BAD_OFFSETS)
def test_a_record_time_must_be_a_full_date(value: str) -> None:
    with pytest.raises(RecordError):
        to_iso(value)


@pytest.mark.parametrize(("value", "expected"), FULL_DATES.items())
def test_full_dates_with_or_without_time_still_read(value: str, expected: str) -> None:
    assert to_iso(value) == expected


def test_import_reports_partial_dates_by_line_and_stores_none(
    cli, tmp_path: Path, db_path: Path
) -> None:
    values = ["2024-03-05T10:00:00Z", *NOT_FULL_DATES, *BAD_OFFSETS]
    f = tmp_path / "times.jsonl"
    f.write_bytes(
        b"".join(
            orjson.dumps({"event_id": f"e{i}", "timestamp": v, "status": "delivered"}) + b"\n"
            for i, v in enumerate(values)
        )
    )
    r = cli("import", f)
    assert r.exit_code == 1, r
    assert "Traceback" not in r.stderr
    assert f"{f}:2: " in r.stderr and "'Tuesday' is not a full date" in r.stderr
    for line in range(2, len(values) + 1):
        assert f"{f}:{line}:" in r.stderr, line
    stored = sqlite3.connect(db_path).execute("SELECT event_id, timestamp FROM events").fetchall()
    assert stored == [("e0", "2024-03-05T10:00:00.000Z")]


@pytest.mark.parametrize("value", BAD_OFFSETS)
@pytest.mark.parametrize(
    "args",
    [("search", "--since"), ("search", "--until"), ("audit", "--since"), ("tail", "--until")],
)
def test_offsets_of_a_day_or_more_in_filters_are_one_line_errors(
    cli, args: tuple[str, ...], value: str
) -> None:
    r = cli(*args, value)
    assert r.exit_code == 1, r
    assert "impossible UTC offset" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value", BAD_OFFSETS)
def test_prune_before_with_a_bad_offset_is_an_error(cli, tmp_path: Path, value: str) -> None:
    f = tmp_path / "one.jsonl"
    f.write_bytes(orjson.dumps({"timestamp": "2024-01-01T00:00:00Z", "status": "sent"}) + b"\n")
    assert cli("import", f).exit_code == 0
    r = cli("prune", "--before", value, "--yes")
    assert r.exit_code in (1, 2) and "Traceback" not in r.stderr
    assert "offset" in r.stderr


@pytest.mark.parametrize(
    "zone", ["../../etc/passwd", "/etc/passwd", ":/etc/passwd", "Nowhere/Land", "+25:00", "x" * 300]
)
def test_import_tz_refuses_anything_but_a_zone_in_one_line(cli, tmp_path: Path, zone: str) -> None:
    f = tmp_path / "one.jsonl"
    f.write_bytes(orjson.dumps({"timestamp": "2024-01-01 10:00", "status": "sent"}) + b"\n")
    r = cli("import", "--tz", zone, f)
    assert r.exit_code == 1, r
    assert "unknown time zone" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("zone", "stored"),
    [
        ("+02:00", "2024-01-01T08:00:00.000Z"),
        ("-0530", "2024-01-01T15:30:00.000Z"),
        ("UTC", "2024-01-01T10:00:00.000Z"),
        ("Europe/Berlin", "2024-01-01T09:00:00.000Z"),
    ],
)
def test_import_tz_takes_names_and_offsets(
    cli, tmp_path: Path, db_path: Path, zone: str, stored: str
) -> None:
    f = tmp_path / "one.jsonl"
    f.write_bytes(orjson.dumps({"timestamp": "2024-01-01 10:00", "status": "sent"}) + b"\n")
    r = cli("import", "--tz", zone, f)
    assert r.exit_code == 0, r
    assert sqlite3.connect(db_path).execute("SELECT timestamp FROM events").fetchone() == (stored,)


HUGE = "99999999999999999999"


def _numeric_options() -> list[tuple[tuple[str, ...], str, bool]]:
    """(command path, option, has a max) for every int/float option of the real CLI."""
    found: list[tuple[tuple[str, ...], str, bool]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, (*path, name))
        for p in getattr(cmd, "params", []):
            td = getattr(p, "type_descriptor", None)
            if td is not None and td.annotation in (int, float):
                found.append((path, p.opts[0], getattr(p, "max", None) is not None))

    walk(typer.main.get_command(app), ())
    return found


# Arguments that make each command runnable on a small store without side effects elsewhere.
_EXTRA = {
    ("prune",): ["--older-than", "1d", "--dry-run"],
    ("bounces", "reclassify"): ["--dry-run"],
    ("demo",): ["--messages", "1"],
    ("tail",): [],
    ("sql",): ["SELECT 1"],
}


@pytest.mark.parametrize(
    ("path", "option"),
    [(p, o) for p, o, bounded in _numeric_options() if not bounded],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_every_unbounded_number_option_takes_a_huge_value(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...], option: str
) -> None:
    f = tmp_path / "one.jsonl"
    f.write_bytes(
        orjson.dumps(
            {"timestamp": "2024-01-01T10:00:00Z", "status": "bounced", "diagnostic": "550 5.1.1 no"}
        )
        + b"\n"
    )
    assert cli("import", f).exit_code in (0, 1)
    monkeypatch.chdir(tmp_path)
    extra = list(_EXTRA.get(path, []))
    if path == ("demo",):
        extra += ["--out", str(tmp_path / "demo")]
    r = cli(*path, option, HUGE, *extra)
    assert r.exit_code in (0, 1), r
    assert "Traceback" not in r.stderr and "OverflowError" not in r.stderr

"""CSV output is formula-safe for every line break, and our own CSV imports back unchanged.

issue 14 #3: with `lineterminator="\\n"` the csv module left a bare CR unquoted, and a
spreadsheet starts a new row there — with a live `=cmd|…` formula at its start.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from maillog_cli.render.output import csv_line, neutralise_cell, unguard_cell

HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\t=tab",
    "\r=cr",
    "bare\r=cmd|' /C calc'!A0",
    "lf\n=cmd|x",
    "crlf\r\n@SUM(1)",
    "'=already guarded by someone",
    "''=two quotes",
    "'plain quote",
    "'",
    'q"uote, comma',
    "plain",
]


def hostile_rows() -> list[dict[str, object]]:
    return [
        {
            "event_id": f"e{i}",
            "message_id": f"m{i}@x.example",
            "timestamp": f"2024-01-01T00:00:{i:02d}.000Z",
            "provider": "sendgrid",
            "status": "bounced",
            "raw_status": value,
            "recipient": f"u{i}@x.org",
            "sender": "app@x.org",
            "subject": value,
            "diagnostic": f"550 {value}",
        }
        for i, value in enumerate(HOSTILE)
    ]


@pytest.mark.parametrize("value", HOSTILE)
def test_every_field_with_cr_or_lf_is_quoted(value: str) -> None:
    line = csv_line(["a", neutralise_cell(value), "b"])
    # Split the way a spreadsheet does: any CR or LF outside quotes starts a new row.
    inside = False
    for ch in line[:-1]:
        if ch == '"':
            inside = not inside
        assert inside or ch not in "\r\n", repr(line)
    assert next(csv.reader(io.StringIO(line, newline=""))) == ["a", neutralise_cell(value), "b"]


@pytest.mark.parametrize("value", HOSTILE)
def test_no_cell_starts_a_formula_after_any_line_break(value: str) -> None:
    cell = neutralise_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unguard_cell(cell) == value


def export_csv(db: Path) -> bytes:
    """`maillog search --format csv` as a real process writes it (bytes: CRLF kept)."""
    done = subprocess.run(
        [sys.executable, "-m", "maillog_cli", "--db", str(db), "search", "-n", "0", "-f", "csv"],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    return done.stdout


def test_export_import_export_is_lossless(cli, tmp_path: Path) -> None:
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in hostile_rows()))
    first_db, second_db = tmp_path / "first.db", tmp_path / "second.db"
    assert cli("--db", first_db, "import", source).exit_code == 0
    first = export_csv(first_db)
    assert b"\r" in first
    exported = tmp_path / "export.csv"
    exported.write_bytes(first)
    r = cli("--db", second_db, "import", exported)
    assert r.exit_code == 0, r
    assert export_csv(second_db) == first

    def stored(db: Path) -> list[tuple[object, ...]]:
        return (
            sqlite3.connect(db)
            .execute(
                "SELECT event_id, raw_status, subject, diagnostic FROM events ORDER BY event_id"
            )
            .fetchall()
        )

    assert stored(second_db) == stored(first_db)
    assert {row[2] for row in stored(second_db)} == set(HOSTILE)


def test_a_foreign_csv_keeps_its_leading_quote(cli, tmp_path: Path, db_path: Path) -> None:
    """Only maillog's own format removes the guard: a generic CSV's ' is data."""
    f = tmp_path / "generic.csv"
    f.write_text("time,email,event,subject\n2024-01-01T00:00:00Z,a@x.org,delivered,'=x\n")
    assert cli("import", "--format", "generic", f).exit_code == 0
    assert sqlite3.connect(db_path).execute("SELECT subject FROM events").fetchone() == ("'=x",)

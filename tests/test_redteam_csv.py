"""Red-team findings about spreadsheet files.

Excel saves "CSV" with `;` where the comma is the decimal mark, and a TSV is a CSV of
tabs: both were refused as "CSV without the required columns (has Date;Recipient;…)"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maillog_cli.ingest.readers import csv_delimiter


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "excel.csv",
            'Date;Recipient;Status;Subject\r\n2026-11-30 10:00;A@B.com;delivered;"Hi; there, you"\r\n',
        ),
        (
            "export.tsv",
            "timestamp\tstatus\trecipient\tsubject\n2026-11-30T10:00:00Z\tdelivered\ta@b.com\tHi; there, you\n",
        ),
    ],
)
def test_semicolon_and_tab_separated_files_import(
    cli, tmp_path: Path, name: str, text: str
) -> None:
    src = tmp_path / name
    src.write_text(text)
    result = cli("import", str(src))
    assert result.exit_code == 0, result
    (row,) = json.loads(cli("search", "--format", "json").stdout)
    assert (row["recipient"], row["status"], row["subject"]) == (
        "a@b.com",
        "delivered",
        "Hi; there, you",
    )
    assert row["timestamp"] == "2026-11-30T10:00:00.000Z"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("timestamp,status,recipient", ","),
        ('"a;b",status,timestamp', ","),  # a comma anywhere: a CSV, whatever its names hold
        ("timestamp;status;recipient", ";"),
        ("timestamp\tstatus\trecipient", "\t"),
        ("timestamp", ","),
    ],
)
def test_the_delimiter_is_the_headers(header: str, expected: str) -> None:
    assert csv_delimiter(header + "\n") == expected

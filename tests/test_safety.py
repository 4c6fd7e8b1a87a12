"""Untrusted text is data: never escape sequences, markup, or spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson

from maillog_cli.render.output import neutralise_cell, visible

EVIL_SUBJECT = "\x1b[2J\x1b]8;;http://evil\x07click\u202eevil[bold]x[/bold] [link=http://e]y[/link] :smile: \x9b31m"


def load(cli, tmp_path: Path, **fields: object) -> None:
    row = {
        "event_id": "x1",
        "message_id": "m@x",
        "timestamp": "2026-01-01T00:00:00Z",
        "status": "bounced",
        "recipient": "a@b.example",
        **fields,
    }
    f = tmp_path / "evil.jsonl"
    f.write_bytes(orjson.dumps(row) + b"\n")
    assert cli("import", f).exit_code == 0


def test_visible_escapes_controls_and_bidi() -> None:
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("x\u202ey") == "x\\u202ey"
    assert visible("\x9b") == "\\x9b"
    assert visible("tab\tnew\nline") == "tab\\x09new\\x0aline"
    assert visible("[bold]kept[/bold] é ✉") == "[bold]kept[/bold] é ✉"


def test_table_and_tsv_never_carry_raw_controls(cli, tmp_path: Path) -> None:
    load(cli, tmp_path, subject=EVIL_SUBJECT, diagnostic="550 [red]no[/red]\x1b[31m")
    for args in (("search",), ("show", "m@x")):
        out = cli(*args).stdout
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\x9b" not in out
        assert "\\x1b[2J" in out
        assert "[bold]x[/bold]" in out and "[link=http://e]" in out and ":smile:" in out


def test_json_output_is_lossless_but_escaped(cli, tmp_path: Path) -> None:
    load(cli, tmp_path, subject=EVIL_SUBJECT)
    out = cli("search", "-f", "jsonl").stdout
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out
    assert orjson.loads(out)["subject"] == EVIL_SUBJECT


def test_csv_cells_cannot_become_formulas(cli, tmp_path: Path) -> None:
    load(cli, tmp_path, subject='=HYPERLINK("http://evil")', sender="+1@x", diagnostic="-2+3")
    rows = list(csv.DictReader(io.StringIO(cli("search", "-f", "csv").stdout)))
    assert rows[0]["subject"].startswith("'=")
    assert rows[0]["diagnostic"] == "'-2+3"
    assert neutralise_cell("@SUM(A1)") == "'@SUM(A1)" and neutralise_cell("\tx") == "'\tx"
    assert neutralise_cell("plain") == "plain"


def test_errors_with_hostile_file_names_are_visible(cli, tmp_path: Path) -> None:
    r = cli("import", str(tmp_path / "no\x1b[2Jfile.jsonl"))
    assert r.exit_code == 1
    assert "\x1b" not in r.stderr and "\\x1b[2J" in r.stderr

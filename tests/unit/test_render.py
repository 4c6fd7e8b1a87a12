"""maillog_cli/render/output.py: untrusted text never becomes terminal escapes, markup or
spreadsheet formulas; machine formats stay exact and parseable."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from maillog_cli.render.output import (
    json_line,
    neutralise_cell,
    one_line,
    table,
    visible,
    write_rows,
    write_tsv,
)

HOSTILE = "\x1b[31mred\x1b[0m \u202egnp.exe\u202c \x07bell\x00 \x9bcsi \u200bzw \ufeffbom \x7fdel"


# --- visible -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (550, "550"),
        ("plain ascii", "plain ascii"),
        ("Grüße, 日本, ✓ 🎉", "Grüße, 日本, ✓ 🎉"),  # printable Unicode stays as it is
        ("\x1b[2J", "\\x1b[2J"),  # ESC: no terminal escapes
        ("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd"),  # one line, nothing that moves the cursor
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("\x85\x9b", "\\x85\\x9b"),  # C1 controls (NEL, CSI)
        ("\u202eexe.txt\u202c", "\\u202eexe.txt\\u202c"),  # bidi overrides
        ("\u2066x\u2069 \u061c", "\\u2066x\\u2069 \\u061c"),  # isolates, Arabic letter mark
        ("a\u200bb\u200fc\ufeff", "a\\u200bb\\u200fc\\ufeff"),  # zero-width and BOM
    ],
)
def test_visible(value: object, expected: str) -> None:
    assert visible(value) == expected


def test_visible_leaves_nothing_a_terminal_acts_on() -> None:
    shown = visible(HOSTILE)
    assert all(c.isprintable() for c in shown), shown
    assert "red" in shown and "gnp.exe" in shown  # the text itself is kept


def test_one_line_cuts_with_an_ellipsis_after_escaping() -> None:
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("abcd", 4) == "abcd"
    assert one_line("\x1b[31m", 4) == "\\x1…"  # the escape is counted as shown
    assert one_line("abc", 0) == "…"
    assert one_line(None) == ""


# --- JSON ----------------------------------------------------------------------------------------


def test_json_line_is_one_line_of_exact_json_with_controls_escaped() -> None:
    row = {
        "subject": HOSTILE,
        "sep": "a\u2028b\u2029c",  # JavaScript line terminators
        "n": 550,
        "none": None,
        "nested": {"list": [1, "é"]},
        "when": datetime(2024, 6, 20, 7, 0, tzinfo=UTC),
        "amount": Decimal("1.50"),  # orjson does not know it: written as str()
    }
    line = json_line(row)
    assert "\n" not in line and line.isprintable(), line
    assert "é" in line  # UTF-8, not \u00e9
    back = json.loads(line)
    assert back == {**row, "when": "2024-06-20T07:00:00+00:00", "amount": "1.50"}


# --- CSV and spreadsheets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")']
)
def test_formula_starts_become_text(value: str) -> None:
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["a=1", " =1", "plain", "", 550, -5, None, 1.5])
def test_everything_else_is_left_alone(value: object) -> None:
    assert neutralise_cell(value) == value


def test_csv_output_guards_every_cell_and_reads_back() -> None:
    rows = [
        {"a": "=cmd|' /C calc'!A0", "b": "-2+3", "c": None},
        {"a": {"k": "=x"}, "b": ["@y"], "c": 'quote " and, comma\nnewline'},
    ]
    out = io.StringIO()
    assert write_rows(rows, ["a", "b", "c"], "csv", out) == 2
    back = list(csv.reader(io.StringIO(out.getvalue())))
    assert back == [
        ["a", "b", "c"],
        ["'=cmd|' /C calc'!A0", "'-2+3", ""],
        ['{"k":"=x"}', '["@y"]', 'quote " and, comma\nnewline'],
    ]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_formats_give_back_the_rows_in_order(fmt: str) -> None:
    rows = [{"a": 1, "b": HOSTILE, "extra": "dropped"}, {"a": 2}]
    out = io.StringIO()
    assert write_rows(rows, ["a", "b"], fmt, out) == 2
    text = out.getvalue()
    got = json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
    assert got == [{"a": 1, "b": HOSTILE}, {"a": 2, "b": None}]  # keys fixed, absent → null


def test_an_empty_json_result_is_an_empty_array() -> None:
    out = io.StringIO()
    assert write_rows([], ["a"], "json", out) == 0
    assert json.loads(out.getvalue()) == []


# --- people formats ------------------------------------------------------------------------------


def test_tsv_is_one_visible_line_per_row() -> None:
    out = io.StringIO()
    assert write_tsv([["a\tb", "\x1b[31m", None], [1, "x\ny", "ok"]], out) == 2
    assert out.getvalue() == "a\\x09b\t\\x1b[31m\t\n1\tx\\x0ay\tok\n"


def test_table_cells_are_text_never_markup() -> None:
    t = table([("subject", {}), ("to", {})], [["[bold red]boom[/] :smile:", "\x1b[2Jx"]])
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(t)
    shown = console.export_text()
    assert "[bold red]boom[/] :smile:" in shown  # markup and emoji codes shown literally
    assert "\\x1b[2Jx" in shown and "\x1b" not in shown

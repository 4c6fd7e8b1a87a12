"""Red-team findings about the words of one-line errors.

A record that is not an object was reported in Python's type names ("a JSON NoneType",
"a JSON str", "got NoneType"): the line must say what the file holds in JSON's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from maillog_cli.normalize import json_kind


def test_a_record_that_is_not_an_object_is_named_in_jsons_words(cli, tmp_path: Path) -> None:
    src = tmp_path / "kinds.jsonl"
    src.write_text(
        '{"status": "delivered", "timestamp": "2026-01-01T00:00:00Z", "recipient": "k@x.com"}\n'
        'null\n42\n"str"\ntrue\n'
    )
    result = cli("import", str(src))
    assert result.exit_code == 1
    for line, kind in enumerate(("null", "a number", "a string", "a boolean"), start=2):
        assert f"kinds.jsonl:{line}: unrecognised record: {kind}, not an object" in result.stderr
    assert "NoneType" not in result.stderr and "JSON str" not in result.stderr


def test_a_mandrill_body_that_is_not_an_array_says_what_it_is(cli, tmp_path: Path) -> None:
    src = tmp_path / "hook.form"
    src.write_text("mandrill_events=null")
    result = cli("import", str(src))
    assert result.exit_code == 1
    assert "mandrill_events is not a JSON array (got null)" in result.stderr


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (True, "a boolean"),
        (1.5, "a number"),
        ("x", "a string"),
        ([], "an array"),
        ({}, "an object"),
    ],
)
def test_json_kind(value: object, kind: str) -> None:
    assert json_kind(value) == kind


def test_a_file_whose_records_cannot_be_read_is_not_sent_to_format(cli, tmp_path: Path) -> None:
    """Every record over the cap or broken JSON: the lines say why, and the verdict no
    longer suggests --format (no format reads a record that cannot be read)."""
    src = tmp_path / "big.jsonl"
    src.write_text('{"status": "delivered", "subject": "' + "x" * (2 << 20) + '"}\n{"b":\n')
    result = cli("import", "--max-record-mb", "1", str(src))
    assert result.exit_code == 1
    assert "big.jsonl:1: record over 1 MB" in result.stderr
    assert "big.jsonl: no record could be read; nothing imported" in result.stderr
    assert "--format" not in result.stderr
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"a": 1}\n')
    result = cli("import", str(unknown))
    assert "no record in a format maillog knows" in result.stderr

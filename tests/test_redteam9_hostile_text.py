"""Red team 9: filters and free text full of LIKE wildcards, FTS5 syntax, quotes and very
long values. Found: `search --subject` with a value over 50,000 bytes (SQLite's LIKE pattern
limit) failed as "/path/x.db is not a usable maillog database: LIKE or GLOB pattern too
complex", blaming a healthy store; so did `--to` with a long local part or glob."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

VALUES = [
    "a\"b'c",
    "back\\slash",
    "100%_off",
    "st*r",
    "\u202eevil\u202c",
    'NEAR AND ^ "x"',
    "x" * 100_000,
    "plain",
]


@pytest.fixture
def hostile(cli: Callable[..., Result], tmp_path: Path) -> None:
    rows = [
        {
            "event_id": f"e{i}", "message_id": f"m{i}@ex.com", "provider": "ses",
            "timestamp": "2026-11-01T00:00:00Z", "status": "bounced",
            "recipient": f"u{i}@example.org", "subject": v, "diagnostic": v,
        }
        for i, v in enumerate(VALUES)
    ]  # fmt: skip
    f = tmp_path / "h.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli("import", f).exit_code == 0


def _subjects(r: Result) -> list[str]:
    assert r.exit_code in (0, 1) and "Traceback" not in r.stderr, r
    return sorted(json.loads(line)["subject"][:20] for line in r.stdout.splitlines())


@pytest.mark.parametrize(
    ("needle", "want"),
    [("%", ["100%_off"]), ("_", ["100%_off"]), ("\\", ["back\\slash"]), ("*", ["st*r"]),
     ('"', ['NEAR AND ^ "x"', 'a"b\'c']), ("^", ['NEAR AND ^ "x"']), ("PLAIN", ["plain"]),
     ("x" * 60_000, ["x" * 20]), ("y" * 60_000, [])],
)  # fmt: skip
def test_subject_is_matched_literally_at_any_length(
    cli: Callable[..., Result], hostile: None, needle: str, want: list[str]
) -> None:
    assert _subjects(cli("search", "--subject", needle, "-f", "jsonl")) == want


def test_a_long_recipient_filter_is_a_one_line_answer_not_a_broken_store(
    cli: Callable[..., Result], hostile: None
) -> None:
    r = cli("search", "--to", "u" * 60_000, "-f", "jsonl")
    assert r.exit_code == 0 and "no events match" in r.stderr and "usable" not in r.stderr, r
    r = cli("search", "--to", "*" + "u" * 60_000, "-f", "jsonl")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "longer than" in r.stderr, r
    assert "usable" not in r.stderr and "Traceback" not in r.stderr


def test_a_local_part_underscore_is_not_a_wildcard(
    cli: Callable[..., Result], hostile: None
) -> None:
    assert cli("search", "--to", "u_", "-f", "jsonl").stdout == ""
    r = cli("search", "--to", "U3", "-f", "jsonl")
    assert r.exit_code == 0 and [json.loads(x)["recipient"] for x in r.stdout.splitlines()] == [
        "u3@example.org"
    ]


@pytest.mark.parametrize("content", ['"' + "x" * 2_000_000 + '"', "z" * 2_000_000 + "\n1\n"])
def test_a_huge_first_cell_is_not_echoed_whole_in_the_error(
    cli: Callable[..., Result], tmp_path: Path, content: str
) -> None:
    f = tmp_path / "one.json"
    f.write_text(content)
    r = cli("import", f)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1, r
    assert len(r.stderr) < 1000 and "one.json" in r.stderr, r

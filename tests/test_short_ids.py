"""Audit entry ids by the same rule as message ids (issue 16), through the real CLI on a
real store: a terminal shows each id's shortest unique prefix (at least 8 characters,
never cut with an ellipsis), a pipe the whole id, and `audit show PREFIX` finds exactly
the entry whose prefix was shown (case-sensitive; several → one line naming a few)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

# ids a LIKE match confuses (case) and ones sharing a long start (a timestamp first)
IDS = [
    "01HZX3KQ7Y8ABCDEF0001",
    "01HZX3KQ7Y8ABCDEF0002",
    "01hzx3kq7y8abcdef0003",
    "audit_2026-03-01T09:00:00Z_0001",
    "audit_2026-03-01T09:00:00Z_0002",
    "x1",
    "x12345678",
]


def _entry(i: int, ident: str) -> dict:
    return {
        "id": ident,
        "created_at": f"2026-03-01T09:{i:02d}:00Z",
        "actor_id": "usr_bob",
        "actor_email": "bob@acme.com",
        "action": "smtp.update",
        "metadata": {"n": i},
    }


@pytest.fixture
def entries(cli, tmp_path: Path):
    page = tmp_path / "page.json"
    page.write_bytes(orjson.dumps({"entries": [_entry(i, x) for i, x in enumerate(IDS)]}))
    r = cli("import", str(page))
    assert r.exit_code == 0, r
    return cli


def _on_a_terminal(monkeypatch, columns: int = 120) -> None:
    monkeypatch.setattr("maillog_cli.render.output.is_terminal", lambda *a: True)
    monkeypatch.setenv("COLUMNS", str(columns))


def _id_cells(out: str) -> list[str]:
    """The id column of a terminal table (the second cell of each row)."""
    return [re.split(r"\s{2,}", line.strip())[1] for line in out.splitlines()[1:]]


def test_audit_table_shows_unique_prefixes_that_audit_show_finds(entries, monkeypatch) -> None:
    _on_a_terminal(monkeypatch)
    shown = _id_cells(entries("audit").stdout)
    # newest first; never cut with an ellipsis, never under 8 characters (or the whole id)
    assert shown == [
        "x12345678"[:8],
        "x1",
        "audit_2026-03-01T09:00:00Z_0002",
        "audit_2026-03-01T09:00:00Z_0001",
        "01hzx3kq",
        "01HZX3KQ7Y8ABCDEF0002",
        "01HZX3KQ7Y8ABCDEF0001",
    ]
    for prefix, whole in zip(shown, reversed(IDS), strict=True):
        r = entries("audit", "show", prefix, "--format", "json")
        assert r.exit_code == 0, (prefix, r)
        assert orjson.loads(r.stdout)["id"] == whole, prefix


def test_audit_show_prefix_is_exact_and_case_sensitive(entries) -> None:
    # the lower-case id is its own: LIKE used to fold it into the upper-case ones
    r = entries("audit", "show", "01hzx3kq", "--format", "json")
    assert r.exit_code == 0 and orjson.loads(r.stdout)["id"] == IDS[2]
    # `_` and `%` are characters, not wildcards
    r = entries("audit", "show", "audit%", "--format", "json")
    assert r.exit_code == 1 and "no audit entry 'audit%'" in r.stderr
    # several start so: one line naming a few, exit 1
    r = entries("audit", "show", "01HZX3KQ")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "'01HZX3KQ' is the start of several audit entry ids" in r.stderr
    assert IDS[0] in r.stderr and IDS[2] not in r.stderr and "give more of the id" in r.stderr
    # a whole id that starts another one is that entry, not an ambiguity
    r = entries("audit", "show", "x1", "--format", "json")
    assert r.exit_code == 0 and orjson.loads(r.stdout)["id"] == "x1"
    # under 4 characters a prefix is too likely a typo (the rule for message ids)
    r = entries("audit", "show", "x12")
    assert r.exit_code == 1 and "no audit entry 'x12'" in r.stderr


def test_audit_pipe_keeps_whole_ids(entries) -> None:
    lines = entries("audit").stdout.splitlines()
    assert [line.split("\t")[1] for line in lines] == IDS[::-1]

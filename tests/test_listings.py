"""The listing convention (issue 16), through the real CLI on a real store: ids a person
can use (shortened to a unique prefix on a terminal, whole in a pipe, and `show PREFIX`
finds them), tail's lines in search's columns, and the notes on stderr when a listing
is cut or empty."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest


def _event(i: int, mid: str, status: str = "bounced", **more) -> dict:
    return {
        "event_id": f"ev{i}",
        "message_id": f"<{mid}>",
        "timestamp": f"2026-01-01T10:00:{i:02d}Z",
        "provider": "maillog",
        "status": status,
        "recipient": f"user{i}@gmail.com",
        "subject": f"Receipt {i}",
        "diagnostic": "550 5.1.1 user unknown" if status == "bounced" else None,
        **more,
    }


def _import(cli, tmp_path: Path, rows: list[dict], name: str = "e.jsonl") -> None:
    f = tmp_path / name
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli("import", str(f))
    assert r.exit_code == 0, r


def _on_a_terminal(monkeypatch, columns: int) -> None:
    """stdout is a terminal of `columns` cells, for every listing command."""
    monkeypatch.setattr("maillog_cli.commands.listing.is_terminal", lambda *a: True)
    monkeypatch.setattr("maillog_cli.render.output.is_terminal", lambda *a: True)
    monkeypatch.setenv("COLUMNS", str(columns))


# Mailgun-style ids: a timestamp first, so their first 10 characters are all the same.
SIMILAR = [
    "20260101120000.1.AAAA@mg.acme.example",
    "20260101120000.2.BBBB@mg.acme.example",
    "20260101120001.1.CCCC@mg.acme.example",
]


def _id_cells(out: str) -> list[str]:
    """The id column of a terminal table (the second cell of each row)."""
    return [re.split(r"\s{2,}", line.strip())[1] for line in out.splitlines()[1:]]


def test_short_ids_on_a_terminal_are_unique_prefixes_show_and_resend_take(
    cli, tmp_path: Path, monkeypatch
) -> None:
    _import(cli, tmp_path, [_event(i, mid) for i, mid in enumerate(SIMILAR)])
    with sqlite3.connect(tmp_path / "maillog.db") as conn:
        conn.execute(
            "INSERT INTO message_aliases (alias, message_id) VALUES (?, ?)",
            ("20260101120001.9.ZZZZ@other.example", SIMILAR[2]),
        )
    _on_a_terminal(monkeypatch, 80)
    shown = _id_cells(cli("search").stdout)
    # newest first; each as short as it can be while no other message's id or alias
    # starts with it, and never under 8 characters
    assert shown == ["20260101120001", "20260101120000.2", "20260101120000.1"]
    assert shown == _id_cells(cli("search", "--messages").stdout)
    for prefix, whole in zip(shown, reversed(SIMILAR), strict=True):
        assert cli("show", prefix, "--format", "json").stdout.count(whole) >= 1, prefix
        assert f"  {prefix}" in cli("tail").stdout
    # an alias's start finds its message too
    alias = json.loads(cli("show", "20260101120001.9", "--format", "json").stdout)
    assert alias["message"]["message_id"] == SIMILAR[2]
    # several messages start so: one line naming some, exit 1
    r = cli("show", "2026010112")
    assert r.exit_code == 1
    assert len(r.stderr.strip().splitlines()) == 1
    assert "'2026010112' is the start of several message ids" in r.stderr
    assert SIMILAR[0] in r.stderr and "give more of the id" in r.stderr
    # no message starts so: today's message
    r = cli("show", "nothing-like-it")
    assert r.exit_code == 1 and "no message 'nothing-like-it'" in r.stderr
    # resend resolves the same way (this message has no stored content to send)
    r = cli("resend", shown[0], "--dry-run")
    assert r.exit_code == 1 and f"no stored content for {SIMILAR[2]}" in r.stderr
    # a pipe keeps the whole ids
    monkeypatch.setattr("maillog_cli.commands.listing.is_terminal", lambda *a: False)
    assert [line.split("\t")[1] for line in cli("search").stdout.splitlines()] == SIMILAR[::-1]


@pytest.mark.parametrize("columns", [80, 120, 200])
def test_tail_lines_have_search_tables_columns_with_the_short_id(
    cli, tmp_path: Path, monkeypatch, columns: int
) -> None:
    rows = [_event(i, f"msg-{i:03d}-a-long-message-id@mail.acme.example") for i in range(4)]
    rows[1]["status"] = "delivered"
    _import(cli, tmp_path, rows)
    _on_a_terminal(monkeypatch, columns)
    table = [line.rstrip() for line in cli("search").stdout.splitlines()]
    tail = [line.rstrip() for line in cli("tail").stdout.splitlines()]
    assert tail == table[1:][::-1]  # the same cells, oldest first, no header
    assert all(len(line) <= columns for line in tail)
    assert _id_cells("\n" + "\n".join(tail)) == [f"msg-{i:03d}-" for i in range(4)]


def test_tail_and_audit_say_when_nothing_matches_and_when_the_store_is_empty(
    cli, tmp_path: Path
) -> None:
    audit_only = tmp_path / "audit.jsonl"
    audit_only.write_text(
        json.dumps(
            {
                "id": "a1",
                "created_at": "2026-01-01T10:00:00Z",
                "actor": {"id": "u1", "email": "alice@acme.example"},
                "action": "api_key.create",
            }
        )
        + "\n"
    )
    assert cli("import", str(audit_only)).exit_code == 0
    for fmt in ("table", "jsonl"):
        r = cli("tail", "--format", fmt)
        assert r.exit_code == 0 and r.stdout == ""
        assert r.stderr == "maillog: No emails yet — import a provider dump: maillog import FILE\n"
    _import(cli, tmp_path, [_event(0, "m0@acme.example")])
    r = cli("tail", "--domain", "nowhere.example")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == "maillog: no events match these filters\n"
    r = cli("audit", "--actor", "nobody")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == "maillog: no audit entries match these filters\n"
    r = cli("audit", "actions", "--actor", "nobody")
    assert r.stderr == "maillog: no audit entries match these filters\n"


def test_an_empty_audit_log_says_how_to_fill_it(cli, tmp_path: Path) -> None:
    _import(cli, tmp_path, [_event(0, "m0@acme.example")])
    r = cli("audit")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == "maillog: No audit entries yet — import an audit log: maillog import FILE\n"

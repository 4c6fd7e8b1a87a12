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

from tests.conftest import audit_entries, import_audit_only


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
    assert SIMILAR[1] in cli("show", "<20260101120000.2").stdout  # the start of `<id>`
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
    import_audit_only(cli, tmp_path)
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


def _store_with_every_listing(cli, tmp_path: Path) -> dict[tuple[str, ...], int]:
    """12 events over 6 domains (6 hard bounces of 6 addresses) and 5 audit entries; each
    listing command with the number of rows it has in all."""
    rows = [
        _event(
            i,
            f"msg-{i:03d}-a-long-message-id@mail.acme.example",
            "bounced" if i % 2 else "delivered",
            recipient=f"user{i}@d{i // 2}.example",
        )
        for i in range(12)
    ]
    _import(cli, tmp_path, rows)
    audit = audit_entries(5)
    _import(cli, tmp_path, audit, "audit.jsonl")
    return {
        ("search",): 12,
        ("ls",): 12,
        ("search", "--messages"): 12,
        ("tail",): 12,
        ("audit",): 5,
        ("bounces", "--list"): 6,
        ("bounces", "suppressions"): 6,
        ("stats", "--by", "domain"): 6,
    }


def _header(out: str) -> list[str]:
    """The column labels of a terminal table (after any title lines above it)."""
    first = next(
        line for line in out.splitlines() if line.startswith(("time", "address", "domain"))
    )
    return re.split(r"\s{2,}", first.strip())


def test_every_listing_piped_has_its_tables_columns_and_says_when_the_limit_cut(
    cli, tmp_path: Path, monkeypatch
) -> None:
    """The listing convention for every listing command: in a pipe the same columns, in
    the same order, as the table on a terminal wide enough for all of them (no header
    row), the ids whole; `-n N` caps the rows and stderr says by how much."""
    listings = _store_with_every_listing(cli, tmp_path)
    assert cli("search", "-n", "12").stderr == ""  # a limit that cuts nothing says nothing
    tables = {}
    _on_a_terminal(monkeypatch, 260)
    for argv in listings:
        tables[argv] = cli(*(("search",) if argv == ("tail",) else argv)).stdout
    monkeypatch.setattr("maillog_cli.commands.listing.is_terminal", lambda *a: False)
    monkeypatch.setattr("maillog_cli.render.output.is_terminal", lambda *a: False)
    for argv, total in listings.items():
        columns = _header(tables[argv])
        r = cli(*argv, "-n", "3")
        lines = r.stdout.splitlines()
        assert len(lines) == 3, (argv, r)
        assert all(len(line.split("\t")) == len(columns) for line in lines), (argv, columns)
        if argv[0] in ("search", "ls", "tail", "bounces") and argv[-1] != "suppressions":
            assert [line.split("\t")[1] for line in lines][0].endswith("@mail.acme.example")
        if argv == ("tail",):  # -n is tail(1)'s count of last lines: never a notice
            assert r.stderr == ""
            continue
        assert r.stderr == f"maillog: showing 3 of {total}; --limit 0 for all\n", argv
        whole = cli(*argv, "-n", "0")
        assert whole.stderr == "" and len(whole.stdout.splitlines()) == total, argv


def test_search_messages_table_columns_are_the_pipes_in_order(cli, tmp_path: Path, monkeypatch):
    from maillog_cli.render.events import MESSAGE_LISTING_COLUMNS

    _store_with_every_listing(cli, tmp_path)
    _on_a_terminal(monkeypatch, 260)
    assert _header(cli("search", "--messages").stdout) == list(MESSAGE_LISTING_COLUMNS)


@pytest.mark.parametrize("columns", [80, 160])
def test_search_messages_table_fits_its_terminal_and_nothing_runs_together(
    cli, tmp_path: Path, monkeypatch, columns: int
) -> None:
    from maillog_cli.render.columns import event_table_columns

    rows = [
        _event(
            i,
            f"msg-{i:03d}-a-long-message-id@mail.acme.example",
            "bounced" if i % 2 else "delivered",
            recipient=f"someone.with.a.long.name{i}@example-domain.example",
            subject="A subject long enough to be cut somewhere in the middle of it " * 2,
            tags=["receipts", "billing"],
            type="transactional",
        )
        for i in range(6)
    ]
    _import(cli, tmp_path, rows)
    _on_a_terminal(monkeypatch, columns)
    lines = cli("search", "--messages").stdout.splitlines()
    assert len(lines) == 7 and all(len(line) <= columns for line in lines), lines
    layout = event_table_columns(columns, messages=True, id_width=8)
    assert _header("\n".join(lines)) == [c.label for c in layout]
    # every cell starts where its header does, two spaces after the cell before it
    starts = [lines[0].index(c.label) for c in layout]
    for line in lines[1:]:
        for n, start in enumerate(starts[1:], 1):
            assert line[start - 2 : start] == "  ", (start, line)
            if layout[n].key in ("id", "status", "recipient"):  # never empty here
                assert line[start] != " ", (start, line)

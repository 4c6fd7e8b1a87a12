"""Free text anyone can type is searched for literally, in the CLI and the TUI (issue 16 #1).

FTS5 has a query language (quotes, parentheses, AND/OR/NOT, `*`, `col:`, `^`); before the
fix a lone `"` reached it as syntax and ended in `fts5: syntax error` — a traceback in the
CLI and a dead TUI.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest
from textual.widgets import Static

from maillog_cli.store.query import fts_literal
from tests.tui.conftest import make_app, tui_store  # noqa: F401  (fixtures)
from tests.tui.helpers import settle, static_text

HOSTILE_TEXT = [
    '"',
    '""',
    '"""',
    'a"b',
    "(",
    ")",
    "(quota",
    "AND",
    "OR",
    "NOT",
    "NOT quota",
    "quota NOT",
    "*",
    "quo*",
    "^quota",
    ":",
    "subject:quota",
    "NEAR(a b)",
    "-",
    "+",
    "{subject}: x",
    "'",
    "\\",
    "\u00a0",
]

ROWS = [
    {
        "event_id": "q1",
        "message_id": "q1@x.example",
        "timestamp": "2024-03-01T10:00:00.000Z",
        "status": "bounced",
        "recipient": "full@gmail.com",
        "subject": 'Your "quota" (AND more)',
        "diagnostic": "552 5.2.2 mailbox over quota",
    },
    {
        "event_id": "q2",
        "message_id": "q2@x.example",
        "timestamp": "2024-03-01T11:00:00.000Z",
        "status": "delivered",
        "recipient": "bob@example.org",
        "subject": "NOT a drill",
    },
]


@pytest.fixture
def store(cli, tmp_path: Path) -> None:
    f = tmp_path / "rows.jsonl"
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ROWS))
    assert cli("import", f).exit_code == 0


def event_ids(result) -> list[str]:
    return [orjson.loads(line)["event_id"] for line in result.stdout.splitlines()]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_search_tail_and_messages_take_any_text_literally(cli, store, text: str) -> None:
    for args in (("search",), ("search", "--messages"), ("ls",), ("tail",)):
        r = cli(*args, "-f", "jsonl", "--", text)
        assert r.exit_code == 0, (args, r)
        assert "Traceback" not in r.stderr and "fts5" not in r.stderr


def test_operator_words_are_words_not_operators(cli, store) -> None:
    # "NOT" as syntax would exclude; as a word it finds the subject containing it.
    assert event_ids(cli("search", "-f", "jsonl", "NOT")) == ["q2"]
    assert event_ids(cli("search", "-f", "jsonl", "AND", "quota")) == ["q1"]
    assert event_ids(cli("search", "-f", "jsonl", '"quota"')) == ["q1"]
    assert event_ids(cli("search", "-f", "jsonl", "(AND")) == ["q1"]
    assert event_ids(cli("search", "-f", "jsonl", "quota", '"')) == ["q1"]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_fts_literal_is_always_valid_fts5(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='unicode61')")
    conn.execute("INSERT INTO t VALUES ('quota NOT and more')")
    conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", (fts_literal(text),)).fetchone()


def test_tui_started_with_a_lone_quote_shows_no_error_and_keeps_running(make_app) -> None:  # noqa: F811
    async def run() -> None:
        app = make_app("'\"'")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert app.is_running
            assert app.emails.error is None
            assert app.emails.rows == []

    asyncio.run(run())


@pytest.mark.parametrize("typed", ["'\"'", "'\"\"'", "'(' NOT", "AND OR", "'*'"])
def test_tui_filter_with_fts_syntax_never_kills_the_app(make_app, typed: str) -> None:  # noqa: F811
    async def run() -> None:
        app = make_app()
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            app.query_one("#filter-input").value = typed
            await pilot.press("enter")
            await settle(pilot)
            assert app.is_running
            assert app.emails.error is None

    asyncio.run(run())


def test_tui_unclosed_quote_is_an_inline_error(make_app) -> None:  # noqa: F811
    async def run() -> None:
        app = make_app()
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("slash", '"', "enter")
            await settle(pilot)
            assert app.is_running
            assert "close the quote" in static_text(app.query_one("#filter-error", Static))

    asyncio.run(run())


def test_tui_worker_errors_become_inline_messages(make_app) -> None:  # noqa: F811
    """Any failure inside a worker (here SQLite refusing the query) is shown, not fatal."""

    async def run() -> None:
        app = make_app()

        def broken_page(*args: object, **kwargs: object) -> list[object]:
            raise sqlite3.OperationalError("fts5: syntax error near \x1b[2J")

        app.source.page = broken_page  # type: ignore[method-assign]
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert app.is_running
            shown = static_text(app.query_one("#emails-empty", Static))
            assert "error: fts5: syntax error" in shown
            assert "\\x1b[2J" in shown  # the message is made visible, never an escape
            await pilot.press("slash")
            assert app.is_running

    asyncio.run(run())


@pytest.mark.parametrize(("tab", "method"), [("2", "bounce_summary"), ("3", "audit_entries")])
def test_tui_other_tabs_worker_errors_are_notifications(make_app, tab: str, method: str) -> None:  # noqa: F811
    """A tab without its own error line still never dies: the error is a notification."""

    async def run() -> None:
        app = make_app()

        def broken(*args: object, **kwargs: object) -> object:
            raise sqlite3.DatabaseError("database disk image is malformed")

        setattr(app.source, method, broken)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press(tab)
            await settle(pilot)
            assert app.is_running
            messages = [n.message for n in app._notifications]
            assert any("database disk image is malformed" in m for m in messages), messages
            await pilot.press("1")
            await settle(pilot)
            assert app.is_running and app.emails.table.row_count == 200

    asyncio.run(run())

"""The TUI driven with Pilot: keys in, widgets and their data asserted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Static

from maillog_cli.bounce.classify import REASONS
from maillog_cli.render.output import visible
from maillog_cli.tui.screens.detail import MessageScreen
from maillog_cli.tui.screens.help import KEYS, HelpScreen
from maillog_cli.tui.screens.resend import ResendScreen
from maillog_cli.tui.widgets.filter_bar import FilterBar, FilterInput, complete

from .conftest import HOSTILE_SUBJECT, PAGED, _event, events, write_jsonl
from .helpers import plain, row_texts, settle, static_text, until

SIZE = (80, 24)


def newest_first(rows: list[dict]) -> list[str]:
    return [r["message_id"] for r in sorted(rows, key=lambda r: r["timestamp"], reverse=True)]


async def test_first_page_then_pages_as_the_cursor_nears_the_end(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.emails
        assert view.table.row_count == 200  # one page, not everything
        expected = newest_first(events())
        assert [r["message_id"] for r in view.rows] == expected[:200]
        assert "455 messages" in static_text(app.query_one("#emails-header", Static))
        for _ in range(4):
            await pilot.press("end")
            await settle(pilot)
        assert [r["message_id"] for r in view.rows] == expected
        assert view.table.row_count == len(expected) == PAGED + 5
        assert view.exhausted


async def test_filter_words_apply_with_the_cli_parser(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, FilterInput)
        app.query_one(FilterInput).value = "status:bounced domain:gmail.com"
        await pilot.press("enter")
        await settle(pilot)
        view = app.emails
        assert [r["message_id"] for r in view.rows] == [
            "msg-01002@example.com",
            "msg-01001@example.com",
            "msg-01000@example.com",
        ]
        header = static_text(app.query_one("#emails-header", Static))
        assert "status:bounced domain:gmail.com" in header
        assert "3 messages" in header
        assert not app.query_one(FilterBar).display
        assert app.focused is view.table


@pytest.mark.slow
async def test_bad_word_shows_the_error_inline_and_keeps_the_input(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"status:bouncd", "enter")
        await pilot.pause()
        bar = app.query_one(FilterBar)
        assert bar.display
        assert isinstance(app.focused, FilterInput)
        error = static_text(app.query_one("#filter-error", Static))
        assert "unknown status 'bouncd'" in error
        assert app.emails.table.row_count == 200  # the list is unchanged
        await pilot.press("backspace", "backspace", "c", "e", "d", "enter")
        await settle(pilot)
        assert not bar.display
        assert {r["status"] for r in app.emails.rows} == {"bounced"}


def test_completion_of_fields_and_values() -> None:
    assert complete("sta") == "status:"
    assert complete("status:bou") == "status:bounced"
    assert complete("status:bounced,def") == "status:bounced,deferred"
    assert complete("domain:gmail.com cl") == "domain:gmail.com class:"
    assert complete("class:h") == "class:hard"
    assert complete("reason:mailbox_f") == "reason:mailbox_full"
    assert complete("since:yest") == "since:yesterday"
    assert complete("domain:gm") is None  # free-form value: nothing to guess
    assert complete("zzz") is None
    assert complete("status:bounced ") is None


async def test_tab_accepts_the_suggestion(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        field = app.query_one(FilterInput)
        await pilot.press("slash", "s", "t", "a")
        await until(pilot, lambda: field._suggestion == "status:")  # worked out in a worker
        await pilot.press("tab")
        await pilot.press("b", "o")
        await until(pilot, lambda: field._suggestion == "status:bounced")
        await pilot.press("tab")
        assert field.value == "status:bounced"
        assert app.tabs.active == "emails"  # tab completed, did not switch tabs
        await pilot.press("escape")
        assert not app.query_one(FilterBar).display


async def test_detail_shows_timeline_reason_and_advice(make_app) -> None:
    app = make_app("status:bounced domain:gmail.com")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")  # the second newest: the mailbox_full one
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        assert screen.message_id == "msg-01001@example.com"
        text = static_text(screen.query_one("#detail-body", Static))
        assert "full@gmail.com" in text
        assert "552-5.2.2 The email account that you tried to reach is over quota." in " ".join(
            text.split()
        )
        assert "soft/mailbox_full" in text
        assert REASONS["mailbox_full"].meaning in " ".join(text.split())
        assert REASONS["mailbox_full"].action in " ".join(text.split())
        assert "SPF/DKIM/DMARC not reported" in text
        await pilot.press("y")
        assert app.clipboard == "msg-01001@example.com"
        await pilot.press("escape")
        assert not isinstance(app.screen, MessageScreen)
        assert app.emails.current_message_id() == "msg-01001@example.com"


async def test_resend_without_stored_content_says_so_and_cannot_send(make_app) -> None:
    app = make_app("status:bounced")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ResendScreen)
        body = static_text(app.screen.query_one("#resend-body", Static))
        assert "no stored content for msg-01002@example.com" in body
        assert app.screen.query_one("#resend-send", Button).disabled
        await pilot.press("s")  # refused: nothing happens
        assert isinstance(app.screen, ResendScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MessageScreen)


async def test_follow_shows_new_rows_on_top_and_keeps_the_cursor(
    make_app, cli, tmp_path: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.emails
        await pilot.press("down", "down")
        selected = view.current_message_id()
        await pilot.press("f")
        assert view.following
        newer = [
            _event(2000, timestamp="2024-04-01T00:00:00.000Z", recipient="new1@example.org"),
            _event(2001, timestamp="2024-04-01T00:00:01.000Z", recipient="new2@example.org"),
            # a later event of an already listed message moves it to the top
            _event(
                2002,
                message_id="msg-01000@example.com",
                timestamp="2024-04-01T00:00:02.000Z",
                status="delivered",
                recipient="ghost@gmail.com",
            ),
        ]
        r = cli("import", write_jsonl(tmp_path / "more.jsonl", newer))  # another connection
        assert r.exit_code == 0, r
        await until(
            pilot, lambda: bool(view.rows) and view.rows[0]["message_id"] == "msg-01000@example.com"
        )
        await settle(pilot)
        ids = [r["message_id"] for r in view.rows]
        assert ids[:3] == [
            "msg-01000@example.com",
            "msg-02001@example.com",
            "msg-02000@example.com",
        ]
        assert ids.count("msg-01000@example.com") == 1
        assert view.rows[0]["status"] == "delivered"
        assert view.current_message_id() == selected
        assert view.table.row_count == len(view.rows)
        assert "+2 new" in static_text(app.query_one("#emails-header", Static))
        await pilot.press("f")
        assert not view.following


async def test_help_lists_every_key(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = " ".join(k for k, _, _ in KEYS)
        names = {"question_mark": "?", "slash": "/", "shift+tab": "shift+tab"}
        for binding in app.BINDINGS + MessageScreen.BINDINGS + ResendScreen.BINDINGS:
            for key in binding.key.split(","):
                assert names.get(key, key) in listed, key
        text = static_text(app.screen.query_one("#help-keys", Static))
        assert "follow" in text and "copy the message id" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.slow
async def test_tabs_switch_with_numbers_and_tab(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert app.tabs.active == "bounces"
        await pilot.press("tab")
        assert app.tabs.active == "audit"
        await pilot.press("4")
        assert app.tabs.active == "stats"
        await pilot.press("tab")
        assert app.tabs.active == "emails"
        await pilot.press("shift+tab")
        assert app.tabs.active == "stats"
        await pilot.press("1")
        assert app.tabs.active == "emails"
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert "0 entries" in static_text(app.query_one("#audit-header", Static))


async def test_bounces_tab_reason_leads_to_its_emails(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        view = app.query_one("#bounces-view")
        table = view.query_one("#bounces-table", DataTable)
        reasons = [row[0] for row in row_texts(table)]
        assert [r.strip() for r in reasons] == ["user_unknown", "mailbox_full", "reputation"]
        header = static_text(view.query_one("#bounces-header", Static))
        assert "4 events, 4 messages" in header
        await pilot.press("enter")
        await settle(pilot)
        assert app.tabs.active == "emails"
        assert app.emails.filters.reason == ["user_unknown"]
        assert [r["message_id"] for r in app.emails.rows] == [
            "msg-01002@example.com",
            "msg-01000@example.com",
        ]


async def test_untrusted_text_is_never_markup(make_app) -> None:
    app = make_app("to:eve@example.net")
    async with app.run_test(size=(180, 48)) as pilot:  # the whole subject fits
        await settle(pilot)
        table = app.emails.table
        cells = row_texts(table)
        assert len(cells) == 1
        shown = visible(HOSTILE_SUBJECT)
        assert shown == "[bold]x[/bold] \\x1b[2J [link=http://e]"
        assert shown in cells[0]
        subject = [c.key for c in table.columns].index("subject")
        assert not table.get_row_at(0)[subject].spans  # no style came from the data
        await pilot.press("enter")
        await settle(pilot)
        body = static_text(app.screen.query_one("#detail-body", Static))
        assert shown in body
        assert "\x1b" not in body


async def test_no_color_is_respected(make_app, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.no_color


def test_command_needs_a_terminal_and_checks_words_first(cli, tui_store) -> None:
    r = cli("tui", "status:bouncd")
    assert r.exit_code == 1
    assert "unknown status 'bouncd'" in r.stderr
    r = cli("tui", "status:bounced")
    assert r.exit_code == 1
    assert "needs a terminal" in r.stderr


def test_plain_helper_renders_text() -> None:
    assert plain("a").strip() == "a"


async def test_mouse_click_moves_the_cursor_and_a_second_click_opens(make_app) -> None:
    app = make_app("status:bounced")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#emails-table", offset=(5, 1))
        assert app.emails.table.cursor_row == 1
        await pilot.click("#emails-table", offset=(5, 1))
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert app.screen.message_id == app.emails.rows[1]["message_id"]


async def test_stats_tab_shows_the_stats_overview(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        text = static_text(app.query_one("#stats-body", Static))
        assert "455 messages" in text
        assert "delivery 99.1%" in text  # 451 delivered of 455 sent
        assert "Per day" in text


@pytest.mark.parametrize("width", [80, 160])
async def test_bounces_tab_columns_never_run_together(make_app, width) -> None:
    app = make_app()
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.query_one("#bounces-table", DataTable)
        lines = [table.render_line(y).text for y in range(1, table.row_count + 1)]
        assert lines and all(len(line.rstrip()) <= width for line in lines)
        for line in lines:
            # the share ends a column: a gap, never the meaning glued to "19.2%"
            assert re.search(r"%\S", line) is None, line
            assert re.search(r"\S\s+\d+\s+[\d.]+%\s+\S", line), line


async def test_follow_on_a_store_replaced_under_it_stops_and_says_so(
    make_app, tui_store: Path, tmp_path: Path
) -> None:
    """Red team 8: a store moved away (a restore put another file at its path) never
    changes again; following it showed nothing new, forever, without a word."""
    import os
    import sqlite3

    other = tmp_path / "restored.db"
    src, dst = sqlite3.connect(tui_store), sqlite3.connect(other)
    src.backup(dst)
    src.close()
    dst.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.emails
        await pilot.press("f")
        assert view.following
        os.rename(tui_store, tmp_path / "moved-away.db")
        os.rename(other, tui_store)
        await until(pilot, lambda: not view.following)
        await settle(pilot)
        assert f"{tui_store} was removed or replaced" in (view.error or "")
        assert "maillog tui again" in (view.error or "")


async def test_text_stays_visible_when_the_apps_css_comes_after_the_first_paint(make_app) -> None:
    """Textual applies the app's own CSS (`App { color: $foreground }`) after composing; on a
    busy machine the first screen has already styled and painted by then, and each widget
    keeps the text style it cached (transparent: no colour yet). Simulated here: the header
    caches its style while the app has no colour rule; the restyle the app does once mounted
    must give it a visible colour again."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.query_one("#emails-header", Static)
        colour = app.styles.base.color
        app.styles.base.clear_rule("color")
        header.notify_style_update()
        assert header.visual_style.foreground.a == 0  # cached: the race's state
        app.styles.base.color = colour
        assert header.visual_style.foreground.a == 0  # an ancestor's change does not clear it
        app._restyle_screen()
        await pilot.pause()
        assert header.visual_style.foreground == colour
        assert app.query_one("#emails-columns", Static).visual_style.foreground == colour

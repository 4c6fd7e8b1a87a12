"""The TUI's Emails and Audit lists show ids by the CLI's rule (issue 16): each id's
shortest unique prefix, never cut, the same cells `maillog search` / `maillog audit`
print on a terminal — driven with Pilot on a real store."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from textual.widgets import DataTable

from maillog_cli.store.query import parse_words
from maillog_cli.tui.app import MaillogApp
from maillog_cli.tui.data import Source

from .conftest import write_jsonl
from .helpers import row_texts, settle

# Mailgun-style ids: a timestamp first, so they share their first 14 characters.
MESSAGE_IDS = [
    "20260101120000.1.AAAA@mg.acme.example",
    "20260101120000.2.BBBB@mg.acme.example",
    "20260101120001.1.CCCC@mg.acme.example",
    "short-1@x.example",
]
AUDIT_IDS = ["01HZX3KQ7Y8ABCDEF0001", "01HZX3KQ7Y8ABCDEF0002", "01hzx3kq7y8abcdef0003", "x1"]


def _event(i: int, mid: str) -> dict:
    return {
        "event_id": f"ev{i}",
        "message_id": mid,
        "timestamp": f"2026-01-01T10:00:{i:02d}Z",
        "provider": "maillog",
        "status": "bounced",
        "recipient": f"user{i}@gmail.com",
        "subject": f"Receipt {i}",
        "diagnostic": "550 5.1.1 user unknown",
    }


def _audit(i: int, ident: str) -> dict:
    return {
        "id": ident,
        "created_at": f"2026-03-01T09:{i:02d}:00Z",
        "actor_email": "bob@acme.com",
        "action": "smtp.update",
    }


@pytest.fixture
def store(cli, tmp_path: Path, db_path: Path) -> Path:
    events = write_jsonl(tmp_path / "e.jsonl", [_event(i, m) for i, m in enumerate(MESSAGE_IDS)])
    page = tmp_path / "audit.json"
    page.write_bytes(orjson.dumps({"entries": [_audit(i, x) for i, x in enumerate(AUDIT_IDS)]}))
    for f in (events, page):
        assert cli("import", str(f)).exit_code == 0
    return db_path


def _cli_ids(cli, monkeypatch, *args: str) -> list[str]:
    """The id cells the CLI prints for `args` on a 200-column terminal."""
    monkeypatch.setattr("maillog_cli.commands.listing.is_terminal", lambda *a: True)
    monkeypatch.setattr("maillog_cli.render.output.is_terminal", lambda *a: True)
    monkeypatch.setenv("COLUMNS", "200")
    out = cli(*args).stdout
    return [re.split(r"\s{2,}", line.strip())[1] for line in out.splitlines()[1:]]


@pytest.mark.parametrize("width", [80, 160])
async def test_emails_and_audit_lists_show_the_clis_unique_prefixes(
    store, cli, monkeypatch, width
) -> None:
    emails_cli = _cli_ids(cli, monkeypatch, "search", "--messages")
    audit_cli = _cli_ids(cli, monkeypatch, "audit")
    assert emails_cli == ["short-1@", "20260101120001", "20260101120000.2", "20260101120000.1"]
    assert audit_cli == ["x1", "01hzx3kq", "01HZX3KQ7Y8ABCDEF0002", "01HZX3KQ7Y8ABCDEF0001"]

    source = Source(store)
    app = MaillogApp(source, parse_words(""), "")
    try:
        async with app.run_test(size=(width, 24)) as pilot:
            await settle(pilot)
            view = app.emails
            at = [c.key for c in view.table.columns].index("id")
            shown = [view.table.get_row_at(i)[at].plain.strip() for i in range(len(view.rows))]
            assert shown == emails_cli  # whole prefixes, never cut with an ellipsis
            header = str(app.query_one("#emails-columns").content)
            assert re.search(r"time \(UTC\)\s+id\s+status", header)

            await pilot.press("3")
            await settle(pilot)
            table = app.query_one("#audit-table", DataTable)
            labels = [c.label.plain for c in table.columns.values()]
            at = labels.index("id")
            assert [r[at].strip() for r in row_texts(table)] == audit_cli
    finally:
        source.close()

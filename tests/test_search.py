"""search / ls / show / sql through the real CLI on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from maillog_cli.dates import format_dt

NOW = datetime.now(UTC)


def ago(**kw: float) -> str:
    return format_dt(NOW - timedelta(**kw))


ROWS = [
    {
        "event_id": "a1",
        "message_id": "<a@x.example>",
        "timestamp": ago(days=10),
        "provider": "sendgrid",
        "status": "delivered",
        "recipient": "bob@gmail.com",
        "sender": "app@acme.example",
        "subject": "Receipt 1",
    },
    {
        "event_id": "a2",
        "message_id": "a@x.example",
        "timestamp": ago(days=10, seconds=-5),
        "provider": "sendgrid",
        "status": "opened",
        "recipient": "bob@gmail.com",
        "subject": "Receipt 1",
    },
    {
        "event_id": "b1",
        "message_id": "b@x.example",
        "timestamp": ago(days=2),
        "provider": "ses",
        "status": "bounced",
        "recipient": "carol@gmail.com",
        "subject": "Reset password",
        "diagnostic": "550 5.1.1 user unknown carol@gmail.com",
    },
    {
        "event_id": "c1",
        "message_id": "c@x.example",
        "timestamp": ago(hours=3),
        "provider": "ses",
        "status": "deferred",
        "recipient": "dave@yahoo.com",
        "subject": "Weekly digest",
        "diagnostic": "421 4.7.0 try again later",
    },
    {
        "event_id": "d1",
        "message_id": "d@x.example",
        "timestamp": ago(hours=1),
        "provider": "mailgun",
        "status": "complained",
        "recipient": "malice@gmail.com",
        "subject": "Newsletter",
    },
]


@pytest.fixture
def store(cli, tmp_path: Path) -> None:
    f = tmp_path / "rows.jsonl"
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ROWS))
    assert cli("import", f).exit_code == 0


def ids(result) -> list[str]:
    return [orjson.loads(line)["event_id"] for line in result.stdout.splitlines()]


@pytest.mark.usefixtures("store")
class TestSearch:
    def test_newest_first_and_limit(self, cli) -> None:
        assert ids(cli("search", "-f", "jsonl")) == ["d1", "c1", "b1", "a2", "a1"]
        assert ids(cli("search", "-f", "jsonl", "--limit", "2")) == ["d1", "c1"]
        assert len(ids(cli("ls", "-f", "jsonl", "--limit", "0"))) == 5

    def test_status_aliases_and_several(self, cli) -> None:
        assert ids(cli("search", "-f", "jsonl", "--status", "spam")) == ["d1"]
        assert ids(cli("search", "-f", "jsonl", "-s", "bounce", "-s", "delayed")) == ["c1", "b1"]

    def test_unknown_status_is_a_user_error(self, cli) -> None:
        r = cli("search", "--status", "exploded")
        assert r.exit_code == 1 and "unknown status 'exploded'" in r.stderr

    def test_domain_since_to(self, cli) -> None:
        assert ids(cli("search", "-f", "jsonl", "--domain", "gmail.com", "--since", "7d")) == [
            "d1",
            "b1",
        ]
        assert ids(cli("search", "-f", "jsonl", "--to", "bob@gmail.com")) == ["a2", "a1"]
        assert ids(cli("search", "-f", "jsonl", "--to", "Bob <BOB@gmail.com>")) == ["a2", "a1"]
        assert ids(cli("search", "-f", "jsonl", "--until", "1d", "--since", "3d")) == ["b1"]

    def test_bad_date(self, cli) -> None:
        r = cli("search", "--since", "the day after tomorrow")
        assert r.exit_code == 1 and "cannot read the date" in r.stderr

    def test_message_id_with_or_without_brackets(self, cli) -> None:
        assert ids(cli("search", "-f", "jsonl", "--message-id", "<a@x.example>")) == ["a2", "a1"]
        assert ids(cli("search", "-f", "jsonl", "--message-id", "a@x.example")) == ["a2", "a1"]

    def test_free_text_with_addresses_and_dots(self, cli) -> None:
        assert ids(cli("search", "-f", "jsonl", "carol@gmail.com")) == ["b1"]
        assert ids(cli("search", "-f", "jsonl", "user", "unknown")) == ["b1"]
        assert ids(cli("search", "-f", "jsonl", 'AND OR "NEAR(')) == []

    def test_messages_one_row_per_email_latest_status(self, cli) -> None:
        rows = [orjson.loads(x) for x in cli("ls", "--messages", "-f", "jsonl").stdout.splitlines()]
        assert [(r["message_id"], r["status"]) for r in rows] == [
            ("c@x.example", "deferred"),
            ("b@x.example", "bounced"),
            ("a@x.example", "delivered"),
        ]

    def test_pipe_output_is_plain_tsv(self, cli) -> None:
        out = cli("search", "--limit", "1").stdout
        assert out.count("\t") == 9 and "\x1b" not in out

    def test_csv_and_json_shapes(self, cli) -> None:
        csv_out = cli("search", "-f", "csv").stdout.splitlines()
        assert csv_out[0].startswith("event_id,message_id,timestamp,provider")
        assert len(csv_out) == 6
        arr = orjson.loads(cli("search", "-f", "json").stdout)
        assert len(arr) == 5 and arr[0]["event_id"] == "d1"


@pytest.mark.usefixtures("store")
def test_show_by_any_identity(cli) -> None:
    r = cli("show", "<a@x.example>")
    assert r.exit_code == 0
    assert "Receipt 1" in r.stdout and "delivered" in r.stdout and "opened" in r.stdout
    detail = orjson.loads(cli("show", "a@x.example", "-f", "json").stdout)
    assert [e["event_id"] for e in detail["events"]] == ["a1", "a2"]
    assert detail["message"]["last_status"] == "delivered"
    assert detail["message"]["opened_at"] is not None


@pytest.mark.usefixtures("store")
def test_show_unknown_and_bounce_explanation(cli) -> None:
    r = cli("show", "nope@x")
    assert r.exit_code == 1 and "no message 'nope@x'" in r.stderr
    out = cli("show", "b@x.example").stdout
    assert "user_unknown" in out and "Suppress" in out


@pytest.mark.usefixtures("store")
def test_sql_is_read_only(cli, db_path: Path) -> None:
    r = cli(
        "sql",
        "SELECT status, count(*) AS n FROM events GROUP BY status ORDER BY status",
        "-f",
        "jsonl",
    )
    assert [orjson.loads(x) for x in r.stdout.splitlines()][0] == {"status": "bounced", "n": 1}
    r = cli("sql", "DELETE FROM events")
    assert r.exit_code == 1 and "readonly" in r.stderr.replace("read-only", "readonly")
    assert len(ids(cli("search", "-f", "jsonl"))) == 5


def test_auth_results_of_events_reach_the_message(cli, tmp_path: Path) -> None:
    from .conftest import PROVIDER_FIXTURES

    assert cli("import", PROVIDER_FIXTURES / "cloudflare.json").exit_code == 0
    rows = [orjson.loads(x) for x in cli("ls", "--messages", "-f", "jsonl").stdout.splitlines()]
    details = [
        orjson.loads(cli("show", r["message_id"], "-f", "json").stdout)["message"] for r in rows
    ]
    assert any(d["dmarc"] for d in details), details


@pytest.mark.usefixtures("store")
def test_sql_cannot_attach_files_or_set_pragmas(cli, tmp_path: Path) -> None:
    r = cli("sql", f"ATTACH '{tmp_path / 'new.db'}' AS other")
    assert r.exit_code == 1 and "not authorized" in r.stderr
    assert not (tmp_path / "new.db").exists()
    assert cli("sql", "PRAGMA journal_mode=DELETE").exit_code == 1
    assert cli("sql", "PRAGMA table_info(events)", "-f", "jsonl").exit_code == 0


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize("columns", ["80", "120", "200"])
def test_terminal_table_keeps_status_and_recipient_at_any_width(
    cli, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    from maillog_cli.commands import listing

    monkeypatch.setattr(listing, "is_terminal", lambda *a: True)
    monkeypatch.setenv("COLUMNS", columns)
    out = cli("search", "--status", "bounced").stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["time", "id", "status", "recipient"]
    assert "bounced" in lines[1] and "carol@gmail.com" in lines[1]
    assert all(len(line) <= int(columns) for line in lines)
    assert ("subject" in lines[0]) == (int(columns) >= 140)
    assert ("reason" in lines[0]) == (int(columns) >= 120)

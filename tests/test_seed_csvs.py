"""Seed-shaped exports are read: an activity log keyed on `event` (seed 000's
`timestamp,user,event,ip,device`) as audit entries, and an email log with one row per email
(Plutio's: recipient, status, type, sender, send method, errors, opens, sent time) as
events whose message facts land in the message model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

ACTIVITY = """timestamp,user,event,ip,device
2026-03-01 10:00:00,alice@acme.test,Login,203.0.113.5,Chrome on macOS
2026-03-01 10:05:00,alice@acme.test,API Key Generated,203.0.113.5,Chrome on macOS
2026-03-01 11:00:00,bob,Password Changed,198.51.100.7,Safari on iPhone
"""

EMAIL_LOG = """Recipient,Status,Type,Sender,Send method,Errors,Opens,Sent time
ann@example.com,Delivered,Invoice,billing@acme.test,Plutio,,3,2026-03-02 09:00:00
bob@example.com,Send failed,Proposal,billing@acme.test,Custom email,connect ECONNREFUSED 127.0.0.1:587,0,2026-03-02 09:10:00
cy@example.com,Opened,Task notification,billing@acme.test,Plutio,,1,2026-03-02 09:20:00
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def audit_rows(cli) -> list[dict]:
    r = cli("audit", "--format", "json", "--limit", "0")
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


@pytest.mark.parametrize("forced", [False, True])
def test_an_activity_log_keyed_on_event_imports_as_audit_entries(cli, tmp_path, forced) -> None:
    args = ("--format", "audit") if forced else ()
    r = cli("import", *args, write(tmp_path, "activity.csv", ACTIVITY))
    assert r.exit_code == 0, r
    assert "3 new audit entries" in r.stdout + r.stderr
    rows = sorted(audit_rows(cli), key=lambda e: e["created_at"])
    assert [e["action"] for e in rows] == ["login", "api_key.generated", "password.changed"]
    assert rows[0]["actor_email"] == "alice@acme.test" and rows[2]["actor_id"] == "bob"
    assert rows[0]["ip"] == "203.0.113.5" and rows[0]["user_agent"] == "Chrome on macOS"
    assert rows[0]["metadata"] == {}  # the action column is not repeated in metadata
    again = cli("import", write(tmp_path, "again.csv", ACTIVITY))
    assert "0 new audit entries" in again.stdout + again.stderr


def test_an_activity_log_as_jsonl_with_camel_case_keys(cli, tmp_path) -> None:
    lines = [
        {
            "createdAt": "2026-03-01T10:00:00Z",
            "user": {"id": "u1", "email": "a@x.test"},
            "event": "Domain Added",
            "ipAddress": "203.0.113.9",
        },
    ]
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(x) for x in lines))
    r = cli("import", path)
    assert r.exit_code == 0, r
    (entry,) = audit_rows(cli)
    assert entry["action"] == "domain.added" and entry["actor_id"] == "u1"


def test_a_delivery_log_keyed_on_event_stays_a_delivery_log(cli, tmp_path) -> None:
    """`event` is also the delivery-event key: a log of deliveries is not an audit log."""
    jsonl = json.dumps(
        {
            "timestamp": "2026-03-01T10:00:00Z",
            "user": "u1",
            "event": "delivered",
            "email": "a@x.test",
        }
    )
    csv = "timestamp,email,event,ip\n2026-03-01T10:00:00Z,b@x.test,open,203.0.113.5\n"
    assert cli("import", write(tmp_path, "d.jsonl", jsonl)).exit_code == 0
    assert cli("import", write(tmp_path, "d.csv", csv)).exit_code == 0
    assert audit_rows(cli) == []
    r = cli("search", "--format", "json")
    assert sorted(e["status"] for e in json.loads(r.stdout)) == ["delivered", "opened"]


def test_an_email_log_imports_as_events_with_its_message_facts(cli, tmp_path, db_path) -> None:
    r = cli("import", write(tmp_path, "email-log.csv", EMAIL_LOG))
    assert r.exit_code == 0, r
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        msgs = {
            m["recipient"]: dict(m)
            for m in conn.execute(
                "SELECT recipient, last_status, type, send_method, open_count, opened_at FROM messages"
            )
        }
    assert msgs["ann@example.com"]["type"] == "Invoice"
    assert msgs["ann@example.com"]["send_method"] == "plutio"
    assert msgs["ann@example.com"]["open_count"] == 3
    assert msgs["bob@example.com"]["last_status"] == "failed"
    assert msgs["bob@example.com"]["send_method"] == "custom email"
    # an opened row in a log of sent times: sent then, and opened
    assert msgs["cy@example.com"]["last_status"] == "sent"
    assert msgs["cy@example.com"]["opened_at"] is not None
    r = cli("search", "--format", "json", "--to", "bob@example.com")
    (bob,) = json.loads(r.stdout)
    assert bob["raw_status"] == "Send failed" and "ECONNREFUSED" in bob["diagnostic"]
    s = json.loads(cli("stats", "--format", "json").stdout)
    assert s["messages"] == 3
    assert s["rates"]["open"] == 1.0  # ann's opens count, though no open event was exported
    again = cli("import", write(tmp_path, "again.csv", EMAIL_LOG))
    assert "0 new events" in again.stdout + again.stderr


def test_an_opened_at_column_is_the_first_open(cli, tmp_path) -> None:
    text = "Recipient,Status,Sent at,Opened at\nann@example.com,Delivered,2026-03-02 09:00:00,2026-03-02 12:30:00\n"
    assert cli("import", write(tmp_path, "log.csv", text)).exit_code == 0
    rows = json.loads(cli("search", "--format", "json").stdout)
    assert {(e["status"], e["timestamp"]) for e in rows} == {
        ("delivered", "2026-03-02T09:00:00.000Z"),
        ("opened", "2026-03-02T12:30:00.000Z"),
    }
    assert len({e["message_id"] for e in rows}) == 1

"""A message sent to several recipients has one status by one rule (fidelity6, item 4):
each recipient's own latest lifecycle event, then the furthest of those (delivered when it
reached anyone, else a failure, else a deferral …). `stats`, `search --messages` and `show` agree on it, whatever
order the recipients' events come in; migration 12 recomputes older stores' rows and the
stats rollups stay exact."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from maillog_cli.store import db as store_db
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MIGRATIONS, m013_message_status_over_recipients

M012 = MIGRATIONS.index(m013_message_status_over_recipients)  # the migrations before it

from .test_stats_rollup import assert_exact


def _event(n: int, rcpt: str, status: str, at: str, diag: str | None = None) -> dict:
    return {
        "event_id": f"f6-{n}",
        "message_id": "<multi@example.com>",
        "timestamp": at,
        "provider": "postfix",
        "status": status,
        "recipient": rcpt,
        "subject": "Team update",
        "diagnostic": diag,
    }


DELIVERED_THEN_OTHER_DEFERRED = [
    _event(1, "ann@example.org", "sent", "2026-03-01T10:00:00Z"),
    _event(2, "bob@example.net", "sent", "2026-03-01T10:00:00Z"),
    _event(3, "ann@example.org", "delivered", "2026-03-01T10:00:02Z", "250 2.0.0 OK"),
    _event(4, "bob@example.net", "deferred", "2026-03-01T10:05:00Z", "451 4.7.1 try later"),
]
BOUNCED_THEN_OTHER_DELIVERED = [
    _event(11, "ann@example.org", "bounced", "2026-03-01T10:00:02Z", "550 5.1.1 user unknown"),
    _event(12, "bob@example.net", "delivered", "2026-03-01T10:05:00Z", "250 2.0.0 OK"),
]


def _import(cli: Callable[..., object], tmp_path: Path, events: list[dict], name: str) -> None:
    f = tmp_path / f"{name}.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in events))
    r = cli("import", f)
    assert r.exit_code == 0, r


def _views(cli: Callable[..., object]) -> tuple[dict, str, str, str | None]:
    stats = json.loads(cli("stats", "--format", "json").stdout)["by_status"]
    [row] = [
        json.loads(line)
        for line in cli("search", "--messages", "--format", "jsonl").stdout.splitlines()
    ]
    shown = json.loads(cli("show", "multi@example.com", "--format", "json").stdout)["message"]
    return (
        {k: v for k, v in stats.items() if v},
        row["status"],
        shown["last_status"],
        row["bounce_class"],
    )


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed-files"])
def test_a_later_deferral_for_one_recipient_leaves_the_message_delivered(
    cli: Callable[..., object], tmp_path: Path, db_path: Path, reverse: bool
):
    events = DELIVERED_THEN_OTHER_DEFERRED
    parts = [events[2:], events[:2]] if reverse else [events[:2], events[2:]]
    for i, part in enumerate(parts):
        _import(cli, tmp_path, part, f"part{i}")
    by_status, listed, shown, _ = _views(cli)
    assert by_status == {"delivered": 1}
    assert listed == shown == "delivered"
    assert_exact(db_path)


@pytest.mark.parametrize("reverse", [False, True], ids=["bounce-first", "bounce-last"])
def test_a_bounce_for_one_recipient_does_not_undo_anothers_delivery(
    cli: Callable[..., object], tmp_path: Path, db_path: Path, reverse: bool
):
    events = BOUNCED_THEN_OTHER_DELIVERED
    if reverse:  # the bounce dated after the delivery: the old rule made the message bounced
        events = [{**events[0], "timestamp": "2026-03-01T10:09:00Z"}, events[1]]
    _import(cli, tmp_path, events, "b")
    by_status, listed, shown, bounce_class = _views(cli)
    assert by_status == {"delivered": 1}
    assert listed == shown == "delivered" and bounce_class is None
    recipients = json.loads(cli("show", "multi@example.com", "--format", "json").stdout)[
        "recipients"
    ]
    assert {r["recipient"]: r["status"] for r in recipients} == {
        "ann@example.org": "bounced",  # each recipient's fate stays visible
        "bob@example.net": "delivered",
    }
    assert_exact(db_path)


def test_a_failure_for_one_recipient_outranks_anothers_later_deferral(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    _import(
        cli,
        tmp_path,
        [
            _event(
                31, "ann@example.org", "bounced", "2026-03-01T10:00:02Z", "550 5.1.1 user unknown"
            ),
            _event(32, "bob@example.net", "deferred", "2026-03-01T10:05:00Z", "451 4.7.1 later"),
        ],
        "f",
    )
    by_status, listed, shown, bounce_class = _views(cli)
    assert by_status == {"bounced": 1}
    assert listed == shown == "bounced" and bounce_class == "hard"
    assert_exact(db_path)


def test_one_recipient_keeps_its_latest_event(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    """A single recipient bounced (soft), then delivered on a retry: delivered, as before."""
    _import(
        cli,
        tmp_path,
        [
            _event(
                21, "ann@example.org", "bounced", "2026-03-01T10:00:00Z", "452 4.2.2 mailbox full"
            ),
            _event(22, "ann@example.org", "delivered", "2026-03-01T11:00:00Z", "250 OK"),
        ],
        "one",
    )
    by_status, listed, shown, _ = _views(cli)
    assert by_status == {"delivered": 1} and listed == shown == "delivered"


def test_migration_12_recomputes_an_older_stores_rows(
    cli: Callable[..., object], tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A store an older maillog wrote (its rows by the old rule: the latest event of any
    recipient) is recomputed on open; the stats rollups follow, exactly."""
    _import(cli, tmp_path, DELIVERED_THEN_OTHER_DEFERRED, "m")
    with sqlite3.connect(db_path) as conn:  # the row as maillog ≤ schema 11 left it
        seq = conn.execute("SELECT seq FROM events WHERE event_id = 'f6-4'").fetchone()[0]
        conn.execute(
            "UPDATE messages SET last_status = 'deferred', last_status_at = "
            "'2026-03-01T10:05:00.000Z', bounce_class = 'soft', last_seq = ?",
            (seq,),
        )
        conn.execute(f"PRAGMA user_version = {M012}")
    conn.close()
    assert json.loads(cli("stats", "--format", "json").stdout)["by_status"]["delivered"] == 1
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT last_status, bounce_class FROM messages").fetchone()
        assert row == ("delivered", None)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
    assert_exact(db_path)


def test_the_migration_leaves_single_recipient_messages_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "s.db"
    with monkeypatch.context() as old:
        old.setattr(store_db, "MIGRATIONS", MIGRATIONS[:M012])
        store = Store.open(path)
        with store.write():
            store.conn.execute(
                "INSERT INTO messages(message_id, last_status) VALUES ('solo', 'queued')"
            )
        store.close()
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT last_status FROM messages").fetchall() == [("queued",)]
    conn.close()

"""A message to several recipients has one status: its latest lifecycle event, whichever
recipient that event names (DESIGN.md: `by_status` counts "messages whose latest lifecycle
status it is"). `stats`, `search --messages` and `show` agree on it whatever order the
files come in, and `show` keeps each recipient's own status beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .test_stats_rollup import assert_exact


def _event(n: int, rcpt: str, status: str, at: str, diag: str | None = None) -> dict:
    return {
        "event_id": f"ms-{n}",
        "message_id": "<multi@example.com>",
        "timestamp": at,
        "provider": "postfix",
        "status": status,
        "recipient": rcpt,
        "subject": "Team update",
        "diagnostic": diag,
    }


def _import(cli: Callable[..., object], tmp_path: Path, events: list[dict], name: str) -> None:
    f = tmp_path / f"{name}.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in events))
    r = cli("import", f)
    assert r.exit_code == 0, r


def _views(cli: Callable[..., object]) -> tuple[dict, str, str, dict]:
    stats = json.loads(cli("stats", "--format", "json").stdout)["by_status"]
    [row] = [
        json.loads(line)
        for line in cli("search", "--messages", "--format", "jsonl").stdout.splitlines()
    ]
    shown = json.loads(cli("show", "multi@example.com", "--format", "json").stdout)
    each = {r["recipient"]: r["status"] for r in shown["recipients"]}
    return (
        {k: v for k, v in stats.items() if v},
        row["status"],
        shown["message"]["last_status"],
        each,
    )


CASES = {
    # ann delivered, then bob deferred: still being retried for bob
    "deferral-after-delivery": (
        [
            _event(1, "ann@example.org", "sent", "2026-03-01T10:00:00Z"),
            _event(2, "bob@example.net", "sent", "2026-03-01T10:00:00Z"),
            _event(3, "ann@example.org", "delivered", "2026-03-01T10:00:02Z", "250 2.0.0 OK"),
            _event(4, "bob@example.net", "deferred", "2026-03-01T10:05:00Z", "451 4.7.1 later"),
        ],
        "deferred",
        {"ann@example.org": "delivered", "bob@example.net": "deferred"},
    ),
    # ann delivered, then bob bounced: the bounce is the latest fact
    "bounce-after-delivery": (
        [
            _event(11, "ann@example.org", "delivered", "2026-03-01T10:00:02Z", "250 OK"),
            _event(12, "bob@example.net", "bounced", "2026-03-01T10:09:00Z", "550 5.1.1 unknown"),
        ],
        "bounced",
        {"ann@example.org": "delivered", "bob@example.net": "bounced"},
    ),
    # ann bounced, then bob delivered
    "delivery-after-bounce": (
        [
            _event(21, "ann@example.org", "bounced", "2026-03-01T10:00:02Z", "550 5.1.1 unknown"),
            _event(22, "bob@example.net", "delivered", "2026-03-01T10:05:00Z", "250 OK"),
        ],
        "delivered",
        {"ann@example.org": "bounced", "bob@example.net": "delivered"},
    ),
}


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed-files"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_latest_lifecycle_event_is_the_messages_status_in_every_view(
    cli: Callable[..., object], tmp_path: Path, db_path: Path, case: str, reverse: bool
) -> None:
    events, status, each = CASES[case]
    half = len(events) // 2
    parts = [events[half:], events[:half]] if reverse else [events[:half], events[half:]]
    for i, part in enumerate(parts):
        _import(cli, tmp_path, part, f"part{i}")
    by_status, listed, shown, recipients = _views(cli)
    assert by_status == {status: 1}
    assert listed == shown == status
    assert recipients == each  # each recipient's own fate stays visible
    assert_exact(db_path)

"""Red-team findings about one row per email.

`search --messages` (and `show ADDRESS`) give a message's latest event; where that event
does not carry the sender or subject (a Postmark Delivery, a SendGrid or Brevo open) the
row showed null although another event of the same email named them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

MID = "883953f4-6105-42a2-a16a-77a8eac79483"
POSTMARK = [
    {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 100001,
        "MessageID": MID,
        "Email": "john@example.com",
        "From": "Shop <sender@example.com>",
        "Subject": "Welcome \u2728",
        "BouncedAt": "2026-11-30T09:00:00Z",
    },
    {  # later, and carries neither From nor Subject
        "RecordType": "Delivery",
        "MessageID": MID,
        "Recipient": "john@example.com",
        "DeliveredAt": "2026-11-30T10:10:45.1230000-04:00",
        "Details": "smtp;250 2.0.0 OK",
    },
]


@pytest.fixture
def store(cli, tmp_path: Path) -> None:
    src = tmp_path / "postmark.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in POSTMARK))
    assert cli("import", str(src)).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [("search", "--messages"), ("show", "john@example.com")],
    ids=["search-messages", "show-address"],
)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_message_row_keeps_the_sender_and_subject_another_event_gave(
    cli, store: None, args: tuple[str, ...], fmt: str
) -> None:
    result = cli(*args, "--format", fmt)
    assert result.exit_code == 0, result
    if fmt == "json":
        (row,) = json.loads(result.stdout)
        assert (row["status"], row["sender"], row["subject"]) == (
            "delivered",
            "sender@example.com",
            "Welcome \u2728",
        )
    else:
        header, line = result.stdout.splitlines()[:2]
        assert ",delivered,Delivery,sender@example.com,john@example.com,Welcome \u2728," in line


def test_the_events_themselves_stay_as_their_source_gave_them(cli, store: None) -> None:
    rows = json.loads(cli("search", "--format", "json").stdout)
    delivered = next(r for r in rows if r["status"] == "delivered")
    assert delivered["subject"] is None and delivered["sender"] is None


def _ses(event_type: str, **body: object) -> dict[str, object]:
    mail = {
        "timestamp": "2026-11-30T10:00:00.000Z",
        "messageId": "0100019abc-three-000000",
        "source": "shop@example.com",
        "destination": ["a@example.com", "b@example.com", "c@example.com"],
        "commonHeaders": {"subject": "Three"},
    }
    return {"eventType": event_type, "mail": mail, **body}


def test_one_ses_open_of_a_three_recipient_email_counts_once(cli, tmp_path: Path) -> None:
    """SES does not say who opened, so each Open becomes an event per recipient (formats.md
    4.6); the email was still opened twice, not six times."""
    src = tmp_path / "ses.jsonl"
    records = [
        _ses("Send", send={}),
        _ses("Open", open={"timestamp": "2026-11-30T11:00:00.000Z", "ipAddress": "1.2.3.4"}),
        _ses("Open", open={"timestamp": "2026-11-30T12:00:00.000Z", "ipAddress": "1.2.3.4"}),
        _ses("Click", click={"timestamp": "2026-11-30T12:01:00.000Z", "link": "https://x"}),
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert cli("import", str(src)).exit_code == 0
    (row,) = json.loads(cli("search", "--messages", "--format", "json").stdout)
    assert (row["open_count"], row["click_count"], row["event_count"]) == (2, 1, 12)
    shown = cli("show", "0100019abc-three-000000")
    assert re.search(r"Opened +2 times", shown.stdout), shown.stdout

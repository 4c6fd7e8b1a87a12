"""Postal importer (formats.md 4.12): webhook bodies."""

from __future__ import annotations

import copy

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import postal
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, summary

CTX = Context()

MESSAGE = {
    "id": 10233,
    "token": "Bc9Ms4NoPr5T",
    "direction": "outgoing",
    "message_id": "<5e3d4c1a@rp.postal.example.com>",
    "to": "Gone@Example.net",
    "from": "App <No-Reply@postal.example.com>",
    "subject": "Ваш код подтверждения",
    "timestamp": 1718712000.4821,  # creation time: never the event time
    "spam_status": "NotChecked",
    "tag": "verify",
}
FAILED = {
    "event": "MessageDeliveryFailed",
    "timestamp": 1718712007.331,
    "payload": {
        "message": MESSAGE,
        "status": "HardFail",
        "details": "Permanent SMTP delivery error when sending to gone@example.net",
        "output": "550 5.1.1 <gone@example.net>: Recipient address rejected\n",
        "sent_with_ssl": True,
        "timestamp": 1718712007.317,
        "time": 0.42,
    },
    "uuid": "2e3f4a5b-6c7d-4e8f-8a9b-1c2d3e4f5a62",
}


def one(obj: dict) -> Event | Skip:
    (item,) = postal.parse(obj, CTX)
    return item


@pytest.mark.parametrize("file", ["postal/webhooks.jsonl", "postal/message-sent.json"])
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_fields() -> None:
    ev = one(FAILED)
    assert isinstance(ev, Event)
    assert ev.provider == "postal"
    assert ev.status == "bounced" and ev.raw_status == "MessageDeliveryFailed"
    assert ev.event_id == FAILED["uuid"]
    assert ev.timestamp == "2024-06-18T12:00:07.331Z"
    assert ev.message_id == "5e3d4c1a@rp.postal.example.com"
    assert ev.recipient == "gone@example.net"
    assert ev.sender == "no-reply@postal.example.com"
    assert ev.subject == "Ваш код подтверждения"
    assert ev.diagnostic == "550 5.1.1 <gone@example.net>: Recipient address rejected"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.tag == "verify"
    assert ev.extra["postal_status"] == "HardFail"
    assert ev.extra["details"].startswith("Permanent SMTP")


def test_held_uses_details_when_output_is_empty() -> None:
    held = copy.deepcopy(FAILED)
    held["event"] = "MessageHeld"
    held["payload"].update(status="Held", output="", details="Recipient is on the suppression list")
    ev = one(held)
    assert isinstance(ev, Event)
    assert ev.status == "queued" and ev.diagnostic == "Recipient is on the suppression list"
    assert ev.smtp_code is None


def test_bounced_reads_original_message() -> None:
    bounced = {
        "event": "MessageBounced",
        "timestamp": 1718721000.331,
        "payload": {
            "original_message": MESSAGE,
            "bounce": dict(
                MESSAGE,
                direction="incoming",
                message_id="dsn-1@mx.example.net",
                to="bk@psrp.example.com",
            ),
        },
        "uuid": "4a5b6c7d",
    }
    ev = one(bounced)
    assert isinstance(ev, Event)
    assert ev.status == "bounced" and ev.message_id == "5e3d4c1a@rp.postal.example.com"
    assert ev.recipient == "gone@example.net"
    assert ev.extra["bounce_message_id"] == "dsn-1@mx.example.net"


def test_engagement_has_no_codes() -> None:
    click = {
        "event": "MessageLinkClicked",
        "timestamp": 1718712630.331,
        "payload": {
            "message": MESSAGE,
            "url": "https://x.example.com/",
            "ip_address": "192.0.2.77",
            "user_agent": "UA",
        },
        "uuid": "6c7d",
    }
    ev = one(click)
    assert isinstance(ev, Event)
    assert ev.status == "clicked" and ev.smtp_code is None and ev.diagnostic is None
    assert ev.extra["url"] == "https://x.example.com/" and ev.extra["ip"] == "192.0.2.77"


@pytest.mark.parametrize("event", ["DomainDNSError", "SendLimitApproaching", "SendLimitExceeded"])
def test_non_message_events_skip(event: str) -> None:
    assert isinstance(
        one({"event": event, "timestamp": 1718715600.3, "payload": {"domain": "x"}, "uuid": "u"}),
        Skip,
    )


def test_incoming_direction_skips() -> None:
    incoming = copy.deepcopy(FAILED)
    incoming["payload"]["message"]["direction"] = "incoming"
    assert isinstance(one(incoming), Skip)


def test_falls_back_to_payload_timestamp() -> None:
    obj = {k: v for k, v in FAILED.items() if k != "timestamp"}
    ev = one(obj)
    assert isinstance(ev, Event) and ev.timestamp == "2024-06-18T12:00:07.317Z"


def test_retries_give_the_same_event_id() -> None:
    items = parse_values([FAILED, copy.deepcopy(FAILED)])
    assert items[0].event_id == items[1].event_id == FAILED["uuid"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.update(event="MessageTeleported"),
        lambda o: o["payload"].update(message=["not", "an", "object"]),
        lambda o: o["payload"].pop("message"),
        lambda o: o.update(timestamp="whenever"),
        lambda o: (o.pop("timestamp"), o["payload"].pop("timestamp")),
    ],
)
def test_malformed_records_raise_record_error(mutate) -> None:
    obj = copy.deepcopy(FAILED)
    mutate(obj)
    with pytest.raises(RecordError):
        list(postal.parse(obj, CTX))


@pytest.mark.parametrize(
    "obj",
    [
        {"event": "send", "msg": {}, "ts": 1},  # Mandrill
        {"event": "MessageSent", "payload": "text", "uuid": "u"},
        {"event": "MessageSent", "payload": {}},  # no uuid
        {"type": "email.sent", "created_at": "2024-01-01T00:00:00Z", "data": {}},  # Resend
    ],
)
def test_does_not_claim_other_records(obj: dict) -> None:
    assert not postal.detect(obj)


def test_registry_routes_here() -> None:
    assert importers.detect(FAILED) is postal

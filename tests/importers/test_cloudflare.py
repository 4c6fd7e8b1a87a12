"""Cloudflare importer (formats.md 4.13): GraphQL Analytics results, sending and routing."""

from __future__ import annotations

import copy

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import cloudflare
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, summary

CTX = Context()

SEND_ROW = {
    "datetime": "2024-06-19T08:01:10Z",
    "sessionId": "cf3a1b2c4d5e6f71",
    "messageId": "<cf.1b2c3d4e5f60@notify.example.com>",
    "from": "Notify <notify@notify.example.com>",
    "to": "Missing@Example.net",
    "subject": "Anmeldung von einem neuen Gerät 🔐",
    "status": "deliveryFailed",
    "eventType": "newEmail",
    "errorCause": "recipient",
    "errorDetail": "550 5.1.1 The email account that you tried to reach does not exist.",
    "spf": "pass",
    "dkim": "pass",
    "dmarc": "pass",
    "isSpam": 0,
}
ROUTE_ROW = {
    "datetime": "2024-06-19T09:41:00Z",
    "messageId": "<spoof.77@example.biz>",
    "from": "ceo@example.com",
    "to": "billing@notify.example.com",
    "subject": "Urgent wire transfer",
    "status": "rejected",
    "action": "forward",
    "errorDetail": "DMARC policy of example.com is reject",
    "spf": "fail",
    "dmarc": "fail",
}


def response(sending: list | None = None, routing: list | None = None) -> dict:
    zone: dict = {}
    if sending is not None:
        zone["emailSendingAdaptive"] = sending
    if routing is not None:
        zone["emailRoutingAdaptive"] = routing
    return {"data": {"viewer": {"zones": [zone]}}, "errors": None}


def events(obj: dict) -> list[Event]:
    items = list(cloudflare.parse(obj, CTX))
    assert all(isinstance(i, Event) for i in items)
    return items  # type: ignore[return-value]


@pytest.mark.parametrize(
    "file", ["cloudflare/email-sending-graphql.json", "cloudflare/email-routing-graphql.json"]
)
def test_samples_match_expected(file: str) -> None:
    evs = parse_file(file)
    assert as_multiset([summary(e) for e in evs]) == as_multiset(expected_for(file))


def test_sending_row() -> None:
    (ev,) = events(response(sending=[SEND_ROW]))
    assert ev.provider == "cloudflare" and ev.direction == "outbound"
    assert ev.status == "bounced" and ev.raw_status == "deliveryFailed"
    assert ev.message_id == "cf.1b2c3d4e5f60@notify.example.com"
    assert ev.recipient == "missing@example.net" and ev.sender == "notify@notify.example.com"
    assert ev.subject == "Anmeldung von einem neuen Gerät 🔐"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic == SEND_ROW["errorDetail"]
    assert ev.extra["error_cause"] == "recipient"
    assert (ev.extra["spf"], ev.extra["dkim"], ev.extra["dmarc"]) == ("pass", "pass", "pass")
    assert ev.event_id and ev.event_id.startswith("h:")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("rejected", "dropped"),
        ("failed", "failed"),
        ("Sent", "sent"),
    ],
)
def test_sending_statuses(word: str, status: str) -> None:
    (ev,) = events(response(sending=[dict(SEND_ROW, status=word)]))
    assert ev.status == status and ev.direction == "outbound"


def test_sending_falls_back_to_envelope_to() -> None:
    row = {k: v for k, v in SEND_ROW.items() if k != "to"}
    (ev,) = events(response(sending=[dict(row, envelopeTo="Env@Example.net")]))
    assert ev.recipient == "env@example.net"


def test_routing_row() -> None:
    (ev,) = events(response(routing=[ROUTE_ROW]))
    assert ev.direction == "inbound"
    assert ev.status == "rejected" and ev.raw_status == "rejected:forward"
    assert ev.message_id == "spoof.77@example.biz"
    assert ev.diagnostic == "DMARC policy of example.com is reject"
    assert ev.smtp_code is None


@pytest.mark.parametrize(
    ("word", "action", "status"),
    [
        ("delivered", "forward", "forwarded"),
        ("forwarded", "forward", "forwarded"),
        ("delivered", "worker", "processed"),
        ("processed", None, "processed"),
        ("dropped", "drop", "dropped"),
        ("deliveryFailed", "forward", "bounced"),
        ("Rejected", "forward", "rejected"),
    ],
)
def test_routing_statuses(word: str, action: str | None, status: str) -> None:
    row = dict(ROUTE_ROW, status=word, action=action)
    if action is None:
        row.pop("action")
    (ev,) = events(response(routing=[row]))
    assert ev.status == status and ev.direction == "inbound"
    assert ev.raw_status == (f"{word}:{action}" if action else word)


def test_both_lists_and_several_zones() -> None:
    obj = response(sending=[SEND_ROW], routing=[ROUTE_ROW])
    obj["data"]["viewer"]["zones"].append(
        {"zoneTag": "z2", "emailSendingAdaptive": [dict(SEND_ROW, status="delivered")]}
    )
    evs = events(obj)
    assert [e.direction for e in evs] == ["outbound", "inbound", "outbound"]
    assert evs[2].extra["zone_tag"] == "z2"


def test_minimal_rows_and_repeat_ids() -> None:
    row = {"datetime": "2024-06-19T08:00:00Z", "status": "delivered"}
    a, b = events(response(sending=[row, copy.deepcopy(row)]))
    assert a.recipient is None
    assert a.message_id is not None and a.message_id.startswith("noid-")  # synthetic
    assert a.event_id == b.event_id and a.message_id == b.message_id  # the same row twice dedupes


def test_empty_result_is_skipped() -> None:
    items = list(cloudflare.parse(response(sending=[]), CTX))
    assert len(items) == 1 and isinstance(items[0], Skip)
    items = list(cloudflare.parse({"data": {"viewer": {"zones": []}}, "errors": None}, CTX))
    assert isinstance(items[0], Skip)


@pytest.mark.parametrize(
    "obj",
    [
        {"data": {"viewer": {"zones": []}}, "errors": [{"message": "quota exceeded"}]},
        {"data": {"viewer": {"zones": "nope"}}},
        {"data": {"viewer": {"zones": ["nope"]}}},
        response(sending="nope"),  # type: ignore[arg-type]
        response(sending=["row"]),
        response(sending=[dict(SEND_ROW, status="vanished")]),
        response(sending=[dict(SEND_ROW, status=3)]),
        response(sending=[{k: v for k, v in SEND_ROW.items() if k != "status"}]),
        response(sending=[dict(SEND_ROW, datetime="nope")]),
        response(routing=[dict(ROUTE_ROW, status="teleported")]),
    ],
)
def test_malformed_records_raise_record_error(obj: dict) -> None:
    with pytest.raises(RecordError):
        list(cloudflare.parse(obj, CTX))


def test_record_error_names_the_row() -> None:
    with pytest.raises(RecordError, match=r"emailSendingAdaptive\[1\]"):
        list(cloudflare.parse(response(sending=[SEND_ROW, dict(SEND_ROW, status="?")]), CTX))


@pytest.mark.parametrize(
    "obj",
    [
        {
            "type": "email.sent",
            "created_at": "2024-01-01T00:00:00Z",
            "data": {"email_id": "x"},
        },  # Resend
        {"data": {"viewer": "x"}},
        {"data": [1, 2]},
        {"viewer": {"zones": []}},
    ],
)
def test_does_not_claim_other_records(obj: dict) -> None:
    assert not cloudflare.detect(obj)


def test_registry_routes_here() -> None:
    assert importers.detect(response(sending=[SEND_ROW])) is cloudflare

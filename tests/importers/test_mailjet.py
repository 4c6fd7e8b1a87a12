"""Mailjet importer (formats.md 4.11): grouped and single webhook events."""

from __future__ import annotations

import copy
import json

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import mailjet
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, summary

CTX = Context()

BOUNCE = {
    "event": "bounce",
    "time": 1718532005,
    "MessageID": 288230376151711745,
    "Message_GUID": "1ab23cd4-5e6f-7a8b-9c0d-e1f2a3b4c5d6",
    "email": "Inconnu@Example.NET",
    "mj_campaign_id": 7257891,
    "mj_contact_id": 401234567,
    "customcampaign": "mj.nl=welcome",
    "CustomID": "welcome-40123",
    "Payload": "",
    "blocked": True,
    "hard_bounce": True,
    "error_related_to": "recipient",
    "error": "user unknown",
    "comment": "host mx.example.net[203.0.113.5] said: 550 5.1.1 <inconnu@example.net>: User unknown",
}


def one(obj: dict) -> Event | Skip:
    (item,) = mailjet.parse(obj, CTX)
    return item


@pytest.mark.parametrize("file", ["mailjet/webhook-grouped.json", "mailjet/webhook-single.json"])
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_fields() -> None:
    ev = one(BOUNCE)
    assert isinstance(ev, Event)
    assert ev.provider == "mailjet"
    assert ev.status == "bounced" and ev.raw_status == "bounce"
    assert ev.message_id == "288230376151711745"  # exact, beyond 2**53
    assert ev.timestamp == "2024-06-16T10:00:05.000Z"
    assert ev.recipient == "inconnu@example.net"
    assert ev.diagnostic == BOUNCE["comment"]
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")  # not the IP octets
    assert ev.tag == "mj.nl=welcome"
    assert ev.extra["hard_bounce"] is True and ev.extra["error"] == "user unknown"
    assert ev.sender is None and ev.subject is None


def test_big_message_id_from_json_text_is_exact() -> None:
    (obj,) = json.loads(
        '[{"event":"open","time":1718532900,"MessageID":288230376151711747,"email":"a@example.com"}]'
    )
    ev = one(obj)
    assert isinstance(ev, Event) and ev.message_id == "288230376151711747"


def test_lossy_float_message_id_uses_mj_message_id() -> None:
    ev = one(dict(BOUNCE, MessageID=2.8823037615171174e17, mj_message_id="288230376151711745"))
    assert isinstance(ev, Event) and ev.message_id == "288230376151711745"
    ev = one(dict(BOUNCE, MessageID="288230376151711745"))
    assert isinstance(ev, Event) and ev.message_id == "288230376151711745"
    no_id = {k: v for k, v in BOUNCE.items() if k != "MessageID"}
    ev = one(no_id)
    assert isinstance(ev, Event) and ev.message_id == BOUNCE["Message_GUID"]


def test_greylisted_soft_bounce_is_deferred() -> None:
    grey = dict(
        BOUNCE, hard_bounce=False, blocked=False, error="greylisted", comment="450 4.7.1 Greylisted"
    )
    ev = one(grey)
    assert isinstance(ev, Event)
    assert ev.status == "deferred" and ev.raw_status == "bounce"
    assert (ev.smtp_code, ev.enhanced_code) == (450, "4.7.1")
    hard = one(dict(grey, hard_bounce=True))
    assert isinstance(hard, Event) and hard.status == "bounced"
    other = one(dict(grey, error="quota exceeded"))
    assert isinstance(other, Event) and other.status == "bounced"


def test_sent_is_delivered_and_reads_smtp_reply() -> None:
    sent = {
        "event": "sent",
        "time": 1718532002,
        "MessageID": 288230376151711744,
        "email": "emma@example.fr",
        "smtp_reply": "sent (250 2.0.0 Ok: queued as 4W1Qxk3Z8bz9vT)",
    }
    ev = one(sent)
    assert isinstance(ev, Event)
    assert ev.status == "delivered" and (ev.smtp_code, ev.enhanced_code) == (250, "2.0.0")


def test_blocked_uses_error_as_diagnostic() -> None:
    blocked = {k: v for k, v in BOUNCE.items() if k != "comment"}
    ev = one(dict(blocked, event="blocked", error="blacklisted"))
    assert isinstance(ev, Event)
    assert ev.status == "dropped" and ev.diagnostic == "blacklisted" and ev.smtp_code is None


def test_engagement_fields() -> None:
    click = {
        "event": "click",
        "time": 1718532920,
        "MessageID": 288230376151711744,
        "email": "emma@example.fr",
        "url": "https://www.example.fr/bienvenue",
        "ip": "198.51.100.61",
        "agent": "Mozilla/5.0",
        "comment": "550 5.1.1 should be ignored",
    }
    ev = one(click)
    assert isinstance(ev, Event)
    assert ev.status == "clicked" and ev.smtp_code is None and ev.diagnostic is None
    assert ev.extra["url"] == click["url"] and ev.extra["user_agent"] == "Mozilla/5.0"


def test_retries_give_the_same_event_id() -> None:
    items = parse_values([BOUNCE, copy.deepcopy(BOUNCE)])
    assert len(items) == 2 and items[0].event_id == items[1].event_id
    other = one(dict(BOUNCE, time=1718532006))
    assert isinstance(other, Event) and other.event_id != items[0].event_id


@pytest.mark.parametrize(
    "obj",
    [
        dict(BOUNCE, event="exploded"),
        dict(BOUNCE, event=7),
        dict(BOUNCE, time="later"),
        dict(BOUNCE, time=None),
        dict(BOUNCE, time={"s": 1}),
    ],
)
def test_malformed_records_raise_record_error(obj: dict) -> None:
    with pytest.raises(RecordError):
        list(mailjet.parse(obj, CTX))


def test_wrong_typed_optional_fields_do_not_crash() -> None:
    ev = one(
        dict(BOUNCE, email=["A@example.com"], comment={"x": 1}, error=["x"], hard_bounce="yes")
    )
    assert isinstance(ev, Event) and ev.recipient == "a@example.com" and ev.status == "bounced"


@pytest.mark.parametrize(
    "obj",
    [
        {
            "event": "delivered",
            "sg_event_id": "x",
            "email": "a@example.com",
            "timestamp": 1,
        },  # SendGrid
        {"event": "delivered", "message-id": "<a@b>", "ts_epoch": 1718344800417},  # Brevo
        {"event": "sent", "MessageID": 1, "email": "a@example.com"},  # no time
        {"event": "sent", "time": 1, "email": "a@example.com"},  # no id key
    ],
)
def test_does_not_claim_other_records(obj: dict) -> None:
    assert not mailjet.detect(obj)


def test_registry_routes_here() -> None:
    assert importers.detect(BOUNCE) is mailjet

"""Resend importer (formats.md 4.7)."""

from __future__ import annotations

import copy
import json

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import resend
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import (
    as_multiset,
    expected_for,
    parse_file,
    parse_values,
    pipeline_values,
    require_samples,
    summary,
)

CTX = Context()

BOUNCED = {
    "type": "email.bounced",
    "created_at": "2024-06-09T07:31:05.662Z",
    "data": {
        "created_at": "2024-06-09T07:30:00.118233+00:00",
        "email_id": "1e2d3c4b-5a69-4788-9766-a5b4c3d2e1f0",
        "message_id": "<0100018ff@email.amazonses.com>",
        "from": "Acme <Updates@Acme.example.com>",
        "to": ["Unknown User <Unknown.User@Example.net>", "second@example.net"],
        "subject": "Was gibt's Neues im Juni? 🚀",
        "tags": {"category": "product_update"},
        "bounce": {
            "diagnosticCode": [
                "smtp; 550 5.1.1 <unknown.user@example.net>: Recipient address rejected: User unknown"
            ],
            "message": "The recipient's email provider sent a hard bounce message.",
            "subType": "General",
            "type": "Permanent",
        },
    },
}


def one(obj: dict) -> Event | Skip:
    items = list(resend.parse(obj, CTX))
    assert len(items) == 1
    return items[0]


def with_data(**changes: object) -> dict:
    obj = copy.deepcopy(BOUNCED)
    obj["data"].update(changes)
    return obj


@pytest.mark.parametrize("file", ["resend/email-bounced.json", "resend/webhooks.jsonl"])
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_bounced_fields() -> None:
    ev = one(BOUNCED)
    assert isinstance(ev, Event)
    assert ev.provider == "resend" and ev.direction == "outbound"
    assert ev.status == "bounced" and ev.raw_status == "email.bounced"
    assert ev.timestamp == "2024-06-09T07:31:05.662Z"  # top-level created_at, not data.created_at
    assert ev.message_id == "1e2d3c4b-5a69-4788-9766-a5b4c3d2e1f0"
    assert ev.recipient == "unknown.user@example.net"
    assert ev.sender == "updates@acme.example.com"
    assert ev.subject == "Was gibt's Neues im Juni? 🚀"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic.startswith("smtp; 550 5.1.1")
    assert ev.bounce_hint == "resend:Permanent/General"
    assert ev.aliases == ("0100018ff@email.amazonses.com",)
    assert ev.extra["rfc_message_id"] == "0100018ff@email.amazonses.com"
    assert ev.tag == "product_update" and ev.extra["tags"] == {"category": "product_update"}
    assert ev.event_id and ev.event_id.startswith("h:")
    json.dumps(ev.extra)


@pytest.mark.parametrize("sub", ["Suppressed", "OnAccountSuppressionList"])
def test_suppressed_bounce_is_dropped(sub: str) -> None:
    obj = copy.deepcopy(BOUNCED)
    obj["data"]["bounce"]["subType"] = sub
    ev = one(obj)
    assert isinstance(ev, Event)
    assert ev.status == "dropped" and ev.raw_status == "email.bounced"
    assert ev.bounce_hint == f"resend:Permanent/{sub}"


def test_bounce_message_when_no_diagnostic_code() -> None:
    obj = copy.deepcopy(BOUNCED)
    del obj["data"]["bounce"]["diagnosticCode"]
    ev = one(obj)
    assert isinstance(ev, Event)
    assert ev.diagnostic == "The recipient's email provider sent a hard bounce message."
    assert ev.smtp_code is None
    obj["data"]["bounce"]["diagnosticCode"] = "smtp; 554 5.7.1 rejected"
    ev = one(obj)
    assert isinstance(ev, Event) and (ev.smtp_code, ev.enhanced_code) == (554, "5.7.1")


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("email.scheduled", "queued"),
        ("email.sent", "sent"),
        ("email.delivered", "delivered"),
        ("email.delivery_delayed", "deferred"),
        ("email.failed", "failed"),
        ("email.suppressed", "dropped"),
        ("email.complained", "complained"),
        ("email.opened", "opened"),
        ("email.clicked", "clicked"),
    ],
)
def test_types(kind: str, status: str) -> None:
    obj = copy.deepcopy(BOUNCED)
    del obj["data"]["bounce"]
    obj["type"] = kind
    ev = one(obj)
    assert isinstance(ev, Event) and ev.status == status and ev.raw_status == kind


def test_failed_and_suppressed_diagnostics() -> None:
    obj = {**copy.deepcopy(BOUNCED), "type": "email.failed"}
    del obj["data"]["bounce"]
    obj["data"]["failed"] = {"reason": "reached_daily_quota"}
    ev = one(obj)
    assert isinstance(ev, Event) and ev.diagnostic == "reached_daily_quota"
    obj = {**copy.deepcopy(BOUNCED), "type": "email.suppressed"}
    del obj["data"]["bounce"]
    obj["data"]["suppressed"] = {
        "message": "Resend has suppressed sending to this address.",
        "type": "OnAccountSuppressionList",
    }
    ev = one(obj)
    assert isinstance(ev, Event) and ev.status == "dropped"
    assert ev.diagnostic == "Resend has suppressed sending to this address."
    assert ev.extra["suppressed_type"] == "OnAccountSuppressionList"


def test_clicked_extras_and_no_reply_fields() -> None:
    obj = {**copy.deepcopy(BOUNCED), "type": "email.clicked"}
    obj["data"]["click"] = {
        "ipAddress": "203.0.113.150",
        "link": "https://x",
        "timestamp": "2024-06-09T08:02:40.441Z",
        "userAgent": "UA",
    }
    ev = one(obj)
    assert isinstance(ev, Event)
    assert ev.smtp_code is None and ev.diagnostic is None
    assert (
        ev.extra["ip"] == "203.0.113.150"
        and ev.extra["url"] == "https://x"
        and ev.extra["user_agent"] == "UA"
    )


def test_received_is_inbound_processed() -> None:
    obj = {
        "type": "email.received",
        "created_at": "2024-06-09T09:00:00Z",
        "data": {
            "email_id": "in-1",
            "from": "x@y",
            "to": ["support@acme.example.com"],
            "subject": "Hi",
        },
    }
    ev = one(obj)
    assert isinstance(ev, Event)
    assert ev.status == "processed" and ev.direction == "inbound"
    assert ev.recipient == "support@acme.example.com"


@pytest.mark.parametrize(
    "kind", ["contact.created", "contact.updated", "domain.updated", "contact.deleted"]
)
def test_contact_and_domain_are_skipped(kind: str) -> None:
    assert isinstance(
        one({"type": kind, "created_at": "2024-06-09T09:00:00Z", "data": {"id": "x"}}), Skip
    )


def test_older_tag_array_and_missing_optional_fields() -> None:
    ev = one(
        with_data(
            tags=[{"name": "category", "value": "welcome"}],
            subject=None,
            to="solo@example.com",
            **{"from": None},
        )
    )
    assert isinstance(ev, Event)
    assert ev.extra["tags"] == {"category": "welcome"} and ev.tag == "welcome"
    assert ev.recipient == "solo@example.com" and ev.subject is None and ev.sender is None


@pytest.mark.parametrize(
    "obj",
    [
        {**BOUNCED, "type": "email.teleported"},
        {**BOUNCED, "created_at": None},
        {**BOUNCED, "created_at": "garbage"},
        {**BOUNCED, "data": "x"},
        {**BOUNCED, "type": 3},
        with_data(bounce="hard"),
        with_data(click=[1]),
    ],
)
def test_bad_records_are_record_errors(obj: dict) -> None:
    with pytest.raises(RecordError):
        list(resend.parse(obj, CTX))


def test_wrong_typed_optional_fields_do_not_crash() -> None:
    ev = one(with_data(to=[{"email": "x"}], subject=["a"], email_id=123, tags="nope"))
    assert isinstance(ev, Event)
    assert ev.recipient is None and ev.subject is None and ev.message_id == "123"


def test_retries_give_the_same_event_id() -> None:
    items = parse_values([BOUNCED, copy.deepcopy(BOUNCED)])
    assert items[0].event_id == items[1].event_id  # type: ignore[union-attr]


def test_detection() -> None:
    assert importers.detect(BOUNCED) is resend
    assert not resend.detect({"type": "email.sent", "data": {}})  # no created_at
    assert not resend.detect({"type": "email.sent", "created_at": "x", "data": "y"})
    assert not resend.detect(
        {"type": "whitelist", "action": "add", "reject": {}, "created_at": "x", "data": {}}
    )
    assert not resend.detect({"type": "bounce", "created_at": "x", "data": {}})  # not email.*
    for file in ("mailgun/webhooks.jsonl", "postmark/webhooks.jsonl", "ses/firehose-records.jsonl"):
        for line in (require_samples() / file).read_text().splitlines():
            assert not resend.detect(json.loads(line))


# --- emails API (GET /emails/{id}, GET /emails), as Resend's API reference shows them ------

EMAIL = {
    "object": "email",
    "id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
    "to": ["delivered@resend.dev", "Second@Example.com"],
    "from": "Acme <onboarding@resend.dev>",
    "created_at": "2023-04-03 22:13:42.674981+00",
    "subject": "Hello World",
    "html": "Congrats on sending your <strong>first email</strong>!",
    "text": None,
    "bcc": [None],
    "cc": [None],
    "reply_to": [None],
    "last_event": "delivered",
    "scheduled_at": None,
    "tags": [{"name": "category", "value": "confirm_email"}],
}


def test_email_object_is_one_event_per_recipient() -> None:
    assert importers.detect(EMAIL) is resend
    events = parse_values(EMAIL)
    assert [(e.status, e.recipient) for e in events] == [
        ("delivered", "delivered@resend.dev"),
        ("delivered", "second@example.com"),
    ]
    e = events[0]
    assert isinstance(e, Event)
    assert e.message_id == "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"  # data.email_id of webhooks
    assert (e.sender, e.subject, e.tag) == ("onboarding@resend.dev", "Hello World", "confirm_email")
    assert e.timestamp == "2023-04-03T22:13:42.674Z" and e.raw_status == "email.delivered"
    assert "Congrats" not in str(e.extra)


def test_emails_list_page_items_have_no_object_key() -> None:
    item = {k: v for k, v in EMAIL.items() if k not in ("object", "html", "text", "tags")}
    page = {
        "object": "list",
        "has_more": False,
        "data": [
            {**item, "to": ["a@example.com"]},
            {**item, "id": "b2", "to": ["b@example.com"], "last_event": "bounced"},
            {**item, "id": "c3", "to": ["c@example.com"], "last_event": "queued"},
        ],
    }
    events = pipeline_values(page)
    assert [(e.status, e.message_id) for e in events] == [
        ("delivered", EMAIL["id"]),
        ("bounced", "b2"),
        ("queued", "c3"),
    ]


def test_email_object_with_an_unknown_last_event_is_a_record_error() -> None:
    items = pipeline_values({**EMAIL, "last_event": "teleported"})
    assert len(items) == 1 and "teleported" in str(items[0])

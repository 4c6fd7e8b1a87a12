"""Mailgun importer: webhooks (formats.md 4.3), Events API and Logs API pages (4.4)."""

from __future__ import annotations

import copy
import json

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import mailgun
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, require_samples, summary

CTX = Context()

FAILED = {
    "id": "Cd5Mf1NrS4wX9aZb3eGh6i",
    "timestamp": 1717488312.5,
    "event": "failed",
    "recipient": "Ghost@Example.NET",
    "tags": ["invoice", "june"],
    "user-variables": {"account": "A-1009"},
    "message": {
        "headers": {
            "message-id": "<20240604080510.7e8f@mg.example.com>",
            "to": "ghost@example.net",
            "from": "Acme Billing <Billing@mg.example.com>",
            "subject": "Ihre Rechnung für Juni ✉️",
        },
        "size": 4213,
    },
    "severity": "permanent",
    "reason": "bounce",
    "envelope": {"sender": "bounce+2a3b4c@mg.example.com", "sending-ip": "203.0.113.88"},
    "delivery-status": {
        "attempt-no": 1,
        "code": 550,
        "enhanced-code": "5.1.1",
        "mx-host": "mx.example.net",
        "message": "5.1.1 <ghost@example.net>: Recipient address rejected: User unknown",
        "description": "",
    },
    "storage": {"url": "https://storage.mailgun.net/v3/domains/x/messages/KEY1", "key": "KEY1"},
}


def hook(data: dict) -> dict:
    return {"signature": {"timestamp": "1", "token": "t", "signature": "s"}, "event-data": data}


def one(obj: dict) -> Event | Skip:
    items = list(mailgun.parse(obj, CTX))
    assert len(items) == 1
    return items[0]


def with_(base: dict, **changes: object) -> dict:
    d = copy.deepcopy(base)
    for k, v in changes.items():
        d[k.replace("_", "-") if k in ("delivery_status", "user_variables") else k] = v
    return d


# --- samples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file", ["mailgun/webhooks.jsonl", "mailgun/events-api-page.json", "mailgun/logs-api-page.json"]
)
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))
    assert all(e.event_id and not e.event_id.startswith("h:") for e in events)


def test_webhooks_and_api_pages_share_event_ids() -> None:
    hooks = {e.event_id: e for e in parse_file("mailgun/webhooks.jsonl")}
    for file in ("mailgun/events-api-page.json", "mailgun/logs-api-page.json"):
        for e in parse_file(file):
            assert e.event_id in hooks
            assert summary(e) == summary(hooks[e.event_id])


# --- fields -------------------------------------------------------------------------


def test_failed_permanent_fields() -> None:
    ev = one(hook(FAILED))
    assert isinstance(ev, Event)
    assert ev.provider == "mailgun" and ev.event_id == "Cd5Mf1NrS4wX9aZb3eGh6i"
    assert ev.status == "bounced" and ev.raw_status == "failed:permanent"
    assert ev.timestamp == "2024-06-04T08:05:12.500Z"
    assert ev.message_id == "20240604080510.7e8f@mg.example.com"
    assert ev.recipient == "ghost@example.net"
    assert ev.sender == "billing@mg.example.com"
    assert ev.subject == "Ihre Rechnung für Juni ✉️"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic == FAILED["delivery-status"]["message"]
    assert ev.bounce_hint == "mailgun-reason:bounce"
    assert ev.tag == "invoice" and ev.extra["tags"] == ["invoice", "june"]
    assert ev.extra["user_variables"] == {"account": "A-1009"}
    assert ev.extra["sending_ip"] == "203.0.113.88"
    assert ev.extra["envelope_sender"] == "bounce+2a3b4c@mg.example.com"
    assert ev.size == 4213 and ev.aliases == ("KEY1",)
    json.dumps(ev.extra)


def test_failed_temporary_is_deferred() -> None:
    ev = one(hook(with_(FAILED, severity="temporary", reason="greylisted")))
    assert isinstance(ev, Event)
    assert ev.status == "deferred" and ev.raw_status == "failed:temporary"
    assert ev.bounce_hint == "mailgun-reason:greylisted"


@pytest.mark.parametrize(
    "reason", ["suppress-bounce", "suppress-complaint", "suppress-unsubscribe"]
)
def test_suppressions_are_dropped_and_internal_codes_are_not_smtp(reason: str) -> None:
    ds = {"code": 605, "message": "", "description": "Not delivering to previously bounced address"}
    ev = one(hook(with_(FAILED, reason=reason, delivery_status=ds)))
    assert isinstance(ev, Event)
    assert ev.status == "dropped" and ev.raw_status == "failed:permanent"
    assert ev.smtp_code is None and ev.enhanced_code is None
    assert ev.diagnostic == "Not delivering to previously bounced address"
    assert ev.bounce_hint == f"mailgun-reason:{reason}"


def test_failed_without_severity_is_bounced_and_code_hint() -> None:
    d = with_(FAILED, delivery_status={"code": 607, "message": "complained earlier"})
    del d["severity"], d["reason"]
    ev = one(hook(d))
    assert isinstance(ev, Event)
    assert ev.status == "bounced" and ev.raw_status == "failed"
    assert ev.smtp_code is None and ev.bounce_hint == "mailgun-code:607"


def test_enhanced_code_falls_back_to_text() -> None:
    for enhanced in ("", None):
        ds = {"code": 550, "enhanced-code": enhanced, "message": "550 5.7.1 blocked by policy"}
        ev = one(hook(with_(FAILED, delivery_status=ds)))
        assert isinstance(ev, Event) and ev.enhanced_code == "5.7.1"


def test_null_delivery_status_and_missing_headers() -> None:
    d = with_(FAILED, delivery_status=None, message={"headers": {"message-id": "m@x"}})
    ev = one(hook(d))
    assert isinstance(ev, Event)
    assert ev.smtp_code is None and ev.diagnostic is None and ev.subject is None
    # No From header: the envelope sender stands in.
    assert ev.sender == "bounce+2a3b4c@mg.example.com" and ev.message_id == "m@x"


def test_rejected_takes_recipient_from_to_header_and_reason() -> None:
    d = {
        "id": "Jk2",
        "timestamp": 1717498800.25,
        "event": "rejected",
        "reject": {"reason": "Sandbox subdomains are for test purposes only.", "description": ""},
        "message": {
            "headers": {
                "to": '"Quinn, Nora" <Nora.Quinn@Example.com>, other@example.com',
                "message-id": "r@x",
            }
        },
    }
    ev = one(hook(d))
    assert isinstance(ev, Event)
    assert ev.status == "dropped" and ev.recipient == "nora.quinn@example.com"
    assert ev.diagnostic == "Sandbox subdomains are for test purposes only."


def test_engagement_has_no_reply_fields() -> None:
    d = with_(FAILED, event="opened", ip="198.51.100.23")
    d["client-info"] = {"user-agent": "UA/1"}
    ev = one(hook(d))
    assert isinstance(ev, Event)
    assert ev.status == "opened" and ev.raw_status == "opened"
    assert ev.smtp_code is None and ev.enhanced_code is None and ev.diagnostic is None
    assert ev.bounce_hint is None
    assert ev.extra["ip"] == "198.51.100.23" and ev.extra["user_agent"] == "UA/1"


def test_logs_api_item_uses_at_timestamp_and_brackets() -> None:
    d = with_(FAILED)
    del d["timestamp"]
    d["@timestamp"] = "2024-06-04T08:05:12.500Z"
    d["message"]["headers"]["message-id"] = "<Mixed.Case@X>"
    page = {"start": "Tue, 04 Jun 2024 00:00:00 +0000", "items": [d], "pagination": {}}
    ev = one(page)
    assert isinstance(ev, Event)
    assert ev.timestamp == "2024-06-04T08:05:12.500Z" and ev.message_id == "Mixed.Case@X"


@pytest.mark.parametrize(
    "word", ["stored", "list_member_uploaded", "list_something_new", "email_validation", "trapped"]
)
def test_skipped_events(word: str) -> None:
    assert isinstance(one(hook(with_(FAILED, event=word))), Skip)


def test_unknown_event_is_a_record_error() -> None:
    with pytest.raises(RecordError):
        list(mailgun.parse(hook(with_(FAILED, event="teleported")), CTX))


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": None},
        {"timestamp": "soon"},
        {"timestamp": 1.0},
        {"event": 5},
        {"message": "not an object"},
        {"message": {"headers": ["a"]}},
        {"delivery-status": [1]},
        {"envelope": "x"},
    ],
)
def test_wrong_types_are_record_errors(change: dict) -> None:
    with pytest.raises(RecordError):
        list(mailgun.parse(hook({**copy.deepcopy(FAILED), **change}), CTX))


def test_event_data_not_an_object() -> None:
    with pytest.raises(RecordError):
        list(mailgun.parse({"signature": {}, "event-data": [1]}, CTX))


# --- pages --------------------------------------------------------------------------


def test_page_yields_every_item_and_isolates_bad_ones() -> None:
    good2 = with_(FAILED, id="other", event="delivered")
    page = {"items": [FAILED, "junk", with_(FAILED, event="teleported"), good2], "paging": {}}
    items = list(mailgun.parse(page, CTX))
    events = [i for i in items if isinstance(i, Event)]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [e.event_id for e in events] == [FAILED["id"], "other"]
    assert len(errors) == 2 and "items[1]" in str(errors[0]) and "items[2]" in str(errors[1])


def test_page_with_one_item_and_empty_page() -> None:
    ev = one({"items": [FAILED], "paging": {"next": "x"}})
    assert isinstance(ev, Event)
    assert isinstance(one({"items": [], "paging": {}}), Skip)


def test_retries_give_the_same_event_id() -> None:
    items = parse_values([hook(FAILED), hook(copy.deepcopy(FAILED))])
    assert len(items) == 2 and items[0].event_id == items[1].event_id  # type: ignore[union-attr]


# --- detection ----------------------------------------------------------------------


def test_detection() -> None:
    assert importers.detect(hook(FAILED)) is mailgun
    assert importers.detect({"items": [], "paging": {}}) is mailgun
    assert importers.detect({"items": [], "pagination": {}}) is mailgun
    assert not mailgun.detect({"signature": "abc", "event-data": {}})  # signature must be an object
    assert not mailgun.detect(FAILED)  # bare event-data is not a webhook body
    assert not mailgun.detect({"items": [], "total": 0})
    assert not mailgun.detect({"results": [], "links": {}})  # SparkPost page


def test_other_providers_are_not_mailgun() -> None:
    for file in ("postmark/webhooks.jsonl", "resend/webhooks.jsonl", "ses/firehose-records.jsonl"):
        for line in (require_samples() / file).read_text().splitlines():
            assert not mailgun.detect(json.loads(line))
    for obj in json.loads((require_samples() / "sendgrid/event-webhook-batch.json").read_text()):
        assert not mailgun.detect(obj)

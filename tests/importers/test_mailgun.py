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
    # a bare event-data object (an Events API item saved alone) is Mailgun's too
    assert importers.detect(FAILED) is mailgun
    assert not mailgun.detect({"items": [], "total": 0})
    assert not mailgun.detect({"results": [], "links": {}})  # SparkPost page


def test_other_providers_are_not_mailgun() -> None:
    for file in ("postmark/webhooks.jsonl", "resend/webhooks.jsonl", "ses/firehose-records.jsonl"):
        for line in (require_samples() / file).read_text().splitlines():
            assert not mailgun.detect(json.loads(line))
    for obj in json.loads((require_samples() / "sendgrid/event-webhook-batch.json").read_text()):
        assert not mailgun.detect(obj)


# --- bare event-data, pages without paging, legacy webhooks -------------------------------


def test_bare_event_data_reads_like_its_webhook() -> None:
    """The same event as a webhook body and as a bare object: the same event."""
    (bare,) = parse_values(FAILED)
    (hooked,) = parse_values(hook(FAILED))
    assert bare == hooked
    assert bare.status == "bounced" and bare.message_id == "20240604080510.7e8f@mg.example.com"


def test_items_without_paging_are_read_one_by_one() -> None:
    """An Events API page saved without its `paging` (or several pages' items joined)."""
    opened = with_(FAILED, event="opened", id="op-1", timestamp=1717488400)
    events = pipeline_values({"items": [FAILED, opened]})
    assert [e.status for e in events] == ["bounced", "opened"]
    assert len({e.message_id for e in events}) == 1


HEADERS = json.dumps(
    [
        ["Received", "by luna.mailgun.net with HTTP"],
        ["Message-Id", "<20240604080510.7e8f@mg.example.com>"],
        ["Subject", "Ihre Rechnung"],
        ["From", "Acme Billing <billing@mg.example.com>"],
        ["To", "ghost@example.net"],
    ]
)
# Legacy webhooks post form fields; a dump stores them as one flat JSON object each.
LEGACY_BOUNCED = {
    "event": "bounced",
    "recipient": "ghost@example.net",
    "domain": "mg.example.com",
    "message-headers": HEADERS,
    "Message-Id": "<20240604080510.7e8f@mg.example.com>",
    "code": "550",
    "error": "5.1.1 The email account that you tried to reach does not exist.",
    "notification": "",
    "X-Mailgun-Sid": "WyI3MmQ2MCIsICJnaG9zdEBleGFtcGxlLm5ldCIsICJiOWQ1Il0=",
    "timestamp": "1717488312",
    "token": "c4a1a9e1d5b2f8e7",
    "signature": "0b4d6b1a2f0c8e7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c",
}
LEGACY_DROPPED = {
    "event": "dropped",
    "recipient": "old@example.net",
    "domain": "mg.example.com",
    "message-headers": HEADERS,
    "Message-Id": "<20240604080510.7e8f@mg.example.com>",
    "reason": "hardfail",
    "code": "605",
    "description": "Not delivering to previously bounced address",
    "timestamp": "1717488313",
    "token": "d5",
    "signature": "e6",
}


def test_legacy_bounced_webhook() -> None:
    assert importers.detect(LEGACY_BOUNCED) is mailgun
    (e,) = parse_values(LEGACY_BOUNCED)
    assert isinstance(e, Event)
    assert (e.status, e.raw_status) == ("bounced", "bounced")
    assert e.message_id == "20240604080510.7e8f@mg.example.com"  # as the new webhooks have it
    assert e.timestamp == "2024-06-04T08:05:12.000Z"
    assert (e.recipient, e.sender, e.subject) == (
        "ghost@example.net",
        "billing@mg.example.com",
        "Ihre Rechnung",
    )
    assert (e.smtp_code, e.enhanced_code) == (550, "5.1.1")
    assert e.diagnostic == LEGACY_BOUNCED["error"]


@pytest.mark.parametrize(
    ("reason", "status"), [("hardfail", "dropped"), ("maxfails", "bounced"), ("old", "bounced")]
)
def test_legacy_dropped_is_refined_by_reason(reason: str, status: str) -> None:
    (e,) = parse_values({**LEGACY_DROPPED, "reason": reason})
    assert isinstance(e, Event)
    assert (e.status, e.raw_status) == (status, f"dropped:{reason}")
    assert e.smtp_code is None  # 605 is Mailgun's own code
    assert e.diagnostic == "Not delivering to previously bounced address"


def test_legacy_custom_variables_are_kept() -> None:
    form = {**LEGACY_BOUNCED, "X-Mailgun-Variables": '{"account": "A-1009"}'}
    (e,) = parse_values(form)
    assert isinstance(e, Event) and e.extra["user_variables"] == {"account": "A-1009"}


def test_legacy_and_new_webhooks_of_one_email_are_one_message() -> None:
    legacy = parse_values(LEGACY_BOUNCED)
    new = parse_values(hook(FAILED))
    assert {e.message_id for e in legacy + new} == {"20240604080510.7e8f@mg.example.com"}


def test_legacy_engagement_without_headers() -> None:
    opened = {
        "event": "opened",
        "recipient": "Ghost@Example.net",
        "domain": "mg.example.com",
        "message-id": "20240604080510.7e8f@mg.example.com",
        "ip": "198.51.100.7",
        "user-agent": "Mozilla/5.0",
        "tag": "invoice",
        "timestamp": "1717490000",
        "token": "t",
        "signature": "s",
    }
    (e,) = parse_values(opened)
    assert isinstance(e, Event)
    assert (e.status, e.recipient, e.tag) == ("opened", "ghost@example.net", "invoice")
    assert e.message_id == "20240604080510.7e8f@mg.example.com"
    assert e.extra["user_agent"] == "Mozilla/5.0" and e.smtp_code is None


def test_sendgrid_like_flat_events_are_not_legacy_mailgun() -> None:
    """`event` + `timestamp` alone is every flat provider's shape: legacy Mailgun needs its
    `token` and string `signature`."""
    assert not mailgun.detect({"event": "delivered", "timestamp": 1, "email": "a@b.c"})
    assert not mailgun.detect({"event": "delivered", "timestamp": 1, "sg_event_id": "x"})

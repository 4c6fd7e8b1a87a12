"""Mandrill importer (formats.md 4.9): form body, parsed form, bare events, sync events."""

from __future__ import annotations

import copy
import json
from urllib.parse import quote_plus

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import mandrill
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, require_samples, summary

CTX = Context()

BOUNCE = {
    "event": "hard_bounce",
    "_id": "0a9b8c7d6e5f44a3b2c1d0e9f8a7b6c5",
    "ts": 1718204409,
    "msg": {
        "ts": 1718204400,
        "_id": "0a9b8c7d6e5f44a3b2c1d0e9f8a7b6c5",
        "state": "bounced",
        "subject": "Ihre Buchung ist bestätigt ✈️",
        "email": "Wrong@Example.NET",
        "sender": "Bookings <bookings@travel.example.com>",
        "tags": ["booking", "de"],
        "metadata": {"ref": "TRV-1"},
        "smtp_events": [],
        "bounce_description": "bad_mailbox",
        "bgtools_code": 10,
        "diag": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    },
}


def form(events: object) -> str:
    return "mandrill_events=" + quote_plus(json.dumps(events))


def events_of(items: list) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def test_decoded_sample_matches_expected() -> None:
    file = "mandrill/mandrill-events-decoded.json"
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_form_sample_matches_expected() -> None:
    file = "mandrill/webhook-body.form"
    text = (require_samples() / file).read_text(encoding="utf-8")
    decoded = mandrill.decode_form_body(text)
    assert isinstance(decoded, list)
    events = events_of(parse_values(decoded))
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_form_and_decoded_samples_give_the_same_event_ids() -> None:
    a = parse_file("mandrill/mandrill-events-decoded.json")
    b = parse_file("mandrill/webhook-body.form")
    assert sorted(e.event_id for e in a) == sorted(e.event_id for e in b)
    assert len({e.event_id for e in a}) == len(a)


def test_event_fields() -> None:
    (ev,) = mandrill.parse(BOUNCE, CTX)
    assert isinstance(ev, Event)
    assert ev.provider == "mandrill"
    assert ev.status == "bounced" and ev.raw_status == "hard_bounce"
    assert ev.timestamp == "2024-06-12T15:00:09.000Z"  # top-level ts, not msg.ts
    assert ev.message_id == "0a9b8c7d6e5f44a3b2c1d0e9f8a7b6c5"
    assert ev.recipient == "wrong@example.net"
    assert ev.sender == "bookings@travel.example.com"
    assert ev.subject == "Ihre Buchung ist bestätigt ✈️"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic.startswith("smtp;550 5.1.1")
    assert ev.tag == "booking"
    assert ev.extra["tags"] == ["booking", "de"]
    assert ev.extra["bounce_description"] == "bad_mailbox"
    assert ev.event_id and ev.event_id.startswith("h:")


def test_diagnostic_from_last_smtp_event() -> None:
    deferral = copy.deepcopy(BOUNCE)
    deferral["event"] = "deferral"
    del deferral["msg"]["diag"]
    deferral["msg"]["smtp_events"] = [
        {"ts": 1, "type": "deferred", "diag": "421 4.4.2 timeout"},
        {"ts": 2, "type": "deferred", "diag": "451 4.7.1 Greylisted, please retry later"},
    ]
    (ev,) = mandrill.parse(deferral, CTX)
    assert isinstance(ev, Event)
    assert ev.status == "deferred"
    assert (ev.smtp_code, ev.enhanced_code) == (451, "4.7.1")


def test_engagement_ignores_repeated_smtp_log() -> None:
    opened = copy.deepcopy(BOUNCE)
    opened.update(event="open", ts=1718209245, ip="192.0.2.33", user_agent="Mail/1.0")
    opened["msg"]["smtp_events"] = [{"diag": "250 2.0.0 OK"}]
    (ev,) = mandrill.parse(opened, CTX)
    assert isinstance(ev, Event)
    assert ev.status == "opened"
    assert (ev.smtp_code, ev.enhanced_code, ev.diagnostic) == (None, None, None)
    assert ev.extra["ip"] == "192.0.2.33"


def test_parsed_form_with_json_string_and_with_array() -> None:
    for value in (json.dumps([BOUNCE, BOUNCE]), [BOUNCE, BOUNCE]):
        obj = {"mandrill_events": value}
        assert mandrill.detect(obj)
        assert importers.detect(obj) is mandrill
        events = events_of(list(mandrill.parse(obj, CTX)))
        assert len(events) == 2
        # a webhook retry inside one batch dedupes on the same id
        assert events[0].event_id == events[1].event_id


def test_empty_batch_is_skipped() -> None:
    assert all(isinstance(i, Skip) for i in mandrill.parse({"mandrill_events": "[]"}, CTX))


def test_sync_and_inbound_events_skip() -> None:
    sync = {"type": "blacklist", "action": "add", "reject": {"email": "x@example.com"}}
    assert mandrill.detect(sync)
    assert importers.detect(sync) is mandrill
    assert isinstance(next(iter(mandrill.parse(sync, CTX))), Skip)
    inbound = dict(BOUNCE, event="inbound")
    assert isinstance(next(iter(mandrill.parse(inbound, CTX))), Skip)
    mixed = {"mandrill_events": [sync, BOUNCE]}
    items = list(mandrill.parse(mixed, CTX))
    assert [type(i) for i in items] == [Skip, Event]


def test_decode_form_body_details() -> None:
    text = "\ufeff" + form([BOUNCE]) + "\r\n"
    assert mandrill.decode_form_body(text) == [BOUNCE]
    # `+` is a space, other fields are ignored
    assert mandrill.decode_form_body("x=1&mandrill_events=%5B%22a+b%22%5D") == ["a b"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("mandrill_events=", "empty"),
        ("mandrill_events", "no value"),
        ("other=1", "no mandrill_events"),
        ("mandrill_events=%5B%7B%22event%22", "not valid JSON"),
        ("mandrill_events=%FF%FE", "UTF-8"),
        ("mandrill_events=42", "not a JSON array"),
    ],
)
def test_decode_form_body_errors(body: str, needle: str) -> None:
    with pytest.raises(RecordError, match=needle):
        mandrill.decode_form_body(body)


@pytest.mark.parametrize(
    "obj",
    [
        dict(BOUNCE, event="sent_somewhere"),
        {k: v for k, v in BOUNCE.items() if k != "ts"},
        dict(BOUNCE, ts="not a time"),
        dict(BOUNCE, ts=5),
        {"mandrill_events": "[{not json"},
        {"mandrill_events": "123"},
        {"mandrill_events": [BOUNCE, {"hello": "world"}]},
        {"mandrill_events": [BOUNCE, "junk"]},
        {"mandrill_events": [dict(BOUNCE, msg=["list"])]},
    ],
)
def test_malformed_records_raise_record_error(obj: dict) -> None:
    with pytest.raises(RecordError):
        list(mandrill.parse(obj, CTX))


def test_record_error_names_the_batch_element() -> None:
    with pytest.raises(RecordError, match=r"mandrill_events\[1\]"):
        list(mandrill.parse({"mandrill_events": [BOUNCE, dict(BOUNCE, ts=None)]}, CTX))


def test_wrong_typed_msg_is_not_claimed() -> None:
    assert not mandrill.detect(dict(BOUNCE, msg="text"))
    assert not mandrill.detect({"mandrill_events": {"a": 1}})


@pytest.mark.parametrize(
    "obj",
    [
        {
            "event": "delivered",
            "sg_event_id": "x",
            "email": "a@example.com",
            "timestamp": 1,
        },  # SendGrid
        {"event": "sent", "time": 1, "MessageID": 1, "email": "a@example.com"},  # Mailjet
        {"event": "delivered", "message-id": "<a@b>", "ts_epoch": 1718344800417},  # Brevo
        {"type": "email.sent", "created_at": "2024-01-01T00:00:00Z", "data": {}},  # Resend
        {"event": "MessageSent", "payload": {}, "uuid": "u", "timestamp": 1.0},  # Postal (no msg)
    ],
)
def test_does_not_claim_other_records(obj: dict) -> None:
    assert not mandrill.detect(obj)


def test_form_body_imports_through_the_cli(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = tmp_path / "body.form"
    body.write_text(
        form([BOUNCE, dict(BOUNCE, event="open", ts=1718209245)]) + "\n", encoding="utf-8"
    )
    result = cli("import", str(body))
    assert result.exit_code == 0, result
    out = cli("search", "--format", "jsonl", "--limit", "0")
    assert out.exit_code == 0, out
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert sorted(r["status"] for r in rows) == ["bounced", "opened"]
    assert {r["provider"] for r in rows} == {"mandrill"}
    broken = tmp_path / "broken.form"
    broken.write_text("mandrill_events=%5B%7Bnope", encoding="utf-8")
    result = cli("import", str(broken))
    assert result.exit_code == 1 and "not valid JSON" in (result.stderr + result.stdout)


# --- messages API (/messages/search.json, /messages/info.json) -------------------------------

SEARCHED = {
    "ts": 1365190000,
    "_id": "abc123abc123abc123abc123",
    "sender": "sender@example.com",
    "template": "example-template",
    "subject": "example subject",
    "email": "Recipient.Email@example.com",
    "tags": ["password-reset"],
    "opens": 1,
    "opens_detail": [
        {
            "ts": 1365190101,
            "ip": "55.55.55.55",
            "location": "Georgia, US",
            "ua": "Linux/Ubuntu/Chrome/Chrome 28.0.1500.53",
        }
    ],
    "clicks": 1,
    "clicks_detail": [
        {
            "ts": 1365190201,
            "url": "http://www.example.com",
            "ip": "55.55.55.55",
            "location": "Georgia, US",
            "ua": "Linux/Ubuntu/Chrome/Chrome 28.0.1500.53",
        }
    ],
    "state": "sent",
    "metadata": {"user_id": "123", "website": "www.example.com"},
    "smtp_events": [
        {
            "ts": 1365190001,
            "type": "sent",
            "diag": "250 OK",
            "source_ip": "10.0.0.1",
            "destination_ip": "10.0.0.2",
            "size": 2048,
        }
    ],
}


def test_search_result_becomes_its_state_opens_and_clicks() -> None:
    assert importers.detect(SEARCHED) is mandrill
    events = parse_values([SEARCHED])
    assert [(e.status, e.raw_status, e.timestamp) for e in events] == [
        ("sent", "state:sent", "2013-04-05T19:26:41.000Z"),
        ("opened", "open", "2013-04-05T19:28:21.000Z"),
        ("clicked", "click", "2013-04-05T19:30:01.000Z"),
    ]
    assert {e.message_id for e in events} == {"abc123abc123abc123abc123"}
    assert {e.recipient for e in events} == {"recipient.email@example.com"}
    sent = events[0]
    assert isinstance(sent, Event)
    assert sent.size == 2048 and sent.tag == "password-reset" and sent.extra["opens"] == 1
    assert events[2].extra["url"] == "http://www.example.com"
    assert events[1].extra["user_agent"] == "Linux/Ubuntu/Chrome/Chrome 28.0.1500.53"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("sent", "sent"),
        ("bounced", "bounced"),
        ("soft-bounced", "bounced"),
        ("rejected", "dropped"),
        ("spam", "complained"),
        ("unsub", "unsubscribed"),
        ("deferred", "deferred"),
        ("queued", "queued"),
    ],
)
def test_search_result_states(state: str, status: str) -> None:
    plain = {k: v for k, v in SEARCHED.items() if not k.endswith("_detail")}
    (e, *_) = parse_values([{**plain, "state": state}])
    assert (e.status, e.raw_status) == (status, f"state:{state}")


def test_a_bounced_result_with_its_deferral_and_the_webhook_are_one_message() -> None:
    bounced = {
        **{k: v for k, v in SEARCHED.items() if not k.endswith("_detail")},
        "state": "bounced",
        "smtp_events": [
            {"ts": 1365190002, "type": "deferred", "diag": "451 4.7.1 try later"},
            {"ts": 1365193602, "type": "bounced", "diag": "550 5.1.1 user unknown"},
        ],
    }
    events = parse_values([bounced])
    got = [(e.status, e.timestamp, e.smtp_code) for e in events]
    assert got == [
        ("bounced", "2013-04-05T20:26:42.000Z", 550),
        ("deferred", "2013-04-05T19:26:42.000Z", 451),
    ]
    assert events[0].bounce_hint == "mandrill:hard_bounce"
    webhook = {"event": "hard_bounce", "_id": SEARCHED["_id"], "ts": 1365193602, "msg": bounced}
    assert parse_values([webhook])[0].message_id == events[0].message_id


def test_unknown_state_is_a_record_error() -> None:
    with pytest.raises(RecordError):
        list(mandrill.parse({**SEARCHED, "state": "teleported"}, Context()))

"""Brevo importer (formats.md 4.10): transactional webhooks."""

from __future__ import annotations

import copy
from datetime import UTC

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import brevo
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, pipeline_values, summary

CTX = Context()

SOFT = {
    "event": "soft_bounce",
    "email": "Post@Example.org",
    "id": 912345,
    "date": "2024-06-14 20:01:00",
    "ts": 1718395260,  # observed offset from UTC: must lose to ts_epoch
    "message-id": "<202406140801.81234567891@smtp-relay.mailin.fr>",
    "ts_event": 1718395260,
    "subject": "Ihre Bestellung wurde versandt – Größe M",
    "X-Mailin-custom": '{"order":"DE-55021"}',
    "sending_ip": "203.0.113.140",
    "ts_epoch": 1718388060417,
    "template_id": 17,
    "tags": ["shipping"],
    "sender_email": "Versand@Shop.example.de",
    "reason": " RecipientError: 452 4.2.2 Mailbox full",
}


def one(obj: dict, ctx: Context = CTX) -> Event | Skip:
    (item,) = brevo.parse(obj, ctx)
    return item


@pytest.mark.parametrize("file", ["brevo/webhooks.jsonl", "brevo/hard-bounce-webhook.json"])
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_fields() -> None:
    ev = one(SOFT)
    assert isinstance(ev, Event)
    assert ev.provider == "brevo"
    assert ev.status == "bounced" and ev.raw_status == "soft_bounce"
    assert ev.timestamp == "2024-06-14T18:01:00.417Z"  # ts_epoch, milliseconds
    assert ev.message_id == "202406140801.81234567891@smtp-relay.mailin.fr"
    assert ev.recipient == "post@example.org"
    assert ev.sender == "versand@shop.example.de"
    assert ev.subject == "Ihre Bestellung wurde versandt – Größe M"
    assert (
        ev.diagnostic == " RecipientError: 452 4.2.2 Mailbox full"
    )  # verbatim, leading space kept
    assert (ev.smtp_code, ev.enhanced_code) == (452, "4.2.2")
    assert ev.tag == "shipping"
    assert ev.extra["custom"] == {"order": "DE-55021"}
    assert ev.extra["sending_ip"] == "203.0.113.140"
    assert ev.event_id and ev.event_id.startswith("h:")


def test_time_field_precedence() -> None:
    no_epoch = {k: v for k, v in SOFT.items() if k != "ts_epoch"}
    ev = one(dict(no_epoch, ts_event=1718388060, ts=1))
    assert isinstance(ev, Event) and ev.timestamp == "2024-06-14T18:01:00.000Z"
    only_ts = {k: v for k, v in no_epoch.items() if k != "ts_event"}
    ev = one(dict(only_ts, ts=1718388060))
    assert isinstance(ev, Event) and ev.timestamp == "2024-06-14T18:01:00.000Z"


def test_date_only_is_account_local_time() -> None:
    obj = {k: v for k, v in SOFT.items() if k not in ("ts", "ts_event", "ts_epoch")}
    ev = one(obj)
    assert isinstance(ev, Event)
    assert ev.timestamp == "2024-06-14T18:01:00.000Z"  # CEST = UTC+2
    ev = one(obj, Context(default_tz=UTC))
    assert isinstance(ev, Event) and ev.timestamp == "2024-06-14T20:01:00.000Z"


def test_message_id_with_and_without_brackets_threads() -> None:
    a = one(SOFT)
    b = one(dict(SOFT, **{"message-id": "202406140801.81234567891@smtp-relay.mailin.fr"}))
    assert isinstance(a, Event) and isinstance(b, Event)
    assert a.message_id == b.message_id
    assert a.event_id == b.event_id


def test_tag_forms() -> None:
    base = {k: v for k, v in SOFT.items() if k != "tags"}
    ev = one(dict(base, tag='["a","b"]'))
    assert isinstance(ev, Event) and ev.extra["tags"] == ["a", "b"] and ev.tag == "a"
    ev = one(dict(base, tag="plain"))
    assert isinstance(ev, Event) and ev.extra["tags"] == ["plain"]
    ev = one(base)
    assert isinstance(ev, Event) and ev.tag is None and "tags" not in ev.extra


def test_deferred_with_permanent_code_keeps_provider_word() -> None:
    ev = one(dict(SOFT, event="deferred", reason="550 5.1.1 user unknown"))
    assert isinstance(ev, Event)
    assert ev.status == "deferred" and (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")


def test_engagement_has_no_codes_and_optional_fields_may_be_missing() -> None:
    minimal = {
        "event": "unique_opened",
        "email": "a@example.com",
        "message-id": "<m@x>",
        "ts_epoch": 1718346612417,
    }
    ev = one(minimal)
    assert isinstance(ev, Event)
    assert ev.status == "opened"
    assert (ev.smtp_code, ev.diagnostic, ev.subject, ev.sender) == (None, None, None, None)


def test_list_addition_is_skipped() -> None:
    assert isinstance(one(dict(SOFT, event="list_addition")), Skip)


def test_batched_array_and_retries() -> None:
    items = parse_values([SOFT, copy.deepcopy(SOFT)])
    assert len(items) == 2 and items[0].event_id == items[1].event_id


@pytest.mark.parametrize(
    "obj",
    [
        dict(SOFT, event="teleported"),
        dict(SOFT, event=None),
        dict(SOFT, ts_epoch="soon"),
        dict(SOFT, ts_epoch=[1]),
        dict(SOFT, ts_epoch=5),
        {k: v for k, v in SOFT.items() if k not in ("ts", "ts_event", "ts_epoch", "date")},
        dict(
            {k: v for k, v in SOFT.items() if k not in ("ts", "ts_event", "ts_epoch")},
            date="garbage",
        ),
    ],
)
def test_malformed_records_raise_record_error(obj: dict) -> None:
    with pytest.raises(RecordError):
        list(brevo.parse(obj, CTX))


def test_wrong_typed_optional_fields_do_not_crash() -> None:
    ev = one(
        dict(SOFT, tags={"x": 1}, subject=["x"], reason={"a": 1}, **{"X-Mailin-custom": "{broken"})
    )
    assert isinstance(ev, Event)
    assert ev.subject is None and ev.diagnostic is None and ev.extra["custom"] == "{broken"


@pytest.mark.parametrize(
    "obj",
    [
        {"event": "delivered", "email": "a@example.com", "timestamp": 1},
        {"event": "sent", "time": 1, "MessageID": 1, "email": "a@example.com"},  # Mailjet
        {"email": "a@example.com", "message-id": "<x@y>"},  # no event
    ],
)
def test_does_not_claim_other_records(obj: dict) -> None:
    assert not brevo.detect(obj)


def test_registry_routes_here() -> None:
    assert importers.detect(SOFT) is brevo


# --- marketing (campaign) webhooks, as Brevo's marketing webhook reference shows them -------

CAMPAIGN_BOUNCE = {
    "id": 1234567,
    "camp_id": 42,
    "email": "Reader@Example.com",
    "campaign name": "Spring newsletter",
    "date_sent": "2024-06-10 10:00:00",
    "date_event": "2024-06-10 10:00:05",
    "event": "hardBounce",
    "tag": "",
    "segment_ids": [3, 7],
    "ts_sent": 1718006400,
    "ts_event": 1718006405,
    "ts": 1718006410,
}


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("hardBounce", "bounced"),
        ("softBounce", "bounced"),
        ("hard_bounce", "bounced"),
        ("unsubscribed", "unsubscribed"),
        ("unsubscribe", "unsubscribed"),
        ("spam", "complained"),
        ("opened", "opened"),
        ("click", "clicked"),
        ("delivered", "delivered"),
    ],
)
def test_marketing_events(word: str, status: str) -> None:
    assert importers.detect({**CAMPAIGN_BOUNCE, "event": word}) is brevo
    ev = one({**CAMPAIGN_BOUNCE, "event": word})
    assert isinstance(ev, Event)
    assert (ev.status, ev.raw_status) == (status, word)
    assert ev.timestamp == "2024-06-10T08:00:05.000Z"  # ts_event, not ts_sent or ts
    assert ev.recipient == "reader@example.com"
    assert ev.extra["campaign_id"] == 42 and ev.extra["campaign_name"] == "Spring newsletter"
    assert ev.tag == "Spring newsletter" and ev.type == "marketing"


def test_one_campaign_email_is_one_message() -> None:
    events = parse_values(
        [
            {**CAMPAIGN_BOUNCE, "event": "delivered", "ts_event": 1718006402},
            {**CAMPAIGN_BOUNCE, "event": "opened", "ts_event": 1718009000},
            {**CAMPAIGN_BOUNCE, "email": "other@example.com", "event": "opened"},
            {**CAMPAIGN_BOUNCE, "camp_id": 43, "event": "opened"},
        ]
    )
    ids = [e.message_id for e in events]
    assert ids[0] == ids[1] == "brevo-campaign:42:reader@example.com"
    assert len(set(ids)) == 3


def test_marketing_event_without_epoch_uses_date_event_in_the_account_zone() -> None:
    obj = {k: v for k, v in CAMPAIGN_BOUNCE.items() if not k.startswith("ts")}
    obj["ts_event"] = ""  # present but empty: the detector's key, no value
    ev = one(obj)
    assert isinstance(ev, Event)
    assert ev.timestamp == "2024-06-10T08:00:05.000Z"  # 10:00:05 Paris summer time


@pytest.mark.parametrize(
    "obj",
    [
        # an application's own log line: event and a message id, but no Brevo time key
        {"event": "delivered", "message-id": "<x@y>", "email": "a@example.com"},
        {"event": "signup", "message-id": "abc", "user": "u1", "date": "2024-06-10"},
    ],
)
def test_event_and_message_id_alone_are_not_brevo(obj: dict) -> None:
    assert not brevo.detect(obj)


# --- transactional events API (GET /v3/smtp/statistics/events) ---------------------------------

API_PAGE = {
    "events": [
        {
            "email": "Xan@Example.com",
            "date": "2024-06-10T12:00:00.000+02:00",
            "subject": "Order",
            "messageId": "<202406101000.111@smtp-relay.mailin.fr>",
            "event": "delivered",
            "tag": "orders",
            "ip": "198.51.100.1",
            "from": "shop@example.net",
            "templateId": 7,
        },
        {
            "email": "yve@example.org",
            "date": "2024-06-10T12:01:40.000+02:00",
            "subject": "Order",
            "messageId": "<202406101000.222@smtp-relay.mailin.fr>",
            "event": "hardBounce",
            "reason": "550 5.1.1 user unknown",
            "from": "shop@example.net",
        },
        {
            "email": "xan@example.com",
            "date": "2024-06-10T12:05:00.000+02:00",
            "messageId": "<202406101000.111@smtp-relay.mailin.fr>",
            "event": "loadedByProxy",
        },
    ]
}


def test_events_api_page() -> None:
    events = pipeline_values(API_PAGE)
    assert [(e.status, e.raw_status, e.timestamp) for e in events] == [
        ("delivered", "delivered", "2024-06-10T10:00:00.000Z"),
        ("bounced", "hardBounce", "2024-06-10T10:01:40.000Z"),
        ("opened", "loadedByProxy", "2024-06-10T10:05:00.000Z"),
    ]
    assert events[0].message_id == events[2].message_id == "202406101000.111@smtp-relay.mailin.fr"
    assert (events[0].sender, events[0].tag) == ("shop@example.net", "orders")
    assert (events[1].smtp_code, events[1].enhanced_code) == (550, "5.1.1")


def test_events_api_item_needs_a_brevo_word() -> None:
    item = dict(API_PAGE["events"][0])
    assert brevo.detect(item)
    assert not brevo.detect({**item, "event": "user_signed_up"})

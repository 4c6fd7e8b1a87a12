"""SparkPost importer (formats.md 4.8): webhook msys wrappers and Events API pages."""

from __future__ import annotations

import copy

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import sparkpost
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, summary

CTX = Context()

BOUNCE = {
    "type": "bounce",
    "event_id": "1001",
    "message_id": "0004aaaa",
    "transmission_id": "7240000000000000001",
    "rcpt_to": "nope@example.net",
    "raw_rcpt_to": "Nope@Example.net",
    "friendly_from": "Shop <News@Shop.example.com>",
    "msg_from": "msprvs1=abc=bounces-1@em.example.com",
    "subject": "Grüße aus Köln 🎉",
    "timestamp": "1718010005",
    "bounce_class": "10",
    "error_code": "550",
    "reason": "550 5.1.1 ...@... User unknown",
    "raw_reason": "550 5.1.1 <nope@example.net>: User unknown",
    "campaign_id": "june",
    "rcpt_tags": ["en"],
    "msg_size": "48211",
}


def wrap(event: dict, cls: str = "message_event") -> dict:
    return {"msys": {cls: event}}


def one(obj: dict) -> Event | Skip:
    items = list(sparkpost.parse(obj, CTX))
    assert len(items) == 1
    return items[0]


@pytest.mark.parametrize("file", ["sparkpost/webhook-batch.json", "sparkpost/events-api-page.json"])
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))
    assert all(e.event_id and not e.event_id.startswith("h:") for e in events)


def test_bounce_fields() -> None:
    ev = one(wrap(BOUNCE))
    assert isinstance(ev, Event)
    assert ev.status == "bounced"
    assert ev.raw_status == "bounce:10"
    assert ev.bounce_hint == "sparkpost:10"
    assert ev.event_id == "1001"
    assert ev.message_id == "0004aaaa"
    assert ev.recipient == "nope@example.net"
    assert ev.sender == "news@shop.example.com"
    assert ev.subject == "Grüße aus Köln 🎉"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic == "550 5.1.1 <nope@example.net>: User unknown"  # raw_reason, not reason
    assert ev.timestamp == "2024-06-10T09:00:05.000Z"
    assert ev.tag == "june"
    assert ev.size == 48211
    assert ev.extra["rcpt_tags"] == ["en"]
    assert ev.extra["transmission_id"] == "7240000000000000001"


def test_class_key_is_not_hard_coded() -> None:
    ev = one(wrap(dict(BOUNCE, type="open", event_id="1002"), cls="track_event"))
    assert isinstance(ev, Event) and ev.status == "opened"
    # engagement events never carry reply codes, whatever the payload says
    assert (ev.smtp_code, ev.enhanced_code, ev.diagnostic, ev.bounce_hint) == (
        None,
        None,
        None,
        None,
    )


def test_ping_is_skipped() -> None:
    assert sparkpost.detect({"msys": {}})
    assert isinstance(one({"msys": {}}), Skip)


@pytest.mark.parametrize("bclass", ["60", "80", "100", 60])
def test_non_bounce_classes_skip(bclass: object) -> None:
    assert isinstance(one(wrap(dict(BOUNCE, bounce_class=bclass))), Skip)
    assert isinstance(one(wrap(dict(BOUNCE, type="out_of_band", bounce_class=bclass))), Skip)


def test_class_90_is_unsubscribe() -> None:
    ev = one(wrap(dict(BOUNCE, bounce_class="90")))
    assert isinstance(ev, Event)
    assert ev.status == "unsubscribed" and ev.raw_status == "bounce:90"
    assert ev.bounce_hint is None and ev.smtp_code is None


def test_delay_and_policy_rejection_carry_hint_without_class_in_raw_status() -> None:
    delay = one(
        wrap(
            dict(
                BOUNCE,
                type="delay",
                bounce_class="21",
                error_code="421",
                raw_reason="421 4.4.0 no MX",
            )
        )
    )
    assert isinstance(delay, Event)
    assert (delay.status, delay.raw_status, delay.bounce_hint) == (
        "deferred",
        "delay",
        "sparkpost:21",
    )
    assert (delay.smtp_code, delay.enhanced_code) == (421, "4.4.0")
    policy = one(wrap(dict(BOUNCE, type="policy_rejection", bounce_class="25")))
    assert isinstance(policy, Event)
    assert (policy.status, policy.bounce_hint) == ("dropped", "sparkpost:25")


def test_generation_event_iso_offset_and_transmission_id() -> None:
    gen = {
        "type": "generation_failure",
        "event_id": "2001",
        "transmission_id": "7240012345678901234",
        "rcpt_to": "x@example.com",
        "timestamp": "2024-06-10T18:00:02.000+09:00",
        "error_code": "554",
        "raw_reason": "554 5.3.3 [internal] Error while rendering part html",
    }
    ev = one(wrap(gen, "gen_event"))
    assert isinstance(ev, Event)
    assert ev.status == "failed"
    assert ev.message_id == "7240012345678901234"
    assert ev.timestamp == "2024-06-10T09:00:02.000Z"


def test_dedicated_error_code_wins_over_text() -> None:
    ev = one(wrap(dict(BOUNCE, error_code="not-a-code")))
    assert isinstance(ev, Event) and ev.smtp_code is None and ev.enhanced_code == "5.1.1"
    ev = one(wrap(dict(BOUNCE, error_code="")))
    assert isinstance(ev, Event) and ev.smtp_code == 550  # empty: fall back to the text


def test_millisecond_epoch_and_raw_rcpt_to_fallback() -> None:
    event = {k: v for k, v in BOUNCE.items() if k != "rcpt_to"}
    ev = one(wrap(dict(event, timestamp="1718010005123")))
    assert isinstance(ev, Event)
    assert ev.timestamp == "2024-06-10T09:00:05.123Z"
    assert ev.recipient == "nope@example.net"


def test_events_api_page_reduced_to_one_element() -> None:
    page = {
        "results": [dict(BOUNCE, timestamp="2024-06-10T09:00:05.000Z")],
        "total_count": 900,
        "links": {},
    }
    assert sparkpost.detect(page)
    items = list(sparkpost.parse(page, CTX))
    assert len(items) == 1 and isinstance(items[0], Event) and items[0].status == "bounced"


def test_empty_page_is_skipped() -> None:
    page = {"results": [], "total_count": 0, "links": {}}
    assert sparkpost.detect(page)
    assert all(isinstance(i, Skip) for i in sparkpost.parse(page, CTX))


def test_relay_and_other_families_skip() -> None:
    assert isinstance(
        one(wrap({"type": "relay_delivery", "timestamp": "1718010005"}, "relay_event")), Skip
    )
    assert isinstance(one(wrap({"type": "ab_test_something_new"}, "ab_test_event")), Skip)


def test_retries_give_the_same_event_id() -> None:
    a = parse_values([wrap(BOUNCE), copy.deepcopy(wrap(BOUNCE))])
    assert len(a) == 2 and a[0].event_id == a[1].event_id == "1001"


def test_without_provider_id_the_hash_is_stable() -> None:
    event = {k: v for k, v in BOUNCE.items() if k != "event_id"}
    first, second = one(wrap(event)), one(wrap(copy.deepcopy(event)))
    assert isinstance(first, Event) and isinstance(second, Event)
    assert first.event_id and first.event_id == second.event_id


@pytest.mark.parametrize(
    "obj",
    [
        wrap(dict(BOUNCE, type="brand_new_type")),
        wrap(dict(BOUNCE, type=["bounce"])),
        wrap({k: v for k, v in BOUNCE.items() if k != "type"}),
        wrap(dict(BOUNCE, timestamp="yesterday-ish")),
        wrap(dict(BOUNCE, timestamp="12")),
        wrap({k: v for k, v in BOUNCE.items() if k != "timestamp"}),
        {"msys": {"message_event": ["not", "an", "object"]}},
        {"msys": {"message_event": "text"}},
        {"results": "junk"},
    ],
)
def test_malformed_records_raise_record_error(obj: dict) -> None:
    with pytest.raises(RecordError):
        list(sparkpost.parse(obj, CTX))


def test_a_bad_page_element_is_one_record_error_and_the_rest_imports() -> None:
    """Like Mailgun's and Postmark's pages: one bad result does not lose the page."""
    page = {
        "results": [BOUNCE, dict(BOUNCE, type="nope"), "junk"],
        "total_count": 3,
        "links": {},
    }
    items = list(sparkpost.parse(page, CTX))
    assert isinstance(items[0], Event)
    errors = [str(i) for i in items[1:]]
    assert all(isinstance(i, RecordError) for i in items[1:])
    assert errors[0].startswith("results[1]") and errors[1].startswith("results[2]")


def test_bare_events_as_an_array_and_one_per_line() -> None:
    """Events API results saved on their own (no page around them)."""
    delivery = dict(
        BOUNCE, type="delivery", event_id="1002", timestamp="2024-06-10T09:00:04.000-04:00"
    )
    for key in ("bounce_class", "error_code", "reason", "raw_reason"):
        delivery.pop(key)
    assert importers.detect(BOUNCE) is sparkpost
    events = parse_values([delivery, BOUNCE])
    assert [(e.status, e.event_id) for e in events] == [("delivered", "1002"), ("bounced", "1001")]
    assert events[0].timestamp == "2024-06-10T13:00:04.000Z"
    assert {e.message_id for e in events} == {"0004aaaa"}
    # the same event bare and inside its webhook wrapper is one event
    assert parse_values(BOUNCE) == parse_values(wrap(BOUNCE))


@pytest.mark.parametrize(
    "obj",
    [
        {"msys": "not an object"},
        {"results": [{"id": 1}], "total_count": 1},  # some other API's page
        {"results": []},
        {"items": [], "paging": {}},  # Mailgun
        {
            "event": "delivered",
            "sg_event_id": "x",
            "email": "a@example.com",
            "timestamp": 1,
        },  # SendGrid
        {"data": {"viewer": {"zones": []}}},  # Cloudflare
        {"event": "send", "msg": {}, "ts": 1718204401},  # Mandrill
    ],
)
def test_does_not_claim_other_records(obj: dict) -> None:
    assert not sparkpost.detect(obj)


def test_registry_routes_both_shapes_here() -> None:
    assert importers.detect(wrap(BOUNCE)) is sparkpost
    assert importers.detect({"results": [BOUNCE], "total_count": 1, "links": {}}) is sparkpost


def test_status_map_targets_are_canonical() -> None:
    from maillog_cli.statuses import STATUSES

    assert {s for s in sparkpost.STATUS_MAP.values() if s is not None} <= set(STATUSES)

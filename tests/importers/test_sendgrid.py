"""SendGrid importers: Event Webhook (formats.md 4.1) and Email Activity CSV (4.2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import sendgrid, sendgrid_csv
from maillog_cli.importers.base import Context
from maillog_cli.ingest import readers
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, require_samples, summary

CTX = Context()

BOUNCE = {
    "email": "No-Such-User@Example.NET",
    "timestamp": 1717406414,
    "smtp-id": "<Zp4Ks8RmQbW1yT6eJc0FgH@geopod-ismtpd-3-1>",
    "event": "bounce",
    "category": "receipts",
    "sg_event_id": "Ym91bmNlLTItWnA0S3M4Um1R",
    "sg_message_id": "Zp4Ks8RmQbW1yT6eJc0FgH.filter0417p1iad2-18243-665D9A1B-12.0",
    "type": "bounce",
    "bounce_classification": "Invalid Address",
    "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
    "status": "5.1.1",
    "ip": "203.0.113.24",
    "tls": 1,
    "order_ref": "A-17",
}


def one(obj: dict) -> Event | Skip:
    items = list(sendgrid.parse(obj, CTX))
    assert len(items) == 1
    return items[0]


def csv_events(data: bytes) -> list[Event | Skip]:
    header, rows = readers.iter_csv(io.BytesIO(data))
    module = importers.detect_csv(header)
    assert module is sendgrid_csv
    out: list[Event | Skip] = []
    for _line, row in rows:
        assert not isinstance(row, Exception), row
        out.extend(module.parse(row, CTX))
    return out


# --- samples ------------------------------------------------------------------------


def test_webhook_sample_matches_expected() -> None:
    file = "sendgrid/event-webhook-batch.json"
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))
    assert all(e.event_id and not e.event_id.startswith("h:") for e in events)
    assert len({e.event_id for e in events}) == len(events)


def test_csv_sample_matches_expected() -> None:
    file = "sendgrid/email-activity-export.csv"
    data = (require_samples() / file).read_bytes()
    events = [e for e in csv_events(data) if isinstance(e, Event)]
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))
    by_status = {e.status: e for e in events}
    assert by_status["queued"].subject == "Welcome to Acme, Ava!"
    assert by_status["queued"].sender == "hello@mail.example.com"
    assert by_status["queued"].extra["tags"] == ["welcome", "onboarding"]
    assert by_status["queued"].extra["custom_args"] == {"user_id": "48213"}
    assert by_status["dropped"].raw_status == "drop"
    assert by_status["dropped"].bounce_hint == "sendgrid-drop:Bounced Address"
    assert by_status["bounced"].diagnostic.startswith("550 5.1.1")
    # The long message_id column is kept as an alias of the short id.
    assert by_status["queued"].aliases == (
        "u7Hq2XkPTd6cL0aN3vBw9A.filter0417p1iad2-18243-665D9A1B-12.0",
    )


def test_webhook_and_csv_thread_on_the_same_message_ids() -> None:
    web = {e.message_id for e in parse_file("sendgrid/event-webhook-batch.json")}
    data = (require_samples() / "sendgrid/email-activity-export.csv").read_bytes()
    csv_ids = {e.message_id for e in csv_events(data) if isinstance(e, Event)}
    assert csv_ids <= web


# --- webhook fields -----------------------------------------------------------------


def test_bounce_fields() -> None:
    ev = one(BOUNCE)
    assert isinstance(ev, Event)
    assert ev.provider == "sendgrid"
    assert ev.status == "bounced" and ev.raw_status == "bounce"
    assert ev.event_id == "Ym91bmNlLTItWnA0S3M4Um1R"
    assert ev.message_id == "Zp4Ks8RmQbW1yT6eJc0FgH"
    assert ev.recipient == "no-such-user@example.net"
    assert ev.timestamp == "2024-06-03T09:20:14.000Z"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic == BOUNCE["reason"]
    assert ev.bounce_hint == "sendgrid-class:Invalid Address"
    assert ev.tag == "receipts"
    assert ev.extra["tags"] == ["receipts"]
    assert ev.extra["custom_args"] == {"order_ref": "A-17"}
    assert ev.extra["bounce_type"] == "bounce"
    assert "Zp4Ks8RmQbW1yT6eJc0FgH@geopod-ismtpd-3-1" in ev.aliases
    json.dumps(ev.extra)


def test_dropped_uses_status_field_and_drop_hint() -> None:
    ev = one({**BOUNCE, "event": "dropped", "reason": "Unsubscribed Address", "status": "5.0.0"})
    assert isinstance(ev, Event)
    assert ev.status == "dropped"
    assert ev.smtp_code is None and ev.enhanced_code == "5.0.0"
    assert ev.bounce_hint == "sendgrid-drop:Unsubscribed Address"


def test_deferred_reads_response() -> None:
    obj = {
        k: v
        for k, v in BOUNCE.items()
        if k not in ("reason", "status", "type", "bounce_classification")
    }
    ev = one({**obj, "event": "deferred", "response": "421 4.7.0 Try again later", "attempt": "3"})
    assert isinstance(ev, Event)
    assert (ev.status, ev.smtp_code, ev.enhanced_code) == ("deferred", 421, "4.7.0")
    assert ev.extra["attempt"] == "3"


@pytest.mark.parametrize(
    ("sg_id", "expected"),
    [
        ("u7Hq2XkPTd6cL0aN3vBw9A.filter0417p1iad2-18243-665D9A1B-12.0", "u7Hq2XkPTd6cL0aN3vBw9A"),
        ("pX3fT8wQ0sN5mK2jH7bV1c.recvd-5b8f7c9d6-abcde-1-6650-1.0", "pX3fT8wQ0sN5mK2jH7bV1c"),
        ("14c5d75ce93.dfd.64b469.filter0001p1las1-12345-5F0A-1.0", "14c5d75ce93.dfd.64b469"),
        ("plainidwithoutmarkers", "plainidwithoutmarkers"),
        ("  <a.b.filter1>  ", "a.b"),
    ],
)
def test_message_id_cut(sg_id: str, expected: str) -> None:
    assert sendgrid.cut_message_id(sg_id) == expected


def test_open_without_smtp_id_threads_with_delivery() -> None:
    opened = one(
        {
            "email": "a@example.com",
            "timestamp": 1717407112,
            "event": "open",
            "sg_event_id": "o1",
            "sg_message_id": "ID1.filter0417p1-1.0",
            "useragent": "UA",
            "ip": "198.51.100.71",
            "sg_machine_open": True,
            "reason": "should not be a diagnostic",
        }
    )
    assert isinstance(opened, Event)
    assert opened.message_id == "ID1" and opened.status == "opened"
    assert opened.diagnostic is None and opened.smtp_code is None
    assert opened.extra["user_agent"] == "UA" and opened.extra["machine_open"] is True


def test_smtp_id_fallback_when_no_sg_message_id() -> None:
    ev = one(
        {
            "email": "a@example.com",
            "timestamp": 1717406045,
            "event": "processed",
            "smtp-id": "<X1@host>",
        }
    )
    assert isinstance(ev, Event)
    assert ev.message_id == "X1@host" and ev.status == "queued"
    assert ev.event_id and ev.event_id.startswith("h:")


def test_ms_epoch_and_string_epoch() -> None:
    a = one({**BOUNCE, "timestamp": 1717406414123})
    b = one({**BOUNCE, "timestamp": "1717406414"})
    assert isinstance(a, Event) and isinstance(b, Event)
    assert a.timestamp == "2024-06-03T09:20:14.123Z"
    assert b.timestamp == "2024-06-03T09:20:14.000Z"


def test_category_array_and_custom_args() -> None:
    ev = one({**BOUNCE, "category": ["a", "b"], "unique_args_thing": {"x": 1}})
    assert isinstance(ev, Event)
    assert ev.tag == "a" and ev.extra["tags"] == ["a", "b"]
    assert ev.extra["custom_args"]["unique_args_thing"] == {"x": 1}


@pytest.mark.parametrize("word", ["group_resubscribe", "account_status_change"])
def test_skipped_events(word: str) -> None:
    item = one(
        {"event": word, "email": "a@example.com", "timestamp": 1717406045, "sg_event_id": "z"}
    )
    assert isinstance(item, Skip)


def test_account_status_change_is_detected_and_skipped() -> None:
    obj = {"event": "account_status_change", "type": "compliance_suspend", "timestamp": 1717406045}
    assert importers.detect(obj) is sendgrid
    assert isinstance(one(obj), Skip)


def test_unknown_event_is_a_record_error() -> None:
    with pytest.raises(RecordError):
        list(sendgrid.parse({**BOUNCE, "event": "teleported"}, CTX))


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": None},
        {"timestamp": "yesterday-ish"},
        {"timestamp": [1, 2]},
        {"event": ["bounce"]},
        {"sg_event_id": {"nested": 1}},
    ],
)
def test_wrong_types_are_record_errors(change: dict) -> None:
    with pytest.raises(RecordError):
        list(sendgrid.parse({**BOUNCE, **change}, CTX))


def test_wrong_typed_optional_fields_do_not_crash() -> None:
    ev = one({**BOUNCE, "email": {"x": 1}, "reason": ["550"], "status": 5, "category": {"a": 1}})
    assert isinstance(ev, Event)
    assert ev.recipient is None and ev.diagnostic is None


def test_retries_give_the_same_event_id() -> None:
    batch = [BOUNCE, dict(BOUNCE)]
    events = [e for e in parse_values(batch) if isinstance(e, Event)]
    assert len(events) == 2 and events[0].event_id == events[1].event_id
    no_id = {k: v for k, v in BOUNCE.items() if k != "sg_event_id"}
    a, b = one(no_id), one(dict(no_id))
    assert isinstance(a, Event) and isinstance(b, Event)
    assert a.event_id == b.event_id and a.event_id.startswith("h:")


def test_jsonl_line_holding_a_batch(tmp_path: Path) -> None:
    p = tmp_path / "batches.jsonl"
    p.write_text(
        json.dumps([BOUNCE, {**BOUNCE, "sg_event_id": "other"}]) + "\n" + json.dumps(BOUNCE) + "\n"
    )
    events = parse_file(p)
    assert len(events) == 3 and {e.event_id for e in events} == {"other", BOUNCE["sg_event_id"]}


# --- detection ----------------------------------------------------------------------


def test_detects_sendgrid_only() -> None:
    assert importers.detect(BOUNCE) is sendgrid
    assert sendgrid.detect({"event": "open", "sg_message_id": "x"})
    assert sendgrid.detect({"event": "processed", "smtp-id": "<x@y>"})
    # Mailjet, Brevo and Mandrill records share `event`/`email` but not the sg_* keys.
    assert not sendgrid.detect({"event": "sent", "time": 1, "email": "a@b", "MessageID": 1})
    assert not sendgrid.detect({"event": "delivered", "email": "a@b", "message-id": "<x>"})
    assert not sendgrid.detect({"event": "send", "msg": {}, "ts": 1})
    assert not sendgrid.detect({"sg_event_id": "x"})


def test_other_providers_are_not_sendgrid() -> None:
    for file in ("mailgun/webhooks.jsonl", "postmark/webhooks.jsonl", "resend/webhooks.jsonl"):
        for line in (require_samples() / file).read_text().splitlines():
            assert not sendgrid.detect(json.loads(line))


# --- CSV ----------------------------------------------------------------------------

HEADER = "processed,message_id,event,recv_message_id,subject,from,email,reason,type,categories,url,user_agent,unique_args\n"


def test_csv_detect_header() -> None:
    cols = ["processed", "message_id", "event", "email", "subject"]
    assert sendgrid_csv.detect_header(cols)
    assert importers.detect_csv(cols) is sendgrid_csv
    assert not sendgrid_csv.detect_header(["timestamp", "status", "email"])
    assert importers.detect_csv(["timestamp", "status", "event", "email"]) is not sendgrid_csv


def test_csv_quoted_multiline_reason_unicode_and_spellings() -> None:
    data = (
        HEADER
        + '"2024-06-03 09:20:14.250","Zp4.filter01-1.0","Bounced","","Grüße 🎉, \'quoted\' ""x""","S <Hello@Mail.example.com>","Who@Example.net","550 5.1.1 no such user,\nsecond line","bounce","[""r""]","","",""\n'
        + '"2024-06-03T10:00:00Z","Ab.recvd-9-1.0","Spam Report","","","","x@example.com","","","not json","","",""\n'
        + '"1717408800","Cd.filter-1","group unsubscribe","Cd","","","y@example.com","","","","https://u","UA","{bad"\n'
        + '"2024-06-03 09:20:14","Ef","drop","Ef","","","z@example.com","Invalid","","","","",""\n'
    ).encode()
    items = csv_events(data)
    assert all(isinstance(i, Event) for i in items)
    bounce, spam, unsub, drop = items
    assert bounce.status == "bounced" and bounce.raw_status == "Bounced"
    assert bounce.message_id == "Zp4" and bounce.timestamp == "2024-06-03T09:20:14.250Z"
    assert bounce.subject == "Grüße 🎉, 'quoted' \"x\""
    assert bounce.sender == "hello@mail.example.com" and bounce.recipient == "who@example.net"
    assert bounce.diagnostic == "550 5.1.1 no such user,\nsecond line"
    assert (bounce.smtp_code, bounce.enhanced_code) == (550, "5.1.1")
    assert bounce.extra["tags"] == ["r"] and bounce.extra["bounce_type"] == "bounce"
    assert spam.status == "complained" and spam.message_id == "Ab"
    assert spam.timestamp == "2024-06-03T10:00:00.000Z" and spam.extra["tags"] == ["not json"]
    assert unsub.status == "unsubscribed" and unsub.timestamp == "2024-06-03T10:00:00.000Z"
    assert unsub.extra["url"] == "https://u" and unsub.extra["custom_args"] == "{bad"
    assert drop.status == "dropped" and drop.bounce_hint == "sendgrid-drop:Invalid"


def test_csv_tz_option_applies_to_zone_less_times() -> None:
    from datetime import timedelta, timezone

    row = {
        "processed": "2024-06-03 09:00:00.000",
        "message_id": "m",
        "event": "delivered",
        "email": "a@b",
    }
    ev = next(iter(sendgrid_csv.parse(row, Context(default_tz=timezone(timedelta(hours=2))))))
    assert isinstance(ev, Event) and ev.timestamp == "2024-06-03T07:00:00.000Z"


@pytest.mark.parametrize(
    "row",
    [
        {"processed": "", "message_id": "m", "event": "delivered", "email": "a@b"},
        {"processed": "not a time", "message_id": "m", "event": "delivered", "email": "a@b"},
        {"processed": "2024-06-03 09:00:00", "message_id": "m", "event": "", "email": "a@b"},
        {
            "processed": "2024-06-03 09:00:00",
            "message_id": "m",
            "event": "teleported",
            "email": "a@b",
        },
    ],
)
def test_csv_bad_rows_are_record_errors(row: dict) -> None:
    with pytest.raises(RecordError):
        list(sendgrid_csv.parse(row, CTX))


def test_csv_missing_optional_columns_and_same_row_same_id() -> None:
    row = {
        "processed": "2024-06-03 09:00:00",
        "message_id": "m.filter1",
        "event": "open",
        "email": "A@B.example",
    }
    a = next(iter(sendgrid_csv.parse(row, CTX)))
    b = next(iter(sendgrid_csv.parse(dict(row), CTX)))
    assert isinstance(a, Event) and isinstance(b, Event)
    assert a.message_id == "m" and a.recipient == "a@b.example" and a.subject is None
    assert a.event_id == b.event_id


# --- Email Activity API (GET /v3/messages, GET /v3/messages/{msg_id}) ------------------------

ACTIVITY_ID = "Ap9aG2lyT3qRG2dcqYzkbQ.filterdrecv-p3las1-5bf99c48d-p8sgj-19-5A2E0B4A-1.0"
DETAILS = {
    "from_email": "shop@example.net",
    "msg_id": ACTIVITY_ID,
    "subject": "Your receipt",
    "to_email": "ava@example.com",
    "status": "not_delivered",
    "template_id": "d-123",
    "asm_group_id": 1,
    "teammate": "",
    "api_key_id": "key-1",
    "events": [
        {
            "event_name": "processed",
            "processed": "2024-06-10T09:00:00Z",
            "reason": "",
            "attempt_num": 0,
            "url": "",
            "bounce_type": "",
            "http_user_agent": "",
            "mx_server": "",
        },
        {
            "event_name": "bounced",
            "processed": "2024-06-10T09:00:04Z",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
            "attempt_num": 1,
            "url": "",
            "bounce_type": "bounce",
            "http_user_agent": "",
            "mx_server": "mx.example.com",
        },
    ],
    "categories": ["receipts"],
    "unique_args": "{}",
    "outbound_ip": "192.0.2.10",
    "outbound_ip_type": "dedicated",
}


def test_activity_message_details_events() -> None:
    assert importers.detect(DETAILS) is sendgrid
    events = parse_values(DETAILS)
    assert [(e.status, e.raw_status) for e in events] == [
        ("queued", "processed"),
        ("bounced", "bounced"),
    ]
    bounced = events[1]
    assert isinstance(bounced, Event)
    assert bounced.message_id == "Ap9aG2lyT3qRG2dcqYzkbQ"  # cut like sg_message_id
    assert (bounced.smtp_code, bounced.enhanced_code) == (550, "5.1.1")
    assert (bounced.sender, bounced.recipient, bounced.tag) == (
        "shop@example.net",
        "ava@example.com",
        "receipts",
    )
    assert bounced.extra["mx"] == "mx.example.com" and bounced.extra["ip"] == "192.0.2.10"


def test_activity_custom_args_are_kept_and_join_the_senders_id() -> None:
    details = {**DETAILS, "unique_args": '{"anymail_id": "am-7", "order": "A-1"}'}
    (processed, _bounced) = parse_values(details)
    assert processed.extra["custom_args"] == {"anymail_id": "am-7", "order": "A-1"}
    assert "am-7" in processed.aliases
    assert "custom_args" not in parse_values(DETAILS)[0].extra  # "{}" says nothing


def test_activity_summary_keeps_the_counts() -> None:
    summary_row = {
        "from_email": "shop@example.net",
        "msg_id": ACTIVITY_ID,
        "subject": "Your receipt",
        "to_email": "ava@example.com",
        "status": "delivered",
        "opens_count": 3,
        "clicks_count": 1,
        "last_event_time": "2024-06-10T05:03:00-04:00",
    }
    (e,) = parse_values(summary_row)
    assert isinstance(e, Event)
    assert (e.status, e.timestamp) == ("delivered", "2024-06-10T09:03:00.000Z")
    assert (e.extra["opens_count"], e.extra["clicks_count"]) == (3, 1)
    with pytest.raises(RecordError):
        list(sendgrid.parse({**summary_row, "status": "teleported"}, Context()))


def test_activity_and_webhook_events_of_one_email_are_one_message() -> None:
    webhook = {
        "event": "delivered",
        "email": "ava@example.com",
        "timestamp": 1718010000,
        "sg_event_id": "e1",
        "sg_message_id": ACTIVITY_ID,
    }
    ids = {e.message_id for e in parse_values([webhook, DETAILS])}
    assert ids == {"Ap9aG2lyT3qRG2dcqYzkbQ"}

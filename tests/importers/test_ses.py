"""Amazon SES importer (formats.md 4.6): SNS envelopes, raw records, EventBridge."""

from __future__ import annotations

import copy
import json

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import ses
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, require_samples, summary

CTX = Context()

MAIL = {
    "timestamp": "2024-06-07T10:20:29.001Z",
    "source": "Example Shop <Orders@Shop.example.com>",
    "messageId": "0102018fe2a1b3c4-0000-000000",
    "destination": ["a@example.net", "B@Example.net", "c@example.net"],
    "commonHeaders": {
        "from": ["Example Shop <orders@shop.example.com>"],
        "to": ["a@example.net"],
        "messageId": "<rfc-id-1@shop.example.com>",
        "subject": "Bestellung bestätigt 📦",
    },
    "tags": {"ses:configuration-set": ["shop"], "flow": ["order-confirmation"]},
}

BOUNCE = {
    "eventType": "Bounce",
    "mail": MAIL,
    "bounce": {
        "feedbackId": "fb-1",
        "bounceType": "Permanent",
        "bounceSubType": "NoEmail",
        "timestamp": "2024-06-07T10:20:31.412Z",
        "bouncedRecipients": [
            {
                "emailAddress": "a@example.net",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 <a@example.net>: User unknown",
            },
            {
                "emailAddress": "B@Example.net",
                "action": "failed",
                "status": "5.2.2",
                "diagnosticCode": "smtp; 552 5.2.2 Mailbox full",
            },
        ],
    },
}


def sns(message: object, **extra: object) -> dict:
    body = message if isinstance(message, str) else json.dumps(message)
    return {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:eu-west-1:111122223333:ses",
        "Message": body,
        "Timestamp": "2024-06-07T10:20:40.000Z",
        **extra,
    }


def events(obj: dict) -> list[Event]:
    items = list(ses.parse(obj, CTX))
    assert all(isinstance(i, Event) for i in items), items
    return items  # type: ignore[return-value]


def one(obj: dict) -> Event | Skip:
    items = list(ses.parse(obj, CTX))
    assert len(items) == 1
    return items[0]


# --- samples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file",
    [
        "ses/sns-notification-bounce.json",
        "ses/sns-event-publishing.jsonl",
        "ses/firehose-records.jsonl",
    ],
)
def test_samples_match_expected(file: str) -> None:
    evs = parse_file(file)
    assert as_multiset([summary(e) for e in evs]) == as_multiset(expected_for(file))
    assert len({e.event_id for e in evs}) == len(evs)


def test_sns_sample_ids_and_labels() -> None:
    evs = {e.status: e for e in parse_file("ses/sns-event-publishing.jsonl")}
    assert evs["sent"].event_id == "51a00000-1a2b-5c3d-8e4f-0a0b0c0d0e00"
    assert evs["bounced"].raw_status == "Bounce:Transient:General"
    assert evs["bounced"].bounce_hint == "ses:Transient/General"
    assert evs["deferred"].bounce_hint == "ses-delay:TransientCommunicationFailure"
    assert (
        evs["failed"].diagnostic == "Attribute 'first_name' is not present in the rendering data."
    )
    assert evs["failed"].subject is None  # empty subject
    assert evs["dropped"].diagnostic == "Bad content"
    assert evs["sent"].tag == "order-confirmation"
    assert evs["clicked"].extra["url"] == "https://shop.example.com/orders/5532"


# --- one record, many recipients ----------------------------------------------------


def test_bounce_expands_to_bounced_recipients_only() -> None:
    evs = events(BOUNCE)
    assert [e.recipient for e in evs] == ["a@example.net", "b@example.net"]
    assert [e.event_id for e in evs] == ["fb-1:a@example.net", "fb-1:b@example.net"]
    a, b = evs
    assert a.status == "bounced" and a.raw_status == "Bounce:Permanent:NoEmail"
    assert (a.smtp_code, a.enhanced_code) == (550, "5.1.1")
    assert (b.smtp_code, b.enhanced_code) == (552, "5.2.2")
    assert b.diagnostic == "smtp; 552 5.2.2 Mailbox full"
    assert a.bounce_hint == "ses:Permanent/NoEmail"
    assert a.timestamp == "2024-06-07T10:20:31.412Z"
    assert a.message_id == "0102018fe2a1b3c4-0000-000000"
    assert a.aliases == ("rfc-id-1@shop.example.com",)
    assert a.sender == "orders@shop.example.com"
    assert a.subject == "Bestellung bestätigt 📦"
    json.dumps(a.extra)


def test_sns_ids_get_recipient_suffix_only_when_several() -> None:
    evs = events(sns(BOUNCE))
    assert [e.event_id for e in evs] == ["sns-1:a@example.net", "sns-1:b@example.net"]
    single = copy.deepcopy(BOUNCE)
    single["bounce"]["bouncedRecipients"] = single["bounce"]["bouncedRecipients"][:1]
    (ev,) = events(sns(single))
    assert ev.event_id == "sns-1"


@pytest.mark.parametrize("sub", ["Suppressed", "OnAccountSuppressionList"])
def test_suppressed_bounce_is_dropped(sub: str) -> None:
    rec = copy.deepcopy(BOUNCE)
    rec["bounce"]["bounceSubType"] = sub
    evs = events(rec)
    assert {e.status for e in evs} == {"dropped"}
    assert (
        evs[0].raw_status == f"Bounce:Permanent:{sub}"
        and evs[0].bounce_hint == f"ses:Permanent/{sub}"
    )


def test_transient_bounce_is_bounced_not_deferred() -> None:
    rec = copy.deepcopy(BOUNCE)
    rec["bounce"]["bounceType"] = "Transient"
    rec["bounce"]["bounceSubType"] = "MailboxFull"
    assert {e.status for e in events(rec)} == {"bounced"}


def test_send_open_reject_use_destination() -> None:
    send = events({"eventType": "Send", "mail": MAIL, "send": {}})
    assert [e.recipient for e in send] == ["a@example.net", "b@example.net", "c@example.net"]
    assert all(e.timestamp == "2024-06-07T10:20:29.001Z" and e.status == "sent" for e in send)
    assert len({e.event_id for e in send}) == 3  # hashed per recipient
    opened = events(
        {
            "eventType": "Open",
            "mail": MAIL,
            "open": {
                "timestamp": "2024-06-07T12:00:00Z",
                "ipAddress": "192.0.2.1",
                "userAgent": "UA",
            },
        }
    )
    assert len(opened) == 3 and opened[0].timestamp == "2024-06-07T12:00:00.000Z"
    assert opened[0].extra["ip"] == "192.0.2.1" and opened[0].extra["user_agent"] == "UA"
    reject = events({"eventType": "Reject", "mail": MAIL, "reject": {"reason": "Bad content"}})
    assert {e.status for e in reject} == {"dropped"}


def test_delivery_uses_delivery_recipients_and_time() -> None:
    rec = {
        "notificationType": "Delivery",
        "mail": MAIL,
        "delivery": {
            "timestamp": "2024-06-07T10:20:30.500Z",
            "recipients": ["c@example.net"],
            "smtpResponse": "250 2.0.0 OK",
        },
    }
    (ev,) = events(rec)
    assert ev.recipient == "c@example.net" and ev.status == "delivered"
    assert ev.timestamp == "2024-06-07T10:20:30.500Z"
    assert (ev.smtp_code, ev.enhanced_code) == (250, "2.0.0")


def test_complaint_and_suppression_list_complaint() -> None:
    rec = {
        "eventType": "Complaint",
        "mail": MAIL,
        "complaint": {
            "feedbackId": "c1",
            "timestamp": "2024-06-08T09:00:00Z",
            "complainedRecipients": [{"emailAddress": "a@example.net"}],
            "complaintFeedbackType": "abuse",
            "complaintSubType": None,
        },
    }
    (ev,) = events(rec)
    assert ev.status == "complained" and ev.event_id == "c1" and ev.bounce_hint is None
    rec["complaint"]["complaintSubType"] = "OnAccountSuppressionList"
    (ev,) = events(rec)
    assert ev.status == "dropped" and ev.bounce_hint == "ses-complaint:OnAccountSuppressionList"


def test_subscription_opt_out_or_skip() -> None:
    base = {"eventType": "Subscription", "mail": {**MAIL, "destination": ["a@example.net"]}}
    out = {
        "timestamp": "2024-06-08T12:00:00Z",
        "newTopicPreferences": {
            "unsubscribeAll": False,
            "topicSubscriptionStatus": [{"topicName": "deals", "subscriptionStatus": "OptOut"}],
        },
    }
    (ev,) = events({**base, "subscription": out})
    assert ev.status == "unsubscribed"
    opt_in = {
        "timestamp": "2024-06-08T12:00:00Z",
        "newTopicPreferences": {
            "unsubscribeAll": False,
            "topicSubscriptionStatus": [{"topicName": "deals", "subscriptionStatus": "OptIn"}],
        },
    }
    assert isinstance(one({**base, "subscription": opt_in}), Skip)


# --- envelopes ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_sns_confirmations_are_skipped(kind: str) -> None:
    obj = {
        "Type": kind,
        "MessageId": "x",
        "TopicArn": "t",
        "Message": "You have chosen to subscribe",
        "SubscribeURL": "https://x",
    }
    assert importers.detect(obj) is ses
    assert isinstance(one(obj), Skip)


def test_sns_non_json_message_is_skipped() -> None:
    obj = sns("Successfully validated SNS topic for Amazon SES event publishing.")
    assert isinstance(one(obj), Skip)
    assert isinstance(one(sns("42")), Skip)
    assert isinstance(
        one(sns({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"})), Skip
    )


def test_sns_message_escapes_and_trailing_newline() -> None:
    rec = copy.deepcopy(BOUNCE)
    rec["mail"]["commonHeaders"]["subject"] = "Sale \U0001f389 now"
    body = json.dumps(rec, ensure_ascii=True) + "\n"  # emoji as a \\ud83c\\udf89 surrogate pair
    assert "\\ud83c\\udf89" in body
    evs = events(sns(body))
    assert evs[0].subject == "Sale \U0001f389 now"
    lone = body.replace("\\ud83c\\udf89", "\\ud83c")
    evs = events(sns(lone))
    assert evs[0].subject == "Sale \ufffd now"
    evs[0].subject.encode("utf-8")  # storable


def test_sns_falls_back_to_publish_time_and_already_decoded_message() -> None:
    rec = copy.deepcopy(BOUNCE)
    del rec["bounce"]["timestamp"]
    evs = events(sns(rec))
    assert evs[0].timestamp == "2024-06-07T10:20:40.000Z"
    decoded = sns("")
    decoded["Message"] = BOUNCE
    assert len(events(decoded)) == 2


def test_sns_unknown_type_and_foreign_message() -> None:
    with pytest.raises(RecordError):
        list(ses.parse({**sns(BOUNCE), "Type": "Weird"}, CTX))
    with pytest.raises(RecordError):
        list(ses.parse({**sns(BOUNCE), "Type": ["Notification"]}, CTX))
    with pytest.raises(RecordError):
        list(ses.parse(sns({"hello": "world"}), CTX))


def test_eventbridge() -> None:
    obj = {
        "version": "0",
        "id": "eb-1",
        "detail-type": "Email Bounced",
        "source": "aws.ses",
        "time": "2024-06-07T10:20:35Z",
        "detail": BOUNCE,
    }
    assert importers.detect(obj) is ses
    evs = events(obj)
    assert [e.event_id for e in evs] == ["fb-1:a@example.net", "fb-1:b@example.net"]
    with pytest.raises(RecordError):
        list(ses.parse({**obj, "detail": {"foo": 1}}, CTX))


def test_missing_event_time_is_a_record_error_not_the_send_time() -> None:
    rec = copy.deepcopy(BOUNCE)
    del rec["bounce"]["timestamp"]
    with pytest.raises(RecordError, match="bounce.timestamp"):
        list(ses.parse(rec, CTX))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update(eventType="Teleport"),
        lambda r: r.update(eventType=7),
        lambda r: r.update(mail="nope"),
        lambda r: r["bounce"].update(bouncedRecipients={"emailAddress": "x"}),
        lambda r: r["bounce"].update(bouncedRecipients=["a@example.net"]),
        lambda r: r.update(bounce=[1]),
        lambda r: r["mail"].update(commonHeaders="x"),
        lambda r: r["bounce"].update(timestamp="not a time"),
    ],
)
def test_wrong_shapes_are_record_errors(mutate) -> None:  # type: ignore[no-untyped-def]
    rec = copy.deepcopy(BOUNCE)
    mutate(rec)
    with pytest.raises(RecordError):
        list(ses.parse(rec, CTX))


def test_received_is_skipped_and_empty_recipient_list() -> None:
    rec = {"notificationType": "Received", "mail": MAIL, "receipt": {}}
    assert isinstance(one(rec), Skip)
    empty = copy.deepcopy(BOUNCE)
    empty["bounce"]["bouncedRecipients"] = []
    (ev,) = events(empty)
    assert ev.recipient is None and ev.event_id == "fb-1"


def test_retries_give_the_same_event_ids() -> None:
    a = parse_values([sns(BOUNCE), sns(BOUNCE)])
    assert [e.event_id for e in a[:2]] == [e.event_id for e in a[2:]]  # type: ignore[union-attr]
    send = {"eventType": "Send", "mail": MAIL, "send": {}}
    b = parse_values([send, copy.deepcopy(send)])
    assert [e.event_id for e in b[:3]] == [e.event_id for e in b[3:]]  # type: ignore[union-attr]


# --- detection ----------------------------------------------------------------------


def test_detection() -> None:
    assert importers.detect(sns(BOUNCE)) is ses
    assert importers.detect(BOUNCE) is ses
    assert importers.detect({"Type": "Notification", "Message": "x", "MessageId": "m"}) is ses
    assert not ses.detect({"Type": "Notification", "Message": "x"})
    assert not ses.detect({"mail": {"id": 1}, "eventType": "Send"})  # no messageId
    assert not ses.detect({"mail": MAIL})
    assert not ses.detect({"source": "aws.other", "detail": {}})
    for file in ("mailgun/webhooks.jsonl", "postmark/webhooks.jsonl", "resend/webhooks.jsonl"):
        for line in (require_samples() / file).read_text().splitlines():
            assert not ses.detect(json.loads(line))

"""Postmark importer: webhooks and Bounces API pages (formats.md 4.5)."""

from __future__ import annotations

import json

import pytest

from maillog_cli import importers
from maillog_cli.errors import RecordError
from maillog_cli.importers import postmark
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from .conftest import as_multiset, expected_for, parse_file, parse_values, require_samples, summary

CTX = Context()

BOUNCE = {
    "RecordType": "Bounce",
    "ID": 4213377801,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Tag": "password-reset",
    "MessageID": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "MessageStream": "outbound",
    "Description": "The server was unable to deliver your message.",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "Typo.Adress@Example.com",
    "From": "Accounts <no-reply@accounts.example.com>",
    "BouncedAt": "2024-06-05T10:10:45.1230000-04:00",
    "Inactive": True,
    "Subject": "Passwort zurücksetzen 🔑",
    "Metadata": {"user_id": "77121"},
}


def one(obj: dict) -> Event | Skip:
    items = list(postmark.parse(obj, CTX))
    assert len(items) == 1
    return items[0]


@pytest.mark.parametrize("file", ["postmark/bounce-webhook.json", "postmark/webhooks.jsonl"])
def test_samples_match_expected(file: str) -> None:
    events = parse_file(file)
    assert as_multiset([summary(e) for e in events]) == as_multiset(expected_for(file))


def test_bounce_fields() -> None:
    ev = one(BOUNCE)
    assert isinstance(ev, Event)
    assert ev.provider == "postmark" and ev.event_id == "4213377801"
    assert ev.status == "bounced" and ev.raw_status == "Bounce:HardBounce"
    assert ev.timestamp == "2024-06-05T14:10:45.123Z"
    assert ev.message_id == BOUNCE["MessageID"]
    assert ev.recipient == "typo.adress@example.com"
    assert ev.sender == "no-reply@accounts.example.com"
    assert ev.subject == "Passwort zurücksetzen 🔑"
    assert (ev.smtp_code, ev.enhanced_code) == (550, "5.1.1")
    assert ev.diagnostic == BOUNCE["Details"]
    assert ev.bounce_hint == "postmark:HardBounce"
    assert ev.tag == "password-reset" and ev.extra["metadata"] == {"user_id": "77121"}
    json.dumps(ev.extra)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("SoftBounce", "bounced"),
        ("Blocked", "bounced"),
        ("DMARCPolicy", "bounced"),
        ("SpamNotification", "bounced"),
        ("BadEmailAddress", "bounced"),
        ("Unknown", "bounced"),
        ("VirusNotification", "bounced"),
        ("Transient", "deferred"),
        ("DnsError", "deferred"),
        ("ManuallyDeactivated", "dropped"),
        ("Unconfirmed", "dropped"),
        ("Unsubscribe", "unsubscribed"),
        ("SpamComplaint", "complained"),
        ("SMTPApiError", "failed"),
        ("TemplateRenderingFailed", "failed"),
    ],
)
def test_bounce_types(kind: str, status: str) -> None:
    ev = one({**BOUNCE, "Type": kind})
    assert isinstance(ev, Event)
    assert ev.status == status and ev.raw_status == f"Bounce:{kind}"
    assert ev.bounce_hint == f"postmark:{kind}"
    if status in ("unsubscribed", "complained"):
        assert ev.smtp_code is None and ev.diagnostic is None


@pytest.mark.parametrize(
    "kind",
    [
        "AutoResponder",
        "AddressChange",
        "ChallengeVerification",
        "OpenRelayTest",
        "Subscribe",
        "InboundError",
    ],
)
def test_not_bounces_are_skipped(kind: str) -> None:
    assert isinstance(one({**BOUNCE, "Type": kind}), Skip)


def test_type_code_when_type_missing_and_unknown_type() -> None:
    obj = {k: v for k, v in BOUNCE.items() if k != "Type"}
    ev = one({**obj, "TypeCode": 2})
    assert isinstance(ev, Event) and ev.status == "deferred" and ev.raw_status == "Bounce:Transient"
    with pytest.raises(RecordError):
        list(postmark.parse({**BOUNCE, "Type": "Teleported"}, CTX))
    with pytest.raises(RecordError):
        list(postmark.parse({**obj, "TypeCode": 999}, CTX))


def test_time_field_per_record_type() -> None:
    delivery = one(
        {
            "RecordType": "Delivery",
            "MessageID": "m1",
            "Recipient": "A@B.example",
            "DeliveredAt": "2024-06-05T10:02:09.4512033-04:00",
            "BouncedAt": "2001-01-01T00:00:00Z",
            "Details": "smtp;250 2.0.0 OK",
        }
    )
    assert isinstance(delivery, Event)
    assert delivery.timestamp == "2024-06-05T14:02:09.451Z"
    assert (delivery.smtp_code, delivery.enhanced_code) == (250, "2.0.0")
    assert delivery.event_id and delivery.event_id.startswith("h:")
    click = one(
        {
            "RecordType": "Click",
            "MessageID": "m1",
            "Recipient": "a@b.example",
            "ReceivedAt": "2024-06-05T14:06:03Z",
            "OriginalLink": "https://x",
            "UserAgent": "UA",
            "Geo": {"IP": "198.51.100.140", "City": "Milan"},
        }
    )
    assert isinstance(click, Event)
    assert click.status == "clicked" and click.timestamp == "2024-06-05T14:06:03.000Z"
    assert click.extra["url"] == "https://x" and click.extra["ip"] == "198.51.100.140"
    assert click.extra["user_agent"] == "UA"


def test_missing_time_field_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="BouncedAt"):
        list(postmark.parse({k: v for k, v in BOUNCE.items() if k != "BouncedAt"}, CTX))
    with pytest.raises(RecordError, match="DeliveredAt"):
        list(
            postmark.parse(
                {"RecordType": "Delivery", "MessageID": "m", "BouncedAt": "2024-06-05T14:06:03Z"},
                CTX,
            )
        )


def test_spam_complaint_record() -> None:
    ev = one({**BOUNCE, "RecordType": "SpamComplaint", "Type": "SpamComplaint", "ID": 77})
    assert isinstance(ev, Event)
    assert ev.status == "complained" and ev.raw_status == "SpamComplaint"
    assert ev.event_id == "77" and ev.smtp_code is None and ev.diagnostic is None


@pytest.mark.parametrize(
    ("suppress", "reason", "expected"),
    [
        (True, "ManualSuppression", "unsubscribed"),
        (True, "HardBounce", None),
        (True, "SpamComplaint", None),
        (False, "ManualSuppression", None),
        (False, None, None),
    ],
)
def test_subscription_change(suppress: bool, reason: str | None, expected: str | None) -> None:
    obj = {
        "RecordType": "SubscriptionChange",
        "MessageID": "m",
        "ChangedAt": "2024-06-06T08:00:00Z",
        "Recipient": "leaving@example.com",
        "SuppressSending": suppress,
        "SuppressionReason": reason,
    }
    item = one(obj)
    if expected is None:
        assert isinstance(item, Skip)
    else:
        assert isinstance(item, Event) and item.status == expected
        assert item.raw_status == "SubscriptionChange"


def test_bounces_api_page() -> None:
    api_item = {k: v for k, v in BOUNCE.items() if k != "RecordType"}
    page = {
        "TotalCount": 3,
        "Bounces": [api_item, {**api_item, "ID": 2, "Type": "Transient"}, "junk"],
    }
    items = list(postmark.parse(page, CTX))
    events = [i for i in items if isinstance(i, Event)]
    assert [(e.event_id, e.status) for e in events] == [
        ("4213377801", "bounced"),
        ("2", "deferred"),
    ]
    assert all(e.raw_status.startswith("Bounce:") for e in events)
    errors = [i for i in items if isinstance(i, RecordError)]
    assert len(errors) == 1 and "Bounces[2]" in str(errors[0])
    # A webhook and the API listing of the same bounce share the id.
    assert events[0].event_id == one(BOUNCE).event_id  # type: ignore[union-attr]
    assert isinstance(one({"TotalCount": 0, "Bounces": []}), Skip)


def test_unknown_record_type_and_wrong_types() -> None:
    for bad in (
        {**BOUNCE, "RecordType": "Inbound"},
        {**BOUNCE, "RecordType": ["Bounce"]},
        {**BOUNCE, "BouncedAt": "not a date"},
        {**BOUNCE, "BouncedAt": {"x": 1}},
    ):
        with pytest.raises(RecordError):
            list(postmark.parse(bad, CTX))


def test_wrong_typed_optional_fields_do_not_crash() -> None:
    ev = one(
        {**BOUNCE, "Email": ["x@y"], "Details": {"a": 1}, "Subject": 5, "Geo": "x", "Tag": None}
    )
    assert isinstance(ev, Event)
    assert ev.recipient == "x@y" and ev.diagnostic is None and ev.subject == "5"


def test_retries_give_the_same_event_id() -> None:
    delivery = {
        "RecordType": "Delivery",
        "MessageID": "m",
        "Recipient": "a@b",
        "DeliveredAt": "2024-06-05T14:02:09Z",
    }
    items = parse_values([delivery, dict(delivery), BOUNCE, dict(BOUNCE)])
    ids = [i.event_id for i in items]  # type: ignore[union-attr]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_detection() -> None:
    assert importers.detect(BOUNCE) is postmark
    assert importers.detect({"TotalCount": 1, "Bounces": []}) is postmark
    assert not postmark.detect({"Bounces": []})
    # inbound: FromFull, ToFull and MessageID together
    assert not postmark.detect({"FromFull": {}, "MessageID": "x"})
    assert importers.detect({"FromFull": {}, "ToFull": [], "MessageID": "x"}) is postmark
    for file in ("mailgun/webhooks.jsonl", "resend/webhooks.jsonl", "ses/firehose-records.jsonl"):
        for line in (require_samples() / file).read_text().splitlines():
            assert not postmark.detect(json.loads(line))


# --- API pages and the inbound webhook, as Postmark's API reference shows them ---------------

MID = "0ac29aee-e1cd-480d-b08d-4f48548ff48d"
OPEN = {
    "RecordType": "Open",
    "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
    "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
    "Platform": "WebMail",
    "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
    "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "IP": "188.2.95.4"},
    "MessageID": MID,
    "MessageStream": "outbound",
    "ReceivedAt": "2014-06-02T06:21:55.4287543-04:00",
    "Tag": "welcome-email",
    "Recipient": "john.smith@example.com",
    "FirstOpen": True,
    "ReadSeconds": 10,
}
CLICK = {
    "ClickLocation": "HTML",
    "Client": {"Name": "Chrome 62.0.3202.94", "Company": "Google", "Family": "Chrome"},
    "OS": {"Name": "OS X 10.12 Sierra", "Company": "Apple Computer, Inc.", "Family": "OS X"},
    "Platform": "Desktop",
    "UserAgent": "Mozilla/5.0",
    "OriginalLink": "https://example.com/welcome",
    "Geo": {"IP": "192.0.2.4"},
    "MessageID": MID,
    "MessageStream": "outbound",
    "ReceivedAt": "2017-10-25T15:21:11.0000000-04:00",
    "Tag": "welcome-email",
    "Recipient": "john.smith@example.com",
}
MESSAGE = {
    "Tag": "Invitation",
    "MessageID": MID,
    "MessageStream": "outbound",
    "To": [
        {"Email": "john.smith@example.com", "Name": "John Smith"},
        {"Email": "Ann@Example.com", "Name": None},
    ],
    "Cc": [],
    "Bcc": [],
    "Recipients": ["john.smith@example.com", "Ann@Example.com"],
    "ReceivedAt": "2014-02-20T07:25:01.0183118-05:00",
    "From": '"Joe" <joe@domain.com>',
    "Subject": "staging",
    "Attachments": [],
    "Status": "Sent",
    "TrackOpens": True,
    "TrackLinks": "None",
    "Metadata": {"color": "blue"},
    "Sandboxed": False,
}
INBOUND = {
    "FromName": "Postmarkapp Support",
    "MessageStream": "inbound",
    "From": "support@postmarkapp.com",
    "FromFull": {
        "Email": "support@postmarkapp.com",
        "Name": "Postmarkapp Support",
        "MailboxHash": "",
    },
    "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
    "ToFull": [
        {
            "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
            "Name": "Firstname Lastname",
            "MailboxHash": "SampleHash",
        }
    ],
    "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com>',
    "CcFull": [
        {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
        {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
    ],
    "Bcc": "",
    "BccFull": [],
    "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
    "Subject": "Test subject",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "replyto@postmarkapp.com",
    "MailboxHash": "SampleHash",
    "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
    "TextBody": "This is a test text body.",
    "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
    "StrippedTextReply": "This is the reply text",
    "Tag": "TestTag",
    "Headers": [
        {"Name": "X-Spam-Status", "Value": "No"},
        {"Name": "Message-ID", "Value": "<CAB3G5p2vsFw@mail.gmail.com>"},
    ],
    "Attachments": [],
}


def test_opens_and_clicks_pages() -> None:
    events = parse_values({"TotalCount": 2, "Opens": [OPEN], "Clicks": []}) + parse_values(
        {"TotalCount": 1, "Clicks": [CLICK]}
    )
    assert [(e.status, e.raw_status) for e in events] == [("opened", "Open"), ("clicked", "Click")]
    assert {e.message_id for e in events} == {MID}
    assert events[0].timestamp == "2014-06-02T10:21:55.428Z"
    assert events[0].extra["ip"] == "188.2.95.4" and events[0].extra["read_seconds"] == 10
    assert events[1].extra["url"] == "https://example.com/welcome"
    assert isinstance(one({"TotalCount": 0, "Opens": []}), Skip)


def test_outbound_message_search_one_event_per_recipient() -> None:
    events = parse_values({"TotalCount": 194, "Messages": [MESSAGE]})
    assert [(e.status, e.recipient) for e in events] == [
        ("sent", "john.smith@example.com"),
        ("sent", "ann@example.com"),
    ]
    e = events[0]
    assert isinstance(e, Event)
    assert (e.message_id, e.sender, e.subject, e.tag) == (
        MID,
        "joe@domain.com",
        "staging",
        "Invitation",
    )
    assert e.timestamp == "2014-02-20T12:25:01.018Z" and e.raw_status == "Message:Sent"
    assert e.extra["metadata"] == {"color": "blue"}
    assert len({ev.event_id for ev in events}) == 2


def test_message_details_events_become_events() -> None:
    details = {
        **MESSAGE,
        "MessageEvents": [
            {
                "Recipient": "john.smith@example.com",
                "Type": "Delivered",
                "ReceivedAt": "2014-02-20T07:25:03.1-05:00",
                "Details": {
                    "DeliveryMessage": "smtp;250 2.0.0 OK 1392899103",
                    "DestinationServer": "mx.example.com",
                    "DestinationIP": "192.0.2.25",
                },
            },
            {
                "Recipient": "ann@example.com",
                "Type": "Bounced",
                "ReceivedAt": "2014-02-20T07:25:04-05:00",
                "Details": {"Summary": "smtp;550 5.1.1 unknown user", "BounceID": "374814878"},
            },
            {
                "Recipient": "john.smith@example.com",
                "Type": "Opened",
                "ReceivedAt": "2014-02-20T08:00:00-05:00",
                "Details": {"Summary": "Email opened with Chrome"},
            },
        ],
    }
    events = parse_values({"TotalCount": 1, "Messages": [details]})
    got = [(e.status, e.recipient, e.smtp_code) for e in events]
    assert got == [
        ("sent", "john.smith@example.com", None),
        ("sent", "ann@example.com", None),
        ("delivered", "john.smith@example.com", 250),
        ("bounced", "ann@example.com", 550),
        ("opened", "john.smith@example.com", None),
    ]
    assert {e.message_id for e in events} == {MID}


def test_message_status_words() -> None:
    assert (
        parse_values({"TotalCount": 1, "Messages": [{**MESSAGE, "Status": "Queued"}]})[0].status
        == "queued"
    )
    items = list(
        postmark.parse({"TotalCount": 1, "Messages": [{**MESSAGE, "Status": "Nope"}]}, CTX)
    )
    assert len(items) == 1 and isinstance(items[0], RecordError) and "Messages[0]" in str(items[0])


def test_inbound_webhook_is_processed_inbound_for_each_recipient() -> None:
    assert importers.detect(INBOUND) is postmark
    events = parse_values(INBOUND)
    assert [e.recipient for e in events] == [
        "yourhash+samplehash@inbound.postmarkapp.com",
        "firstcc@postmarkapp.com",
        "secondcc@postmarkapp.com",
    ]
    e = events[0]
    assert isinstance(e, Event)
    assert (e.status, e.raw_status, e.direction) == ("processed", "Inbound", "inbound")
    assert e.timestamp == "2014-08-01T20:45:32.000Z"  # -04:00 applied
    assert e.message_id == "73e6d360-66eb-11e1-8e72-a8904824019b"
    assert "CAB3G5p2vsFw@mail.gmail.com" in e.aliases
    assert (e.sender, e.subject) == ("support@postmarkapp.com", "Test subject")
    assert "TextBody" not in json.dumps(e.extra) and "test text body" not in json.dumps(e.extra)


def test_inbound_message_search_page() -> None:
    rec = {**INBOUND, "Status": "Processed", "ReceivedAt": "2014-08-01T16:45:33-04:00"}
    events = parse_values({"TotalCount": 1, "InboundMessages": [rec]})
    assert {(e.status, e.direction) for e in events} == {("processed", "inbound")}
    assert events[0].timestamp == "2014-08-01T20:45:33.000Z"


def test_a_page_of_someone_elses_messages_is_not_postmark() -> None:
    """`TotalCount` + `Messages` is a common page shape: Postmark's rows carry `MessageID`."""
    assert not postmark.detect({"TotalCount": 1, "Messages": [{"status": "sent", "id": 1}]})
    assert postmark.detect({"TotalCount": 1, "Messages": [MESSAGE]})

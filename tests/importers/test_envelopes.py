"""Provider records inside transport envelopes and back-to-back objects, through the real
`maillog import` into a store on disk (ingest/envelopes.py, readers.concatenated).

Shapes as AWS documents them: Kinesis Data Firehose writes SES event records to S3 with
no separator between them; a Lambda function subscribed to SNS receives
`{"Records": [{"EventSource": "aws:sns", "Sns": {…SNS notification…}}]}`; one fed by SQS
receives `{"Records": [{"messageId", "receiptHandle", "body": "<string>", …}]}`; SQS
ReceiveMessage answers `{"Messages": [{"MessageId", "ReceiptHandle", "MD5OfBody", "Body"}]}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

MAIL = {
    "timestamp": "2026-03-03T14:00:00.000Z",
    "source": "Shop <orders@shop.example>",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/shop.example",
    "sendingAccountId": "123456789012",
    "messageId": "0100018e0f1a2b3c-aaaa-bbbb-cccc-000000000000-000000",
    "destination": ["ann@example.org", "bob@example.net"],
    "headersTruncated": False,
    "commonHeaders": {
        "from": ["Shop <orders@shop.example>"],
        "to": ["ann@example.org", "bob@example.net"],
        "messageId": "<order-1@shop.example>",
        "subject": "Your order",
    },
    "tags": {"ses:configuration-set": ["shop"], "campaign": ["spring"]},
}
DELIVERY = {
    "eventType": "Delivery",
    "mail": MAIL,
    "delivery": {
        "timestamp": "2026-03-03T14:00:01.500Z",
        "processingTimeMillis": 1500,
        "recipients": ["ann@example.org", "bob@example.net"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "a8-1.smtp-out.amazonses.com",
    },
}
BOUNCE = {
    "notificationType": "Bounce",
    "mail": MAIL,
    "bounce": {
        "feedbackId": "0100018e-feedback-1",
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "bob@example.net",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2026-03-03T14:00:02.000Z",
    },
}


def sns(record: dict[str, Any], sns_id: str) -> dict[str, Any]:
    """An SNS notification as Lambda's SNS event shows it (SigningCertUrl spelling)."""
    return {
        "SignatureVersion": "1",
        "Timestamp": "2026-03-03T14:00:03.000Z",
        "Signature": "EXAMPLE",
        "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
        "MessageId": sns_id,
        "Message": json.dumps(record),
        "MessageAttributes": {},
        "Type": "Notification",
        "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Subject": None,
    }


def rows(cli: Any) -> list[dict[str, Any]]:
    out = cli("search", "--format", "jsonl")
    return sorted(
        (orjson.loads(x) for x in out.stdout.splitlines()),
        key=lambda r: (r["timestamp"], r["recipient"]),
    )


def facts(cli: Any) -> list[tuple[str, str, str, str]]:
    return [(r["status"], r["recipient"], r["message_id"], r["timestamp"]) for r in rows(cli)]


MID = MAIL["messageId"]
EXPECTED = [
    ("delivered", "ann@example.org", MID, "2026-03-03T14:00:01.500Z"),
    ("delivered", "bob@example.net", MID, "2026-03-03T14:00:01.500Z"),
    ("bounced", "bob@example.net", MID, "2026-03-03T14:00:02.000Z"),
]


def imported(cli: Any, path: Path) -> None:
    r = cli("import", path)
    assert r.exit_code == 0, r
    assert "[ses]" in r.stderr, r


def test_firehose_records_back_to_back_without_separator(cli: Any, tmp_path: Path) -> None:
    f = tmp_path / "firehose-object"
    f.write_text(json.dumps(DELIVERY) + json.dumps(BOUNCE), encoding="utf-8")
    imported(cli, f)
    assert facts(cli) == EXPECTED


def test_firehose_back_to_back_records_on_several_lines(cli: Any, tmp_path: Path) -> None:
    """Several Firehose batches appended: each line holds objects with no separator."""
    f = tmp_path / "firehose-lines"
    line = json.dumps(DELIVERY) + json.dumps(BOUNCE)
    f.write_text(line + "\n" + line + "\n", encoding="utf-8")
    r = cli("import", f)
    assert r.exit_code == 0, r
    assert "3 new events, 3 already present" in r.stderr
    assert facts(cli) == EXPECTED


def test_firehose_object_bigger_than_the_sniffed_head(cli: Any, tmp_path: Path) -> None:
    """No line end in the first MiB: still read value by value, not as one huge line."""
    f = tmp_path / "big-firehose"
    records = []
    for i in range(1500):
        rec = json.loads(json.dumps(DELIVERY))
        rec["mail"]["messageId"] = f"m-{i:05d}"
        records.append(json.dumps(rec))
    f.write_text("".join(records), encoding="utf-8")
    assert f.stat().st_size > 1 << 20
    imported(cli, f)
    out = cli("sql", "select count(distinct message_id), count(*) from events")
    assert out.stdout.split() == ["1500", "3000"], out


def test_lambda_event_from_sns(cli: Any, tmp_path: Path) -> None:
    f = tmp_path / "lambda.json"
    event = {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ses-events:1",
                "EventSource": "aws:sns",
                "Sns": sns(record, f"sns-{i}"),
            }
            for i, record in enumerate((DELIVERY, BOUNCE))
        ]
    }
    f.write_text(json.dumps(event, indent=2), encoding="utf-8")
    imported(cli, f)
    assert facts(cli) == EXPECTED
    # the SNS message id is the event id (two recipients: one each)
    assert {r["event_id"] for r in rows(cli)} >= {"sns-1"}


def test_lambda_event_from_sqs_with_sns_and_raw_bodies(cli: Any, tmp_path: Path) -> None:
    """SNS → SQS (the body is the SNS notification) and raw message delivery (the body
    is the SES record itself), one JSON object per line as a Lambda would log them."""
    f = tmp_path / "sqs-lambda.jsonl"
    events = [
        {
            "Records": [
                {
                    "messageId": f"q-{i}",
                    "receiptHandle": "AQEB…",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": "0" * 32,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ses",
                    "awsRegion": "us-east-1",
                }
            ]
        }
        for i, body in enumerate((json.dumps(sns(DELIVERY, "sns-0")), json.dumps(BOUNCE)))
    ]
    f.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    imported(cli, f)
    assert facts(cli) == EXPECTED


def test_sqs_receive_message_answer_and_its_messages_one_per_line(cli: Any, tmp_path: Path) -> None:
    messages = [
        {"MessageId": "q-1", "ReceiptHandle": "AQEB", "MD5OfBody": "0" * 32, "Body": body}
        for body in (json.dumps(sns(DELIVERY, "sns-0")), json.dumps(BOUNCE))
    ]
    page = tmp_path / "receive.json"
    page.write_text(json.dumps({"Messages": messages}, indent=1), encoding="utf-8")
    imported(cli, page)
    assert facts(cli) == EXPECTED
    lines = tmp_path / "messages.jsonl"
    lines.write_text("".join(json.dumps(m) + "\n" for m in messages), encoding="utf-8")
    r = cli("import", lines)
    assert "0 new events, 3 already present" in r.stderr, r


def test_forced_format_reads_through_the_envelope(cli: Any, tmp_path: Path) -> None:
    f = tmp_path / "lambda.json"
    f.write_text(json.dumps({"Records": [{"Sns": sns(DELIVERY, "sns-0")}]}), encoding="utf-8")
    r = cli("import", "--format", "ses", f)
    assert r.exit_code == 0, r
    assert len(rows(cli)) == 2


def test_an_sqs_body_that_is_not_json_is_one_bad_record(cli: Any, tmp_path: Path) -> None:
    f = tmp_path / "sqs.jsonl"
    good = {"MessageId": "q-1", "ReceiptHandle": "r", "Body": json.dumps(BOUNCE)}
    bad = {"MessageId": "q-2", "ReceiptHandle": "r", "Body": "hello"}
    f.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    r = cli("import", f)
    assert r.exit_code == 1
    assert f"{f}:1: SQS message Body is not JSON" in r.stderr, r
    assert [x[0] for x in facts(cli)] == ["bounced"]


def test_extra_keys_beside_a_list_of_records_do_not_hide_them(cli: Any, tmp_path: Path) -> None:
    """An export saved with its own keys around the records (a list under a name no
    provider uses, next to other lists): the recognised list is read."""
    f = tmp_path / "saved.json"
    f.write_text(
        json.dumps({"exported": "2026-03-04", "notes": ["x"], "ses_events": [DELIVERY, BOUNCE]}),
        encoding="utf-8",
    )
    imported(cli, f)
    assert facts(cli) == EXPECTED


def test_saved_requests_around_one_record(cli: Any, tmp_path: Path) -> None:
    """Webhook dumps saved as requests: the JSON body as a string beside the headers, a
    parsed form under `form`, a form whose values are one-element lists."""
    postmark_delivery = {
        "RecordType": "Delivery",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "john@example.com",
        "DeliveredAt": "2026-03-03T10:00:01-04:00",
        "Details": "Test delivery webhook details",
        "Tag": "welcome-email",
        "ServerID": 23,
        "MessageStream": "outbound",
    }
    mailgun_legacy = {
        "event": "bounced",
        "recipient": "bob@example.net",
        "domain": "mg.example.com",
        "Message-Id": "<20260303140000.1.ABC@mg.example.com>",
        "code": "550",
        "error": "5.1.1 The email account that you tried to reach does not exist.",
        "timestamp": "1772546405",
        "token": "c4a1a9e1",
        "signature": "0b4d6b1a",
    }
    lines = [
        {
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(postmark_delivery),
        },
        {"path": "/hooks/mailgun", "form": mailgun_legacy},
        {k: [v] for k, v in mailgun_legacy.items()} | {"recipient": ["carl@example.net"]},
    ]
    f = tmp_path / "requests.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    r = cli("import", f)
    assert r.exit_code == 0, r
    got = [(x["provider"], x["status"], x["recipient"], x["timestamp"]) for x in rows(cli)]
    assert got == [
        ("postmark", "delivered", "john@example.com", "2026-03-03T14:00:01.000Z"),
        ("mailgun", "bounced", "bob@example.net", "2026-03-03T14:00:05.000Z"),
        ("mailgun", "bounced", "carl@example.net", "2026-03-03T14:00:05.000Z"),
    ]


def test_an_object_holding_nothing_recognised_is_still_unrecognised(
    cli: Any, tmp_path: Path
) -> None:
    f = tmp_path / "other.jsonl"
    f.write_text(
        json.dumps({"user": {"name": "x"}, "body": '{"a": 1}', "items2": [{"b": 2}]}) + "\n",
        encoding="utf-8",
    )
    r = cli("import", f)
    assert r.exit_code == 1
    assert "unrecognised record" in r.stderr


def test_kinesis_and_firehose_transformation_records(cli: Any, tmp_path: Path) -> None:
    """Lambda's Kinesis event and a Firehose transformation's input carry each record as
    base64 `data`."""
    import base64

    def b64(*records: dict[str, Any]) -> str:
        return base64.b64encode("".join(json.dumps(r) for r in records).encode()).decode()

    kinesis = {
        "Records": [
            {
                "kinesis": {"partitionKey": "1", "data": b64(DELIVERY), "sequenceNumber": "4"},
                "eventSource": "aws:kinesis",
                "eventID": "shardId-000000000000:4",
            }
        ]
    }
    firehose = {
        "invocationId": "i-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/ses",
        "region": "us-east-1",
        "records": [{"recordId": "r-1", "approximateArrivalTimestamp": 1, "data": b64(BOUNCE)}],
    }
    f = tmp_path / "streams.jsonl"
    f.write_text(json.dumps(kinesis) + "\n" + json.dumps(firehose) + "\n", encoding="utf-8")
    imported(cli, f)
    assert facts(cli) == EXPECTED


def test_big_pages_of_other_list_keys_stream_item_by_item(cli: Any, tmp_path: Path) -> None:
    """A page over the whole-document limit is streamed by its list key: Postmark's
    Opens and SendGrid's Activity `messages` too, not only the first keys known."""
    opened = {
        "RecordType": "Open",
        "MessageID": "927e56d2-dc08-4adc-8e6d-2f6dd1e8f1f0",
        "Recipient": "john@example.com",
        "ReceivedAt": "2026-03-03T10:00:01-04:00",
    }
    postmark_page = tmp_path / "opens.json"
    postmark_page.write_text(
        json.dumps(
            {
                "TotalCount": 600,
                "Opens": [{**opened, "Recipient": f"r{i:03d}@x.org"} for i in range(600)],
            }
        ),
        encoding="utf-8",
    )
    activity = tmp_path / "activity.json"
    row = {
        "from_email": "shop@example.net",
        "msg_id": "sgX.filterdrecv-1",
        "subject": "Hi",
        "to_email": "ava@example.com",
        "status": "delivered",
        "opens_count": 0,
        "clicks_count": 0,
        "last_event_time": "2026-03-03T14:00:05Z",
    }
    activity.write_text(
        json.dumps({"messages": [{**row, "to_email": f"s{i:03d}@x.org"} for i in range(600)]}),
        encoding="utf-8",
    )
    assert postmark_page.stat().st_size > 80_000 and activity.stat().st_size > 80_000
    # each page is over the record cap as a whole (and so streamed); each item is not
    r = cli("import", "--max-record-mb", "0.002", postmark_page, activity)
    assert r.exit_code == 0, r
    out = cli("sql", "select provider, count(*) from events group by provider order by 1")
    assert out.stdout.split() == ["postmark", "600", "sendgrid", "600"], out


def test_forced_format_and_an_unreadable_sqs_body_is_one_bad_record(
    cli: Any, tmp_path: Path
) -> None:
    """A body that is not JSON is reported, never handed to the format's detector (which
    crashed on it), and the readable message beside it is kept."""
    f = tmp_path / "saved.json"
    unreadable = {"messageId": "q-1", "receiptHandle": "r", "body": "not json"}
    readable = {"messageId": "q-2", "receiptHandle": "r", "body": json.dumps(BOUNCE)}
    # under a key of the user's own, so the first message decides whether the list is read
    f.write_text(json.dumps({"batch": [unreadable, readable]}), encoding="utf-8")
    r = cli("import", "--format", "ses", f)
    assert r.exit_code == 1, r
    assert "Traceback" not in r.stderr and "SQS message body is not JSON" in r.stderr, r
    assert [x[0] for x in facts(cli)] == ["bounced"]

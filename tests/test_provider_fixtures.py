"""Every provider's format, imported through the real CLI from tiny fixtures in
tests/data/providers/ (written from the provider's documented format, not copied from
real dumps): the statuses, recipients, message ids, times and codes that land in the store.

These are the suite's own core cases: they need nothing outside the repository.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from maillog_cli import importers

DATA = Path(__file__).parent / "data" / "providers"

# file → (format name, records skipped, events as
#         (status, raw_status, recipient, message_id, timestamp, smtp_code, enhanced_code))
EXPECTED: dict[str, tuple[str, int, list[tuple[object, ...]]]] = {
    "sendgrid.json": (
        "sendgrid",
        1,  # group_resubscribe
        [
            (
                "queued",
                "processed",
                "ava@example.com",
                "sgmsg001",
                "2024-06-10T09:00:00.000Z",
                None,
                None,
            ),
            (
                "delivered",
                "delivered",
                "ava@example.com",
                "sgmsg001",
                "2024-06-10T09:00:05.000Z",
                250,
                "2.0.0",
            ),
            (
                "bounced",
                "bounce",
                "bo@example.org",
                "sgmsg002",
                "2024-06-10T09:00:10.000Z",
                550,
                "5.1.1",
            ),
            (
                "opened",
                "open",
                "ava@example.com",
                "sgmsg001",
                "2024-06-10T09:01:40.000Z",
                None,
                None,
            ),
        ],
    ),
    "sendgrid-activity.csv": (
        "sendgrid-csv",
        0,
        [
            (
                "delivered",
                "delivered",
                "cy@example.com",
                "sgcsv001",
                "2024-06-10T09:00:00.123Z",
                250,
                "2.0.0",
            ),
            (
                "dropped",
                "drop",
                "dee@example.org",
                "sgcsv002",
                "2024-06-10T09:05:00.000Z",
                None,
                None,
            ),
            (
                "bounced",
                "bounce",
                "eve@example.org",
                "sgcsv003",
                "2024-06-10T09:10:00.000Z",
                550,
                "5.1.1",
            ),
        ],
    ),
    # Email Activity API, GET /v3/messages: one summary per email and recipient
    "sendgrid-activity-api.json": (
        "sendgrid",
        0,
        [
            (
                "delivered",
                "delivered",
                "ava@example.com",
                "sgact001",
                "2024-06-10T09:03:00.000Z",
                None,
                None,
            ),
            (
                "bounced",
                "not_delivered",
                "bo@example.org",
                "sgact002",
                "2024-06-10T09:04:00.000Z",
                None,
                None,
            ),
            (
                "queued",
                "processing",
                "cy@example.com",
                "sgact003",
                "2024-06-10T09:05:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "mailgun.jsonl": (
        "mailgun",
        0,
        [
            (
                "delivered",
                "delivered",
                "fay@example.com",
                "mg1@mail.example.net",
                "2024-06-10T09:00:00.123Z",
                250,
                None,
            ),
            (
                "bounced",
                "failed:permanent",
                "gus@example.org",
                "mg2@mail.example.net",
                "2024-06-10T09:01:00.500Z",
                550,
                "5.1.1",
            ),
            (
                "deferred",
                "failed:temporary",
                "hal@example.org",
                "mg3@mail.example.net",
                "2024-06-10T09:02:00.000Z",
                421,
                None,
            ),
            # 605 is Mailgun's own code, not an SMTP reply
            (
                "dropped",
                "failed:permanent",
                "gus@example.org",
                "mg4@mail.example.net",
                "2024-06-10T09:03:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "mailgun-events-page.json": (
        "mailgun",
        0,
        [
            (
                "queued",
                "accepted",
                "ola@example.com",
                "mg10@mail.example.net",
                "2024-06-10T11:46:40.500Z",
                None,
                None,
            ),
            (
                "delivered",
                "delivered",
                "ola@example.com",
                "mg10@mail.example.net",
                "2024-06-10T11:46:42.750Z",
                250,
                "2.0.0",
            ),
            # rejected has no recipient: the To header's address
            (
                "dropped",
                "rejected",
                "pia@example.org",
                "mg11@mail.example.net",
                "2024-06-10T11:46:45.000Z",
                None,
                None,
            ),
        ],
    ),
    "postmark.jsonl": (
        "postmark",
        1,  # AutoResponder
        [
            # -04:00 and seven fraction digits
            (
                "delivered",
                "Delivery",
                "ivy@example.com",
                "pm-0001",
                "2024-06-05T14:10:45.123Z",
                250,
                "2.0.0",
            ),
            (
                "bounced",
                "Bounce:HardBounce",
                "jon@example.org",
                "pm-0002",
                "2024-06-05T14:00:00.000Z",
                550,
                "5.1.1",
            ),
            (
                "deferred",
                "Bounce:Transient",
                "kim@example.org",
                "pm-0003",
                "2024-06-05T14:05:00.000Z",
                421,
                "4.4.2",
            ),
            (
                "opened",
                "Open",
                "ivy@example.com",
                "pm-0001",
                "2024-06-05T15:00:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "ses.jsonl": (
        "ses",
        1,  # SNS SubscriptionConfirmation
        [
            # one SNS notification, two bounced recipients (not every destination)
            (
                "bounced",
                "Bounce:Permanent:General",
                "max@example.org",
                "ses-0001",
                "2024-06-10T10:00:01.500Z",
                550,
                "5.1.1",
            ),
            (
                "bounced",
                "Bounce:Permanent:General",
                "ned@example.org",
                "ses-0001",
                "2024-06-10T10:00:01.500Z",
                550,
                "5.1.1",
            ),
            (
                "delivered",
                "Delivery",
                "oli@example.com",
                "ses-0002",
                "2024-06-10T10:00:03.000Z",
                250,
                "2.0.0",
            ),
            (
                "dropped",
                "Bounce:Permanent:Suppressed",
                "pat@example.org",
                "ses-0003",
                "2024-06-10T10:01:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "resend.jsonl": (
        "resend",
        1,  # contact.created
        [
            (
                "delivered",
                "email.delivered",
                "quinn@example.com",
                "rs-0001",
                "2024-06-11T08:00:01.000Z",
                None,
                None,
            ),
            (
                "bounced",
                "email.bounced",
                "ray@example.org",
                "rs-0002",
                "2024-06-11T08:01:00.000Z",
                550,
                "5.1.1",
            ),
            (
                "dropped",
                "email.bounced",
                "sue@example.org",
                "rs-0003",
                "2024-06-11T08:02:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "sparkpost.json": (
        "sparkpost",
        1,  # {"msys": {}} ping
        [
            (
                "delivered",
                "delivery",
                "tom@example.com",
                "sp-0001",
                "2024-06-10T09:00:00.000Z",
                None,
                None,
            ),
            (
                "bounced",
                "bounce:10",
                "uma@example.org",
                "sp-0002",
                "2024-06-10T09:01:00.000Z",
                550,
                "5.1.1",
            ),
            (
                "clicked",
                "click",
                "tom@example.com",
                "sp-0001",
                "2024-06-10T09:02:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "mandrill.txt": (
        "mandrill",
        1,  # a blacklist sync event
        [
            (
                "sent",
                "send",
                "vic@example.com",
                "0123456789abcdef0123456789abcdef",
                "2024-06-10T09:00:00.000Z",
                None,
                None,
            ),
            (
                "bounced",
                "hard_bounce",
                "wes@example.org",
                "fedcba9876543210fedcba9876543210",
                "2024-06-10T09:01:40.000Z",
                550,
                "5.1.1",
            ),
            # engagement: the repeated SMTP log gives no code
            (
                "opened",
                "open",
                "vic@example.com",
                "0123456789abcdef0123456789abcdef",
                "2024-06-10T09:03:20.000Z",
                None,
                None,
            ),
        ],
    ),
    "brevo.jsonl": (
        "brevo",
        1,  # list_addition
        [
            # ts_epoch (milliseconds) wins over ts/ts_event and the zone-less date
            (
                "delivered",
                "delivered",
                "xan@example.com",
                "202406101000.111@smtp-relay.mailin.fr",
                "2024-06-10T10:00:00.123Z",
                None,
                None,
            ),
            (
                "bounced",
                "hard_bounce",
                "yve@example.org",
                "202406101000.222@smtp-relay.mailin.fr",
                "2024-06-10T10:01:40.000Z",
                550,
                "5.1.1",
            ),
            (
                "bounced",
                "soft_bounce",
                "zed@example.org",
                "202406101000.333@smtp-relay.mailin.fr",
                "2024-06-10T10:03:20.000Z",
                452,
                "4.2.2",
            ),
        ],
    ),
    "mailjet.json": (
        "mailjet",
        0,
        [
            # MessageID above 2**53, kept exactly
            (
                "delivered",
                "sent",
                "abe@example.com",
                "9007199254740993",
                "2024-06-10T09:00:00.000Z",
                250,
                "2.0.0",
            ),
            (
                "bounced",
                "bounce",
                "bea@example.org",
                "9007199254740995",
                "2024-06-10T09:01:00.000Z",
                550,
                "5.1.1",
            ),
            (
                "deferred",
                "bounce",
                "cal@example.org",
                "9007199254740997",
                "2024-06-10T09:02:00.000Z",
                451,
                "4.7.1",
            ),
        ],
    ),
    # mail servers' own logs (importers/mta/): lines joined by queue id into one message
    "postfix.log": (
        "postfix",
        1,  # another daemon's line
        [
            ("queued", "queued", None, "4C5D6E7F80", "2026-03-02T23:58:10.000Z", None, None),
            (
                "delivered",
                "sent",
                "dora@example.org",
                "4C5D6E7F80",
                "2026-03-02T23:58:11.000Z",
                250,
                "2.0.0",
            ),
            (
                "bounced",
                "bounced",
                "ed@example.com",
                "4C5D6E7F80",
                "2026-03-02T23:58:12.000Z",
                550,
                "5.1.1",
            ),
        ],
    ),
    "exim.log": (
        "exim",
        1,  # a queue run
        [
            ("queued", "queued", None, "1vAbCd-000XyZ-Q1", "2026-03-08T09:15:01.000Z", None, None),
            (
                "delivered",
                "=>",
                "lee@example.org",
                "1vAbCd-000XyZ-Q1",
                "2026-03-08T09:15:02.000Z",
                250,
                "2.0.0",
            ),
            (
                "deferred",
                "==",
                "oli@example.com",
                "1vAbCd-000XyZ-Q1",
                "2026-03-08T09:15:03.000Z",
                451,
                "4.7.1",
            ),
        ],
    ),
    "journald.jsonl": (
        "journald",
        1,  # another unit's entry
        [
            ("queued", "queued", None, "8E9F0A1B2C", "2026-03-10T08:00:01.600Z", None, None),
            (
                "delivered",
                "sent",
                "pat@example.org",
                "8E9F0A1B2C",
                "2026-03-10T08:00:02.400Z",
                250,
                "2.0.0",
            ),
            (
                "bounced",
                "bounced",
                "quinn@example.net",
                "8E9F0A1B2C",
                "2026-03-10T08:00:02.600Z",
                552,
                "5.2.2",
            ),
        ],
    ),
    "postal.jsonl": (
        "postal",
        1,  # DomainDNSError
        [
            (
                "delivered",
                "MessageSent",
                "dan@example.com",
                "pst1@mail.example.net",
                "2024-06-10T09:00:00.250Z",
                250,
                "2.0.0",
            ),
            (
                "deferred",
                "MessageDelayed",
                "eli@example.org",
                "pst2@mail.example.net",
                "2024-06-10T09:01:40.000Z",
                421,
                "4.7.0",
            ),
            (
                "bounced",
                "MessageBounced",
                "fox@example.org",
                "pst3@mail.example.net",
                "2024-06-10T09:03:20.000Z",
                None,
                None,
            ),
        ],
    ),
    "cloudflare.json": (
        "cloudflare",
        0,
        [
            (
                "delivered",
                "delivered",
                "gil@example.com",
                "cf1@example.net",
                "2024-06-12T09:00:00.000Z",
                None,
                None,
            ),
            (
                "bounced",
                "deliveryFailed",
                "hank@example.org",
                "cf2@example.net",
                "2024-06-12T09:01:00.000Z",
                550,
                "5.1.1",
            ),
            (
                "forwarded",
                "delivered:forward",
                "inbox@example.net",
                "cf3@mail.example.org",
                "2024-06-12T09:02:00.000Z",
                None,
                None,
            ),
        ],
    ),
    "maillog.csv": (
        "maillog",
        0,
        [
            (
                "delivered",
                None,
                "ivan@example.com",
                "ml1@example.net",
                "2024-06-13T10:00:00.000Z",
                250,
                "2.0.0",
            ),
            (
                "bounced",
                None,
                "jen@example.org",
                "ml2@example.net",
                "2024-06-13T10:00:00.000Z",
                550,
                "5.1.1",
            ),
            (
                "deferred",
                None,
                "kai@example.org",
                "ml3@example.net",
                "2024-06-13T08:05:00.000Z",
                None,
                None,
            ),
        ],
    ),
}

COLUMNS = "status, raw_status, recipient, message_id, timestamp, smtp_code, enhanced_code"


def stored(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq").fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_provider_fixture_imports_to_the_documented_events(
    cli, db_path: Path, name: str
) -> None:
    fmt, skipped, events = EXPECTED[name]
    r = cli("import", DATA / name)
    assert r.exit_code == 0, r
    assert f"{len(events)} new events, 0 already present, {skipped} skipped" in r.stderr + r.stdout
    assert f"[{fmt}]" in r.stderr + r.stdout  # detected without --format
    assert stored(db_path) == events
    again = cli("import", DATA / name)  # re-importing adds nothing
    assert again.exit_code == 0, again
    assert stored(db_path) == events


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_naming_the_format_gives_the_same_events(cli, db_path: Path, name: str) -> None:
    fmt, _, events = EXPECTED[name]
    r = cli("import", "--format", fmt, DATA / name)
    assert r.exit_code == 0, r
    assert stored(db_path) == events


def test_direction_and_threading(cli, db_path: Path) -> None:
    for name in EXPECTED:
        assert cli("import", DATA / name).exit_code == 0
    with sqlite3.connect(db_path) as conn:
        inbound = conn.execute("SELECT provider, status FROM events WHERE direction = 'inbound'")
        assert inbound.fetchall() == [("cloudflare", "forwarded")]
        # one message id for every event of a message: SendGrid's three events thread
        threaded = conn.execute("SELECT event_count FROM messages WHERE message_id = 'sgmsg001'")
        assert threaded.fetchall() == [(3,)]
    conn.close()


def test_every_provider_has_a_fixture() -> None:
    covered = {fmt for fmt, _, _ in EXPECTED.values()}
    providers = {m.NAME for m in importers.all_importers()} - {"audit", "generic", "email"}
    assert providers <= covered, f"no fixture in tests/data/providers for {providers - covered}"

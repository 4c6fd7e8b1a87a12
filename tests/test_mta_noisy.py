"""Mail logs as rotation and real sessions leave them (issue 19): a rotated file that
starts mid-message with only a few mail lines among cut lines and other daemons' noise; a
Postfix queue id freed with no `removed` (the client lost the connection after DATA, or
smtpd refused its last recipient and the client quit) and then reused; Exim's rejectlog
with a folded Message-ID header and its `Envelope-to:` recipients.

Each test imports real-looking lines with the real CLI into a real SQLite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maillog_cli.importers.mta import lines
from tests.test_mta_shapes import imported, messages, of, place, stored

# --- detection of a small or noisy log ---------------------------------------------------

# A rotated mail.log.1 that begins inside a line (the rest of a delivery line), then holds
# one qmgr line, a delivery line cut short by a crash, and the kernel's noise.
NOISY = """\
ed, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9C1D2E3F4A)
Mar  1 10:00:01 mx postfix/qmgr[900]: 4F5A6B7C8D: from=<ann@example.com>, size=1523, nrcpt=1 (queue active)
Mar  1 10:00:02 mx postfix/smtp[901]: 4F5A6B7C8D: to=<bob@exa
Mar  1 10:00:03 mx kernel: [12345.678901] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex
"""


@pytest.mark.parametrize(
    "text",
    [
        NOISY,
        # one `removed` line among other daemons', journald's ISO shape
        "pp[4411]: Started Session 12 of user root.\n"
        "2026-03-01T10:00:01+00:00 mx postfix/qmgr[900]: 4F5A6B7C8D: removed\n"
        "2026-03-01T10:00:02+00:00 mx CRON[4412]: (root) CMD (run-parts /etc/cron.hourly)\n",
        # Exim through syslog, a cut first line
        "e=<ann@example.com> R=dnslookup T=remote_smtp\n"
        "Mar  1 10:00:01 mx exim[2301]: 2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 Completed\n",
    ],
)
def test_a_small_noisy_mail_log_is_read_as_one(
    cli: Any, db_path: Path, tmp_path: Path, text: str
) -> None:
    assert lines.sniff(text.encode()) in ("postfix", "exim")
    r = cli("--db", db_path, "import", place(tmp_path, "mail.log.1", text))
    assert "CSV" not in r.stderr, r
    assert "[postfix]" in r.stderr or "[exim]" in r.stderr, r


def test_the_noisy_logs_readable_facts_are_stored(cli: Any, db_path: Path, tmp_path: Path) -> None:
    r = cli("--db", db_path, "import", place(tmp_path, "mail.log.1", NOISY))
    # the cut delivery line is an error on its own line, the rest is read
    assert r.exit_code == 1 and "mail.log.1:3:" in r.stderr and "cut short" in r.stderr, r
    assert "not a mail log line" in r.stderr


def test_syslog_without_a_mail_line_names_what_was_expected(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """No format fits: the error says a mail log's lines were expected, not CSV columns."""
    text = (
        "d: Started Session 12 of user root.\n"
        "Mar  1 10:00:03 mx kernel: [12345.678901] e1000e: eth0 NIC Link is Up\n"
        "Mar  1 10:00:04 mx systemd[1]: Started Daily apt upgrade and clean activities.\n"
    )
    r = cli("--db", db_path, "import", place(tmp_path, "syslog", text))
    assert r.exit_code == 1
    assert "CSV" not in r.stderr and "syslog lines" in r.stderr and "postfix" in r.stderr, r
    assert "--format postfix" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_csv_is_still_a_csv(cli: Any, db_path: Path, tmp_path: Path) -> None:
    r = cli("--db", db_path, "import", place(tmp_path, "x.csv", "when,what\n2026-03-01,x\n"))
    assert r.exit_code == 1 and "CSV" in r.stderr and "syslog" not in r.stderr, r
    # rows that start with a time and a space, as Exim's lines do, are still a CSV's
    text = "timestamp,status,email\n" + "".join(
        f"2026-03-01 10:00:0{i} +0000,delivered,ann{i}@example.com\n" for i in range(5)
    )
    r = cli("--db", db_path, "import", place(tmp_path, "y.csv", text))
    assert r.exit_code == 0 and "5 new events" in r.stderr, r


# --- a queue id freed without `removed`, then reused -----------------------------------

# smtpd takes the message into queue file 3E4F5A6B7C, the client drops after DATA: cleanup
# deletes the file, nothing says `removed`. Later the same id names another message.
LOST_AFTER_DATA = """\
Mar 10 10:00:00 mx postfix/smtpd[3001]: connect from mail.flaky.example[203.0.113.61]
Mar 10 10:00:00 mx postfix/smtpd[3001]: 3E4F5A6B7C: client=mail.flaky.example[203.0.113.61]
Mar 10 10:00:01 mx postfix/cleanup[3002]: 3E4F5A6B7C: message-id=<lost-1@flaky.example>
Mar 10 10:00:31 mx postfix/smtpd[3001]: lost connection after DATA (0 bytes) from mail.flaky.example[203.0.113.61]
Mar 10 10:00:31 mx postfix/smtpd[3001]: disconnect from mail.flaky.example[203.0.113.61] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4
Mar 10 12:00:00 mx postfix/smtpd[3101]: 3E4F5A6B7C: client=mail.remote.example[203.0.113.9]
Mar 10 12:00:00 mx postfix/cleanup[3002]: 3E4F5A6B7C: message-id=<ok-2@remote.example>
Mar 10 12:00:00 mx postfix/qmgr[900]: 3E4F5A6B7C: from=<friend@remote.example>, size=4000, nrcpt=1 (queue active)
Mar 10 12:00:01 mx postfix/local[3102]: 3E4F5A6B7C: to=<ann@example.com>, relay=local, delay=0.9, delays=0.1/0/0/0.8, dsn=2.0.0, status=sent (delivered to mailbox)
Mar 10 12:00:01 mx postfix/qmgr[900]: 3E4F5A6B7C: removed
"""

# smtpd accepted one recipient (so made the queue file), refused the other, and the
# client quit before DATA: the file is deleted, no qmgr line, no `removed`.
REJECTED_LAST_RCPT = """\
Mar 10 10:00:00 mx postfix/smtpd[3001]: 3E4F5A6B7C: client=mail.bulk.example[203.0.113.60]
Mar 10 10:00:01 mx postfix/smtpd[3001]: 3E4F5A6B7C: reject: RCPT from mail.bulk.example[203.0.113.60]: 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table; from=<promo@bulk.example> to=<nobody@example.com> proto=ESMTP helo=<mail.bulk.example>
Mar 10 10:00:02 mx postfix/smtpd[3001]: disconnect from mail.bulk.example[203.0.113.60] ehlo=1 mail=1 rcpt=1/2 rset=1 quit=1 commands=4/5
Mar 10 12:00:00 mx postfix/smtpd[3101]: 3E4F5A6B7C: client=mail.remote.example[203.0.113.9]
Mar 10 12:00:00 mx postfix/cleanup[3002]: 3E4F5A6B7C: message-id=<ok-2@remote.example>
Mar 10 12:00:00 mx postfix/qmgr[900]: 3E4F5A6B7C: from=<friend@remote.example>, size=4000, nrcpt=1 (queue active)
Mar 10 12:00:01 mx postfix/local[3102]: 3E4F5A6B7C: to=<ann@example.com>, relay=local, delay=0.9, delays=0.1/0/0/0.8, dsn=2.0.0, status=sent (delivered to mailbox)
Mar 10 12:00:01 mx postfix/qmgr[900]: 3E4F5A6B7C: removed
"""


@pytest.mark.parametrize("log", ["lost after DATA", "last recipient rejected"])
@pytest.mark.parametrize("order", ["one file", "older first", "newer first"])
def test_a_queue_id_freed_without_removed_is_a_new_message_when_reused(
    cli: Any, db_path: Path, tmp_path: Path, order: str, log: str
) -> None:
    text = {"lost after DATA": LOST_AFTER_DATA, "last recipient rejected": REJECTED_LAST_RCPT}[log]
    split = text.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(split) if line.startswith("Mar 10 12:"))
    older = place(tmp_path, "mail.log.1", "".join(split[:cut]))
    newer = place(tmp_path, "mail.log", "".join(split[cut:]))
    files = {
        "one file": [place(tmp_path, "whole.log", text)],
        "older first": [older, newer],
        "newer first": [newer, older],
    }[order]
    for path in files:
        imported(cli, db_path, path)
    rows = stored(db_path)
    delivered = of(rows, status="delivered")[0]
    later = [r for r in rows if r["message_id"] == delivered["message_id"]]
    assert {r["sender"] for r in later} == {"friend@remote.example"}
    assert [r["status"] for r in later] == ["queued", "delivered"]
    earlier = [r for r in rows if r["message_id"] != delivered["message_id"]]
    assert earlier and {r["sender"] for r in earlier} <= {"promo@bulk.example", None}
    assert len({r["message_id"] for r in earlier}) == 1  # its own lines are one message
    assert len(messages(db_path)) == 2
    # importing everything again adds nothing
    for path in files:
        assert "0 new events" in imported(cli, db_path, path)
    assert stored(db_path) == rows


# --- Exim's rejectlog ------------------------------------------------------------------

REJECTLOG = """\
2026-03-10 08:31:00 1vBcDj-000Ff6-F6 H=mail.bad.example [203.0.113.90] P=esmtp F=<x@bad.example> rejected after DATA: This message scored 15.2 spam points.
Envelope-from: <x@bad.example>
Envelope-to: <ann@example.com>
  <bob@example.com>
P Received: from mail.bad.example ([203.0.113.90])
        by mx.example.com with esmtp (Exim 4.96)
        id 1vBcDj-000Ff6-F6;
        Tue, 10 Mar 2026 08:31:00 +0000
  Subject: Cheap pills
F From: x@bad.example
I Message-ID:
        <folded-77@bad.example>
2026-03-10 08:33:00 1vBcDk-000Ff7-G7 H=mail.bad.example [203.0.113.90] P=esmtp F=<y@bad.example> rejected after DATA: Your message contains a virus.
Envelope-from: <y@bad.example>
Envelope-to: <carol@example.com>
I Message-ID: <virus-1@bad.example>
"""


def test_exim_rejectlog_reads_a_folded_message_id_and_envelope_recipients(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, place(tmp_path, "rejectlog", REJECTLOG))
    rows = stored(db_path)
    assert [(r["status"], r["recipient"]) for r in rows] == [
        ("rejected", "ann@example.com"),
        ("rejected", "carol@example.com"),
    ]
    # a refusal is one event of one email: its other recipients are named on it
    assert rows[0]["extra"]["recipients"] == ["ann@example.com", "bob@example.com"]
    assert "recipients" not in rows[1]["extra"]
    for header_id, qid in (
        ("<folded-77@bad.example>", "1vBcDj"),
        ("<virus-1@bad.example>", "1vBcDk"),
    ):
        r = cli("--db", db_path, "show", header_id)
        assert r.exit_code == 0 and qid in r.stdout, r

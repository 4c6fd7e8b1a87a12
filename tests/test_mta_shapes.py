"""Mail-log shapes real servers write beyond the plain ones (issue 19): Exim's cutthrough,
local and blackhole deliveries, frozen messages, refusals and its lines inside syslog;
Postfix's header/body checks, hold queue, content-filter verdicts, postscreen refusals and
the syslog variants (priority, RFC 5424, Solaris tags, a year, zero-padded days); journald
entries without SYSLOG_IDENTIFIER and with byte-array fields.

The fixtures in tests/data/mta/*_shapes.* are written the way the MTAs write them (Exim's
spec, chapter "Log files"; Postfix's cleanup(8), postscreen(8), postsuper(1)); each test
imports them with the real CLI into a real SQLite file and reads the store back.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maillog_cli.importers.base import Context
from maillog_cli.importers.mta import lines, postfix
from maillog_cli.ingest import batches, forked

DATA = Path(__file__).parent / "data" / "mta"
MTIME = datetime(2026, 3, 31, tzinfo=UTC).timestamp()


def place(tmp_path: Path, name: str, text: str | None = None) -> Path:
    """A fixture (or `text`) next to the store, last written at the end of March 2026."""
    dest = tmp_path / name
    if text is None:
        shutil.copy(DATA / name, dest)
    else:
        dest.write_text(text)
    os.utime(dest, (MTIME, MTIME))
    return dest


def imported(cli: Any, db: Path, *paths: Path) -> str:
    r = cli("--db", db, "import", *paths)
    assert r.exit_code == 0, r
    return str(r.stderr)


def stored(db: Path) -> list[dict[str, Any]]:
    """Every event, its extra data read."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY timestamp, seq")]
    for row in rows:
        row["extra"] = json.loads(row["extra"]) if row["extra"] else {}
    return rows


def messages(db: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {r["message_id"]: dict(r) for r in conn.execute("SELECT * FROM messages")}


def of(rows: list[dict[str, Any]], **want: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in want.items())]


# --- Exim ------------------------------------------------------------------------------


@pytest.fixture
def exim_store(cli: Any, db_path: Path, tmp_path: Path) -> Path:
    stderr = imported(cli, db_path, place(tmp_path, "exim_shapes.log"))
    assert "[exim]" in stderr and "skipped" in stderr
    assert "without a delivery fact" not in stderr  # every line of it is a fact
    return db_path


def test_exim_cutthrough_delivery_and_completed_with_queue_time(exim_store: Path) -> None:
    rows = of(stored(exim_store), message_id="1vBcDe-000Aa1-A1")
    assert [(r["status"], r["raw_status"], r["recipient"]) for r in rows] == [
        ("queued", "queued", None),
        ("delivered", ">>", "ann@example.org"),
    ]
    assert rows[1]["smtp_code"] == 250 and rows[1]["extra"]["relay"].startswith("mx1.example.org")
    with sqlite3.connect(exim_store) as conn:  # `Completed QT=1s` ended its queue id
        ended = conn.execute("SELECT count(*) FROM mta_queue WHERE qid = ?", ("1vBcDe-000Aa1-A1",))
        assert ended.fetchone()[0] == 0 or messages(exim_store)["1vBcDe-000Aa1-A1"]


def test_exim_subject_and_authenticated_submission(exim_store: Path) -> None:
    rows, msgs = stored(exim_store), messages(exim_store)
    digest = of(rows, message_id="1vBcDe-000Aa1-A1", status="queued")[0]
    assert digest["subject"] == 'Your weekly digest: "top" stories'  # T="…" with \" inside
    assert msgs["1vBcDe-000Aa1-A1"]["subject"] == 'Your weekly digest: "top" stories'
    assert msgs["1vBcDf-000Bb2-B2"]["subject"] == "Lunch on Friday?"
    # A=login:user / A=dovecot_plain:user from a remote host: a submission, outbound;
    # the same shape without A= is mail from another server, inbound
    assert msgs["1vBcDe-000Aa1-A1"]["direction"] == "outbound"
    assert msgs["1vBcDm-000Hh8-H8"]["direction"] == "outbound"
    assert msgs["1vBcDn-000Jj9-J9"]["direction"] == "outbound"  # P=esmtpsa without A=
    assert msgs["1vBcDf-000Bb2-B2"]["direction"] == "inbound"
    assert msgs["1vBcDi-000Ee5-E5"]["direction"] == "inbound"


def test_exim_local_part_blackhole_and_acl_discard(exim_store: Path) -> None:
    rows = stored(exim_store)
    local = of(rows, message_id="1vBcDf-000Bb2-B2", raw_status="=>")[0]
    assert local["recipient"] == "bob@example.com" and local["status"] == "delivered"
    assert local["extra"]["mailbox"] == "bob" and local["direction"] == "inbound"
    hole = of(rows, message_id="1vBcDf-000Bb2-B2", raw_status=":blackhole:")[0]
    assert (hole["status"], hole["recipient"]) == ("dropped", "noreply@example.com")
    acl = of(rows, message_id="1vBcDi-000Ee5-E5", raw_status="blackhole")[0]
    assert acl["status"] == "dropped" and acl["recipient"] is None
    assert acl["diagnostic"] == "DATA ACL discarded recipients: spam score too high"
    assert messages(exim_store)["1vBcDi-000Ee5-E5"]["last_status"] == "dropped"
    assert not of(rows, recipient="blackhole") and not of(rows, recipient=":blackhole:")


def test_exim_router_failures_bounce_in_the_messages_direction(exim_store: Path) -> None:
    rows = of(stored(exim_store), message_id="1vBcDg-000Cc3-C3", status="bounced")
    assert sorted(r["recipient"] for r in rows) == ["nobody@nowhere.invalid", "typo@example.con"]
    for r in rows:
        assert r["diagnostic"] == "Unrouteable address" and r["bounce_class"] == "hard"
        assert r["direction"] == "outbound"  # a local submission's failure, not mail in
        assert r["extra"]["notice"] == "1vBcDh-000Dd4-D4"  # its bounce message (R=)


def test_exim_frozen_then_unfrozen_then_delivered(exim_store: Path) -> None:
    rows = of(stored(exim_store), message_id="1vBcDh-000Dd4-D4")
    steps = [(r["timestamp"][11:19], r["status"], r["raw_status"]) for r in rows]
    assert steps == [
        ("08:10:01", "queued", "queued"),
        ("08:10:01", "bounced", "**"),
        ("08:10:01", "deferred", "frozen"),
        ("08:40:01", "deferred", "frozen"),
        ("09:00:00", "queued", "unfrozen"),
        ("09:00:00", "delivered", "=>"),
    ]
    assert rows[2]["diagnostic"] == "delivery error message" and rows[2]["recipient"] is None
    assert messages(exim_store)["1vBcDh-000Dd4-D4"]["last_status"] == "delivered"


def test_exim_refusals_each_client_its_own_message(exim_store: Path) -> None:
    rows = stored(exim_store)
    relay = of(rows, recipient="info@example.com")
    assert len(relay) == 2 and len({r["message_id"] for r in relay}) == 2  # same second
    assert {r["extra"]["client"] for r in relay} == {
        "(spam.example) [203.0.113.80]:50412",
        "(other.example) [203.0.113.81]:50999",
    }
    for r in relay:
        assert (r["status"], r["sender"], r["diagnostic"]) == (
            "rejected",
            "bad@spam.example",
            "relay not permitted",
        )
    data = of(rows, message_id="1vBcDj-000Ff6-F6")[0]
    assert (data["status"], data["sender"], data["extra"]["stage"]) == (
        "rejected",
        "x@bad.example",
        "after DATA",
    )
    assert data["extra"]["client"] == "mail.bad.example [203.0.113.90]"
    helo = of(rows, timestamp="2026-03-10T08:32:00.000Z")[0]
    assert helo["extra"]["stage"] == "EHLO or HELO" and helo["extra"]["helo"] == "localhost"
    assert helo["diagnostic"] == "Your HELO name is not acceptable"
    syntax = of(rows, timestamp="2026-03-10T08:32:01.000Z")[0]
    assert syntax["extra"]["client"] == "[203.0.113.92]"
    assert syntax["diagnostic"].startswith("syntactically invalid argument(s)")
    grey = of(rows, recipient="z@example.com")[0]
    assert (grey["raw_status"], grey["bounce_class"]) == ("temporarily rejected", "soft")
    dropped = of(rows, recipient="old@example.com")[0]
    assert (dropped["status"], dropped["diagnostic"]) == ("dropped", "retired address")


def test_exim_lines_inside_syslog_with_and_without_exims_own_time(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    stderr = imported(cli, db_path, place(tmp_path, "exim_syslog.log"))
    assert "[exim]" in stderr and "1 skipped (1 not a mail log line)" in stderr
    rows = stored(db_path)
    assert {r["message_id"] for r in rows} == {"1vBcDk-000Gg7-G7"}
    got = [(r["timestamp"], r["status"], r["recipient"]) for r in rows]
    assert got == [
        ("2026-03-10T09:10:00.000Z", "queued", None),
        ("2026-03-10T09:10:01.000Z", "delivered", "ann@example.org"),
        ("2026-03-10T09:10:01.000Z", "delivered", "max@example.org"),
    ]
    assert rows[0]["sender"] == "ops@example.com"
    imported(cli, db_path, place(tmp_path, "exim_syslog.log"))
    assert len(stored(db_path)) == 3  # again: nothing new


# --- Postfix ---------------------------------------------------------------------------


@pytest.fixture
def postfix_store(cli: Any, db_path: Path, tmp_path: Path) -> Path:
    stderr = imported(cli, db_path, place(tmp_path, "postfix_shapes.log"))
    assert "[postfix]" in stderr
    return db_path


def test_postfix_header_and_body_checks_reject_discard_and_hold(postfix_store: Path) -> None:
    rows = stored(postfix_store)
    header = of(rows, message_id="1A2B3C4D5E")[0]
    assert (header["status"], header["sender"], header["recipient"]) == (
        "rejected",
        "promo@bulk.example",
        "ann@example.com",
    )
    assert header["enhanced_code"] == "5.7.1" and header["diagnostic"].endswith("content rejected")
    assert header["extra"]["stage"] == "header"
    assert header["extra"]["matched"] == "Subject: You have WON"
    assert header["extra"]["client"] == "mail.bulk.example[203.0.113.60]"
    body = of(rows, message_id="2B3C4D5E6F")[0]
    assert body["status"] == "rejected" and body["extra"]["stage"] == "body"
    assert "click here from the link" in body["extra"]["matched"]  # ` from ` in the text
    discard = of(rows, message_id="3C4D5E6F70")[0]
    assert (discard["status"], discard["diagnostic"]) == ("dropped", "spam flagged")
    held = of(rows, message_id="4D5E6F7081")
    assert [(r["status"], r["raw_status"]) for r in held] == [
        ("deferred", "hold"),
        ("queued", "queued"),
        ("queued", "released"),
        ("delivered", "sent"),
    ]
    assert held[0]["diagnostic"] == "review before sending"
    # the header it matched held ` from `, `;` and `for <…>`: the envelope is the last one's
    assert held[0]["extra"]["client"] == "app.example.com[198.51.100.7]"
    assert messages(postfix_store)["4D5E6F7081"]["last_status"] == "delivered"


def test_a_content_filters_verdict_is_not_a_delivery(postfix_store: Path) -> None:
    rows = stored(postfix_store)
    discarded = of(rows, message_id="5E6F708192", recipient="ann@example.com")[0]
    assert (discarded["status"], discarded["raw_status"]) == ("dropped", "discarded")
    bounced = of(rows, message_id="6F708192A3", recipient="bob@example.com")[0]
    assert (bounced["status"], bounced["raw_status"]) == ("bounced", "BOUNCE")
    for r in (discarded, bounced):
        assert r["smtp_code"] is None and r["enhanced_code"] is None  # the filter's 250
        assert r["direction"] == "inbound"  # mail from another server, kept back here
    assert not of(rows, status="delivered", message_id="5E6F708192")
    msgs = messages(postfix_store)
    assert (msgs["5E6F708192"]["last_status"], msgs["6F708192A3"]["last_status"]) == (
        "dropped",
        "bounced",
    )


def test_postscreen_refusals_in_one_second_from_two_clients_are_two_messages(
    cli: Any, postfix_store: Path, tmp_path: Path
) -> None:
    rows = of(stored(postfix_store), status="rejected", recipient="ann@example.com")
    refused = [r for r in rows if r["message_id"].startswith("noid-")]
    assert len(refused) == 3 and len({r["message_id"] for r in refused}) == 3
    screened = [r for r in refused if r["extra"]["client"].startswith("[203.0.113.7")]
    assert {r["extra"]["client"] for r in screened} == {
        "[203.0.113.70]:51234",
        "[203.0.113.71]:40000",
    }
    assert all(r["sender"] == "x@spam.example" and r["smtp_code"] == 550 for r in screened)
    before = stored(postfix_store)
    imported(cli, postfix_store, place(tmp_path, "postfix_shapes.log"))
    assert stored(postfix_store) == before  # the same lines again: the same messages


def test_the_non_delivery_notice_is_noted_on_the_bounce(postfix_store: Path) -> None:
    bounce = of(stored(postfix_store), message_id="708192A3B4", status="bounced")[0]
    assert bounce["extra"]["notice"] == "8192A3B4C5"
    assert bounce["bounce_reason"] == "user_unknown"


def test_local_forwarding_discard_agent_and_soft_bounce(postfix_store: Path) -> None:
    """local(8) `forwarded as QID` re-queues the same email (one message, the hop is not a
    delivery); discard(8)'s `status=sent` is a drop; soft_bounce's SOFTBOUNCE a retry."""
    rows = stored(postfix_store)
    assert not of(rows, message_id="C2D3E4F5A6")
    mine = of(rows, message_id="B1C2D3E4F5")
    hop = of(mine, recipient="sales@example.com")[0]
    assert (hop["status"], hop["raw_status"]) == ("queued", "sent")
    assert hop["extra"]["requeued_as"] == "C2D3E4F5A6"
    trap = of(mine, recipient="trap@example.com")[0]
    assert (trap["status"], trap["raw_status"], trap["direction"]) == (
        "dropped",
        "discarded",
        "inbound",
    )
    out = of(mine, recipient="lee@example.net")
    assert [(r["status"], r["raw_status"]) for r in out] == [
        ("deferred", "SOFTBOUNCE"),
        ("delivered", "sent"),
    ]
    assert out[0]["extra"]["orig_to"] == "sales@example.com"
    assert messages(postfix_store)["B1C2D3E4F5"]["last_status"] == "delivered"


AMAVIS_OLD_STYLE = """\
Mar 10 14:00:00 mx postfix/smtpd[5001]: 9A0B1C2D3E: client=app.example.com[198.51.100.7], sasl_method=PLAIN, sasl_username=app
Mar 10 14:00:00 mx postfix/cleanup[5002]: 9A0B1C2D3E: message-id=<old-amavis@app.example.com>
Mar 10 14:00:00 mx postfix/qmgr[900]: 9A0B1C2D3E: from=<app@example.com>, size=1000, nrcpt=1 (queue active)
Mar 10 14:00:01 mx postfix/smtpd[5003]: A0B1C2D3E4: client=localhost[127.0.0.1]
Mar 10 14:00:01 mx postfix/cleanup[5002]: A0B1C2D3E4: message-id=<old-amavis@app.example.com>
Mar 10 14:00:01 mx postfix/qmgr[900]: A0B1C2D3E4: from=<app@example.com>, size=1400, nrcpt=1 (queue active)
Mar 10 14:00:01 mx postfix/smtp[5004]: 9A0B1C2D3E: to=<ann@example.org>, relay=[127.0.0.1]:10024, delay=1, delays=0.1/0/0/0.9, dsn=2.0.0, status=sent (250 2.0.0 Ok, id=01234-01, from MTA([127.0.0.1]:10025): 250 2.0.0 Ok: queued as A0B1C2D3E4)
Mar 10 14:00:01 mx postfix/qmgr[900]: 9A0B1C2D3E: removed
Mar 10 14:00:02 mx postfix/smtp[5005]: A0B1C2D3E4: to=<ann@example.org>, relay=mx.example.org[192.0.2.10]:25, delay=0.5, delays=0/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1234ABCD)
Mar 10 14:00:02 mx postfix/qmgr[900]: A0B1C2D3E4: removed
"""


def test_a_content_filters_older_reply_still_links_the_requeued_id(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, place(tmp_path, "amavis_old.log", AMAVIS_OLD_STYLE))
    rows = stored(db_path)
    assert {r["message_id"] for r in rows} == {"9A0B1C2D3E"}
    delivered = of(rows, status="delivered")
    assert [r["recipient"] for r in delivered] == ["ann@example.org"]
    assert delivered[0]["extra"]["queue_id"] == "A0B1C2D3E4"
    hop = of(rows, raw_status="sent", status="queued")[0]
    assert hop["extra"]["requeued_as"] == "A0B1C2D3E4"


# One message written by each syslog shape: `{stamp}` is the time, `{pid}` the process.
SYSLOG_MESSAGE = [
    ("10:00:01", "postfix/smtpd", "3001", "4F5A6B7C8D: client=app.example.com[198.51.100.7]"),
    ("10:00:01", "postfix/cleanup", "3002", "4F5A6B7C8D: message-id=<shape@app.example.com>"),
    (
        "10:00:01",
        "postfix/qmgr",
        "900",
        "4F5A6B7C8D: from=<app@example.com>, size=900, nrcpt=1 (queue active)",
    ),
    (
        "10:00:02",
        "postfix/smtp",
        "3003",
        "4F5A6B7C8D: to=<ann@example.org>, relay=mx.example.org[192.0.2.10]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
    ),
    ("10:00:02", "postfix/qmgr", "900", "4F5A6B7C8D: removed"),
    (
        "10:00:03",
        "postfix/postscreen",
        "3004",
        "NOQUEUE: reject: RCPT from [203.0.113.70]:51234: 550 5.7.1 Service unavailable; client [203.0.113.70] blocked using zen.spamhaus.org; from=<x@spam.example>, to=<ann@example.com>, proto=ESMTP, helo=<spam.example>",
    ),
]
SYSLOG_SHAPES = {
    "traditional, day padded with a space": "Mar  1 {t} mx {prog}[{pid}]: {msg}",
    "day padded with a zero": "Mar 01 {t} mx {prog}[{pid}]: {msg}",
    "a priority first": "<22>Mar  1 {t} mx {prog}[{pid}]: {msg}",
    "Solaris's message tag": "Mar  1 {t} mx {prog}[{pid}]: [ID 197553 mail.info] {msg}",
    "a year first": "2026 Mar  1 {t} mx {prog}[{pid}]: {msg}",
    "RFC 5424": "<22>1 2026-03-01T{t}.000Z mx {prog} {pid} - - {msg}",
    "RFC 5424 with structured data": '<22>1 2026-03-01T{t}Z mx {prog} {pid} - [timeQuality tzKnown="1" isSynced="1"] {msg}',
    "RFC 3339 after a priority": "<22>2026-03-01T{t}+00:00 mx {prog}[{pid}]: {msg}",
    "journalctl -o short-iso": "2026-03-01T{t}+0000 mx {prog}[{pid}]: {msg}",
    "journalctl -o short-unix": "{unix}.000000 mx {prog}[{pid}]: {msg}",
    "journalctl -o short-full": "Sun 2026-03-01 {t} UTC mx {prog}[{pid}]: {msg}",
    "journalctl -o short-full, CET": "Sun 2026-03-01 {t1} CET mx {prog}[{pid}]: {msg}",
    # rsyslog/syslog-ng templates writing ISO times with a space (Exim's mainlog time shape)
    "ISO time with a space": "2026-03-01 {t} mx {prog}[{pid}]: {msg}",
    "ISO time with a space, fraction, offset": "2026-03-01 {t}.000000+00:00 mx {prog}[{pid}]: {msg}",
    "ISO time with a space, milliseconds, spaced offset": "2026-03-01 {t1}.000 +0100 mx {prog}[{pid}]: {msg}",
}


def syslog_text(shape: str) -> str:
    def unix(t: str) -> int:
        return int(datetime.fromisoformat(f"2026-03-01T{t}+00:00").timestamp())

    return "".join(
        shape.format(
            t=t, t1=f"{int(t[:2]) + 1:02d}{t[2:]}", prog=prog, pid=pid, msg=msg, unix=unix(t)
        )
        + "\n"
        for t, prog, pid, msg in SYSLOG_MESSAGE
    )


def summary(db: Path) -> list[tuple[Any, ...]]:
    """What the shape must not change: each event's message, time, status and people."""
    return [
        (r["message_id"], r["timestamp"], r["status"], r["sender"], r["recipient"])
        for r in stored(db)
    ]


@pytest.mark.parametrize("name", sorted(SYSLOG_SHAPES))
def test_every_syslog_shape_gives_the_same_messages(cli: Any, tmp_path: Path, name: str) -> None:
    want_db, got_db = tmp_path / "want.db", tmp_path / "got.db"
    base = SYSLOG_SHAPES["traditional, day padded with a space"]
    imported(cli, want_db, place(tmp_path, "base.log", syslog_text(base)))
    stderr = imported(cli, got_db, place(tmp_path, "shape.log", syslog_text(SYSLOG_SHAPES[name])))
    assert "[postfix]" in stderr and "error" not in stderr.lower(), stderr
    got = summary(got_db)
    assert got == summary(want_db)
    assert [g[1] for g in got] == [
        "2026-03-01T10:00:01.000Z",
        "2026-03-01T10:00:02.000Z",
        "2026-03-01T10:00:03.000Z",
    ]
    assert {g[0] for g in got[:2]} == {"4F5A6B7C8D"}


@pytest.mark.parametrize("name", sorted(SYSLOG_SHAPES))
def test_the_line_loop_reads_each_syslog_shape_as_the_general_parser_does(name: str) -> None:
    """The fast path (`_FAST`) and the general one agree, line by line."""
    import io

    ctx = Context()
    clock = lines.Clock(lines.YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None), None)
    text = syslog_text(SYSLOG_SHAPES[name])
    looped = [
        fact
        for _, fact, _ in postfix.read_lines(
            io.BytesIO(text.encode()), ctx, datetime(2026, 3, 31, tzinfo=UTC)
        )
    ]
    general = [postfix.parse_line(line, clock, ctx) for line in text.splitlines()]
    assert looped == general
    assert [f.kind for f in general] == ["client", "msgid", "qmgr", "delivery", "removed", "reject"]


# --- journald --------------------------------------------------------------------------


def test_journald_entries_by_comm_only_and_byte_array_fields(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    stderr = imported(cli, db_path, place(tmp_path, "journald_shapes.json"))
    assert "[journald]" in stderr and "2 skipped (2 not a mail log line)" in stderr
    rows = stored(db_path)
    postfix_rows = of(rows, message_id="5A6B7C8D9E")
    assert [(r["timestamp"], r["status"]) for r in postfix_rows] == [
        ("2026-03-12T09:00:00.100Z", "queued"),  # __REALTIME_TIMESTAMP, in microseconds
        ("2026-03-12T09:00:01.300Z", "delivered"),
    ]
    # _COMM `cleanup` of postfix@-.service, its MESSAGE a byte array: the Message-ID is read
    with sqlite3.connect(db_path) as conn:
        aliases = {a for (a,) in conn.execute("SELECT alias FROM message_aliases")}
    assert "j-1@app.example.com" in {a.strip("<>") for a in aliases}
    # a MESSAGE that is not UTF-8 (Latin-1 é) is read byte for byte, nothing replaced
    assert postfix_rows[1]["recipient"] == "josé@example.org"
    assert (
        postfix_rows[0]["direction"] == "outbound"
        and postfix_rows[0]["sender"] == "app@example.com"
    )
    exim_rows = of(rows, message_id="1vCdEf-000Ii9-I9")
    assert [(r["timestamp"], r["status"]) for r in exim_rows] == [
        ("2026-03-12T09:00:02.000Z", "queued"),  # Exim's own time in MESSAGE
        ("2026-03-12T09:00:03.000Z", "delivered"),
    ]
    # `smtp` of another unit is not Postfix's
    assert not of(rows, diagnostic="sent a thing")


# --- invariants ------------------------------------------------------------------------

TABLES = {
    "events": "SELECT * FROM events ORDER BY seq",
    "messages": "SELECT * FROM messages ORDER BY message_id",
    "aliases": "SELECT * FROM message_aliases ORDER BY alias",
    "mta_queue": "SELECT * FROM mta_queue ORDER BY id",
}


@pytest.mark.parametrize(
    "name", ["exim_shapes.log", "exim_rejectlog", "postfix_shapes.log", "journald_shapes.json"]
)
def test_forked_split_and_repeated_imports_give_the_same_store(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Rotated in the middle of messages, the newer half first, then again: in-process and
    in the forked parser alike, the same store as the whole file once."""
    text = (DATA / name).read_text().splitlines(keepends=True)
    cut = len(text) // 2
    older = place(tmp_path, name + ".1", "".join(text[:cut]))
    newer = place(tmp_path, name, "".join(text[cut:]))
    whole = place(tmp_path, "whole-" + name, "".join(text))
    monkeypatch.setattr(batches, "BATCH", 4)  # batch boundaries inside messages
    stores = {}
    for mode in ("in-process", "forked"):
        monkeypatch.setattr(forked, "wanted", lambda source, mode=mode: mode != "in-process")
        db = tmp_path / f"{mode}.db"
        for path in (newer, older, newer):
            imported(cli, db, path)
        with sqlite3.connect(db) as conn:
            stores[mode] = {t: conn.execute(sql).fetchall() for t, sql in TABLES.items()}
    assert stores["forked"] == stores["in-process"]
    once = tmp_path / "once.db"
    imported(cli, once, whole)
    assert sorted(summary(once), key=repr) == sorted(summary(tmp_path / "in-process.db"), key=repr)


LINE_FACTS = [
    (
        "Mar  1 10:00:01 mx postfix/cleanup[1]: 3F1A2B4C5D: milter-hold: END-OF-MESSAGE from"
        " mail.example[192.0.2.1]: milter triggers HOLD action; from=<a@example.com>"
        " to=<b@example.org> proto=ESMTP helo=<mail.example>",
        ("hold", "3F1A2B4C5D"),
        {"status": "hold", "stage": "END-OF-MESSAGE", "reply": "milter triggers HOLD action"},
    ),
    (
        "Mar  1 10:00:01 mx postfix/cleanup[1]: 3F1A2B4C5D: milter-discard: END-OF-MESSAGE from"
        " mail.example[192.0.2.1]: milter triggers DISCARD action; from=<a@example.com>"
        " to=<b@example.org> proto=ESMTP helo=<mail.example>",
        ("discard", "3F1A2B4C5D"),
        {"to": "b@example.org", "client": "mail.example[192.0.2.1]"},
    ),
    (
        "Mar  1 10:00:01 mx postfix/smtpd[1]: 3F1A2B4C5D: hold: RCPT from mail.example[192.0.2.1]:"
        " <b@example.org>: Recipient address triggers HOLD action; from=<a@example.com>"
        " to=<b@example.org> proto=ESMTP helo=<mail.example>",
        ("hold", "3F1A2B4C5D"),
        {"status": "hold", "stage": "RCPT"},
    ),
    (
        "Mar  1 10:00:01 mx postfix/postsuper[1]: 3F1A2B4C5D: placed on hold",
        ("hold", "3F1A2B4C5D"),
        {"status": "hold"},
    ),
    (
        "Mar  1 10:00:01 mx postfix/cleanup[1]: 3F1A2B4C5D: reject: body hello from local;"
        " from=<a@example.com> to=<b@example.org>: 5.7.1 no",
        ("reject", "3F1A2B4C5D"),
        {"client": "local", "matched": "hello", "reply": "5.7.1 no", "stage": "body"},
    ),
    (
        "Mar  1 10:00:01 mx postfix/postscreen[1]: NOQUEUE: reject: CONNECT from"
        " [192.0.2.1]:4444: too many connections",
        ("reject", None),
        {"client": "[192.0.2.1]:4444", "stage": "CONNECT"},
    ),
    (
        "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 frozen by root",
        ("hold", "1vAbCd-000XyZ-Q1"),
        {"status": "frozen", "reply": "by root"},
    ),
    (
        "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 Unfrozen by errmsg timer",
        ("hold", "1vAbCd-000XyZ-Q1"),
        {"status": "unfrozen", "reply": "by errmsg timer"},
    ),
    (
        "2026-03-01 10:00:01 H=(x) [192.0.2.1] F=<a@b.example> rejected MAIL <a@b.example>:"
        " sender verify failed",
        ("reject", None),
        {"from": "a@b.example", "to": None, "stage": "MAIL", "client": "(x) [192.0.2.1]"},
    ),
    (
        '2026-03-01 10:00:01 H=[192.0.2.1] rejected connection in "connect" ACL: listed',
        ("reject", None),
        {"stage": "connection", "reply": 'in "connect" ACL: listed'},
    ),
    (
        "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 => /var/mail/bob <bob@example.com> R=localuser"
        " T=mail_spool",
        ("delivery", "1vAbCd-000XyZ-Q1"),
        {"to": "bob@example.com", "mailbox": "/var/mail/bob", "orig_to": None},
    ),
    (
        "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 -> bob@example.com <postmaster@example.com>"
        " R=aliases T=local_delivery",
        ("delivery", "1vAbCd-000XyZ-Q1"),
        {"to": "bob@example.com", "orig_to": "postmaster@example.com", "mailbox": None},
    ),
    (
        "<13>1 2026-03-01T10:00:01.5+01:00 mx postfix/qmgr - - - 3F1A2B4C5D: removed",
        ("removed", "3F1A2B4C5D"),
        {},
    ),
    (
        "<13>1 2026-03-01T10:00:01Z mx exim 12 - - 1vAbCd-000XyZ-Q1 Completed",
        ("removed", "1vAbCd-000XyZ-Q1"),
        {},
    ),
]


@pytest.mark.parametrize(("line", "what", "fields"), LINE_FACTS)
def test_line_shapes(line: str, what: tuple[str, str | None], fields: dict[str, Any]) -> None:
    clock = lines.Clock(lines.YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None), None)
    fact = postfix.parse_line(line, clock, Context())
    assert isinstance(fact, lines.MtaLine), fact
    assert (fact.kind, fact.qid) == what
    assert {k: fact.fields.get(k) for k in fields} == fields


def test_summaries_warnings_and_connection_lines_are_not_facts() -> None:
    clock = lines.Clock(lines.YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None), None)
    for line in (
        "Mar  1 10:00:01 mx postfix/postsuper[1]: Placed on hold: 1 message",
        "Mar  1 10:00:01 mx postfix/cleanup[1]: 3F1A2B4C5D: warning: header Subject: hi from"
        " local; from=<a@example.com> to=<b@example.org>",
        "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 H=mx.example.org [192.0.2.1] Connection refused",
    ):
        assert not isinstance(postfix.parse_line(line, clock, Context()), lines.MtaLine), line


def test_exims_rejectlog_is_read_its_header_dumps_skipped_and_its_refusals_not_doubled(
    cli: Any, exim_store: Path, tmp_path: Path
) -> None:
    """Exim writes each refusal to the mainlog and the rejectlog (after DATA, with the
    message's headers): importing both keeps one event per refusal."""
    before = stored(exim_store)
    stderr = imported(cli, exim_store, place(tmp_path, "exim_rejectlog"))
    assert "[exim]" in stderr and "12 skipped (12 exim rejectlog header line)" in stderr
    assert "0 new events, 3 already present" in stderr
    assert stored(exim_store) == before
    # the Message-ID among the dumped headers finds the refused message, read in any order
    for db in (exim_store, tmp_path / "alone.db"):
        if db != exim_store:
            imported(cli, db, place(tmp_path, "exim_rejectlog"))
        r = cli("--db", db, "show", "<spam-77@bad.example>")
        assert r.exit_code == 0 and "1vBcDj-000Ff6-F6" in r.stdout, r
    alone = tmp_path / "alone.db"
    assert [(r["status"], r["message_id"][:5]) for r in stored(alone)] == [
        ("rejected", "noid-"),
        ("rejected", "1vBcD"),
        ("rejected", "noid-"),
    ]


def test_a_zone_named_by_its_abbreviation_is_placed_when_it_has_one_meaning() -> None:
    """`-o short-full` names the zone: an abbreviation with one meaning (CET, EST, JST) is
    its offset whatever --tz says; an ambiguous one (IST: India, Ireland, Israel) is read in
    --tz like a zone-less time; UTC/GMT and numeric offsets are used as written."""
    from zoneinfo import ZoneInfo

    years = lines.YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None)
    line = "Sun 2026-03-01 10:00:01 {} mx postfix/qmgr[900]: 4F5A6B7C8D: removed"
    for tz, zone, want in (
        ("Europe/Paris", "CET", "2026-03-01T09:00:01"),
        ("Asia/Tokyo", "CET", "2026-03-01T09:00:01"),
        ("Europe/Paris", "EST", "2026-03-01T15:00:01"),
        ("Europe/Paris", "JST", "2026-03-01T01:00:01"),
        ("Asia/Kolkata", "IST", "2026-03-01T04:30:01"),
        ("Europe/Paris", "UTC", "2026-03-01T10:00:01"),
        ("Europe/Paris", "+0200", "2026-03-01T08:00:01"),
    ):
        prefix = lines.split_syslog(line.format(zone), lines.Clock(years, ZoneInfo(tz)))
        assert prefix is not None and prefix.timestamp == f"{want}.000Z", (tz, zone)


def test_journalctl_json_seq_reads_as_json_lines(cli: Any, tmp_path: Path) -> None:
    """`journalctl -o json-seq` (RFC 7464: a record separator before each entry) gives the
    same store as `-o json`."""
    entries = (DATA / "journald_shapes.json").read_text().splitlines(keepends=True)
    seq = place(tmp_path, "journal.seq", "".join("\x1e" + e for e in entries))
    plain, sequenced = tmp_path / "plain.db", tmp_path / "seq.db"
    imported(cli, plain, place(tmp_path, "journald_shapes.json"))
    assert "[journald]" in imported(cli, sequenced, seq)
    assert summary(sequenced) == summary(plain) and len(summary(plain)) == 4


REUSED_AFTER_REJECT = """\
Mar 10 10:00:00 mx postfix/smtpd[3001]: 1A2B3C4D5E: client=mail.bulk.example[203.0.113.60]
Mar 10 10:00:01 mx postfix/cleanup[3002]: 1A2B3C4D5E: reject: header Subject: You have WON from mail.bulk.example[203.0.113.60]; from=<promo@bulk.example> to=<ann@example.com> proto=ESMTP helo=<mail.bulk.example>: 5.7.1 Message content rejected
Mar 10 12:00:00 mx postfix/smtpd[3101]: 1A2B3C4D5E: client=mail.remote.example[203.0.113.9]
Mar 10 12:00:00 mx postfix/cleanup[3002]: 1A2B3C4D5E: message-id=<ok-2@remote.example>
Mar 10 12:00:00 mx postfix/qmgr[900]: 1A2B3C4D5E: from=<friend@remote.example>, size=4000, nrcpt=1 (queue active)
Mar 10 12:00:01 mx postfix/local[3102]: 1A2B3C4D5E: to=<ann@example.com>, relay=local, delay=0.9, delays=0.1/0/0/0.8, dsn=2.0.0, status=sent (delivered to mailbox)
Mar 10 12:00:01 mx postfix/qmgr[900]: 1A2B3C4D5E: removed
"""


@pytest.mark.parametrize("order", ["one file", "older first", "newer first"])
def test_a_queue_id_freed_by_cleanups_reject_is_a_new_message_when_reused(
    cli: Any, db_path: Path, tmp_path: Path, order: str
) -> None:
    """cleanup's reject ends the message without qmgr's `removed`: the queue id's next
    message is another one, in whatever order the lines are read."""
    text = REUSED_AFTER_REJECT.splitlines(keepends=True)
    older = place(tmp_path, "mail.log.1", "".join(text[:2]))
    newer = place(tmp_path, "mail.log", "".join(text[2:]))
    files = {
        "one file": [place(tmp_path, "whole.log", REUSED_AFTER_REJECT)],
        "older first": [older, newer],
        "newer first": [newer, older],
    }[order]
    for path in files:
        imported(cli, db_path, path)
    rows = stored(db_path)
    by_message: dict[str, list[str]] = {}
    for r in rows:
        by_message.setdefault(r["message_id"], []).append(r["status"])
    assert sorted(by_message.values()) == [["queued", "delivered"], ["rejected"]]
    rejected = of(rows, status="rejected")[0]
    assert of(rows, message_id=rejected["message_id"])[0]["sender"] == "promo@bulk.example"
    assert {r["sender"] for r in rows if r["status"] != "rejected"} == {"friend@remote.example"}
    for path in files:  # again: nothing new, and the two stay apart (no alias joins them)
        assert "0 new events" in imported(cli, db_path, path)
    assert stored(db_path) == rows


def test_a_remote_servers_text_saying_rejected_is_not_a_refusal_here() -> None:
    clock = lines.Clock(lines.YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None), None)
    line = (
        "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 H=mx.example.net [192.0.2.20]: SMTP error from"
        " remote mail server after end of data: 550 Message rejected due to content"
    )
    assert not isinstance(postfix.parse_line(line, clock, Context()), lines.MtaLine)


def test_tail_import_follows_a_growing_json_seq_journal(tmp_path: Path, db_path: Path) -> None:
    """`journalctl -o json-seq -f > journal; maillog tail -F --import journal`: each entry
    behind its record separator is read, none reported as unreadable."""
    from maillog_cli import follow as core
    from maillog_cli.store.db import Store
    from maillog_cli.store.query import build

    entries = ["\x1e" + e for e in (DATA / "journald_shapes.json").read_text().splitlines(True)]
    log = tmp_path / "journal.seq"
    log.write_text("".join(entries[:3]))
    store = Store.open(db_path)
    notices: list[str] = []
    growing = core.GrowingFile(log, from_start=True, notice=notices.append)
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        if rounds["n"] == 2:
            with log.open("a") as f:
                f.write("".join(entries[3:]))
        return rounds["n"] > 3

    rows = list(
        core.follow(store, build(), 0, growing, report=notices.append, interval=0.01, stop=stop)
    )
    growing.close()
    store.close()
    assert not [n for n in notices if "invalid JSON" in n or "not" in n], notices
    got = {(r["message_id"], r["status"]) for r in rows}
    assert ("5A6B7C8D9E", "delivered") in got and ("1vCdEf-000Ii9-I9", "delivered") in got

"""Mail servers' own logs (issue 19): Postfix syslog / RFC 3339 / journald and Exim's
mainlog, correlated by queue id through the state kept in the store.

Every test imports the fixtures in tests/data/mta/ (lines written the way Postfix and
Exim write them) with the real CLI into a real SQLite file and reads back what a user
would: search/show/stats output, and the store's rows.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

DATA = Path(__file__).parent / "data" / "mta"


def events(cli: Any, db: Path, *filters: str) -> list[dict[str, Any]]:
    r = cli("--db", db, "search", "--limit", "0", "--format", "jsonl", *filters)
    assert r.exit_code == 0, r
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def imported(cli: Any, db: Path, *args: str | Path, code: int = 0) -> Any:
    r = cli("--db", db, "import", *args)
    assert r.exit_code == code, r
    return r


def copy(name: str, tmp_path: Path, mtime: datetime | None = None) -> Path:
    """A fixture copied next to the store, its last write at `mtime` (the year's reference)."""
    dest = tmp_path / name
    shutil.copy(DATA / name, dest)
    when = (mtime or datetime(2026, 3, 31, tzinfo=UTC)).timestamp()
    os.utime(dest, (when, when))
    return dest


def by(rows: list[dict[str, Any]], **want: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in want.items())]


def test_a_multi_recipient_message_with_mixed_outcomes_is_one_message(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    r = imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    assert "[postfix]" in r.stderr and "not a mail log line" in r.stderr
    rows = events(cli, db_path, "--message-id", "3F1A2B4C5D")
    got = sorted((e["status"], e["recipient"], e["timestamp"][:19]) for e in rows)
    assert got == [
        ("bounced", "bob@example.net", "2026-03-01T10:00:02"),
        ("deferred", "cy@example.com", "2026-03-01T10:00:03"),
        ("delivered", "ann@example.org", "2026-03-01T10:00:02"),
        ("delivered", "cy@example.com", "2026-03-01T14:00:04"),  # the retry, hours later
        ("queued", None, "2026-03-01T10:00:01"),
    ]
    assert {e["sender"] for e in rows} == {"news@app.example.com"}
    bounce = by(rows, status="bounced")[0]
    assert (bounce["smtp_code"], bounce["enhanced_code"]) == (550, "5.1.1")
    assert bounce["bounce_class"] == "hard" and bounce["bounce_reason"] == "user_unknown"
    assert "User unknown in virtual mailbox table" in bounce["diagnostic"]
    assert by(rows, status="deferred")[0]["bounce_class"] == "soft"
    assert by(rows, status="delivered", recipient="ann@example.org")[0]["raw_status"] == "sent"
    # the output shape is the contract's: no extra keys
    assert set(rows[0]) == set(json.loads(json.dumps(rows[0])))
    assert len(rows[0]) == 15


def test_relay_delays_and_dsn_are_kept_and_the_message_has_its_facts(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    conn = sqlite3.connect(db_path)
    extra = json.loads(
        conn.execute(
            "SELECT extra FROM events WHERE message_id = '3F1A2B4C5D' AND recipient = 'ann@example.org'"
        ).fetchone()[0]
    )
    assert extra["relay"] == "mx1.example.org[192.0.2.10]:25"
    assert extra["delays"] == "0.1/0.01/0.5/0.49" and extra["delay"] == "1.1"
    assert extra["dsn"] == "2.0.0" and "program" not in extra  # smtp: direction says it
    size, sender, status = conn.execute(
        "SELECT size, sender, last_status FROM messages WHERE message_id = '3F1A2B4C5D'"
    ).fetchone()
    assert (size, sender, status) == (4211, "news@app.example.com", "delivered")
    conn.close()


def test_show_finds_the_message_by_queue_id_and_by_message_id(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    by_qid = cli("--db", db_path, "show", "3F1A2B4C5D", "--format", "json")
    by_mid = cli("--db", db_path, "show", "<20260301.abc@app.example.com>", "--format", "json")
    assert by_qid.exit_code == 0 and by_mid.exit_code == 0, (by_qid, by_mid)
    assert by_qid.stdout == by_mid.stdout
    assert "bob@example.net" in by_qid.stdout


def test_noqueue_rejects_are_inbound_rejected_events_with_the_reply(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    rejects = events(cli, db_path, "--status", "rejected")
    assert sorted((e["recipient"], e["sender"], e["smtp_code"]) for e in rejects) == [
        ("info@example.com", "y@spam.test", 450),
        ("spam@example.com", "x@spam.test", 554),
    ]
    assert {e["direction"] for e in rejects} == {"inbound"}
    # refused before a queue id: each its own message, under the house's synthetic id
    assert len({e["message_id"] for e in rejects}) == 2
    assert all(e["message_id"].startswith("noid-") for e in rejects)
    assert any("Relay access denied" in e["diagnostic"] for e in rejects)


def test_importing_the_same_lines_twice_adds_nothing(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    path = copy("postfix_mixed.log", tmp_path)
    imported(cli, db_path, path)
    before = events(cli, db_path)
    again = imported(cli, db_path, path)
    assert "0 new events" in again.stderr
    assert events(cli, db_path) == before


@pytest.mark.parametrize("order", ["old-first", "new-first", "separately-new-first", "together"])
def test_a_rotation_in_the_middle_of_a_message_is_one_message(
    cli: Any, db_path: Path, tmp_path: Path, order: str
) -> None:
    old, new = copy("rotated.log.1", tmp_path), copy("rotated.log", tmp_path)
    gz = tmp_path / "rotated.log.1.gz"
    gz.write_bytes(gzip.compress(old.read_bytes()))
    os.utime(gz, (old.stat().st_mtime, old.stat().st_mtime))
    if order == "old-first":
        imported(cli, db_path, gz)
        imported(cli, db_path, new)
    elif order == "new-first":
        imported(cli, db_path, new, gz)
    elif order == "separately-new-first":
        imported(cli, db_path, new)
        imported(cli, db_path, old)
    else:
        imported(cli, db_path, old, new)
    rows = events(cli, db_path)
    assert {e["message_id"] for e in rows} == {"4C5D6E7F80"}
    assert sorted((e["status"], e["recipient"]) for e in rows) == [
        ("deferred", "ed@example.com"),
        ("delivered", "dora@example.org"),
        ("delivered", "ed@example.com"),
        ("queued", None),
    ]
    # the sender the older file told reaches the newer file's events, whatever the order
    assert {e["sender"] for e in rows} == {"billing@app.example.com"}
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    assert conn.execute(
        "SELECT last_status, size FROM messages WHERE message_id = '4C5D6E7F80'"
    ).fetchone() == ("delivered", 9000)
    # one message (read new-first, the older part is a reach-back row of the same message)
    assert conn.execute("SELECT count(DISTINCT message_id) FROM mta_queue").fetchone()[0] == 1
    conn.close()


def test_a_reused_short_queue_id_is_two_messages(cli: Any, db_path: Path, tmp_path: Path) -> None:
    imported(cli, db_path, copy("reused.log", tmp_path))
    rows = events(cli, db_path)
    ids = {e["message_id"] for e in rows}
    assert len(ids) == 2 and "2B3C4D5E6F" in ids
    first = by(rows, message_id="2B3C4D5E6F")
    (second_id,) = ids - {"2B3C4D5E6F"}
    second = by(rows, message_id=second_id)
    assert {e["recipient"] for e in first} == {None, "gil@example.org"}
    assert {e["recipient"] for e in second} == {None, "hal@example.net"}
    assert {e["sender"] for e in second} == {"b@app.example.com"}
    assert by(second, status="bounced")[0]["bounce_class"] == "block"
    shown = cli("--db", db_path, "show", "second@app.example.com", "--format", "json")
    assert shown.exit_code == 0 and "hal@example.net" in shown.stdout
    assert "gil@example.org" not in shown.stdout


def test_an_expired_message_bounces_its_deferred_recipients_and_notes_the_notice(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, copy("expired.log", tmp_path))
    rows = events(cli, db_path, "--message-id", "6A7B8C9D0E")
    final = by(rows, raw_status="expired")
    assert len(final) == 1
    assert final[0]["status"] == "bounced" and final[0]["recipient"] == "fay@dead.example"
    assert "Connection refused" in final[0]["diagnostic"]
    assert final[0]["bounce_class"] == "soft"
    conn = sqlite3.connect(db_path)
    assert conn.execute(
        "SELECT last_status FROM messages WHERE message_id = '6A7B8C9D0E'"
    ).fetchone() == ("bounced",)
    notice = conn.execute(
        "SELECT json_extract(extra, '$.notice') FROM events WHERE raw_status = 'expired'"
    ).fetchone()
    assert notice == ("7B8C9D0E1F",)
    conn.close()


def test_rfc3339_stamps_long_queue_ids_truncated_lines_and_noise(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    path = copy("rfc3339_long.log", tmp_path)
    r = imported(cli, db_path, path, code=1)
    assert f"{path}:6: delivery line without status=" in r.stderr
    assert f"{path}:7: cut short" in r.stderr
    assert "Traceback" not in r.stderr
    assert "1 not a mail log line" in r.stderr  # the kernel line is ignored, not an error
    rows = events(cli, db_path)
    assert {e["message_id"] for e in rows} == {"4Fq7Nm2XyBz8vK1"}
    delivered = by(rows, status="delivered")[0]
    assert delivered["timestamp"] == "2026-03-07T11:00:00.423Z"  # +01:00 read, ms kept
    assert delivered["recipient"] == "jo@example.com" and delivered["direction"] == "inbound"
    shown = cli("--db", db_path, "show", "CAF=ab12@mail.example.net", "--format", "json")
    assert shown.exit_code == 0 and "jo@example.com" in shown.stdout


def test_a_journald_dump_is_read_from_stdin(cli: Any, db_path: Path) -> None:
    r = cli("--db", db_path, "import", "-", input=(DATA / "journald.json").read_bytes())
    assert r.exit_code == 0, r
    assert "2 not a mail log line" in r.stderr
    rows = events(cli, db_path)
    assert {e["message_id"] for e in rows} == {"8E9F0A1B2C"}
    assert {e["provider"] for e in rows} == {"postfix"}
    bounce = by(rows, status="bounced")[0]
    assert bounce["timestamp"] == "2026-03-10T08:00:02.600Z"
    assert bounce["bounce_reason"] == "mailbox_full"
    assert bounce["sender"] == "reports@app.example.com"


def test_exim_mainlog_is_correlated_by_message_id(cli: Any, db_path: Path, tmp_path: Path) -> None:
    r = imported(cli, db_path, copy("exim_mainlog", tmp_path))
    assert "[exim]" in r.stderr
    rows = events(cli, db_path, "--message-id", "1vAbCd-000XyZ-Q1")
    got = sorted((e["status"], e["recipient"]) for e in rows)
    assert got == [
        ("bounced", "nia@example.net"),
        ("deferred", "oli@example.com"),
        ("delivered", "lee@example.org"),
        ("delivered", "max@example.org"),
        ("delivered", "oli@example.com"),
        ("queued", None),
    ]
    assert {e["sender"] for e in rows} == {"alerts@app.example.com"}
    assert by(rows, status="bounced")[0]["bounce_reason"] == "user_unknown"
    assert by(rows, status="deferred")[0]["smtp_code"] == 451
    shown = cli("--db", db_path, "show", "alert-5521@app.example.com", "--format", "json")
    assert shown.exit_code == 0 and "nia@example.net" in shown.stdout
    rejects = events(cli, db_path, "--status", "rejected")
    assert [(e["recipient"], e["sender"]) for e in rejects] == [
        ("info@example.com", "bad@spammer.test")
    ]


@pytest.mark.parametrize(
    ("args", "mtime", "dec", "jan"),
    [
        ((), datetime(2027, 1, 1, 0, 5, tzinfo=UTC), "2026-12-31", "2027-01-01"),
        (("--year", "2024"), datetime(2027, 6, 1, tzinfo=UTC), "2024-12-31", "2025-01-01"),
    ],
)
def test_the_year_of_syslog_lines_turns_at_new_year(
    cli: Any,
    db_path: Path,
    tmp_path: Path,
    args: tuple[str, ...],
    mtime: datetime,
    dec: str,
    jan: str,
) -> None:
    imported(cli, db_path, *args, copy("newyear.log", tmp_path, mtime))
    rows = events(cli, db_path)
    assert by(rows, status="queued")[0]["timestamp"][:10] == dec
    assert by(rows, status="delivered")[0]["timestamp"][:10] == jan
    assert len({e["message_id"] for e in rows}) == 1


def test_a_file_of_only_other_daemons_lines_is_not_an_error(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "syslog"
    path.write_text(
        "Mar  1 10:00:00 mx systemd[1]: Started Session 4 of user root.\n"
        "Mar  1 10:00:01 mx sshd[900]: Accepted publickey for root from 198.51.100.3 port 5 ssh2\n"
    )
    r = imported(cli, db_path, path)
    assert "2 not a mail log line" in r.stderr


def test_tail_import_follows_a_growing_log_correlated(tmp_path: Path, db_path: Path) -> None:
    """`tail -F --import mail.log`: each poll imports the new lines; a delivery appended
    later joins the message its earlier lines started (state in the store, not in memory)."""
    from maillog_cli import follow as core
    from maillog_cli.store.db import Store
    from maillog_cli.store.query import build

    lines = (DATA / "postfix_mixed.log").read_text().splitlines(keepends=True)
    log = tmp_path / "mail.log"
    log.write_text("".join(lines[:10]))  # up to the first deferral
    store = Store.open(db_path)
    notices: list[str] = []
    growing = core.GrowingFile(log, from_start=True, notice=notices.append)
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        if rounds["n"] == 2:  # the writer appends the rest (and a cut line) between polls
            with log.open("a") as f:
                f.write("".join(lines[10:]))
                f.write("Mar  1 14:00:05 mx postfix/smtp[1305]: 3F1A2B4C5D: to=<cy@exa\n")
        return rounds["n"] > 3

    rows = list(
        core.follow(store, build(), 0, growing, report=notices.append, interval=0.01, stop=stop)
    )
    growing.close()
    seen = [(r["status"], r["recipient"], r["message_id"]) for r in rows]
    assert ("deferred", "cy@example.com", "3F1A2B4C5D") in seen
    assert ("delivered", "cy@example.com", "3F1A2B4C5D") in seen  # appended hours later
    assert any(s[:2] == ("rejected", "spam@example.com") and s[2].startswith("noid-") for s in seen)
    assert seen.index(("deferred", "cy@example.com", "3F1A2B4C5D")) < seen.index(
        ("delivered", "cy@example.com", "3F1A2B4C5D")
    )
    assert any(f"{log}:{len(lines) + 1}: delivery line without status=" in n for n in notices)
    sender = store.conn.execute(
        "SELECT sender FROM events WHERE message_id = '3F1A2B4C5D' AND timestamp > '2026-03-01T12'"
    ).fetchone()
    assert sender == ("news@app.example.com",)
    store.close()


def test_pflogsumms_questions_come_from_the_store(cli: Any, db_path: Path, tmp_path: Path) -> None:
    """Per-hour traffic, per-relay and per-domain outcomes, rejects by reason."""
    imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    imported(cli, db_path, copy("reused.log", tmp_path))
    r = cli("--db", db_path, "stats", "--by", "hour", "--format", "jsonl")
    assert r.exit_code == 0, r
    hours = {row["hour"]: row for row in map(json.loads, r.stdout.splitlines())}
    assert set(hours) == {"2026-03-01T10:00", "2026-03-05T08:00", "2026-03-05T17:00"}
    assert hours["2026-03-05T17:00"]["bounced"] == 1
    r = cli("--db", db_path, "stats", "--by", "relay", "--format", "jsonl")
    assert r.exit_code == 0, r
    relays = {row["relay"]: row for row in map(json.loads, r.stdout.splitlines())}
    assert relays["mx.example.net"]["bounced"] == 1  # the reused id's second message
    assert relays["mx.example.com"]["delivered"] == 1  # 3F1A2B4C5D's last attempt went there
    assert relays["app.example.com"]["delivered"] == 1  # the non-delivery notice
    r = cli("--db", db_path, "bounces", "--status", "rejected", "--format", "json")
    assert r.exit_code == 0, r
    reasons = {row["bounce_reason"]: row["events"] for row in json.loads(r.stdout)["by_reason"]}
    assert reasons == {"relay_denied": 1, "auth_policy": 1}


@pytest.mark.parametrize(
    ("line", "kind", "fields"),
    [
        (  # an IPv6 client: the colons of its address are not the reply's
            "Mar  1 10:00:04 mx postfix/smtpd[1301]: NOQUEUE: reject: RCPT from unknown[2001:db8::7]: "
            "550 5.7.1 <a@example.com>: Recipient address rejected: Access denied; "
            "from=<s@x.test> to=<a@example.com> proto=ESMTP helo=<x.test>",
            "reject",
            {"client": "unknown[2001:db8::7]", "to": "a@example.com", "from": "s@x.test"},
        ),
        (  # a milter refusing the message after DATA, under its queue id
            "Mar  1 10:00:04 mx postfix/cleanup[1302]: 3F1A2B4C5D: milter-reject: END-OF-MESSAGE "
            "from mail.x.test[198.51.100.4]: 5.7.1 Spam message rejected; from=<s@x.test> "
            "to=<a@example.com> proto=ESMTP helo=<mail.x.test>",
            "reject",
            {"stage": "END-OF-MESSAGE", "reply": "5.7.1 Spam message rejected"},
        ),
        (  # a second Postfix instance (multi_instance, syslog_name postfix-out)
            "Mar  1 10:00:05 mx postfix-out/smtp[77]: 3F1A2B4C5D: to=<a@example.org>, "
            "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, "
            "status=sent (250 ok)",
            "delivery",
            {"to": "a@example.org", "status": "sent", "reply": "250 ok"},
        ),
        (  # a reply that itself holds parentheses
            "Mar  1 10:00:05 mx postfix/smtp[77]: 3F1A2B4C5D: to=<b@example.org>, relay=none, "
            "delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to "
            "mx.example.org[192.0.2.1]:25: Connection refused (port 25))",
            "delivery",
            {"reply": "connect to mx.example.org[192.0.2.1]:25: Connection refused (port 25)"},
        ),
    ],
)
def test_postfix_line_shapes(line: str, kind: str, fields: dict[str, Any]) -> None:
    from maillog_cli.importers.base import Context
    from maillog_cli.importers.mta import postfix
    from maillog_cli.importers.mta.lines import Clock, YearGuess

    clock = Clock(YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None), None)
    fact = postfix.parse_line(line, clock, Context())
    assert getattr(fact, "kind", None) == kind, fact
    for key, value in fields.items():
        assert fact.fields[key] == value, (key, fact.fields)


def test_importing_an_expiry_twice_adds_nothing(cli: Any, db_path: Path, tmp_path: Path) -> None:
    path = copy("expired.log", tmp_path)
    imported(cli, db_path, path)
    before = events(cli, db_path)
    again = imported(cli, db_path, path)
    assert "0 new events" in again.stderr
    assert events(cli, db_path) == before


@pytest.mark.parametrize("order", ["older-first", "newer-first"])
def test_a_reused_queue_id_across_separate_imports_stays_two_messages(
    cli: Any, db_path: Path, tmp_path: Path, order: str
) -> None:
    lines = (DATA / "reused.log").read_text().splitlines(keepends=True)
    older, newer = tmp_path / "mail.log.1", tmp_path / "mail.log"
    older.write_text("".join(lines[:5]))
    newer.write_text("".join(lines[5:]))
    for path in (older, newer):
        os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    for path in (older, newer) if order == "older-first" else (newer, older):
        imported(cli, db_path, path)
    rows = events(cli, db_path)
    messages: dict[str, set[str | None]] = {}
    for e in rows:
        messages.setdefault(e["message_id"], set()).add(e["recipient"])
    assert sorted(map(sorted, (r - {None} for r in messages.values()))) == [
        ["gil@example.org"],
        ["hal@example.net"],
    ]
    for mid in ("first@app.example.com", "second@app.example.com"):
        assert cli("--db", db_path, "show", mid, "--format", "json").exit_code == 0


def test_postfix_maillog_file_times_keep_their_fraction() -> None:
    """Postfix's own maillog_file (postlogd) writes microseconds after the seconds."""
    from maillog_cli.importers.base import Context
    from maillog_cli.importers.mta import postfix
    from maillog_cli.importers.mta.lines import Clock, YearGuess

    clock = Clock(YearGuess(datetime(2026, 3, 31, tzinfo=UTC), None), None)
    line = (
        "Mar  1 10:00:05.591836 mx postfix/smtp[77]: 3F1A2B4C5D: to=<a@example.org>, "
        "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)"
    )
    fact = postfix.parse_line(line, clock, Context())
    assert fact.timestamp == "2026-03-01T10:00:05.591Z"


@pytest.mark.slow
def test_tail_import_cli_shows_a_deferral_appended_to_a_followed_log(tmp_path: Path) -> None:
    """`maillog tail -F --import mail.log --status deferred` in its own process: lines
    appended later are imported, correlated with the earlier ones and the match printed."""
    import select
    import signal
    import subprocess
    import sys
    import time

    lines = (DATA / "postfix_mixed.log").read_text().splitlines(keepends=True)
    log = tmp_path / "mail.log"
    log.write_text("".join(lines[:6]))  # the message's start, no delivery yet
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "-F", "--import", str(log)]
        + ["--from-start", "--status", "deferred", "--format", "jsonl", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(0.5)
        with log.open("a") as f:
            f.write("".join(lines[6:]))
        assert proc.stdout is not None
        got = b""
        deadline = time.monotonic() + 60
        while b"\n" not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                got += proc.stdout.read1(4096)  # type: ignore[attr-defined]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    row = json.loads(got.splitlines()[0])
    assert (row["status"], row["recipient"], row["message_id"]) == (
        "deferred",
        "cy@example.com",
        "3F1A2B4C5D",
    )
    assert row["sender"] == "news@app.example.com"  # from the qmgr line read earlier


def queue_rows(db: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT qid, message_id FROM mta_queue").fetchall())


def test_prune_removes_the_queue_state_of_pruned_messages_only(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    assert {q for q, _ in queue_rows(db_path)} == {"3F1A2B4C5D", "5E6F7A8B9C"}
    # 5E6F7A8B9C (the notice) ends at 10:00:04; 3F1A2B4C5D still has its 14:00 delivery
    cut = ("prune", "--before", "2026-03-01T12:00:00Z", "--format", "json")
    dry = cli("--db", db_path, *cut, "--dry-run")
    assert dry.exit_code == 0, dry
    assert json.loads(dry.stdout)["mta_state"] == 1
    assert len(queue_rows(db_path)) == 2  # a dry run deletes nothing
    done = cli("--db", db_path, *cut, "--yes")
    assert done.exit_code == 0, done
    assert json.loads(done.stdout)["mta_state"] == 1
    assert queue_rows(db_path) == {("3F1A2B4C5D", "3F1A2B4C5D")}
    # the kept message's state still joins its later lines: a re-read adds nothing new
    again = imported(cli, db_path, copy("postfix_mixed.log", tmp_path))
    assert {e["message_id"] for e in events(cli, db_path, "--to", "cy@example.com")} == {
        "3F1A2B4C5D"
    }
    assert again.exit_code == 0


@pytest.mark.parametrize("order", ["older-first", "newer-first"])
def test_a_reused_queue_id_attaches_each_line_to_the_lifecycle_whose_time_holds_it(
    cli: Any, db_path: Path, tmp_path: Path, order: str
) -> None:
    """The rotation falls inside the second message: the newer file holds only its
    delivery and `removed`, the older one the whole first message and the second's start.
    Read newer-first, the older file's first message must not reach into the second."""
    lines = (DATA / "reused.log").read_text().splitlines(keepends=True)
    older, newer = tmp_path / "mail.log.1", tmp_path / "mail.log"
    older.write_text("".join(lines[:8]))
    newer.write_text("".join(lines[8:]))
    for path in (older, newer):
        os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    for path in (older, newer) if order == "older-first" else (newer, older):
        imported(cli, db_path, path)
    rows = events(cli, db_path)
    messages: dict[str, set[Any]] = {}
    for e in rows:
        messages.setdefault(e["message_id"], set()).add((e["status"], e["recipient"], e["sender"]))
    assert sorted(map(sorted, messages.values())) == [
        [
            ("bounced", "hal@example.net", "b@app.example.com"),
            ("queued", None, "b@app.example.com"),
        ],
        [
            ("delivered", "gil@example.org", "a@app.example.com"),
            ("queued", None, "a@app.example.com"),
        ],
    ]
    first = cli("--db", db_path, "show", "first@app.example.com", "--format", "json")
    second = cli("--db", db_path, "show", "second@app.example.com", "--format", "json")
    assert "gil@example.org" in first.stdout and "hal@example.net" not in first.stdout
    assert "hal@example.net" in second.stdout and "gil@example.org" not in second.stdout
    with sqlite3.connect(db_path) as conn:
        got = conn.execute("SELECT message_id, size, last_status FROM messages").fetchall()
    assert sorted((size, status) for _, size, status in got) == [
        (1000, "delivered"),
        (2000, "bounced"),
    ]
    # both messages keep their queue state (the split-off one too: a re-read joins it)
    assert len({mid for _, mid in queue_rows(db_path)}) == 2


@pytest.mark.parametrize("split", [None, 12, 14])
def test_a_content_filters_requeue_is_one_message_and_the_hop_is_not_a_delivery(
    cli: Any, db_path: Path, tmp_path: Path, split: int | None
) -> None:
    """amavis on 127.0.0.1:10024 re-injects on :10025 under a new queue id: both queue ids
    are one message; the hop to the filter is a `queued` step, the deliveries are the second
    queue id's. Whole, or rotated before or after the hop (imported newer file first)."""
    lines = (DATA / "amavis.log").read_text().splitlines(keepends=True)
    parts = [lines] if split is None else [lines[split:], lines[:split]]
    for i, part in enumerate(parts):
        path = tmp_path / f"mail.log.{i}"
        path.write_text("".join(part))
        os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
        imported(cli, db_path, path)
    rows = events(cli, db_path)
    assert len({e["message_id"] for e in rows}) == 1, rows
    got = sorted((e["timestamp"][11:19], e["status"], e["recipient"] or "") for e in rows)
    assert got == [
        ("09:15:20", "queued", ""),
        ("09:15:21", "queued", ""),
        ("09:15:21", "queued", "dev@example.net"),  # the hop to the filter
        ("09:15:21", "queued", "ops@example.org"),
        ("09:15:22", "deferred", "dev@example.net"),
        ("09:15:22", "delivered", "ops@example.org"),
        ("11:15:41", "delivered", "dev@example.net"),
    ]
    hop = by(rows, status="queued", recipient="ops@example.org")[0]
    assert hop["raw_status"] == "sent"
    for qid in ("6A7B8C9D0E", "7B8C9D0E1F", "<filtered-1@app.example.com>"):
        shown = cli("--db", db_path, "show", qid, "--format", "json")
        assert shown.exit_code == 0 and "dev@example.net" in shown.stdout, (qid, shown)
    with sqlite3.connect(db_path) as conn:
        (count, status) = conn.execute("SELECT count(*), max(last_status) FROM messages").fetchone()
        assert (count, status) == (1, "delivered")
        extra = json.loads(
            conn.execute(
                "SELECT extra FROM events WHERE status = 'queued' AND recipient = 'ops@example.org'"
            ).fetchone()[0]
        )
    assert extra["requeued_as"] == "7B8C9D0E1F"
    assert extra["relay"].startswith("127.0.0.1[")
    by_relay = cli("--db", db_path, "stats", "--by", "relay", "--format", "csv")
    assert "127.0.0.1" not in by_relay.stdout and "mx.example.net" in by_relay.stdout


def test_inbound_mail_through_a_content_filter_stays_inbound(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """The filter re-injects from localhost; the message still came from another server."""
    text = (DATA / "amavis.log").read_text()
    text = (
        text.replace(
            "6A7B8C9D0E: client=app.example.com[198.51.100.7], sasl_method=PLAIN, sasl_username=app",
            "6A7B8C9D0E: client=mail.sender.example[203.0.113.9]",
        )
        .replace("postfix/smtp[2112]", "postfix/lmtp[2112]")
        .replace("postfix/smtp[2113]", "postfix/lmtp[2113]")
        .replace("postfix/smtp[2201]", "postfix/lmtp[2201]")
    )
    path = tmp_path / "mail.log"
    path.write_text(text)
    imported(cli, db_path, path)
    rows = events(cli, db_path)
    assert len({e["message_id"] for e in rows}) == 1
    arrivals = [e for e in rows if e["status"] == "queued" and e["recipient"] is None]
    assert len(arrivals) == 2 and {e["direction"] for e in arrivals} == {"inbound"}
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT direction FROM messages").fetchall() == [("inbound",)]


@pytest.mark.parametrize("earlier", [False, True])
@pytest.mark.parametrize("order", ["older-first", "newer-first"])
def test_a_client_line_in_the_older_file_joins_the_message_the_newer_file_began(
    cli: Any, db_path: Path, tmp_path: Path, order: str, earlier: bool
) -> None:
    """Rotated between smtpd's `client=` and cleanup's `message-id=`: read newer-first, the
    newer file's lifecycle starts at `message-id=`; the older file's client line is the same
    message's (its client makes the mail inbound), not a queue id of its own."""
    text = (
        (DATA / "postfix_mixed.log")
        .read_text()
        .replace(
            "3F1A2B4C5D: client=app.example.com[198.51.100.7], sasl_method=PLAIN, sasl_username=app",
            "3F1A2B4C5D: client=mail.sender.example[203.0.113.9]",
        )
    )
    if earlier:  # a second before cleanup's line, not in the same second
        text = text.replace(
            "10:00:01 mx postfix/smtpd[1201]: 3F", "10:00:00 mx postfix/smtpd[1201]: 3F"
        )
    lines = text.splitlines(keepends=True)
    assert "client=" in lines[2] and "message-id=" in lines[3]
    older, newer = tmp_path / "mail.log.1", tmp_path / "mail.log"
    older.write_text("".join(lines[:3]))
    newer.write_text("".join(lines[3:]))
    for path in (older, newer):
        os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    for path in (older, newer) if order == "older-first" else (newer, older):
        imported(cli, db_path, path)
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT message_id, client FROM mta_queue WHERE qid = '3F1A2B4C5D'"
        ).fetchall()
        queued = conn.execute(
            "SELECT direction, json_extract(extra, '$.client') FROM events"
            " WHERE message_id = '3F1A2B4C5D' AND status = 'queued' AND recipient IS NULL"
        ).fetchall()
    assert {mid for mid, _ in rows} == {"3F1A2B4C5D"}, rows  # no orphan lifecycle
    assert "mail.sender.example[203.0.113.9]" in {client for _, client in rows}
    assert queued == [("inbound", "mail.sender.example[203.0.113.9]")]


def test_a_queue_id_that_ended_without_an_event_leaves_no_state(
    cli: Any, db_path: Path, tmp_path: Path
) -> None:
    """A client that left before sending (client= … removed, no message-id=): no message
    will ever name its lifecycle, so the import keeps no row of it; one still open (no
    removed yet, or begun in an earlier import) goes at the next prune past its time."""
    lines = [
        "Mar  1 09:00:00 mx postfix/smtpd[1]: 1A2B3C4D5E: client=unknown[203.0.113.5]\n",
        "Mar  1 09:00:09 mx postfix/qmgr[900]: 1A2B3C4D5E: removed\n",
        "Mar  1 09:00:10 mx postfix/smtpd[2]: 2A2B3C4D5E: client=unknown[203.0.113.6]\n",
    ]
    path = tmp_path / "mail.log"
    path.write_text("".join(lines) + (DATA / "postfix_mixed.log").read_text())
    os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    imported(cli, db_path, path)
    assert {q for q, _ in queue_rows(db_path)} == {"2A2B3C4D5E", "3F1A2B4C5D", "5E6F7A8B9C"}
    # its end in a later import (the row was kept by the first): still no event
    later = tmp_path / "mail.log.next"
    later.write_text("Mar  1 09:01:00 mx postfix/qmgr[900]: 2A2B3C4D5E: removed\n")
    os.utime(later, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    imported(cli, db_path, later)
    assert "2A2B3C4D5E" in {q for q, _ in queue_rows(db_path)}
    cut = ("prune", "--before", "2026-03-01T09:30:00Z", "--format", "json")
    dry = cli("--db", db_path, *cut, "--dry-run")
    assert dry.exit_code == 0, dry
    assert json.loads(dry.stdout)["mta_state"] == 1 and json.loads(dry.stdout)["events"] == 0
    done = cli("--db", db_path, *cut, "--yes")
    assert done.exit_code == 0, done
    assert json.loads(done.stdout)["mta_state"] == 1
    assert {q for q, _ in queue_rows(db_path)} == {"3F1A2B4C5D", "5E6F7A8B9C"}


def test_an_expiry_bounces_the_deferrals_of_this_file_or_of_an_earlier_import(
    cli: Any, tmp_path: Path
) -> None:
    """Decided from the lines in memory when the whole message is in this import, from the
    store when its deferrals came in an earlier one: the same bounce either way."""
    lines = (DATA / "expired.log").read_text().splitlines(keepends=True)
    got = []
    for split in (None, 4, 5):
        db = tmp_path / f"split{split}.db"
        parts = [lines] if split is None else [lines[:split], lines[split:]]
        for i, part in enumerate(parts):
            path = tmp_path / f"mail.log.{split}.{i}"
            path.write_text("".join(part))
            os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
            imported(cli, db, path)
        final = by(events(cli, db, "--message-id", "6A7B8C9D0E"), raw_status="expired")
        got.append(final)
    assert got[0] == got[1] == got[2]
    (bounce,) = got[0]
    assert (bounce["status"], bounce["recipient"]) == ("bounced", "fay@dead.example")
    assert bounce["diagnostic"].startswith("expired in the queue; last reply:")
    assert "Connection refused" in bounce["diagnostic"]


EXIM_SHAPES = [
    "2026-03-01 10:00:01.123 +0100 [4242] 1vAbCd-000XyZ-Q1 <= a@b.example H=x [192.0.2.4] S=10 id=abc@x",
    '2026-03-01 10:00:01 +0100 1vAbCd-000XyZ-Q1 => r@x.example R=a T=remote_smtp H=mx [192.0.2.5] C="250 \\"ok\\""',
    "2026-03-01 10:00:01 [12] 1vAbCd-000XyZ-Q1 ** r@x.example: Unrouteable address",
    "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 <=",
    "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 =>",
    "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 *> r@x.example R=a T=b",
    "2026-02-30 10:00:01 1vAbCd-000XyZ-Q1 Completed",
    "9999-03-01 10:00:01 1vAbCd-000XyZ-Q1 Completed",
    "2026-03-01 10:00:01 H=(x) [192.0.2.1] F=<a@b.example> temporarily rejected RCPT <c@d.example>: greylisted",
    "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 H=(x) [192.0.2.1] rejected after DATA: spam",
    "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 == r@x.example R=a T=b defer (-1): retry time not reached",
    "2026-03-01 10:00:01 1vAbCd-000XyZ-Q1 -> |/usr/bin/x <r@x.example> R=a T=pipe",
    "2026-03-01 10:00:01 exim \ufffd broken",
    "2026-03-01 10:00:01 Start queue run: pid=5151",
    "2026-03-01 10:00:01 ",
    "Mar  1 10:00:01 host exim[12]: 1vAbCd-000XyZ-Q1 Completed",
]


@pytest.mark.parametrize("line", EXIM_SHAPES)
def test_the_line_loop_reads_each_exim_line_as_the_general_parser_does(line: str) -> None:
    """The loop's own match for Exim's mainlog shape gives `parse_line`'s fact, skip or
    error (and time zone), whatever the line."""
    import io

    from maillog_cli.importers.base import Context
    from maillog_cli.importers.mta import postfix
    from maillog_cli.importers.mta.lines import Clock, YearGuess
    from maillog_cli.model import Skip

    reference = datetime(2026, 3, 31, tzinfo=UTC)
    ctx = Context(default_tz=ZoneInfo("Europe/Paris"))
    [(_, looped, _)] = postfix.read_lines(io.BytesIO(line.encode() + b"\n"), ctx, reference)
    clock = Clock(YearGuess(reference, None), ctx.default_tz)
    try:
        general: Any = postfix.parse_line(line, clock, ctx)
    except Exception as exc:  # the loop yields what the parser raises
        general = exc
    if isinstance(general, Exception):
        assert (type(looped), str(looped)) == (type(general), str(general))
    elif isinstance(general, Skip):
        assert looped == general
    else:
        assert looped == general and looped.provider == "exim"

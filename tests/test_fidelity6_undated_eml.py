"""A saved email without a Date: header (drafts, some exporters) is imported, timed by its
oldest Received hop, else by the file's modification time, and its event says which
(fidelity6, item 3). Never "now"."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

# Real header text (Gmail's hops, as in a message saved from a mailbox), without a Date.
RECEIVED_NO_DATE = b"""\
Received: by 2002:a05:7300:8c8b:b0:d1:5f05:3b6c with SMTP id hv11csp1294231dyb;
        Tue, 3 Nov 2026 02:14:37 -0800 (PST)
X-Received: by 2002:a17:907:7fa6:b0:a99:fc3d:7c76 with SMTP id qk38mr1729930ejc.3.1730715277001;
        Tue, 03 Nov 2026 02:14:37 -0800 (PST)
Received: from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])
        by mx.google.com with SMTPS id a640c23a62f3a-a9e56643d91sor3188866b.6.2026.11.03.02.14.36
        for <ann@example.org>
        (Google Transport Security);
        Tue, 03 Nov 2026 02:14:36 -0800 (PST)
From: Bob Sender <bob@example.com>
To: Ann <ann@example.org>
Subject: Draft saved without a date
Message-ID: <undated-1@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hello.
"""

NO_RECEIVED_NO_DATE = b"""\
From: Bob Sender <bob@example.com>
To: Ann <ann@example.org>
Subject: An exported draft
Message-ID: <undated-2@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hello.
"""


def _events(db: Path) -> list[tuple[str, str, dict]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT message_id, timestamp, extra FROM events ORDER BY seq")
        return [(m, t, json.loads(x or "{}")) for m, t, x in rows]


def test_an_eml_without_date_takes_its_oldest_received_hop(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    eml = tmp_path / "draft.eml"
    eml.write_bytes(RECEIVED_NO_DATE)
    r = cli("import", eml)
    assert r.exit_code == 0, r
    [(mid, when, extra)] = _events(db_path)
    assert mid == "undated-1@example.com"
    assert when == "2026-11-03T10:14:36.000Z"  # the bottom hop, 02:14:36 -0800
    assert extra["time_from"] == "received"


def test_an_eml_without_any_date_takes_the_file_time(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    eml = tmp_path / "export.eml"
    eml.write_bytes(NO_RECEIVED_NO_DATE)
    os.utime(eml, (1_780_000_000, 1_780_000_000))  # 2026-05-28T20:26:40Z
    r = cli("import", eml)
    assert r.exit_code == 0, r
    [(_, when, extra)] = _events(db_path)
    assert when == "2026-05-28T20:26:40.000Z"
    assert extra["time_from"] == "file_mtime"
    assert cli("import", eml).exit_code == 0
    assert len(_events(db_path)) == 1  # the same file again adds nothing


def test_a_dated_eml_says_nothing_about_where_its_time_came_from(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    eml = tmp_path / "dated.eml"
    eml.write_bytes(
        RECEIVED_NO_DATE.replace(b"From: Bob", b"Date: Mon, 2 Nov 2026 09:00:00 +0000\nFrom: Bob")
    )
    assert cli("import", eml).exit_code == 0
    [(_, when, extra)] = _events(db_path)
    assert when == "2026-11-02T09:00:00.000Z" and "time_from" not in extra


def test_from_stdin_with_no_date_at_all_is_still_one_clear_error(
    cli: Callable[..., object], db_path: Path
):
    r = cli("import", "-", "--format", "email", input=NO_RECEIVED_NO_DATE)
    assert "Traceback" not in r.stderr
    assert "without a Date header" in r.stderr, r


def test_a_maildir_message_without_date_takes_the_file_time(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    msg = box / "cur" / "1780000000.M1P1.host:2,S"
    msg.write_bytes(NO_RECEIVED_NO_DATE)
    os.utime(msg, (1_780_000_000, 1_780_000_000))
    assert cli("import", box).exit_code == 0
    [(_, when, extra)] = _events(db_path)
    assert when == "2026-05-28T20:26:40.000Z" and extra["time_from"] == "file_mtime"

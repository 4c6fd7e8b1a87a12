"""Red team 6: a resend that went out but could not be recorded says so.

Each message is recorded in the store after the server took it. When the store could not
be written at that moment (disk full, another writer holding it past $MAILLOG_LOCK_TIMEOUT)
the store's error ended the command — "…the unfinished write was rolled back and the store
is intact; run the command again" — with the email already sent: run again, it went out
twice. Now the outcome is shown, the rest of the batch stops, and the error says the email
went out and must not be resent.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.test_resend import smtp_server, store_original  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]


def test_a_sent_resend_that_cannot_be_recorded_says_it_went_out(
    db_path,
    smtp_server,  # noqa: F811 - the fixture imported above
    monkeypatch,
) -> None:
    store_original(db_path, "a@mail.example.com")
    store_original(db_path, "b@mail.example.com")
    monkeypatch.setenv("MAILLOG_LOCK_TIMEOUT", "0.5")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the store past the timeout
    try:
        r = subprocess.run(
            [sys.executable, "-m", "maillog_cli", "resend", "a@mail.example.com",
             "b@mail.example.com", "--yes"],
            env={**os.environ, "MAILLOG_DB": str(db_path), "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 1, r.stderr
    assert len(smtp_server.handler.received) == 1  # a went out; b was not attempted
    assert "a@mail.example.com was sent as " in r.stderr
    assert "but could not be recorded" in r.stderr
    assert "do not resend it" in r.stderr
    assert "rolled back" not in r.stderr and "resend: 1 sent, 1 not attempted" in r.stderr
    lines = [line.split("\t")[:2] for line in r.stdout.splitlines()]
    assert lines == [["sent", "a@mail.example.com"], ["not attempted", "b@mail.example.com"]]

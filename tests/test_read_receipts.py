"""A read receipt (MDN, RFC 8098) imported as raw mail is an `opened` event for the original
message and the recipient that displayed it, not a `sent` email of its own."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

ORIGINAL = """From: Acme Billing <billing@acme.test>
To: Ann <ann@example.com>
Subject: Your invoice
Date: Mon, 02 Mar 2026 09:00:00 +0000
Message-ID: <invoice-42@acme.test>
Disposition-Notification-To: billing@acme.test

Please find your invoice attached.
"""


def receipt(
    disposition: str = "manual-action/MDN-sent-manually; displayed",
    *,
    with_id: bool = True,
    headers_part: bool = False,
) -> str:
    orig_id = "Original-Message-ID: <invoice-42@acme.test>\n" if with_id else ""
    third = (
        """--BOUNDARY
Content-Type: text/rfc822-headers

From: Acme Billing <billing@acme.test>
To: Ann <ann@example.com>
Subject: Your invoice
Message-ID: <invoice-42@acme.test>

"""
        if headers_part
        else ""
    )
    return f"""From: Ann <ann@example.com>
To: billing@acme.test
Subject: Read: Your invoice
Date: Mon, 02 Mar 2026 11:15:00 +0000
Message-ID: <mdn-7@example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

Your message was displayed on Mon, 02 Mar 2026 11:15:00 +0000.

--BOUNDARY
Content-Type: message/disposition-notification

Reporting-UA: mail.example.com; Example Mail 1.0
Original-Recipient: rfc822;ann@example.com
Final-Recipient: rfc822;ann@example.com
{orig_id}Disposition: {disposition}

{third}--BOUNDARY--
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode())
    return path


def events(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(
            "SELECT message_id, status, recipient, timestamp, raw_status FROM events ORDER BY timestamp"
        ).fetchall()


@pytest.mark.parametrize("order", ["original first", "receipt first"])
def test_a_read_receipt_is_an_open_of_the_original_message(cli, tmp_path, db_path, order) -> None:
    files = [write(tmp_path, "sent.eml", ORIGINAL), write(tmp_path, "read.eml", receipt())]
    for f in files if order == "original first" else files[::-1]:
        r = cli("import", f)
        assert r.exit_code == 0, r
    assert events(db_path) == [
        ("invoice-42@acme.test", "sent", "ann@example.com", "2026-03-02T09:00:00.000Z", "sent"),
        (
            "invoice-42@acme.test",
            "opened",
            "ann@example.com",
            "2026-03-02T11:15:00.000Z",
            "mdn:displayed",
        ),
    ]
    shown = cli("show", "invoice-42@acme.test")
    assert shown.exit_code == 0 and "opened" in shown.stdout
    s = json.loads(cli("stats", "--format", "json").stdout)
    assert s["messages"] == 1 and s["rates"]["open"] == 1.0


def test_the_attached_original_headers_name_the_message(cli, tmp_path, db_path) -> None:
    r = cli("import", write(tmp_path, "read.eml", receipt(with_id=False, headers_part=True)))
    assert r.exit_code == 0, r
    ((mid, status, rcpt, _, _),) = events(db_path)
    assert (mid, status, rcpt) == ("invoice-42@acme.test", "opened", "ann@example.com")


def test_a_receipt_that_is_not_a_display_is_no_open(cli, tmp_path, db_path) -> None:
    r = cli(
        "import", write(tmp_path, "gone.eml", receipt("manual-action/MDN-sent-manually; deleted"))
    )
    assert r.exit_code == 0, r
    assert "1 skipped" in r.stdout + r.stderr
    assert events(db_path) == []

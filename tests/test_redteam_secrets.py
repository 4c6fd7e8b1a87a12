"""Red-team findings about secrets that reached the store.

An SMTP transcript in a diagnostic can hold `AUTH PLAIN <base64 of user and password>`,
and provider metadata a live one-time code (`otp_code`, `mfa_code`, `verification_code`).
Neither may reach the database file, its WAL or any output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

PLAIN = base64.b64encode(b"\0bob\0hunter2-s3cret").decode()
SECRETS = (PLAIN, "482913", "771204", "650033")


def test_auth_initial_responses_and_one_time_codes_never_reach_the_store(
    cli, tmp_path: Path, db_path: Path
) -> None:
    src = tmp_path / "events.jsonl"
    rows = [
        {
            "status": "failed",
            "timestamp": "2026-11-30T10:00:00Z",
            "recipient": "a@example.com",
            "diagnostic": f"C: AUTH PLAIN {PLAIN}\nS: 535 5.7.8 Authentication credentials invalid",
        },
        {
            "RecordType": "Delivery",
            "MessageID": "pm-1",
            "Recipient": "a@example.com",
            "DeliveredAt": "2026-11-30T10:00:00Z",
            "Details": "ok",
            "Metadata": {"otp_code": "482913", "mfa_code": "771204", "verification_code": "650033"},
        },
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli("import", str(src)).exit_code == 0
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for secret in SECRETS:
        assert secret.encode() not in stored, secret
    out = cli("show", "pm-1", "--format", "json").stdout + cli("export", "-o", "-").stdout
    assert not any(s in out for s in SECRETS)
    listing = cli("search", "--status", "failed", "--format", "json").stdout
    assert "AUTH PLAIN [masked]" in listing and "535 5.7.8" in listing

"""Red team 9: credentials in a stored email's own header fields. An .eml carrying
`Authorization: Basic …` or `X-Api-Key: …` (a captured request, a misconfigured client)
was stored byte for byte, so every copy of the store (backup, export) held them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result

SECRETS = (
    b"dXNlcjpTdXAzclNlY3JldFBX",
    b"key-abcdef0123456789abcdef0123456789",
    b"folded-part-of-it",
)


def test_secret_header_fields_of_an_email_never_reach_the_store(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    eml = tmp_path / "s.eml"
    eml.write_bytes(
        b"From: a@ex.com\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <eml1@ex.com>\r\n"
        b"Date: Sun, 01 Nov 2026 00:00:00 +0000\r\n"
        b"Authorization: Basic dXNlcjpTdXAzclNlY3JldFBX\r\n"
        b"X-Api-Key: key-abcdef0123456789abcdef0123456789\r\n\tfolded-part-of-it\r\n"
        b"X-Keep: visible\r\n\r\nthe body stays\r\n"
    )
    assert cli("import", eml).exit_code == 0
    db = tmp_path / "maillog.db"
    with sqlite3.connect(db) as conn:
        dump = b"\n".join(
            bytes(r[0]) if isinstance(r[0], bytes) else str(r[0]).encode()
            for r in conn.execute("SELECT raw FROM message_content")
        )
    assert dump, "the email was stored"
    for secret in SECRETS:
        assert secret not in dump
    assert b"Authorization: [redacted]" in dump and b"X-Keep: visible" in dump
    assert dump.endswith(b"\r\n\r\nthe body stays\r\n")
    r = cli("export", "-o", "-")
    assert r.exit_code == 0 and not any(s.decode() in r.stdout for s in SECRETS)


def test_an_error_line_never_echoes_a_credential_typed_in_an_argument(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "MAILLOG_DB": str(tmp_path / "m.db")}
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"event_id":"e1","message_id":"m1@example.com","provider":"ses",'
        '"timestamp":"2020-01-01T00:00:00Z","status":"delivered","recipient":"a@example.org"}\n'
    )
    for args in (
        ["import", str(events)],
        ["show", "password=Sup3rSecretPW"],
        ["show", "https://bob:Sup3rSecretPW@host.example/x"],
        ["search", "--since", "api_key=Sup3rSecretPW"],
    ):
        p = subprocess.run(
            [sys.executable, "-m", "maillog_cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if args[0] == "import":
            assert p.returncode == 0, p
            continue
        assert p.returncode == 1 and p.stderr.startswith("maillog: error:"), p
        assert "Sup3rSecretPW" not in p.stderr and "[masked]" in p.stderr, p


def test_an_error_line_never_echoes_a_huge_argument_whole(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "MAILLOG_DB": str(tmp_path / "m.db")}
    huge = "x" * 100_000
    for args in (["import", huge], ["stats", "--by", huge], ["search", "--since", huge]):
        p = subprocess.run(
            [sys.executable, "-m", "maillog_cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode in (1, 2) and p.stderr.count("\n") == 1, p.stderr[:300]
        assert len(p.stderr) < 2100 and "characters]" in p.stderr, p.stderr[:300]
        assert "Traceback" not in p.stderr

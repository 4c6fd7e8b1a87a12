"""No secret reaches the store at rest (issue 14 #7).

Key-based redaction missed secrets held in values: URL query tokens, `user:PASS@host`,
`password=…` in text, JSON inside a string, `Bearer …`, tokens in user agents, and
well-known key shapes under harmless key names. They reached the .db, its WAL, `sql`
output and prune archives. Every test here greps real bytes on disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

# Each secret is unique enough that finding its bytes anywhere means it leaked.
SECRETS = {
    "query_key": "Qk7fh2Lw9QxKEYzz",
    "query_api_key": "AP1k3yVALUE77aa",
    "query_apikey": "aPiKeYvAlUe9911",
    "query_token": "T0k3nVALUEq8812",
    "query_access_token": "ya29AccessTok3n55",
    "query_password": "Pw0rdInQuery!77",
    "query_secret": "S3cr3tInQuery88",
    "query_sig": "s1gnatureHMAC4455",
    "userinfo": "SmtpPa55w0rd99",
    "password_text": "hunter2hunter2x",
    "passwd_text": "c0rrectHorse77",
    "json_in_string": "JsonNestedPw123",
    "bearer": "eyBearerTok3nABCDEFG",
    "basic": "dXNlcjpzM2NyM3RwYXNz",
    "ua_token": "UaT0ken000111222",
    "sendgrid": "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
    "aws_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "mailgun": "key-0123456789abcdef0123456789abcdef",
    "postmark": "0f5b4c3d-aaaa-bbbb-cccc-444455556666",
    "postmark_pair": "1a2b3c4d-5e6f-4711-8899-aabbccddeeff",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "github": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "slack": "xoxb-2048-1357911-AbCdEfGhIjKl",
    "resend": "re_123abcDEF456ghiJKL789mno",
    "pem": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
}
S = SECRETS
HARMLESS = [
    "token bucket exhausted, retry in 3 seconds",
    "550 5.7.1 Authentication required",
    "see https://postmaster.example.org/help?topic=spam",
    "Password reset instructions",
]


def hostile_events() -> list[dict[str, object]]:
    """SendGrid webhook events whose every free-text field carries one secret shape."""
    base = {
        "email": "bob@example.org",
        "smtp-id": "<m1@x.example>",
        "sg_message_id": "m1.filter0001",
    }
    return [
        {
            **base,
            "event": "click",
            "timestamp": 1717406045,
            "sg_event_id": "ev-click",
            "url": (
                f"https://app.example/login?key={S['query_key']}&api_key={S['query_api_key']}"
                f"&apikey={S['query_apikey']}&token={S['query_token']}"
                f"&access_token={S['query_access_token']}&password={S['query_password']}"
                f"&secret={S['query_secret']}&sig={S['query_sig']}&page=2"
            ),
            "useragent": f"MyApp/1.0 (token={S['ua_token']}) Authorization: Bearer {S['bearer']}",
            # Custom arguments under harmless names (sendgrid keeps unknown keys).
            "note": f"deploy with {S['sendgrid']} and {S['stripe']}",
            "build": {"id": S["aws_id"], "cfg": f"aws_secret_access_key = {S['aws_secret']}"},
            "payload": orjson.dumps({"db": {"password": S["json_in_string"]}, "n": 1}).decode(),
            "X-Postmark-Server-Token": S["postmark"],
            "hdrs": [{"Name": "X-Postmark-Server-Token", "Value": S["postmark_pair"]}],
            "misc": [S["mailgun"], S["github"], S["slack"], S["resend"]],
            "pem": f"-----BEGIN PRIVATE KEY-----\n{S['pem']}\n-----END PRIVATE KEY-----",
        },
        {
            **base,
            "event": "bounce",
            "timestamp": 1717406050,
            "sg_event_id": "ev-bounce",
            "reason": (
                f"451 relay smtp://mailer:{S['userinfo']}@relay.example failed;"
                f" password={S['password_text']} passwd: {S['passwd_text']};"
                f" Authorization: Basic {S['basic']}; {HARMLESS[0]}"
            ),
            "status": "5.1.1",
            "type": "bounce",
        },
    ]


def hostile_audit() -> dict[str, object]:
    return {
        "entries": [
            {
                "id": "AUD1",
                "created_at": "2024-06-03T09:00:00.000Z",
                "actor_email": "alice@acme.example",
                "action": "webhook.update",
                "target_type": "webhook",
                "target_id": "web_1",
                "metadata": {
                    "url": f"https://hooks.example/in?token={S['query_token']}&v=1",
                    "endpoint": f"smtp://mailer:{S['userinfo']}@relay.example:587",
                    "comment": f"rotated to {S['sendgrid']}; password={S['password_text']}",
                    "blob": orjson.dumps({"auth": {"secret": S["json_in_string"]}}).decode(),
                    "note": HARMLESS[0],
                },
                "ip": "203.0.113.7",
                "user_agent": f"curl/8.0 Bearer {S['bearer']}",
            }
        ]
    }


def leaked(data: bytes) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret.encode() in data]


@pytest.fixture
def hostile_store(cli, tmp_path: Path, db_path: Path) -> Path:
    events = tmp_path / "sendgrid.json"
    events.write_bytes(orjson.dumps(hostile_events()))
    audit = tmp_path / "audit.json"
    audit.write_bytes(orjson.dumps(hostile_audit()))
    r = cli("import", events, audit)
    assert r.exit_code == 0, r
    return db_path


def test_no_secret_in_the_db_or_its_wal(hostile_store: Path) -> None:
    # Keep a reader open so the WAL is not checkpointed away before we read it.
    with sqlite3.connect(hostile_store) as keep:
        keep.execute("SELECT count(*) FROM events").fetchone()
        files = [hostile_store, Path(f"{hostile_store}-wal")]
        data = b"".join(f.read_bytes() for f in files if f.exists())
        assert Path(f"{hostile_store}-wal").exists() or hostile_store.stat().st_size
        assert leaked(data) == []
        (count,) = keep.execute("SELECT count(*) FROM events").fetchone()
        assert count == 2


def test_no_secret_in_sql_output(cli, hostile_store: Path) -> None:
    for query in ("SELECT * FROM events", "SELECT * FROM audit", "SELECT * FROM messages"):
        r = cli("sql", "-f", "json", query)
        assert r.exit_code == 0, r
        assert leaked(r.stdout.encode()) == [], query


def test_no_secret_in_a_prune_archive(cli, tmp_path: Path, hostile_store: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    r = cli("prune", "--before", "2025-01-01", "--archive", archive, "--yes")
    assert r.exit_code == 0, r
    data = archive.read_bytes()
    assert b"ev-bounce" in data
    assert leaked(data) == []


def test_ordinary_text_survives(cli, hostile_store: Path) -> None:
    r = cli("sql", "-f", "jsonl", "SELECT diagnostic, extra FROM events ORDER BY seq")
    assert HARMLESS[0] in r.stdout  # "token bucket" is not a token
    assert "relay.example" in r.stdout and "mailer:" in r.stdout  # only the password goes
    assert "page=2" in r.stdout and "app.example/login" in r.stdout
    r = cli("sql", "-f", "jsonl", "SELECT metadata FROM audit")
    assert HARMLESS[0] in r.stdout and "hooks.example" in r.stdout


@pytest.mark.parametrize("text", HARMLESS)
def test_scrub_leaves_ordinary_text_alone(text: str) -> None:
    from maillog_cli.redaction import scrub

    assert scrub(text) == text


def test_ids_that_look_like_tokens_stay_under_ordinary_keys() -> None:
    from maillog_cli.redaction import scrub

    data = {
        "message_id": "0f5b4c3d-aaaa-bbbb-cccc-444455556666",
        "sg_event_id": "ZGVsaXZlcmVkLTEtdTdIcTJY",
        "token_type": "bearer",
        "password_changed": True,
        "headers": [{"Name": "X-Tag", "Value": "welcome"}],
    }
    assert scrub(data) == data


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_scrub_removes_each_shape_in_free_text(name: str) -> None:
    """Each secret inside the text it would arrive in (the importer-independent rule)."""
    from maillog_cli.redaction import scrub

    carriers = [
        orjson.dumps(hostile_events()).decode(),
        orjson.dumps(hostile_audit()).decode(),
    ]
    for carrier in carriers:
        if SECRETS[name] in carrier:
            assert SECRETS[name] not in orjson.dumps(scrub(orjson.loads(carrier))).decode()

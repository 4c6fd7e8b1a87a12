"""`maillog resend` against real SMTP servers on 127.0.0.1 (aiosmtpd), started per test."""

from __future__ import annotations

import re
import socket
import sqlite3
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli.errors import MaillogError
from maillog_cli.ingest.pipeline import FileResult, Ingest
from maillog_cli.model import StoredMessage
from maillog_cli.store.db import Store

ORIG = "orig-1@mail.example.com"
SENDER = "app@example.com"
RCPT = "bob@example.org"
PASSWORD = "S3cret-pa55word!"


def raw_email(
    mid: str = ORIG, to: str = RCPT, subject: str = "Your invoice", eol: bytes = b"\r\n"
) -> bytes:
    lines = [
        f"From: Example App <{SENDER}>",
        f"To: <{to}>",
        f"Subject: {subject}",
        "Date: Thu, 20 Jun 2024 07:00:00 +0000",
        f"Message-ID: <{mid}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Hello Bob,",
        ".a line starting with a dot",
        "Total: 12 \u20ac",
        "",
    ]
    return eol.join(line.encode() for line in lines)


def store_original(
    db_path: Path,
    mid: str = ORIG,
    to: str = RCPT,
    raw: bytes | None = None,
    subject: str = "Your invoice",
) -> bytes:
    """A stored .eml original, through the pipeline's own Ingest (as the .eml importer does)."""
    raw = raw if raw is not None else raw_email(mid, to, subject)
    store = Store.open(db_path)
    with store.write():
        ingest = Ingest(store, FileResult(source="test.eml"), None)
        ingest.add(
            StoredMessage(mid, "2024-06-20T07:00:00.000Z", SENDER, (to,), subject, len(raw), raw)
        )
        ingest.finish()
    store.close()
    return raw


def import_events(cli: Any, tmp_path: Path, *events: dict[str, Any]) -> None:
    """Events in our own JSONL format, through the real `maillog import`."""
    path = tmp_path / f"events-{time.monotonic_ns()}.jsonl"
    base = {
        "provider": "postfix",
        "direction": "outbound",
        "sender": SENDER,
        "subject": "Your invoice",
    }
    path.write_bytes(b"".join(orjson.dumps({**base, **e}) + b"\n" for e in events))
    r = cli("import", path)
    assert r.exit_code == 0, r


def ev(n: int, mid: str, status: str, ts: str, to: str = RCPT, **more: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{mid}-{n}",
        "message_id": mid,
        "timestamp": ts,
        "status": status,
        "recipient": to,
        **more,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    at: float


@dataclass
class Recorder:
    """An aiosmtpd handler that records envelopes and refuses chosen recipients with 550."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                session.ssl is not None,
                time.monotonic(),
            )
        )
        return "250 2.0.0 Ok: queued as TEST1"


@dataclass
class Server:
    port: int
    handler: Recorder
    ca: Any = None


def _start(handler: Recorder, **kwargs: Any) -> Any:
    from aiosmtpd.controller import Controller

    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), ready_timeout=5, **kwargs
    )
    controller.start()
    return controller


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A plain SMTP server; the CLI is pointed at it through the environment."""
    handler = Recorder()
    controller = _start(handler)
    monkeypatch.setenv("MAILLOG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAILLOG_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("MAILLOG_SMTP_TLS", "none")
    monkeypatch.delenv("MAILLOG_SMTP_CAFILE", raising=False)
    monkeypatch.delenv("MAILLOG_SMTP_FROM", raising=False)
    try:
        yield Server(controller.port, handler)
    finally:
        controller.stop()


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"mailer" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """STARTTLS required, AUTH after TLS only, certificate from a trustme test CA."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    handler = Recorder()
    controller = _start(
        handler,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    monkeypatch.delenv("MAILLOG_SMTP_CAFILE", raising=False)
    monkeypatch.delenv("MAILLOG_SMTP_FROM", raising=False)
    try:
        yield Server(controller.port, handler, ca)
    finally:
        controller.stop()


def run(*args: Any) -> Any:
    """The real app in-process, keeping what was printed before an error (the list above it)."""
    from typer.testing import CliRunner

    from maillog_cli.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)
    if isinstance(r.exception, MaillogError):
        return type(
            "R",
            (),
            {
                "exit_code": 1,
                "stdout": r.stdout,
                "stderr": r.stderr + f"maillog: error: {r.exception}\n",
            },
        )()
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r


def rows(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def resends(db_path: Path) -> list[tuple[Any, ...]]:
    return rows(
        db_path,
        "SELECT message_id, resent_from, provider, last_status FROM messages WHERE resent_from IS NOT NULL ORDER BY first_seen, message_id",
    )


# --- what the server receives ---------------------------------------------------------------


def test_resend_sends_original_unchanged_after_a_resent_block(cli, db_path, smtp_server):
    raw = store_original(db_path)
    r = cli("resend", f"<{ORIG}>", "--yes")
    assert r.exit_code == 0, r
    [got] = smtp_server.handler.received
    assert got.mail_from == SENDER
    assert got.rcpt_tos == [RCPT]
    head, rest = got.content.split(b"\r\n", 4)[:4], got.content.split(b"\r\n", 4)[4]
    assert [h.split(b":", 1)[0] for h in head] == [
        b"Resent-Date",
        b"Resent-From",
        b"Resent-To",
        b"Resent-Message-ID",
    ]
    assert rest == raw  # the original, byte for byte (the leading dot survives SMTP transparency)
    assert head[1] == f"Resent-From: {SENDER}".encode()
    assert head[2] == f"Resent-To: {RCPT}".encode()
    assert re.fullmatch(rb"Resent-Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", head[0])
    new_id = (
        re.fullmatch(rb"Resent-Message-ID: <([^<>@]+@example\.com)>", head[3]).group(1).decode()
    )
    assert new_id != ORIG

    # Recorded: a new message linked to the original, with the server's reply.
    assert resends(db_path) == [(new_id, ORIG, "smtp", "sent")]
    assert rows(
        db_path,
        "SELECT status, provider, sender, recipient, smtp_code, enhanced_code, diagnostic FROM events WHERE message_id = ?",
        new_id,
    ) == [("sent", "smtp", SENDER, RCPT, 250, "2.0.0", "250 2.0.0 Ok: queued as TEST1")]
    assert rows(db_path, "SELECT raw FROM message_content WHERE message_id = ?", new_id) == [
        (got.content,)
    ]
    assert r.stdout == f"sent\t{ORIG}\t{new_id}\t{RCPT}\t250 2.0.0 Ok: queued as TEST1\n"
    assert r.stderr == "resend: 1 sent\n"
    audit = rows(db_path, "SELECT action, target_id, metadata FROM audit")
    assert [(a, t, orjson.loads(m)["resent_as"]) for a, t, m in audit] == [
        ("message.resend", ORIG, new_id)
    ]

    # Visible in `show` of both.
    shown = cli("show", ORIG)
    assert re.search(rf"Resent as\s+{re.escape(new_id)}\n", shown.stdout), shown
    shown = cli("show", new_id)
    assert re.search(rf"Resent from\s+{re.escape(ORIG)}\n", shown.stdout), shown


def test_lf_original_gets_lf_resent_block(cli, db_path, smtp_server):
    store_original(db_path, raw=raw_email(eol=b"\n"))
    assert cli("resend", ORIG, "--yes").exit_code == 0
    stored = rows(db_path, "SELECT raw FROM message_content WHERE message_id != ?", ORIG)[0][0]
    assert stored.startswith(b"Resent-Date: ") and b"\r" not in stored
    assert stored.endswith(raw_email(eol=b"\n"))


def test_to_overrides_the_recipient(cli, db_path, smtp_server):
    store_original(db_path, to="bob@exmaple.org")
    r = cli("resend", ORIG, "--to", "Bob <Bob@Example.org>", "--yes")
    assert r.exit_code == 0, r
    [got] = smtp_server.handler.received
    assert got.rcpt_tos == [RCPT]
    assert f"\r\nResent-To: {RCPT}\r\n".encode() in got.content
    assert b"\r\nTo: <bob@exmaple.org>\r\n" in got.content  # the original itself is unchanged


def test_smtp_from_sets_envelope_sender_and_resent_from(cli, db_path, smtp_server):
    store_original(db_path)
    assert cli("resend", ORIG, "--smtp-from", "ops@relay.example.net", "--yes").exit_code == 0
    [got] = smtp_server.handler.received
    assert got.mail_from == "ops@relay.example.net"
    assert b"Resent-From: ops@relay.example.net\r\n" in got.content
    assert re.search(rb"Resent-Message-ID: <[^>]+@relay\.example\.net>", got.content)


# --- dry run, confirmation, refusal ---------------------------------------------------------


def test_dry_run_shows_envelope_server_headers_and_sends_nothing(cli, db_path, smtp_server):
    store_original(db_path)
    before = rows(db_path, "SELECT count(*) FROM messages")
    r = cli("resend", ORIG, "--dry-run")
    assert r.exit_code == 0, r
    assert smtp_server.handler.received == []
    assert rows(db_path, "SELECT count(*) FROM messages") == before
    out = r.stdout
    assert f"MAIL FROM:<{SENDER}> RCPT TO:<{RCPT}>" in out
    assert f"server    127.0.0.1:{smtp_server.port} (no TLS)" in out
    for header in (
        "Resent-Date: ",
        f"Resent-From: {SENDER}",
        f"Resent-To: {RCPT}",
        "Resent-Message-ID: <",
        "Subject: Your invoice",
        f"Message-ID: <{ORIG}>",
    ):
        assert header in out, header
    assert "(+ 3 more header field(s) and a 56-byte body, unchanged)" in out
    assert r.stderr == "dry run: nothing sent (1 would be sent, 0 not)\n"


def test_without_yes_and_no_terminal_nothing_is_sent(cli, db_path, smtp_server):
    store_original(db_path)
    r = cli("resend", ORIG)
    assert r.exit_code == 1
    assert (
        r.stderr
        == "maillog: error: not sending without confirmation: stdin is not a terminal; add --yes (check first with --dry-run)\n"
    )
    assert smtp_server.handler.received == []
    assert resends(db_path) == []


def test_on_a_terminal_it_asks(cli, db_path, smtp_server, monkeypatch):
    from maillog_cli import context

    store_original(db_path)
    monkeypatch.setattr(context, "stdin_is_terminal", lambda: True)
    r = cli("resend", ORIG, input="n\n")
    assert r.exit_code == 1
    assert (
        r.stderr
        == "maillog: error: nothing sent; answer y to send, or use --dry-run to look first\n"
    )
    assert smtp_server.handler.received == []
    assert resends(db_path) == []
    r = cli("resend", ORIG, input="y\n")
    assert r.exit_code == 0, r
    assert (
        f"MAIL FROM:<{SENDER}> RCPT TO:<{RCPT}>\nSend 1 message(s) through 127.0.0.1:{smtp_server.port}? [y/N]: "
        in r.stdout
    )
    assert len(smtp_server.handler.received) == 1


def test_hard_bounced_recipient_is_refused_unless_forced(cli, db_path, tmp_path, smtp_server):
    store_original(db_path)
    import_events(
        cli,
        tmp_path,
        ev(1, ORIG, "sent", "2024-06-20T07:00:01Z"),
        ev(
            2,
            ORIG,
            "bounced",
            "2024-06-20T07:00:03Z",
            diagnostic="550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown",
        ),
    )
    r = cli("resend", ORIG, "--yes")
    assert r.exit_code == 1
    assert (
        r.stderr
        == f"maillog: error: refused {ORIG}: {RCPT}: hard bounce (user_unknown) on 2024-06-20; --force sends anyway\n"
    )
    assert smtp_server.handler.received == []
    # Fixing the address is not refused; --force overrides.
    assert cli("resend", ORIG, "--to", "bob@example.net", "--yes").exit_code == 0
    assert cli("resend", ORIG, "--force", "--yes").exit_code == 0
    assert [g.rcpt_tos for g in smtp_server.handler.received] == [["bob@example.net"], [RCPT]]
    forced = [
        orjson.loads(m)["forced"]
        for (m,) in rows(db_path, "SELECT metadata FROM audit ORDER BY created_at, id")
    ]
    assert sorted(forced, key=lambda f: f or "") == [
        None,
        f"{RCPT}: hard bounce (user_unknown) on 2024-06-20",
    ]


def test_delivery_after_a_hard_bounce_clears_it_but_a_complaint_never_does(
    cli, db_path, tmp_path, smtp_server
):
    store_original(db_path)
    import_events(
        cli,
        tmp_path,
        ev(1, "old@x", "bounced", "2024-05-01T00:00:00Z", diagnostic="550 5.1.1 user unknown"),
        ev(2, "newer@x", "delivered", "2024-06-01T00:00:00Z"),
    )
    assert cli("resend", ORIG, "--yes").exit_code == 0
    import_events(cli, tmp_path, ev(3, "newer@x", "complained", "2024-06-02T00:00:00Z"))
    r = cli("resend", ORIG, "--yes")
    assert r.exit_code == 1
    assert f"{RCPT}: complained (marked a message as spam) on 2024-06-02" in r.stderr
    assert len(smtp_server.handler.received) == 1


def test_no_stored_content(cli, db_path, tmp_path, smtp_server):
    import_events(cli, tmp_path, ev(1, "logonly@x", "deferred", "2024-06-20T07:00:00Z"))
    r = cli("resend", "<logonly@x>", "--yes")
    assert r.exit_code == 1
    assert (
        r.stderr
        == "maillog: error: no stored content for logonly@x: import the original (.eml, mbox) first\n"
    )
    r = cli("resend", "nosuch@x", "--yes")
    assert r.exit_code == 1 and "no message 'nosuch@x'" in r.stderr
    r = cli("resend", "--status", "deferred", "--yes")
    assert r.exit_code == 1
    assert r.stderr.startswith("maillog: error: no stored content for the 1 matching message(s)")


@pytest.mark.parametrize(
    "to",
    [
        "a@x.example, b@y.example",
        "Evil <e@evil.example>, bob@example.org",
        "bob@example.org, Evil <e@evil.example>",
        "a@x.example; b@y.example",
        "team: a@x.example, b@y.example;",
    ],
)
def test_an_address_list_in_any_form_is_refused(cli, db_path, smtp_server, to):
    """--to takes one address (repeat it for several): a list is never cut to its first name."""
    store_original(db_path)
    r = cli("resend", ORIG, "--to", to, "--yes")
    assert r.exit_code == 1
    assert r.stderr.startswith(
        f"maillog: error: cannot resend {ORIG}: not a usable address: {to.lower()}"
    ), r.stderr
    assert smtp_server.handler.received == []
    assert resends(db_path) == []


def test_a_sender_list_is_refused(cli, db_path, smtp_server):
    store_original(db_path)
    r = cli("resend", ORIG, "--smtp-from", "Ops <ops@example.com>, evil@evil.example", "--yes")
    assert r.exit_code == 1
    assert r.stderr.startswith("maillog: error: not a usable sender address"), r.stderr
    assert smtp_server.handler.received == []


def test_an_address_that_would_inject_headers_is_not_sent(cli, db_path, smtp_server):
    store_original(db_path)
    r = cli("resend", ORIG, "--to", "eve@example.com\r\nBcc: all@example.com", "--yes")
    assert r.exit_code == 1
    assert r.stderr.startswith(
        f"maillog: error: cannot resend {ORIG}: not a usable address: eve@example.com\r\nbcc"
    )
    assert smtp_server.handler.received == []


# --- failures -------------------------------------------------------------------------------


def test_server_refusing_the_recipient_is_recorded_and_the_batch_goes_on(
    cli, db_path, tmp_path, smtp_server
):
    store_original(db_path, "a@mail.example.com", "gone@example.org")
    store_original(db_path, "b@mail.example.com", RCPT)
    import_events(
        cli,
        tmp_path,
        ev(1, "a@mail.example.com", "deferred", "2024-06-20T07:00:01Z", to="gone@example.org"),
        ev(2, "b@mail.example.com", "deferred", "2024-06-20T07:00:02Z"),
    )
    smtp_server.handler.refuse.add("gone@example.org")
    r = run("resend", "--status", "deferred", "--yes")
    assert r.exit_code == 1
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert [(s, o, rc) for s, o, _, rc, _ in lines] == [
        ("failed", "a@mail.example.com", "gone@example.org"),
        ("sent", "b@mail.example.com", RCPT),
    ]
    reply = "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    assert lines[0][4] == reply
    assert (
        r.stderr
        == "resend: 1 sent, 1 failed\nmaillog: error: 1 of 2 message(s) not sent (see the list above; maillog show ID tells more)\n"
    )
    assert [g.rcpt_tos for g in smtp_server.handler.received] == [[RCPT]]
    assert rows(
        db_path,
        "SELECT status, smtp_code, enhanced_code, diagnostic, bounce_class, bounce_reason FROM events WHERE message_id = ?",
        lines[0][2],
    ) == [("failed", 550, "5.1.1", reply, "hard", "user_unknown")]
    assert resends(db_path) == [
        (lines[0][2], "a@mail.example.com", "smtp", "failed"),
        (lines[1][2], "b@mail.example.com", "smtp", "sent"),
    ]


def test_server_down_is_one_clear_line_and_recorded(db_path):
    import subprocess
    import sys

    store_original(db_path, "a@mail.example.com")
    store_original(db_path, "b@mail.example.com")
    port = free_port()  # nothing listens there
    args = [
        "resend",
        "a@mail.example.com",
        "b@mail.example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(port),
        "--tls",
        "none",
        "--yes",
    ]
    p = subprocess.run(
        [sys.executable, "-m", "maillog_cli", *args], capture_output=True, text=True, timeout=60
    )
    r = type("R", (), {"exit_code": p.returncode, "stdout": p.stdout, "stderr": p.stderr})()
    assert r.exit_code == 1
    assert r.stderr == (
        "resend: 1 failed, 1 not attempted\n"
        f"maillog: error: cannot connect to 127.0.0.1:{port}: connection refused; is the server running? check --smtp-host and --smtp-port\n"
    )
    diagnostic = f"ECONNREFUSED: connection refused by 127.0.0.1:{port}"
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert [(s, o, d) for s, o, _, _, d in lines] == [
        ("failed", "a@mail.example.com", diagnostic),
        ("not attempted", "b@mail.example.com", f"stopped after: {diagnostic}"),
    ]
    new_id = lines[0][2]
    assert resends(db_path) == [(new_id, "a@mail.example.com", "smtp", "failed")]
    assert rows(
        db_path,
        "SELECT status, smtp_code, diagnostic, bounce_class, bounce_reason FROM events WHERE message_id = ?",
        new_id,
    ) == [("failed", None, diagnostic, "soft", "network_error")]


# --- TLS and AUTH ---------------------------------------------------------------------------


def test_starttls_with_a_trusted_private_ca_and_auth(
    cli, db_path, tmp_path, tls_server, monkeypatch, capfd
):
    store_original(db_path)
    cafile = tmp_path / "ca.pem"
    tls_server.ca.cert_pem.write_to_path(str(cafile))
    monkeypatch.setenv("MAILLOG_SMTP_PASSWORD", PASSWORD)
    args = (
        "resend",
        ORIG,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        tls_server.port,
        "--cafile",
        cafile,
        "--yes",
    )
    r = cli(*args, "--smtp-user", "mailer")
    assert r.exit_code == 0, r
    [got] = tls_server.handler.received
    assert got.tls is True
    # A wrong password fails the login, recorded, and the password is in no output.
    monkeypatch.setenv("MAILLOG_SMTP_PASSWORD", PASSWORD + "-wrong")
    bad = cli(*args, "--smtp-user", "mailer")
    assert bad.exit_code == 1
    assert bad.stderr.splitlines()[-1].startswith(
        f"maillog: error: 127.0.0.1:{tls_server.port} refused the login of mailer: 535 5.7.8 Authentication credentials invalid"
    )
    assert [
        s
        for (s,) in rows(
            db_path,
            "SELECT last_status FROM messages WHERE resent_from IS NOT NULL ORDER BY first_seen",
        )
    ] == ["sent", "failed"]
    captured = capfd.readouterr()
    store = Store.open(db_path)
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    store.close()
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("maillog.db"))
    import base64

    for secret in (PASSWORD, PASSWORD + "-wrong"):
        forms = [
            secret.encode(),
            base64.b64encode(secret.encode()),
            base64.b64encode(f"\0mailer\0{secret}".encode()),
        ]
        for form in forms:
            assert form not in files
            for text in (r.stdout, r.stderr, bad.stdout, bad.stderr, captured.out, captured.err):
                assert form.decode() not in text


def test_untrusted_certificate_is_refused(cli, db_path, tls_server):
    store_original(db_path)
    r = cli("resend", ORIG, "--smtp-host", "127.0.0.1", "--smtp-port", tls_server.port, "--yes")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1].startswith(
        f"maillog: error: the TLS certificate of 127.0.0.1:{tls_server.port} is not trusted: "
    )
    assert "--cafile" in r.stderr
    assert tls_server.handler.received == []
    [(new_id, _, _, status)] = resends(db_path)
    assert status == "failed"
    assert rows(
        db_path, "SELECT bounce_class, bounce_reason FROM events WHERE message_id = ?", new_id
    ) == [("block", "tls_error")]


def test_starttls_is_required_by_default(cli, db_path, smtp_server, monkeypatch):
    store_original(db_path)
    monkeypatch.delenv("MAILLOG_SMTP_TLS")
    r = cli("resend", ORIG, "--yes")
    assert r.exit_code == 1
    assert (
        r.stderr.splitlines()[-1]
        == f"maillog: error: 127.0.0.1:{smtp_server.port} does not offer STARTTLS; use --tls ssl (port 465), or --tls none only on a network you trust"
    )
    assert smtp_server.handler.received == []


# --- batches --------------------------------------------------------------------------------


def test_batch_selection_rate_limit_and_each_message_once(
    cli, db_path, tmp_path, smtp_server, monkeypatch
):
    from maillog_cli.resend import send as sending

    # When each send was allowed to start, as the pacer decided: the server's receipt times
    # carry the scheduling jitter of a busy machine (a late one makes the next gap short).
    slots: list[float] = []
    real_wait = sending.Pace.wait

    def recording_wait(self: sending.Pace) -> None:
        real_wait(self)
        slots.append(self.next - self.interval)

    monkeypatch.setattr(sending.Pace, "wait", recording_wait)
    ids = [f"m{i}@mail.example.com" for i in range(5)]
    events = []
    for i, mid in enumerate(ids):
        store_original(db_path, mid, f"user{i}@example.org")
        events.append(ev(1, mid, "deferred", f"2024-06-20T07:0{i}:00Z", to=f"user{i}@example.org"))
        events.append(ev(2, mid, "deferred", f"2024-06-20T07:0{i}:30Z", to=f"user{i}@example.org"))
    events.append(
        ev(3, ids[4], "delivered", "2024-06-20T08:00:00Z", to="user4@example.org")
    )  # since delivered: not picked
    import_events(cli, tmp_path, *events)
    started = time.monotonic()
    r = cli("resend", "--status", "deferred", ids[0], "--rate", "10/s", "--yes")
    elapsed = time.monotonic() - started
    assert r.exit_code == 0, r
    received = smtp_server.handler.received
    assert [g.rcpt_tos for g in received] == [[f"user{i}@example.org"] for i in range(4)]
    assert elapsed >= 0.3  # real sleeps: never shorter than asked
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert len(slots) == 4 and min(gaps) >= 0.1 - 1e-9, gaps  # --rate 10/s between sends
    assert r.stderr == "resend: 4 sent\n"


# --- settings -------------------------------------------------------------------------------


def test_settings_come_from_flags_then_environment_then_config(tmp_path, monkeypatch):
    from maillog_cli.resend.settings import resolve_settings

    config = {
        "smtp": {
            "host": "conf.example",
            "port": 2525,
            "user": "conf",
            "tls": "ssl",
            "from": "Ops <OPS@example.com>",
        }
    }
    s = resolve_settings({}, {}, config)
    assert (s.host, s.port, s.user, s.tls, s.sender) == (
        "conf.example",
        2525,
        "conf",
        "ssl",
        "ops@example.com",
    )
    env = {
        "MAILLOG_SMTP_HOST": "env.example",
        "MAILLOG_SMTP_TLS": "none",
        "MAILLOG_SMTP_PASSWORD": PASSWORD,
    }
    s = resolve_settings({}, env, config)
    assert (s.host, s.port, s.user, s.tls) == ("env.example", 2525, "conf", "none")
    s = resolve_settings({"host": "flag.example", "tls": "starttls", "port": None}, env, {})
    assert (s.host, s.port, s.tls) == ("flag.example", 587, "starttls")
    assert PASSWORD not in repr(s) and PASSWORD not in s.describe()
    assert s.describe() == "flag.example:587 (STARTTLS, certificate verified)"
    with pytest.raises(MaillogError, match=r"unknown TLS mode 'tls1' from \$MAILLOG_SMTP_TLS"):
        resolve_settings({}, {"MAILLOG_SMTP_TLS": "tls1"}, {})
    with pytest.raises(MaillogError, match=r"bad SMTP port 'x' from \[smtp\] port"):
        resolve_settings({}, {}, {"smtp": {"port": "x"}})


@pytest.mark.parametrize(
    "config_text, where",
    [
        ('[smtp]\nhost = "h.example"\nsmtp_password = "{pw}"\n', "[smtp] smtp_password"),
        ('[smtp]\nhost = "h.example"\n[smtp.auth]\npassword = "{pw}"\n', "[smtp.auth] password"),
        ('password = "{pw}"\n[smtp]\nhost = "h.example"\n', "password"),
        ('smtp_password = "{pw}"\n', "smtp_password"),
        ('[smtp]\nhost = "h.example"\nPassWord = "{pw}"\n', "[smtp] PassWord"),
        ('[smtp]\nhost = "h.example"\napi-secret = "{pw}"\n', "[smtp] api-secret"),
    ],
)
def test_a_password_anywhere_in_the_config_file_is_refused(
    cli, db_path, tmp_path, smtp_server, config_text, where
):
    config = tmp_path / "config.toml"
    config.write_text(config_text.format(pw=PASSWORD))
    store_original(db_path)
    r = cli("resend", ORIG, "--yes")
    assert r.exit_code == 1
    assert r.stderr.startswith(
        f"maillog: error: config file {config} holds an SMTP password ({where}); remove it; "
    ), r.stderr
    assert PASSWORD not in r.stdout + r.stderr
    assert smtp_server.handler.received == []


def test_a_table_named_like_a_secret_is_judged_by_its_keys(tmp_path):
    from maillog_cli.config import load_config

    config = tmp_path / "config.toml"
    config.write_text('[smtp]\nhost = "h.example"\n[smtp.auth]\nuser = "bob"\n')
    assert load_config()["smtp"]["auth"] == {"user": "bob"}


def test_config_file_is_read_and_never_holds_a_password(
    cli, db_path, tmp_path, smtp_server, monkeypatch
):
    from maillog_cli.config import load_config

    config = tmp_path / "config.toml"
    config.write_text(
        f'retention = "90d"\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\ntls = "none"\nfrom = "ops@example.com"\n'
    )
    assert load_config() == {
        "retention": "90d",
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "tls": "none",
            "from": "ops@example.com",
        },
    }
    for var in ("MAILLOG_SMTP_HOST", "MAILLOG_SMTP_PORT", "MAILLOG_SMTP_TLS"):
        monkeypatch.delenv(var)
    store_original(db_path)
    assert cli("resend", ORIG, "--yes").exit_code == 0
    assert smtp_server.handler.received[0].mail_from == "ops@example.com"

    config.write_text(f'[smtp]\nhost = "127.0.0.1"\npassword = "{PASSWORD}"\n')
    r = cli("resend", ORIG, "--yes")
    assert r.exit_code == 1
    assert r.stderr == (
        f"maillog: error: config file {config} holds an SMTP password ([smtp] password); remove it; "
        "give the password in $MAILLOG_SMTP_PASSWORD or the system keyring (keyring set maillog-smtp USER)\n"
    )
    assert PASSWORD not in r.stderr
    config.write_text("[smtp\nhost=")
    with pytest.raises(MaillogError, match="is not valid TOML"):
        load_config()


def test_send_time_checks(tmp_path):
    from maillog_cli.resend.settings import ready_to_send, resolve_settings

    with pytest.raises(MaillogError, match="no SMTP server to send through"):
        ready_to_send(resolve_settings({}, {}, {}))
    with pytest.raises(MaillogError, match="no password for SMTP user bob"):
        ready_to_send(resolve_settings({"host": "h.example", "user": "bob"}, {}, {}))
    with pytest.raises(
        MaillogError, match="refusing to send the SMTP password unencrypted to h.example"
    ):
        ready_to_send(
            resolve_settings(
                {"host": "h.example", "user": "bob", "tls": "none"},
                {"MAILLOG_SMTP_PASSWORD": "x"},
                {},
            )
        )
    with pytest.raises(MaillogError, match="CA file .*missing.pem not found"):
        ready_to_send(
            resolve_settings({"host": "h.example", "cafile": str(tmp_path / "missing.pem")}, {}, {})
        )
    assert (
        ready_to_send(
            resolve_settings(
                {"host": "127.0.0.1", "user": "bob", "tls": "none"},
                {"MAILLOG_SMTP_PASSWORD": "x"},
                {},
            )
        ).password
        == "x"
    )


def test_rate_and_scrub():
    from maillog_cli.resend.send import Pace
    from maillog_cli.resend.settings import parse_rate
    from maillog_cli.resend.smtp import scrub

    assert [parse_rate(t) for t in ("5/s", "10", "120/m", "3600/h", "0.5/s")] == [5, 10, 2, 1, 0.5]
    for bad in ("0/s", "fast", "5/d", "-1/s"):
        with pytest.raises(MaillogError, match="bad --rate"):
            parse_rate(bad)
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pace = Pace(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        pace.wait()
    clock[0] += 1.0  # a slow send: no wait after it
    pace.wait()
    assert slept == [0.25, 0.25]
    text = "535 bad AUTH PLAIN AG1haWxlcgBwdw== for pw"
    assert scrub(text, "mailer", "pw") == "535 bad AUTH PLAIN *** for ***"


def test_nothing_selected_is_a_usage_message(cli):
    r = cli("resend", "--yes")
    assert r.exit_code == 1
    assert r.stderr.startswith("maillog: error: nothing selected")


def test_implicit_tls(cli, db_path, tmp_path):
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    handler = Recorder()
    controller = _start(handler, ssl_context=context)
    try:
        store_original(db_path)
        r = cli(
            "resend",
            ORIG,
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            controller.port,
            "--tls",
            "ssl",
            "--cafile",
            cafile,
            "--yes",
        )
        assert r.exit_code == 0, r
        assert [g.rcpt_tos for g in handler.received] == [[RCPT]]
    finally:
        controller.stop()


def test_one_recipient_refused_of_two_is_partly_sent(cli, db_path, smtp_server):
    store_original(db_path)
    smtp_server.handler.refuse.add("gone@example.org")
    r = run("resend", ORIG, "--to", RCPT, "--to", "gone@example.org", "--yes")
    assert r.exit_code == 1
    [line] = [row.split("\t") for row in r.stdout.splitlines()]
    assert line[0] == "partly sent"
    assert [g.rcpt_tos for g in smtp_server.handler.received] == [[RCPT]]
    assert (
        b"\r\nResent-To: bob@example.org, gone@example.org\r\n"
        in smtp_server.handler.received[0].content
    )
    assert rows(
        db_path,
        "SELECT recipient, status, smtp_code FROM events WHERE message_id = ? ORDER BY recipient",
        line[2],
    ) == [
        (RCPT, "sent", 250),
        ("gone@example.org", "failed", 550),
    ]


def test_an_email_to_several_people_is_resent_only_to_those_named(
    cli, db_path, tmp_path, smtp_server
):
    """Red team: the message row keeps one of an email's recipients, and resend chose that
    one for the user (a copy again for alice, who had it; none for carol). Now it asks."""
    eml = tmp_path / "two.eml"
    eml.write_bytes(
        raw_email().replace(b"To: <bob@example.org>", b"To: alice@example.org, carol@example.org")
    )
    assert cli("import", eml).exit_code == 0
    r = cli("resend", ORIG, "--yes")
    assert r.exit_code == 1
    assert (
        "it went to 2 recipients (alice@example.org, carol@example.org); choose with --to ADDRESS"
        in r.stderr
    )
    assert smtp_server.handler.received == []
    r = cli("resend", ORIG, "--to", "carol@example.org", "--yes")
    assert r.exit_code == 0, r
    [got] = smtp_server.handler.received
    assert got.rcpt_tos == ["carol@example.org"]

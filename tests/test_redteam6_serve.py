"""Red team 6: `maillog serve` facing whoever can reach its port.

- A malformed HTTP request (a header it cannot parse, a body encoding it cannot decode)
  was answered 400 by aiohttp but logged with a full traceback, lines without the
  `maillog serve:` prefix and the sender's text unescaped: anyone could fill the log.
- A replay is refused by a token that is a function of the signed content, and a signed
  timestamp must be a finite number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.hooks import Keys, Request, Server, body, sign


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("serve6"), keys).start()
    yield srv
    assert srv.stop() == 0, srv.lines


def raw_request(srv: Server, data: bytes) -> int:
    """Send bytes as they are; the status of the answer (0 when the server only closed)."""
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    head = answer.split(b"\r\n", 1)[0].split()
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else 0


def _post(path: str, headers: str, data: bytes) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + data


MALFORMED = {
    "brotli": _post("/hooks/brevo", "Content-Encoding: br\r\nContent-Length: 2\r\n", b"[]"),
    "zstd": _post("/hooks/brevo", "Content-Encoding: zstd\r\nContent-Length: 2\r\n", b"[]"),
    "length": _post("/hooks/brevo", "Content-Length: 12x\r\n", b"[]"),
    "two lengths": _post("/hooks/brevo", "Content-Length: 2\r\nContent-Length: 3\r\n", b"[]"),
    "chunked": _post("/hooks/brevo", "Transfer-Encoding: chunked\r\n", b"zz\r\n[]\r\n0\r\n\r\n"),
    "header": _post("/hooks/brevo", "Bad\x1b[31m Header: x\r\nContent-Length: 2\r\n", b"[]"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_request_is_a_4xx_and_one_log_line(server: Server, case: str) -> None:
    before = len(server.lines)
    status = raw_request(server, MALFORMED[case])
    assert 400 <= status < 500, status
    time.sleep(0.2)  # the log line is written by the server, read by a thread here
    new = server.lines[before:]
    assert not any("Traceback" in line for line in new), new
    assert all(line.startswith("maillog serve: ") for line in new), new
    assert not any("\x1b" in line for line in new), new
    assert any("bad HTTP request" in line for line in new), new
    # and the server still answers
    status, _ = server.post(sign(server.keys, "brevo", body("brevo", f"after-{case}")))
    assert status == 200


# --- replays: a token that is a function of what is signed -------------------------------

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _malleated(signature_b64: str) -> str:
    """The other ECDSA signature of the same content: (r, n - s) verifies as well."""
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )

    r, s = decode_dss_signature(base64.b64decode(signature_b64))
    return base64.b64encode(encode_dss_signature(r, P256_ORDER - s)).decode()


def test_a_sendgrid_replay_with_the_other_signature_is_refused(server: Server) -> None:
    """The replay check keyed on the signature's bytes: the same request re-signed by
    anyone holding it (no key needed) passed as new within the 5 minutes."""
    req = sign(server.keys, "sendgrid", body("sendgrid", "malleable"))
    assert server.post(req)[0] == 200
    header = "X-Twilio-Email-Event-Webhook-Signature"
    again = Request(
        req.provider, req.data, {**req.headers, header: _malleated(req.headers[header])}
    )
    status, said = server.post(again)
    assert (status, said.strip()) == (403, "replayed: this signature was already used")


def test_a_signed_timestamp_that_is_not_a_number_is_refused(server: Server) -> None:
    """'nan' passed the freshness check (nothing is more than 300 s from NaN)."""
    keys = server.keys
    obj = json.loads(body("mailgun", "nan-stamp"))
    token = "f" * 50
    mac = hmac.new(keys.mailgun.encode(), ("nan" + token).encode(), hashlib.sha256).hexdigest()
    obj["signature"] = {"timestamp": "nan", "token": token, "signature": mac}
    status, said = server.post(Request("mailgun", json.dumps(obj).encode()))
    assert (status, said.strip()) == (401, "signature.timestamp is not a Unix time")
    assert server.events("recipient = ?", "nan-stamp@example.com") == 0


# --- slow clients: a stalled body or request holds a connection only so long -----------------


def _stalled(port: int, data: bytes, wait: float = 8.0) -> tuple[float, bytes]:
    """Send `data` and then nothing; (seconds until the server answered or closed, what it said)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        start = time.monotonic()
        try:
            said = sock.recv(65536)
        except TimeoutError:
            said = b"(still open)"
        return time.monotonic() - start, said


def test_a_stalled_body_gets_408_and_a_stalled_request_is_closed(tmp_path) -> None:
    """A client that sent headers and part of a body (or half a request) and then nothing
    held its connection for ever (half a request: an hour), so a few hundred of them used
    up the file descriptors the providers' requests need."""
    import asyncio

    from aiohttp import web

    from maillog_cli.serve.app import Options, Receiver, app_runner
    from maillog_cli.serve.settings import Provider
    from maillog_cli.store.db import Store

    store = Store.open(tmp_path / "m.db")
    lines: list[str] = []
    opts = Options(port=0, body_seconds=0.5, idle_seconds=1.0)
    receiver = Receiver(store, {"brevo": Provider("brevo", verify=False)}, opts, lines.append)

    async def scenario() -> list[tuple[float, bytes]]:
        runner = app_runner(receiver)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        loop = asyncio.get_running_loop()
        try:
            stalled_body = _post("/hooks/brevo", "Content-Length: 100\r\n", b'[{"event"')
            half_request = b"POST /hooks/brevo HTTP/1.1\r\nHost: x\r\n"
            whole = _post("/hooks/brevo", "Content-Length: 2\r\n", b"[]")
            return [
                await loop.run_in_executor(None, _stalled, port, data)
                for data in (stalled_body, half_request, whole)
            ]
        finally:
            await runner.cleanup()

    try:
        (body_s, body_said), (half_s, half_said), (_, whole_said) = asyncio.run(scenario())
    finally:
        receiver.writer.close()
        store.close()
    assert body_said.startswith(b"HTTP/1.1 408 ") and body_s < 4, (body_s, body_said)
    assert b"body not received within 0.5 s" in body_said
    assert half_said == b"" and half_s < 4, (half_s, half_said)  # closed
    assert whole_said.startswith(b"HTTP/1.1 200 ")  # a request that arrives is served
    assert any("408 slow_body" in line for line in lines), lines


# --- providers checking the URL before they add a webhook -----------------------------------


def test_head_on_an_enabled_hook_is_200_so_mandrill_can_add_the_webhook(server: Server) -> None:
    """Mandrill checks a new webhook URL with HEAD and, without a 200, falls back to a POST
    signed with the generic key 'test-webhook', which verification refuses (403): the
    webhook could not be added."""
    from tests.serve.hooks import http

    before = server.events()
    assert http(server.url + "/hooks/mandrill", method="HEAD")[0] == 200
    assert http(server.url + "/hooks/nosuch", method="HEAD")[0] == 404
    assert server.events() == before  # a probe stores nothing


def test_a_client_resetting_before_the_answer_is_one_line_not_a_bug(server: Server) -> None:
    import struct

    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    events = [
        {"event": "delivered", "email": f"r{i}@b.example", "id": 1, "date": "2024-01-01 00:00:00",
         "message-id": f"<r{i}@y>", "ts_event": 1764000000}
        for i in range(3000)
    ]  # fmt: skip
    data = json.dumps(events).encode()
    req = sign(server.keys, "brevo", data)
    before = len(server.lines)
    for _ in range(3):
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        head = f"POST /hooks/brevo?{req.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
        sock.sendall(head.encode() + data)
        sock.close()  # a reset before the answer
        time.sleep(0.3)
    new = server.lines[before:]
    assert server.proc is not None and server.proc.poll() is None  # still serving
    assert not any("Traceback" in line or "maillog bug" in line for line in new), new
    assert all(line.startswith("maillog serve: ") for line in new), new
    assert server.post(sign(server.keys, "brevo", body("brevo", "after-reset")))[0] == 200


# --- the store file removed or replaced under a running server ----------------------------


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_store_removed_or_replaced_is_503_not_a_lost_2xx(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, how: str
) -> None:
    """The connection kept writing to the file it had opened: after `rm maillog.db` (or a
    backup moved over it) every request was answered 200 and its events went into a file
    nobody would read again, and /healthz said ok."""
    import os
    import shutil

    srv = Server(tmp_path_factory.mktemp(f"serve-{how}"), keys).start()
    try:
        assert srv.post(sign(keys, "brevo", body("brevo", f"{how}-1")))[0] == 200
        if how == "replaced":
            shutil.copy(srv.db, srv.home / "backup.db")
            os.replace(srv.home / "backup.db", srv.db)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{srv.db}{suffix}").unlink(missing_ok=True)
        status, said = srv.post(sign(keys, "brevo", body("brevo", f"{how}-2")))
        assert status == 503, said  # the provider keeps it and retries
        assert "was removed or replaced while maillog had it open; restart maillog serve" in said
        assert srv.get("/healthz")[0] == 503
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("topic", [["arn:aws:sns:us-east-1:1:t"], {"arn": 1}])
def test_an_sns_topic_that_is_not_text_is_refused_not_a_500(server: Server, topic) -> None:
    """Anyone could post it (nothing signed yet): the topic was looked up in a set as it
    came, and a list or an object raised TypeError, a 500 logged as a maillog bug."""
    from tests.serve.hooks import CERT_URL

    msg = {
        "Type": "Notification", "MessageId": "m", "TopicArn": topic, "Message": "{}",
        "Timestamp": "2024-01-01T00:00:00Z", "SignatureVersion": "1", "Signature": "AAAA",
        "SigningCertURL": CERT_URL,
    }  # fmt: skip
    before = len(server.lines)
    status, said = server.post(Request("ses", json.dumps(msg).encode()))
    assert (status, said.strip()) == (403, "TopicArn is not in [serve.ses] topic_arn")
    assert not any("bug" in line for line in server.lines[before:])


# --- where it listens ----------------------------------------------------------------------


def test_an_empty_host_is_refused_not_every_interface(tmp_path: Path) -> None:
    """`--host "$HOST"` with the variable unset listened on every interface (aiohttp reads
    an empty host as all of them), while the default is loopback only."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "MAILLOG_DB": str(tmp_path / "m.db"), "PYTHONPATH": str(root)}
    env["MAILLOG_CONFIG"] = str(tmp_path / "none.toml")
    try:
        r = subprocess.run(
            [sys.executable, "-m", "maillog_cli", "serve", "--no-verify", "brevo", "--host", "",
             "--port", "0"],
            env=env, capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"it listened: {exc.stderr!r}") from None
    assert r.returncode == 1
    assert "maillog: error: --host is empty" in r.stderr


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
def test_an_ipv6_address_is_shown_as_a_url_that_works(tmp_path: Path, keys: Keys) -> None:
    """'listening on http://::1:8787' is no URL: the address needs brackets."""
    srv = Server(tmp_path, keys, ("--host", "::1")).start()
    try:
        assert srv.url.startswith("http://[::1]:"), srv.url
        assert srv.post(sign(keys, "brevo", body("brevo", "v6")))[0] == 200
    finally:
        assert srv.stop() == 0


def test_an_ses_topic_wildcard_is_warned_on_every_start(tmp_path: Path) -> None:
    """topic_arn = "*" turns off the topic check (SNS signs messages for anyone's topics,
    so any AWS account could post events) and was accepted without a word."""
    (tmp_path / "config.toml").write_text('[serve.ses]\ntopic_arn = "*"\n')
    srv = Server(tmp_path, None).start()
    try:
        assert any(
            'WARNING: /hooks/ses accepts SNS messages of ANY topic (topic_arn "*")' in line
            for line in srv.lines
        ), srv.lines
    finally:
        assert srv.stop() == 0


def test_sigterm_right_after_listening_is_a_clean_exit(tmp_path: Path, keys: Keys) -> None:
    """The 'listening on' line came before the SIGTERM handler was installed: a supervisor
    stopping the server as soon as it said it listens killed it (-15) instead of draining."""
    for n in range(3):
        (tmp_path / f"run{n}").mkdir()
        srv = Server(tmp_path / f"run{n}", keys).start()
        assert srv.stop() == 0, srv.lines

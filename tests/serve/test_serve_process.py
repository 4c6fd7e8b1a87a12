"""`maillog serve` as a process: what it refuses at start-up, what a crash, a SIGTERM or a
locked store do to acknowledged events, and how soon a follower sees them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serve.hooks import Keys, Server, body, sign


def _config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = Path(os.environ["MAILLOG_CONFIG"])
    path.write_text(text)
    path.chmod(mode)
    return path


# --- start-up refusals (in-process: they happen before anything listens) --------------------


def test_no_secret_at_all_is_refused(cli) -> None:
    r = cli("serve")
    assert r.exit_code == 1
    assert "no webhook secret configured" in r.stderr and "--no-verify" in r.stderr


def test_a_config_file_with_secrets_readable_by_others_is_refused(cli, tmp_path: Path) -> None:
    path = _config(tmp_path, '[serve.brevo]\ntoken = "tok-0123456789"\n', 0o644)
    r = cli("serve")
    assert r.exit_code == 1
    assert f"chmod 600 {path}" in r.stderr
    assert "tok-0123456789" not in r.stderr
    # The rule lives where the config is read, so every command that reads it refuses too.
    from maillog_cli.config import load_config
    from maillog_cli.errors import MaillogError

    with pytest.raises(MaillogError, match="chmod 600"):
        load_config(path)


def test_a_config_with_only_public_keys_needs_no_chmod(tmp_path: Path) -> None:
    from maillog_cli.config import load_config

    path = _config(tmp_path, '[serve.ses]\ntopic_arn = "arn:aws:sns:us-east-1:1:t"\n', 0o644)
    assert load_config(path)["serve"]["ses"]["topic_arn"].startswith("arn:")


def test_a_port_in_use_is_refused_in_one_line(cli, tmp_path: Path) -> None:
    import socket

    _config(tmp_path, '[serve.brevo]\ntoken = "t-0123456789"\n')
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        r = cli("serve", "--port", str(port))
    assert r.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr


def test_an_incomplete_secret_is_refused_naming_what_is_missing(cli, tmp_path: Path) -> None:
    _config(tmp_path, '[serve.mandrill]\nkey = "k-0123456789"\n')
    r = cli("serve")
    assert r.exit_code == 1
    assert "[serve.mandrill]" in r.stderr and "key + url" in r.stderr
    assert "k-0123456789" not in r.stderr


def test_a_damaged_public_key_is_refused_at_start_without_showing_it(cli, tmp_path: Path) -> None:
    _config(tmp_path, '[serve.sendgrid]\npublic_key = "bm90LWEta2V5LXNlY3JldA=="\n')
    r = cli("serve")
    assert r.exit_code == 1
    assert "[serve.sendgrid] public_key" in r.stderr and "is not a public key" in r.stderr
    assert "bm90LWEta2V5" not in r.stderr


def test_an_unknown_provider_or_key_is_refused(cli, tmp_path: Path) -> None:
    _config(tmp_path, '[serve.brevo]\ntoken = "t-0123456789"\n')
    assert "--no-verify nosuch: unknown provider" in cli("serve", "--no-verify", "nosuch").stderr
    _config(tmp_path, '[serve.brevo]\napi_key = "t-0123456789"\n')
    assert "unknown key 'api_key'" in cli("serve").stderr


# --- the process ----------------------------------------------------------------------------------


def test_no_verify_warns_on_start_and_env_secrets_work(tmp_path: Path) -> None:
    keys = Keys()
    env = {"MAILLOG_SERVE_SPARKPOST_TOKEN": keys.token}
    srv = Server(tmp_path, None, ("--no-verify", "postmark"), env).start()
    try:
        assert any("WARNING: /hooks/postmark accepts events from anyone" in x for x in srv.lines)
        assert srv.post("/hooks/postmark", body("postmark", "nv1"), {})[0] == 200
        assert srv.post(sign(keys, "sparkpost", body("sparkpost", "env1")))[0] == 200
        assert srv.post("/hooks/sparkpost", body("sparkpost", "env2"), {})[0] == 401
        assert srv.post("/hooks/brevo", b"{}", {})[0] == 404  # not configured: no endpoint
        assert srv.events() == 2
    finally:
        assert srv.stop() == 0


@pytest.mark.slow
def test_a_locked_store_answers_503_and_the_retry_is_stored_once(tmp_path: Path) -> None:
    keys = Keys()
    srv = Server(tmp_path, keys, (), {"MAILLOG_LOCK_TIMEOUT": "0.5"}).start()
    try:
        assert srv.post(sign(keys, "postal", body("postal", "warm")))[0] == 200
        other = sqlite3.connect(srv.db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the store
        status, text = srv.post(sign(keys, "postal", body("postal", "locked")))
        assert status == 503 and "retry later" in text
        status, text = srv.get("/healthz")
        assert status == 503 and text.startswith("store not writable: another process has held")
        other.execute("ROLLBACK")
        other.close()
        assert srv.events("recipient = 'locked@example.com'") == 0
        # The provider retries: stored, once.
        for _ in range(2):
            assert srv.post(sign(keys, "postal", body("postal", "locked")))[0] == 200
        assert srv.events("recipient = 'locked@example.com'") == 1
        assert srv.get("/healthz") == (200, "ok\n")
    finally:
        assert srv.stop() == 0


def _load(srv: Server, keys: Keys, n: int, tag: str) -> tuple[list[str], threading.Event]:
    """Post n one-event requests from 8 threads; returns the ids that got a 2xx (filled in
    as answers come) and an event set when half have answered."""
    acked: list[str] = []
    half = threading.Event()

    def one(i: int) -> None:
        u = f"{tag}{i}"
        try:
            status, _ = srv.post(sign(keys, "sendgrid", body("sendgrid", u)), timeout=10)
        except OSError:
            return
        if status == 200:
            acked.append(u)
            if len(acked) >= n // 2:
                half.set()

    pool = ThreadPoolExecutor(8)
    for i in range(n):
        pool.submit(one, i)
    pool.shutdown(wait=False)
    return acked, half


@pytest.mark.slow
def test_kill_9_mid_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    keys = Keys()
    srv = Server(tmp_path, keys).start()
    acked, half = _load(srv, keys, 400, "k")
    assert half.wait(30)
    srv.proc.kill()  # type: ignore[union-attr]  # SIGKILL: no drain, no cleanup
    srv.proc.wait(10)  # type: ignore[union-attr]
    time.sleep(0.5)  # the clients' last answers (there are none after the kill)
    seen = list(acked)
    assert len(seen) >= 200
    srv.start()  # restart on the same store
    try:
        missing = [u for u in seen if srv.events("recipient = ?", f"{u}@example.com") != 1]
        assert missing == []
        assert srv.post(sign(keys, "sendgrid", body("sendgrid", "after")))[0] == 200
    finally:
        assert srv.stop() == 0


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_and_exits_0(tmp_path: Path) -> None:
    keys = Keys()
    srv = Server(tmp_path, keys).start()
    acked, half = _load(srv, keys, 300, "t")
    assert half.wait(30)
    assert srv.stop(signal.SIGTERM) == 0
    time.sleep(0.5)
    seen = list(acked)
    assert [u for u in seen if srv.events("recipient = ?", f"{u}@example.com") != 1] == []


@pytest.mark.slow
def test_tail_follow_sees_a_posted_event_within_a_second(tmp_path: Path) -> None:
    keys = Keys()
    srv = Server(tmp_path, keys).start()
    tail = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "-F", "-n", "0", "--format", "jsonl"],
        env=srv.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        time.sleep(1.5)  # the follower is up and has read the (empty) store
        posted = time.monotonic()
        assert srv.post(sign(keys, "sendgrid", body("sendgrid", "live")))[0] == 200
        line = tail.stdout.readline()  # type: ignore[union-attr]
        assert time.monotonic() - posted < 1.0
        assert "live@example.com" in line
    finally:
        tail.terminate()
        tail.wait(10)
        assert srv.stop() == 0


@pytest.mark.slow
def test_the_minute_summary_goes_to_stderr(tmp_path: Path) -> None:
    keys = Keys()
    srv = Server(tmp_path, keys, ("--summary-every", "1")).start()
    try:
        srv.post(sign(keys, "brevo", body("brevo", "sum")))
        time.sleep(1.6)
    finally:
        assert srv.stop() == 0
    assert any(
        "in the last 1 s 1 requests, 1 events stored, 0 duplicates, 0 refused" in x
        for x in srv.lines
    ), srv.lines


def test_confirm_subscriptions_visits_only_sns_urls(tmp_path: Path) -> None:
    """A signed confirmation whose SubscribeURL points elsewhere is never visited."""
    import json

    from tests.serve.hooks import CERT_URL, TOPIC

    keys = Keys()
    srv = Server(tmp_path, keys, ("--confirm-subscriptions",)).start()
    obj = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "sub-2",
        "Token": "tok",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://evil.example/?Action=ConfirmSubscription",
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "SignatureVersion": "1",
        "SigningCertURL": CERT_URL,
    }
    try:
        assert srv.post(sign(keys, "ses", json.dumps(obj).encode()))[0] == 200
    finally:
        assert srv.stop() == 0
    assert any("not confirmed: SubscribeURL is not an https://sns" in x for x in srv.lines), (
        srv.lines
    )
    assert srv.events() == 0

"""`maillog serve` as a provider meets it: the real server in a subprocess on an ephemeral
port, a real HTTP client, requests signed with keys the test made. Every provider: a good
request is stored; a bad, missing, stale or replayed one is refused with nothing stored;
a retry of the same events is stored once."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.hooks import (
    CERT_URL,
    PROVIDERS,
    TOPIC,
    Keys,
    Request,
    Server,
    body,
    gz,
    http,
    sign,
    tamper,
    unsigned,
)

# Providers whose requests carry a signed time (stale ones refused) and a one-time value
# (a replay refused). The others sign only the body (or send a shared secret): a replay
# of theirs is the same events again, stored once.
TIMED = ("sendgrid", "mailgun", "resend")
# Providers that sign the time the request was first made and send the same signed request
# again on their retries (SNS for at most an hour, its hard limit; Postal 36 minutes): one
# older than that is refused; a retry, the same request again, is stored once.
RESENT = ("ses", "postal")
_ids = itertools.count()


def uid(tag: str) -> str:
    return f"{tag}{next(_ids)}x{int(time.time() * 1000) % 100000}"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("serve"), keys, ("--save-raw", "raw")).start()
    yield srv
    assert srv.stop() == 0, srv.lines


def stored(srv: Server, u: str) -> int:
    return srv.events("recipient = ?", f"{u}@example.com")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_good_request_is_stored_and_a_retry_stored_once(
    server: Server, keys: Keys, provider: str
) -> None:
    u = uid(provider)
    status, text = server.post(sign(keys, provider, body(provider, u)))
    assert (status, text) == (200, "ok: 1 stored, 0 already stored\n")
    assert stored(server, u) == 1
    # The provider's retry: the same events, signed again later (a new timestamp and token;
    # the same signed content again is a replay, whatever its signature's bytes).
    status, text = server.post(sign(keys, provider, body(provider, u), now=time.time() + 1))
    assert (status, text) == (200, "ok: 0 stored, 1 already stored\n")
    assert stored(server, u) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_bad_signature_is_refused_and_nothing_stored(
    server: Server, keys: Keys, provider: str
) -> None:
    u = uid(provider)
    status, text = server.post(tamper(sign(keys, provider, body(provider, u))))
    assert status == 403, text
    assert "does not verify" in text
    assert server.events("recipient LIKE ?", f"{u}@%") == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_missing_signature_is_refused_and_nothing_stored(
    server: Server, keys: Keys, provider: str
) -> None:
    u = uid(provider)
    status, text = server.post(unsigned(sign(keys, provider, body(provider, u))))
    assert status == 401, text
    assert text.startswith("no ")
    assert stored(server, u) == 0


@pytest.mark.parametrize("provider", TIMED)
def test_a_stale_request_is_refused(server: Server, keys: Keys, provider: str) -> None:
    u = uid(provider)
    status, text = server.post(sign(keys, provider, body(provider, u), now=time.time() - 3600))
    assert status == 401, text
    assert "stale" in text
    assert stored(server, u) == 0


@pytest.mark.parametrize("provider", TIMED)
def test_a_replayed_request_is_refused(server: Server, keys: Keys, provider: str) -> None:
    u = uid(provider)
    req = sign(keys, provider, body(provider, u))
    assert server.post(req)[0] == 200
    status, text = server.post(req)
    assert (status, text) == (403, "replayed: this signature was already used\n")
    assert stored(server, u) == 1


@pytest.mark.parametrize("provider", RESENT)
def test_a_request_older_than_the_provider_s_retries_is_refused(
    server: Server, keys: Keys, provider: str
) -> None:
    u = uid(provider)
    status, text = server.post(sign(keys, provider, body(provider, u), now=time.time() - 7200))
    assert status == 401, text
    assert "stale" in text
    assert stored(server, u) == 0
    status, text = server.post(sign(keys, provider, body(provider, u), now=time.time() + 3600))
    assert status == 401 and "stale" in text, text  # from the future: a forged clock
    assert stored(server, u) == 0


@pytest.mark.parametrize("provider", RESENT)
def test_a_late_retry_within_the_provider_s_span_is_stored_once(
    server: Server, keys: Keys, provider: str
) -> None:
    u = uid(provider)
    req = sign(keys, provider, body(provider, u), now=time.time() - 1800)
    assert server.post(req) == (200, "ok: 1 stored, 0 already stored\n")
    assert server.post(req) == (200, "ok: 0 stored, 1 already stored\n")
    assert stored(server, u) == 1


def test_a_postal_request_without_its_signed_time_is_refused(server: Server, keys: Keys) -> None:
    u = uid("postal")
    obj = json.loads(body("postal", u))
    del obj["timestamp"]
    data = json.dumps(obj).encode()
    req = sign(keys, "postal", data)
    unsigned_time = json.loads(req.data)
    del unsigned_time["timestamp"]  # re-signed without it, as a forger of old events would
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    req.data = json.dumps(unsigned_time).encode()
    sig = keys.postal.sign(req.data, padding.PKCS1v15(), hashes.SHA256())
    req.headers["X-Postal-Signature-256"] = __import__("base64").b64encode(sig).decode()
    status, text = server.post(req)
    assert status == 401 and "timestamp" in text, text
    assert stored(server, u) == 0


def test_a_wrong_secret_is_refused(server: Server, provider: str = "sparkpost") -> None:
    other = Keys(token="tok-guessed-wrong-000")
    u = uid("wrong")
    assert server.post(sign(other, "sparkpost", body("sparkpost", u)))[0] == 403
    other = Keys(basic=("hookuser", "wrong-password"))
    assert server.post(sign(other, "postmark", body("postmark", u)))[0] == 403
    assert server.events("recipient = ?", f"{u}@example.com") == 0


# --- SES through SNS -----------------------------------------------------------------------


def _sns(keys: Keys, u: str, **changes: str) -> Request:
    obj = json.loads(body("ses", u))
    obj.update(changes)
    return sign(keys, "ses", json.dumps(obj).encode())


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-0000.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-0000.pem",
    ],
)
def test_an_sns_certificate_from_anywhere_else_is_refused_even_when_cached(
    server: Server, keys: Keys, url: str
) -> None:
    keys.seed_cert_cache(server.cache, url)  # a cached copy does not loosen the host rule
    u = uid("snsurl")
    status, text = server.post(_sns(keys, u, SigningCertURL=url))
    assert status == 403 and "SigningCertURL" in text, text
    assert stored(server, u) == 0


def test_sns_signature_version_2_and_an_unknown_topic(server: Server, keys: Keys) -> None:
    u = uid("sns2")
    assert server.post(_sns(keys, u, SignatureVersion="2"))[0] == 200
    assert stored(server, u) == 1
    v = uid("snstopic")
    status, text = server.post(_sns(keys, v, TopicArn="arn:aws:sns:us-east-1:999999999999:theirs"))
    assert status == 403 and "TopicArn" in text
    assert stored(server, v) == 0


def test_sns_subscription_confirmation_prints_the_url_and_stores_nothing(
    server: Server, keys: Keys
) -> None:
    before = server.events()
    obj = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "sub-1",
        "Token": "tok",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "SignatureVersion": "1",
        "SigningCertURL": CERT_URL,
    }
    assert server.post(sign(keys, "ses", json.dumps(obj).encode()))[0] == 200
    time.sleep(0.2)
    assert any(
        "confirm it by visiting https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
        in x
        for x in server.lines
    )
    assert server.events() == before


# --- limits, health, metrics -----------------------------------------------------------------


def test_routes_methods_and_malformed_bodies(server: Server, keys: Keys) -> None:
    assert server.post("/hooks/nosuch", b"{}")[0] == 404
    assert server.post("/elsewhere", b"{}")[0] == 404
    assert http(server.url + "/hooks/sendgrid")[0] == 405
    status, text = server.post(sign(keys, "sendgrid", b"this is not json"))
    assert status == 400 and text.count("\n") == 1 and "not JSON" in text
    status, text = server.post(sign(keys, "postmark", json.dumps({"Some": "thing"}).encode()))
    assert status == 400 and text.count("\n") == 1, text


def test_a_body_over_the_cap_gets_413(server: Server, keys: Keys) -> None:
    big = b"[" + b" " * (6 << 20) + b"]"
    assert server.post(sign(keys, "postmark", big))[0] == 413


def test_gzip_bodies_are_accepted(server: Server, keys: Keys) -> None:
    u = uid("gz")
    req = sign(keys, "postal", body("postal", u))
    req.headers["Content-Encoding"] = "gzip"
    assert server.post(Request("postal", gz(req.data), req.headers))[0] == 200
    v = uid("gzmagic")
    req = sign(keys, "brevo", gz(body("brevo", v)))  # gzip without the header: by its magic
    assert server.post(req)[0] == 200
    assert stored(server, u) == stored(server, v) == 1


def test_healthz_and_metrics(server: Server, keys: Keys) -> None:
    assert server.get("/healthz") == (200, "ok\n")
    server.post(tamper(sign(keys, "mailgun", body("mailgun", uid("m")))))
    status, text = server.get("/metrics")
    assert status == 200
    assert "# TYPE maillog_serve_events_stored_total counter" in text
    assert (
        'maillog_serve_requests_rejected_total{provider="mailgun",reason="bad_signature"}' in text
    )
    line = next(
        x
        for x in text.splitlines()
        if x.startswith('maillog_serve_events_stored_total{provider="sendgrid"}')
    )
    assert int(line.split()[-1]) >= 1


def test_secrets_never_reach_the_log_or_the_store(server: Server, keys: Keys) -> None:
    for provider in PROVIDERS:
        server.post(tamper(sign(keys, provider, body(provider, uid("s")))))
    time.sleep(0.2)
    log = "\n".join(server.lines)
    assert "/hooks/postmark: 403 bad_signature" in log
    dump = "\n".join(sqlite3.connect(server.db).iterdump())
    for secret in keys.secrets():
        assert secret not in log
        assert secret not in dump


# --- the same store as `maillog import` --------------------------------------------------------


def _rows(db: Path) -> list[tuple[object, ...]]:
    from maillog_cli.store.db import EVENT_COLUMNS

    cols = ", ".join(c for c in EVENT_COLUMNS if c != "import_id")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return sorted(conn.execute(f"SELECT {cols} FROM events"), key=repr)
    finally:
        conn.close()


def _fixture_bodies() -> Iterator[tuple[str, bytes]]:
    """The suite's provider fixtures as providers post them: whole batches, or one body per line."""
    folder = Path(__file__).resolve().parents[1] / "data" / "providers"
    for name in ("sendgrid.json", "mailjet.json", "sparkpost.json", "mandrill.txt"):
        yield name.split(".")[0], (folder / name).read_bytes().strip()
    for name in ("postmark.jsonl", "brevo.jsonl", "postal.jsonl", "resend.jsonl", "mailgun.jsonl"):
        for line in (folder / name).read_bytes().splitlines():
            if line.strip():
                yield name.split(".")[0], line


def test_a_webhook_and_a_dump_of_it_give_the_same_store(
    server: Server, keys: Keys, tmp_path: Path, cli
) -> None:
    """The suite's provider fixtures posted as webhooks, and every body --save-raw kept
    imported into a fresh store with `maillog import`: the same events, column for column
    (ids, statuses, bounce classes, messages)."""
    for provider, data in _fixture_bodies():
        status, text = server.post(sign(keys, provider, data))
        assert status == 200, (provider, text)
    fresh = tmp_path / "fresh.db"
    files = sorted((server.home / "raw").iterdir())
    assert len(files) > 20
    result = cli("--db", str(fresh), "import", *map(str, files))
    assert result.exit_code in (0, 1), result  # 1: the fixtures' deliberately bad records
    assert _rows(fresh) == _rows(server.db)
    assert any(r for r in _rows(server.db) if "bounced" in r)


def _fts(db: Path, word: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sql = "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?"
        return int(conn.execute(sql, (f'"{word}"',)).fetchone()[0])
    finally:
        conn.close()


def test_a_big_batch_is_searchable_and_later_events_too(server: Server, keys: Keys) -> None:
    """A group of many events indexes their text once at the end of its transaction; the
    text of every event is searchable afterwards, and single events still are."""
    u = uid("bulk")
    batch = [
        {
            "email": f"{u}{i}@bulkword{u}.example",
            "timestamp": 1764000000 + i,
            "event": "delivered",
            "sg_event_id": f"sgb-{u}-{i}",
        }
        for i in range(300)
    ]
    assert server.post(sign(keys, "sendgrid", json.dumps(batch).encode()))[0] == 200
    assert _fts(server.db, f"bulkword{u}") == 300
    v = uid("single")
    one = [
        {
            "email": f"x@singleword{v}.example",
            "timestamp": 1764000000,
            "event": "delivered",
            "sg_event_id": f"sgs-{v}",
        }
    ]
    assert server.post(sign(keys, "sendgrid", json.dumps(one).encode()))[0] == 200
    assert _fts(server.db, f"singleword{v}") == 1

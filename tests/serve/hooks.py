"""The provider side of the serve tests: keys the test makes, bodies with unique ids,
requests signed the way each provider documents, and the real server in a subprocess."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = (
    "sendgrid",
    "mailgun",
    "resend",
    "mandrill",
    "postal",
    "ses",
    "postmark",
    "sparkpost",
    "mailjet",
    "brevo",
)
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem"
MANDRILL_URL = "https://hooks.example.com/hooks/mandrill"


def _der_b64(key: Any) -> str:
    return base64.b64encode(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()


def _self_signed(key: rsa.RSAPrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


@dataclass
class Keys:
    """Every secret of one test server, made fresh."""

    sendgrid: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    postal: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    sns: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    mailgun: str = "key-mailgun-signing-0123456789"
    resend: str = "whsec_" + base64.b64encode(b"resend-secret-0123456789abcdef").decode()
    mandrill: str = "mandrill-webhook-key-0123"
    basic: tuple[str, str] = ("hookuser", "hook-pass-0123456789")
    token: str = "tok-0123456789abcdef"

    def config(self) -> str:
        return f"""
[serve.sendgrid]
public_key = "{_der_b64(self.sendgrid.public_key())}"

[serve.mailgun]
signing_key = "{self.mailgun}"

[serve.resend]
secret = "{self.resend}"

[serve.mandrill]
key = "{self.mandrill}"
url = "{MANDRILL_URL}"

[serve.postal]
public_key = "{_der_b64(self.postal.public_key())}"

[serve.ses]
topic_arn = ["{TOPIC}"]

[serve.postmark]
username = "{self.basic[0]}"
password = "{self.basic[1]}"

[serve.mailjet]
username = "{self.basic[0]}"
password = "{self.basic[1]}"

[serve.sparkpost]
token = "{self.token}"

[serve.brevo]
token = "{self.token}"
"""

    def secrets(self) -> list[str]:
        """What must never appear in logs, output or the store."""
        return [self.mailgun, self.resend, self.mandrill, self.basic[1], self.token]

    def seed_cert_cache(self, cache_home: Path, url: str = CERT_URL) -> None:
        """The SNS certificate where the verifier's cache looks for it (no network)."""
        pem = _self_signed(self.sns, "sns.amazonaws.com").public_bytes(serialization.Encoding.PEM)
        folder = cache_home / "maillog" / "sns-certs"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / (hashlib.sha256(url.encode()).hexdigest() + ".pem")).write_bytes(pem)


# --- bodies with unique ids -------------------------------------------------------------


def body(provider: str, u: str, when: int | None = None) -> bytes:
    """A one-event webhook body for `provider`, its ids made from `u`."""
    t = when or 1764000000
    iso = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    rcpt = f"{u}@example.com"
    if provider == "sendgrid":
        obj: Any = [
            {
                "email": rcpt,
                "timestamp": t,
                "event": "delivered",
                "sg_event_id": f"sg-{u}",
                "sg_message_id": f"sgm-{u}.filter",
            }
        ]
    elif provider == "mailgun":
        obj = {
            "event-data": {
                "id": f"mg-{u}",
                "event": "delivered",
                "timestamp": t,
                "recipient": rcpt,
                "message": {"headers": {"message-id": f"mg-{u}@x.example"}},
            }
        }
    elif provider == "resend":
        obj = {
            "type": "email.delivered",
            "created_at": iso,
            "data": {
                "email_id": f"rs-{u}",
                "created_at": iso,
                "from": "app@example.net",
                "to": [rcpt],
                "subject": "Hi",
            },
        }
    elif provider == "mandrill":
        events = [
            {
                "event": "send",
                "_id": f"md{u}",
                "ts": t,
                "msg": {
                    "_id": f"md{u}",
                    "ts": t,
                    "email": rcpt,
                    "sender": "app@example.net",
                    "subject": "Hi",
                    "state": "sent",
                },
            }
        ]
        return urllib.parse.urlencode({"mandrill_events": json.dumps(events)}).encode()
    elif provider == "postal":
        obj = {
            "event": "MessageSent",
            "timestamp": t,
            "uuid": f"pst-{u}",
            "payload": {
                "message": {
                    "id": 1,
                    "token": "t",
                    "direction": "outgoing",
                    "message_id": f"pst-{u}@x.example",
                    "to": rcpt,
                    "from": "app@example.net",
                    "subject": "Hi",
                    "timestamp": t,
                },
                "status": "Sent",
                "details": "ok",
                "output": "250 OK",
                "sent_with_ssl": True,
                "timestamp": t,
                "time": 0.1,
            },
        }
    elif provider == "ses":
        message = {
            "notificationType": "Delivery",
            "mail": {
                "timestamp": iso,
                "messageId": f"ses-{u}",
                "source": "app@example.net",
                "destination": [rcpt],
            },
            "delivery": {"timestamp": iso, "recipients": [rcpt], "smtpResponse": "250 OK"},
        }
        obj = {
            "Type": "Notification",
            "MessageId": f"sns-{u}",
            "TopicArn": TOPIC,
            "Subject": "Amazon SES Email Event Notification",
            "Message": json.dumps(message),
            "Timestamp": iso,
            "SignatureVersion": "1",
            "SigningCertURL": CERT_URL,
        }
    elif provider == "postmark":
        obj = {
            "RecordType": "Delivery",
            "ServerID": 1,
            "MessageStream": "outbound",
            "MessageID": f"pm-{u}",
            "Recipient": rcpt,
            "DeliveredAt": iso,
            "Details": "smtp;250 2.0.0 OK",
            "Metadata": {},
        }
    elif provider == "sparkpost":
        obj = [
            {
                "msys": {
                    "message_event": {
                        "type": "delivery",
                        "event_id": f"sp-{u}",
                        "message_id": f"sp-{u}",
                        "timestamp": str(t),
                        "rcpt_to": rcpt,
                    }
                }
            }
        ]
    elif provider == "mailjet":
        obj = [
            {
                "event": "sent",
                "time": t,
                "MessageID": int(hashlib.sha1(u.encode()).hexdigest()[:12], 16),
                "Message_GUID": f"mj-{u}",
                "email": rcpt,
            }
        ]
    elif provider == "brevo":
        obj = {
            "event": "delivered",
            "email": rcpt,
            "id": 1,
            "message-id": f"<br-{u}@x.example>",
            "ts_event": t,
        }
    else:
        raise ValueError(provider)
    return json.dumps(obj).encode()


# --- signing, as each provider does ---------------------------------------------------


@dataclass
class Request:
    provider: str
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""


def sign(keys: Keys, provider: str, data: bytes, now: float | None = None) -> Request:
    """`data` as `provider` would send it, signed with the test's keys."""
    now = time.time() if now is None else now
    stamp = str(int(now))
    req = Request(provider, data, {"Content-Type": "application/json"})
    if provider == "sendgrid":
        sig = keys.sendgrid.sign(stamp.encode() + data, ec.ECDSA(hashes.SHA256()))
        req.headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(sig).decode()
        req.headers["X-Twilio-Email-Event-Webhook-Timestamp"] = stamp
    elif provider == "mailgun":
        obj = json.loads(data)
        token = hashlib.sha256(os.urandom(16)).hexdigest()
        mac = hmac.new(keys.mailgun.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
        obj["signature"] = {"timestamp": stamp, "token": token, "signature": mac}
        req.data = json.dumps(obj).encode()
    elif provider == "resend":
        from standardwebhooks.webhooks import Webhook

        msg_id = "msg_" + os.urandom(8).hex()
        sig = Webhook(keys.resend).sign(
            msg_id, dt.datetime.fromtimestamp(int(now), dt.UTC), data.decode()
        )
        req.headers.update({"svix-id": msg_id, "svix-timestamp": stamp, "svix-signature": sig})
    elif provider == "mandrill":
        params = urllib.parse.parse_qsl(data.decode(), keep_blank_values=True)
        signed = MANDRILL_URL + "".join(k + v for k, v in sorted(params))
        mac = hmac.new(keys.mandrill.encode(), signed.encode(), hashlib.sha1).digest()
        req.headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Mandrill-Signature": base64.b64encode(mac).decode(),
        }
    elif provider == "postal":
        obj = json.loads(data)
        obj["timestamp"] = now  # when Postal made the request (kept on its retries)
        req.data = data = json.dumps(obj).encode()
        sig = keys.postal.sign(data, padding.PKCS1v15(), hashes.SHA256())
        req.headers["X-Postal-Signature-256"] = base64.b64encode(sig).decode()
    elif provider == "ses":
        obj = json.loads(data)
        # when SNS published the message (kept on its retries)
        obj["Timestamp"] = (
            dt.datetime.fromtimestamp(now, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        fields = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        if obj["Type"] != "Notification":
            fields = (
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type",
            )
        text = "".join(f"{k}\n{obj[k]}\n" for k in fields if k in obj)
        algorithm = hashes.SHA256() if obj.get("SignatureVersion") == "2" else hashes.SHA1()
        obj["Signature"] = base64.b64encode(
            keys.sns.sign(text.encode(), padding.PKCS1v15(), algorithm)
        ).decode()
        req.data = json.dumps(obj).encode()
    elif provider in ("postmark", "mailjet"):
        creds = base64.b64encode(f"{keys.basic[0]}:{keys.basic[1]}".encode()).decode()
        req.headers["Authorization"] = f"Basic {creds}"
    elif provider == "sparkpost":
        req.headers["Authorization"] = f"Bearer {keys.token}"
    elif provider == "brevo":
        req.query = "token=" + keys.token
    return req


def tamper(req: Request) -> Request:
    """The same request with one byte of the signed content changed (Mailgun signs only its
    timestamp and token, not the events: the token is changed)."""
    if req.provider == "mailgun":
        obj = json.loads(req.data)
        token = obj["signature"]["token"]
        obj["signature"]["token"] = ("1" if token[0] == "0" else "0") + token[1:]
        return Request(req.provider, json.dumps(obj).encode(), dict(req.headers), req.query)
    if req.provider in ("postmark", "mailjet", "sparkpost", "brevo"):  # a wrong secret
        headers = dict(req.headers)
        if "Authorization" in headers:
            scheme, value = headers["Authorization"].split(" ", 1)
            headers["Authorization"] = (
                f"{scheme} {value[:-2]}{'AA' if value[-2:] != 'AA' else 'BB'}"
            )
        return Request(req.provider, req.data, headers, req.query[:-1] + "z" if req.query else "")
    data = req.data.replace(b"example.com", b"example.org", 1)
    assert data != req.data
    return Request(req.provider, data, dict(req.headers), req.query)


def unsigned(req: Request) -> Request:
    """The request without whatever proves who sent it."""
    headers = {
        k: v
        for k, v in req.headers.items()
        if not k.lower().startswith(("x-twilio", "svix", "x-mandrill", "x-postal", "authorization"))
    }
    data = req.data
    if req.provider in ("mailgun", "ses"):
        obj = json.loads(data)
        obj.pop("signature" if req.provider == "mailgun" else "Signature", None)
        data = json.dumps(obj).encode()
    return Request(req.provider, data, headers, "")


# --- the real server ---------------------------------------------------------------------


class Server:
    """`maillog serve` in a subprocess on an ephemeral port; its stderr is collected."""

    def __init__(
        self,
        home: Path,
        keys: Keys | None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.home, self.keys = home, keys
        self.db = home / "maillog.db"
        self.config = home / "config.toml"
        self.cache = home / "cache"
        if keys is not None and not self.config.exists():
            self.config.write_text(keys.config())
            self.config.chmod(0o600)
            keys.seed_cert_cache(self.cache)
        self.env = {
            **os.environ,
            "MAILLOG_DB": str(self.db),
            "MAILLOG_CONFIG": str(self.config),
            "XDG_CACHE_HOME": str(self.cache),
            "PYTHONPATH": str(ROOT),
            "NO_COLOR": "1",
            **(env or {}),
        }
        self.args = args
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20) -> Server:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "maillog_cli", "serve", "--port", "0", *self.args],
            env=self.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            cwd=self.home,
        )
        ready = threading.Event()

        def drain() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                if "listening on http://" in line:
                    self.url = line.split("listening on ", 1)[1].split("/hooks/")[0]
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(timeout) or not self.url:
            self.stop(signal.SIGKILL)
            raise AssertionError(f"server did not start: {self.lines}")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        time.sleep(0.05)  # let the stderr reader take the last lines
        return rc

    def post(
        self,
        req: Request | str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 20,
    ) -> tuple[int, str]:
        if isinstance(req, Request):
            path = f"/hooks/{req.provider}" + (f"?{req.query}" if req.query else "")
            data, headers = req.data, req.headers
        else:
            path = req
        return http(
            self.url + path,
            data=data if data is not None else b"",
            headers=headers or {},
            timeout=timeout,
        )

    def get(self, path: str) -> tuple[int, str]:
        return http(self.url + path)

    def events(self, where: str = "1", *args: Any) -> int:
        if not self.db.exists():
            return 0
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return int(
                conn.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()


def http(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 20,
) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data)

"""Is this request really from the provider? One function per provider, as each documents
its webhook security. Each raises `Refused` (the status, a metric reason and one line for
the log, never a secret) or returns quietly. The maths is `cryptography`'s, the Standard
Webhooks library's (Resend) and the standard library's `hmac`, never our own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from maillog_cli.errors import MaillogError

TOLERANCE = 300  # seconds a signed timestamp may be away from our clock (Svix's figure)
# Seconds a provider that signs the time of its first attempt, and sends that same request
# on every retry, may still be retrying: SNS's hard limit on an HTTP/S retry policy is
# 3600 s; Postal retries 2, 3, 6, 10 and 15 minutes apart (36 minutes in all).
RETRY_SPAN = {"ses": 3600.0, "postal": 3600.0}


class Refused(Exception):
    """The request is not the provider's: status 401/403, a reason label, one log line."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def missing(what: str) -> Refused:
    return Refused(401, "missing_signature", f"no {what}")


def bad(what: str) -> Refused:
    return Refused(403, "bad_signature", f"{what} does not verify")


@dataclass
class Incoming:
    """What verification looks at: the (decompressed) body and the headers (lower-case)."""

    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str]

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return value.strip() if value else None


class Replays:
    """Signatures or tokens already stored within the tolerance window: a second request
    carrying one is refused (`remember` is called only once its events are committed, so
    a provider's retry of a request we failed is not taken for a replay). Used from the
    event loop's thread only."""

    def __init__(self, window: float = 2 * TOLERANCE, limit: int = 200_000) -> None:
        self.window, self.limit = window, limit
        self.seen: OrderedDict[str, float] = OrderedDict()

    def check(self, token: str) -> None:
        self._expire()
        if token in self.seen:
            raise Refused(403, "replayed", "replayed: this signature was already used")

    def remember(self, token: str) -> None:
        self.seen[token] = time.time() + self.window
        self.seen.move_to_end(token)
        if len(self.seen) > self.limit:
            self.seen.popitem(last=False)

    def _expire(self) -> None:
        now = time.time()
        while self.seen:
            token, until = next(iter(self.seen.items()))
            if until > now:
                break
            self.seen.popitem(last=False)


def check_fresh(stamp: str | float | None, what: str, span: float = 0.0) -> None:
    """A signed Unix time within TOLERANCE of now (or up to `span` s more in the past, for a
    provider whose retries keep the time of the first attempt), else Refused: a request
    that old is a replay (of events since pruned, say), not the provider's."""
    if stamp is None or stamp == "":
        raise missing(what)
    try:
        when = float(stamp)
    except (TypeError, ValueError):
        when = math.nan
    if not math.isfinite(when):  # 'nan' is never more than TOLERANCE from anything
        raise Refused(401, "bad_timestamp", f"{what} is not a Unix time")
    age = time.time() - when
    if age > span + TOLERANCE or -age > TOLERANCE:
        limit = f"{TOLERANCE} s" if not span else f"{int(span + TOLERANCE)} s in the past"
        raise Refused(401, "stale", f"{what} is more than {limit} from now (stale or replayed)")


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad(what) from None


# --- keys, read once at start-up --------------------------------------------------------


def load_public_key(text: str, where: str) -> Any:
    """A public key as a dashboard shows it: base64 DER (SubjectPublicKeyInfo), or PEM."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            return serialization.load_pem_public_key(text.encode())
        if text.startswith("p="):  # Postal's DNS record form: p=<base64>
            text = text[2:].split(";")[0]
        return serialization.load_der_public_key(base64.b64decode("".join(text.split())))
    except (ValueError, binascii.Error, TypeError):
        raise MaillogError(
            f"{where} is not a public key",
            "copy it whole: base64 DER as the dashboard shows it, or PEM",
        ) from None


# --- one function per provider ------------------------------------------------------------


def sendgrid(req: Incoming, key: ec.EllipticCurvePublicKey, seen: Replays) -> str:
    """SendGrid's signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + body, the
    signature base64 DER in X-Twilio-Email-Event-Webhook-Signature. Returns the replay token:
    a digest of what is signed, not the signature, which is malleable (ECDSA's (r, n - s)
    verifies too, and DER and base64 have other spellings) and so let a replay through."""
    sig = req.header("X-Twilio-Email-Event-Webhook-Signature")
    stamp = req.header("X-Twilio-Email-Event-Webhook-Timestamp")
    if not sig:
        raise missing("X-Twilio-Email-Event-Webhook-Signature header")
    check_fresh(stamp, "X-Twilio-Email-Event-Webhook-Timestamp")
    try:
        key.verify(
            _b64(sig, "the signature"), (stamp or "").encode() + req.body, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise bad("the SendGrid signature") from None
    token = hashlib.sha256((stamp or "").encode() + b"\n" + req.body).hexdigest()
    seen.check(token)
    return token


def mailgun(req: Incoming, signing_key: bytes, seen: Replays, body: Any) -> str:
    """Mailgun: hex HMAC-SHA256 of timestamp + token with the webhook signing key, in the
    body's `signature` object. Stale timestamps and replayed tokens are refused."""
    sig = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(sig, dict) or not all(
        isinstance(sig.get(k), str | int) for k in ("timestamp", "token", "signature")
    ):
        raise missing("signature object (timestamp, token, signature) in the body")
    stamp, token = str(sig["timestamp"]), str(sig["token"])
    check_fresh(stamp, "signature.timestamp")
    want = hmac.new(signing_key, (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, str(sig["signature"]).lower()):
        raise bad("the Mailgun signature")
    seen.check(token)
    return token


def resend(req: Incoming, webhook: Any, seen: Replays) -> str:
    """Resend signs with Svix (Standard Webhooks): the library checks the svix-id,
    -timestamp and -signature headers (also accepted under their webhook-* names)."""
    from standardwebhooks.webhooks import WebhookVerificationError

    headers = {}
    for part in ("id", "timestamp", "signature"):
        value = req.header(f"webhook-{part}") or req.header(f"svix-{part}")
        if not value:
            raise missing(f"svix-{part} header")
        headers[f"webhook-{part}"] = value
    check_fresh(headers["webhook-timestamp"], "svix-timestamp")
    try:
        webhook.verify(req.body, headers, json_parse=False)
    except WebhookVerificationError:
        raise bad("the Svix signature") from None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("the Svix signature") from None
    seen.check(headers["webhook-id"])
    return headers["webhook-id"]


def mandrill(req: Incoming, key: str, url: str) -> None:
    """Mandrill: base64 HMAC-SHA1, keyed with the webhook key, of the URL exactly as
    registered followed by each POST parameter's name and value, sorted by name."""
    sig = req.header("X-Mandrill-Signature")
    if not sig:
        raise missing("X-Mandrill-Signature header")
    try:
        params = parse_qsl(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise bad("the Mandrill signature") from None
    signed = url + "".join(k + v for k, v in sorted(params))
    want = base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest())
    if not hmac.compare_digest(want, sig.encode()):
        raise bad("the Mandrill signature (is [serve.mandrill] url exactly the URL registered?)")


def postal(req: Incoming, key: rsa.RSAPublicKey, body: Callable[[], Any]) -> None:
    """Postal: RSA PKCS#1 v1.5 over the body with the server's key, base64 in
    X-Postal-Signature-256 (SHA-256) or, from older servers, X-Postal-Signature (SHA-1).
    The body's `timestamp` (when Postal made the request, signed with it) must be within
    Postal's retries; `body` parses the body (once the signature holds)."""
    for name, algorithm in (
        ("X-Postal-Signature-256", hashes.SHA256()),
        ("X-Postal-Signature", hashes.SHA1()),
    ):
        sig = req.header(name)
        if sig:
            try:
                key.verify(_b64(sig, "the signature"), req.body, padding.PKCS1v15(), algorithm)
            except InvalidSignature:
                raise bad("the Postal signature") from None
            stamp = body().get("timestamp")
            if isinstance(stamp, bool) or not isinstance(stamp, int | float | str | None):
                stamp = "?"
            check_fresh(stamp, "timestamp", RETRY_SPAN["postal"])
            return
    raise missing("X-Postal-Signature-256 or X-Postal-Signature header")


def shared_secret(req: Incoming, secrets: Mapping[str, str]) -> None:
    """Postmark, SparkPost, Mailjet, Brevo sign nothing: HTTP basic auth (user:password in
    the URL you register) or a token (Authorization: Bearer TOKEN, or ?token=TOKEN)."""
    auth = req.header("Authorization") or ""
    scheme, _, value = auth.partition(" ")
    if "token" in secrets:
        given = value.strip() if scheme.lower() == "bearer" else req.query.get("token", "")
        if not given:
            raise missing("token (Authorization: Bearer, or ?token=)")
        if not hmac.compare_digest(given.encode(), secrets["token"].encode()):
            raise bad("the token")
        return
    if scheme.lower() != "basic" or not value:
        raise missing("HTTP basic auth")
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        raise bad("the basic auth") from None
    ok_user = hmac.compare_digest(user.encode(), secrets["username"].encode())
    ok_password = hmac.compare_digest(password.encode(), secrets["password"].encode())
    if not (ok_user and ok_password):
        raise bad("the basic auth")


Verifier = Callable[[Incoming], Any]

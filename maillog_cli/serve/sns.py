"""Amazon SES events arrive through SNS: each message is signed (SignatureVersion 1:
SHA-1, 2: SHA-256, RSA PKCS#1 v1.5) with a certificate that must come from an HTTPS URL on
`sns.<region>.amazonaws.com` — any other URL is refused before anything is fetched. Certificates
are cached in memory and on disk (the user cache dir), so a restart fetches nothing.
Only topics listed in `[serve.ses] topic_arn` are accepted: anyone can sign SNS messages
for a topic of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from maillog_cli.serve.verify import RETRY_SPAN, Refused, _b64, bad, check_fresh, missing

SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
CERT_MAX = 64 << 10
FETCH_SECONDS = 10.0
# The fields signed, in order, for each message type (AWS: "Verifying the signatures of
# Amazon SNS messages"); Subject only when present.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]


def sns_url(url: Any) -> bool:
    """Whether a URL is HTTPS on sns.<region>.amazonaws.com (the only place for certificates
    and subscription confirmations)."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and port in (None, 443)
        and SNS_HOST.fullmatch(parts.hostname or "") is not None
    )


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("maillog", appauthor=False)) / "sns-certs"


class Certs:
    """SNS signing certificates by URL: memory, then the disk cache, then HTTPS."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or cache_dir()
        self.memory: dict[str, x509.Certificate] = {}

    def path(self, url: str) -> Path:
        return self.directory / (hashlib.sha256(url.encode()).hexdigest() + ".pem")

    async def get(self, url: str) -> x509.Certificate:
        if not sns_url(url) or not urlsplit(url).path.endswith(".pem"):
            raise Refused(
                403,
                "bad_cert_url",
                "SigningCertURL is not an https://sns.<region>.amazonaws.com/….pem URL",
            )
        cert = self.memory.get(url)
        if cert is None:
            pem = self._read_cached(url)
            if pem is None:
                pem = await self._fetch(url)
                self._write_cached(url, pem)
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except ValueError:
                raise Refused(
                    403, "bad_cert", "the SNS signing certificate is not a PEM certificate"
                ) from None
            self.memory[url] = cert
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Refused(
                403, "bad_cert", "the SNS signing certificate is expired or not yet valid"
            )
        return cert

    def _read_cached(self, url: str) -> bytes | None:
        try:
            return self.path(url).read_bytes()
        except OSError:
            return None

    def _write_cached(self, url: str, pem: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.path(url).with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pem)
            tmp.replace(self.path(url))
        except OSError:
            pass  # the memory cache still holds it

    async def _fetch(self, url: str) -> bytes:
        import aiohttp

        try:
            timeout = aiohttp.ClientTimeout(total=FETCH_SECONDS)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(url, allow_redirects=False) as resp:
                    if resp.status != 200:
                        raise Refused(
                            503, "cert_unavailable", f"SNS certificate fetch answered {resp.status}"
                        )
                    data = await resp.content.read(CERT_MAX + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Refused(
                503, "cert_unavailable", f"cannot fetch the SNS certificate: {type(exc).__name__}"
            ) from None
        if len(data) > CERT_MAX:
            raise Refused(403, "bad_cert", "the SNS signing certificate is too big")
        return data


def string_to_sign(msg: dict[str, Any]) -> bytes:
    kind = msg.get("Type")
    fields = SIGNED_FIELDS.get(kind if isinstance(kind, str) else "")
    if fields is None:
        raise Refused(400, "malformed", f"unknown SNS message Type {str(kind)[:40]!r}")
    out = []
    for name in fields:
        value = msg.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise missing(f"SNS field {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode()


async def verify(msg: Any, certs: Certs, topics: frozenset[str]) -> None:
    """An SNS message signed by SNS for one of `topics`, published within SNS's retries
    (its Timestamp is kept on every retry), else Refused."""
    if not isinstance(msg, dict) or "Type" not in msg:
        raise Refused(
            400, "malformed", "not an SNS message (no Type); turn raw message delivery off"
        )
    signature = msg.get("Signature")
    if not isinstance(signature, str) or not signature:
        raise missing("SNS Signature")
    version = str(msg.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if algorithm is None:
        raise bad(f"SNS SignatureVersion {version[:8]!r}")
    topic = msg.get("TopicArn")
    if "*" not in topics and not (isinstance(topic, str) and topic in topics):
        raise Refused(403, "unknown_topic", "TopicArn is not in [serve.ses] topic_arn")
    signed = string_to_sign(msg)
    cert = await certs.get(str(msg.get("SigningCertURL") or msg.get("SigningCertUrl") or ""))
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused(403, "bad_cert", "the SNS signing certificate does not hold an RSA key")
    try:
        key.verify(_b64(signature, "the SNS signature"), signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise bad("the SNS signature") from None
    check_fresh(_unix(msg.get("Timestamp")), "SNS Timestamp", RETRY_SPAN["ses"])


def _unix(stamp: Any) -> float | str:
    """SNS's signed Timestamp (ISO 8601, UTC) as a Unix time ("?" when it is not one)."""
    try:
        when = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return "?"
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


async def confirm(url: Any) -> str:
    """Visit a SubscriptionConfirmation's SubscribeURL (only an SNS HTTPS URL); a word on
    how it went."""
    import aiohttp

    if not sns_url(url):
        return "not confirmed: SubscribeURL is not an https://sns.<region>.amazonaws.com URL"
    try:
        timeout = aiohttp.ClientTimeout(total=FETCH_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, allow_redirects=False) as resp:
                return "confirmed" if resp.status == 200 else f"confirmation answered {resp.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"not confirmed: {type(exc).__name__}"

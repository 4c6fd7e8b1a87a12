"""Keeping secrets out of the store and off the screen.

Two rules, used at two moments:

- `redact(value)` runs on import: a value under a secret-looking *key* (password,
  token, api_key, authorization … at any depth, in dicts and lists) becomes
  "[redacted]" before anything is written, so the secret never reaches the file.
- `mask_credentials(text)` runs on output: a *value* that still looks like a
  credential (a SendGrid/Mailgun/Resend/AWS key, a bearer token, `user:pass@host`,
  `password=…`) is masked as "[masked]". It is deliberately narrow: ULIDs, UUIDs,
  message ids, IPs and addresses are what people investigate, and stay visible.

Pure functions: no I/O, no printing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "[redacted]"
MASK = "[masked]"

# Normalised key (lower case, letters and digits only) containing one of these is secret.
_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
    "signingkey",
    "accesskey",
    "cookie",
    "totp",
    "recoverycode",
    "sessionid",
    "jwt",
)
# Short words that are secret only as the whole key ("pass", but not "passenger").
_SECRET_EXACT = frozenset({"pass", "pwd", "pin", "otp", "auth", "bearer", "smtppass"})
# Keys that name something *about* a secret, never the secret itself: api_key_id,
# token_last4, password_changed, token_type … kept, because that is what an audit is for.
_SAFE_SUFFIXES = (
    "id",
    "ids",
    "name",
    "names",
    "type",
    "last4",
    "lastfour",
    "prefix",
    "suffix",
    "hint",
    "count",
    "length",
    "expiresat",
    "expiry",
    "expires",
    "createdat",
    "updatedat",
    "rotatedat",
    "changed",
    "updated",
    "rotated",
    "set",
    "enabled",
    "fields",
    "scope",
    "scopes",
)
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def _norm(key: str) -> str:
    return _NON_ALNUM.sub("", key.lower())


@lru_cache(maxsize=4096)
def _is_secret_name(k: str) -> bool:
    if k in _SECRET_EXACT:
        return True
    if not any(part in k for part in _SECRET_PARTS):
        return False
    for suffix in _SAFE_SUFFIXES:
        if k.endswith(suffix) and len(k) > len(suffix):
            head = k[: -len(suffix)]
            if any(part in head for part in _SECRET_PARTS):
                return False
    return True


def is_secret_key(key: Any) -> bool:
    """True for a key whose value is a secret (`smtp_password`, `X-Api-Key`, `Authorization`).

    A key that names something *about* a secret (`api_key_id`, `token_type`,
    `password_changed`) is not: that is what an audit is read for.
    """
    if not isinstance(key, str):
        return False
    return _is_secret_name(_norm(key))


def _secret_value(value: Any) -> bool:
    """Booleans and nulls under a secret key say *whether*, not *what*: they stay."""
    return not (value is None or isinstance(value, bool))


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-keyed value replaced by "[redacted]".

    Walks dicts and lists at any depth. Also understands header lists of the shape
    `[{"name": "Authorization", "value": "Bearer …"}]`.
    """
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        pair_name = value.get("name", value.get("key"))
        pair_secret = isinstance(pair_name, str) and is_secret_key(pair_name) and "value" in value
        for k, v in value.items():
            if (is_secret_key(k) or (pair_secret and k == "value")) and _secret_value(v):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


# --- masking on output ---------------------------------------------------------------------

_B = r"(?<![A-Za-z0-9_\-])"  # start of a token
_E = r"(?![A-Za-z0-9_\-])"  # end of a token
_KEY_WORDS = (
    r"(?:password|passwd|pass|pwd|passphrase|secret|token|authorization|auth|sig|signature"
    r"|(?:api|access|secret|private|signing)[_\-]?key)"
)
_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    # PEM private keys, whole block.
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        MASK,
    ),
    # user:password@host in URLs (smtp://, https://, …): keep the user.
    (re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:)[^\s/@]+(?=@)"), rf"\g<pre>{MASK}"),
    # Authorization schemes.
    (
        re.compile(r"(?P<pre>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/\-]{8,}=*", re.I),
        rf"\g<pre>{MASK}",
    ),
    # password=…, "token": "…", api_key: … in free text and query strings.
    (
        re.compile(
            rf"(?P<pre>{_B}(?:[A-Za-z0-9]+[_\-])*{_KEY_WORDS}[\"']?\s*[:=]\s*[\"']?)(?P<val>[^\s&\"',;}}]{{4,}})",
            re.I,
        ),
        None,  # see _mask_assignment
    ),
    # SendGrid API keys.
    (re.compile(rf"{_B}SG\.[A-Za-z0-9_\-]{{16,}}\.[A-Za-z0-9_\-]{{16,}}{_E}"), f"SG.{MASK}"),
    # Mailgun: legacy key-<32 hex>, and the <32 hex>-<8 hex>-<8 hex> keys.
    (re.compile(rf"{_B}key-[0-9a-f]{{32}}{_E}"), f"key-{MASK}"),
    (re.compile(rf"{_B}[0-9a-f]{{32}}-[0-9a-f]{{8}}-[0-9a-f]{{8}}{_E}"), MASK),
    # Brevo (Sendinblue) keys.
    (re.compile(rf"{_B}xkeysib-[0-9a-f]{{64}}-[A-Za-z0-9]{{16}}{_E}"), f"xkeysib-{MASK}"),
    (re.compile(rf"{_B}xsmtpsib-[0-9a-f]{{64}}-[A-Za-z0-9]{{16}}{_E}"), f"xsmtpsib-{MASK}"),
    # Mailchimp / Mandrill style <32 hex>-us12.
    (re.compile(rf"{_B}[0-9a-f]{{32}}-us\d{{1,3}}{_E}"), MASK),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AROA)[0-9A-Z]{16}\b"), f"AKIA{MASK}"),
    # Stripe-like and GitHub / Slack tokens.
    (re.compile(rf"{_B}(?P<p>(?:sk|rk|pk)_(?:live|test)_)[A-Za-z0-9]{{10,}}{_E}"), rf"\g<p>{MASK}"),
    (re.compile(rf"{_B}(?P<p>gh[pousr]_)[A-Za-z0-9]{{30,}}{_E}"), rf"\g<p>{MASK}"),
    (re.compile(rf"{_B}(?P<p>xox[abprs]-)[A-Za-z0-9\-]{{10,}}{_E}"), rf"\g<p>{MASK}"),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), MASK),
)
# Nothing above can match a string without one of these: one search instead of sixteen.
_MAYBE = re.compile(
    r"SG\.|key-|[0-9a-f]{32}|xkeysib|xsmtpsib|A[KS]IA|AGPA|AROA|[srp]k_|gh[pousr]_|xox|eyJ|re_|[:=]"
    r"|bearer|basic|token|private key",
    re.I,
)
# Resend keys: re_ followed by a long run that mixes letters and digits.
_RESEND = re.compile(rf"{_B}re_(?P<body>[A-Za-z0-9_]{{16,}}){_E}")


_SCHEMES = frozenset({"bearer", "basic", "token", "digest"})


def _mask_assignment(m: re.Match[str]) -> str:
    value = m.group("val")
    if value.startswith("[") or value.lower() in _SCHEMES:
        return m.group(0)  # already masked, or "Authorization: Bearer …" (masked by its own rule)
    return m.group("pre") + MASK


def _mask_resend(m: re.Match[str]) -> str:
    body = m.group("body")
    if any(c.isdigit() for c in body) and any(c.isalpha() for c in body):
        return f"re_{MASK}"
    return m.group(0)


def mask_credentials(text: str) -> str:
    """`text` with every value that looks like a credential replaced by "[masked]"."""
    if not text or len(text) < 8 or not _MAYBE.search(text):
        return text
    for pattern, repl in _PATTERNS:
        text = pattern.sub(_mask_assignment if repl is None else repl, text)
    return _RESEND.sub(_mask_resend, text)


def mask_value(value: Any) -> Any:
    """mask_credentials() on every string inside a JSON-like value; secret keys redacted too.

    Output's second line of defence, for entries stored before a key was known secret.
    """
    value = redact(value)
    return _mask_deep(value)


def _mask_deep(value: Any) -> Any:
    if isinstance(value, str):
        return mask_credentials(value)
    if isinstance(value, dict):
        return {k: _mask_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_deep(v) for v in value]
    return value

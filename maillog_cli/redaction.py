"""Keeping secrets out of the store and off the screen.

Two rules:

- `redact(value)`: a value under a secret-looking *key* (password, token, api_key,
  authorization … at any depth, in dicts and lists) becomes "[redacted]".
- `mask_credentials(text)`: a *value* that looks like a credential wherever it sits
  (a SendGrid/Mailgun/Resend/AWS/Stripe/GitHub/Slack key, a bearer token,
  `user:pass@host`, `password=…`, `?api_key=…` in a URL, a PEM private key) is
  masked as "[masked]". It is deliberately narrow: ULIDs, UUIDs, message ids, IPs,
  addresses and ordinary words ("token bucket") are what people investigate, and stay.

`scrub(value)` applies both, also to JSON held inside a string. The store applies it to
every free-text column before a row is written (store.db), so no secret reaches the
database file, its WAL, `sql` output or a prune archive; output masks again for rows
stored by older versions.

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
    # one-time codes: a login or a reset while they live
    "otpcode",
    "mfacode",
    "2facode",
    "verificationcode",
    "onetimecode",
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


_PAIR_NAMES = frozenset({"name", "key", "header"})


def _is_secret_pair(obj: dict[Any, Any]) -> bool:
    """`{"Name": "X-Postmark-Server-Token", "Value": "…"}` in any capitalisation."""
    keys = {k.lower(): k for k in obj if isinstance(k, str)}
    if "value" not in keys:
        return False
    return any(
        isinstance(obj[keys[n]], str) and is_secret_key(obj[keys[n]])
        for n in _PAIR_NAMES
        if n in keys
    )


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-keyed value replaced by "[redacted]".

    Walks dicts and lists at any depth. Also understands header lists of the shape
    `[{"name": "Authorization", "value": "Bearer …"}]`.
    """
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        pair_secret = _is_secret_pair(value)
        for k, v in value.items():
            pair_value = pair_secret and isinstance(k, str) and k.lower() == "value"
            if (is_secret_key(k) or pair_value) and _secret_value(v):
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
    (re.compile(r"(?P<pre>://[^\s:/@]*:)[^\s/@]+(?=@)"), rf"\g<pre>{MASK}"),
    # URL query parameters named like a secret, or just `key`/`sig`: ?key=…&sig=…
    (
        re.compile(
            r"(?P<pre>[?&;](?:[A-Za-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|sig|signature"
            r"|auth|credential|session|hmac)[A-Za-z0-9_.\-]*)=)(?P<val>[^&#\s\"'<>]+)",
            re.I,
        ),
        None,
    ),
    # The secret half of an AWS key pair, after aws_secret… in any spelling.
    (
        re.compile(
            r"(?P<pre>aws_?secret[A-Za-z_]*[\"']?\s*[:=]?\s*[\"']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
            re.I,
        ),
        rf"\g<pre>{MASK}",
    ),
    # Authorization schemes.
    (
        re.compile(r"(?P<pre>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/\-]{8,}=*", re.I),
        rf"\g<pre>{MASK}",
    ),
    # An SMTP AUTH initial response in a logged transcript: base64 of user and password.
    (
        re.compile(
            r"(?P<pre>\bAUTH\s+(?:PLAIN|LOGIN|XOAUTH2?|OAUTHBEARER)\s+)[A-Za-z0-9+/]{8,}=*", re.I
        ),
        rf"\g<pre>{MASK}",
    ),
    # password=…, "token": "…", api_key: … in free text and query strings.
    (
        re.compile(
            rf"(?P<pre>{_B}(?:[A-Za-z0-9]+[_\-])*{_KEY_WORDS}[\"']?\s*[:=]\s*[\"']?)(?P<val>[^\s&\"',;}})>]{{4,}})",
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
    (re.compile(rf"{_B}(?P<p>xox[a-z]-)[A-Za-z0-9\-]{{10,}}{_E}"), rf"\g<p>{MASK}"),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), MASK),
)
# Each rule above runs only when the text holds one of its needles (lower case): one
# `in` per needle instead of sixteen regex scans, which matters on the import path where
# every diagnostic and subject is scrubbed. Keep in step with _PATTERNS, in order.
_HEX32 = "hex32"  # needle for the rules that need a run of 32 hex digits
_NEEDLES: tuple[tuple[str, ...], ...] = (
    ("private key",),
    ("://",),
    ("=",),
    ("secret",),
    ("bearer", "basic", "token"),
    ("auth plain", "auth login", "auth xoauth", "auth oauthbearer"),
    ("pass", "pwd", "secret", "token", "auth", "sig", "key"),
    ("sg.",),
    ("key-",),
    (_HEX32,),
    ("xkeysib",),
    ("xsmtpsib",),
    ("-us",),
    ("akia", "asia", "agpa", "aroa"),
    ("k_live_", "k_test_"),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ("xox",),
    ("eyj",),
)
assert len(_NEEDLES) == len(_PATTERNS)
# A second condition some rules cannot match without, checked on the text as it came in
# (no rule's replacement adds these characters): the URL-parameter rule needs a `?`, `&`
# or `;` besides its `=`, the assignment rule a `:` or `=` after its key word. Diagnostics
# are full of `Id=…` and `auth` words with neither: those rules were most of the cost.
_ALSO: tuple[tuple[str, ...], ...] = tuple(
    ("?", "&", ";") if i == 2 else (":", "=") if i == 6 else () for i in range(len(_NEEDLES))
)
_HEX32_RUN = re.compile(r"[0-9a-f]{32}")
# The same question as _HEX32_RUN.search, asked of the UTF-8 bytes with every lower-case hex
# digit made "x" and every other byte a space: one C pass instead of a regex that restarts
# at each digit (0.4 µs instead of 2.1 on a 200-character diagnostic full of numbers).
_HEX_AS_X = bytes(120 if chr(b) in "0123456789abcdef" else 32 for b in range(256))
_X32 = b"x" * 32


def _has_hex32(text: str) -> bool:
    """Whether `text` holds a run of 32 lower-case hex digits."""
    return len(text) >= 32 and _X32 in text.encode("utf-8", "surrogatepass").translate(_HEX_AS_X)


# Every needle once, for the first check: most text holds none and is passed after a
# few `in` tests (an alternation regex costs more than all of them together).
_ALL_NEEDLES = tuple(dict.fromkeys(n for needles in _NEEDLES for n in needles if n != _HEX32))
# The needles holding "_" or "key" are looked for only in a text holding those (most
# subjects and diagnostics hold neither): the same needles found, 10 fewer scans.
_GATES = ("_", "key")
_GATED = tuple(tuple(n for n in _ALL_NEEDLES if g in n and n != g) for g in _GATES)
_UNGATED = tuple(n for n in _ALL_NEEDLES if not any(n in gated for gated in _GATED))
_GATE_SCANNED = tuple(g in _UNGATED for g in _GATES)  # "key" is a needle itself


def _needles_in(low: str) -> set[str]:
    """Every needle of _ALL_NEEDLES that `low` holds."""
    has = low.__contains__
    found = set(filter(has, _UNGATED))
    for gate, gated, scanned in zip(_GATES, _GATED, _GATE_SCANNED, strict=True):
        if gate in found if scanned else has(gate):
            found.update(filter(has, gated))
    return found


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


# (needles, also, pattern, replacement) per rule, in order.
_RULES: tuple[tuple[frozenset[str], tuple[str, ...], re.Pattern[str], Any], ...] = tuple(
    (frozenset(needles), also, pattern, _mask_assignment if repl is None else repl)
    for needles, also, (pattern, repl) in zip(_NEEDLES, _ALSO, _PATTERNS, strict=True)
)


def mask_credentials(text: str) -> str:
    """`text` with every value that looks like a credential replaced by "[masked]"."""
    if not text or len(text) < 8:
        return text
    low = text.lower()
    # The needles in the text, found once (each rule below asks for its own among them).
    found = _needles_in(low)
    if not found and "re_" not in low and not _has_hex32(low):
        return text
    hex32: bool | None = None
    for needles, also, pattern, repl in _RULES:
        if _HEX32 in needles:
            if hex32 is None:
                hex32 = _has_hex32(text)
            if not hex32:
                continue
        elif found.isdisjoint(needles) or (also and not any(c in low for c in also)):
            continue
        text = pattern.sub(repl, text)
    if "re_" in text:
        text = _RESEND.sub(_mask_resend, text)
    return text


def mask_value(value: Any) -> Any:
    """mask_credentials() on every string inside a JSON-like value; secret keys redacted too.

    Output's second line of defence, for entries stored before a key was known secret.
    """
    value = redact(value)
    return _mask_deep(value)


def scrub(value: Any) -> Any:
    """`value` (a string, or JSON-like data at any depth) with every secret removed, by key
    and by value; JSON held inside a string is parsed and scrubbed the same way. What the
    store runs on free text before writing it."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _scrub_text(value)
    if type(value) is dict:
        flat = _scrub_flat(value)
        if flat is not None:
            return flat
    return mask_value(value)


@lru_cache(maxsize=4096)
def _secret_str_key(key: str) -> bool:
    return is_secret_key(key)


def _scrub_flat(value: dict[Any, Any]) -> dict[Any, Any] | None:
    """`mask_value` of a flat dict (text keys, no dict or list inside, no `value` key that
    could make it a name/value header pair) in one pass; None for any other dict. The
    same result (by key, then every string by value), without the recursive walk: an
    import scrubs every event's extra data, and most are flat."""
    out: dict[Any, Any] = {}
    for k, v in value.items():
        if type(k) is not str or isinstance(v, dict | list) or k.lower() == "value":
            return None
        if _secret_str_key(k) and _secret_value(v):
            out[k] = _scrub_text(REDACTED)
        elif isinstance(v, str):
            out[k] = _scrub_text(v)
        else:
            out[k] = v
    return out


def _mask_json_text(text: str) -> str | None:
    """A string that holds a JSON object or array, scrubbed; None when it holds none."""
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "{[" or stripped[-1] not in "}]":
        return None
    import orjson

    try:
        parsed = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict | list):
        return None
    clean = mask_value(parsed)
    if clean == parsed:
        return text
    return orjson.dumps(clean).decode()


@lru_cache(maxsize=16384)
def _scrub_text(text: str) -> str:
    """One string, scrubbed. Cached: an import repeats the same subjects and replies
    thousands of times, and this runs on every one of them before it is stored."""
    inner = _mask_json_text(text)
    return mask_credentials(text) if inner is None else inner


def _mask_deep(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, dict):
        return {k: _mask_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_deep(v) for v in value]
    return value


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADER_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)


def redact_email_headers(raw: bytes) -> bytes:
    """`raw` with the value of every secret-named header field (Authorization, X-Api-Key,
    Cookie …) replaced by "[redacted]", folded lines included; the body and every other
    byte as they were. A captured request or a misconfigured client can put its
    credentials in an email's header; the stored copy (show, export, resend) must not."""
    end = _HEADER_END.search(raw)
    head, rest = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    if not any(is_secret_key(m.group(1).decode("latin-1")) for m in _HEADER_FIELD.finditer(head)):
        return raw
    nl = b"\r\n" if b"\r\n" in head else b"\n"
    out: list[bytes] = []
    skipping = False
    for line in head.split(nl):
        if line[:1] in (b" ", b"\t") and out:  # a folded continuation of the field above
            if not skipping:
                out.append(line)
            continue
        m = _HEADER_FIELD.match(line)
        skipping = bool(m and is_secret_key(m.group(1).decode("latin-1")))
        out.append(m.group(0) + b" " + REDACTED.encode() if skipping and m else line)
    return nl.join(out) + rest

"""Normalisation rules shared by every importer (docs/providers.md, "Rules for every provider").

One place for: message ids, addresses, SMTP reply and enhanced codes, diagnostics,
and the stable event-id hash that makes re-imports add nothing.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

from maillog_cli.statuses import BOUNCE_STATUSES, ENGAGEMENT

_REPLY_CODE = re.compile(r"(?:^|[\s(\[;=])([245]\d\d)(?=[ \-]|$)")
_ENHANCED_IN_TEXT = re.compile(
    r"(?:^|[\s(\[;:=#\-])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s)\];:,!?>\"']|\.(?!\d))"
)
_ENHANCED_FULL = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words ("null", "a number", "an array"), for the
    one-line errors a person reads: Python's type names ("NoneType", "str") are not theirs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def text_or_none(value: Any) -> str | None:
    """A string field: None, '' and non-strings without meaning become None."""
    if type(value) is str:
        return value if value and not value.isspace() else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    return value if value.strip() else None


def message_id(value: Any) -> str | None:
    """Trim and remove one enclosing pair of angle brackets; keep the case.

    A header value that goes on after its `<id>` (a comment, a second id, as some
    gateways write them) is that first id: `<a@b> (added by postmaster)` is `a@b`, the
    id the bounce of that email quotes."""
    s = text_or_none(value)
    if s is None:
        return None
    s = s.strip()
    if s.startswith("<"):
        end = s.find(">")
        if end > 0 and s[end + 1 :].lstrip()[:1] in ("(", "<"):
            s = s[1:end].strip()
        elif s.endswith(">"):
            s = s[1:-1].strip()
    return s or None


def address(value: Any) -> str | None:
    """`"Name" <Addr@X>` → `addr@x`: inside the last <>, trimmed, lowercased, never validated."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    s = text_or_none(value)
    if s is None:
        return None
    if "<" not in s:
        return s.strip().lower() or None
    if ">" in s:
        start = s.rfind("<")
        end = s.find(">", start)
        if end > start:
            s = s[start + 1 : end]
    s = s.strip().lower()
    return s or None


def domain_of(addr: str | None) -> str | None:
    """The part after the last @ (None when there is none), in its one spelling (domain)."""
    if not addr or "@" not in addr:
        return None
    return domain(addr.rsplit("@", 1)[1])


# The dots IDNA reads as label separators besides "." (ideographic, full-width, half-width).
_IDN_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
# What a decoded label may not hold: controls, format characters (bidi overrides, zero
# widths), surrogates, private use, unassigned, separators; and the characters that end a
# label or an address.
_NOT_IN_LABEL = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"))


def domain(value: str | None) -> str | None:
    """A domain in its one spelling, so that one domain written two ways is one domain
    (stored recipient_domain, --domain, `domain:`): lower case, no trailing dot, and an
    internationalised name in its readable Unicode form — `xn--bcher-kva.example`,
    `BÜCHER.example` and `bücher.example` are all `bücher.example`.

    A label that is not valid punycode (or decodes to what no domain holds) is kept as
    written, in lower case: this never raises, whatever the text."""
    if not value:
        return None
    d = value.lower()
    if d.isascii() and "xn--" not in d:
        return _trim(d) or None
    return _idn_domain(d) or None


def domain_spellings(value: str | None) -> tuple[str, ...]:
    """The spellings a stored address may give one domain: its one spelling (domain) and
    its other IDNA form (`bücher.example` / `xn--bcher-kva.example`). Addresses are stored
    as the source wrote them, so `--to` looks for each."""
    one = domain(value)
    if one is None:
        return ()
    if one.isascii() and "xn--" not in one:
        return (one,)
    forms = [one]
    for convert in (_label_as_ascii, _label_as_unicode):
        forms.append(".".join(convert(label) for label in one.split(".")))
    return tuple(dict.fromkeys(forms))


def _label_as_ascii(label: str) -> str:
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


def _label_as_unicode(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label


def _trim(d: str) -> str:
    """Without surrounding white space and trailing dots (`example.com.` is absolute)."""
    d = d.strip()
    while d.endswith("."):
        d = d[:-1].rstrip()
    return d


@lru_cache(maxsize=65536)
def _idn_domain(text: str) -> str:
    """`domain` for a name with non-ASCII or punycode labels (lower case already)."""
    import unicodedata

    text = _trim(unicodedata.normalize("NFC", text.translate(_IDN_DOTS)))
    return ".".join(_unicode_label(label) for label in text.split("."))


def _unicode_label(label: str) -> str:
    """One label in its one spelling: Unicode when it is one script (`bücher`), punycode
    when it mixes scripts (`xn--pple-43d`, a Cyrillic `а` among Latin letters, is never
    shown as a look-alike of `apple`); a label that is no IDNA label as it is."""
    if label.isascii() and not label.startswith("xn--"):
        return label
    if len(label) > 63:  # DNS's longest label: nothing longer is worth decoding
        return label
    import unicodedata

    if label.isascii():
        try:
            decoded = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return label
        decoded = unicodedata.normalize("NFC", decoded.lower())
        if decoded.isascii() or not _is_label(decoded):
            return label  # not an IDNA label: kept as written
        return decoded if _one_script(decoded) else label
    if not _is_label(label) or _one_script(label):
        return label
    return "xn--" + label.encode("punycode").decode("ascii")


def _is_label(text: str) -> bool:
    """Whether decoded text could be a domain label (no dots, @, controls, format or
    unassigned characters, separators)."""
    import unicodedata

    return not any(c in ".@" or unicodedata.category(c) in _NOT_IN_LABEL for c in text)


# Scripts that one name may mix (Japanese writes Han, Hiragana and Katakana together; a
# Chinese, Japanese or Korean name may carry Latin letters), as in browsers' IDN display
# rules. Any other mix is shown as punycode.
_CJK = frozenset(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"))


def _one_script(label: str) -> bool:
    """Whether the letters of a label are of one script (by the first word of their
    Unicode names: LATIN, CYRILLIC, GREEK …), or CJK scripts with or without Latin."""
    import unicodedata

    scripts = {
        unicodedata.name(c, "?").split(" ", 1)[0] for c in label if c.isalpha() or ord(c) > 127
    }
    return len(scripts) <= 1 or scripts <= _CJK | {"LATIN"}


def diagnostic(value: Any) -> str | None:
    """Verbatim reply text, trailing whitespace trimmed."""
    s = text_or_none(value)
    return s.rstrip() if s is not None else None


# --- diagnostic patterns ----------------------------------------------------------------------

# Variable parts of a reply text, replaced so that the same message sent about different
# recipients, from different IPs or with different queue ids groups together. Reply and
# enhanced codes are kept (they are part of the message), everything else with a digit
# in it becomes <n> (digits only) or <id>.
_VARIABLE = re.compile(
    r"(?<![\w.])(?:"  # only at the start of a token: mid-word positions fail at once
    r"(?P<address><?[\w.+'=/-]+@[\w-]+(?:\.[\w-]+)+>?)"
    r"|(?P<ip>\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?!\w|\.\d)|(?<!:)(?:[0-9a-f]{0,4}:){3,7}[0-9a-f]{0,4}(?![\w:]))"
    r"|(?P<code>[245]\d\d(?=[ \-:]|$)|[245]\.\d{1,3}\.\d{1,3}(?!\d|\.\d))"
    r"|(?P<number>(?=\w*\d)\w+))",
    re.IGNORECASE,
)
_PLACEHOLDER = {"address": "<address>", "ip": "<ip>"}


def _replace(m: re.Match[str]) -> str:
    kind = m.lastgroup or ""
    if kind == "code":
        return m.group(0)
    if kind == "number":
        return "<n>" if m.group(0).isdigit() else "<id>"
    return _PLACEHOLDER[kind]


def diagnostic_pattern(text: str | None) -> str | None:
    """The diagnostic with addresses, IPs, ids and numbers replaced by placeholders.

    `550 5.1.1 <ann@x.org>: user unknown (queue 7Hk2)` and the same reply for bob
    both give `550 5.1.1 <address>: user unknown (queue <id>)`.

    Word by word: no part _VARIABLE replaces contains a space, and what its look-arounds
    see beyond a word (a space, or the end) is the same either way, so each distinct word
    is worked out once (a summary over 37,000 distinct texts: 0.8 s → 0.15 s).
    """
    if not text:
        return None
    return " ".join(map(_word_pattern, text.split())) or None


@lru_cache(maxsize=65536)
def _word_pattern(word: str) -> str:
    """One whitespace-free word of a diagnostic with its variable parts replaced."""
    if word.count(":") < 3 and "@" not in word and not any(c.isdigit() for c in word):
        return word  # no address, IP, code or number can start or lie in it
    return _VARIABLE.sub(_replace, word)


def bounce_pattern(status: str | None, text: str | None) -> str | None:
    """events.diagnostic_pattern: the pattern of a bounce-status event's stored (scrubbed)
    diagnostic, None for other statuses (`maillog bounces` ranks bounces by it).

    Worked out once, where each row is built (store.db.event_row, ingest.fast, the
    migration that fills old stores), so the summary groups stored patterns instead of
    normalising every distinct reply text on every run (1M events: 0.3 s of 0.8).
    """
    if not text or status not in BOUNCE_STATUSES:
        return None
    return diagnostic_pattern(text)


def smtp_code(dedicated: Any, text: str | None) -> int | None:
    """Reply codes (docs/providers.md): a dedicated field wins (200-599 or null), else the text."""
    if dedicated is not None and dedicated != "" and not isinstance(dedicated, bool):
        try:
            n = int(str(dedicated).strip())
        except ValueError:
            return None
        return n if 200 <= n <= 599 else None
    if text:
        m = _REPLY_CODE.search(text)
        if m:
            return int(m.group(1))
    return None


def enhanced_code(dedicated: Any, text: str | None) -> str | None:
    """Enhanced codes (docs/providers.md): a dedicated field that fully matches, else the text."""
    if isinstance(dedicated, str) and _ENHANCED_FULL.fullmatch(dedicated.strip()):
        return dedicated.strip()
    if text:
        m = _ENHANCED_IN_TEXT.search(text)
        if m:
            return m.group(1)
    return None


def reply_fields(
    status: str, text: Any, code_field: Any = None, enhanced_field: Any = None
) -> tuple[int | None, str | None, str | None]:
    """(smtp_code, enhanced_code, diagnostic) for an event; engagement events get none."""
    if status in ENGAGEMENT:
        return None, None, None
    diag = diagnostic(text)
    return smtp_code(code_field, diag), enhanced_code(enhanced_field, diag), diag


def event_hash(
    provider: str | None,
    msg_id: str | None,
    timestamp: str,
    raw_status: str | None,
    recipient: str | None,
) -> str:
    """Event id (docs/providers.md): hash of provider, message id, seconds, raw status, recipient."""
    key = "\x1f".join(
        (provider or "", msg_id or "", timestamp[:19], raw_status or "", recipient or "")
    )
    return "h:" + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]


MAX_TAG = 200  # characters: a tag is a label, not a document


def tag_list(value: Any) -> tuple[str, ...]:
    """Every tag a provider field carries, in order, each once.

    Providers spell tags as one string, a list of strings, or a map of name → value(s)
    (SES `mail.tags`, Resend `data.tags`, `[{name, value}]`); a map entry becomes
    `name:value`, so that `--tag value` and `--tag name:value` can both find it.
    """
    found: list[str] = []

    def add(text: Any) -> None:
        t = text_or_none(text) if isinstance(text, str | int | float) else None
        if t is not None and not isinstance(text, bool):
            found.append(t.strip()[:MAX_TAG])

    if isinstance(value, dict):
        for name, v in value.items():
            for one in v if isinstance(v, list) else [v]:
                if isinstance(one, str | int | float) and text_or_none(one) is not None:
                    add(f"{name}:{one}")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict) and "name" in v and "value" in v:
                add(f"{v['name']}:{v['value']}")
            else:
                add(v)
    else:
        add(value)
    return tuple(dict.fromkeys(t for t in found if t))


def send_method(value: Any) -> str | None:
    """How an email was handed over, in one vocabulary: `smtp` or `api` (HTTP), else the
    source's own word in lower case (`SendSmtpEmail` → smtp, `HTTP` → api)."""
    text = text_or_none(value)
    if text is None or isinstance(value, bool):
        return None
    word = text.strip().lower()
    if "smtp" in word:
        return "smtp"
    if "http" in word or word in ("api", "rest", "web"):
        return "api"
    return word[:40]

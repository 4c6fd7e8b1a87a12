"""Normalisation rules shared by every importer (docs/providers.md, "Rules for every provider").

One place for: message ids, addresses, SMTP reply and enhanced codes, diagnostics,
and the stable event-id hash that makes re-imports add nothing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from maillog_cli.statuses import ENGAGEMENT

_REPLY_CODE = re.compile(r"(?:^|[\s(\[;=])([245]\d\d)(?=[ \-]|$)")
_ENHANCED_IN_TEXT = re.compile(
    r"(?:^|[\s(\[;:=#\-])([245]\.\d{1,3}\.\d{1,3})(?=$|[\s)\];:,!?>\"']|\.(?!\d))"
)
_ENHANCED_FULL = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


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
    """Trim and remove one enclosing pair of angle brackets; keep the case."""
    s = text_or_none(value)
    if s is None:
        return None
    s = s.strip()
    if s.startswith("<") and s.endswith(">"):
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
    """The part after the last @ (None when there is none)."""
    if not addr or "@" not in addr:
        return None
    d = addr.rsplit("@", 1)[1].strip().rstrip(".")
    return d or None


def diagnostic(value: Any) -> str | None:
    """Verbatim reply text, trailing whitespace trimmed."""
    s = text_or_none(value)
    return s.rstrip() if s is not None else None


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

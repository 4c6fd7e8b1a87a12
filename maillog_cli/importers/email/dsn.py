"""Parse bounce messages (RFC 3464 delivery status notifications and the rest).

`parse_dsn(raw)` takes the bytes of an RFC 5322 message and returns one
`DsnRecipient` per failed / delayed recipient, or [] when the message is not a bounce.

Standard DSNs (`multipart/report; report-type=delivery-status` with a
`message/delivery-status` part) are read field by field. Everything else (qmail, Exim,
Exchange, Domino, webmail providers…) is handled with generic heuristics on the
human-readable text: the failed recipient is taken from `X-Failed-Recipients` or the
first address in the text that is not the bounce's own sender or addressee, and the
diagnostic is the paragraph around it that carries the error. Pure: no I/O. Never
raises on hostile input; it returns [] or partial results instead.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32

from maillog_cli.bounce.classify import (
    _ENHANCED_CODE,
    _REPLY_CODE,
    extract_codes,
    match_text,
    normalise_text,
)


@dataclass
class DsnRecipient:
    recipient: str | None  # Final-Recipient (else Original-Recipient), bare, lowercase
    action: str | None  # failed / delayed / delivered / relayed / expanded
    status: str | None  # enhanced status code, e.g. "5.1.1"
    smtp_code: int | None  # first reply code in the diagnostic
    diagnostic: str | None  # Diagnostic-Code as sent ("smtp; 550 ..."), whitespace collapsed
    remote_mta: str | None
    original_message_id: str | None  # Message-ID of the returned message, without <>
    arrival_date: str | None


# Heuristics, as data ----------------------------------------------------------------

BOUNCE_SENDERS = re.compile(
    r"mailer-daemon|post_?master|mail delivery (?:system|subsystem|service)|mail administrator"
    r"|mailmaster|mdaemon|bounce|mail delivery agent",
    re.I,
)
BOUNCE_SUBJECTS = re.compile(
    r"undeliver|delivery (?:status notification|failure|failed|has failed|report|problem)"
    r"|failure notice|failed delivery|returned mail|mail delivery failed|non[- ]?delivery"
    r"|could not be delivered|not delivered|delivery notification|warning: (?:could not|delay)"
    r"|delayed mail|mail system error|returned to sender|message not delivered|rejected"
    r"|non-?deliverable|delivery (?:delayed|delay)|delayed \d+ hours|\bbounced? (?:mail|message)"
    r"|unzustellbar|non remis|non recapitabile|no se puede entregar|onbestelbaar"
    r"|n[ãa]o foi poss[íi]vel entregar",
    re.I,
)
# Phrases of a failure report in the body (for bounces whose headers say nothing).
BOUNCE_BODY = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|delivery (?:has )?failed"
    r"|permanent (?:error|failure)|not delivered|unable to deliver|returned mail"
    r"|was not able to deliver|wasn't able to deliver|delivery status notification",
    re.I,
)
# A line where the returned original message (or its headers) begins.
ORIGINAL_MESSAGE = re.compile(
    r"^\s*(?:-{2,}|={2,}|\*{2,}|_{2,})?\s*(?:"
    r"(?:below this line|this is a copy|a copy of|original message|returned message"
    r"|original mail|header of the original|headers of the original|message headers follow"
    r"|unsent message|undelivered message|rfc822 headers)"
    r"|content-type: message/rfc822|content-type: text/rfc822-headers)",
    re.I,
)
# Header-like lines of a returned message; the text part ends at the first block of them.
_HEADER_LINE = re.compile(
    r"^(?:received|return-path|message-id|dkim-signature|mime-version|x-[\w-]+):", re.I
)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
# Where sendmail's transcript of one SMTP session begins ("... while talking to mx.example.org.:").
_SESSION_START = re.compile(r"^\s*(?:\.{3}\s*)?while talking to\b", re.I)
# A line that is nothing but an address ("  bob@example.org", "<bob@example.org>:",
# '"bob@example.org":'): the head of one recipient's entry in a report that lists several
# failed recipients without blank lines between them (Exim, GMX).
_ENTRY_HEAD = re.compile(r"^\s*[\"<]?(" + _ADDRESS.pattern + r")[\">]?\s*:?\s*$", re.I)
# ... or an address and a colon at the start of a line, with the reason after it
# ("bob@example.org: 550 5.1.1 ...", OpenSMTPD): the next recipient's entry starts there.
_ENTRY_START = re.compile(r"^\s*[\"<]?(" + _ADDRESS.pattern + r")[\">]?\s*(?::\s|:?\s*$)", re.I)
# Sendmail's status line for one recipient in a session transcript ("554 <bob@x>... why").
_RCPT_STATUS = re.compile(r"^\s*[45]\d\d\s+<(" + _ADDRESS.pattern + r")>\.\.\.", re.I)
# Lines that tell about the bounce rather than the failure.
_LABEL_LINE = re.compile(r"^\s*(?:subject|date|sent|to|from|cc|sent date)\s*:", re.I)
_SEPARATOR = re.compile(r"^\s*(?:[-=*_#]{3,}.*|.*[-=*_#]{3,}\s*)$")
_REPLY = re.compile(r"[45]\d\d\b")
# Wording next to the address that failed.
_FAILURE_WORDS = re.compile(
    r"fail|undeliver|not (?:be )?delivered|couldn't be delivered|could not be delivered|unable to"
    r"|reject|refused|denied|unknown|invalid|does not exist|doesn't exist|not found|no such"
    r"|error|bounce|permanent|\b[45]\d\d\b|\b[45]\.\d{1,3}\.\d{1,3}\b",
    re.I,
)
# Lines that introduce a failure report without saying why ("There was an error
# delivering your mail to …"): the line that says why follows them.
_INTRO = re.compile(
    r"error (?:occurred )?(?:while |when )?delivering|(?:could not|couldn't|was not|wasn't|cannot"
    r"|can't) be delivered to|(?:was not|wasn't) delivered to|unable to deliver (?:your|the|this)"
    r"|delivery (?:to the following|has failed to)|following (?:address|recipient)"
    r"|this is the mail system|created automatically by mail delivery|a message that you sent"
    r"|i'm (?:afraid|sorry)|not able to deliver|wasn't able to deliver|delivery status notification"
    r"|for the following reason|message (?:could not|couldn't) be delivered",
    re.I,
)
# Words that make a paragraph look like an error description.
_ERROR_WORDS = re.compile(
    r"\b[245]\d\d\b|\b[245]\.\d\.\d|error|fail|unknown|not exist|reject|refused|denied"
    r"|invalid|said|reason|because|unable|couldn't|could not|timed out|timeout|quota|full"
    r"|expired|too (?:long|large|big)|not found|disabled|blocked|spam|policy|unrout",
    re.I,
)


# Small helpers ------------------------------------------------------------------------


def _collapse(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text or None


def _address(value: str | None) -> str | None:
    """The bare lowercase address in 'rfc822; <a@b>' / '"Name" <a@b>' / 'a@b'."""
    if not value:
        return None
    value = value.split(";", 1)[1] if ";" in value.split("@", 1)[0] else value
    m = _ADDRESS.search(value)
    if m:
        return m.group().strip(".").lower()
    value = value.strip().strip("<>").strip()
    return value.lower() or None


def _strip_type(value: str | None) -> str | None:
    """'dns; mx.example.com' -> 'mx.example.com'."""
    value = _collapse(value)
    if value and ";" in value:
        value = value.split(";", 1)[1].strip()
    return value or None


def _message_id(value: str | None) -> str | None:
    value = _collapse(value)
    if not value:
        return None
    m = re.search(r"<([^<>\s]+)>", value)
    return m.group(1) if m else value.strip("<>") or None


def part_text(part: Message) -> str:
    """The text of a leaf part, decoded leniently (raw-mail reading uses it too)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # hostile encodings
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    # Declared charset first, then UTF-8 (mislabelled parts are common), then Latin-1.
    for charset in (part.get_content_charset(), "utf-8"):
        if charset:
            try:
                return payload.decode(charset)
            except (LookupError, UnicodeError):
                pass
    return payload.decode("latin-1")


def _field_blocks(text: str) -> list[dict[str, str]]:
    """'Name: value' blocks separated by blank lines, continuation lines unfolded."""
    blocks: list[dict[str, str]] = []
    block: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            if block:
                blocks.append(block)
            block, last = {}, None
        elif line[:1] in (" ", "\t") and last:
            block[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            if last in block:  # a new recipient without a separating blank line
                blocks.append(block)
                block = {}
            block[last] = value.strip()
    if block:
        blocks.append(block)
    return blocks


def _header(msg: Message, name: str) -> str:
    """A header as text, RFC 2047 encoded words decoded; '' when absent or broken."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


def _walk(msg: Message):
    try:
        yield from msg.walk()
    except Exception:  # malformed structures
        return


# Public API ---------------------------------------------------------------------------


def is_bounce(msg: Message) -> bool:
    """True for a delivery status notification or a message that looks like one."""
    try:
        ctype = msg.get_content_type()
        if ctype == "multipart/report" and (
            str(msg.get_param("report-type") or "").lower() == "delivery-status"
        ):
            return True
        if any(p.get_content_type() == "message/delivery-status" for p in _walk(msg)):
            return True
        if msg.get("X-Failed-Recipients"):
            return True
        sender = _header(msg, "From") + " " + _header(msg, "Return-Path")
        if BOUNCE_SUBJECTS.search(_header(msg, "Subject")) or BOUNCE_SENDERS.search(sender):
            return True
        # No telling headers: a failure phrase in the text plus the returned message.
        returned = (
            any(
                p.get_content_type() in ("message/rfc822", "text/rfc822-headers")
                for p in _walk(msg)
            )
            or _header(msg, "Return-Path").strip() == "<>"
        )
        return returned and bool(BOUNCE_BODY.search(_human_text(msg)[0][:4000]))
    except Exception:
        return False


def parse_dsn(raw: bytes) -> list[DsnRecipient]:
    """The recipients a bounce message reports on; [] when it is not a bounce."""
    try:
        msg = email.message_from_bytes(raw, policy=compat32)
        if msg.get("Content-Type") is None:
            msg = _repair_multipart(raw) or msg
    except Exception:
        return []
    if not is_bounce(msg):
        return []
    try:
        original_id = _original_message_id(msg)
        found = _from_delivery_status(msg, original_id)
        if found:
            if any(r.diagnostic is None or r.recipient is None for r in found):
                _fill_from_text(found, _Text(msg), msg)
            _complete_multiline_replies(found, msg)
            return found
        return _from_text(msg, original_id)
    except Exception:  # best effort on hostile input
        return []


def _repair_multipart(raw: bytes) -> Message | None:
    """A MIME message whose top-level Content-Type header is missing.

    When the body has a boundary line ("--xyz") that recurs and is followed by part
    headers, parse it again as multipart/mixed with that boundary.
    """
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        return None
    lines = body.splitlines()
    for i, line in enumerate(lines[:200]):
        m = re.fullmatch(rb"--([^\s]{6,}?)(?:--)?\s*", line)
        if not m:
            continue
        boundary = m.group(1)
        if sum(1 for ln in lines if ln.strip() == b"--" + boundary) < 2:
            continue
        if not any(ln.lower().startswith(b"content-type:") for ln in lines[i + 1 : i + 3]):
            continue
        kept = [
            ln
            for ln in re.split(rb"\n(?![ \t])", head)
            if not ln.lower().startswith(
                (b"content-type:", b"content-transfer-encoding:", b"mime-version:")
            )
        ]
        header = (
            b"\n".join(kept) + b'\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="'
        )
        fixed = email.message_from_bytes(header + boundary + b'"\n\n' + body, policy=compat32)
        return fixed if fixed.is_multipart() else None
    return None


# Standard DSNs --------------------------------------------------------------------------


def delivery_status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field blocks of a message/delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # compat32 parses the field blocks as messages
        blocks = []
        for sub in payload:
            if isinstance(sub, Message):
                block = {k.strip().lower(): _collapse(v) or "" for k, v in sub.items()}
                if block:
                    blocks.append(block)
        return blocks
    return _field_blocks(part_text(part))


def _from_delivery_status(msg: Message, original_id: str | None) -> list[DsnRecipient]:
    out: list[DsnRecipient] = []
    for part in _walk(msg):
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            out += _from_blocks(delivery_status_blocks(part), original_id)
    return [r for r in out if r.action not in ("delivered", "relayed", "expanded")] or out


def _from_blocks(blocks: list[dict[str, str]], original_id: str | None) -> list[DsnRecipient]:
    """RFC 3464 field blocks: the per-message block, then one block per recipient."""
    out: list[DsnRecipient] = []
    per_message: dict[str, str] = {}
    for block in blocks:
        if not any(k in block for k in ("final-recipient", "original-recipient", "action")):
            per_message.update(block)
            continue
        diagnostic = _collapse(block.get("diagnostic-code"))
        status_m = _STATUS.search(block.get("status") or "")
        code, _ = extract_codes(diagnostic)
        out.append(
            DsnRecipient(
                recipient=_address(block.get("final-recipient") or block.get("original-recipient")),
                action=(_collapse(block.get("action")) or "").lower() or None,
                status=status_m.group(1) if status_m else None,
                smtp_code=code,
                diagnostic=diagnostic,
                remote_mta=_strip_type(block.get("remote-mta")),
                original_message_id=original_id,
                arrival_date=_collapse(
                    block.get("arrival-date") or per_message.get("arrival-date")
                ),
            )
        )
    return out


# A Diagnostic-Code that is only the first line of a multi-line reply ("550-5.7.1 ...").
_FIRST_OF_MULTILINE = re.compile(r"^(?P<type>[\w-]+;\s*)?(?P<code>[45]\d\d)-\S")


def _complete_multiline_replies(found: list[DsnRecipient], msg: Message) -> None:
    """Sendmail's Diagnostic-Code keeps only the first line of a multi-line reply, and the
    cause is often in the lines after it ("... due to domain's" / "DMARC policy"). The
    session transcript of the report has the whole reply: take it from there."""
    lines: list[str] | None = None
    for r in found:
        m = _FIRST_OF_MULTILINE.match(r.diagnostic or "")
        if m is None or r.diagnostic is None:
            continue
        if lines is None:
            lines = [
                ln.strip().removeprefix("<<<").strip() for ln in _human_text(msg)[0].splitlines()
            ]
        first = r.diagnostic[m.end("type") if m.group("type") else 0 :]
        code = m.group("code")
        for i, line in enumerate(lines):
            if _collapse(line) != first:
                continue
            reply = [line]
            for nxt in lines[i + 1 :]:
                if not nxt.startswith((code + "-", code + " ")):
                    break
                reply.append(nxt)
                if nxt.startswith(code + " "):
                    break
            if len(reply) > 1:
                r.diagnostic = _collapse((m.group("type") or "") + " ".join(reply))
            break


def _inline_delivery_status(msg: Message, original_id: str | None) -> list[DsnRecipient]:
    """A plain-text bounce that pastes the delivery-status fields into its body (Postfix
    without MIME): recipient blocks with both Final-Recipient and Action count."""
    if msg.is_multipart():
        return []
    blocks = [b for b in _field_blocks(part_text(msg)) if "final-recipient" in b and "action" in b]
    return _from_blocks(blocks, original_id) if blocks else []


def _original_message_id(msg: Message) -> str | None:
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return _message_id(str(inner.get("Message-ID")))
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            headers = email.message_from_string(part_text(part), policy=compat32)
            if headers.get("Message-ID"):
                return _message_id(str(headers.get("Message-ID")))
    return None


# Non-standard bounces ---------------------------------------------------------------------


def _human_text(msg: Message) -> tuple[str, str]:
    """(text of the failure report, the rest: the returned message if inline)."""
    texts = []
    for part in _walk(msg):
        if part.is_multipart():
            continue
        # A multipart whose boundary could not be read keeps its body as text.
        if part.get_content_type() not in ("text/plain", "text/html") and not (
            part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)
        ):
            continue
        if part.get_filename():  # attached headers of the original message
            continue
        text = part_text(part)
        if part.get_content_type() == "text/html":
            text = re.sub(r"(?is)<(script|style).*?</\1>|<br\s*/?>|</p>|</div>|</tr>", "\n", text)
            text = re.sub(r"<[^>]+>", " ", text).replace("&nbsp;", " ").replace("&lt;", "<")
            text = text.replace("&gt;", ">").replace("&amp;", "&")
        texts.append(text)
        if part.get_content_type() == "text/plain":
            break
    text = "\n".join(texts)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i and (ORIGINAL_MESSAGE.search(line) or _header_block_starts(lines, i)):
            return "\n".join(lines[:i]), "\n".join(lines[i:])
    return text, ""


def _header_block_starts(lines: list[str], i: int) -> bool:
    """Two header-like lines in a row (Received:, Message-ID: ...) start a copied message."""
    return bool(
        _HEADER_LINE.match(lines[i])
        and i + 1 < len(lines)
        and (_HEADER_LINE.match(lines[i + 1]) or lines[i + 1][:1] in (" ", "\t"))
    )


def _own_addresses(msg: Message) -> set[str]:
    """The bounce's own sender and addressee (our sender), which are not the recipient."""
    own = set()
    for name in (
        "From",
        "To",
        "Return-Path",
        "Sender",
        "Reply-To",
        "Delivered-To",
        "X-Original-To",
    ):
        for m in _ADDRESS.finditer(str(msg.get(name, ""))):
            own.add(m.group().lower())
    return own


def _paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated paragraphs, without separator lines ("----- Transcript -----")."""
    paras, cur = [], []
    for line in text.splitlines():
        if _SEPARATOR.match(line):
            continue
        if line.strip():
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


def _mentions(paras: list[list[str]], skip: set[str]) -> dict[str, tuple[int, int]]:
    """Where each address is first mentioned (paragraph, line), outside To:/Subject: labels."""
    found: dict[str, tuple[int, int]] = {}
    for p, para in enumerate(paras):
        for n, line in enumerate(para):
            if _LABEL_LINE.match(line):
                continue
            for m in _ADDRESS.finditer(line):
                addr = m.group().strip(".").lower()
                if addr not in skip and not BOUNCE_SENDERS.search(addr.split("@", 1)[0]):
                    found.setdefault(addr, (p, n))
    return found


class _Text:
    """The human-readable report of a bounce, split into paragraphs, with its mentions."""

    def __init__(self, msg: Message) -> None:
        text, self.rest = _human_text(msg)
        self.paras = _paragraphs(text)
        own = _own_addresses(msg)
        self.foreign = _mentions(self.paras, own)
        # Some bounces go back to the very address that failed (or the sample was
        # anonymised that way): fall back to every address but the bounce's From.
        bounce_from = {m.group().lower() for m in _ADDRESS.finditer(_header(msg, "From"))}
        self.any = _mentions(self.paras, bounce_from)

    def recipients(self, msg: Message) -> list[str]:
        failed = [a.lower() for a in _ADDRESS.findall(_header(msg, "X-Failed-Recipients"))]
        if failed:
            return list(dict.fromkeys(failed))
        heads = self._entry_heads()
        if len(heads) > 1:
            return heads
        first = self._near_failure(self.foreign) or self._near_failure(self.any)
        if first is None:
            # Not named in the report: the addressee of the returned message, else a
            # "To: …" line of the report itself (Exchange's "Your message To: x").
            first = _returned_to(msg, self.rest) or self._to_line()
        return [first] if first else []

    def _entry_heads(self) -> list[str]:
        """Foreign addresses that head an entry of their own (an address line followed by
        the reason): each one failed, in a report that lists several."""
        heads: dict[str, None] = {}
        statuses: dict[str, None] = {}
        for para in self.paras:
            for line, after in zip(para, [*para[1:], ""], strict=True):
                m = _ENTRY_HEAD.match(line)
                addr = m.group(1).lower() if m else None
                if addr in self.foreign and after and not _ENTRY_HEAD.match(after):
                    heads[addr] = None
                m = _RCPT_STATUS.match(line)
                if m and m.group(1).lower() in self.foreign:
                    statuses[m.group(1).lower()] = None
        # Old sendmail names each failed recipient only in its transcript status line.
        return list(heads) if len(heads) > 1 else list(statuses)

    def _to_line(self) -> str | None:
        for para in self.paras:
            for line in para:
                m = re.match(r"\s*to\s*:(.*)", line, re.I)
                found = _ADDRESS.search(m.group(1)) if m else None
                if found and not BOUNCE_SENDERS.search(found.group().split("@", 1)[0]):
                    return found.group().strip(".").lower()
        return None

    def _near_failure(self, mentions: dict[str, tuple[int, int]]) -> str | None:
        """The first address whose line (or the next) carries failure wording, else the
        first address: a report may name a help desk or a list address before the one
        that failed."""
        for addr, (p, n) in mentions.items():
            near = " ".join(self.paras[p][n : n + 2])
            if _FAILURE_WORDS.search(near):
                return addr
        return next(iter(mentions), None)

    def diagnostic(self, addr: str | None) -> str | None:
        where = self.foreign.get(addr) or self.any.get(addr) if addr else None
        if where is None:
            mentioned = self.foreign or self.any
            addr = next(iter(mentioned), None)
            where = mentioned.get(addr) if addr else None
        return _diagnostic_without_address(self.paras, where, addr)


def _fill_from_text(found: list[DsnRecipient], text: _Text, msg: Message) -> None:
    """A DSN's blocks without Final-Recipient or Diagnostic-Code: the human-readable part
    names the failed address and says why."""
    named = iter(text.recipients(msg))
    for r in found:
        if r.recipient is None:
            r.recipient = next(named, None)
        if r.diagnostic is None:
            r.diagnostic = text.diagnostic(r.recipient)
            r.smtp_code, _ = _failure_codes(r.diagnostic)


def _returned_to(msg: Message, rest: str) -> str | None:
    """The first To: address of the returned original message."""
    for part in _walk(msg):
        ctype = part.get_content_type()
        inner: object = None
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            inner = email.message_from_string(part_text(part), policy=compat32)
        if isinstance(inner, Message):
            m = _ADDRESS.search(_header(inner, "To"))
            if m:
                return m.group().lower()
    m = re.search(r"(?im)^to:[^\n]*?(" + _ADDRESS.pattern + ")", rest)
    return m.group(1).lower() if m else None


def _from_text(msg: Message, original_id: str | None) -> list[DsnRecipient]:
    text = _Text(msg)
    if original_id is None and text.rest:
        m = re.search(r"(?im)^message-id:\s*(<[^>\s]+>)", text.rest)
        original_id = _message_id(m.group(1)) if m else None
    inline = _inline_delivery_status(msg, original_id)
    if inline:
        for r in inline:
            if r.diagnostic is None:
                r.diagnostic = text.diagnostic(r.recipient)
                r.smtp_code, _ = _failure_codes(r.diagnostic)
        return inline
    if original_id is None and text.rest:
        m = re.search(r"(?im)^message-id:\s*(<[^>\s]+>)", text.rest)
        original_id = _message_id(m.group(1)) if m else None
    recipients: list[str | None] = list(text.recipients(msg))
    out = []
    for addr in recipients or [None]:
        diagnostic = text.diagnostic(addr)
        if diagnostic is None and addr is None:
            return []
        code, enhanced = _failure_codes(diagnostic)
        out.append(
            DsnRecipient(addr, "failed", enhanced, code, diagnostic, None, original_id, None)
        )
    return out


def _failure_codes(text: str | None) -> tuple[int | None, str | None]:
    """The first 4xx/5xx reply code and X.Y.Z enhanced code in a failure text."""
    if not text:
        return None, None
    code = next((int(m.group(1)) for m in _REPLY_CODE.finditer(text) if m.group(1)[0] != "2"), None)
    enhanced = next(
        (".".join(m.groups()) for m in _ENHANCED_CODE.finditer(text) if m.group(1) != "2"), None
    )
    return code, enhanced


def _strong(text: str | None) -> bool:
    """Text that carries a reply code, an enhanced code or a phrase the classifier knows."""
    if not text:
        return False
    norm = normalise_text(text)
    return any(_failure_codes(norm)) or match_text(norm) is not None


def _diagnostic_without_address(
    paras: list[list[str]], where: tuple[int, int] | None, addr: str | None = None
) -> str | None:
    """The error text for one recipient.

    Candidates, in order: the recipient's paragraph from its mention on (the address
    itself removed), then the paragraphs after it, then all paragraphs. The first that
    carries a reply code or a phrase of the classifier wins, else the first one with an
    error-ish word.
    """
    candidates: list[str] = []
    if where is not None:
        p, n = where
        # A session transcript: the remote server's own replies ("<<< 550 ...").
        replies = [
            ln.strip()[3:] for ln in _session_of(paras[p], n) if ln.lstrip().startswith("<<<")
        ]
        candidates.append(" ".join(r for r in replies if _REPLY.match(r.strip())))
        lines = [ln for ln in _own_entry(paras[p][n:], addr) if not _LABEL_LINE.match(ln)] or [""]
        first = lines[0]
        if addr and re.search(re.escape(addr) + r"[\s>:;,.)\]\"']*$", first, re.I):
            # "...to: <addr>" or a bare address: an introduction, unless it states the error
            # itself ("Unknown user: addr").
            rest = re.sub(re.escape(addr) + r".*$", "", first, flags=re.I)
            first = first if _strong(rest) else ""
        elif len(lines) > 1 and _only_intro(first):
            first = ""  # the next line says why
        candidates.append(" ".join([first, *lines[1:]]))
        candidates += [" ".join(para) for para in paras[p + 1 :]]
    candidates += [" ".join(ln for ln in para if not _LABEL_LINE.match(ln)) for para in paras]
    collapsed = [c for c in map(_collapse, candidates) if c and len(c) > 3]
    for text in collapsed:
        if _strong(text):
            return text
    wordy = [t for t in collapsed if _ERROR_WORDS.search(t)]
    return next((t for t in wordy if not _only_intro(t)), wordy[0] if wordy else None)


def _session_of(para: list[str], n: int) -> list[str]:
    """The lines of the SMTP session (sendmail's "While talking to host:" block) that holds
    line n: a transcript of several sessions mixes other recipients' replies."""
    starts = [i for i, line in enumerate(para) if _SESSION_START.match(line)]
    begin = max((i for i in starts if i <= n), default=0)
    end = min((i for i in starts if i > n), default=len(para))
    # A recipient's status line closes the replies that were about it: the replies
    # before an earlier recipient's status line in the same session were about that one.
    earlier = [i for i in range(begin, min(n, end)) if _RCPT_STATUS.match(para[i])]
    if earlier and _RCPT_STATUS.match(para[n]):
        begin = earlier[-1] + 1
    return para[begin:end]


def _own_entry(lines: list[str], addr: str | None) -> list[str]:
    """The lines of one recipient's entry: up to the head of the next recipient's entry
    or the next SMTP session of a transcript."""
    for i, line in enumerate(lines[1:], 1):
        if _SESSION_START.match(line):
            return lines[:i]
        m = _ENTRY_START.match(line) or _RCPT_STATUS.match(line)
        if m and m.group(1).lower() != (addr or "").lower():
            return lines[:i]
    return lines


def _only_intro(text: str) -> bool:
    """An introduction to the failure that does not say why (see _INTRO)."""
    if not _INTRO.search(text):
        return False
    rest = _INTRO.sub(" ", _ADDRESS.sub(" ", text))
    return not _strong(rest)

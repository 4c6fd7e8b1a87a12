"""What kind of mail a raw message is, when it is not simply a sent email or a bounce.

`files.py` asks these in order before it treats a message as a bounce or a sent mail:

- an ARF feedback report (RFC 5965): a recipient's complaint about one of our messages;
- a read receipt (MDN, RFC 8098): a recipient displayed one of our messages;
- a bounce forwarded by a person ("Fwd: Undelivered Mail …" with the DSN attached or
  pasted inline): the bounce inside is what counts;
- a provider's JSON notification delivered as an email (Amazon SNS email subscriptions
  carry SES bounce/complaint notifications as a JSON body);
- an automatic reply (RFC 3834: out-of-office, vacation): never a bounce;
- received mail in a Maildir (the final delivery left its trace headers).

Pure functions of the parsed message; nothing here raises on hostile input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from maillog_cli.importers.email import dsn as _dsn

# --- ARF feedback reports (RFC 5965) ---------------------------------------------------------

FEEDBACK_PART = "message/feedback-report"
# Feedback types that are complaints about the message; RFC 6430 `not-spam` is the
# opposite and RFC 6591 `auth-failure` is a DMARC/SPF failure report about our domain.
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other", "opt-out", ""})
# The original recipient as ISPs that redact To: still give it.
ORIGINAL_RECIPIENT_HEADERS = ("X-HmXmrOriginalRecipient", "X-Original-To", "Delivered-To")


def walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:  # malformed structures
        return


def is_feedback_report(msg: Message) -> bool:
    """multipart/report; report-type=feedback-report, or a message/feedback-report part."""
    try:
        if msg.get_content_type() == "multipart/report":
            if str(msg.get_param("report-type") or "").lower() == "feedback-report":
                return True
        return any(p.get_content_type() == FEEDBACK_PART for p in walk(msg))
    except Exception:
        return False


def feedback_fields(msg: Message) -> dict[str, list[str]]:
    """The fields of the message/feedback-report part, lowercased names, every value."""
    return report_fields(msg, (FEEDBACK_PART,))


def report_fields(msg: Message, part_types: tuple[str, ...]) -> dict[str, list[str]]:
    """The fields of the first machine-readable report part of one of `part_types`
    (a feedback report, a disposition notification), lowercased names, every value."""
    out: dict[str, list[str]] = {}
    for part in walk(msg):
        if part.get_content_type() not in part_types:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):  # compat32 parses the fields as a message
            pairs = [
                (k, str(v)) for sub in payload if isinstance(sub, Message) for k, v in sub.items()
            ]
        else:
            text = payload if isinstance(payload, str) else ""
            pairs = re.findall(r"(?m)^([A-Za-z][\w-]*)[ \t]*:[ \t]*(.*(?:\n[ \t].*)*)", text)
        for name, value in pairs:
            value = " ".join(value.split())
            if value:
                out.setdefault(name.strip().lower(), []).append(value)
        break
    return out


# --- read receipts (MDN, RFC 8098; RFC 6533 for the internationalised part) ------------------

MDN_PARTS = ("message/disposition-notification", "message/global-disposition-notification")


def is_read_receipt(msg: Message) -> bool:
    """multipart/report; report-type=disposition-notification, or an MDN part."""
    try:
        if msg.get_content_type() == "multipart/report":
            kind = str(msg.get_param("report-type") or "").lower()
            if kind in ("disposition-notification", "global-disposition-notification"):
                return True
        return any(p.get_content_type() in MDN_PARTS for p in walk(msg))
    except Exception:
        return False


def disposition_type(value: str) -> str:
    """The disposition of an MDN's `Disposition:` field: `manual-action/MDN-sent-manually;
    displayed` → `displayed` (RFC 8098 §3.2.6: after the `;`, before any `/` modifier)."""
    _, _, kind = value.rpartition(";")
    return kind.split("/", 1)[0].strip().lower()


# --- automatic replies (RFC 3834) ------------------------------------------------------------

# Subjects that say "automatic reply" outright, and softer ones (vacation, absence) that
# also need the message to be a reply (In-Reply-To / References / "Re:"): a newsletter
# about vacations is not an auto-reply.
AUTO_REPLY_SUBJECT = re.compile(
    r"out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)"
    r"|^auto:|abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica"
    r"|risposta automatica|resposta autom[áa]tica|automatisch antwoord",
    re.I,
)
ABSENCE_SUBJECT = re.compile(
    r"vacation|on leave|away from (?:the office|my desk)|abwesen|absen[ct]|fuera de la oficina"
    r"|fuori sede|afwezig|holiday",
    re.I,
)
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Auto-Reply")


def is_auto_reply(msg: Message, subject: str) -> bool:
    """An automatic reply (RFC 3834), as senders mark them.

    `Auto-Submitted: auto-replied`, an X-Autoreply-style header or `Precedence:
    auto_reply` say so outright; an out-of-office / vacation subject counts when the
    message is also marked automatic (any Auto-Submitted but "no", Precedence bulk /
    junk / list, X-Auto-Response-Suppress). A delivery status notification is never
    one (Postfix marks its bounces auto-replied too): callers check for bounces first.
    """
    submitted = str(msg.get("Auto-Submitted", "")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if submitted.startswith("auto-replied") or precedence == "auto_reply":
        return True
    if any(_flag(msg.get(h)) for h in _AUTO_REPLY_HEADERS):
        return True
    marked = (
        (submitted and not submitted.startswith("no"))
        or precedence in ("bulk", "junk", "list")
        or msg.get("X-Auto-Response-Suppress") is not None
    )
    if not marked:
        return False
    if AUTO_REPLY_SUBJECT.search(subject):
        return True
    a_reply = msg.get("In-Reply-To") is not None or msg.get("References") is not None
    a_reply = a_reply or re.match(r"\s*re\s*:", subject, re.I) is not None
    return a_reply and ABSENCE_SUBJECT.search(subject) is not None


def _flag(value: Any) -> bool:
    return value is not None and str(value).strip().lower() not in ("no", "false", "0")


# --- forwarded bounces -----------------------------------------------------------------------

FORWARD_SUBJECT = re.compile(r"^\s*(?:re\s*:\s*)?(?:fwd?|wg|tr|rv|enc|doorst|vs|fs)\s*:", re.I)
# The line a mail client puts above a forwarded message.
FORWARD_MARKER = re.compile(
    r"^[ \t>]*(?:-{2,}\s*(?:forwarded message|original message|weitergeleitete nachricht"
    r"|urspr[üu]ngliche nachricht|message transf[ée]r[ée]|message d'origine|mensaje reenviado"
    r"|mensaje original|messaggio inoltrato|messaggio originale|mensagem encaminhada"
    r"|doorgestuurd bericht)\s*-{2,}|begin forwarded message:)\s*$",
    re.I | re.M,
)
# Header labels of a pasted message, as clients write them, and the RFC 5322 name.
_PASTED_LABELS = {
    "from": "From",
    "von": "From",
    "de": "From",
    "sent": "Date",
    "date": "Date",
    "datum": "Date",
    "gesendet": "Date",
    "envoyé": "Date",
    "to": "To",
    "an": "To",
    "à": "To",
    "para": "To",
    "subject": "Subject",
    "betreff": "Subject",
    "objet": "Subject",
    "asunto": "Subject",
    "cc": "Cc",
    "message-id": "Message-ID",
    "return-path": "Return-Path",
    "content-type": "Content-Type",
}
_PASTED_HEADER = re.compile(r"^[ \t>]*([^\s:][^:\n]{0,30}?)[ \t]*:[ \t]*(.*)$")


def forwarded_bounce(
    msg: Message, subject: str, text: Callable[[], str], is_bounce: Callable[[Message], bool]
) -> bytes | None:
    """The bytes of a bounce that a person forwarded, or None.

    Only for a message with a forward subject (Fwd:, FW:, WG: …): an attached
    message/rfc822 that `is_bounce` accepts, else the text (`text()`, read only then)
    below the forward marker rebuilt as a message (its pasted From/Date/Subject lines
    become headers, `> ` quoting removed).
    """
    if not FORWARD_SUBJECT.search(subject):
        return None
    for part in walk(msg):
        if part is msg or part.get_content_type() not in ("message/rfc822", "message/global"):
            continue
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message) and is_bounce(inner):
            try:
                return inner.as_bytes(policy=compat32)
            except Exception:
                return None
        break  # the first attached message is the forwarded one
    marker = FORWARD_MARKER.search(text())
    if marker is None:
        return None
    raw = _pasted_message(marker.string[marker.end() :])
    if raw is None:
        return None
    try:
        inner = BytesParser(policy=compat32).parsebytes(raw)
    except Exception:
        return None
    return raw if is_bounce(inner) else None


def _pasted_message(text: str) -> bytes | None:
    """A message rebuilt from its pasted form: "From: …" lines, a blank line, the body."""
    lines = [re.sub(r"^[ \t]*> ?", "", ln) for ln in text.lstrip("\n").splitlines()]
    headers: list[str] = []
    i = 0
    while i < len(lines) and lines[i].strip():
        m = _PASTED_HEADER.match(lines[i])
        name = _PASTED_LABELS.get(m.group(1).strip().lower()) if m else None
        if name is None:
            if headers and lines[i][:1] in (" ", "\t"):
                headers[-1] += " " + lines[i].strip()
                i += 1
                continue
            break
        headers.append(f"{name}: {m.group(2).strip()}" if m else "")
        i += 1
    if not any(h.startswith("From:") for h in headers):
        return None
    body = "\n".join(lines[i:]).lstrip("\n")
    return ("\n".join(headers) + "\n\n" + body).encode("utf-8", "replace")


# --- provider notifications as email ---------------------------------------------------------


def json_body(msg: Message) -> Any | None:
    """The message's text when all of it is one JSON object (SNS email notifications)."""
    if msg.is_multipart():
        return None
    payload = msg.get_payload()
    encoded = str(msg.get("Content-Transfer-Encoding", "")).strip().lower() == "base64"
    if not encoded and not (isinstance(payload, str) and payload.lstrip().startswith("{")):
        return None  # cheap check first: most mail is not JSON
    text = _dsn.part_text(msg).strip()
    if not text.startswith("{") or len(text) > 4 * 1024 * 1024:
        return None
    try:
        # strict=False: mail transport folds long lines, leaving raw line breaks inside
        # JSON strings, which strict JSON refuses.
        value = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None
    return _nested_json_repaired(value) if isinstance(value, dict) else None


def _nested_json_repaired(obj: dict[str, Any]) -> dict[str, Any]:
    """String values that are JSON themselves (SNS's `Message`), re-encoded as strict JSON
    when the mail's line folding broke them, so the provider importer can read them."""
    out = dict(obj)
    for key, value in obj.items():
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                json.loads(value)
            except ValueError:
                try:
                    out[key] = json.dumps(json.loads(value, strict=False), ensure_ascii=False)
                except (ValueError, RecursionError):
                    pass
            except RecursionError:
                pass
    return out


# --- received mail ---------------------------------------------------------------------------

# Maildir++ folders that hold our own mail, not received mail.
OWN_FOLDERS = re.compile(r"sent|draft|outbox|gesendet|envoy|enviad|inviat|verzonden", re.I)
# Headers the final delivery adds (the MDA / the receiving MTA).
DELIVERY_TRACE = ("Delivered-To", "X-Original-To", "Return-Path", "Received", "Envelope-To")


def is_received(msg: Message, folder: str) -> bool:
    """A message delivered into this Maildir: not in a Sent/Drafts folder and carrying
    the trace headers of a delivery (a sent copy a mail client saved carries none)."""
    if OWN_FOLDERS.search(folder):
        return False
    return any(msg.get(h) is not None for h in DELIVERY_TRACE)

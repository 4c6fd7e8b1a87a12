"""Raw emails as an import source: .eml files, mbox files and Maildir folders.

This is the one source that carries the messages themselves, which `maillog show`
and `maillog resend` need (docs/providers.md#email). It is not a JSON importer:
the pipeline asks `sniff()` about a file's first bytes and then hands the whole
(decompressed) stream to `read()`; Maildir folders go to `read_maildir()`.

For every message:

- An ordinary (sent) email becomes a `StoredMessage` (the exact bytes plus the
  facts `show` and `resend` need) followed by one `sent` event per To/Cc/Bcc
  recipient (provider null, raw_status `sent`, extra `{"source": "eml"|"mbox"|
  "maildir"}`).
- A bounce (a delivery status notification, or a non-standard bounce that
  `dsn.parse_dsn` can read) becomes one `bounced` / `deferred` event per failed or
  delayed recipient, filed under the ORIGINAL message's id. The bounce itself is
  not stored: it is not ours to resend.
- Anything unreadable (not an email, NUL bytes or oversized headers, no usable
  date, broken MIME that the parser chokes on) becomes a `RecordError` item for
  that message; reading goes on with the next one. Nothing here raises on input.

Rules worth knowing:

- Message id: the Message-ID header (docs/providers.md, "Message id": trimmed, one pair of `<>`
  removed, case kept). A message without one gets a stable synthetic id,
  ``"sha1-" + sha1(raw bytes).hexdigest()[:32]``, so importing it again (or the same
  message from an .eml and from an mbox, whose From_ line is not part of the
  message) gives the same id.
- Timestamp: the Date header; when it is missing or unreadable, the date of the
  mbox From_ line (zone-less, so `--tz` applies), else the oldest Received hop's date,
  else the modification time of the file holding just that message (.eml, Maildir); the
  last two are said in the event (extra.time_from `received` / `file_mtime`); none of
  them (an undated message on stdin) → RecordError. Never the time of the import.
- Bounce event time: the DSN's Last-Attempt-Date for that recipient, else the
  bounce's own Date, else the DSN's Arrival-Date. (Arrival-Date is when the
  *original* reached the reporting MTA; used first it would make several delay
  notices for one message hash to the same event id.)
- A message counts as a bounce only when `dsn.is_bounce` says so *and* it carries
  a structural sign of one (a delivery-status part, X-Failed-Recipients, a
  mailer-daemon/postmaster sender, an empty Return-Path, Auto-Submitted, or a
  returned message part). A sent mail whose subject merely says "rejected" or
  "not delivered" is kept as a sent mail.
- mbox: messages are split on "From " lines that follow a blank line (or, after
  no blank line, a From_ line with a full asctime date); mboxrd quoting is undone (``>From `` → ``From ``,
  ``>>From `` → ``>From ``), and the blank line that separates messages is not part
  of the message. The stream is read line by line, so a huge mbox costs memory of
  one message at a time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Any, BinaryIO

from maillog_cli import normalize
from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context, custom_ids, finish, other_ids
from maillog_cli.importers.email import dsn as _dsn
from maillog_cli.importers.email import kinds as _kinds
from maillog_cli.model import Event, Skip, StoredMessage
from maillog_cli.redaction import redact_email_headers

NAME = "email"
PROVIDER = None
SIGNATURE = (
    "raw email: an mbox (first line 'From sender date') or an RFC 5322 message "
    "(header lines such as Received:, Return-Path:, From:, Message-ID:, MIME-Version:)"
)
SHAPES = ".eml files, mbox files, Maildir folders (cur/ new/)"

Item = StoredMessage | Event | Skip | Exception
# The times a message's own dates fall back on, in order, each with what the event then
# says it came from (None: a date the source states, said nowhere): the mbox From_ line,
# the oldest Received hop, the file's modification time. Never "now".
Backups = tuple[tuple[str | None, str | None], ...]

# Limits that keep hostile input from costing memory or time.
SNIFF_LIMIT = 64 * 1024
MAX_MESSAGE = 24 * 1024 * 1024  # one message (an mbox may be any size); keeps import under 150 MB
MAX_HEADER_SECTION = 1024 * 1024
MAX_FIELD = 64 * 1024  # one unfolded header field
READ_CHUNK = 1024 * 1024  # longest physical line read at once

# A header field line as real mail has it (RFC 5322 allows more in a name; nobody uses it,
# and being strict keeps CSV headers such as "Message-ID,Status" out).
_FIELD = re.compile(rb"[A-Za-z][A-Za-z0-9_-]*[ \t]*:")
_KNOWN_FIELDS = frozenset(
    b"""received return-path from to cc bcc subject date message-id delivered-to
    mime-version content-type content-transfer-encoding reply-to sender in-reply-to
    references x-mailer user-agent dkim-signature authentication-results arc-seal
    arc-message-signature arc-authentication-results received-spf x-original-to
    list-unsubscribe list-id precedence auto-submitted x-failed-recipients
    x-apparently-to x-original-authentication-results domainkey-signature
    resent-from resent-to resent-date errors-to
    envelope-to x-received x-google-dkim-signature thread-topic thread-index
    importance x-priority feedback-id x-ses-outgoing x-sg-eid""".split()
)
# The first line of an mbox ("From sender asctime-date [more]"), for sniffing; inside the
# file any "From " line after a blank line starts a message, and without the blank line
# only one with a full asctime date does.
_FROM_LINE = re.compile(rb"From \S*[ \t]+.*\d{1,2}:\d{2}")
_STRICT_FROM_LINE = re.compile(
    rb"From \S+[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
    rb"|Oct|Nov|Dec) +\d{1,2} +\d{1,2}:\d{2}(?::\d{2})?(?: +\S+)? +\d{4}\b"
)
_QUOTED_FROM = re.compile(rb">+From ")
_AUTH_RESULT = re.compile(r"(?:^|;)\s*(spf|dkim|dmarc)\s*=\s*([A-Za-z]+)", re.I)
_SPF_WORD = re.compile(r"^\s*([A-Za-z]+)")

# Headers kept (decoded) with the stored message, in this order.
KEPT_HEADERS = (
    "From",
    "Sender",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Return-Path",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "MIME-Version",
    "Content-Type",
    "X-Mailer",
    "User-Agent",
)
MAX_KEPT_VALUE = 4000


class _RawHeaders(Compat32):
    """compat32, but header values come back as the parser read them (8-bit bytes as
    surrogates) instead of as Header objects whose text has lost those bytes."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders()

_RETURNED_PARTS = (
    "message/rfc822",
    "text/rfc822-headers",
    "message/global",
    "message/global-headers",
)
_STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")
_BOUNCE_ACTIONS = {"failed": "bounced", "delayed": "deferred"}


# --- sniffing ------------------------------------------------------------------------------


def _lines(head: bytes) -> list[bytes]:
    """Complete lines of `head` (the last, possibly cut one is dropped when there are others)."""
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines.pop()  # "" after a final newline, or a line the sniff window cut
    return [ln.rstrip(b"\r") for ln in lines]


def _header_lines_ok(lines: list[bytes], min_fields: int) -> bool:
    """Lines up to the first blank one are header fields or their continuations."""
    fields = known = 0
    for i, line in enumerate(lines):
        if not line:
            break
        if b"\x00" in line:
            return False
        if line[:1] in (b" ", b"\t"):
            if i == 0:
                return False
            continue
        m = _FIELD.match(line)
        if not m:
            return False
        fields += 1
        name = line[: m.end() - 1].strip().lower()
        if name in _KNOWN_FIELDS or name.startswith((b"x-", b"arc-", b"list-", b"content-")):
            known += 1
    return fields >= min_fields and known >= 1


def _known_name(line: bytes) -> bool:
    """The line is a header field whose name real mail carries (Received:, X-…: …)."""
    m = _FIELD.match(line)
    if not m:
        return False
    name = line[: m.end() - 1].strip().lower()
    return name in _KNOWN_FIELDS or name.startswith((b"x-", b"arc-", b"list-", b"content-"))


def _mail_header_start(lines: list[bytes], head: bytes) -> bool:
    """A header section that starts like mail, even when a later line is broken.

    Real bounces carry header lines no CSV or YAML file starts with (Received:,
    Return-Path:, Delivered-To:, X-…:) and sometimes a malformed line further down (an
    unindented continuation, a name with odd characters). The first line being such a
    field, plus a second known field before the first blank line, is enough. A first
    line longer than the sniff window counts on its own.
    """
    if not lines or not _known_name(lines[0]):
        return False
    if b"\n" not in head:
        return True
    known = 0
    for line in lines[:500]:
        if not line:
            break
        known += _known_name(line)
    return known >= 2


def sniff(name: str, head: bytes) -> bool:
    """True for an mbox or an RFC 5322 message, judged from its first bytes and its name."""
    head = _without_blank_lines(head[:SNIFF_LIMIT])
    stripped = head.lstrip()
    if not stripped or stripped[:1] in (b"{", b"["):
        return False
    lines = _lines(head)
    if not lines:
        return False
    first = lines[0]
    if first.startswith(b"From "):
        # An mbox: a From_ line with a date, then the first message's header lines.
        return bool(_FROM_LINE.match(first)) and _header_lines_ok(lines[1:], 1)
    lower = name.lower()
    lenient = lower.endswith((".eml", ".msg.txt", ".email")) or lower.endswith(".eml.gz")
    return _header_lines_ok(lines, 1 if lenient else 2) or _mail_header_start(lines, head)


def _without_blank_lines(head: bytes) -> bytes:
    """The text from its first non-blank line on (saved mail sometimes starts with one)."""
    m = re.match(rb"(?:[ \t]*\r?\n)+", head)
    return head[m.end() :] if m else head


def is_maildir(path: Path) -> bool:
    """A folder with `cur/` or `new/` inside (a Maildir, or a Maildir++ root)."""
    try:
        return path.is_dir() and ((path / "cur").is_dir() or (path / "new").is_dir())
    except OSError:
        return False


# --- reading -------------------------------------------------------------------------------


def read(
    stream: BinaryIO, name: str, ctx: Context, path: Path | None = None
) -> Iterator[tuple[int, Item]]:
    """(line where the message starts, item) for every message of an .eml or an mbox.
    `path`: the file on disk (None for stdin), whose time an undated .eml falls back on."""
    line = 1
    try:
        first = stream.readline(READ_CHUNK)
        while first and not first.strip() and line < 1000:  # blank lines before the headers
            first, line = stream.readline(READ_CHUNK), line + 1
    except Exception as exc:  # a broken compressed stream and the like
        yield line, RecordError(f"cannot read the file: {_short(exc)}")
        return
    if first.startswith(b"From ") and first.endswith(b"\n"):
        yield from _read_mbox(stream, first, ctx)
        return
    try:
        rest = stream.read(MAX_MESSAGE + 1 - len(first))
    except Exception as exc:
        yield line, RecordError(f"cannot read the file: {_short(exc)}")
        return
    raw = first + rest
    if len(raw) > MAX_MESSAGE:
        yield line, RecordError(f"message larger than {MAX_MESSAGE >> 20} MiB")
        return
    for item in message_items(raw, "eml", ctx, file_time=_file_time(path)):
        yield line, item


def read_maildir(path: Path, ctx: Context) -> Iterator[tuple[str, Item]]:
    """(file name relative to the folder, item) for every message in cur/ and new/.

    Maildir++ sub-folders (`.Sent/`, `.Archive/` …) are read too.
    """
    folders = [Path()]
    try:
        folders += sorted(
            Path(p.name)
            for p in path.iterdir()
            if p.name.startswith(".") and p.name not in (".", "..") and is_maildir(p)
        )
    except OSError:
        pass
    for folder in folders:
        for sub in ("new", "cur"):
            where = path / folder / sub
            try:
                files = sorted(p for p in where.iterdir() if not p.name.startswith("."))
            except OSError:
                continue
            for file in files:
                loc = str(folder / sub / file.name)
                try:
                    if not file.is_file():
                        continue
                    if file.stat().st_size > MAX_MESSAGE:
                        yield loc, RecordError(f"message larger than {MAX_MESSAGE >> 20} MiB")
                        continue
                    raw = file.read_bytes()
                except OSError as exc:
                    yield loc, RecordError(f"cannot read: {_short(exc)}")
                    continue
                file_time = _file_time(file)
                for item in message_items(
                    raw, "maildir", ctx, folder=str(folder), file_time=file_time
                ):
                    yield loc, item


def _read_mbox(stream: BinaryIO, first: bytes, ctx: Context) -> Iterator[tuple[int, Item]]:
    """Split an mbox stream into messages, one in memory at a time."""
    line_no = 1  # physical line of the current From_ line
    from_line = first
    lines: list[bytes] = []
    size = 0
    too_big = False
    at_line_start = True
    prev_blank = False
    physical = 1

    def flush() -> Iterator[tuple[int, Item]]:
        if too_big:
            yield line_no, RecordError(f"message larger than {MAX_MESSAGE >> 20} MiB")
            return
        if lines and lines[-1] in (b"\n", b"\r\n"):
            lines.pop()  # the blank line that separates messages
        raw = b"".join(lines)
        for item in message_items(raw, "mbox", ctx, _from_line_date(from_line)):
            yield line_no, item

    while True:
        try:
            chunk = stream.readline(READ_CHUNK)
        except Exception as exc:
            yield from flush()
            yield physical + 1, RecordError(f"cannot read the rest of the file: {_short(exc)}")
            return
        if not chunk:
            break
        starts_line = at_line_start
        at_line_start = chunk.endswith(b"\n")
        if starts_line:
            physical += 1
            if chunk.startswith(b"From ") and (prev_blank or _STRICT_FROM_LINE.match(chunk)):
                yield from flush()
                line_no, from_line = physical, chunk
                lines, size, too_big, prev_blank = [], 0, False, False
                continue
            if _QUOTED_FROM.match(chunk):
                chunk = chunk[1:]  # mboxrd: one level of quoting comes off
            prev_blank = chunk in (b"\n", b"\r\n")
        else:
            prev_blank = False
        if too_big:
            continue
        size += len(chunk)
        if size > MAX_MESSAGE:
            too_big, lines = True, []
            continue
        lines.append(chunk)
    yield from flush()


def _file_time(path: Path | None) -> str | None:
    """A file's modification time as an ISO time in UTC (None for stdin or on failure)."""
    if path is None:
        return None
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    except (OSError, ValueError, OverflowError):
        return None


def _from_line_date(line: bytes) -> str | None:
    """The date part of a From_ line ("From sender Thu Jan  4 10:00:00 2024"), or None."""
    parts = line.decode("latin-1").strip().split(None, 2)
    if len(parts) < 3:
        return None
    text = re.sub(r"\s+remote from .*$", "", parts[2]).strip()
    return text or None


# --- one message ---------------------------------------------------------------------------


def message_items(
    raw: bytes,
    source: str,
    ctx: Context,
    from_line_date: str | None = None,
    folder: str | None = None,
    file_time: str | None = None,
) -> list[Item]:
    """Everything one message yields: [StoredMessage, Event…], bounce events, a Skip, or one error.

    `folder` is the Maildir folder the message lies in ("" for the top one); None for
    .eml and mbox files. `file_time` is the modification time of the file that holds just
    this message (.eml, Maildir), the last resort for a message that states no date.
    """
    try:
        return _message_items(raw, source, ctx, from_line_date, folder, file_time)
    except RecordError as exc:
        return [exc]
    except RecursionError:
        return [RecordError("MIME structure nested too deeply")]
    except Exception as exc:  # hostile input must never stop an import
        return [RecordError(f"unreadable message: {_short(exc)}")]


def _message_items(
    raw: bytes,
    source: str,
    ctx: Context,
    from_line_date: str | None,
    folder: str | None,
    file_time: str | None,
) -> list[Item]:
    """The items of one message, by what kind of mail it is (see kinds.py for the order)."""
    _check_headers(raw)
    msg = _parse(raw)
    backups: Backups = (
        (from_line_date, None),
        *((when, "received") for when in _received_dates(msg)),
        (file_time, "file_mtime"),
    )
    if _kinds.is_feedback_report(msg):
        return _complaint_items(raw, msg, ctx, backups)
    if _kinds.is_read_receipt(msg):
        return _read_receipt_items(raw, msg, ctx, backups)
    subject = _decoded(msg.get("Subject")) or ""
    dsn_outside = _outer_is_dsn(msg)
    if not dsn_outside:
        inner = _kinds.forwarded_bounce(msg, subject, lambda: _full_text(msg), _is_bounce)
        if inner is not None:
            return _forwarded_items(inner, msg, ctx, backups)
    if not dsn_outside and not _dsn.BOUNCE_SUBJECTS.search(subject):
        if _kinds.is_auto_reply(msg, subject):
            return [Skip("automatic reply (RFC 3834), not a bounce")]
    if _is_bounce(msg):
        return _bounce_items(raw, msg, ctx, backups)
    provided = _provider_items(msg, ctx)
    if provided is not None:
        return provided
    if folder is not None and _kinds.is_received(msg, folder):
        return _sent_items(raw, msg, source, ctx, backups, inbound=True)
    return _sent_items(raw, msg, source, ctx, backups)


# Above this size a message that is not a delivery report is read by its headers alone:
# Python's parser holds every line of a body as an object (a 16 MB attachment took
# ~120 MB), and what a sent email tells us is in its headers; its bytes are stored as is.
LARGE_MESSAGE = 2 << 20


def _parse(raw: bytes) -> Message:
    """The parsed message; a large one that is no report without its (attachment) body."""
    if len(raw) > LARGE_MESSAGE:
        end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=-1)
        if end >= 0:
            head = BytesParser(policy=_POLICY).parsebytes(raw[: end + 2], headersonly=True)
            if head.get_content_type() not in ("multipart/report", "message/rfc822"):
                return head
    return BytesParser(policy=_POLICY).parsebytes(raw)


def _outer_is_dsn(msg: Message) -> bool:
    """The message itself is a delivery report by its structure or its sender."""
    if msg.get_content_type() == "multipart/report" or msg.get("X-Failed-Recipients"):
        return True
    who = " ".join(_text(msg.get(h)) or "" for h in ("From", "Sender"))
    if _dsn.BOUNCE_SENDERS.search(who):
        return True
    return any(p.get_content_type() in _STATUS_PARTS for p in _own_parts(msg))


def _own_parts(msg: Message) -> Iterator[Message]:
    """The parts of a message, not descending into attached messages (a forwarded DSN
    is not a delivery report of the message that carries it)."""
    yield msg
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        for part in msg.get_payload():
            if isinstance(part, Message):
                yield from _own_parts(part)


def _full_text(msg: Message) -> str:
    """The readable text of a message, the part below a returned-message line included."""
    report, rest = _dsn._human_text(msg)
    return report + "\n" + rest if rest else report


def _forwarded_items(inner: bytes, outer: Message, ctx: Context, backups: Backups) -> list[Item]:
    """A bounce a person forwarded: the bounce's events; the outer Date backs up its own."""
    msg = BytesParser(policy=_POLICY).parsebytes(inner)
    outer_date = (_text(outer.get("Date")), None)
    items = _bounce_items(inner, msg, ctx, (backups[0], outer_date, *backups[1:]))
    forwarder = _addresses(outer, "From")
    for item in items:
        if isinstance(item, Event) and forwarder:
            item.extra["forwarded_by"] = forwarder[0]
    return items


def _provider_items(msg: Message, ctx: Context) -> list[Item] | None:
    """A provider's JSON notification delivered as an email (SNS email subscriptions
    carry SES events this way): that provider importer's items, else None."""
    obj = _kinds.json_body(msg)
    if obj is None:
        return None
    from maillog_cli import importers

    module = importers.detect(obj)
    if module is None or getattr(module, "PROVIDER", None) is None:
        return None
    try:
        return list(module.parse(obj, ctx))
    except RecordError as exc:
        return [exc]


def _check_headers(raw: bytes) -> None:
    """RecordError unless `raw` starts with a sane header section."""
    if not raw.strip():
        raise RecordError("empty message")
    end = _header_end(raw)
    section = raw[:end]
    if len(section) > MAX_HEADER_SECTION:
        raise RecordError(f"header section longer than {MAX_HEADER_SECTION >> 10} KiB")
    if b"\x00" in section:
        raise RecordError("NUL byte in the message headers")
    fields = 0
    length = 0
    name = b""
    for i, line in enumerate(section.split(b"\n")):
        line = line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if i == 0:
                raise RecordError("not an email message: it starts with a continuation line")
            length += len(line)
        elif m := _FIELD.match(line):
            fields += 1
            length = len(line)
            name = line[: m.end() - 1].strip()[:40]
        elif i == 0:
            raise RecordError("not an email message: it does not start with header lines")
        else:
            # Python's parser treats this as the start of the body; so do we.
            break
        if length > MAX_FIELD:
            what = name.decode("ascii", "replace")
            raise RecordError(f"header field {what} longer than {MAX_FIELD >> 10} KiB")
    if not fields:
        raise RecordError("not an email message: no header fields")


def _header_end(raw: bytes) -> int:
    """Offset of the blank line that ends the header section (len(raw) when there is none)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def _is_bounce(msg: Message) -> bool:
    if not _dsn.is_bounce(msg):
        return False
    ctype = msg.get_content_type()
    if ctype == "multipart/report" or msg.get("X-Failed-Recipients"):
        return True
    who = " ".join(_text(msg.get(h)) or "" for h in ("From", "Return-Path", "Sender"))
    if _dsn.BOUNCE_SENDERS.search(who):
        return True
    if (_text(msg.get("Return-Path")) or "").strip() == "<>":
        return True
    if (_text(msg.get("Auto-Submitted")) or "").strip().lower().startswith("auto-"):
        return True
    return any(p.get_content_type() in _STATUS_PARTS + _RETURNED_PARTS for p in _walk(msg))


def _sent_items(
    raw: bytes,
    msg: Message,
    source: str,
    ctx: Context,
    backups: Backups,
    inbound: bool = False,
) -> list[Item]:
    """The stored message and one event per recipient: `sent`, or for mail received into
    a Maildir `processed` with direction inbound (as Resend's `email.received`)."""
    if not any(msg.get(h) for h in ("From", "To", "Cc", "Bcc", "Message-ID", "Date", "Subject")):
        raise RecordError("not an email message: no From, To, Subject, Date or Message-ID")
    message_id = normalize.message_id(_text(msg.get("Message-ID"))) or synthetic_id(raw)
    timestamp, time_from = _timestamp(msg, ctx, backups)
    senders = _addresses(msg, "From")
    sender = senders[0] if senders else None
    recipients = tuple(dict.fromkeys(a for h in ("To", "Cc", "Bcc") for a in _addresses(msg, h)))
    subject = _decoded(msg.get("Subject"))
    spf, dkim, dmarc = auth_results(msg)
    method = send_method_of(msg)
    tags = header_tags(msg)
    aliases = other_ids(message_id, *header_custom_ids(msg))
    stored = StoredMessage(
        message_id=message_id,
        timestamp=timestamp,
        sender=sender,
        recipients=recipients,
        subject=subject,
        size=len(raw),
        raw=redact_email_headers(raw),
        spf=spf,
        dkim=dkim,
        dmarc=dmarc,
        headers=kept_headers(msg),
        send_method=method,
    )
    items: list[Item] = [stored]
    for rcpt in recipients:
        items.append(
            finish(
                Event(
                    timestamp=timestamp,
                    status="processed" if inbound else "sent",
                    raw_status="received" if inbound else "sent",
                    provider=None,
                    message_id=message_id,
                    direction="inbound" if inbound else "outbound",
                    sender=sender,
                    recipient=rcpt,
                    subject=subject,
                    size=len(raw),
                    send_method=method,
                    tags=tags,
                    aliases=aliases,
                    extra=_with_time_from({"source": source}, time_from),
                )
            )
        )
    return items


def _bounce_items(raw: bytes, msg: Message, ctx: Context, backups: Backups) -> list[Item]:
    recipients = [r for r in _dsn.parse_dsn(raw) if r.recipient is not None]
    if not recipients:
        return [Skip("bounce message without a readable recipient")]
    bounce_id = normalize.message_id(_text(msg.get("Message-ID"))) or synthetic_id(raw)
    last_attempts = _last_attempt_dates(msg)
    original = _returned_headers(msg)
    orig_sender = None
    orig_subject = None
    if original is not None:
        found = _addresses(original, "From")
        orig_sender = found[0] if found else None
        orig_subject = _decoded(original.get("Subject"))
    items: list[Item] = []
    for rec in recipients:
        status = _bounce_status(rec.action, rec.status)
        if status is None:
            continue  # delivered / relayed / expanded: not a failure
        recipient = (rec.recipient or "").strip().lower()
        timestamp, time_from = _bounce_time(
            msg,
            ctx,
            [last_attempts.get(recipient), last_attempts.get("")],
            rec.arrival_date,
            backups,
        )
        smtp_code, enhanced, diagnostic = normalize.reply_fields(
            status, rec.diagnostic, rec.smtp_code, rec.status
        )
        extra: dict[str, Any] = {
            "source": "dsn",
            "bounce_message_id": bounce_id,
            "remote_mta": rec.remote_mta,
        }
        message_id = normalize.message_id(rec.original_message_id)
        if message_id is None:
            message_id = bounce_id
            extra["note"] = "the bounce does not name the original message; filed under its own id"
        action = (rec.action or "").strip().lower() or (
            "failed" if status == "bounced" else "delayed"
        )
        items.append(
            finish(
                Event(
                    timestamp=timestamp,
                    status=status,
                    raw_status=f"dsn:{action}",
                    provider=None,
                    message_id=message_id,
                    sender=orig_sender,
                    recipient=recipient,
                    subject=orig_subject,
                    smtp_code=smtp_code,
                    enhanced_code=enhanced,
                    diagnostic=diagnostic,
                    extra=_with_time_from(extra, time_from),
                )
            )
        )
    return items or [Skip("delivery report without a failed or delayed recipient")]


def _complaint_items(raw: bytes, msg: Message, ctx: Context, backups: Backups) -> list[Item]:
    """An ARF feedback report (RFC 5965): a `complained` event per original recipient,
    filed under the original message (its Message-ID in the attached message/headers).
    Reports that are not complaints (not-spam, auth-failure) are skipped."""
    fields = _kinds.feedback_fields(msg)
    kind = (fields.get("feedback-type") or [""])[0].strip().lower()
    if kind not in _kinds.COMPLAINT_TYPES:
        return [Skip(f"feedback report of type {kind!r}: not a complaint")]
    original = _returned_headers(msg)
    report_id = normalize.message_id(_text(msg.get("Message-ID"))) or synthetic_id(raw)
    message_id = normalize.message_id(_text(original.get("Message-ID"))) if original else None
    extra: dict[str, Any] = {"source": "arf", "feedback_type": kind or None}
    extra["report_message_id"] = report_id
    for name in ("user-agent", "source-ip", "reported-domain"):
        if fields.get(name):
            extra[name.replace("-", "_")] = fields[name][0]
    reporter = _addresses(msg, "From")
    if reporter:
        extra["reported_by"] = reporter[0]
    if message_id is None:
        message_id = report_id
        extra["note"] = "the report does not name the original message; filed under its own id"
    senders = (_addresses(original, "From") if original else []) or [
        a for v in fields.get("original-mail-from", []) if (a := normalize.address(v))
    ]
    arrival = fields["arrival-date"][0] if fields.get("arrival-date") else None
    timestamp, time_from = _bounce_time(msg, ctx, [], arrival, backups)
    extra = _with_time_from(extra, time_from)
    return [
        finish(
            Event(
                timestamp=timestamp,
                status="complained",
                raw_status=f"arf:{kind or 'abuse'}",
                provider=None,
                message_id=message_id,
                sender=senders[0] if senders else None,
                recipient=rcpt,
                subject=_decoded(original.get("Subject")) if original else None,
                extra=dict(extra),
            )
        )
        for rcpt in _complaint_recipients(fields, original) or _NO_RECIPIENT
    ]


def _read_receipt_items(raw: bytes, msg: Message, ctx: Context, backups: Backups) -> list[Item]:
    """A read receipt (MDN, RFC 8098): an `opened` event for the original message (its
    Original-Message-ID, else the attached original's Message-ID) and the recipient that
    displayed it (Final-Recipient, else Original-Recipient, else the receipt's From).
    Dispositions other than `displayed` (deleted, dispatched, processed) are no open."""
    fields = _kinds.report_fields(msg, _kinds.MDN_PARTS)
    disposition = (fields.get("disposition") or [""])[0]
    kind = _kinds.disposition_type(disposition)
    if kind != "displayed":
        return [Skip(f"read receipt with disposition {kind or 'none'!r}: not an open")]
    original = _returned_headers(msg)
    receipt_id = normalize.message_id(_text(msg.get("Message-ID"))) or synthetic_id(raw)
    message_id = normalize.message_id(next(iter(fields.get("original-message-id", [])), None)) or (
        normalize.message_id(_text(original.get("Message-ID"))) if original else None
    )
    extra: dict[str, Any] = {"source": "mdn", "disposition": disposition}
    extra["receipt_message_id"] = receipt_id
    if fields.get("reporting-ua"):
        extra["reporting_ua"] = fields["reporting-ua"][0]
    if message_id is None:
        message_id = receipt_id
        extra["note"] = "the receipt does not name the original message; filed under its own id"
    recipient = next(
        (
            a
            for v in (*fields.get("final-recipient", []), *fields.get("original-recipient", []))
            if (a := _dsn_address(v))
        ),
        None,
    ) or next(iter(_addresses(msg, "From")), None)
    senders = (_addresses(original, "From") if original else []) or _addresses(msg, "To")
    timestamp, time_from = _bounce_time(msg, ctx, [], None, backups)
    return [
        finish(
            Event(
                timestamp=timestamp,
                status="opened",
                raw_status=f"mdn:{kind}",
                provider=None,
                message_id=message_id,
                sender=senders[0] if senders else None,
                recipient=recipient,
                subject=_decoded(original.get("Subject")) if original else None,
                extra=_with_time_from(extra, time_from),
            )
        )
    ]


def _dsn_address(value: str) -> str | None:
    """The address of a report field such as `rfc822; user@example.com`, if it is one."""
    found = _dsn._address(value)
    return found if found and "@" in found else None


_NO_RECIPIENT: list[str | None] = [None]  # a report that names none: one event all the same


def _complaint_recipients(fields: dict[str, list[str]], original: Message | None) -> list[str]:
    """Original-Rcpt-To, else the recipient headers of the attached original (ISPs that
    redact To: often keep X-HmXmrOriginalRecipient); only real addresses."""
    found = [a for v in fields.get("original-rcpt-to", []) if (a := normalize.address(v))]
    if not found and original is not None:
        for name in (*_kinds.ORIGINAL_RECIPIENT_HEADERS, "To"):
            found = _addresses(original, name)
            if found:
                break
    return [a for a in dict.fromkeys(found) if "@" in a]


def _bounce_status(action: str | None, status: str | None) -> str | None:
    action = (action or "").strip().lower()
    if action in _BOUNCE_ACTIONS:
        return _BOUNCE_ACTIONS[action]
    if action in ("delivered", "relayed", "expanded"):
        return None
    if status and status.startswith("4"):
        return "deferred"
    return "bounced"


def _bounce_time(
    msg: Message,
    ctx: Context,
    last_attempt: list[str | None],
    arrival: str | None,
    backups: Backups,
) -> tuple[str, str | None]:
    """(time, where it came from when no date of the report itself gave it)."""
    own = ((v, None) for v in (*last_attempt, _text(msg.get("Date")), arrival))
    found = _first_time(ctx, (*own, *backups))
    if found is None:
        raise RecordError("bounce without a readable date")
    return found


def _last_attempt_dates(msg: Message) -> dict[str, str]:
    """Last-Attempt-Date per final recipient ("" for the first one seen)."""
    found: dict[str, str] = {}
    for part in _walk(msg):
        if part.get_content_type() not in _STATUS_PARTS:
            continue
        blocks = _dsn.delivery_status_blocks(part)
        for block in blocks:
            when = " ".join((block.get("last-attempt-date") or "").split())
            if not when:
                continue
            found.setdefault("", when)
            rcpt = block.get("final-recipient") or block.get("original-recipient") or ""
            m = re.search(r"[^\s;<>]+@[^\s;<>]+", rcpt)
            if m:
                found.setdefault(m.group().lower(), when)
    return found


def _returned_headers(msg: Message) -> Message | None:
    """The headers of the returned original message, when the bounce carries them."""
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return inner
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            text = _dsn.part_text(part)
            return BytesParser(policy=_POLICY).parsebytes(
                text.encode("utf-8", "replace"), headersonly=True
            )
    return None


# --- header helpers ------------------------------------------------------------------------


def synthetic_id(raw: bytes) -> str:
    """The stable id of a message without a Message-ID: sha1 of its exact bytes."""
    return "sha1-" + hashlib.sha1(raw).hexdigest()[:32]


def _timestamp(msg: Message, ctx: Context, backups: Backups) -> tuple[str, str | None]:
    """(time, where it came from when not the Date header): Date, else the backups in order."""
    date = _text(msg.get("Date"))
    found = _first_time(ctx, ((date, None), *backups))
    if found is not None:
        return found
    if date:
        raise RecordError(f"unreadable Date header {date[:60]!r}, and no other date to go by")
    raise RecordError("message without a Date header, a dated Received header or a file time")


def _first_time(ctx: Context, candidates: Backups) -> tuple[str, str | None] | None:
    """The first candidate that reads as a time, with its note; None when none does."""
    for value, note in candidates:
        if value and value.strip():
            try:
                return ctx.time(" ".join(value.split())), note
            except (RecordError, ValueError, OverflowError):
                continue
    return None


def _received_dates(msg: Message) -> list[str]:
    """The dates of the Received hops, oldest first (the bottom-most header is the first
    hop: when the message entered the mail system, the closest stated time to a missing
    Date)."""
    found = []
    for value in reversed(msg.get_all("Received") or []):
        text = _text(value) or ""
        if ";" in text:
            when = text.rsplit(";", 1)[1].strip()
            if when:
                found.append(when)
    return found


def _with_time_from(extra: dict[str, Any], time_from: str | None) -> dict[str, Any]:
    """extra, saying where the event's time came from when the message stated no usable
    date (`received`: its oldest Received header; `file_mtime`: the file's modification
    time), so that a time maillog inferred is never taken for one the mail stated."""
    if time_from is not None:
        extra["time_from"] = time_from
    return extra


def auth_results(msg: Message) -> tuple[str | None, str | None, str | None]:
    """(spf, dkim, dmarc): the first result of each method in Authentication-Results.

    Headers are read top down (the topmost is the one the last receiving server
    added); Received-SPF fills in spf when no Authentication-Results names it.
    """
    found: dict[str, str] = {}
    for value in msg.get_all("Authentication-Results") or []:
        text = _text(value) or ""
        text = re.sub(r"\([^()]*\)", " ", text)  # comments may contain ';' and '='
        for m in _AUTH_RESULT.finditer(text):
            found.setdefault(m.group(1).lower(), m.group(2).lower())
    if "spf" not in found:
        for value in msg.get_all("Received-SPF") or []:
            word = _SPF_WORD.match(_text(value) or "")
            if word:
                found["spf"] = word.group(1).lower()
                break
    return found.get("spf"), found.get("dkim"), found.get("dmarc")


_RECEIVED_WITH = re.compile(r"\bwith\s+([A-Za-z][\w-]*)", re.I)
# Where sending services put a message's tags (RFC 5322 headers of the copy that was sent).
_TAG_HEADERS = ("X-Mailgun-Tag", "X-PM-Tag", "X-MC-Tags", "X-Tag", "X-Mailjet-Campaign")


def send_method_of(msg: Message) -> str | None:
    """How the email entered the mail system: the protocol of its first hop, the bottom-most
    Received header's `with` word (ESMTPSA → smtp, HTTP/HTTPREST → api); else `smtp` when a
    receiving server stamped it (Authentication-Results, Received-SPF, Return-Path); None
    when the copy says nothing (a draft, a file written by an application)."""
    trail = msg.get_all("Received") or []
    for value in reversed(trail):
        text = re.sub(r"\([^()]*\)", " ", _text(value) or "")
        m = _RECEIVED_WITH.search(text)
        if m:
            return normalize.send_method(m.group(1))
    if any(msg.get(h) for h in ("Authentication-Results", "Received-SPF", "Return-Path")):
        return "smtp"
    return None


def header_tags(msg: Message) -> tuple[str, ...]:
    """Tags a sending service left in the headers (X-Mailgun-Tag, X-PM-Tag, X-MC-Tags,
    X-SES-MESSAGE-TAGS `name=value, …`, X-SMTPAPI `category`)."""
    found: list[str] = []
    for name in _TAG_HEADERS:
        for value in msg.get_all(name) or []:
            found += [t for t in (_text(value) or "").split(",")]
    for value in msg.get_all("X-SES-MESSAGE-TAGS") or []:
        for pair in (_text(value) or "").split(","):
            key, _, val = pair.strip().partition("=")
            if val and not key.startswith("ses:"):
                found.append(f"{key}:{val}")
    api = _text(msg.get("X-SMTPAPI"))
    if api:
        try:
            data = json.loads(api)
        except ValueError:
            data = None
        if isinstance(data, dict):
            found += list(normalize.tag_list(data.get("category")))
    return normalize.tag_list(found)


# Where a sending service's SMTP interface takes the custom args / metadata it then repeats
# in its events: header → the key of the JSON object that holds them ("" = the whole).
_CUSTOM_ARG_HEADERS = {
    "X-SMTPAPI": "unique_args",  # SendGrid
    "X-MSYS-API": "metadata",  # SparkPost
    "X-Mailgun-Variables": "",  # Mailgun user-variables
    "X-MC-Metadata": "",  # Mandrill
}


def header_custom_ids(msg: Message) -> list[Any]:
    """The sender's own id for the email (anymail_id) left in the custom args or metadata an
    SMTP interface takes from headers, so the sent copy joins the provider's events."""
    places: list[Any] = []
    for name, key in _CUSTOM_ARG_HEADERS.items():
        text = _text(msg.get(name))
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        places.append(data.get(key) if key and isinstance(data, dict) else data)
    # Postmark: one X-PM-Metadata-<key> header per metadata key
    places.append(
        {
            k[len("X-PM-Metadata-") :].lower(): _text(v)
            for k, v in msg.items()
            if k.lower().startswith("x-pm-metadata-")
        }
    )
    return custom_ids(*places)


def kept_headers(msg: Message) -> dict[str, str]:
    """The main headers, RFC 2047 decoded and unfolded (long values cut)."""
    out: dict[str, str] = {}
    for name in KEPT_HEADERS:
        value = _decoded(msg.get(name))
        if value is not None:
            out[name] = value if len(value) <= MAX_KEPT_VALUE else value[:MAX_KEPT_VALUE] + "…"
    return out


def _addresses(msg: Message, name: str) -> list[str]:
    """Bare lowercase addresses of one header (every occurrence)."""
    values = [_text(v) or "" for v in msg.get_all(name) or []]
    out: list[str] = []
    try:
        pairs = getaddresses(values)
    except Exception:
        pairs = []
    for _display, addr in pairs:
        addr = addr.strip().lower()
        if addr and addr not in out:
            out.append(addr)
    if not out:  # getaddresses read nothing: docs/providers.md's address rule on each value
        for value in values:
            for piece in value.split(","):
                bare = normalize.address(piece)
                if bare and bare not in out and not bare.endswith(":;"):
                    out.append(bare)
    return out


def _text(value: Any) -> str | None:
    """A header value as text: 8-bit bytes read as UTF-8 (else Latin-1), folding removed."""
    if value is None:
        return None
    s = str(value)
    if any("\udc80" <= c <= "\udcff" for c in s):
        data = s.encode("utf-8", "surrogateescape")
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:
            s = data.decode("latin-1")
    s = re.sub(r"\r?\n(?=[ \t])", "", s)
    return s.replace("\x00", "")


def _decoded(value: Any) -> str | None:
    """A header with RFC 2047 encoded words decoded; None when absent or blank."""
    s = _text(value)
    if s is None:
        return None
    if "=?" in s:
        try:
            s = str(make_header(decode_header(s)))
        except Exception:  # broken encoded words stay as written
            pass
        s = _text(s) or ""
    s = s.strip()
    return s or None


def _walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:
        return


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]

"""Exim's mainlog (docs/providers.md#exim): `<=` arrivals, `=>`/`->` deliveries, `**`
failures, `==` deferrals, `Completed`, and rejected SMTP commands.

Each line becomes one `MtaLine` fact keyed by Exim's message id; the correlation joins
them the same way as Postfix's queue ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context
from maillog_cli.importers.mta import lines
from maillog_cli.importers.mta.lines import EXIM_ID, MtaLine
from maillog_cli.model import Skip

NAME = "exim"
PROVIDER = "exim"
SIGNATURE = "Exim mainlog lines (`2026-03-01 10:00:01 1pXyZa-000AbC-12 <= sender … id=…`)"
SHAPES = "/var/log/exim4/mainlog and rejectlog (rotated, .gz), Exim lines in syslog"

# The delivery flag (or what stands for one) → canonical status.
STATUS_MAP: dict[str, str] = {
    "=>": "delivered",
    "->": "delivered",
    ">>": "delivered",  # a cutthrough delivery, made while the sender was still connected
    "**": "bounced",
    "==": "deferred",
    ":blackhole:": "dropped",  # `=> :blackhole: <addr>`: a router threw the address away
    "blackhole": "dropped",  # `=> blackhole (DATA ACL discarded recipients)`
    "discarded": "dropped",  # `RCPT <addr>: discarded by RCPT ACL`
    "frozen": "deferred",  # `Frozen …`/`Message is frozen`: held until unfrozen
    "unfrozen": "queued",  # `Unfrozen by …`: back in the queue
}
NO_FACT = "exim line without a delivery fact"
NOT_A_FACT = Skip(NO_FACT)  # one instance for the many lines of this kind (never changed)
SUPPRESSED = Skip("exim delivery suppressed (-N)")

_ID_LINE = re.compile(rf"(?P<id>{EXIM_ID}) (?P<rest>.*)")
_FLAG = re.compile(r"(?P<flag><=|=>|->|>>|\*\*|==|\*>) (?P<rest>.*)")
# `Frozen (delivery error message)`, `frozen by root` (exim -Mf), `Message is frozen` (a
# queue run passing it by); `Unfrozen by forced delivery`/`by errmsg timer`/`unfrozen by root`.
_FROZEN = re.compile(r"(?:(?P<un>[Uu]n)?[Ff]rozen(?: (?P<why>.*))?|Message is frozen)")
# The Message-ID among a rejectlog's dumped headers (`I Message-ID: <…>`).
_DUMPED_ID = re.compile(r"[A-Z* ] Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE)
_DUMPED_HEADER = re.compile(r"[A-Z* ] Message-ID:", re.IGNORECASE)  # its value folded
# A dumped header's line: its flag (a space for none), a space, its name (else a folded line).
_DUMPED_NAME = re.compile(r"[A-Z* ] [!-9;-~]+:")
_ANGLED = re.compile(r"<[^>\s]+>")
_ANGLED_ADDR = re.compile(r"<([^>\s]*)>")
_AUTHENTICATED = re.compile(r"(?:utf8)?esmtps?a", re.IGNORECASE)
_FIELD = re.compile(
    r'(?:^| )(?P<k>[A-Za-z]{1,3})=(?P<v>"(?:[^"\\]|\\.)*"|\S+(?: \([^)]*\))?(?: \[[^\]]+\](?::\d+)?)?)'
)
_ADDR = re.compile(r"(?P<addr>\S+)(?: (?:\((?P<paren>[^)]*)\) )?<(?P<orig>[^>]*)>)?")
# `[H=host [ip]] [F=<sender>] … rejected RCPT <addr>: why` (also MAIL <sender>, after DATA,
# EHLO or HELO name, EHLO from [ip], connection …): the fields before it are read as fields.
# The stage is one of Exim's ACL places (acl_wherenames; `after DATA` for the DATA ACL), so
# a remote server's text that says "rejected" is not taken for one.
_REJECTED = re.compile(
    r"(?:^|(?<= ))(?P<what>(?:temporarily )?rejected) "
    r"(?P<stage>EHLO or HELO|after DATA(?: PRDR)?|RCPT|MAIL|PREDATA|DATA|MIME|DKIM|PRDR|AUTH"
    r"|connection|ETRN|EXPN|MAILAUTH|NOTQUIT|QUIT|STARTTLS|VRFY|EHLO|HELO|non-SMTP)\b"
    r"(?: <(?P<addr>[^>]*)>| from (?P<peer>\[[^\]]*\]|[^\s:]+)| (?P<word>[^\s:]+)(?=:))?"
    r":?\s*(?P<reply>.*)"
)
# `… RCPT <addr>: discarded by RCPT ACL[: why]` (a `discard` verb in the RCPT ACL).
_DISCARDED = re.compile(
    r"(?:^|(?<= ))RCPT <(?P<addr>[^>]*)>: discarded by (?P<stage>\S+) ACL(?:: (?P<reply>.*))?"
)


def read_lines(stream: IO[bytes], ctx: Context, reference: Any) -> Iterator[tuple[int, Any, Any]]:
    """Exim's mainlog is read by the same line loop as Postfix's (either may hold the other).
    In its rejectlog, the headers written after a refusal after DATA are skipped, their
    Message-ID given to the refusal (held back until its header lines end)."""
    from maillog_cli.importers.mta import postfix

    held: tuple[int, MtaLine, Any] | None = None
    dump = _Dump()
    for number, item, text in postfix.read_lines(stream, ctx, reference, rejectlog=True):
        if held is not None:
            if item is postfix.REJECTLOG_HEADER:
                dump.read(text)
                yield number, item, text
                continue
            yield dump.given(*held)
            held = None
        if isinstance(item, MtaLine) and item.kind == "reject" and item.qid is not None:
            held, dump = (number, item, text), _Dump()
            continue
        yield number, item, text
    if held is not None:
        yield dump.given(*held)


class _Dump:
    """What a rejectlog's header dump tells of the refused message: its Message-ID and its
    `Envelope-to:` recipients, either on its header line or folded onto the next ones
    (RFC 5322 §2.2.3: a continuation line starts with white space)."""

    def __init__(self) -> None:
        self.header_id: str | None = None
        self.recipients: list[str] = []
        self.last = ""  # the header the lines read belong to: "to", "id" or another

    def read(self, text: str) -> None:
        if text[:1] not in " \t" or _DUMPED_NAME.match(text):  # a header, not a continuation
            dumped = _DUMPED_ID.match(text)
            if text.startswith("Envelope-to: "):
                self.last, text = "to", text[13:]
            elif dumped is not None or _DUMPED_HEADER.match(text):
                self.last, text = "id", text[dumped.start(1) if dumped else len(text) :]
            else:
                self.last = ""
        if self.last == "to":
            self.recipients += [a for a in _ANGLED_ADDR.findall(text) if a]
        elif self.last == "id" and self.header_id is None:
            found = _ANGLED.search(text)
            self.header_id = found[0] if found else None

    def given(self, number: int, fact: MtaLine, text: Any) -> tuple[int, MtaLine, Any]:
        """The refusal `fact` with what the dump told (its own fields first)."""
        fields = dict(fact.fields)
        if self.header_id:
            fields["header_id"] = self.header_id
        if self.recipients and not fields.get("to"):
            fields["to"] = self.recipients[0]
            if len(self.recipients) > 1:
                fields["recipients"] = self.recipients
        return number, fact._replace(fields=fields), text


def parse_logged(stamp: str, host: str, pid: str, msg: str, tz: Any) -> MtaLine | Skip:
    """An Exim message that syslog or journald carried: Exim writes its own time (and
    `[pid]`) first unless `syslog_timestamp = false`; that time is the line's, else `stamp`."""
    split = lines.split_exim(msg, tz)
    if split is not None:
        return parse_message(split[0], host, split[1] or pid, split[2])
    return parse_message(stamp, host, pid, msg)


def parse_message(timestamp: str, host: str, pid: str, msg: str) -> MtaLine | Skip:
    """The fact of one Exim log message (after the time and optional pid)."""
    m = _ID_LINE.fullmatch(msg)
    qid, rest = (m["id"], m["rest"]) if m is not None else (None, msg)
    flag = _FLAG.match(rest) if qid else None
    if flag is None:
        refusal = _refusal(rest)
        if refusal is not None:
            kind = "discard" if refusal["what"] == "discarded" else "reject"
            return _fact(timestamp, host, pid, msg, kind, qid, refusal)
        if qid is None:
            return NOT_A_FACT
        if rest == "Completed" or rest.startswith("Completed "):  # `Completed QT=1s`
            return _fact(timestamp, host, pid, msg, "removed", qid, {})
        frozen = _FROZEN.fullmatch(rest)
        if frozen is not None:
            word = "unfrozen" if frozen["un"] else "frozen"
            why = (frozen["why"] or "").strip().strip("()") or None
            return _fact(timestamp, host, pid, msg, "hold", qid, {"status": word, "reply": why})
        return NOT_A_FACT
    word, body = flag["flag"], flag["rest"]
    if word == "<=":
        return _fact(timestamp, host, pid, msg, "arrival", qid, _arrival(body))
    if word == "*>":
        return SUPPRESSED
    return _fact(timestamp, host, pid, msg, "delivery", qid, _delivery(word, body))


def _fact(
    timestamp: str,
    host: str,
    pid: str,
    msg: str,
    kind: str,
    qid: str | None,
    fields: dict[str, Any],
) -> MtaLine:
    """A fact, keyed by the line's own content (only lines that are facts are hashed)."""
    key = lines.line_key("exim", host, timestamp, pid, msg)
    return MtaLine("exim", kind, timestamp, host, qid, key, "exim", fields)


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        if key in out:
            continue
        if value[:1] == '"' and value[-1:] == '"' and len(value) > 1:
            value = value[1:-1].replace('\\"', '"')
        out[key] = value
    return out


def _arrival(body: str) -> dict[str, Any]:
    """`<= sender H=… P=… A=auth S=size id=Message-ID T="subject"` (R=ID: a bounce of
    message ID)."""
    sender, _, tail = body.partition(" ")
    fields = _fields(" " + tail)
    if "S" not in fields and not tail:
        raise RecordError("exim arrival line without S= (cut short?)")
    return {
        "sender": "" if sender == "<>" else sender,
        "size": int(fields["S"]) if fields.get("S", "").isdigit() else None,
        "header_id": fields.get("id"),
        "client": fields.get("H"),
        "notice_of": fields.get("R") if sender == "<>" else None,
        "proto": fields.get("P"),
        # A=login:user, A=plain (log_selector +authenticator), or a protocol RFC 3848 marks
        # authenticated (P=esmtpa, esmtpsa): a submission
        "sasl": bool(fields.get("A")) or _AUTHENTICATED.fullmatch(fields.get("P", "")) is not None,
        "subject": fields.get("T"),  # with log_selector +subject
    }


def _delivery(word: str, body: str) -> dict[str, Any]:
    """`=> rcpt [<orig>] R=router T=transport H=host [ip] C="reply"`; `**`/`==` end with
    `: the reason`."""
    addr = _ADDR.match(body)
    if addr is None or not addr["addr"]:
        raise RecordError("exim delivery line without an address")
    tail = body[addr.end() :]
    recipient = addr["addr"]
    if recipient.endswith(":") and not addr["orig"]:  # `** x@y: Unrouteable address`
        recipient, tail = recipient[:-1], ":" + tail
    reason = None
    if word in ("**", "=="):
        # the reason follows the first ": " after the fields (or right after the address)
        head, sep, reason_text = tail.partition(": ")
        if sep:
            tail, reason = head, reason_text.strip() or None
        elif tail.startswith(":"):
            reason, tail = tail[1:].strip() or None, ""
        if tail.startswith(":"):
            reason, tail = (tail[1:] + (": " + reason if reason else "")).strip() or None, ""
    fields = _fields(tail)
    if word in ("=>", "->", ">>") and not fields and not tail.strip():
        raise RecordError("exim delivery line without R=/T= (cut short?)")
    reply = fields.get("C") if word in ("=>", "->", ">>") else reason
    orig, mailbox = addr["orig"], None
    if recipient == "blackhole" and not orig and tail.startswith(" ("):
        # `=> blackhole (DATA ACL discarded recipients): why`: an ACL's `discard`
        word, recipient = "blackhole", None
        why, _, more = tail[2:].partition(")")
        reply, tail = (why + more).strip() or None, ""
    elif recipient == ":blackhole:":  # `=> :blackhole: <addr> R=router`
        word, recipient, orig = ":blackhole:", orig or None, None
    elif orig and "@" not in recipient:
        # a file (`/var/mail/bob`), pipe (`|/usr/bin/x`) or local user (`bob`): the
        # address is <orig>, what it was delivered to is kept as the mailbox
        recipient, orig, mailbox = orig, None, recipient
    return {
        "to": recipient,
        "orig_to": orig,
        "mailbox": mailbox,
        "relay": fields.get("H"),
        "router": fields.get("R"),
        "transport": fields.get("T"),
        "delay": fields.get("DT"),
        "status": word,
        "reply": reply,
    }


def _refusal(text: str) -> dict[str, Any] | None:
    """A refused SMTP command (`rejected …`) or a recipient an ACL discarded, with the
    client (`H=`), the sender (`F=`), the stage, the address and Exim's reason."""
    if "rejected " not in text and " ACL" not in text:  # most lines: no regex search
        return None
    m = _REJECTED.search(text)
    if m is not None:
        what, stage, addr, reply = m["what"], m["stage"], m["addr"], m["reply"]
        helo = m["word"] if stage.startswith("EHLO") else None
        if m["word"] and helo is None:  # not a HELO name: part of the reason
            reply = m["word"] + ": " + reply
        peer = m["peer"]
    else:
        m = _DISCARDED.search(text)
        if m is None:
            return None
        what, stage, addr, reply, helo, peer = (
            "discarded",
            m["stage"],
            m["addr"],
            m["reply"],
            None,
            None,
        )
    fields = _fields(" " + text[: m.start()])
    sender = fields.get("F", "")
    if stage == "MAIL" and addr is not None:  # `rejected MAIL <sender>`: the sender's
        sender, addr = "<" + addr + ">", None
    return {
        "what": what,
        "stage": stage,
        "client": fields.get("H") or peer,
        "reply": (reply or "").strip() or None,
        "from": sender[1:-1] if sender.startswith("<") and sender.endswith(">") else None,
        "to": addr,
        "helo": helo,
    }

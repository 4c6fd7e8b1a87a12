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
SHAPES = "/var/log/exim4/mainlog (rotated, .gz), Exim lines in syslog"

# The delivery flag → canonical status.
STATUS_MAP: dict[str, str] = {
    "=>": "delivered",
    "->": "delivered",
    "**": "bounced",
    "==": "deferred",
}
NO_FACT = "exim line without a delivery fact"
NOT_A_FACT = Skip(NO_FACT)  # one instance for the many lines of this kind (never changed)
SUPPRESSED = Skip("exim delivery suppressed (-N)")

_ID_LINE = re.compile(rf"(?P<id>{EXIM_ID}) (?P<rest>.*)")
_FLAG = re.compile(r"(?P<flag><=|=>|->|\*\*|==|\*>) (?P<rest>.*)")
_FIELD = re.compile(
    r'(?:^| )(?P<k>[A-Za-z]{1,3})=(?P<v>"(?:[^"\\]|\\.)*"|\S+(?: \([^)]*\))?(?: \[[^\]]+\](?::\d+)?)?)'
)
_ADDR = re.compile(r"(?P<addr>\S+)(?: (?:\((?P<paren>[^)]*)\) )?<(?P<orig>[^>]*)>)?")
_REJECTED = re.compile(
    r"(?:H=(?P<host>.*?) )?(?:.*?F=<(?P<from>[^>]*)> )?(?P<what>(?:temporarily )?rejected) "
    r"(?P<stage>RCPT|MAIL|EHLO|HELO|after DATA|connection|DATA)\s*(?:<(?P<to>[^>]*)>)?\s*:?\s*(?P<reply>.*)"
)


def read_lines(stream: IO[bytes], ctx: Context, reference: Any) -> Iterator[tuple[int, Any, Any]]:
    """Exim's mainlog is read by the same line loop as Postfix's (either may hold the other)."""
    from maillog_cli.importers.mta import postfix

    return postfix.read_lines(stream, ctx, reference)


def parse_message(timestamp: str, host: str, pid: str, msg: str) -> MtaLine | Skip:
    """The fact of one Exim log message (after the time and optional pid)."""
    m = _ID_LINE.fullmatch(msg)
    if m is None:
        rejected = _REJECTED.match(msg)
        if rejected is not None and "rejected" in msg:
            return _fact(timestamp, host, pid, msg, "reject", None, _reject(rejected))
        return NOT_A_FACT
    qid, rest = m["id"], m["rest"]
    if rest == "Completed":
        return _fact(timestamp, host, pid, msg, "removed", qid, {})
    flag = _FLAG.match(rest)
    if flag is None:
        rejected = _REJECTED.match(rest)
        if rejected is not None and "rejected" in rest:
            return _fact(timestamp, host, pid, msg, "reject", qid, _reject(rejected))
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
    """`<= sender H=… P=… S=size id=Message-ID` (R=ID: a bounce of message ID)."""
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
    if word in ("=>", "->") and not fields and not tail.strip():
        raise RecordError("exim delivery line without R=/T= (cut short?)")
    reply = fields.get("C") if word in ("=>", "->") else reason
    orig = addr["orig"]
    if recipient.startswith(("/", "|")) and orig:  # a file or pipe delivery: the address is <orig>
        recipient, orig = orig, None
    return {
        "to": recipient,
        "orig_to": orig,
        "relay": fields.get("H"),
        "router": fields.get("R"),
        "transport": fields.get("T"),
        "delay": fields.get("DT"),
        "status": word,
        "reply": reply,
    }


def _reject(m: re.Match[str]) -> dict[str, Any]:
    return {
        "what": m["what"],
        "stage": m["stage"],
        "client": m["host"],
        "reply": (m["reply"] or "").strip() or None,
        "from": m["from"],
        "to": m["to"],
    }

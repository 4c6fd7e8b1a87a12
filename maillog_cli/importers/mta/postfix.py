"""Postfix's log lines (docs/providers.md#postfix): syslog, RFC 3339 syslog, maillog_file.

Each line of a Postfix daemon becomes one `MtaLine` fact keyed by its queue id; the
correlation (importers/mta/correlate.py) joins them into messages. Lines of other daemons
in the same syslog are skipped as "not a mail log line" (counted, not errors); a Postfix
line that cannot be read (cut short, a delivery without status=) is a record error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import IO, Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context
from maillog_cli.importers.mta import exim, lines
from maillog_cli.importers.mta.lines import Clock, MtaLine, Prefix, YearGuess
from maillog_cli.model import Skip

NAME = "postfix"
PROVIDER = "postfix"
SIGNATURE = (
    "syslog lines of postfix/* daemons (`Mar  1 10:00:01 host postfix/smtp[123]: QUEUEID: …`, "
    "or an RFC 3339 time first)"
)
SHAPES = "/var/log/mail.log (rotated, .gz), Postfix's maillog_file, RFC 3339 syslog"

# Postfix's status= word → canonical status (statuses.STATUSES).
STATUS_MAP: dict[str, str] = {
    "sent": "delivered",
    "deferred": "deferred",
    "bounced": "bounced",
    "expired": "bounced",
    "SOFTBOUNCE": "deferred",  # soft_bounce = yes: a bounce turned into a retry
    "undeliverable": "bounced",  # address verification (sendmail -bv) probes
    "deliverable": "delivered",
    # A content filter on this host (amavis) answering `250 … Ok, discarded, …` or
    # `250 … Ok, id=…, BOUNCE`: it kept the message from the recipient (status=sent
    # to the filter is not a delivery).
    "discarded": "dropped",
    "BOUNCE": "bounced",
    # cleanup's/smtpd's `hold:` (a header_checks or access HOLD, a milter's) and postsuper's
    # `placed on hold` keep the message in the hold queue; `released from hold` requeues it.
    "hold": "deferred",
    "released": "queued",
}
NO_FACT = "postfix line without a delivery fact"

# Short ids are upper-case hex; long ids (enable_long_queue_ids) use digits and consonants.
_QID = r"(?:[0-9A-F]{5,16}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,24})"
_QUEUED = re.compile(rf"(?P<qid>{_QID}): (?P<rest>.*)")
_PAIR = re.compile(r"([\w-]+)=(<[^>]*>|[^,\s]*)")
_STATUS = re.compile(r"(?:^|, )status=(?P<word>[\w-]+)(?: (?P<reply>.*))?$")
_ACTIONS = r"(?P<what>reject|discard|hold|milter-reject|milter-discard|milter-hold)"
_REJECT = re.compile(
    _ACTIONS + r": (?P<stage>\S+) from "
    r"(?P<client>[^\s\[:]*\[[^\]]*\](?::\d+)?|[^:]*?)(?::\s*(?P<reply>.*))?$"
)
# cleanup's header_checks/body_checks action on a queued message:
# `QID: reject: header Subject: … from host[ip]; from=<s> to=<r> proto=ESMTP helo=<h>: 5.7.1 why`
# (`from local;` for a local submission; the header or body text may hold anything, so the
# last ` from CLIENT; from=<` ends it).
_CHECKS = re.compile(
    _ACTIONS + r": (?P<stage>header|body|content|mime-header|nested-header) (?P<text>.*) "
    r"from (?P<client>\S+); from=<(?P<from>[^>]*)> to=<(?P<to>[^>]*)>(?: proto=(?P<proto>\S+))?"
    r"(?: helo=<(?P<helo>[^>]*)>)?(?:: (?P<reply>.*))?"
)
# postsuper's `QID: placed on hold` / `QID: released from hold`.
_POSTSUPER = {"placed on hold": "hold", "released from hold": "released"}
# A content filter's verdict in its 250 reply, and the codes before the text.
_VERDICT = re.compile(r"\b(?:discarded|BOUNCE)\b")
_CODES = re.compile(r"\d{3}[ -](?:[245]\.\d{1,3}\.\d{1,3} )?")
_NOTICE = re.compile(
    r"(?:sender|postmaster) (?:non-delivery|delivery status|delay) notification: (?P<qid>\S+)"
)
# A content filter on this host (amavis, a milter-less spam filter: relay=127.0.0.1[127.0.0.1]:10024)
# that re-injects the message answers with the new queue id: `... queued as 7B8C9D0E1F)`.
_LOOPBACK = re.compile(r"\[(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|ipv6:::1)\]")
_QUEUED_AS = re.compile(rf"queued as (?P<qid>{_QID})\)?\s*$")
# local(8) forwarding to an alias's or .forward's addresses re-queues the same email.
_FORWARDED = re.compile(rf"forwarded as (?P<qid>{_QID})")
_ENVELOPE = re.compile(r"; (?P<env>(?:\w+=\S*\s*)+)$")

# The usual line in one match: a traditional time, a Postfix daemon with its pid, the
# queue id if any. Its groups are the general path's (lines.Clock reads the same names),
# and whatever it does not match goes the general way (`parse_line`).
_FAST = re.compile(
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<day>\d{1,2}) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?P<frac>\.\d{1,6})? (?P<rest>(?P<host>\S+) "
    r"(?P<prog>[\w.-]*postfix[\w.-]*/[\w.-]+)\[(?P<pid>\d+)\]: "
    + lines.SOLARIS_TAG
    + rf"(?P<msg>(?:(?P<qid>{_QID}): )?(?P<body>.*)))"
)
# The usual shapes of qmgr's and a delivery agent's lines (else `_pairs` reads them).
_V = r"[^,\s]*"
_QMGR = re.compile(
    r"from=<(?P<from>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+) \(queue active\)"
)
_DELIVERY = re.compile(
    rf"to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig_to>[^>]*)>, )?relay=(?P<relay>{_V}), "
    rf"(?:conn_use=(?P<conn_use>{_V}), )?delay=(?P<delay>{_V}), delays=(?P<delays>{_V}), "
    rf"dsn=(?P<dsn>{_V}), status=(?P<word>[\w-]+)(?: (?P<reply>.*))?"
)
_CLIENT = re.compile(
    rf"client=(?P<client>[^,\s<]{{1,500}})(?:, sasl_method={_V}, sasl_username=(?P<login>(?:[^,\s<][^,\s]*)?))?"
)
NOT_A_FACT = Skip(NO_FACT)  # one instance for the many lines of this kind (never changed)


@lru_cache(maxsize=1024)
def daemon(program: str) -> str:
    """`postfix-out/smtp` → `smtp`."""
    return program.rsplit("/", 1)[-1]


REJECTLOG_HEADER = Skip("exim rejectlog header line")


def read_lines(
    stream: IO[bytes], ctx: Context, reference: Any, rejectlog: bool = False
) -> Iterator[tuple[int, Any, Any]]:
    """(line number, MtaLine | Skip | RecordError, raw line) for each non-blank line.
    `rejectlog`: an Exim log, whose rejectlog holds the headers of refused messages
    (`lines.EXIM_HEADER_DUMP`), skipped."""
    clock = Clock(YearGuess(reference, getattr(ctx, "year", None)), ctx.default_tz)
    fast, exim_line = _FAST.match, lines.EXIM_LINE.match
    for number, raw in enumerate(stream, start=1):
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        try:
            m = fast(text)
            if m is not None and "\ufffd" not in text:
                yield number, _fast_line(m, clock), text
                continue
            # An Exim mainlog line: `parse_line`'s last try, first (a syslog time that
            # starts with a digit is followed by `host daemon[pid]: `, which Exim never is).
            m = exim_line(text)
            if m is not None and "\ufffd" not in text and not lines.spaced_syslog(m):
                fact = exim.parse_message(clock.exim(m), "", m["pid"] or "", m["msg"])
                yield number, fact, text
                continue
            if not text.strip():
                continue
            if rejectlog and lines.EXIM_HEADER_DUMP.match(text):
                yield number, REJECTLOG_HEADER, text
                continue
            yield number, parse_line(text, clock, ctx), text
        except RecordError as exc:
            yield number, exc, text
        except (ValueError, OverflowError) as exc:
            yield number, RecordError(str(exc)[:200]), text


def parse_line(text: str, clock: Clock, ctx: Context) -> MtaLine | Skip:
    """One line of a mail log: a Postfix or Exim fact, or a Skip for other daemons' lines."""
    if "\ufffd" in text and lines.looks_mailish(text):
        raise RecordError("not valid UTF-8; re-save the file as UTF-8")
    prefix = lines.split_syslog(text, clock)
    if prefix is not None:
        if lines.is_postfix(prefix.program):
            return parse_message(prefix)
        if lines.is_exim(prefix.program):
            return exim.parse_logged(
                prefix.timestamp, prefix.host, prefix.pid, prefix.message, ctx.default_tz
            )
        return Skip(lines.NOT_MAIL)
    split = lines.split_exim(text, ctx.default_tz)
    if split is not None:
        return exim.parse_message(split[0], "", split[1], split[2])
    if lines.looks_mailish(text):
        raise RecordError("cut short or unreadable mail log line (no time, host and program)")
    return Skip(lines.NOT_MAIL)


def _fast_line(m: re.Match[str], clock: Clock) -> MtaLine | Skip:
    """`parse_line` of a line `_FAST` matched: the same fact, fewer steps."""
    qid = m["qid"]
    if qid is None:
        if not m["body"].startswith("NOQUEUE: "):
            return NOT_A_FACT
        return parse_message(Prefix(None, m["host"], m["prog"], m["pid"], m["msg"], m, clock))
    return _queued(Prefix(None, m["host"], m["prog"], m["pid"], m["msg"], m, clock), qid, m["body"])


def parse_message(p: Prefix) -> MtaLine | Skip:
    """The fact of one Postfix daemon's message (after `prog[pid]: `)."""
    msg = p.message
    if msg.startswith("NOQUEUE: "):
        reject = _reject(msg[9:])
        return _fact(p, "reject", None, reject) if reject else NOT_A_FACT
    m = _QUEUED.fullmatch(msg)
    if m is None:
        return NOT_A_FACT
    return _queued(p, m["qid"], m["rest"])


def _queued(p: Prefix, qid: str, rest: str) -> MtaLine | Skip:
    """The fact of a line about queue id `qid` (`rest`: what follows `QID: `)."""
    if rest == "removed":
        return _fact(p, "removed", qid, {})
    delivery = rest.startswith("to=<") or ", status=" in rest or rest.startswith("status=")
    if delivery and not rest.startswith("from=<"):
        fields = _delivery(rest)
        if fields["status"] == "sent" and daemon(p.program) == "discard":
            # discard(8) "pretends to deliver": the mail was thrown away here
            fields.update(status="discarded", filtered=True)
        return _fact(p, "delivery", qid, fields)
    if rest.startswith("client="):
        c = _CLIENT.fullmatch(rest)
        if c is not None:
            client, login = c.group("client", "login")
        else:
            pairs = _pairs(rest)
            client, login = pairs.get("client"), pairs.get("sasl_username")
        return _fact(p, "client", qid, {"client": client, "sasl": bool(login)})
    if rest.startswith("message-id="):
        return _fact(p, "msgid", qid, {"header_id": rest[11:].strip() or None})
    if rest.startswith("uid=") and " from=<" in rest:
        return _fact(p, "pickup", qid, {"sender": _pairs(rest).get("from")})
    if rest.startswith("from=<"):
        q = _QMGR.fullmatch(rest)
        if q is not None:
            sender, size, nrcpt = q.group("from", "size", "nrcpt")
            return _fact(p, "qmgr", qid, {"sender": sender, "size": int(size), "nrcpt": int(nrcpt)})
        pairs = _pairs(rest)
        if "status=expired" in rest:
            return _fact(p, "expired", qid, {"sender": pairs.get("from")})
        if "size" not in pairs:
            raise RecordError("qmgr line without size= (cut short?)")
        fields = {
            "sender": pairs.get("from"),
            "size": _int(pairs.get("size")),
            "nrcpt": _int(pairs.get("nrcpt")),
        }
        return _fact(p, "qmgr", qid, fields)
    notice = _NOTICE.match(rest)
    if notice is not None:
        return _fact(p, "notice", qid, {"notice": notice["qid"]})
    held = _POSTSUPER.get(rest)
    if held is not None:
        return _fact(p, "hold", qid, {"status": held, "reply": None})
    reject = _reject(rest)
    if reject is not None:
        what = reject["what"].removeprefix("milter-")
        if what == "hold":
            reject["status"] = "hold"
        elif daemon(p.program) == "cleanup":
            # cleanup refusing or discarding the whole message: its queue file is gone
            # without qmgr's `removed`, and the queue id is free for another message
            reject["ends"] = True
        return _fact(p, {"discard": "discard", "hold": "hold"}.get(what, "reject"), qid, reject)
    return NOT_A_FACT


def _fact(p: Prefix, kind: str, qid: str | None, fields: dict[str, Any]) -> MtaLine:
    stamp = p.timestamp
    key = ""
    if kind in lines.EVENT_KINDS:
        key = lines.line_key("postfix", p.host, stamp, p.program, p.pid, p.message)
    return MtaLine("postfix", kind, stamp, p.host, qid, key, daemon(p.program), fields)


def _delivery(rest: str) -> dict[str, Any]:
    """to=, orig_to=, relay=, delay=, delays=, dsn=, status= and the reply of a delivery line."""
    d = _DELIVERY.fullmatch(rest)
    if d is not None and d["to"] and d["word"] in STATUS_MAP and ", status=" not in d["to"]:
        return _filtered(_delivered(d))
    status = _STATUS.search(rest)
    if status is None:
        raise RecordError("delivery line without status= (cut short?)")
    pairs = _pairs(rest[: status.start()])
    if not pairs.get("to"):
        raise RecordError("delivery line without to=")
    word = status["word"]
    if word not in STATUS_MAP:
        raise RecordError(f"unknown postfix status={word}")
    reply = (status["reply"] or "").strip()
    if reply.startswith("(") and reply.endswith(")"):
        reply = reply[1:-1]
    return _filtered(
        {
            "to": pairs.get("to"),
            "orig_to": pairs.get("orig_to"),
            "relay": pairs.get("relay"),
            "delay": pairs.get("delay"),
            "delays": pairs.get("delays"),
            "dsn": pairs.get("dsn"),
            "conn_use": pairs.get("conn_use"),
            "status": word,
            "reply": reply or None,
            "requeued_as": _requeued_as(word, pairs.get("relay"), reply),
        }
    )


def _delivered(d: re.Match[str]) -> dict[str, Any]:
    """`_delivery` of a line in the usual shape (`_DELIVERY`)."""
    word = d["word"]
    reply = (d["reply"] or "").strip()
    if reply.startswith("(") and reply.endswith(")"):
        reply = reply[1:-1]
    return {
        "to": d["to"],
        "orig_to": d["orig_to"],
        "relay": d["relay"],
        "delay": d["delay"],
        "delays": d["delays"],
        "dsn": d["dsn"],
        "conn_use": d["conn_use"],
        "status": word,
        "reply": reply or None,
        "requeued_as": _requeued_as(word, d["relay"], reply),
    }


def _filtered(fields: dict[str, Any]) -> dict[str, Any]:
    """A hand-off to a content filter on this host that kept the message from its
    recipient (`250 2.7.0 Ok, discarded, …`, `250 2.5.0 Ok, id=…, BOUNCE`): the filter's
    verdict is the status, its text the reply (its 250 and 2.x.x are the hand-off's, not
    the recipient's)."""
    reply = fields["reply"] or ""
    if fields["status"] != "sent" or fields["requeued_as"] or not _loopback(fields["relay"]):
        return fields
    verdict = _VERDICT.search(reply)
    if verdict is None:
        return fields
    codes = _CODES.match(reply)
    text = reply[codes.end() :] if codes else reply
    return {**fields, "status": verdict[0], "reply": text or None, "dsn": None, "filtered": True}


def _loopback(relay: str | None) -> bool:
    return bool(relay) and _LOOPBACK.search(relay or "") is not None


def _requeued_as(word: str, relay: str | None, reply: str) -> str | None:
    """The new queue id of a hand-off that re-queues the same email here: a content filter
    on this host that re-injects it (sent to a loopback relay, answered `queued as QID`)
    or local(8) forwarding it (`relay=local`, `forwarded as QID`); None for any other
    delivery (a remote server's `queued as` is its own queue, not ours)."""
    if word != "sent":
        return None
    if relay == "local":
        m = _FORWARDED.fullmatch(reply)
    elif _loopback(relay):
        m = _QUEUED_AS.search(reply)
    else:
        return None
    return m["qid"] if m else None


def _reject(rest: str) -> dict[str, Any] | None:
    """A `reject:`/`discard:`/`hold:` line (also `milter-…`) of smtpd, postscreen or
    cleanup's header/body checks: the stage, client, reply and envelope."""
    c = _CHECKS.fullmatch(rest)
    if c is not None:
        return {
            "what": c["what"],
            "stage": c["stage"],
            "client": c["client"],
            "reply": (c["reply"] or "").strip() or None,
            "from": c["from"],
            "to": c["to"] or None,
            "proto": c["proto"],
            "helo": c["helo"],
            "matched": c["text"][:200] or None,  # the header or body line the check matched
        }
    m = _REJECT.match(rest)
    if m is None:
        return None
    reply = m["reply"] or ""
    env: dict[str, str] = {}
    tail = _ENVELOPE.search(reply)
    if tail is not None:
        env = _pairs(tail["env"].replace(" ", ", "))
        reply = reply[: tail.start()]
    return {
        "what": m["what"],
        "stage": m["stage"],
        "client": m["client"],
        "reply": reply.strip() or None,
        "from": env.get("from"),
        "to": env.get("to"),
        "proto": env.get("proto"),
        "helo": env.get("helo"),
    }


def _pairs(text: str) -> dict[str, str]:
    """key=value pairs; `<addr>` values lose their brackets (`<>` becomes "")."""
    out: dict[str, str] = {}
    for key, value in _PAIR.findall(text):
        if value.startswith("<") and value.endswith(">"):
            value = value[1:-1]
        out.setdefault(key, value)
    return out


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None

"""One mail-log line → its time, host, program and message; the `MtaLine` fact it holds.

Shapes read (docs/providers.md#postfix):
- traditional syslog and Postfix's own `maillog_file`: `Mar  1 10:00:01 host prog[pid]: msg`
  (no year: taken from --year, else from the file's time, the December→January turn included;
  `2026 Mar  1 10:00:01 …` has its year), Solaris's `[ID 197553 mail.info] ` tag dropped;
- RFC 3339 syslog: `2026-03-01T10:00:01.123456+01:00 host prog[pid]: msg`, also with a
  space for the `T` (`2026-03-01 10:00:01 host postfix/smtp[1]: msg`, a fraction and an
  offset or not): told from Exim's mainlog by the `host daemon[pid]: ` after the time;
- either after a written priority (`<22>Mar  1 …`), and RFC 5424
  (`<22>1 2026-03-01T10:00:01.123Z host prog pid - - msg`);
- journalctl's `-o short-unix` and `-o short-full` text (its `-o short` is the traditional);
- Exim's mainlog: `2026-03-01 10:00:01 [+0100] [[pid]] msg`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

from maillog_cli.dates import ZONE_HOURS, format_dt, to_iso
from maillog_cli.errors import RecordError

MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}

_TRADITIONAL = re.compile(
    r"(?:(?P<year>\d{4}) )?"  # syslog-ng's and some relays' `2026 Mar  1 10:00:01`
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<day>\d{1,2}) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?P<frac>\.\d{1,6})? (?P<rest>.*)"
)
_RFC3339 = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?) (?P<rest>.*)"
)
# An ISO time with a space for the `T` (rsyslog/syslog-ng templates, some relays): Exim's
# mainlog time has this shape too, so it is syslog only when `host daemon[pid]: ` follows
# (`SPACED_TAIL`); Exim writes its message id or its own words after the time.
_ISO_SPACED = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d(?:\.\d{1,9})?)"
    r"(?: ?(?P<zone>Z|[+-]\d\d:?\d\d))? (?P<rest>.*)"
)
_SPACED_TAIL = re.compile(r"[^\s\[]\S* [^\s\[:]+\[\d+\]: ")
# "host prog[pid]: message" after the time; Solaris's syslogd tags the message first
# (`[ID 197553 mail.info] `), which is not part of it.
SOLARIS_TAG = r"(?:\[ID \d+ [\w.]+\] )?"
_TAIL = re.compile(
    r"(?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: " + SOLARIS_TAG + r"(?P<msg>.*)"
)
# A syslog priority written into the file (`<22>`), as some relays and `logger` do.
_PRI = re.compile(r"<\d{1,3}>")
# RFC 5424: `<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID STRUCTURED-DATA MSG`, `-` for none.
_RFC5424 = re.compile(
    r"(?:<\d{1,3}>)?1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) "
    r"(?P<host>\S+) (?P<prog>\S+) (?P<pid>\S+) \S+ "
    r'(?:-|(?:\[(?:[^"\]]|"(?:[^"\\]|\\.)*")*\])+)(?: \ufeff?' + SOLARIS_TAG + r"(?P<msg>.*))?"
)
# journalctl's other text outputs: `-o short-unix` (`1772355601.123456 host prog[pid]: …`)
# and `-o short-full` (`Sun 2026-03-01 10:00:01 CET host prog[pid]: …`; a zone named by its
# abbreviation is placed by dates.ZONE_HOURS when it has one meaning, CET or EST; another,
# IST or BST, is read in --tz, as a zone-less time).
_SHORT_UNIX = re.compile(r"(?P<ts>\d{9,11}\.\d{1,9}) (?P<rest>.*)")
_SHORT_FULL = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?)"
    r"(?: (?P<zone>[+-]\d\d:?\d\d|[A-Z][A-Za-z]{0,5}))? (?P<rest>.*)"
)
_EXIM = EXIM_LINE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})?)(?: (?P<tz>[+-]\d{4}))?"
    r"(?: \[(?P<pid>\d+)\])? (?P<msg>.*)"
)
_POSTFIX_PROG = re.compile(r"[\w.-]*postfix[\w.-]*(?:/[\w./-]+)?")
_EXIM_PROG = re.compile(r"exim\d*")
_MAILISH = re.compile(r"postfix|exim", re.IGNORECASE)

NOT_MAIL = "not a mail log line"
# The kinds of fact that become events (and so need an event id).
EVENT_KINDS = frozenset({"msgid", "arrival", "delivery", "expired", "reject", "discard", "hold"})


class MtaLine(NamedTuple):
    """A fact of one mail-log line, before correlation: what happened to which queue id.

    `kind` is one of: client, pickup, msgid, qmgr, delivery, expired, notice, removed,
    reject, arrival (Exim `<=`), discard, hold (held or frozen, released or unfrozen:
    `fields["status"]` says which). `key` is the line's own content hash (host, time,
    program, pid, text), the base of its event id: the same line imported twice, from one
    file or two, from a batch or a followed log, gives the same id. A tuple: a big file's
    facts cross from the parsing process to the writing one, and tuples cross fastest.
    """

    provider: str
    kind: str
    timestamp: str
    host: str
    qid: str | None
    key: str
    program: str
    fields: dict[str, Any]


def line_key(*parts: str | None) -> str:
    """The stable id of a line's event: a hash of what the line says."""
    text = "\x1f".join([p or "" for p in parts])
    return "h:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class YearGuess:
    """The year of a year-less syslog time.

    With --year: the first line is in that year and each December→January turn moves on
    one year. Without: the file's time (its last write, `reference`) is after every line,
    so a date later than it (beyond a day of clock slack) belongs to the year before.
    """

    def __init__(self, reference: datetime | None, year: int | None) -> None:
        self.reference = reference or datetime.now(UTC)
        self.year = year
        self.last_month: int | None = None

    def __call__(self, month: int, day: int) -> int:
        if self.year is not None:
            if self.last_month is not None and month < self.last_month - 6:
                self.year += 1
            self.last_month = month
            return self.year
        year = self.reference.year
        ref = self.reference.replace(tzinfo=None)
        try:
            if datetime(year, month, day) > ref + timedelta(days=1):
                year -= 1
        except ValueError:  # 29 Feb of a year without it: the year before may have it
            year -= 1
        return year


class Clock:
    """Syslog times to ours, remembering the last one (a busy log has many lines a second)."""

    def __init__(self, years: YearGuess, tz: tzinfo | None) -> None:
        self.years, self.tz = years, tz
        self.last_text: str | None = None
        self.last = ""

    def traditional(self, m: re.Match[str]) -> str:
        text = m.string[m.start() : m.start("rest")]
        if text == self.last_text:
            return self.last
        month, day = MONTHS[m["mon"]], int(m["day"])
        written = m["year"] if "year" in m.re.groupindex else None
        year = int(written) if written else self.years(month, day)
        micro = int(m["frac"][1:].ljust(6, "0")[:6]) if m["frac"] else 0
        try:
            dt = datetime(year, month, day, int(m["h"]), int(m["m"]), int(m["s"]), micro)
        except ValueError:
            raise RecordError(f"impossible date {m['mon']} {day} {year}") from None
        if self.tz is None or self.tz is UTC:  # format_dt's shape, without strftime
            stamp = (
                f"{year:04d}-{month:02d}-{day:02d}T{m['h']}:{m['m']}:{m['s']}.{micro // 1000:03d}Z"
            )
        else:
            stamp = format_dt(dt.replace(tzinfo=self.tz))
        self.last_text, self.last = text, stamp
        return stamp

    def iso(self, text: str) -> str:
        if text != self.last_text:
            self.last_text, self.last = text, to_iso(text, self.tz)
        return self.last

    def exim(self, m: re.Match[str]) -> str:
        """The time of an Exim mainlog line (`EXIM_LINE`), as `split_exim` gives it."""
        return self.iso(exim_time(m))


class Prefix:
    """The parts of a syslog line: host, program, pid, message, and its time (ISO, ours),
    worked out only when asked (most lines of a busy log are not facts)."""

    __slots__ = ("_match", "_clock", "_stamp", "host", "program", "pid", "message")

    def __init__(
        self,
        stamp: str | None,
        host: str,
        program: str,
        pid: str,
        message: str,
        match: re.Match[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._stamp, self._match, self._clock = stamp, match, clock
        self.host, self.program, self.pid, self.message = host, program, pid, message

    @property
    def timestamp(self) -> str:
        if self._stamp is None:
            assert self._match is not None and self._clock is not None
            m = self._match
            if "ts" in m.re.groupindex:
                self._stamp = self._clock.iso(m["ts"])
            else:
                self._stamp = self._clock.traditional(m)
        return self._stamp


def split_syslog(line: str, clock: Clock | None) -> Prefix | None:
    """A syslog line's parts, or None for another shape: a traditional time (with a year
    or not), an RFC 3339 one, either after a priority (`<22>`), or RFC 5424."""
    start = 0
    if line[:1] == "<":
        m = _RFC5424.fullmatch(line)
        if m is not None:
            pid = m["pid"] if m["pid"] != "-" else ""
            return Prefix(None, m["host"], m["prog"], pid, m["msg"] or "", m, clock)
        pri = _PRI.match(line)
        start = pri.end() if pri is not None else 0
    m = _TRADITIONAL.match(line, start) or _RFC3339.match(line, start)
    stamp = None
    if m is None:
        m = _ISO_SPACED.match(line, start)
        if m is not None and _SPACED_TAIL.match(line, m.start("rest")):
            text = f"{m['date']}T{m['time']}{m['zone'] or ''}"
            stamp = clock.iso(text) if clock is not None else None
        else:
            m = _SHORT_UNIX.match(line) or _SHORT_FULL.match(line)
            if m is None:
                return None
            offset = zone_offset(m["zone"] if "zone" in m.re.groupindex else None)
            if offset is not None:
                stamp = to_iso(m["ts"].replace(" ", "T") + offset)
    tail = _TAIL.fullmatch(line, m.start("rest"))
    if tail is None:
        return None
    return Prefix(stamp, tail["host"], tail["prog"], tail["pid"] or "", tail["msg"], m, clock)


def zone_offset(zone: str | None) -> str | None:
    """The UTC offset (`+01:00`) of a zone journalctl wrote: numeric as written, an
    abbreviation with one meaning from dates.ZONE_HOURS, else None (read in --tz)."""
    if not zone:
        return None
    if zone[0] in "+-":
        return zone
    if zone in ("UTC", "GMT"):
        return "+00:00"
    hours = ZONE_HOURS.get(zone)
    if hours is None:
        return None
    minutes = round(abs(hours) * 60)
    return f"{'-' if hours < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"


def spaced_syslog(m: re.Match[str]) -> bool:
    """An `EXIM_LINE` match that is an ISO-time syslog line (`host daemon[pid]: ` after
    the time), not Exim's mainlog."""
    return _SPACED_TAIL.match(m["msg"]) is not None


def split_exim(line: str, tz: tzinfo | None) -> tuple[str, str, str] | None:
    """(time, pid, message) of an Exim mainlog line, or None for another shape."""
    m = _EXIM.match(line)
    if m is None:
        return None
    return to_iso(exim_time(m), tz), m["pid"] or "", m["msg"]


def exim_time(m: re.Match[str]) -> str:
    """An Exim line's time and offset as ISO 8601 text (`2026-03-01T10:00:01+0100`)."""
    return m["ts"].replace(" ", "T") + (m["tz"] or "")


@lru_cache(maxsize=1024)  # a syslog file names a few programs, over and over
def is_postfix(program: str) -> bool:
    return _POSTFIX_PROG.fullmatch(program) is not None


@lru_cache(maxsize=1024)
def is_exim(program: str) -> bool:
    return _EXIM_PROG.fullmatch(program) is not None


def looks_mailish(line: str) -> bool:
    """A line that names a mail daemon: if it cannot be read, that is an error, not noise."""
    return _MAILISH.search(line) is not None


# Exim's rejectlog follows a refusal after DATA with the message's envelope and headers:
# `Envelope-from: <…>`, `Envelope-to: <…>`, then each header behind a flag character (`P
# Received: …`, `F From: …`, `I Message-ID: …`, `  Subject: …`), continued on indented lines.
EXIM_HEADER_DUMP = re.compile(r"Envelope-(?:from|to): |[A-Z*] [!-9;-~]+:|[ \t]")
EXIM_ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"
_EXIM_HINT = re.compile(EXIM_ID + r" |H=|queue run|exim", re.IGNORECASE)


def sniff(head: bytes) -> str | None:
    """'postfix' or 'exim' when the first lines of a text are mail-log lines, else None.

    Syslog lines of any program count (a syslog file may start with other daemons); most
    of the first lines must have a log line's shape (a few may be cut or broken), and
    dated lines count as Exim's only when one of them reads like Exim. A small or noisy
    file (a rotated log that starts mid-message: a few mail lines among cut lines and
    other daemons') is a mail log when one line is a Postfix or Exim line and at least
    half are log lines or cut mail lines.
    """
    kinds = _kinds(head)
    if not kinds:
        return None
    shaped = [k for k in kinds if k is not None and k != "cut"]
    mail = any(k in ("syslog-postfix", "syslog-exim", "exim") for k in shaped)
    if len(shaped) * 5 < len(kinds) * 4 and not (
        mail and (len(kinds) - kinds.count(None)) * 2 >= len(kinds)
    ):
        return None
    syslog = [k for k in shaped if k.startswith("syslog")]
    if "syslog-exim" in syslog and not any(k != "syslog-exim" for k in syslog):
        return "exim"
    if syslog:
        return "postfix"
    return "exim" if "exim" in shaped else None


def syslog_misfit(head: bytes) -> str | None:
    """The error for a text of syslog lines that is not a mail log (no Postfix or Exim line
    among its first ones), else None: what was expected, not a CSV's missing columns."""
    kinds = _kinds(head)
    logged = sum(1 for k in kinds if k is not None and k.startswith("syslog"))  # not "dated":
    # a CSV row may start with a time and a space (`2026-03-01 10:00:01 +0000,…`)
    if not kinds or logged * 2 < len(kinds):
        return None
    return (
        f"syslog lines, but none of the first {len(kinds)} is a Postfix or Exim line "
        "(expected `host postfix/<daemon>[pid]: …` or `exim[pid]: …` lines, or Exim's "
        "`YYYY-MM-DD HH:MM:SS <message id> …` mainlog)"
    )


def _kinds(head: bytes) -> list[str | None]:
    """The `_shape` of each non-blank line among a text's first ones (200 or 64 KiB), the
    header dumps of an Exim rejectlog counted as Exim's."""
    lines = [x for x in head[: 64 << 10].split(b"\n")[:200] if x.strip()]
    if len(head) >= 64 << 10 and len(lines) > 1:
        lines.pop()  # cut by the sample's end
    texts = [raw.decode("utf-8", "replace").rstrip("\r") for raw in lines]
    kinds = [_shape(text) for text in texts]
    if "exim" in kinds:  # an Exim rejectlog's header dumps are its lines too
        kinds = [
            k or ("exim-header" if EXIM_HEADER_DUMP.match(text) else None)
            for k, text in zip(kinds, texts, strict=True)
        ]
    return kinds


def _shape(text: str) -> str | None:
    """'syslog-postfix', 'syslog-exim' (exim via syslog), 'syslog' (another program's),
    'exim', 'dated' (mainlog shape), 'cut' (a mail line cut short: no time, or no
    program) or None."""
    prefix = split_syslog(text, None)
    if prefix is not None:
        if is_exim(prefix.program):
            return "syslog-exim"
        return "syslog-postfix" if is_postfix(prefix.program) else "syslog"
    m = _EXIM.match(text)
    if m is not None:
        return "exim" if _EXIM_HINT.search(m["msg"]) else "dated"
    return "cut" if looks_mailish(text) else None

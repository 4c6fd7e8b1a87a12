"""journald's JSON export (`journalctl -o json`), for the Postfix and Exim lines in it.

One JSON object per line; `MESSAGE` holds what syslog would have printed after
`prog[pid]: `, `SYSLOG_IDENTIFIER` the program, `__REALTIME_TIMESTAMP` the time in
microseconds. Entries of other units are skipped (counted, not errors).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maillog_cli.dates import to_iso
from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context
from maillog_cli.importers.mta import exim, lines, postfix
from maillog_cli.importers.mta.lines import Prefix
from maillog_cli.model import Skip

NAME = "journald"
PROVIDER = None  # postfix or exim, from the entry
SIGNATURE = "`__REALTIME_TIMESTAMP` and `MESSAGE` (journalctl -o json)"
SHAPES = "journalctl -o json output (JSONL), e.g. journalctl -u postfix -o json"

DETECT_KEYS = frozenset({"__REALTIME_TIMESTAMP"})


def detect(obj: dict[str, Any]) -> bool:
    return "__REALTIME_TIMESTAMP" in obj and "MESSAGE" in obj


# Postfix's daemons, by the executable name journald records as `_COMM` (an entry that
# did not come through syslog(3) has no SYSLOG_IDENTIFIER: postfix/smtp is `smtp` then).
POSTFIX_DAEMONS = frozenset(
    "anvil bounce cleanup discard dnsblog error flush lmtp local oqmgr pickup pipe postdrop "
    "postlogd postqueue postscreen postsuper proxymap qmgr qmqpd scache sendmail showq smtp "
    "smtpd spawn tlsmgr tlsproxy trivial-rewrite verify virtual".split()
)


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Any]:
    """The MtaLine fact of a Postfix or Exim entry (correlated later), else a Skip."""
    program = _program(obj)
    if not (lines.is_postfix(program) or lines.is_exim(program)):
        return [Skip(lines.NOT_MAIL)]
    message = _text(obj.get("MESSAGE"))
    if message is None:
        raise RecordError("journald entry without a readable MESSAGE")
    # microseconds since the epoch, as a decimal string (to_iso reads it by its size)
    stamp = to_iso(_text(obj.get("__REALTIME_TIMESTAMP")), ctx.default_tz)
    host = _text(obj.get("_HOSTNAME")) or ""
    pid = _text(obj.get("SYSLOG_PID")) or _text(obj.get("_PID")) or ""
    if lines.is_exim(program):
        return [exim.parse_logged(stamp, host, pid, message, ctx.default_tz)]
    return [postfix.parse_message(Prefix(stamp, host, program, pid, message))]


def _program(obj: dict[str, Any]) -> str:
    """The entry's program: SYSLOG_IDENTIFIER, else `_COMM` (a Postfix daemon's executable
    name counts as that daemon when the entry's unit, if named, is Postfix's)."""
    ident = _text(obj.get("SYSLOG_IDENTIFIER"))
    if ident:
        return ident
    comm = _text(obj.get("_COMM")) or ""
    unit = _text(obj.get("_SYSTEMD_UNIT")) or "postfix"
    if comm in POSTFIX_DAEMONS and "postfix" in unit.lower():
        return "postfix/" + comm
    return comm


def _text(value: Any) -> str | None:
    """A journald field: a string, or an array of bytes (see below)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        # journalctl writes a field as bytes when it holds control characters or is not
        # UTF-8; not UTF-8 is most often Latin-1 (8-bit text a client sent), read byte for
        # byte so that nothing is lost or replaced
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    if isinstance(value, int):
        return str(value)
    return None

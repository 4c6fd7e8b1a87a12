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


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Any]:
    """The MtaLine fact of a Postfix or Exim entry (correlated later), else a Skip."""
    program = _text(obj.get("SYSLOG_IDENTIFIER")) or _text(obj.get("_COMM")) or ""
    if not (lines.is_postfix(program) or lines.is_exim(program)):
        return [Skip(lines.NOT_MAIL)]
    message = _text(obj.get("MESSAGE"))
    if message is None:
        raise RecordError("journald entry without a readable MESSAGE")
    stamp = to_iso(_text(obj.get("__REALTIME_TIMESTAMP")), ctx.default_tz)
    host = _text(obj.get("_HOSTNAME")) or ""
    pid = _text(obj.get("SYSLOG_PID")) or _text(obj.get("_PID")) or ""
    if lines.is_exim(program):
        split = lines.split_exim(message, ctx.default_tz)
        if split is not None:  # Exim logging its own time inside the message
            return [exim.parse_message(split[0], host, split[1] or pid, split[2])]
        return [exim.parse_message(stamp, host, pid, message)]
    return [postfix.parse_message(Prefix(stamp, host, program, pid, message))]


def _text(value: Any) -> str | None:
    """A journald field: a string, or an array of bytes when it was not valid UTF-8."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, int):
        return str(value)
    return None

"""`maillog check`'s report for a person: each firing alert with what changed, then one
line per rule. Plain lines (cron mails them; a pipe gets the same), untrusted text made
visible()."""

from __future__ import annotations

import sys
from typing import IO, Any

from maillog_cli.render.output import visible

_STATE_WORDS = (
    ("firing", "firing"),
    ("ok", "ok"),
    ("too_few", "too few messages"),
    ("no_baseline", "no baseline"),
)


def report_lines(data: dict[str, Any]) -> list[str]:
    from maillog_cli.alerts.evaluate import change_parts

    lines: list[str] = []
    for a in data["alerts"]:
        lines.append(visible(a["headline"]))
        lines += [f"  {visible(part)}" for part in change_parts(a.get("what_changed") or {})]
    for a in data.get("resolved", []):
        lines.append(visible(a["text"]))
    n = data["firing"]
    verdict = f"{n} alert{'s' if n != 1 else ''} firing" if n else "all clear"
    lines.append(f"{verdict} at {data['at']} ({len(data['rules'])} rules)")
    for r in data["rules"]:
        counts = ", ".join(f"{r[k]} {w}" for k, w in _STATE_WORDS if r[k])
        lines.append(f"  {visible(r['rule'])}: {visible(r['definition'])}: {counts or 'no group'}")
    return lines


def print_report(data: dict[str, Any], out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    for line in report_lines(data):
        out.write(line + "\n")

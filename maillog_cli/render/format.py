"""Small text forms every view shares: times, shares, reply codes, the bounce-class styles.

No Rich here, so a TSV line, a terminal table and a TUI cell spell a time the same way.
"""

from __future__ import annotations

from typing import Any, Literal

Precision = Literal["day", "minute", "second", "millisecond"]
# Stored times are ISO 8601 UTC (2026-01-31T12:34:56.789Z): each precision is a prefix.
_PREFIX: dict[str, int] = {"day": 10, "minute": 16, "second": 19, "millisecond": 23}

# One colour per bounce class, in every table, summary and TUI cell.
CLASS_STYLES: dict[str, str] = {
    "hard": "bold red",
    "block": "magenta",
    "soft": "yellow",
    "undetermined": "dim",
}


def short_time(ts: str | None, to: Precision = "second") -> str:
    """A stored time for a person: `2026-01-31 12:34:56`, cut to the given precision."""
    return (ts or "")[: _PREFIX[to]].replace("T", " ")


def class_style(bounce_class: str | None) -> str:
    """The style of a bounce class ('' for none or an unknown one)."""
    return CLASS_STYLES.get(bounce_class or "", "")


def share(fraction: float) -> str:
    """A fraction of a whole as a percentage with one decimal: 0.1234 → `12.3%`."""
    return f"{fraction * 100:.1f}%"


def reply_code(row: dict[str, Any]) -> str:
    """The enhanced status code of an event, else its SMTP code, else ''."""
    return row.get("enhanced_code") or (str(row["smtp_code"]) if row.get("smtp_code") else "")


def counted(n: int, one: str, many: str | None = None) -> str:
    """`1 new event`, `2 new events`, `1 audit entry`: a count with its noun agreeing."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"

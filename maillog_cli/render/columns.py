"""The one width-based column layout: fixed columns chosen by terminal width, one flexible
column taking what is left.

Widths are set here rather than left to Rich, which would squash the short columns
(status, recipient) to nothing to make room for long diagnostics. Each view lists its
columns for a width; `fill` gives the flexible one (width 0) the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # cells; 0 marks the one column that takes what is left


def fill(
    columns: Sequence[Column], width: int, *, gap: int, margin: int = 0, minimum: int = 0
) -> list[Column]:
    """`columns` with the flexible one sized to what `width` leaves (at least `minimum`).

    `gap` cells separate neighbours; `margin` cells are kept free (a scrollbar).
    """
    used = sum(c.width for c in columns) + gap * (len(columns) - 1) + margin
    rest = max(minimum, width - used)
    return [replace(c, width=rest) if c.width == 0 else c for c in columns]


def event_table_columns(width: int, messages: bool = False) -> list[Column]:
    """The search/bounces event table: narrow terminals keep time, the message id
    (shortened), status, who and why; wider ones add the bounce reason, then subject,
    class, code and provider, and (`search --messages`) the message's type, tags, opens
    and clicks."""
    cols = [
        Column("time", "time", 19),
        Column("id", "id", 10 if width < 120 else 16),
        Column("status", "status", 12),
        Column("recipient", "recipient", 20 if width < 100 else 30),
    ]
    if width >= 120:
        cols.append(Column("reason", "reason", 18))
    if width >= 140:
        cols.append(Column("subject", "subject", 22 if width < 170 else 30))
    if width >= 155:
        cols.append(Column("class", "class", 12))
    if width >= 165:
        cols.append(Column("code", "code", 9))
    if width >= 185:
        cols.append(Column("provider", "provider", 10))
    if messages and width >= 150:
        cols += [
            Column("type", "type", 13),
            Column("tags", "tags", 16),
            Column("opens", "opens", 5),
            Column("clicks", "clicks", 6),
        ]
    cols.append(Column("diagnostic", "diagnostic", 0))
    return fill(cols, width, gap=2, minimum=10)


TAIL_MIN_WIDTH = 63  # below this the line is laid out for 63 cells and the terminal crops it


def event_line_columns(width: int) -> list[Column]:
    """`tail`'s one line per event: time, status, recipient and subject share the width
    (recipient about 3/10, subject about 9/20 of what follows the status), the
    diagnostic gets the rest."""
    width = max(TAIL_MIN_WIDTH, width)
    rest = width - 19 - 12 - 2
    to_width = min(32, max(12, rest * 3 // 10))
    subject_width = max(8, (rest - to_width - 2) * 9 // 20)
    cols = [
        Column("time", "time", 19),
        Column("status", "status", 12),
        Column("recipient", "recipient", to_width),
        Column("subject", "subject", subject_width),
        Column("diagnostic", "diagnostic", 0),
    ]
    return fill(cols, width, gap=1)


def email_columns(width: int) -> list[Column]:
    """The TUI's Emails list: 80 columns keep time, status, recipient, subject and class;
    wider terminals add provider, then the bounce reason. Subject takes what is left."""
    wide = width >= 140
    cols = [
        Column("time", "time (UTC)", 20 if wide else 17),
        Column("status", "status", 13 if wide else 11),
        Column("recipient", "recipient", 32 if wide else 24 if width >= 100 else 20),
        Column("subject", "subject", 0),
    ]
    if width >= 100:
        cols.append(Column("provider", "provider", 10))
    cols.append(Column("class", "class", 6 if width < 100 else 13))
    if wide:
        cols.append(Column("reason", "reason", 22))
    return fill(cols, width, gap=0, margin=3, minimum=12)

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


def event_table_columns(
    width: int, messages: bool = False, id_width: int | None = None
) -> list[Column]:
    """The event listings' layout (search, ls, bounces --list, show ADDRESS, and tail's
    lines): narrow terminals keep time, the message id (shortened), status, who and why;
    wider ones add the bounce reason, then subject, class, code and provider, and
    (`search --messages`, on the widest) the message's type, tags, size, send method,
    opens and clicks — in the order of the TSV a pipe gets (events.table_cells).

    `id_width` is the width of the shortened ids shown (they are as long as it takes to
    be unique); a wide one is taken from the recipient before the diagnostic shrinks.
    """
    id_cells = id_width if id_width is not None else (10 if width < 120 else 16)
    cols = [
        Column("time", "time", 19),
        Column("id", "id", max(2, id_cells)),
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
    if messages and width >= 255:  # after all the event's columns: they fit from 185 on
        cols += [
            Column("type", "type", 13),
            Column("tags", "tags", 16),
            Column("size", "size", 7),
            Column("method", "method", 8),
            Column("opens", "opens", 5),
            Column("clicks", "clicks", 6),
        ]
    cols.append(Column("diagnostic", "diagnostic", 0))
    return fill(_narrow_recipient(cols, width, gap=2, minimum=10), width, gap=2, minimum=10)


def _narrow_recipient(
    columns: list[Column], width: int, *, gap: int, minimum: int, floor: int = 12
) -> list[Column]:
    """The recipient gives up what the other columns take beyond `width` (down to
    `floor` cells), so a long id or many columns shorten it, not the whole line."""
    used = sum(c.width for c in columns) + gap * (len(columns) - 1) + minimum
    over = used - width
    return [
        replace(c, width=max(floor, c.width - over)) if c.key == "recipient" and over > 0 else c
        for c in columns
    ]


def email_columns(width: int, id_width: int = 8) -> list[Column]:
    """The TUI's Emails list: 80 columns keep time, the message id (its unique prefix,
    `id_width` cells, as the CLI's listings show it), status, recipient, subject and
    class; wider terminals add provider, then the bounce reason. Subject takes what is
    left; a long id is taken from the recipient first."""
    wide = width >= 140
    cols = [
        Column("time", "time (UTC)", 20 if wide else 17),
        Column("id", "id", id_width + 1),
        Column("status", "status", 13 if wide else 11),
        Column("recipient", "recipient", 32 if wide else 24 if width >= 100 else 20),
        Column("subject", "subject", 0),
    ]
    if width >= 100:
        cols.append(Column("provider", "provider", 10))
    cols.append(Column("class", "class", 6 if width < 100 else 13))
    if wide:
        cols.append(Column("reason", "reason", 22))
    narrowed = _narrow_recipient(cols, width - 3, gap=0, minimum=12)
    return fill(narrowed, width, gap=0, margin=3, minimum=12)

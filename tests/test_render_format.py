"""render/format.py and render/columns.py: the one time form and the one width layout."""

from __future__ import annotations

import pytest

from maillog_cli.render.columns import (
    Column,
    email_columns,
    event_table_columns,
    fill,
)
from maillog_cli.render.format import class_style, reply_code, short_time


def test_short_time_cuts_a_stored_time_to_each_precision() -> None:
    ts = "2026-01-31T12:34:56.789Z"
    assert short_time(ts) == "2026-01-31 12:34:56"
    assert short_time(ts, "minute") == "2026-01-31 12:34"
    assert short_time(ts, "day") == "2026-01-31"
    assert short_time(ts, "millisecond") == "2026-01-31 12:34:56.789"
    assert short_time(None) == ""


def test_reply_code_and_class_style() -> None:
    assert reply_code({"enhanced_code": "5.1.1", "smtp_code": 550}) == "5.1.1"
    assert reply_code({"smtp_code": 421}) == "421"
    assert reply_code({}) == ""
    assert class_style("hard") and class_style(None) == "" and class_style("nonsense") == ""


def test_fill_gives_the_flexible_column_what_is_left_and_never_less_than_its_minimum() -> None:
    cols = [Column("a", "a", 10), Column("rest", "rest", 0), Column("b", "b", 5)]
    assert [c.width for c in fill(cols, 40, gap=2)] == [10, 21, 5]
    assert [c.width for c in fill(cols, 40, gap=0, margin=3)] == [10, 22, 5]
    assert [c.width for c in fill(cols, 10, gap=2, minimum=7)] == [10, 7, 5]


@pytest.mark.parametrize("width", range(40, 260, 7))
def test_each_layout_fits_its_terminal(width: int) -> None:
    table = event_table_columns(width)
    assert [c.key for c in table[:4]] == ["time", "id", "status", "recipient"]
    assert table[-1].key == "diagnostic" and table[-1].width >= 10
    if width >= 110:  # Rich puts two cells between columns
        assert sum(c.width for c in table) + 2 * (len(table) - 1) <= width
    # a long short id (a prefix only unique far in) is taken from the recipient, and the
    # line still fits down to 80 columns
    long_id = event_table_columns(width, id_width=18)
    assert next(c.width for c in long_id if c.key == "id") == 18
    if width >= 80:
        assert sum(c.width for c in long_id) + 2 * (len(long_id) - 1) <= width
    emails = email_columns(width)
    assert "subject" in [c.key for c in emails] and min(c.width for c in emails) >= 6
    if width >= 100:
        assert sum(c.width for c in emails) + 3 == width

"""Red team 9: a relative time too far back. `--since 800000d` said "it is not a time"
(a typo's message, for a well-formed duration), and `--since 100000d` was taken as 1753
while the date 1753-01-01 itself is refused as outside 1971-2200."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Result


@pytest.mark.parametrize("since", ["100000d", "800000d", "3000000d", "9000y", "99999999h", "60y"])
def test_a_duration_reaching_before_1971_says_so_in_one_line(
    cli: Callable[..., Result], since: str
) -> None:
    r = cli("search", "--since", since)
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r
    assert "reaches back before 1971" in r.stderr and "not a time" not in r.stderr, r


@pytest.mark.parametrize("since", ["50y", "0d", "7d", "1y6mo"])
def test_a_duration_within_the_stored_years_is_a_time(
    cli: Callable[..., Result], since: str
) -> None:
    r = cli("search", "--since", since)
    assert "cannot read the date" not in r.stderr and "Traceback" not in r.stderr, r

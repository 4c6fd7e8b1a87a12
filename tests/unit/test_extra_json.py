"""events.extra is written through a cache (store.db.extra_json): the same text as the
uncached rule, secrets removed, whatever the shape."""

from __future__ import annotations

from typing import Any

import pytest

from maillog_cli.redaction import scrub
from maillog_cli.store.db import _dumps, extra_json

CASES: list[dict[Any, Any]] = [
    {"tags": ["a", "b"], "ip": "1.2.3.4"},
    {"tags": ["a", "b"], "ip": "1.2.3.4"},  # a cache hit
    {"ip": "1.2.3.4", "tags": ["a", "b"]},  # same items, other order: its own text
    {"password": "hunter2", "pool": "p1"},
    {"url": "https://x.example/?api_key=abcdef1234567890abcd", "attempt": 1},
    {"n": 1, "f": 1.0, "b": True, "none": None},
    {"n": 1.0, "f": 1, "b": 1, "none": None},
    {"custom_args": {"token": "abc123secret", "user": "u1"}},
    {"headers": [{"name": "Authorization", "value": "Bearer abc.def.ghi"}]},
    {"tags": ("x", "sk_live_abcdefghijklmnop1234")},
    {"big": 2**70},
    {1: "non-string key"},
    {"list": [1, "a"]},
    {"payload": '{"password": "hunter2"}'},
]


@pytest.mark.parametrize("extra", CASES)
def test_extra_json_is_the_uncached_rule(extra: dict[Any, Any]) -> None:
    expected = _dumps(scrub(extra))
    assert extra_json(extra) == expected
    assert extra_json(dict(extra)) == expected  # again, from the cache where it caches


def test_secrets_never_reach_the_text() -> None:
    text = extra_json(
        {
            "password": "hunter2",
            "note": "key SG.abcdefghijklmnopqrstuv.wxyz0123456789abcdefghijklmnopqrstuvwxyz",
        }
    )
    assert text is not None and "hunter2" not in text and "SG.abc" not in text

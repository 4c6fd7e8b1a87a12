"""redaction.scrub: the one-pass path for flat dicts changes nothing about what is scrubbed."""

from __future__ import annotations

from typing import Any

import pytest

from maillog_cli.redaction import mask_value, scrub


@pytest.mark.parametrize(
    "value",
    [
        {"relay": "mx.example.org[192.0.2.1]:25", "delay": "1.2", "dsn": "2.0.0"},
        {"helo": "x", "password": "hunter2", "n": 3, "ok": True, "none": None},
        {"api_key": None, "token": False, "Authorization": "Bearer abc.def.ghi"},
        {"client": "h[192.0.2.1]", "reply": "550 user unknown; api_key=sk_live_0123456789abcdef"},
        {"Name": "X-Api-Key", "Value": "k-123"},  # a header pair: the walk decides
        {"nested": {"password": "p"}, "list": ["token=abc123456789"]},
        {1: "password=abc", "x": "y"},
    ],
)
def test_scrub_of_a_flat_dict_is_the_full_walks_result(value: dict[Any, Any]) -> None:
    """The one-pass path for flat extra data gives exactly what mask_value gives."""
    assert scrub(value) == mask_value(value)

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


# --- mask_credentials: the one needle scan changes nothing --------------------------------------


def _reference_mask(text: str) -> str:
    """mask_credentials as it was before the single needle scan (every rule checked with
    its needles only): the faster one must give exactly this, byte for byte."""
    from maillog_cli import redaction as r

    if not text or len(text) < 8:
        return text
    low = text.lower()
    first = any(n in low for n in r._ALL_NEEDLES) or "re_" in low
    if not first and r._HEX32_RUN.search(low) is None:
        return text
    hex32: bool | None = None
    for needles, (pattern, repl) in zip(r._NEEDLES, r._PATTERNS, strict=True):
        if needles[0] == r._HEX32:
            if hex32 is None:
                hex32 = r._HEX32_RUN.search(text) is not None
            if not hex32:
                continue
        elif not any(n in low for n in needles):
            continue
        text = pattern.sub(r._mask_assignment if repl is None else repl, text)
    if "re_" in text:
        text = r._RESEND.sub(r._mask_resend, text)
    return text


def _texts() -> list[str]:
    """Subjects and diagnostics of generated mail, every credential shape the rules know,
    and those shapes glued to `?`, `&`, `;`, `:` and `=` in every order."""
    from datetime import UTC, datetime

    from maillog_cli.demo import iter_events

    texts = {
        t
        for e in iter_events(400, seed=5, now=datetime(2026, 11, 1, tzinfo=UTC))
        for t in (e.get("subject"), e.get("diagnostic"))
        if t
    }
    secrets = [
        "SG.abcdefghijklmnop1234.qrstuvwxyzABCDEF5678",
        "key-0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef-0123abcd-4567ef01",
        "re_123456789_abcdefghijklmnopqrstu",
        "AKIAIOSFODNN7EXAMPLE",
        "Bearer abc.def-ghi12345",
        "smtp://alice:hunter2@smtp.example.com:587",
        "https://x.example/u?token=abc123&x=1",
        "password=hunter2",
        "new password: S3cr3t!!",
        "auth token s3cr3tvalue",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk_live_0123456789abcdef",
        "ghp_" + "a1" * 18,
        "xoxb-1234567890-abcdef",
        "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
        "0123456789abcdef0123456789abcdef-us12",
        "xkeysib-" + "a" * 64 + "-AbCdEfGh12345678",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "[InternalId=609934762460, Hostname=DB4PEPFD6D4F5C0.prod.outlook.com]",
        "Unauthenticated email from mail.acme.example is not accepted",
        "sig key pass auth token",
    ]
    glue = ["", " ", "?", "&", ";", ":", "=", "?a=1&", "; key=", " sig: ", "://u:p@h "]
    for s in secrets:
        for g in glue:
            texts |= {s + g, g + s, g + s + g + "x", s.upper() + g, "550 5.7.1 " + g + s}
    return sorted(texts)


def test_mask_credentials_gives_what_the_rule_by_rule_check_gave() -> None:
    from maillog_cli import redaction as r
    from maillog_cli.redaction import mask_credentials

    texts = _texts()
    assert len(texts) > 1000
    assert sum(_reference_mask(t) != t for t in texts) > 300  # the corpus holds secrets
    for text in texts:
        assert mask_credentials(text) == _reference_mask(text), text
        low = text.lower()
        assert r._needles_in(low) == {n for n in r._ALL_NEEDLES if n in low}, text


def test_hex_run_check_is_the_regexs() -> None:
    """_has_hex32 answers what `[0-9a-f]{32}` finds, on ASCII, other scripts and lone
    surrogates, runs cut by an upper-case or non-ASCII character."""
    import random

    from maillog_cli.redaction import _HEX32_RUN, _has_hex32

    rng = random.Random(9)
    texts = ["a" * 31 + "é" + "b" * 40, "x" * 40, "0123456789abcdef" * 2, "0123456789ABCDEF" * 2]
    for _ in range(20000):
        pieces = [
            "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(0, 40)))
            + rng.choice("gxA é\udc80\u0660")
            for _ in range(rng.randint(0, 3))
        ]
        texts.append("".join(pieces))
    found = 0
    for text in texts:
        assert _has_hex32(text) == (_HEX32_RUN.search(text) is not None), text
        found += _has_hex32(text)
    assert found > 50

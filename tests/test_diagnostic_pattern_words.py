"""`diagnostic_pattern` works word by word with a cache (the bounce summary normalises
every distinct reply text); it must give exactly what one substitution over the whole
text gives — on the demo's and a mail server's replies, and on random hostile text
built from the characters the pattern's look-arounds care about."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from maillog_cli.demo import iter_events
from maillog_cli.normalize import _VARIABLE, _replace, diagnostic_pattern


def _whole_text(text: str | None) -> str | None:
    """The pattern as one regular-expression substitution over the whole text."""
    if not text:
        return None
    return _VARIABLE.sub(_replace, " ".join(text.split())) or None


def test_the_demo_s_reply_texts() -> None:
    now = datetime(2026, 3, 20, tzinfo=UTC)
    texts = {r["diagnostic"] for r in iter_events(4000, seed=11, now=now) if r.get("diagnostic")}
    assert len(texts) > 500
    for text in texts:
        assert diagnostic_pattern(text) == _whole_text(text), text


def test_mail_server_replies_and_edge_words() -> None:
    texts = [
        "host mx1.example.org[192.0.2.11]:25 said: 550 5.1.1 <r9x0@corp.example>: Recipient"
        " address rejected: User unknown (in reply to RCPT TO command)",
        "451 4.7.1 Greylisted, please try again later: 2001:db8::1 dead:beef:cafe: ::1",
        "550-5.1.1 ann@x.org. 450: 5.1.1. 5.1.1x 250 2.0.0 Ok: queued as 4BxY2k3QvTz9",
        "connect to 10.0.0.1:25: Connection refused\tretry 3x in 10m (id=AbC9)\n next",
        "<a.b+c@d-e.f.g> 1.2.3.4.5 1.2.3.4:99 :1:2:3 a:b:c:d 12:34:56 5.7.26 999 254",
        "", "   ", "plain words only", "é 550 5.1.1 ü@ß.de 名前@例え.jp",
    ]  # fmt: skip
    for text in texts:
        assert diagnostic_pattern(text) == _whole_text(text), text


def test_random_texts() -> None:
    rnd = random.Random(7)
    alphabet = "0123456789abcdefABCDEF.:@<>-_+=/' \t\nxyzé"
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        assert diagnostic_pattern(text) == _whole_text(text), repr(text)

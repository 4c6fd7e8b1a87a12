"""A small deterministic store for the TUI tests: fixed times far in the past, no clock."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from maillog_cli.tui.data import Source


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no async plugin needed for Pilot)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


HOSTILE_SUBJECT = "[bold]x[/bold] \x1b[2J [link=http://e]"
PAGED = 450  # more than two pages of 200


def _event(n: int, **kw: object) -> dict[str, object]:
    e: dict[str, object] = {
        "event_id": f"ev-{n:05d}",
        "message_id": f"msg-{n:05d}@example.com",
        "timestamp": f"2024-03-{1 + n // 100:02d}T{(n // 4) % 24:02d}:{n % 60:02d}:00.000Z",
        "provider": "sendgrid",
        "direction": "outbound",
        "status": "delivered",
        "raw_status": "delivered",
        "sender": "app@example.com",
        "recipient": f"user{n}@example.org",
        "subject": f"Receipt {n}",
        "smtp_code": 250,
        "enhanced_code": None,
        "diagnostic": None,
        "bounce_class": None,
        "bounce_reason": None,
    }
    e.update(kw)
    return e


def events() -> list[dict[str, object]]:
    """PAGED delivered messages, three Gmail bounces, one deferral, one hostile subject."""
    rows = [_event(n) for n in range(PAGED)]
    rows += [
        _event(
            1000,
            timestamp="2024-03-20T09:00:00.000Z",
            status="bounced",
            raw_status="bounce",
            recipient="ghost@gmail.com",
            subject="Welcome",
            smtp_code=550,
            enhanced_code="5.1.1",
            diagnostic="550-5.1.1 The email account that you tried to reach does not exist.",
        ),
        _event(
            1001,
            timestamp="2024-03-20T10:00:00.000Z",
            status="bounced",
            raw_status="bounce",
            recipient="full@gmail.com",
            subject="Invoice",
            smtp_code=552,
            enhanced_code="5.2.2",
            diagnostic="552-5.2.2 The email account that you tried to reach is over quota.",
        ),
        _event(
            1002,
            timestamp="2024-03-20T11:00:00.000Z",
            status="bounced",
            raw_status="bounce",
            recipient="nobody@gmail.com",
            subject="Reset",
            smtp_code=550,
            enhanced_code="5.1.1",
            diagnostic="550-5.1.1 The email account that you tried to reach does not exist.",
        ),
        _event(
            1003,
            timestamp="2024-03-20T12:00:00.000Z",
            status="deferred",
            raw_status="deferred",
            recipient="slow@yahoo.com",
            subject="Digest",
            smtp_code=421,
            enhanced_code="4.7.0",
            diagnostic="421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints",
        ),
        _event(
            1004,
            timestamp="2024-03-20T13:00:00.000Z",
            subject=HOSTILE_SUBJECT,
            recipient="eve@example.net",
        ),
    ]
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.fixture
def tui_store(cli, tmp_path: Path, db_path: Path) -> Path:
    r = cli("import", write_jsonl(tmp_path / "events.jsonl", events()))
    assert r.exit_code == 0, r
    return db_path


@pytest.fixture
def make_app(tui_store: Path) -> Callable[..., object]:
    from maillog_cli.store.query import parse_words
    from maillog_cli.tui.app import MaillogApp

    sources: list[Source] = []

    def make(words: str = "", follow_interval: float = 0.05) -> MaillogApp:
        source = Source(tui_store)
        sources.append(source)
        return MaillogApp(source, parse_words(words), words, follow_interval=follow_interval)

    yield make
    for s in sources:
        s.close()

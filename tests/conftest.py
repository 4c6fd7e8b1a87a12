"""Shared fixtures: a real SQLite file per test, the real CLI, the shared samples."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_cli.cli import app

# The suite's own data: tiny per-provider fixtures written from the documented formats.
DATA = Path(__file__).resolve().parent / "data"
PROVIDER_FIXTURES = DATA / "providers"
# The shared samples and bounce corpus next to the repository: extra checks only, skipped
# (never failed) when absent, so a clean clone tests its core cases on its own.
SHARED = Path(os.environ.get("MAILLOG_SHARED") or Path(__file__).resolve().parents[2] / "shared")
SAMPLES = SHARED / "samples"
SHARED_MISSING = (
    f"extra check on the shared samples: {SHARED} not found (set MAILLOG_SHARED to run it)"
)
CORPUS = SHARED / "corpus" / "dsn"
CORPUS_MISSING = (
    f"extra check on the shared bounce corpus: {CORPUS} not found (set MAILLOG_SHARED to run it)"
)


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own store and config; output is pinned (no colour, 120 columns)."""
    monkeypatch.setenv("MAILLOG_DB", str(tmp_path / "maillog.db"))
    monkeypatch.setenv("MAILLOG_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    for var in (
        "MAILLOG_SMTP_HOST",
        "MAILLOG_SMTP_PORT",
        "MAILLOG_SMTP_USER",
        "MAILLOG_SMTP_PASSWORD",
        "MAILLOG_SMTP_TLS",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "maillog.db"


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def __repr__(self) -> str:
        return f"Result(exit={self.exit_code}, stdout={self.stdout[:500]!r}, stderr={self.stderr[:500]!r})"


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke the real Typer app in-process; MaillogError is mapped like `main()` does."""
    from maillog_cli.context import format_error
    from maillog_cli.errors import MaillogError

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        runner = CliRunner()
        try:
            r = runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
        except MaillogError as exc:
            return Result(1, "", f"maillog: {format_error(exc)}\n")
        return Result(r.exit_code, r.stdout, r.stderr)

    return invoke


def import_audit_only(cli: Callable[..., Result], folder: Path) -> None:
    """Fill the store with one audit entry and no email: the store that must still say
    "No emails yet" to every email listing."""
    path = folder / "audit.jsonl"
    entry = {
        "id": "a1",
        "created_at": "2026-01-01T10:00:00Z",
        "actor": {"id": "u1", "email": "alice@acme.example"},
        "action": "api_key.create",
    }
    path.write_text(json.dumps(entry) + "\n")
    assert cli("import", str(path)).exit_code == 0


def audit_entries(n: int) -> list[dict[str, Any]]:
    """`n` api_key.create entries by alice, a second apart, ids aud-0 … (newest last)."""
    return [
        {
            "id": f"aud-{i}",
            "created_at": f"2026-01-01T10:00:0{i}Z",
            "actor": {"id": "u1", "email": "alice@acme.example"},
            "action": "api_key.create",
            "target": {"type": "api_key", "id": f"k{i}"},
            "ip": "203.0.113.9",
        }
        for i in range(n)
    ]


def require_shared() -> Path:
    """The shared folder, or skip the calling test (with SHARED_MISSING) when it is absent."""
    if not SAMPLES.exists():
        pytest.skip(SHARED_MISSING)
    return SHARED


def fixture_files(*suffixes: str) -> list[Path]:
    """The repo's provider fixtures, then the shared samples when present (extra coverage)."""
    roots = [PROVIDER_FIXTURES, *([SAMPLES] if SAMPLES.exists() else [])]
    return [
        p
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file() and (not suffixes or p.suffix in suffixes)
    ]


def default_signals() -> None:
    """`preexec_fn` for a child the test interrupts: give it default SIGINT handling.

    A runner started with SIGINT ignored (`nohup make test &` from a script) passes SIG_IGN
    through exec, and a Python child then never sees Ctrl-C: the test would measure nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until(
    condition: Callable[[], object], timeout: float = 30.0, what: str = "the condition"
) -> None:
    """Poll until condition() is true, failing after timeout seconds (a busy machine is slow,
    never wrong: tests wait on what they need, not on a guess of how long it takes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.02)

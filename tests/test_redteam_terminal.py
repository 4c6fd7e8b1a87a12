"""Red-team findings about what reaches a person's terminal.

`--format csv` keeps control characters as data so that it reads back exactly; printed
on a terminal it must still never let them drive the terminal (a subject carrying OSC 52
would write the clipboard, one carrying ESC[2J would clear the screen)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.hostile.test_ingest_escapes import CLEAR, OSC52, assert_inert, on_terminal

EVIL = f"hi {OSC52} there {CLEAR}\u202e done"


def _store_with_evil_subject(tmp_path: Path) -> None:
    src = tmp_path / "evil.jsonl"
    src.write_bytes(
        orjson.dumps(
            {
                "event_id": "e1",
                "message_id": "evil-1@example.com",
                "status": "bounced",
                "timestamp": "2026-01-01T00:00:00Z",
                "recipient": "a@example.com",
                "subject": EVIL,
                "diagnostic": f"550 5.1.1 {CLEAR}",
            }
        )
        + b"\n"
    )
    code, seen, _ = on_terminal(tmp_path, "import", str(src), stdout_tty=False)
    assert code == 0, seen


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("search", "--format", "csv"),
        ("search", "--messages", "--format", "csv"),
        ("bounces", "--list", "--format", "csv"),
        ("show", "evil-1@example.com", "--format", "csv"),
        ("sql", "SELECT subject, diagnostic FROM events", "--format", "csv"),
    ],
    ids=["search", "messages", "bounces-list", "show", "sql"],
)
def test_csv_on_a_terminal_shows_escapes_and_is_exact_in_a_pipe(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    _store_with_evil_subject(tmp_path)
    code, seen, _ = on_terminal(tmp_path, *args)
    assert code == 0, seen
    assert_inert(seen)
    assert "\\x1b]52;c;ZXZpbA==\\x07" in seen.decode()  # shown, as data
    code, _, piped = on_terminal(tmp_path, *args, stdout_tty=False)
    assert code == 0
    assert OSC52.encode() in piped  # a pipe gets the exact value, to read back

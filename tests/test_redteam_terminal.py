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


@pytest.mark.slow
def test_import_from_stdin_on_a_terminal_says_it_waits_and_one_ctrl_d_ends_it(
    tmp_path: Path,
) -> None:
    """`maillog import -` typed at a prompt showed only a spinner, and no number of Ctrl-D
    ended it: a terminal reports its end once, and each buffer above asked again. Now a
    line says what it waits for, and one Ctrl-D imports what was typed."""
    import os
    import pty
    import subprocess
    import sys
    import threading
    import time

    from tests.hostile.test_ingest_escapes import _RUN, ROOT

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAILLOG_DB": str(tmp_path / "s.db")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, "--no-fork", "import", "-"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = bytearray()

    def drain() -> None:  # a terminal that is not read fills up and blocks the writer
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + 60
    while b"Ctrl-D" not in seen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"reading from the terminal" in seen
    record = b'{"status": "sent", "timestamp": "2026-01-01T00:00:00Z", "recipient": "a@b.com"}\n'
    os.write(master, record)
    time.sleep(0.5)
    os.write(master, b"\x04")  # once
    try:
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert code == 0, bytes(seen)[-500:]
    assert b"1 new event" in seen

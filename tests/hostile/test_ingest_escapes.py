"""Untrusted text never drives the terminal: import reports (`FILE:LINE: …`, whole-file
errors, summaries, the progress console) carry file names and JSON keys through the same
`visible()` as data, on a real terminal too; `show --raw` shows escapes visibly on a
terminal and writes the exact bytes into a pipe.

Terminal cases run the real CLI in a child process on a pseudo-terminal, so Rich's
progress bar is live as it is for a person."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from maillog_cli.render.output import visible

ROOT = Path(__file__).resolve().parents[2]
OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # write "evil" to the clipboard
CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor home
TAGS = "\U000e0069\U000e0067\U000e006e"  # invisible TAG letters
SEPARATORS = "\u2028\u2029"

_RUN = """
import sys
if sys.argv[1] == "--fork":  # every file on disk through the forked parser
    from maillog_cli.ingest import batches
    batches.BULK_BYTES = 1
sys.argv = ["maillog", *sys.argv[2:]]
from maillog_cli.cli import main
main()
"""


def on_terminal(
    tmp_path: Path, *args: str, forked: bool = False, stdout_tty: bool = True
) -> tuple[int, bytes, bytes]:
    """(exit code, what the terminal received, what the stdout pipe received)."""
    master, slave = pty.openpty()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MAILLOG_DB": str(tmp_path / "store.db"),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, "--fork" if forked else "--no-fork", *args],
        stdin=slave,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    piped = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=60)
    os.close(master)
    return code, bytes(seen), piped


def assert_inert(output: bytes) -> None:
    text = output.decode("utf-8", "replace")
    for payload in (OSC52, "\x1b]52", "\x1b[2J", *TAGS, *SEPARATORS):
        assert payload not in text, f"{payload!r} reached the terminal: {text[-800:]!r}"


def test_visible_shows_tags_separators_and_escapes() -> None:
    shown = visible(f"a{OSC52}b{CLEAR}c{TAGS}d{SEPARATORS}e\u202e")
    assert shown.isascii() and shown.isprintable()
    assert "\\x1b]52" in shown and "\\U000e0069" in shown and "\\u2028" in shown
    assert visible("caf\u00e9 \U0001f600 ok") == "caf\u00e9 \U0001f600 ok"


@pytest.mark.parametrize("forked", [False, True], ids=["in-process", "forked"])
def test_import_reports_on_a_terminal_are_visible(tmp_path: Path, forked: bool) -> None:
    evil_name = tmp_path / f"log{CLEAR}{TAGS}.jsonl"
    good = {"event_id": "g1", "status": "sent", "timestamp": "2026-01-01T00:00:00Z"}
    evil_name.write_bytes(
        orjson.dumps(good)
        + b"\n"
        + orjson.dumps({OSC52 + "key" + SEPARATORS: 1, TAGS: 2})
        + b"\n"
        + b'{"status": "sent", "timestamp": "'
        + CLEAR.encode()
        + b'"}\n'
    )
    binary = tmp_path / f"bin{OSC52}.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    code, seen, _ = on_terminal(tmp_path, "import", str(evil_name), str(binary), forked=forked)
    assert code == 1
    text = seen.decode("utf-8", "replace")
    assert_inert(seen)
    assert f"{visible(evil_name)}:2: unrecognised record" in text  # the FILE:LINE line
    assert "\\x1b]52;c;ZXZpbA==\\x07key\\u2028\\u2029" in text  # the key, visible
    assert f"{visible(binary)}: binary data" in text  # a whole-file error
    assert f"{visible(evil_name)}: 1 new event" in text  # the summary
    assert "Traceback" not in text


def test_show_raw_is_visible_on_a_terminal_and_exact_in_a_pipe(tmp_path: Path) -> None:
    eml = tmp_path / "hostile.eml"
    raw = (
        b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi " + CLEAR.encode() + b"\r\n"
        b"Message-ID: <hostile@example.com>\r\nDate: Tue, 20 Jun 2024 07:00:00 +0000\r\n\r\n"
        b"body\twith tab " + OSC52.encode() + TAGS.encode() + b"\r\nline two\r\n"
    )
    eml.write_bytes(raw)
    code, seen, _ = on_terminal(tmp_path, "import", str(eml))
    assert code == 0, seen
    code, seen, _ = on_terminal(tmp_path, "show", "hostile@example.com", "--raw")
    assert code == 0, seen
    assert_inert(seen)
    text = seen.decode().replace("\r\n", "\n")
    assert "Subject: hi \\x1b[2J\\x1b[H\n" in text and "body\twith tab \\x1b]52" in text
    assert "\nline two\n" in text
    code, seen, piped = on_terminal(
        tmp_path, "show", "hostile@example.com", "--raw", stdout_tty=False
    )
    assert code == 0 and piped == raw

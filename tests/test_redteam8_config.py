"""Red team 8: a config file that is not UTF-8 text.

A config saved as UTF-16 by a Windows editor, a latin-1 file, a binary file or a FIFO gave a
UnicodeDecodeError traceback (or hung) in every command that reads the config. Each must
be one line naming the file and what to fix, exit 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

# Every command that reads the config file, with arguments that make it do so.
COMMANDS = [
    ("prune", "--dry-run"),
    ("check",),
    ("watch",),  # refuses at start-up, never reaches its loop
]

BAD_CONTENTS = {
    "utf16-bom": '\ufeffretention = "30d"\n'.encode("utf-16"),
    "latin1": 'retention = "30d" # caf\xe9\n'.encode("latin-1"),
    "binary": bytes(range(256)),
    "nul": b'retention = "30d"\x00\n',
}


@pytest.mark.parametrize("kind", sorted(BAD_CONTENTS))
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_config_that_is_not_utf8_is_one_line_naming_the_file(
    cli: Callable[..., Result], tmp_path: Path, kind: str, command: tuple[str, ...]
) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(BAD_CONTENTS[kind])
    config.chmod(0o600)
    r = cli(*command)
    assert r.exit_code == 1, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r
    assert str(config) in lines[0], r
    assert "Traceback" not in r.stderr


def test_the_not_utf8_error_says_what_to_do(cli: Callable[..., Result], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(BAD_CONTENTS["utf16-bom"])
    r = cli("prune", "--dry-run")
    assert "UTF-16" in r.stderr and "UTF-8" in r.stderr, r
    config.write_bytes(BAD_CONTENTS["latin1"])
    r = cli("prune", "--dry-run")
    assert f"{config}:1:" in r.stderr and "UTF-8" in r.stderr, r


def test_a_utf8_bom_is_read_like_any_utf8_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    """Notepad writes a UTF-8 byte-order mark: the file is still UTF-8 TOML."""
    (tmp_path / "config.toml").write_bytes('\ufeffretention = "30d"\n'.encode("utf-8"))
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id": "e1", "message_id": "m1@example.com", "provider": "ses",'
        ' "timestamp": "2020-01-01T00:00:00Z", "status": "delivered", "recipient": "a@example.org"}\n'
    )
    assert cli("import", str(events)).exit_code == 0
    r = cli("prune", "--dry-run")
    assert r.exit_code == 0, r
    assert 'retention = "30d"' in r.stdout, r


def test_a_config_that_is_a_fifo_is_refused_not_waited_on(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    os.mkfifo(config)
    r = cli("prune", "--dry-run")
    assert r.exit_code == 1, r
    assert str(config) in r.stderr and "not a regular file" in r.stderr, r


def test_an_unreadable_config_is_one_line(cli: Callable[..., Result], tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    config = tmp_path / "config.toml"
    config.write_text('retention = "30d"\n')
    config.chmod(0)
    r = cli("prune", "--dry-run")
    assert r.exit_code == 1, r
    assert str(config) in r.stderr and "Permission denied" in r.stderr, r

"""Red team 8: `export -o` onto something that is not a regular file.

The export is written beside its name and renamed into place. Onto a device or a named
pipe that rename replaced the node itself: `export -o /dev/null --force` (run as root)
turned /dev/null into a file holding the export, for every program on the machine, and a
FIFO a reader waited on was swapped for a file the reader never saw. Onto a symlink it
replaced the link with a file, leaving the file the link names stale.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result


@pytest.fixture
def filled(cli: Callable[..., Result], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps({
            "event_id": "e1", "message_id": "m1@example.com", "provider": "ses",
            "timestamp": "2026-01-01T00:00:00Z", "status": "delivered",
            "recipient": "a@example.org",
        }) + "\n"
    )  # fmt: skip
    assert cli("import", events).exit_code == 0


def _drain(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(fifo, "rb") as fh:
            into.append(fh.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("force", [False, True])
def test_an_export_into_a_named_pipe_goes_to_its_reader_and_the_pipe_stays(
    cli: Callable[..., Result], tmp_path: Path, filled: None, force: bool
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    r = cli("export", "-o", fifo, *(["--force"] if force else []))
    reader.join(30)
    assert r.exit_code == 0, r
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the pipe, not a file in its place
    lines = [json.loads(x) for x in got[0].decode().splitlines()]
    assert lines[0]["maillog"] == "export" and lines[0]["events"] == 1
    assert not list(tmp_path.glob(".pipe*"))  # no .part left beside it


def test_an_export_onto_a_symlink_replaces_the_file_it_names_and_keeps_the_link(
    cli: Callable[..., Result], tmp_path: Path, filled: None
) -> None:
    real = tmp_path / "backups" / "latest-real.jsonl"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    r = cli("export", "-o", link, "--force")
    assert r.exit_code == 0, r
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert json.loads(real.read_text().splitlines()[0])["events"] == 1

"""Red team 6: a file that cannot be written to the end leaves nothing behind.

`export -o FILE` writes .FILE.part and renames it when complete. On a full disk, closing
the part file flushed its buffer and failed a second time; that error escaped before the
part file was removed, so a disk already full kept the half-written file, and the message
was only "cannot write the output". /dev/full stands in for the full disk: every write to
it fails with ENOSPC, the flush at close too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DEV_FULL = Path("/dev/full")


@pytest.mark.skipif(not DEV_FULL.exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_an_export_onto_a_full_disk_leaves_no_part_file(cli, tmp_path: Path, name: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps({
                "event_id": f"e{i}", "message_id": f"m{i}@example.com",
                "timestamp": "2026-01-01T00:00:00Z", "provider": "ses", "status": "delivered",
                "recipient": f"user{i}@example.org",
            }) + "\n"
            for i in range(50)
        )
    )  # fmt: skip
    assert cli("import", events).exit_code == 0
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / name
    (folder / f".{name}.part").symlink_to(DEV_FULL)  # where the export writes first
    r = cli("export", "-o", target)
    assert r.exit_code == 1, r
    assert r.stderr == f"maillog: error: cannot write {target}: No space left on device\n"
    assert list(folder.iterdir()) == []  # neither the file nor its .part

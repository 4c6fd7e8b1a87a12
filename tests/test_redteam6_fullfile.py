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


def _small_file_limit() -> None:
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


def test_a_backup_that_cannot_be_written_names_the_backup_not_the_store(
    cli, tmp_path: Path, db_path: Path
) -> None:
    """The copy's failure was reported as the STORE's: '<store>: the disk refused a read or
    write … the unfinished write was rolled back' — the wrong file, the wrong story."""
    import os
    import subprocess
    import sys

    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps({
                "event_id": f"e{i}", "message_id": f"m{i}@example.com",
                "timestamp": "2026-01-01T00:00:00Z", "provider": "ses", "status": "delivered",
                "recipient": f"user{i}@example.org", "subject": f"Receipt {i} " + "x" * 200,
            }) + "\n"
            for i in range(3000)
        )
    )  # fmt: skip
    assert cli("import", events).exit_code == 0
    assert db_path.stat().st_size > 256 << 10
    dest = tmp_path / "copies" / "b.db"
    dest.parent.mkdir()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "MAILLOG_DB": str(db_path), "PYTHONPATH": str(root)}
    r = subprocess.run(
        [sys.executable, "-m", "maillog_cli", "db", "backup", str(dest)],
        env=env, capture_output=True, text=True, timeout=120, preexec_fn=_small_file_limit,
    )  # fmt: skip
    assert r.returncode == 1, r
    assert r.stderr.startswith(f"maillog: error: cannot write the backup {dest}: "), r.stderr
    assert "nothing was written and the store is unchanged" in r.stderr
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_export_force_onto_the_store_itself_is_refused(
    cli, tmp_path: Path, db_path: Path, suffix: str
) -> None:
    """`export -o "$MAILLOG_DB" --force` replaced the store with its own export: every
    event gone, the file no longer a database."""
    import sqlite3

    events = tmp_path / "e.jsonl"
    events.write_text(
        json.dumps({"event_id": "x", "message_id": "x@example.com", "provider": "ses",
                    "timestamp": "2026-01-01T00:00:00Z", "status": "delivered"}) + "\n"
    )  # fmt: skip
    assert cli("import", events).exit_code == 0
    before = db_path.read_bytes()
    target = f"{db_path}{suffix}"
    r = cli("export", "-o", target, "--force")
    assert r.exit_code == 1, r
    assert f"is the store being exported ({db_path}); nothing written" in r.stderr
    assert db_path.read_bytes() == before
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    conn.close()

"""Full disks and read-only stores: one line that says what is wrong, the store intact,
no `.part` left behind, readers still working. The faults are made at test time: a tiny
tmpfs (as root), a file size limit (RLIMIT_FSIZE, for everyone) and read-only mounts
or permissions."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.hostile.storekit import count, env, event, one_line_error, run, write_jsonl

OLD = datetime(2019, 1, 1, tzinfo=UTC)
ROOT = os.geteuid() == 0


def small(path: Path) -> Path:
    return write_jsonl(path, [event(f"s{i}", i, day=OLD) for i in range(200)])


def big(path: Path) -> Path:
    return write_jsonl(path, [event(f"b{i}", i, subject="x" * 300) for i in range(5000)])


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tiny file system of its own (root only): the disk that fills up."""
    if not ROOT or not shutil.which("mount"):
        pytest.skip("a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """Fill the file system holding `directory` but for `leave` bytes."""
    st = os.statvfs(directory)
    filler = directory / "filler"
    filler.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


def run_limited(limit: int, *args: object, db: Path) -> subprocess.CompletedProcess:
    """The CLI with a file size limit: writes past `limit` bytes fail (EFBIG) as on a full disk."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "maillog_cli", *map(str, args)],
        env=env(db),
        capture_output=True,
        text=True,
        preexec_fn=cap,
        timeout=120,
    )


def archived_events(archive: Path) -> int:
    """The events a prune archive holds (its full form also has a header, messages …)."""
    lines = archive.read_text().splitlines()
    return sum(json.loads(line).get("maillog") == "event" for line in lines)


# --- full disk -------------------------------------------------------------------------------


def test_import_onto_a_full_disk_is_one_line_and_the_store_is_intact(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        db = disk / "s.db"
        assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
        filler = fill(disk, 64 * 1024)
        r = run("import", big(tmp_path / "big.jsonl"), db=db)
        assert r.returncode == 1
        assert "the disk is full" in one_line_error(r.stderr)
        filler.unlink()
        assert count(db) == 200 and integrity(db) == "ok"


def test_import_past_the_file_size_limit_is_one_line_and_the_store_is_intact(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
    r = run_limited(db.stat().st_size + 64 * 1024, "import", big(tmp_path / "big.jsonl"), db=db)
    assert r.returncode == 1
    line = one_line_error(r.stderr)
    assert str(db) in line and ("disk is full" in line or "refused a read or write" in line)
    assert count(db) == 200 and integrity(db) == "ok"
    assert run("import", "-q", tmp_path / "big.jsonl", db=db).returncode == 0  # the rerun works
    assert count(db) == 5200


@pytest.mark.parametrize("name", ["archive.jsonl", "archive.jsonl.gz"])
def test_prune_archive_onto_a_full_disk_leaves_no_part_and_the_rerun_works(
    tmp_path: Path, name: str
) -> None:
    db = tmp_path / "s.db"
    assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
    with tmpfs(tmp_path / "disk", "256k") as disk:
        filler = fill(disk, 2048)
        archive = disk / name
        r = run("prune", "--before", "2020-01-01", "--yes", "--archive", archive, db=db)
        assert r.returncode == 1
        line = one_line_error(r.stderr)
        assert f"cannot write the archive {archive}" in line and "nothing was deleted" in line
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no .part
        assert count(db) == 200
        filler.unlink()
        r = run("prune", "--before", "2020-01-01", "--yes", "--archive", archive, db=db)
        assert r.returncode == 0, r.stderr
        assert archive.exists() and count(db) == 0


def test_prune_archive_past_the_file_size_limit_leaves_no_part(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
    archive = tmp_path / "archive.jsonl"
    r = run_limited(40_000, "prune", "--before", "2020-01-01", "--yes", "--archive", archive, db=db)
    assert r.returncode == 1
    assert "cannot write the archive" in one_line_error(r.stderr)
    assert not archive.exists() and not Path(f"{archive}.part").exists()
    assert count(db) == 200
    assert (
        run("prune", "--before", "2020-01-01", "--yes", "--archive", archive, db=db).returncode == 0
    )
    assert count(db) == 0 and archived_events(archive) == 200


def test_a_prune_whose_deletion_hits_a_full_disk_removes_its_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    with tmpfs(tmp_path / "disk", "4m") as disk:
        db = disk / "s.db"
        assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
        # Room for the WAL index and the prune's record, not for the deletion's pages.
        filler = fill(disk, 48 * 1024)
        r = run("prune", "--before", "2020-01-01", "--yes", "--archive", archive, db=db)
        assert r.returncode == 1
        line = one_line_error(r.stderr)
        assert "the disk is full" in line and f"the archive {archive} was removed" in line
        assert not archive.exists() and count(db) == 200
        filler.unlink()
        r = run("prune", "--before", "2020-01-01", "--yes", "--archive", archive, db=db)
        assert r.returncode == 0, r.stderr
        assert count(db) == 0 and archived_events(archive) == 200


# --- read-only stores ------------------------------------------------------------------------

WRITERS = [
    ("import", "{new}"),
    ("prune", "--before", "2020-01-01", "--yes"),
    ("bounces", "reclassify"),
]
READERS = [
    ("search", "-f", "jsonl"),
    ("sql", "SELECT count(*) AS n FROM events", "-f", "jsonl"),
    ("tail", "-n", "3"),
    ("stats",),
    ("show", "s1@relay.example.com"),
]


@contextlib.contextmanager
def read_only_store(tmp_path: Path) -> Iterator[Path]:
    """A store whose directory and file cannot be written: a read-only mount as root
    (root ignores permissions), else chmod."""
    if ROOT:
        with tmpfs(tmp_path / "ro", "4m") as disk:
            db = disk / "s.db"
            assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            yield db
    else:
        directory = tmp_path / "ro"
        directory.mkdir()
        db = directory / "s.db"
        assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
        db.chmod(0o444)
        directory.chmod(0o555)
        try:
            yield db
        finally:
            directory.chmod(0o755)
            db.chmod(0o644)


@pytest.mark.parametrize("args", WRITERS, ids=lambda a: a[0] + (a[1] if a[0] == "bounces" else ""))
def test_writers_on_a_read_only_store_say_what_is_wrong(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    new = big(tmp_path / "new.jsonl")
    with read_only_store(tmp_path) as db:
        before = db.read_bytes()
        r = run(*[a.format(new=new) for a in args], db=db)
        assert r.returncode == 1
        line = one_line_error(r.stderr)
        assert f"cannot write to {db}" in line and "not a usable maillog database" not in line
        assert "read-only" in line or "not writable" in line
        assert db.read_bytes() == before


@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_readers_work_on_a_read_only_store(tmp_path: Path, args: tuple[str, ...]) -> None:
    with read_only_store(tmp_path) as db:
        r = run(*args, db=db)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() and "Traceback" not in r.stderr


def test_a_read_only_store_with_unfinished_wal_says_why_it_cannot_be_read(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "4m") as disk:
        db = disk / "s.db"
        assert run("import", "-q", small(tmp_path / "small.jsonl"), db=db).returncode == 0
        # A writer killed after its commit: the rows live only in s.db-wal.
        writer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
                "c.execute(\"INSERT INTO meta(key, value) VALUES ('k', 'v')\")\n"
                "print('ok', flush=True)\n"
                "time.sleep(60)\n",
                str(db),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ok"
        writer.kill()
        writer.wait()
        Path(f"{db}-shm").unlink()
        assert Path(f"{db}-wal").stat().st_size > 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        r = run("search", db=db)
        assert r.returncode == 1
        line = one_line_error(r.stderr)
        assert "s.db-wal" in line and "s.db-shm" in line and "not writable" in line

"""A new store's first file is built beside it and published whole (store/aside.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from maillog_cli.ingest import pipeline
from maillog_cli.store import aside
from maillog_cli.store.db import Store

from .test_parallel import TABLES, mixed_file
from .test_process import big_file


def dump(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def store_facts(db: Path) -> tuple[str, int, str]:
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("PRAGMA journal_mode").fetchone()[0],
            conn.execute("PRAGMA auto_vacuum").fetchone()[0],
            conn.execute("PRAGMA integrity_check").fetchone()[0],
        )


def test_a_new_store_holds_what_an_import_into_an_existing_one_does(tmp_path: Path, cli) -> None:
    src = mixed_file(tmp_path / "mixed.jsonl")
    second = big_file(tmp_path / "second.jsonl", 300, "z")
    built, plain = tmp_path / "new" / "built.db", tmp_path / "old" / "plain.db"
    built.parent.mkdir()
    plain.parent.mkdir()
    Store.open(plain).close()  # an existing empty store: the plain path
    a = cli("--db", built, "import", src, second)
    b = cli("--db", plain, "import", src, second)
    assert (a.exit_code, a.stderr) == (b.exit_code, b.stderr.replace(str(plain), str(built)))
    got, want = dump(built), dump(plain)
    assert got["events"] and got["messages"] and got["fts"]
    assert got == want
    assert store_facts(built) == ("wal", 2, "ok")  # WAL, incremental auto-vacuum, sound
    assert hidden(built.parent) == []


def test_a_first_file_that_fails_leaves_an_empty_store_and_the_next_file_goes_in(
    tmp_path: Path, cli
) -> None:
    db = tmp_path / "s.db"
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a log\n")
    r = cli("--db", db, "import", bad, big_file(tmp_path / "ok.jsonl", 50))
    assert r.exit_code == 1
    assert "notes.txt" in r.stderr and "importing-" not in r.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 50
    assert hidden(tmp_path) == []


def test_an_interrupted_first_import_leaves_no_store(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    real = pipeline.import_path

    def interrupted(store, path, *args, **kwargs):
        real(store, path, *args, **kwargs)  # the rows are written, not yet published
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "import_path", interrupted)
    r = cli("--db", db, "import", big_file(tmp_path / "a.jsonl", 40))
    assert r.exit_code == 130
    assert not db.exists()
    assert hidden(tmp_path) == []


def test_a_store_created_meanwhile_is_kept_and_the_file_goes_into_it(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first imports of one new store at once: the one that publishes second imports
    its file into the store the other published, and its rejects are written once."""
    db = tmp_path / "s.db"
    mine = big_file(tmp_path / "mine.jsonl", 30, "m")
    with mine.open("a") as f:
        f.write("{broken\n")
    theirs = big_file(tmp_path / "theirs.jsonl", 20, "t")
    real = pipeline.import_path
    calls = []

    def racing(store, path, *args, **kwargs):
        if not calls:  # another process publishes the store while this one builds
            subprocess.run(
                [sys.executable, "-m", "maillog_cli", "--db", str(db), "import", str(theirs)],
                check=True,
                capture_output=True,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            )
        calls.append(path)
        return real(store, path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "import_path", racing)
    rejects = tmp_path / "rejects.jsonl"
    r = cli("--db", db, "import", "--rejects", rejects, mine)
    assert r.exit_code == 1  # the broken line
    assert calls == [str(mine), str(mine)]
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT event_id FROM events ORDER BY event_id")]
    assert len(ids) == 50 and sum(i.startswith("m") for i in ids) == 30
    assert rejects.read_text().count('"line":31') == 1
    assert hidden(tmp_path) == []


def test_a_file_system_without_hard_links_still_gets_the_store(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src, dst, *args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    db = tmp_path / "s.db"
    assert cli("--db", db, "import", big_file(tmp_path / "a.jsonl", 25)).exit_code == 0
    assert store_facts(db) == ("wal", 2, "ok")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 25
    assert hidden(tmp_path) == []


def test_what_is_built_aside(tmp_path: Path) -> None:
    data = big_file(tmp_path / "a.jsonl", 1)
    target = tmp_path / "s.db"
    assert aside.wanted(target, str(data))
    assert not aside.wanted(target, "-")  # stdin cannot be read again if the race is lost
    assert not aside.wanted(target, str(tmp_path))  # a Maildir folder
    assert not aside.wanted(tmp_path / "missing" / "s.db", str(data))
    Path(f"{target}-wal").write_bytes(b"")
    assert not aside.wanted(target, str(data))  # a store being written by someone else
    Path(f"{target}-wal").unlink()
    target.write_bytes(b"")
    assert not aside.wanted(target, str(data))


def test_a_killed_imports_leftovers_are_swept_but_a_live_ones_are_not(tmp_path: Path) -> None:
    target = tmp_path / "s.db"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".s.db.importing-{dead.pid}"
    live = tmp_path / f".s.db.importing-{os.getppid()}"
    for path in (stale, Path(f"{stale}-journal"), live):
        path.write_bytes(b"x")
    aside.sweep(target)
    assert hidden(tmp_path) == [live.name]

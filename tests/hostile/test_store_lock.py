"""Writers queue behind another writer for as long as it holds the store, saying so once,
or stop with one line after $MAILLOG_LOCK_TIMEOUT; never "database is locked"."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile.storekit import count, event, one_line_error, run, spawn, write_jsonl

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO meta(key, value) VALUES ('holder', 'x')")
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


@pytest.fixture
def store(tmp_path: Path, cli) -> Path:
    db = tmp_path / "store.db"
    rows = [event(f"e{i}", i) for i in range(5)]
    assert cli("--db", db, "import", "-q", write_jsonl(tmp_path / "e.jsonl", rows)).exit_code == 0
    return db


def hold(db: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the write lock (BEGIN IMMEDIATE) for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_an_import_waits_for_the_other_writer_and_says_so(store: Path, tmp_path: Path) -> None:
    holder = hold(store, 4)
    started = time.monotonic()
    r = run("import", write_jsonl(tmp_path / "n.jsonl", [event("n1")]), db=store)
    waited = time.monotonic() - started
    holder.wait()
    assert r.returncode == 0, r.stderr
    assert waited >= 2.5
    notices = [
        line for line in r.stderr.splitlines() if "waiting for another maillog writer" in line
    ]
    assert len(notices) == 1, r.stderr
    if Path("/proc/locks").exists():
        assert f"(pid {holder.pid})" in notices[0]
    assert count(store) == 6


@pytest.mark.parametrize(
    "args",
    [
        ("import", "{new}"),
        ("prune", "--before", "2026-03-01T12:03:00Z", "--yes"),
        ("bounces", "reclassify"),
    ],
    ids=lambda a: a[0],
)
def test_with_a_lock_timeout_writers_stop_with_one_line(
    store: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    new = write_jsonl(tmp_path / "n.jsonl", [event("n1")])
    holder = hold(store, 30)
    try:
        started = time.monotonic()
        r = run(*[a.format(new=new) for a in args], db=store, MAILLOG_LOCK_TIMEOUT="1")
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 1 and elapsed < 15
    line = one_line_error(r.stderr)
    assert "held the write lock" in line and "MAILLOG_LOCK_TIMEOUT=1" in line
    assert "database is locked" not in r.stderr
    assert count(store) == 5


def test_a_bad_lock_timeout_is_a_one_line_error(store: Path, tmp_path: Path) -> None:
    r = run(
        "import",
        write_jsonl(tmp_path / "n.jsonl", [event("n1")]),
        db=store,
        MAILLOG_LOCK_TIMEOUT="soon",
    )
    assert r.returncode == 1 and "MAILLOG_LOCK_TIMEOUT must be a number" in one_line_error(r.stderr)


def test_ctrl_c_while_waiting_for_the_lock_exits_at_once(store: Path, tmp_path: Path) -> None:
    holder = hold(store, 60)
    try:
        proc = spawn("import", write_jsonl(tmp_path / "n.jsonl", [event("n1")]), db=store)
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        while "waiting for another" not in proc.stderr.readline():
            assert time.monotonic() < deadline and proc.poll() is None
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        assert proc.returncode == 130 and time.monotonic() - started < 5
        assert "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()
    assert count(store) == 5

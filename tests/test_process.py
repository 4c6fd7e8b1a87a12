"""Whole-process behaviour: kills, Ctrl-C, concurrent writers, closed pipes, start-up cost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from .conftest import default_signals

ROOT = Path(__file__).resolve().parents[1]
# Upper bounds only (a test goes on as soon as what it waits for happens): generous, so a
# machine with every core busy is slow, never wrong.
STARTS = 120.0  # a child process starts and gets going
FINISHES = 300.0  # a 200,000-event import runs to the end


def maillog(*args: str, db: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
        **kw,
    )


def big_file(path: Path, n: int, prefix: str = "e") -> Path:
    with path.open("wb") as f:
        for i in range(n):
            f.write(
                orjson.dumps(
                    {
                        "event_id": f"{prefix}{i}",
                        "message_id": f"{prefix}{i % 5000}@x",
                        "timestamp": 1_700_000_000 + i,
                        "status": "delivered",
                        "recipient": f"u{i % 977}@example.com",
                        "subject": f"s {i}",
                    }
                )
                + b"\n"
            )
    return path


def events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def being_written(db: Path) -> Path | None:
    """The file an import writes: an existing store's -wal, or the hidden sibling a new
    store's first file is built in (store/aside.py)."""
    wal = Path(str(db) + "-wal")
    if wal.exists():
        return wal
    return next(db.parent.glob(f".{db.name}.importing-*"), None)


def written_bytes(db: Path) -> int:
    """How far an import has written (0 before it starts or once its file is published)."""
    path = being_written(db)
    try:
        return path.stat().st_size if path is not None else 0
    except FileNotFoundError:  # published between the glob and the stat
        return 0


def wait_for_import_to_start(db: Path, proc: subprocess.Popen, timeout: float = STARTS) -> None:
    """Until the importer is well into its write transaction (and has not finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if written_bytes(db) > 4_000_000:
            break
        if proc.poll() is not None:
            pytest.fail(f"import ended early: {proc.stderr.read().decode()}")
        time.sleep(0.02)
    else:
        pytest.fail("import did not start writing")
    assert proc.poll() is None, "the import finished before it could be interrupted"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_import_leaves_nothing_and_rerun_completes(tmp_path: Path, sig: int) -> None:
    db = tmp_path / "s.db"
    f = big_file(tmp_path / "big.jsonl", 200_000)
    assert (
        maillog("import", str(big_file(tmp_path / "small.jsonl", 10, "k")), db=db).wait(STARTS) == 0
    )
    proc = maillog("import", str(f), db=db)
    wait_for_import_to_start(db, proc)
    proc.send_signal(sig)
    code = proc.wait(STARTS)
    err = proc.stderr.read().decode()
    if sig == signal.SIGINT:
        assert code == 130, err
        assert "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert events(db) == 10
    assert maillog("import", str(f), db=db).wait(FINISHES) == 0
    assert events(db) == 200_010


@pytest.mark.slow
def test_two_imports_queue_instead_of_failing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    a = big_file(tmp_path / "a.jsonl", 20_000, "a")
    b = big_file(tmp_path / "b.jsonl", 20_000, "b")
    pa, pb = maillog("import", str(a), db=db), maillog("import", str(b), db=db)
    assert pa.wait(FINISHES) == 0, pa.stderr.read()
    assert pb.wait(FINISHES) == 0, pb.stderr.read()
    assert events(db) == 40_000


@pytest.mark.slow
def test_readers_are_not_blocked_by_an_import(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert (
        maillog("import", str(big_file(tmp_path / "small.jsonl", 10, "k")), db=db).wait(STARTS) == 0
    )
    proc = maillog("import", str(big_file(tmp_path / "big.jsonl", 200_000)), db=db)
    wait_for_import_to_start(db, proc)
    reader = maillog("search", "--limit", "0", "-f", "jsonl", db=db)
    out, err = reader.communicate(timeout=STARTS)
    assert reader.returncode == 0, err
    # Only the 10 committed events: the reader read while the import's transaction was open.
    # A reader made to wait for the writer would have seen all 200,010 (or timed out).
    assert len(out.splitlines()) == 10
    assert proc.wait(FINISHES) == 0
    assert events(db) == 200_010


@pytest.mark.slow
def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert maillog("import", str(big_file(tmp_path / "a.jsonl", 30_000)), db=db).wait(STARTS) == 0
    proc = maillog("search", "--limit", "0", "-f", "jsonl", db=db)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(STARTS) in (0, -signal.SIGPIPE)
    assert proc.stderr.read() == b""


# One run of every command but `tui` (its module name in cli.COMMANDS → its arguments).
HEADLESS_RUNS: dict[str, list[list[str]]] = {
    "import_": [["import", "{file}"]],
    "search": [["search", "--messages"]],
    "show": [["show", "e1@x"]],
    "sql": [["sql", "select count(*) from events"]],
    "tail": [["tail", "-n", "2"]],
    "bounces": [["bounces"], ["bounces", "explain", "550 5.1.1 no such user"]],
    "audit": [["audit"], ["audit", "actions"]],
    "resend": [["resend", "e1@x", "--dry-run"]],
    "prune": [["prune", "--before", "2000-01-01", "--dry-run"], ["db", "info"]],
    "export": [["export", "-o", "{tmp}/all.jsonl.gz"]],
    "stats": [["stats"], ["stats", "--by", "domain"]],
    "check": [["check", "--no-notify"]],  # no rule file here: exit 1, and no Textual
    "watch": [["watch"]],
    "demo": [["demo", "--out", "{tmp}/demo", "--messages", "5"]],
    # Loads the server and opens the store, then cannot listen on an address not ours: exit 1.
    "serve": [["serve", "--no-verify", "brevo", "--host", "203.0.113.1", "--port", "0"]],
}
RUN_AND_REPORT = (
    "import atexit, os, sys\n"
    "atexit.register(lambda: os.write(2, f'\\nTEXTUAL={\"textual\" in sys.modules}\\n'.encode()))\n"
    "sys.argv = ['maillog', *sys.argv[1:]]\n"
    "from maillog_cli.cli import main\n"
    "main()\n"
)


def test_every_headless_command_is_listed() -> None:
    from maillog_cli.cli import COMMANDS

    assert set(HEADLESS_RUNS) == set(COMMANDS) - {"tui"}


@pytest.mark.parametrize(
    "args", [a for runs in HEADLESS_RUNS.values() for a in runs], ids=lambda a: " ".join(a[:2])
)
def test_headless_commands_do_not_import_textual(tmp_path: Path, args: list[str]) -> None:
    """Textual costs start-up time and pulls in a terminal UI: only `maillog tui` loads it."""
    db = tmp_path / "s.db"
    file = big_file(tmp_path / "e.jsonl", 3)
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    subprocess.run(
        [sys.executable, "-m", "maillog_cli", "import", str(file)], env=env, check=True, timeout=60
    )
    argv = [a.format(file=file, tmp=tmp_path) for a in args]
    out = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT, *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert out.returncode in (0, 1), out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stderr.rstrip().endswith("TEXTUAL=False"), out.stderr


@pytest.mark.slow
def test_several_imports_creating_the_same_new_store_at_once(tmp_path: Path) -> None:
    for round_ in range(3):
        db = tmp_path / f"new{round_}.db"
        files = [
            big_file(tmp_path / f"f{round_}-{i}.jsonl", 50, f"r{round_}p{i}-") for i in range(4)
        ]
        procs = [maillog("import", str(f), db=db) for f in files]
        for p in procs:
            assert p.wait(STARTS) == 0, p.stderr.read()
        assert events(db) == 200

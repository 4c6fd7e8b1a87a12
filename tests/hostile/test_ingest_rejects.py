"""`--rejects` never destroys a file: an existing one only with --force, and never an
input (hard and symbolic links included) or the store, refused before anything is
imported, in one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]


def lines(path: Path) -> Path:
    rows = [
        {"event_id": "r1", "status": "sent", "timestamp": "2026-01-01T00:00:01Z"},
        {"status": "nonsense"},
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def events(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def test_an_existing_file_is_refused_unless_force(cli, tmp_path: Path, db_path: Path) -> None:
    f = lines(tmp_path / "in.jsonl")
    rej = tmp_path / "old-notes.txt"
    rej.write_text("precious\n")
    r = cli("import", "--rejects", rej, f)
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "already exists" in r.stderr and "--force" in r.stderr
    assert rej.read_text() == "precious\n" and events(db_path) == 0
    r = cli("import", "--rejects", rej, "--force", f)
    assert r.exit_code == 1 and events(db_path) == 1  # 1 good, 1 rejected
    assert orjson.loads(rej.read_text())["record"] == {"status": "nonsense"}


@pytest.mark.parametrize("how", ["same", "relative", "hardlink", "symlink"])
def test_the_input_is_never_the_rejects_file(
    cli, tmp_path: Path, db_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = lines(tmp_path / "in.jsonl")
    before = f.read_bytes()
    target = {
        "same": f,
        "relative": Path("sub/../in.jsonl"),
        "hardlink": tmp_path / "hard.jsonl",
        "symlink": tmp_path / "soft.jsonl",
    }[how]
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    if how == "hardlink":
        os.link(f, target)
    elif how == "symlink":
        target.symlink_to(f)
    for force in ([], ["--force"]):
        r = cli("import", "--rejects", target, *force, f)
        assert r.exit_code == 1, r
        assert "is an input file; nothing imported" in r.stderr and r.stderr.count("\n") == 1
        assert f.read_bytes() == before and events(db_path) == 0


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_the_store_is_never_the_rejects_file(
    cli, tmp_path: Path, db_path: Path, suffix: str
) -> None:
    cli("import", lines(tmp_path / "first.jsonl"))
    assert events(db_path) == 1
    second = tmp_path / "second.jsonl"
    second.write_bytes(
        orjson.dumps({"event_id": "r2", "status": "sent", "timestamp": "2026-01-02"}) + b"\n"
    )
    link = tmp_path / "store-link.db"
    os.link(db_path, link)
    for target in (Path(f"{db_path}{suffix}"), link):
        r = cli("import", "--rejects", target, "--force", second)
        assert r.exit_code == 1, r
        assert "is the store; nothing imported" in r.stderr
    assert db_path.stat().st_size > 0 and events(db_path) == 1


def test_stdin_redirected_from_the_rejects_file_is_refused(tmp_path: Path) -> None:
    f = lines(tmp_path / "in.jsonl")
    before = f.read_bytes()
    with f.open("rb") as stdin:
        proc = subprocess.run(
            [sys.executable, "-m", "maillog_cli", "import", "--rejects", str(f), "--force", "-"],
            stdin=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "MAILLOG_DB": str(tmp_path / "s.db")},
            timeout=120,
        )
    assert proc.returncode == 1 and "is an input file" in proc.stderr, proc.stderr
    assert f.read_bytes() == before

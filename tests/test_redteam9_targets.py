"""Red team 9: the files maillog writes (`db backup`, `prune --archive`, `import --rejects`,
`export -o`, `demo --out --force`) when the name is a symlink, a dangling symlink, a
directory or a named pipe.

Found: `db backup LINK` and `prune --archive LINK` onto a dangling symlink replaced the link
itself with the file (the rename took the link's place, the place it named stayed empty);
`demo --force` wrote through a symlinked demo file into whatever it named without saying
so, and hung forever on a named pipe called events.jsonl/audit-log.json.
"""

from __future__ import annotations

import json
import os
import stat
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
            "timestamp": "2020-01-01T00:00:00Z", "status": "delivered",
            "recipient": "a@example.org",
        }) + "\n"
    )  # fmt: skip
    assert cli("import", events).exit_code == 0


def _one_line_error(r: Result) -> None:
    assert r.exit_code == 1, r
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r


def _writers(tmp_path: Path) -> dict[str, Callable[[Path], tuple[str, ...]]]:
    return {
        "backup": lambda p: ("db", "backup", str(p)),
        "archive": lambda p: ("prune", "--older-than", "1d", "--archive", str(p), "--yes"),
        "export": lambda p: ("export", "-o", str(p)),
        "rejects": lambda p: ("import", str(tmp_path / "events.jsonl"), "--rejects", str(p)),
    }


@pytest.mark.parametrize("which", ["backup", "archive", "export", "rejects"])
def test_a_dangling_symlink_is_refused_and_stays_a_link(
    cli: Callable[..., Result], tmp_path: Path, filled: None, which: str
) -> None:
    link = tmp_path / "out.db"
    link.symlink_to(tmp_path / "nowhere" / "x")
    r = cli(*_writers(tmp_path)[which](link))
    _one_line_error(r)
    assert "symbolic link" in r.stderr and "does not exist" in r.stderr, r
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("which", ["backup", "archive", "export", "rejects"])
def test_a_directory_is_refused_as_one(
    cli: Callable[..., Result], tmp_path: Path, filled: None, which: str
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "to-folder"
    link.symlink_to(folder)
    for target in (folder, link):
        r = cli(*_writers(tmp_path)[which](target))
        _one_line_error(r)
        assert "is a directory" in r.stderr, r
    assert list(folder.iterdir()) == [] and link.is_symlink()


def test_a_backup_onto_a_named_pipe_is_refused_and_the_pipe_stays(
    cli: Callable[..., Result], tmp_path: Path, filled: None
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (
        ("db", "backup", str(fifo)),
        ("prune", "--older-than", "1d", "--archive", str(fifo), "--yes"),
    ):
        r = cli(*args)
        _one_line_error(r)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_backup_onto_a_link_to_a_file_is_refused_and_names_the_file(
    cli: Callable[..., Result], tmp_path: Path, filled: None
) -> None:
    real = tmp_path / "real.db"
    real.write_text("mine")
    link = tmp_path / "latest.db"
    link.symlink_to(real)
    r = cli("db", "backup", str(link))
    _one_line_error(r)
    assert "already exists" in r.stderr and str(real) in r.stderr, r
    assert real.read_text() == "mine" and link.is_symlink()


def test_a_backup_through_a_link_to_a_folder_lands_in_it_and_says_where(
    cli: Callable[..., Result], tmp_path: Path, filled: None
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    (tmp_path / "b").symlink_to(folder)
    r = cli("db", "backup", str(tmp_path / "b" / "x.db"))
    assert r.exit_code == 0, r
    assert (folder / "x.db").is_file()


def test_demo_force_through_a_symlink_is_refused_and_the_file_it_names_is_kept(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / "events.jsonl").symlink_to(victim)
    r = cli("demo", "--out", str(out), "--messages", "20", "--force")
    _one_line_error(r)
    assert "events.jsonl" in r.stderr and "symbolic link" in r.stderr, r
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in out.iterdir()) == ["events.jsonl"]  # nothing written


@pytest.mark.parametrize("kind", ["fifo", "dir"])
def test_demo_force_onto_a_pipe_or_folder_is_refused_not_hung(
    cli: Callable[..., Result], tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    node = out / "audit-log.json"
    os.mkfifo(node) if kind == "fifo" else node.mkdir()
    r = cli("demo", "--out", str(out), "--messages", "20", "--force")
    _one_line_error(r)
    assert "audit-log.json" in r.stderr, r
    assert sorted(p.name for p in out.iterdir()) == ["audit-log.json"]


def test_demo_out_a_dangling_symlink_is_refused_in_one_clear_line(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    out.symlink_to(tmp_path / "nowhere")
    r = cli("demo", "--out", str(out), "--messages", "20")
    _one_line_error(r)
    assert "symbolic link" in r.stderr and "does not exist" in r.stderr, r


def test_an_export_through_a_link_says_which_file_it_wrote(
    cli: Callable[..., Result], tmp_path: Path, filled: None
) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    r = cli("export", "-o", str(link), "--force")
    assert r.exit_code == 0 and f"(a link to {os.path.realpath(real)})" in r.stderr, r
    assert link.is_symlink() and real.read_text() != "old\n"

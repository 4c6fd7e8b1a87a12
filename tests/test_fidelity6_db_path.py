"""--db and $MAILLOG_DB: a path the user names is never a reason to make directories, and a
reading command never makes a file (fidelity6, item 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PROVIDER_FIXTURES

SAMPLE = PROVIDER_FIXTURES / "postmark.jsonl"


def test_import_refuses_a_db_in_a_missing_directory(cli: Callable[..., object], tmp_path: Path):
    target = tmp_path / "new" / "dir" / "x.db"
    r = cli("import", SAMPLE, "--db", target)
    assert r.exit_code == 1, r
    assert "does not exist" in r.stderr and "mkdir -p" in r.stderr, r
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_maillog_db_in_a_missing_directory_is_refused_too(
    cli: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MAILLOG_DB", str(tmp_path / "nowhere" / "x.db"))
    r = cli("import", SAMPLE)
    assert r.exit_code == 1 and "does not exist" in r.stderr, r
    assert not (tmp_path / "nowhere").exists()


def test_a_db_in_an_existing_directory_is_created(cli: Callable[..., object], tmp_path: Path):
    target = tmp_path / "x.db"
    assert cli("import", SAMPLE, "--db", target).exit_code == 0
    assert target.is_file()


READERS = [
    ("search",),
    ("search", "--messages"),
    ("tail",),
    ("show", "abc"),
    ("stats",),
    ("bounces",),
    ("bounces", "reclassify"),
    ("bounces", "reclassify", "--dry-run"),
    ("sql", "select 1"),
    ("export", "-o", "{tmp}/out.jsonl"),
    ("audit",),
    ("prune", "--older-than", "30d", "--dry-run"),
    ("check",),
    ("db", "info"),
    ("db", "backup", "{tmp}/copy.db"),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
@pytest.mark.parametrize("where", ["existing", "missing"])
def test_reading_commands_never_create_a_store(
    cli: Callable[..., object], tmp_path: Path, args: tuple[str, ...], where: str
):
    folder = tmp_path if where == "existing" else tmp_path / "missing"
    target = folder / "x.db"
    r = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args), "--db", target)
    assert r.exit_code != 0, r
    assert "Traceback" not in r.stderr
    assert not target.exists() and not (folder / "x.db-wal").exists()
    assert where == "existing" or not folder.exists()


def test_the_data_dir_is_created_when_no_path_is_named(
    cli: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("MAILLOG_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert cli("search").exit_code == 1
    assert not (tmp_path / "xdg").exists()  # a reader makes nothing, not even the directory
    r = cli("import", SAMPLE)
    assert r.exit_code == 0, r
    assert (tmp_path / "xdg" / "maillog" / "maillog.db").is_file()

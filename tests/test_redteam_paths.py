"""Red-team findings about the files maillog writes.

`--archive backups/`, `export -o out/`, `db backup copies/`, `--rejects bad/`: a name
ending in "/" names a directory, but the slash was dropped and a FILE of that name was
written (the archive a user then looks for inside `backups/` is not there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def store(cli, tmp_path: Path) -> Path:
    src = tmp_path / "events.jsonl"
    src.write_text(
        json.dumps(
            {"status": "delivered", "timestamp": "2020-01-01T00:00:00Z", "recipient": "a@b.com"}
        )
        + "\n"
    )
    assert cli("import", str(src)).exit_code == 0
    return src


@pytest.mark.parametrize(
    "args",
    [
        ("export", "-o", "{dir}/"),
        ("prune", "--older-than", "30d", "--archive", "{dir}/", "--yes"),
        ("db", "backup", "{dir}/"),
        ("import", "--rejects", "{dir}/", "{src}"),
    ],
    ids=["export", "prune-archive", "db-backup", "import-rejects"],
)
def test_a_file_name_ending_in_a_slash_is_refused_and_nothing_is_written(
    cli, tmp_path: Path, store: Path, args: tuple[str, ...]
) -> None:
    target = tmp_path / "backups"
    argv = [a.format(dir=target, src=store) for a in args]
    result = cli(*argv)
    assert result.exit_code == 1, result
    assert "names a directory" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()
    rows = json.loads(cli("search", "--format", "json").stdout)
    assert len(rows) == 1  # the prune deleted nothing

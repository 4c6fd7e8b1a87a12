"""Red team 8: an export or a prune archive must bring back all the store kept.

The full form carried events, messages, aliases, stored emails and audit entries, but not
the mail-server queue state (mta_queue): a store restored from an export then fed the rest
of a Postfix log lost the facts that state joins (the sender backfilled into the events
seen before `from=`, the Message-ID of a queue id still in flight), and `prune --archive`
deleted queue rows it never archived.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from maillog_cli.store.migrations import MIGRATIONS, m014_recipient_domain_of_the_recipient
from tests.conftest import Result
from tests.test_stats_rollup import assert_exact

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "tests" / "data" / "mta" / "postfix_mixed.log"


def _halves(tmp_path: Path) -> tuple[Path, Path]:
    """The log cut before its first qmgr `from=` line: a queue id is in flight at the cut."""
    lines = LOG.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "qmgr" in line and "from=<" in line)
    first, rest = tmp_path / "first.log", tmp_path / "rest.log"
    first.write_text("".join(lines[:cut]))
    rest.write_text("".join(lines[cut:]))
    return first, rest


def _queue(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT host, qid, message_id, first_at, last_at, started, removed_at, sender,"
            " header_id, size, nrcpt, client, authenticated, notice, relay FROM mta_queue"
            " ORDER BY host, qid, first_at"
        ).fetchall()
    finally:
        conn.close()


def _body(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:]  # the header's counts differ in kind, not rows


def test_an_export_restores_the_queue_state_of_a_log_in_flight(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    first, rest = _halves(tmp_path)
    straight, restored = tmp_path / "straight.db", tmp_path / "restored.db"
    assert cli("--db", straight, "import", first).exit_code == 0
    export = tmp_path / "export.jsonl"
    assert cli("--db", straight, "export", "-o", export).exit_code == 0
    assert cli("--db", restored, "import", export).exit_code == 0
    assert _queue(restored) == _queue(straight) != []
    # and the rest of the log then lands as it does in the store never exported
    assert cli("--db", straight, "import", rest).exit_code == 0
    assert cli("--db", restored, "import", rest).exit_code == 0
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli("--db", straight, "export", "-o", a).exit_code == 0
    assert cli("--db", restored, "export", "-o", b).exit_code == 0
    assert _body(a) == _body(b)
    assert _queue(restored) == _queue(straight)


def test_an_export_imported_twice_adds_no_queue_row(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    first, _ = _halves(tmp_path)
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    assert cli("--db", src, "import", first).exit_code == 0
    export = tmp_path / "export.jsonl"
    assert cli("--db", src, "export", "-o", export).exit_code == 0
    assert cli("--db", dst, "import", export).exit_code == 0
    assert cli("--db", dst, "import", export).exit_code == 0
    assert _queue(dst) == _queue(src)
    again = tmp_path / "again.jsonl"
    assert cli("--db", dst, "export", "-o", again).exit_code == 0
    assert again.read_bytes() == export.read_bytes()


def test_a_prune_archive_brings_back_the_queue_rows_it_deleted(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    assert cli("--db", db, "import", LOG).exit_code == 0
    before = _queue(db)
    assert before
    archive = tmp_path / "archive.jsonl"
    r = cli("--db", db, "prune", "--before", "2026-06-01", "--archive", archive, "--yes")
    assert r.exit_code == 0, r
    assert _queue(db) == []
    assert cli("--db", db, "import", archive).exit_code == 0
    assert _queue(db) == before


def test_a_broken_queue_record_is_one_line_naming_file_and_line(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    archive = tmp_path / "hand-edited.jsonl"
    archive.write_text(
        '{"maillog": "export", "version": 1}\n'
        '{"maillog": "queue", "host": "mx", "qid": "ABC", "message_id": "ABC",'
        ' "first_at": "2026-03-01T10:00:00.000Z", "last_at": "2026-03-01T10:00:00.000Z",'
        ' "size": "big"}\n'
        '{"maillog": "queue", "host": "mx", "qid": "DEF"}\n'
    )
    r = cli("import", archive)
    assert f"{archive}:2:" in r.stderr and "'size' is not an integer" in r.stderr, r
    assert f"{archive}:3:" in r.stderr and "missing 'message_id'" in r.stderr, r
    assert "Traceback" not in r.stderr


def test_a_log_imported_in_two_parts_gives_the_facts_of_one_import(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    first, rest = _halves(tmp_path)
    whole, parts = tmp_path / "whole.db", tmp_path / "parts.db"
    assert cli("--db", whole, "import", LOG).exit_code == 0
    assert cli("--db", parts, "import", first).exit_code == 0
    assert cli("--db", parts, "import", rest).exit_code == 0
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli("--db", whole, "export", "-o", a).exit_code == 0
    assert cli("--db", parts, "export", "-o", b).exit_code == 0
    assert _body(a) == _body(b)


@pytest.mark.parametrize(
    "name",
    [
        "postfix_mixed.log",
        "postfix_shapes.log",
        "amavis.log",
        "exim_shapes.log",
        "freed.log",
        "reused.log",
    ],
)
def test_a_log_cut_anywhere_and_imported_in_two_parts_gives_the_store_of_one_import(
    cli: Callable[..., Result], tmp_path: Path, name: str
) -> None:
    """Every cut, not only the one found first: a qmgr fact learned after the events it
    belongs to were written (another message's op had flushed them) was lost; a message's
    recipient_domain was the smallest domain of any of its recipients; and its sender,
    recipient and subject were what the first part's events said, not all of them."""
    log = LOG.parent / name
    lines = log.read_text().splitlines(keepends=True)
    whole, a = tmp_path / "whole.db", tmp_path / "a.jsonl"
    assert cli("--db", whole, "import", log).exit_code == 0
    assert cli("--db", whole, "export", "-o", a).exit_code == 0
    expected = sorted(_body(a))
    for cut in range(1, len(lines)):
        first, rest = tmp_path / f"first{cut}.log", tmp_path / f"rest{cut}.log"
        first.write_text("".join(lines[:cut]))
        rest.write_text("".join(lines[cut:]))
        parts, b = tmp_path / f"parts{cut}.db", tmp_path / f"b{cut}.jsonl"
        cli("--db", parts, "import", first)  # a part may hold a line it cannot read alone
        cli("--db", parts, "import", rest)
        assert cli("--db", parts, "export", "-o", b).exit_code == 0
        assert sorted(_body(b)) == expected, f"cut before line {cut + 1}"


def test_a_message_row_names_the_domain_of_its_own_recipient(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    assert cli("--db", db, "import", LOG).exit_code == 0
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT recipient, recipient_domain FROM messages WHERE recipient IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    assert rows
    for recipient, domain in rows:
        assert domain == recipient.rsplit("@", 1)[1].lower(), (recipient, domain)


def test_migration_14_gives_an_older_stores_messages_their_recipients_domain(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    db = tmp_path / "old.db"
    assert cli("--db", db, "import", LOG).exit_code == 0
    with sqlite3.connect(db) as conn:  # as maillog <= schema 13 stored it: the least domain
        conn.execute(
            "UPDATE messages SET recipient_domain = (SELECT min(e.recipient_domain)"
            " FROM events e WHERE e.message_id = messages.message_id)"
        )
        moved = conn.execute(
            "SELECT count(*) FROM messages WHERE recipient_domain IS NOT"
            " lower(substr(recipient, instr(recipient, '@') + 1))"
        ).fetchone()[0]
        conn.execute(
            f"PRAGMA user_version = {MIGRATIONS.index(m014_recipient_domain_of_the_recipient)}"
        )
    conn.close()
    assert moved  # the fixture has an email to several domains
    assert cli("--db", db, "stats").exit_code == 0  # any command upgrades the store
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT recipient, recipient_domain FROM messages WHERE recipient IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    for recipient, domain in rows:
        assert domain == recipient.rsplit("@", 1)[1].lower(), (recipient, domain)
    assert_exact(db)

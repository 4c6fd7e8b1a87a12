"""Migration 9's rollups (`stats_hours`, `stats_groups`) are always exactly the messages' own
groups (hour of first_seen — or provider, sender, tag, domain —, latest status, bounce class,
flags → how many), whatever writes the
messages: random inserts, updates and deletes of every column it reads, imports (small and
bulk), re-imports, joins of two sources of one email, reclassify, prune, a restore from an
export. And `stats` read through it gives what the walk of the messages gives."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import orjson
import pytest

from maillog_cli import stats
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import STATS_FLAGS_SQL, STATS_ROLLUPS

from .test_identity_join import sent, ses

FIXTURES = Path(__file__).parent / "data" / "providers"


def fresh_groups(conn: sqlite3.Connection, table: str = "stats_hours") -> list[tuple]:
    """The rollup `table` as it would be made now from the messages themselves."""
    keys = ", ".join(sql.format(r="") for _, sql in STATS_ROLLUPS[table])
    rows = conn.execute(
        f"SELECT {keys}, {STATS_FLAGS_SQL}, count(*) FROM messages"
        f" GROUP BY {', '.join(str(i + 1) for i in range(len(STATS_ROLLUPS[table]) + 1))}"
    )
    return sorted(rows, key=repr)


def rolled_up(conn: sqlite3.Connection, table: str) -> list[tuple]:
    keys = ", ".join(f"nullif({name}, X'')" for name, _ in STATS_ROLLUPS[table])
    rows = conn.execute(f"SELECT {keys}, fl, n FROM {table} WHERE n <> 0")
    return sorted(rows, key=repr)


def assert_exact(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        for table in STATS_ROLLUPS:
            assert rolled_up(conn, table) == fresh_groups(conn, table), table
            negative = conn.execute(f"SELECT count(*) FROM {table} WHERE n < 0").fetchone()[0]
            assert negative == 0
    conn.close()


def test_random_writes_of_every_column_it_reads_keep_it_exact(tmp_path: Path) -> None:
    """Each key column takes NULL, '' and values in any case; rows are inserted, updated
    (one column, several, none of the key's, the primary key itself) and deleted."""
    db = tmp_path / "s.db"
    store = Store.open(db)
    rnd = random.Random(17)
    values = {
        "first_seen": [None, "", "2026-03-01T10:00:00Z", "2026-03-01T10:59:59.999Z", "2026-03-01T11:00:00Z", "2026-03-02"],
        "last_status": [None, "", "delivered", "bounced", "deferred", "sent", "queued", "dropped"],
        "bounce_class": [None, "", "hard", "soft", "block", "undetermined"],
        "complained_at": [None, "2026-03-01T12:00:00Z"],
        "opened_at": [None, "2026-03-01T12:00:00Z"],
        "open_count": [0, 3],
        "clicked_at": [None, "2026-03-01T12:00:00Z"],
        "click_count": [0, 1],
        "unsubscribed_at": [None, "2026-03-01T12:00:00Z"],
        "spf": [None, "", "pass", "PASS", "fail"],
        "dkim": [None, "", "pass", "Pass", "none"],
        "dmarc": [None, "", "pass", "fail"],
        "provider": [None, "sendgrid", "ses"],
        "sender": [None, "a@x.example", "A@x.example"],
        "tag": [None, "", "welcome"],
        "recipient_domain": [None, "gmail.com", "example.org"],
        "last_seq": [None, 1, 7],
        "subject": ["a", "b"],  # not read: an update of it changes no count
    }  # fmt: skip
    ids: list[str] = []
    with store.write():
        for n in range(3000):
            op = rnd.random()
            if op < 0.35 or not ids:
                mid = f"m{n}"
                cols = {c: rnd.choice(v) for c, v in values.items()}
                store.conn.execute(
                    f"INSERT INTO messages(message_id, {', '.join(cols)})"
                    f" VALUES (?, {', '.join('?' for _ in cols)})",
                    [mid, *cols.values()],
                )
                ids.append(mid)
            elif op < 0.85:
                cols = {
                    c: rnd.choice(values[c]) for c in rnd.sample(list(values), rnd.randint(1, 4))
                }
                sets = ", ".join(f"{c} = ?" for c in cols)
                store.conn.execute(
                    f"UPDATE messages SET {sets} WHERE message_id = ?",
                    [*cols.values(), rnd.choice(ids)],
                )
            elif op < 0.9:
                old = rnd.choice(ids)
                ids[ids.index(old)] = f"r{n}"
                store.conn.execute(
                    "UPDATE messages SET message_id = ?, last_status = ? WHERE message_id = ?",
                    (f"r{n}", rnd.choice(values["last_status"]), old),
                )
            else:
                mid = ids.pop(rnd.randrange(len(ids)))
                store.conn.execute("DELETE FROM messages WHERE message_id = ?", (mid,))
    store.close()
    with sqlite3.connect(db) as conn:
        assert len(fresh_groups(conn)) > 100  # a varied store: not a vacuous comparison
        assert len(fresh_groups(conn, "stats_groups")) > 100
    assert_exact(db)


def test_a_store_from_before_the_rollup_gets_it_exact(tmp_path: Path, monkeypatch) -> None:
    from maillog_cli.store import db as store_db
    from maillog_cli.store.migrations import MIGRATIONS

    db = tmp_path / "old.db"
    with monkeypatch.context() as old_maillog:
        old_maillog.setattr(store_db, "MIGRATIONS", MIGRATIONS[:8])
        store = Store.open(db)
        with store.write():
            for n in range(50):
                store.conn.execute(
                    "INSERT INTO messages(message_id, first_seen, last_status, spf)"
                    " VALUES (?, ?, ?, ?)",
                    (f"m{n}", None if n % 7 == 0 else f"2026-03-0{1 + n % 3}T1{n % 4}:00:00Z",
                     ("delivered", "bounced", None)[n % 3], ("pass", None)[n % 2]),
                )  # fmt: skip
        store.close()
    Store.open(db).close()
    assert_exact(db)


def _demo_events(path: Path, messages: int, seed: int) -> None:
    from datetime import UTC, datetime

    from maillog_cli.demo import iter_events

    with path.open("wb") as f:
        for row in iter_events(messages, seed=seed, now=datetime(2026, 3, 20, tzinfo=UTC), days=10):
            f.write(orjson.dumps(row) + b"\n")


def test_every_command_that_writes_messages_keeps_it_exact(cli, tmp_path: Path, db_path: Path):
    # imports of every provider fixture (messages inserted, then updated by later events)
    for path in sorted(FIXTURES.iterdir()):
        assert cli("import", "-q", path).exit_code in (0, 1)
        assert_exact(db_path)
    demo = tmp_path / "demo.jsonl"
    _demo_events(demo, 400, seed=1)
    assert cli("import", "-q", demo).exit_code == 0
    assert_exact(db_path)
    # the same file again: duplicates, nothing changes
    assert cli("import", "-q", demo).exit_code == 0
    assert_exact(db_path)
    # a provider record, then the sent email it describes: two messages joined into one
    before = _messages(db_path)
    for src in (ses(), sent()):
        (tmp_path / src.name).write_text(src.text)
        assert cli("import", "-q", tmp_path / src.name).exit_code == 0
    assert_exact(db_path)
    assert _messages(db_path) == before + 1  # joined, not two
    assert cli("bounces", "reclassify").exit_code == 0
    assert_exact(db_path)
    assert cli("prune", "--before", "2026-03-15", "--yes").exit_code == 0
    assert_exact(db_path)
    # a restore: an export imported into a new store
    export = tmp_path / "all.jsonl"
    assert cli("export", "-o", export).exit_code == 0
    restored = tmp_path / "restored.db"
    assert cli("--db", restored, "import", "-q", export).exit_code == 0
    assert_exact(restored)


def _messages(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    conn.close()
    return int(n)


@pytest.mark.slow
def test_a_bulk_load_keeps_it_exact(cli, tmp_path: Path, db_path: Path) -> None:
    """A file big enough for the forked parser and the bulk load (indexes dropped), into
    a store that already holds some of its messages."""
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    _demo_events(big, 12000, seed=4)
    small.write_bytes(b"".join(big.read_bytes().splitlines(keepends=True)[::5]))
    assert big.stat().st_size >= 8 << 20
    assert cli("import", "-q", small).exit_code == 0
    assert cli("import", "-q", big).exit_code == 0
    assert_exact(db_path)


@pytest.mark.parametrize(
    "window",
    [
        {},
        {"since": "2026-03-12T10:30:00Z"},
        {"until": "2026-03-15T00:00:00Z"},
        {"since": "2026-03-12T10:00:00Z", "until": "2026-03-12T10:45:00Z"},  # one hour
        {"since": "2026-03-11T23:59:59Z", "until": "2026-03-18T07:00:01Z"},
        {"until": "2026-01-01"},  # before every message
        {"since": "2025-12-01"},  # before every message: all of them
    ],
    ids=repr,
)
def test_the_cli_gives_what_the_walk_of_the_messages_gives(
    cli, tmp_path, db_path, monkeypatch, window
):
    """`stats` (json overview and series) and every --by, the rollup against the same
    command with the rollup switched off (the walk of the time index it replaced)."""
    demo = tmp_path / "demo.jsonl"
    _demo_events(demo, 600, seed=2)
    assert cli("import", "-q", demo).exit_code == 0
    with sqlite3.connect(db_path) as conn:  # a message with no first_seen: in no window
        conn.execute("INSERT INTO messages(message_id, last_status) VALUES ('bare', 'sent')")
    conn.close()
    args = [f"--{k}={v}" for k, v in window.items()]
    commands = [["stats", "--format", "json"], ["stats", "--format", "jsonl"]]
    commands += [["stats", "--by", by, "--format", "json", "--limit", "0"] for by in stats.GROUPS]
    with_rollup = [cli(*c, *args) for c in commands]
    monkeypatch.setattr(stats, "_rolled_up", lambda *a: None)
    monkeypatch.setattr(stats, "_rolled_up_groups", lambda *a: None)
    walked = [cli(*c, *args) for c in commands]
    for c, new, old in zip(commands, with_rollup, walked, strict=True):
        assert new.exit_code == old.exit_code == 0, (c, new, old)
        assert new.stdout == old.stdout, c
    if not window:
        assert '"messages": 0' not in with_rollup[0].stdout

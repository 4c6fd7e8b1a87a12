"""A big mail log is parsed and correlated in the forked child (ingest/forked.py); a
followed log and small files are correlated in-process. Both must give the same store."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maillog_cli.ingest import batches, forked
from maillog_cli.store import mta_state

DATA = Path(__file__).parent / "data" / "mta"
BENCH = Path(__file__).parents[1] / "benchmarks" / "mta_bench.py"
TABLES = {
    "events": "SELECT * FROM events ORDER BY seq",
    "messages": "SELECT * FROM messages ORDER BY message_id",
    # the order rows were written in (what a scan without ORDER BY gives, as export's)
    "messages order": "SELECT rowid, message_id FROM messages ORDER BY rowid",
    "aliases": "SELECT * FROM message_aliases ORDER BY alias",
    "mta_queue": "SELECT * FROM mta_queue ORDER BY id",
    "fts": "SELECT rowid, * FROM events_fts WHERE events_fts MATCH 'example' ORDER BY rowid",
    "imports": "SELECT source, sha256, format, new_events, duplicates, skipped, errors,"
    " new_messages FROM imports ORDER BY id",
}


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("mta_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def generated_log(tmp_path: Path, lines: int) -> list[str]:
    """The benchmark's realistic Postfix log (retries hours later, rejects, noise) and the
    fixtures' hard cases (reused queue ids, ids freed without `removed`, an expiry, a content filter's re-queue)."""
    path = tmp_path / "generated.log"
    _bench().generate(path, lines)
    text = path.read_text()
    for name in ("postfix_mixed.log", "reused.log", "amavis.log", "freed.log"):
        text += (DATA / name).read_text()
    # its own queue ids: amavis.log's are live at the same time (impossible in one log)
    expired = (DATA / "expired.log").read_text()
    text += expired.replace("6A7B8C9D0E", "6A7B8C9D0F").replace("7B8C9D0E1F", "7B8C9D0E2F")
    return text.splitlines(keepends=True)


def store_tables(db: Path) -> dict[str, list[Any]]:
    with sqlite3.connect(db) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def copies(name: str, ids: dict[str, str], n: int) -> list[str]:
    """A fixture `n` times over, each copy under its own queue ids (`ids`: each id and
    the format of its copy's, given the copy's number)."""
    text = (DATA / name).read_text()
    out: list[str] = []
    for i in range(n):
        copy = text
        for qid, shape in ids.items():
            copy = copy.replace(qid, shape.format(i))
        out.extend(copy.splitlines(keepends=True))
    return out


def generated_exim(tmp_path: Path, lines: int) -> list[str]:
    """The benchmark's Exim mainlog (deferrals retried hours later, bounce messages with
    R=, rejects, connection and queue-run lines)."""
    path = tmp_path / "generated_exim.log"
    _bench().generate_exim(path, lines)
    return path.read_text().splitlines(keepends=True)


EXIM_IDS = {"1vAbCd-000XyZ-Q1": "1vAbCd-{:06d}-Q1", "1vAbCe-000Abc-R2": "1vAbCe-{:06d}-R2"}
LOGS = {
    "postfix": lambda tmp: generated_log(tmp, 6000),
    "exim": lambda tmp: generated_exim(tmp, 6000) + copies("exim_mainlog", EXIM_IDS, 300),
    "journald": lambda tmp: copies("journald.json", {"8E9F0A1B2C": "8E9F0A{:04X}"}, 300),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(LOGS))
def test_forked_and_in_process_correlation_give_the_same_store(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    lines = LOGS[kind](tmp_path)
    cut = len(lines) // 2
    older, newer = tmp_path / "mail.log.1", tmp_path / "mail.log"
    older.write_text("".join(lines[:cut]))  # the rotation falls inside messages
    newer.write_text("".join(lines[cut:]))
    for path in (older, newer):
        os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    monkeypatch.setattr(batches, "BATCH", 300)  # many batch boundaries inside lifecycles
    monkeypatch.setattr(batches, "BULK_BYTES", 1)  # the same bulk mode on both paths
    # the parent computes messages rows ahead at every look, not only when it has time,
    # as soon as it can (so that later facts change many of them)
    monkeypatch.setattr(forked, "_idle", lambda reader: True)
    monkeypatch.setattr(mta_state, "AHEAD_LAG", 0)
    ahead: list[tuple[int, int]] = []  # (rows inserted as computed ahead, rows gone stale)
    settle = mta_state.MessagesAhead.settle

    def counted(self: mta_state.MessagesAhead) -> int:
        computed = self.conn.execute("SELECT count(*) FROM temp.messages_ahead").fetchone()[0]
        new = settle(self)
        ahead.append((self.kept, computed - self.kept))
        return new

    monkeypatch.setattr(mta_state.MessagesAhead, "settle", counted)
    stores = {}
    for mode in ("in-process", "forked", "forked, correlated in the parent"):
        monkeypatch.setattr(forked, "wanted", lambda source, mode=mode: mode != "in-process")
        # the parent's sniff said "not a mail log": the child sends the lines uncorrelated
        sniffed = mode == "forked"
        monkeypatch.setattr(forked, "_mail_log", lambda source, forced, s=sniffed: s)
        db = tmp_path / f"{mode}.db"
        # newer first: its queue ids' older lines then join state the store already holds
        for path in (newer, older, newer):
            r = cli("--db", db, "import", path)
            assert r.exit_code == 0, r
        stores[mode] = store_tables(db)
    inproc = stores["in-process"]
    assert len(inproc["events"]) >= 900 and len(inproc["mta_queue"]) >= 300
    assert inproc["imports"][-1][3] == 0  # the re-import added nothing
    for mode in ("forked", "forked, correlated in the parent"):
        for name in TABLES:
            assert stores[mode][name] == inproc[name], (mode, name)
    # rows were computed ahead and inserted, and (in the long logs) others changed after
    assert sum(n for n, _ in ahead) > 0, ahead
    assert kind == "journald" or sum(s for _, s in ahead) > 0, ahead


def test_a_big_file_that_is_not_a_mail_log_reads_no_queue_state(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue ids a store holds are read before the fork only for a mail log: a store
    with a long mail-server history need not load them to import a provider's dump."""
    from maillog_cli.store import mta_state

    log = tmp_path / "mail.log"
    log.write_text("".join(generated_log(tmp_path, 300)))
    os.utime(log, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    db = tmp_path / "store.db"
    monkeypatch.setattr(forked, "wanted", lambda source: True)
    assert cli("--db", db, "import", log).exit_code == 0  # the store has queue state now
    read: list[str] = []
    real = mta_state.Snapshot.__init__

    def spy(self: Any, conn: Any) -> None:
        read.append("queue state")
        real(self, conn)

    monkeypatch.setattr(mta_state.Snapshot, "__init__", spy)
    dump = tmp_path / "events.jsonl"
    dump.write_text(
        '{"event_id": "e1", "message_id": "<m1@x.example>", "timestamp":'
        ' "2026-03-01T10:00:00.000Z", "status": "delivered", "recipient": "a@x.example"}\n'
    )
    r = cli("--db", db, "import", dump)
    assert r.exit_code == 0, r
    assert read == []
    other = tmp_path / "mail2.log"
    other.write_text(log.read_text().replace("mx", "mx2"))
    assert cli("--db", db, "import", other).exit_code == 0
    assert read == ["queue state"]


@pytest.mark.slow
def test_batch_boundaries_inside_messages_do_not_change_the_store(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Facts learned a batch after the events they complete (qmgr's sender and size, the
    bounce notice) reach the stored events as they reach the pending ones."""
    path = tmp_path / "mail.log"
    path.write_text("".join(generated_log(tmp_path, 1500)))
    os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    stores = {}
    for batch in (batches.BATCH, 3):
        monkeypatch.setattr(batches, "BATCH", batch)
        db = tmp_path / f"batch{batch}.db"
        r = cli("--db", db, "import", path)
        assert r.exit_code == 0, r
        stores[batch] = store_tables(db)
    whole, small = stores[batches.BATCH], stores[3]
    for name in TABLES:
        assert small[name] == whole[name], name
    with sqlite3.connect(tmp_path / "batch3.db") as conn:
        assert conn.execute(  # no event lacks what its queue id's lifecycle learned
            "SELECT count(*) FROM events e JOIN mta_queue q ON q.message_id = e.message_id"
            " WHERE (e.size IS NULL AND q.size IS NOT NULL)"
            " OR (e.sender IS NULL AND q.sender != '')"
        ).fetchone() == (0,)
        notices = conn.execute(
            "SELECT json_extract(extra, '$.notice') FROM events WHERE status = 'bounced'"
            " AND message_id = '3F1A2B4C5D'"
        ).fetchall()
    assert notices == [("5E6F7A8B9C",)]


def test_the_pipe_from_the_child_holds_a_whole_batch() -> None:
    """A batch's messages fit in the pipe, so the child's send returns while the parent is
    still writing the batch before (with Linux's 64 KiB default the child waited for
    every batch: 1M-line Postfix log 28 -> 23 s wall on an idle machine)."""
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("pipe sizes are Linux's")
    from multiprocessing import Pipe

    reader, writer = Pipe(duplex=False)
    try:
        forked._roomy(writer)
        size = fcntl.fcntl(writer.fileno(), fcntl.F_GETPIPE_SZ)
        cap = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert size >= min(forked.PIPE_BYTES, cap) >= 600_000  # a mail-log batch's bytes
    finally:
        reader.close()
        writer.close()


def _write(ingest: batches.Ingest, mid: str, at: str, status: str) -> None:
    from maillog_cli.model import Event

    event = Event(at, status, provider="postfix", event_id=f"{mid}{at}", message_id=mid)
    event.recipient = "r@example.org"
    ingest._write_correlated([event])


def _moved_in(store: Any, ingest: batches.Ingest, looks: Any) -> None:
    """Message `q-new` written, then the events of an earlier-written `q-old` moved into
    it (as a content filter's re-queue merges two queue ids), then its row computed."""
    from maillog_cli.store import identity

    _write(ingest, "q-new", "2026-03-01T10:00:05.000Z", "delivered")
    identity.merge(store.conn, {"q-old": "q-new"})  # older events join it
    looks()


def _backfilled(store: Any, ingest: batches.Ingest, looks: Any) -> None:
    """Message `q-new`'s row computed, then its sender learned (qmgr's line a batch
    late): its events change, their number does not."""
    _write(ingest, "q-new", "2026-03-01T10:00:05.000Z", "delivered")
    looks()
    ids = [
        r[0] for r in store.conn.execute("SELECT event_id FROM events WHERE message_id = 'q-new'")
    ]
    mta_state.apply(store.conn, [("backfill_ids", "q-new", "s@example.net", 1234, ids)], print)


def _ahead_store(tmp_path: Path, name: str, ahead: bool, scenario: Any) -> list[Any]:
    """A store written by `scenario`; with `ahead`, rows computed ahead at every look."""
    from maillog_cli.ingest.records import FileResult
    from maillog_cli.store.db import Store

    store = Store.open(tmp_path / name)
    with store.write():
        ingest = batches.Ingest(store, FileResult(source=name), store.start_import(name, None))
        _write(ingest, "q-old", "2026-03-01T10:00:00.000Z", "queued")
        later = mta_state.MessagesAhead(store) if ahead else None
        looks = (lambda: later.step()) if later is not None else (lambda: None)
        looks()
        scenario(store, ingest, looks)
        for _ in range(mta_state.AHEAD_LAG + 2):
            looks()
        if later is not None:
            ingest.result.new_messages += later.settle()
        ingest.finish()
    rows = store.conn.execute("SELECT * FROM messages ORDER BY message_id").fetchall()
    store.close()
    return rows


@pytest.mark.parametrize("scenario", [_moved_in, _backfilled])
def test_a_row_computed_ahead_is_refreshed_when_its_events_change_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Any
) -> None:
    """A row computed ahead reads only the events since its message's first write, at
    that moment: a message that got older events (moved to it), or whose events changed
    after, is refreshed whole at the end, as without computing ahead."""
    monkeypatch.setattr(mta_state, "AHEAD_LAG", 0)
    plain = _ahead_store(tmp_path, "plain.db", False, scenario)
    early = _ahead_store(tmp_path, "ahead.db", True, scenario)
    assert "q-new" in [r[0] for r in plain]
    assert early == plain


@pytest.mark.slow
def test_a_file_refused_halfway_leaves_the_next_one_as_in_process(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--strict stops a forked mail log at its bad line, after rows were computed ahead:
    nothing of it stays, and the next file of the same command imports as in-process."""
    lines = generated_log(tmp_path, 1500)
    bad, good = tmp_path / "bad.log", tmp_path / "good.log"
    cut = "Mar  1 10:30:00 mx postfix/smtp[77]: 9A8B7C6D5E: to=<x@example.org>, relay=\n"
    bad.write_text("".join(lines[:1000]) + cut + "".join(lines[1000:]))
    good.write_text("".join(lines))
    for path in (bad, good):
        os.utime(path, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    monkeypatch.setattr(batches, "BATCH", 300)
    monkeypatch.setattr(batches, "BULK_BYTES", 1)
    monkeypatch.setattr(forked, "_idle", lambda reader: True)
    monkeypatch.setattr(mta_state, "AHEAD_LAG", 0)
    stores = {}
    for mode in ("in-process", "forked"):
        monkeypatch.setattr(forked, "wanted", lambda source, mode=mode: mode != "in-process")
        db = tmp_path / f"{mode}.db"
        r = cli("--db", db, "import", "--strict", bad, good)
        assert "nothing imported from this file" in r.stdout + r.stderr, r
        stores[mode] = store_tables(db)
    assert len(stores["in-process"]["events"]) >= 400
    for name in TABLES:
        assert stores["forked"][name] == stores["in-process"][name], name

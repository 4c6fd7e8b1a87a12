"""Big files are parsed in a forked child (maillog_cli/ingest/forked.py): same store, same
reports, same failures as the one-process path; detection by keys keeps first-match-wins."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli import importers
from maillog_cli.ingest import batches, pipeline
from maillog_cli.ingest import forked as parallel
from maillog_cli.store.db import Store

from .conftest import fixture_files
from .test_process import STARTS, big_file, maillog, wait_for_import_to_start

TABLES = {
    "events": "SELECT * FROM events ORDER BY seq",
    "messages": "SELECT * FROM messages ORDER BY message_id",
    "aliases": "SELECT * FROM message_aliases ORDER BY alias",
    "audit": "SELECT * FROM audit ORDER BY id",
    "fts": "SELECT rowid, * FROM events_fts WHERE events_fts MATCH 'example' ORDER BY rowid",
    "imports": "SELECT source, sha256, format, new_events, duplicates, skipped, errors, new_messages, new_audit FROM imports",
}


def mixed_file(path: Path) -> Path:
    """Our events, SendGrid events (aliases, skips), audit entries, bad lines, a duplicate."""
    lines: list[bytes] = []
    for i in range(12_000):
        lines.append(
            orjson.dumps(
                {
                    "event_id": f"e{i}",
                    "message_id": f"m{i % 3000}@x",
                    "timestamp": 1_700_000_000 + i,
                    "status": ("queued", "delivered", "bounced")[i % 3],
                    "recipient": f"u{i % 97}@example.com",
                    "subject": f"hello {i}",
                    "diagnostic": "550 5.1.1 user unknown" if i % 3 == 2 else None,
                }
            )
        )
        if i % 5 == 0:
            lines.append(
                orjson.dumps(
                    {
                        "email": f"s{i}@example.com",
                        "timestamp": 1_700_000_000 + i,
                        "event": ("processed", "delivered", "group_resubscribe")[i % 3],
                        "sg_event_id": f"sg{i}",
                        "sg_message_id": f"sgm{i % 400}.filter0001",
                        "smtp-id": f"<sgm{i % 400}@example.com>",
                    }
                )
            )
        if i % 1000 == 7:
            lines.append(b'{"broken": ')
            lines.append(b'{"status": "nonsense", "timestamp": 1700000000}')
            lines.append(lines[0])  # a duplicate
        if i % 2000 == 3:
            lines.append(
                orjson.dumps(
                    {
                        "id": f"a{i}",
                        "action": "smtp.update",
                        "created_at": "2026-01-01T00:00:00Z",
                        "actor": {"id": "u1", "email": "alice@example.com"},
                    }
                )
            )
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(db: Path, path: Path, *, use_child: bool, strict: bool = False) -> tuple[Any, ...]:
    assert parallel.wanted(pipeline_source(path)) is True
    store = Store.open(db)
    reports: list[str] = []
    rejects = io.StringIO()
    real = parallel.wanted
    try:
        if not use_child:
            parallel.wanted = lambda source: False  # type: ignore[assignment]
        result = pipeline.import_path(
            store, str(path), pipeline.Options(strict=strict, rejects=rejects), reports.append
        )
    finally:
        parallel.wanted = real  # type: ignore[assignment]
    tables = {name: store.conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    store.close()
    return result, reports, rejects.getvalue(), tables


def pipeline_source(path: Path):
    from maillog_cli.ingest import readers

    source = readers.open_source(str(path))
    source.close()
    return source


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "BULK_BYTES", 64 << 10)


@pytest.mark.slow
def test_child_gives_the_same_store_reports_and_rejects(
    tmp_path: Path, small_threshold: None
) -> None:
    f = mixed_file(tmp_path / "mixed.jsonl")
    one = run(tmp_path / "one.db", f, use_child=False)
    two = run(tmp_path / "two.db", f, use_child=True)
    assert one[0] == two[0]
    assert one[0].rejected == 24 and one[0].audit == 6 and one[0].skipped
    assert one[1:3] == two[1:3]
    for name in TABLES:
        assert one[3][name] == two[3][name], name
    # and again on top of what is there (duplicates only)
    assert (
        run(tmp_path / "one.db", f, use_child=False)[0]
        == run(tmp_path / "two.db", f, use_child=True)[0]
    )


def test_child_strict_and_file_errors_match(tmp_path: Path, small_threshold: None) -> None:
    f = mixed_file(tmp_path / "mixed.jsonl")
    one = run(tmp_path / "one.db", f, use_child=False, strict=True)
    two = run(tmp_path / "two.db", f, use_child=True, strict=True)
    assert one[0].error and one[0] == two[0]
    assert one[1:3] == two[1:3]
    assert two[3]["events"] == [] and two[3]["imports"] == []

    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b'{"what": 1}\n' * 20_000)
    one = run(tmp_path / "one.db", junk, use_child=False)
    two = run(tmp_path / "two.db", junk, use_child=True)
    assert one[0].error and one[0] == two[0] and one[1] == two[1]


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_the_child_does_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    proc = maillog("import", str(big_file(tmp_path / "big.jsonl", 200_000)), db=db)
    wait_for_import_to_start(db, proc)
    kids = children(proc.pid)
    assert kids, "the big file was not parsed in a child process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(STARTS)
    deadline = time.monotonic() + STARTS
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(k) for k in kids)
    # The store's first file was being built aside: a kill publishes nothing, and the
    # next import sweeps away what the killed one left.
    assert not db.exists()
    assert (
        maillog("import", str(big_file(tmp_path / "small.jsonl", 10, "k")), db=db).wait(STARTS) == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 10


def _values(value: Any):
    if isinstance(value, list):
        for v in value:
            yield from _values(v)
    elif isinstance(value, dict):
        yield value
        for v in value.values():
            if isinstance(v, list | dict):
                yield from _values(v)


def test_detection_by_keys_matches_asking_every_detector_in_order() -> None:
    records: list[dict[str, Any]] = [
        {"status": "delivered", "timestamp": 1},
        {"event": "account_status_change"},
        {"event": "delivered", "msg": {}},
        {"type": "reject", "reject": {}},
        {"action": "x", "created_at": "2026-01-01T00:00:00Z", "ip": "1.2.3.4"},
        {"Type": "Notification", "Message": "{}", "TopicArn": "t"},
        {"timestamp": 1, "status": "sent", "recipient": "a@b"},
        {"Timestamp": 1, "Status": "sent", "Email": "a@b"},
    ]
    for p in fixture_files():
        data = p.read_bytes()
        try:
            records.extend(_values(orjson.loads(data)))
            continue
        except orjson.JSONDecodeError:
            pass
        for line in data.splitlines():
            try:
                records.extend(_values(orjson.loads(line)))
            except orjson.JSONDecodeError:
                pass
    assert len(records) > 40  # the repo's provider fixtures at least

    def slow(obj: dict[str, Any]):
        return next((m for m in importers.json_importers() if m.detect(obj)), None)

    for obj in records:
        assert importers.detect(obj) is slow(obj), obj

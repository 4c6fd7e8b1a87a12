"""`maillog tail`: last N oldest first, follow by position, follow a growing file, quiet endings.

Follow behaviour is tested with real processes on a real store: a `tail --follow`
subprocess while another process runs `maillog import`. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from maillog_cli import follow as core
from maillog_cli.ingest.pipeline import Options, import_path
from maillog_cli.store.db import Store
from maillog_cli.store.query import build

from .conftest import default_signals, wait_until

T0 = datetime(2024, 6, 20, 7, 0, tzinfo=UTC)
WAIT = 5.0  # seconds: generous bound for "arrives"; the contract is 1 s after commit


def event(
    ident: str,
    minute: int,
    status: str = "delivered",
    recipient: str = "mia@example.com",
    **extra: Any,
) -> dict[str, Any]:
    ts = (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = {
        "event_id": ident,
        "message_id": f"{ident}@relay.example.com",
        "timestamp": ts,
        "provider": "postfix",
        "direction": "outbound",
        "status": status,
        "raw_status": status,
        "sender": "app@example.com",
        "recipient": recipient,
        "subject": f"Report {ident}",
        "smtp_code": 550 if status == "bounced" else None,
        "enhanced_code": "5.1.1" if status == "bounced" else None,
        "diagnostic": "550 5.1.1 User unknown" if status == "bounced" else None,
        "bounce_class": None,
        "bounce_reason": None,
    }
    row.update(extra)
    return row


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(jsonl(rows), encoding="utf-8")
    return path


def seed(tmp_path: Path, cli, rows: list[dict[str, Any]], name: str = "seed.jsonl") -> None:
    r = cli("import", "-q", write(tmp_path / name, rows))
    assert r.exit_code == 0, r


def ids(stdout: str) -> list[str]:
    return [json.loads(line)["event_id"] for line in stdout.splitlines()]


# --- the last N, in-process ---------------------------------------------------------------------


def test_last_n_are_the_newest_shown_oldest_first(tmp_path: Path, cli) -> None:
    # Imported out of time order: "last" means by event time, not by import order.
    rows = [event(f"e{i:02d}", minute=i) for i in range(30)]
    seed(tmp_path, cli, rows[15:] + rows[:15])
    r = cli("tail", "-n", "5", "--format", "jsonl")
    assert r.exit_code == 0, r
    assert ids(r.stdout) == ["e25", "e26", "e27", "e28", "e29"]
    default = cli("tail", "--format", "jsonl")
    assert ids(default.stdout) == [f"e{i:02d}" for i in range(10, 30)]
    everything = cli("tail", "--lines", "100", "--format", "jsonl")
    assert ids(everything.stdout) == [f"e{i:02d}" for i in range(30)]


def test_filters_status_aliases_and_free_text(tmp_path: Path, cli) -> None:
    rows = [
        event("a", 1, "bounced", "x@gmail.com"),
        event("b", 2, "delivered", "y@gmail.com"),
        event("c", 3, "complained", "z@gmail.com"),
        event("d", 4, "bounced", "w@example.org"),
        event("e", 5, "bounced", "v@gmail.com"),
    ]
    seed(tmp_path, cli, rows)
    r = cli(
        "tail",
        "--status",
        "bounce",
        "--status",
        "spam",
        "--domain",
        "gmail.com",
        "--format",
        "jsonl",
    )
    assert ids(r.stdout) == ["a", "c", "e"]
    r = cli("tail", "-n", "1", "--status", "bounced", "--format", "jsonl")
    assert ids(r.stdout) == ["e"]
    r = cli("tail", "Report", "d", "--format", "jsonl")
    assert ids(r.stdout) == ["d"]
    bad = cli("tail", "--status", "lost")
    assert bad.exit_code == 1 and "unknown status 'lost'" in bad.stderr


def test_formats_tsv_csv_json_and_zero_lines(tmp_path: Path, cli) -> None:
    seed(tmp_path, cli, [event("a", 1), event("b", 2, "bounced", "gone@example.net")])
    tsv = cli("tail").stdout.splitlines()
    # time, the message id, status, recipient: the listing convention (issue 16)
    assert [line.split("\t")[:4:2] + line.split("\t")[3:4] for line in tsv] == [
        ["2024-06-20 07:01:00", "delivered", "mia@example.com"],
        ["2024-06-20 07:02:00", "bounced", "gone@example.net"],
    ]
    csv_out = cli("tail", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("event_id,message_id,timestamp,") and [
        c.split(",")[0] for c in csv_out[1:]
    ] == ["a", "b"]
    as_json = json.loads(cli("tail", "--format", "json").stdout)
    assert [e["event_id"] for e in as_json] == ["a", "b"] and list(as_json[0])[:3] == [
        "event_id",
        "message_id",
        "timestamp",
    ]
    none = cli("tail", "-n", "0", "--format", "jsonl")
    assert none.exit_code == 0 and none.stdout == ""


def test_usage_and_user_errors(tmp_path: Path, cli) -> None:
    seed(tmp_path, cli, [event("a", 1)])
    r = cli("tail", "--from-start")
    assert r.exit_code == 1 and "--import" in r.stderr
    r = cli("tail", "--import", tmp_path / "nope.jsonl")
    assert r.exit_code == 1 and "nope.jsonl: no such file" in r.stderr


def test_no_store_is_a_one_line_error(tmp_path: Path, cli) -> None:
    r = cli("tail")
    assert r.exit_code == 1 and "no maillog database" in r.stderr


def test_terminal_line_is_safe_and_coloured() -> None:
    from maillog_cli.render.events import event_line

    row = event(
        "x",
        1,
        "bounced",
        "evil@example.com",
        subject="\x1b[31mred\u202e",
        diagnostic="550 5.1.1 no\nsuch user",
    )
    line = event_line(row, 160, short_id="x@relay.")
    text = line.plain
    assert "\x1b" not in text and "\n" not in text and "\u202e" not in text
    assert "\\x1b[31mred\\u202e" in text and "550 5.1.1 no\\x0asuch user" in text
    assert text.startswith("2024-06-20 07:01:00  x@relay.  bounced       evil@example.com")
    assert len(text) <= 160
    assert any(
        span.style == "red" and text[span.start : span.end].strip() == "bounced"
        for span in line.spans
    )


# --- the core: keyset steps and the growing file ------------------------------------------------


def test_newer_walks_by_position_in_steps_and_never_scans_the_store(
    tmp_path: Path, cli, db_path: Path
) -> None:
    seed(
        tmp_path,
        cli,
        [event(f"e{i}", i, "bounced" if i % 3 == 0 else "delivered") for i in range(10)],
    )
    store = Store.open(db_path, readonly=True)
    f = build(statuses=["bounced"])
    rows, after, more = core.newer(store, f, 0, step=4)
    assert [r["event_id"] for r in rows] == ["e0", "e3"] and (after, more) == (4, True)
    rows, after, more = core.newer(store, f, after, step=4)
    assert [r["event_id"] for r in rows] == ["e6"] and (after, more) == (8, True)
    rows, after, more = core.newer(store, f, after, step=4)
    assert [r["event_id"] for r in rows] == ["e9"] and (after, more) == (10, False)
    assert core.newer(store, f, after, step=4) == ([], 10, False)
    # The window is a range of the primary key; filters only ever see the new rows.
    clause, params = core.where(f, "e")
    plan = " | ".join(
        row[3]
        for row in store.conn.execute(
            "EXPLAIN QUERY PLAN WITH fresh AS MATERIALIZED (SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?) "
            f"SELECT e.seq FROM fresh e WHERE {clause} ORDER BY e.seq",
            [0, 4, *params],
        )
    )
    assert "INTEGER PRIMARY KEY (rowid>?)" in plan and "events_status" not in plan
    store.close()


def test_follow_core_sees_other_connections_commits(tmp_path: Path, cli, db_path: Path) -> None:
    seed(tmp_path, cli, [event("old", 1)])
    reader = Store.open(db_path, readonly=True)
    backlog, position = core.last_matches(reader, build(), 5)
    assert [r["event_id"] for r in backlog] == ["old"]
    rounds = iter(range(100))
    stream = core.follow(
        reader, build(statuses=["bounced"]), position, interval=0.01, stop=lambda: next(rounds) > 2
    )
    writer = Store.open(db_path)
    import_path(
        writer,
        str(
            write(
                tmp_path / "n.jsonl",
                [event("n1", 9, "bounced"), event("n2", 8), event("n3", 2, "bounced")],
            )
        ),
        Options(),
        print,
    )
    assert [r["event_id"] for r in stream] == ["n1", "n3"]  # position order, matches only
    writer.close()
    reader.close()


def drain(g: core.GrowingFile) -> list[tuple[int, bytes]]:
    return list(g.poll())


def test_growing_file_appends_partial_lines_rotation_truncation(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"partial')  # an unfinished line being written at start
    notices: list[str] = []
    g = core.GrowingFile(path, from_start=False, notice=notices.append)
    assert drain(g) == []
    with path.open("ab") as f:
        f.write(b'":3}\n{"c":4}\n{"d"')
    assert drain(g) == [(3, b'{"partial":3}\n{"c":4}\n')]  # the partial line waited, whole
    with path.open("ab") as f:
        f.write(b":5}")
    assert drain(g) == []  # still no newline
    with path.open("ab") as f:
        f.write(b"\n")
    assert drain(g) == [(5, b'{"d":5}\n')]
    # Rotation: the writer adds a last line, the file is renamed, a new one starts.
    with path.open("ab") as f:
        f.write(b'{"e":6}\n')
    path.rename(tmp_path / "dump.jsonl.1")
    path.write_bytes(b'{"f":1}\n')
    assert drain(g) == [(6, b'{"e":6}\n'), (1, b'{"f":1}\n')]
    assert notices == [f"{path} was rotated; following the new file from its start"]
    # Truncation in place (copytruncate): start again from the top.
    path.write_bytes(b"")
    assert drain(g) == []
    with path.open("ab") as f:
        f.write(b'{"g":1}\n')
    assert drain(g) == [(1, b'{"g":1}\n')]
    assert notices[-1] == f"{path} was truncated; reading it again from the start"
    # Gone for a while, then back.
    path.unlink()
    assert drain(g) == [] and notices[-1] == f"{path} disappeared; waiting for it to come back"
    path.write_bytes(b'{"h":1}\n')
    assert drain(g) == [(1, b'{"h":1}\n')]
    g.close()


def test_growing_csv_keeps_its_header_and_reports_file_lines(
    tmp_path: Path, cli, db_path: Path
) -> None:
    path = tmp_path / "dump.csv"
    path.write_text(
        "event_id,timestamp,status,recipient\nc1,2024-06-20T07:00:00Z,delivered,a@example.com\n"
    )
    g = core.GrowingFile(path, from_start=False, notice=print)
    with path.open("a") as f:
        f.write(
            "c2,2024-06-20T07:01:00Z,bounced,b@example.com\nc3,not a time,bounced,c@example.com\n"
        )
    chunks = drain(g)
    assert chunks == [
        (
            2,
            b"event_id,timestamp,status,recipient\nc2,2024-06-20T07:01:00Z,bounced,b@example.com\nc3,not a time,bounced,c@example.com\n",
        )
    ]
    store = Store.open(db_path)
    reports: list[str] = []
    result = core.import_lines(store, g.name, chunks[0][1], chunks[0][0], Options(), reports.append)
    assert result.new == 1 and result.rejected == 1
    assert len(reports) == 1 and reports[0].startswith(
        f"{path}:4: "
    )  # line 4 of the file, not of the chunk
    assert store.conn.execute("SELECT event_id FROM events").fetchall() == [("c2",)]
    store.close()
    g.close()


def test_a_broken_first_line_does_not_sink_the_rest_of_the_batch(
    tmp_path: Path, db_path: Path
) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text("")
    notices: list[str] = []
    g = core.GrowingFile(path, from_start=False, notice=notices.append)
    with path.open("a") as f:
        f.write(
            '{"event_id": "cut\n\n'
            + jsonl([event("ok1", 1)])
            + "not json\n"
            + jsonl([event("ok2", 2)])
        )
    chunks = drain(g)
    assert notices == [f"{path}:1: invalid JSON: unexpected control character in string"]
    assert [first for first, _ in chunks] == [3]
    store = Store.open(db_path)
    reports: list[str] = []
    result = core.import_lines(store, g.name, chunks[0][1], chunks[0][0], Options(), reports.append)
    assert (result.new, result.rejected, result.error) == (2, 1, None)
    assert reports == [f"{path}:4: invalid JSON: invalid literal, expected 'null'"]
    store.close()
    g.close()


# --- real processes -----------------------------------------------------------------------------


class Proc:
    """A maillog subprocess whose stdout and stderr lines are read by threads (never blocks)."""

    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "maillog_cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            preexec_fn=default_signals,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        self.pumps = [
            threading.Thread(target=self._pump, args=(self.p.stdout, self.out.put), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, self.err.append), daemon=True),
        ]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream: Any, put: Any) -> None:
        try:
            for line in stream:
                put(line)
        except (ValueError, OSError):
            pass

    def line(self, timeout: float = WAIT) -> str:
        try:
            return self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no line within {timeout}s; stderr: {''.join(self.err)!r}"
            ) from None

    def event_ids(self, n: int, timeout: float = WAIT) -> list[str]:
        return [json.loads(self.line(timeout))["event_id"] for _ in range(n)]

    def quiet_for(self, seconds: float) -> bool:
        try:
            extra = self.out.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected line: {extra!r}")

    def wait_stderr(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.err):
                return
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not on stderr: {''.join(self.err)!r}")

    def stop(self) -> int:
        """Ctrl-C, then the exit code once the process and both pipes have ended (so `err`
        and `out` hold everything it wrote)."""
        self.p.send_signal(signal.SIGINT)
        code = self.p.wait(timeout=WAIT)
        for pump in self.pumps:
            pump.join(timeout=WAIT)
        return code

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=WAIT)


@pytest.fixture
def spawn() -> Iterator[Any]:
    procs: list[Proc] = []

    def start(*args: str) -> Proc:
        proc = Proc(*args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


def run_import(path: Path) -> float:
    """`maillog import` in another process; returns when it has committed (monotonic clock)."""
    r = subprocess.run(
        [sys.executable, "-m", "maillog_cli", "import", "-q", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return time.monotonic()


@pytest.mark.slow
def test_follow_while_another_process_imports(tmp_path: Path, cli, spawn) -> None:
    seed(tmp_path, cli, [event(f"old{i}", i) for i in range(5)])
    tail = spawn("tail", "--follow", "--format", "jsonl", "-n", "2")
    assert tail.event_ids(2) == ["old3", "old4"]
    # New events come in position (import) order, whatever their timestamps.
    new = write(tmp_path / "new.jsonl", [event("n1", 50), event("n2", 40), event("n3", 60)])
    started = time.monotonic()
    committed = run_import(new)
    got = tail.event_ids(3)
    arrived = time.monotonic() - committed
    assert got == ["n1", "n2", "n3"]
    # The contract is 1 s after the commit on an idle machine. A busy one slows the follower
    # as much as it slowed that small import, so that is allowed on top (no flaky failure).
    allowance = committed - started
    assert arrived < 2.0 + allowance, f"took {arrived:.2f}s after the commit"
    run_import(tmp_path / "new.jsonl")  # the same file again: nothing new, nothing shown
    run_import(write(tmp_path / "more.jsonl", [event("n4", 1)]))
    assert tail.event_ids(1) == ["n4"]
    assert tail.stop() == 0
    assert "Traceback" not in "".join(tail.err)


@pytest.mark.slow
def test_follow_waits_for_the_first_import_to_create_the_store(tmp_path: Path, spawn) -> None:
    """Like tail -F on a file not there yet: a new store appears whole when its first file
    is in (store/aside.py), and the follower then shows it."""
    tail = spawn("tail", "--follow", "--format", "jsonl")
    tail.wait_stderr("waiting for")
    assert tail.p.poll() is None
    run_import(write(tmp_path / "first.jsonl", [event("f1", 1), event("f2", 2)]))
    assert tail.event_ids(2) == ["f1", "f2"]
    run_import(write(tmp_path / "second.jsonl", [event("s1", 3)]))
    assert tail.event_ids(1) == ["s1"]
    assert tail.stop() == 0
    assert "Traceback" not in "".join(tail.err)


@pytest.mark.slow
def test_filters_under_follow(tmp_path: Path, cli, spawn) -> None:
    seed(tmp_path, cli, [event("old-bounce", 1, "bounced", "a@gmail.com")])
    tail = spawn(
        "tail",
        "-F",
        "-n",
        "1",
        "--status",
        "bounced",
        "--status",
        "spam",
        "--domain",
        "gmail.com",
        "--format",
        "jsonl",
    )
    assert tail.event_ids(1) == ["old-bounce"]  # following from here on
    run_import(
        write(
            tmp_path / "mixed.jsonl",
            [
                event("d1", 10, "delivered", "b@gmail.com"),
                event("b1", 11, "bounced", "c@gmail.com"),
                event("b2", 12, "bounced", "d@yahoo.com"),
                event("s1", 13, "complained", "e@gmail.com"),
                event("o1", 14, "opened", "f@gmail.com"),
            ],
        )
    )
    assert tail.event_ids(2) == ["b1", "s1"]
    run_import(
        write(
            tmp_path / "sentinel.jsonl",
            [
                event("x1", 15, "delivered", "g@gmail.com"),
                event("b3", 16, "bounced", "h@gmail.com"),
            ],
        )
    )
    assert tail.event_ids(1) == ["b3"]  # nothing else matched in between
    assert tail.stop() == 0


@pytest.mark.slow
def test_import_follower_appends_partial_rotation_truncation(
    tmp_path: Path, cli, spawn, db_path: Path
) -> None:
    seed(tmp_path, cli, [event("stored", 0)])
    dump = tmp_path / "webhooks.jsonl"
    write(dump, [event("before1", 1), event("before2", 2)])  # already there: not imported
    tail = spawn(
        "tail",
        "--import",
        str(dump),
        "-n",
        "1",
        "--format",
        "jsonl",
        "--status",
        "bounced",
        "--status",
        "delivered",
        "--interval",
        "0.1",
    )
    assert tail.event_ids(1) == ["stored"]  # the file is open and followed from its end
    with dump.open("a") as f:
        f.write(jsonl([event("a1", 3), event("skip", 4, "opened"), event("a2", 5, "bounced")]))
    assert tail.event_ids(2) == ["a1", "a2"]
    line = json.dumps(event("p1", 6))
    with dump.open("a") as f:
        f.write(line[:40])
    tail.quiet_for(0.6)  # an unfinished line waits for its newline
    with dump.open("a") as f:
        f.write(line[40:] + "\n")
    assert tail.event_ids(1) == ["p1"]
    # Rotation: rename away, start a new file.
    dump.rename(tmp_path / "webhooks.jsonl.1")
    write(dump, [event("r1", 7, "bounced")])
    assert tail.event_ids(1) == ["r1"]
    tail.wait_stderr("was rotated")
    # Truncation in place: the store keeps what it had, new lines keep coming.
    dump.write_text("")
    tail.wait_stderr("was truncated")
    with dump.open("a") as f:
        f.write(jsonl([event("t1", 8)]))
    assert tail.event_ids(1) == ["t1"]
    assert tail.stop() == 0
    con = sqlite3.connect(db_path)
    stored = {r[0] for r in con.execute("SELECT event_id FROM events")}
    con.close()
    assert stored == {"stored", "a1", "skip", "a2", "p1", "r1", "t1"}


@pytest.mark.slow
def test_import_follower_from_start(tmp_path: Path, spawn) -> None:
    dump = write(tmp_path / "webhooks.jsonl", [event("s1", 1), event("s2", 2)])
    tail = spawn("tail", "--import", str(dump), "--from-start", "--format", "jsonl")
    assert tail.event_ids(2) == ["s1", "s2"]
    assert tail.stop() == 0


@pytest.mark.slow
def test_ctrl_c_exits_zero_without_traceback(tmp_path: Path, cli) -> None:
    seed(tmp_path, cli, [event("a", 1)])
    p = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "--follow", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )
    try:
        # The object is written; its line ends when the next one (or "]") comes.
        shown = read_until(p, lambda data: is_json(data.strip().lstrip(b"[")))
        wait_until(lambda: sleeping(p.pid), WAIT, "the follower going idle")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=WAIT)
    assert p.returncode == 0, err
    assert [e["event_id"] for e in json.loads(shown + out)] == ["a"]  # closed on Ctrl-C
    assert err == b""


def read_until(
    p: subprocess.Popen[bytes], done: Callable[[bytes], bool], timeout: float = WAIT
) -> bytes:
    """Read the raw pipe byte by byte (no reader thread holds it open) until done(data),
    bounded in time: a test waits for what the process wrote, not for a guessed delay."""
    import select

    assert p.stdout is not None
    fd, data, deadline = p.stdout.fileno(), b"", time.monotonic() + timeout
    while not done(data):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"not written within {timeout}s; so far {data!r}")
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data


def sleeping(pid: int) -> bool:
    """The process waits (for the next poll), rather than runs: Ctrl-C now lands while it
    follows, which is what a person does after the last line appeared."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "S"
    except OSError:
        time.sleep(0.5)  # no /proc: a guess is all there is
        return True


def test_ctrl_c_while_a_row_is_written_still_closes_the_json_array(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maillog_cli.render import output

    seed(tmp_path, cli, [event("a", 1), event("b", 2)])
    real, calls = output.json_line, []

    def interrupted_on_the_second_row(value: Any) -> str:
        calls.append(value)
        if len(calls) == 2:
            raise KeyboardInterrupt  # where the signal lands
        return real(value)

    monkeypatch.setattr(output, "json_line", interrupted_on_the_second_row)
    r = cli("tail", "-n", "2", "--format", "json")
    assert r.exit_code == 0, r
    assert [e["event_id"] for e in json.loads(r.stdout)] == ["a"]


def is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def first_line(p: subprocess.Popen[bytes], timeout: float = WAIT) -> bytes:
    """Read one line from the raw pipe, bounded in time."""
    return read_until(p, lambda data: b"\n" in data, timeout)


def finish(p: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    """Close our end of stdout (the reader is gone); the process must end on its own, quietly."""
    try:
        p.stdout.close()
        code = p.wait(timeout=WAIT)
        return code, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=WAIT)


@pytest.mark.slow
def test_closed_pipe_while_idle_ends_quietly(tmp_path: Path, cli) -> None:
    seed(tmp_path, cli, [event(f"e{i}", i) for i in range(3)])
    p = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "--follow", "-n", "1", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert json.loads(first_line(p))["event_id"] == "e2"
    assert finish(p) == (0, b"")  # noticed while idle: no new event needs to arrive


@pytest.mark.slow
def test_closed_pipe_while_writing_ends_quietly(tmp_path: Path, cli) -> None:
    seed(tmp_path, cli, [event(f"e{i}", i) for i in range(3000)])
    p = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "-n", "3000", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert json.loads(first_line(p))["event_id"] == "e0"
    code, err = finish(p)
    assert (
        code in (0, -signal.SIGPIPE) and err == b""
    )  # maillog lets SIGPIPE end it, like any Unix tool

"""`tail`: the last N matching events, then new ones as they land — by position, never by rescan.

Every event has a monotonic position, `events.seq` (one writer at a time, `BEGIN
IMMEDIATE`, so positions are handed out in commit order). Following means remembering the
highest position seen and asking only for rows above it: a keyset step over the primary
key, so a 10M-event store costs the same as a small one. Between steps the follower sleeps
and checks `PRAGMA data_version` (one read of the WAL index in shared memory), querying
only when another connection has committed.

`GrowingFile` follows a dump that another process appends to (`tail --import FILE`): it
hands back complete new lines only (an unfinished last line waits for its newline) and
notices rotation (the path names another inode) and truncation (the file got shorter).
`import_lines` sends those lines through the normal import pipeline.

Core code: nothing here prints; notices and record errors go to callbacks.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from maillog_cli.errors import MaillogError, RecordError
from maillog_cli.ingest import pipeline, readers
from maillog_cli.store.db import Store
from maillog_cli.store.query import EVENT_SELECT, Filters, iter_events, where

POLL_INTERVAL = 0.25  # seconds; new matches show within this of the import's commit
STEP = 2000  # new rows scanned per keyset step while catching up with a big import
READ_LIMIT = 8 << 20  # bytes of a followed file read (and imported) per step
HEADER_PEEK = 1 << 16

Row = dict[str, Any]
Notice = Callable[[str], None]
Stop = Callable[[], bool]


def _dicts(cursor: Any) -> list[Row]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _read_snapshot(store: Store, work: Callable[[], Any]) -> Any:
    """Run reads in one short read transaction: one consistent snapshot, never held while idle."""
    conn = store.conn
    conn.execute("BEGIN")
    try:
        return work()
    finally:
        conn.execute("COMMIT")


def last_matches(store: Store, filters: Filters, n: int) -> tuple[list[Row], int]:
    """The last `n` matching events (by time) oldest first, and the position to follow from."""

    def work() -> tuple[list[Row], int]:
        position = store.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if n <= 0:
            return [], position
        rows = list(iter_events(store.conn, filters, n))
        rows.reverse()
        return rows, position

    return _read_snapshot(store, work)


def newer(
    store: Store, filters: Filters, after: int, step: int = STEP
) -> tuple[list[Row], int, bool]:
    """Matches among the next `step` events after position `after`, in position order.

    Returns (rows, new position, more): `more` when the step was full and more may wait.
    The window is materialised first so the filters only ever see new rows (otherwise the
    planner may walk e.g. the status index over the whole store).
    """
    clause, params = where(filters, "e")
    sql = (
        "WITH fresh AS MATERIALIZED (SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?) "
        f"SELECT {EVENT_SELECT} FROM fresh e WHERE {clause} ORDER BY e.seq"
    )
    conn = store.conn

    def work() -> tuple[list[Row], int, bool]:
        top, count = conn.execute(
            "SELECT max(seq), count(*) FROM (SELECT seq FROM events WHERE seq > ? ORDER BY seq LIMIT ?)",
            (after, step),
        ).fetchone()
        if not count:
            # Events above us were deleted (prune): new ones may reuse those positions.
            highest = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            return [], min(after, highest), False
        rows = _dicts(conn.execute(sql, [after, step, *params]))
        return rows, top, count >= step

    return _read_snapshot(store, work)


class Changes:
    """Has another connection committed since the last look? Exact, and about a microsecond."""

    def __init__(self, store: Store) -> None:
        self.conn = store.conn
        self.version = self._read()

    def _read(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        version = self._read()
        if version == self.version:
            return False
        self.version = version
        return True


# --- a growing file -----------------------------------------------------------------------------


def _line_start_before(f: io.BufferedReader, size: int) -> int:
    """Offset just after the last newline before `size` (0 if none): skip only complete lines."""
    pos = size
    block = 1 << 16
    while pos > 0:
        start = max(0, pos - block)
        f.seek(start)
        data = f.read(pos - start)
        nl = data.rfind(b"\n")
        if nl >= 0:
            return start + nl + 1
        pos = start
    return 0


def _count_lines(f: io.BufferedReader, upto: int) -> int:
    f.seek(0)
    n, left = 0, upto
    while left > 0:
        data = f.read(min(left, 1 << 20))
        if not data:
            break
        n += data.count(b"\n")
        left -= len(data)
    return n


def _csv_header(line: bytes) -> bytes | None:
    """The first line when the file is CSV (to put in front of each later chunk), else None."""
    if readers.container_of(line) == "csv" and any(sep in line for sep in (b",", b";", b"\t")):
        return line if line.endswith(b"\n") else line + b"\n"
    return None


class GrowingFile:
    """A file another process appends to: complete new lines, across rotation and truncation."""

    def __init__(self, path: Path, from_start: bool, notice: Notice) -> None:
        self.path = path
        self.name = str(path)
        self.notice = notice
        self.pending = b""  # an unfinished last line, waiting for its newline
        self.text_log = False  # a mail server's log (decided by the first lines read)
        self.missing = False
        try:
            self._open(from_start)
        except FileNotFoundError:
            raise MaillogError(
                f"{path}: no such file", "create it first, or check the path given to --import"
            ) from None
        except IsADirectoryError:
            raise MaillogError(
                f"{path}: is a directory", "give the file that is being appended to"
            ) from None
        except OSError as exc:
            raise MaillogError(f"{path}: cannot read: {exc.strerror or exc}") from None

    def _open(self, from_start: bool) -> None:
        f = open(self.path, "rb")  # noqa: SIM115 - kept open while following; closed by close()
        st = os.fstat(f.fileno())
        if not from_start:
            self.pos = _line_start_before(f, st.st_size)
            self.line = _count_lines(f, self.pos) + 1
        else:
            self.pos, self.line = 0, 1
        self.header: bytes | None = None
        if self.pos > 0:
            f.seek(0)
            self.header = _csv_header(f.readline(HEADER_PEEK))
        f.seek(self.pos)
        self.f = f
        self.ident = (st.st_dev, st.st_ino)
        self.pending = b""

    def close(self) -> None:
        self.f.close()

    def poll(self) -> Iterator[tuple[int, bytes]]:
        """(line number of the first line, complete lines) for what was appended since the last poll."""
        if os.fstat(self.f.fileno()).st_size < self.pos:
            self.notice(f"{self.name} was truncated; reading it again from the start")
            self.f.seek(0)
            self.pos, self.line, self.pending, self.header = 0, 1, b"", None
        yield from self._drain()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self.missing:
                self.notice(f"{self.name} disappeared; waiting for it to come back")
                self.missing = True
            return
        except OSError:
            return
        self.missing = False
        if (st.st_dev, st.st_ino) != self.ident:
            yield from self._drain()  # the writer may have added lines before it rotated
            if self.pending.strip():
                self.notice(
                    f"{self.name}: the old file ended with an unfinished line; it was left out"
                )
            self.f.close()
            try:
                self._open(from_start=True)
            except OSError:
                return  # replaced again meanwhile: the next poll tries once more
            self.notice(f"{self.name} was rotated; following the new file from its start")
            yield from self._drain()

    def _drain(self) -> Iterator[tuple[int, bytes]]:
        while True:
            data = self.f.read(READ_LIMIT)
            if not data:
                return
            start_pos = self.pos - len(self.pending)
            self.pos += len(data)
            data = self.pending + data
            cut = data.rfind(b"\n") + 1
            self.pending = data[cut:]
            if not cut:
                continue
            lines = data[:cut]
            first = self.line
            self.line += lines.count(b"\n")
            if start_pos == 0:
                self.header = _csv_header(lines[: lines.find(b"\n") + 1])
            elif self.header is not None:
                lines = self.header + lines
                first -= 1  # the header we put in front is line "first - 1" of the chunk
            if self.header is None and not self._mail_log(lines):
                lines, first = self._skip_unreadable(lines, first)
            if lines.strip():
                yield first, lines

    def _mail_log(self, lines: bytes) -> bool:
        """A mail server's log (Postfix, Exim): lines, not JSON records; its bad lines are
        the importer's to report, with their line numbers."""
        if not self.text_log:
            from maillog_cli.importers.mta.lines import sniff

            self.text_log = sniff(lines) is not None
        return self.text_log

    def _skip_unreadable(self, lines: bytes, first: int) -> tuple[bytes, int]:
        """Drop (and report) leading lines that are not JSON: the pipeline judges a chunk's
        container by its first line, so one broken line there would sink the whole chunk."""
        while lines:
            end = lines.find(b"\n") + 1 or len(lines)
            head = lines[:end]
            if head.strip():
                try:
                    readers.loads(head.removeprefix(readers.JSON_SEQ_RS))  # json-seq too
                    return lines, first
                except RecordError as exc:
                    self.notice(f"{self.name}:{first}: {exc}")
            lines, first = lines[end:], first + 1
        return lines, first


def import_lines(
    store: Store, name: str, data: bytes, first_line: int, opts: pipeline.Options, report: Notice
) -> pipeline.FileResult:
    """Import complete lines of a followed file through the normal pipeline (one transaction).

    Record problems are reported with their line in the whole file, not in the chunk.
    """
    moved = store.replaced()
    if moved:  # its events would go into a file nobody reads again
        raise MaillogError(
            f"{moved}; {name} from line {first_line} on is not imported",
            f"run maillog tail --import {name} --from-start again (events already stored stay once)",
        )
    counter = readers.CountingReader(io.BytesIO(data))
    stream = io.BufferedReader(counter, buffer_size=readers.SNIFF_BYTES)  # type: ignore[arg-type]
    source = readers.Source(name=name, stream=stream, counter=counter, size=len(data), path=None)
    prefix = f"{name}:"

    def relocate(message: str) -> None:
        if message.startswith(prefix):
            number, sep, rest = message[len(prefix) :].partition(":")
            if sep and number.isdigit():
                message = f"{prefix}{int(number) + first_line - 1}:{rest}"
        report(message)

    try:
        return pipeline.import_source(store, source, opts, relocate)
    finally:
        source.close()


# --- the loop -----------------------------------------------------------------------------------


def follow(
    store: Store,
    filters: Filters,
    after: int,
    growing: GrowingFile | None = None,
    opts: pipeline.Options | None = None,
    report: Notice | None = None,
    interval: float = POLL_INTERVAL,
    stop: Stop | None = None,
) -> Iterator[Row]:
    """New matching events after position `after`, forever (until `stop()` says so).

    With `growing`, each poll first imports the file's complete new lines.
    """
    changes = Changes(store)
    opts = opts or pipeline.Options()
    report = report or (lambda message: None)
    look = True  # the first round always looks: something may have landed since `after`
    while True:
        if growing is not None:
            for first, data in growing.poll():
                result = import_lines(store, growing.name, data, first, opts, report)
                if result.error:
                    report(result.error)
                look = look or result.new > 0  # our own commits do not change data_version
        moved = store.replaced()
        if moved and growing is None:  # (import_lines says it for --import, with its line)
            # a dead file never changes again: say so rather than show nothing forever
            raise MaillogError(
                moved, "run maillog tail --follow again to follow the file now there"
            )
        if look or changes.changed():
            more = True
            while more:
                rows, after, more = newer(store, filters, after)
                yield from rows
        look = False
        if stop is not None and stop():
            return
        time.sleep(interval)


def tail(
    store: Store,
    filters: Filters,
    lines: int,
    follow_new: bool = False,
    growing: GrowingFile | None = None,
    opts: pipeline.Options | None = None,
    report: Notice | None = None,
    interval: float = POLL_INTERVAL,
    stop: Stop | None = None,
) -> Iterator[Row]:
    """The last `lines` matches oldest first; then, when following, every new match as it lands."""
    rows, position = last_matches(store, filters, lines)
    yield from rows
    if follow_new or growing is not None:
        yield from follow(store, filters, position, growing, opts, report, interval, stop)

"""Parse a big file in a forked child process while this one writes to SQLite.

Why: on 1M events about 10 s go to reading, detecting, parsing and classifying records
and about as long to inserting them. Python runs one thread at a time (a writer thread
was measured slower), but two processes use both cores: the child runs the ordinary
`loop.consume` record loop with an `Ingest` whose writes go down a pipe instead of into
the store, and the parent replays them, in order, on the one open write transaction.

The child sends every side effect of `loop.consume`: event rows (already made by
`store.event_row`, with their message ids and aliases), audit entries, stored emails,
report lines, --rejects lines, progress, and at the end the FileResult counters, the
byte count and sha256 (or the `loop.Abort`/`FileFormatError` it ended with). So an import
does exactly what the one-process path does; only the work is split.

The child never touches the store (it inherits the connection and leaves it alone, and
leaves with `os._exit`), ignores Ctrl-C (the parent rolls back and kills it), and dies
on its next send when the parent is gone (broken pipe). Used only for regular files of
at least `batches.BULK_BYTES` on systems with fork().
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import signal
import sqlite3
import traceback
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from types import ModuleType
from typing import Any

from maillog_cli.errors import FileFormatError, MaillogError
from maillog_cli.importers.mta.lines import MtaLine
from maillog_cli.ingest import batches, fast, loop, readers
from maillog_cli.ingest.records import FileResult
from maillog_cli.model import AuditEntry, Restored, StoredMessage
from maillog_cli.store import mta_state


def wanted(source: readers.Source) -> bool:
    """Worth a second process: a file on disk big enough to be a bulk load."""
    return (
        hasattr(os, "fork")
        and source.path is not None
        and source.size is not None
        and source.size >= batches.BULK_BYTES
    )


class _Forwarder(batches.Ingest):
    """The child's Ingest: batches, classifies and makes store rows like Ingest, then sends
    them instead of writing."""

    def __init__(
        self,
        result: FileResult,
        import_id: int,
        out: Connection,
        mta: tuple[mta_state.Snapshot, Connection] | None = None,
    ) -> None:
        self.result, self.import_id, self.out = result, import_id, out
        self.rows, self.aliases = [], set()
        self.audit, self.restored, self.mta_lines = [], [], []
        self.classify = batches.classifier()
        self.correlator: Any = None
        self.mta = mta

    def _write_events(self, rows: list[tuple[Any, ...]], aliases: set[tuple[str, str]]) -> None:
        self.out.send(("events", rows, aliases))

    def _write_audit(self, entries: list[AuditEntry]) -> None:
        self.out.send(("audit", entries))

    def _write_mta(self, lines: list[MtaLine]) -> None:
        """Correlated here, from the queue state read before the fork; the parent only
        writes the event rows and executes the ops (compact tuples)."""
        if self.correlator is None:
            from maillog_cli.importers.mta.correlate import Correlator

            if self.mta is None:  # not sniffed as a mail log: correlated in the parent
                self.out.send(("mta", lines))
                return
            snapshot, answers = self.mta

            def ask(qids: list[str]) -> list[tuple[Any, ...]]:
                self.out.send(("mta_need", qids))
                rows: list[tuple[Any, ...]] = answers.recv()
                return rows

            snapshot.ask = ask
            self.correlator = Correlator(snapshot, self._write_correlated, self._send_mta)
        self.correlator.feed(lines)

    def _send_mta(self, ops: list[mta_state.Op]) -> None:
        self.out.send(("mta_ops", ops))

    def _write_restored(self, items: list[Restored]) -> None:
        self.out.send(("restored", items))

    def _save_content(self, item: StoredMessage) -> None:
        self.out.send(("content", item))


class _Lines:
    """Stands in for the --rejects file in the child: each write goes to the parent."""

    def __init__(self, out: Connection) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.send(("reject", text))


# What the pipe from the child holds (Linux; 64 KiB by default): a batch's messages (a mail
# log's events and queue ops: ≈ 600 KB per 5,000 lines), so the child's send returns while
# the parent still writes the batch before, instead of waiting for it (measured: 1M-line
# Postfix log, the child blocked ≈ 7 s of its 21 s; /proc/sys/fs/pipe-max-size is the cap).
PIPE_BYTES = 1 << 20


def _roomy(conn: Connection) -> None:
    """Give the pipe PIPE_BYTES of room where the system allows it (else keep its own)."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or over the system's cap: the default size still works


# The parser allocates a few objects per record and builds no reference cycles worth
# chasing: collecting every 700 allocations cost ≈ 1 µs per record (7 %); every 50,000 keeps
# the same flat memory (docs/performance.md).
GC_THRESHOLD = (50_000, 20, 100)


def _fewer_collections() -> None:
    """Collect the young generation less often, and never walk what was there at fork."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def _child(
    source: readers.Source,
    opts: loop.Options,
    forced: ModuleType | None,
    import_id: int,
    out: Connection,
    with_progress: bool,
    mta: tuple[mta_state.Snapshot, Connection] | None = None,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _fewer_collections()
    result = FileResult(source=source.name)
    ingest = _Forwarder(result, import_id, out, mta)
    lines = _Lines(out) if opts.rejects is not None else None
    opts = dataclasses.replace(opts, rejects=lines)  # type: ignore[arg-type]  # only .write is used

    def report(message: str) -> None:
        out.send(("report", message))

    def progress(done: int, total: int | None) -> None:
        out.send(("progress", done))

    try:
        added = loop.consume(
            source,
            opts,
            forced,
            ingest,
            report,
            progress if with_progress else None,
            fast.row_readers(import_id, None if forced is None else forced.NAME),
        )
        ingest.flush()
        counter = source.counter
        out.send(("done", added, result, counter.count, counter.sha256.hexdigest()))
    except loop.Abort as exc:
        out.send(("abort", result, str(exc)))
    except FileFormatError as exc:
        out.send(("format", result, exc.message, exc.hint))
    except BrokenPipeError:
        pass
    except BaseException:
        out.send(("crash", traceback.format_exc()))


class _Digest:
    def __init__(self, hexdigest: str) -> None:
        self._hex = hexdigest

    def hexdigest(self) -> str:
        return self._hex


def consume(
    source: readers.Source,
    opts: loop.Options,
    forced: ModuleType | None,
    ingest: batches.Ingest,
    report: loop.Reporter,
    progress: loop.Progress | None,
) -> int:
    """`loop.consume`, with the reading and parsing done by a forked child."""
    import_id = ingest.import_id
    assert import_id is not None  # a file import always has its imports row
    reader, writer = Pipe(duplex=False)
    _roomy(writer)
    # A mail log is correlated in the child: the queue state it starts from, read now
    # (only for a mail log: a store's queue ids are many, and other files need none).
    answers, answer = Pipe(duplex=False)
    snapshot = mta_state.Snapshot(ingest.store.conn) if _mail_log(source, forced) else None
    # …and its messages rows are computed while the child parses (mta_state.MessagesAhead)
    ahead = mta_state.MessagesAhead(ingest.store) if snapshot is not None else None
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            reader.close()
            answer.close()
            mta = (snapshot, answers) if snapshot is not None else None
            _child(source, opts, forced, import_id, writer, progress is not None, mta)
        except BaseException:
            code = 1
        finally:
            os._exit(code)  # no atexit, no finalizers: the store's connection stays untouched
    writer.close()
    answers.close()
    result, finished = ingest.result, False
    try:
        while True:
            try:
                msg = reader.recv()
            except EOFError:
                raise _gone(source) from None
            kind = msg[0]
            if kind == "done":
                _, added, child, count, digest = msg
                _merge(result, child)
                source.counter.count = count
                source.counter.sha256 = _Digest(digest)  # type: ignore[assignment]
                if ahead is not None:
                    _settle(ingest, ahead)
                finished = True
                return int(added)
            if kind == "abort":
                _merge(result, msg[1])
                raise loop.Abort(msg[2])
            if kind == "format":
                _merge(result, msg[1])
                raise FileFormatError(msg[2], msg[3])
            if kind == "crash":
                raise RuntimeError(f"the parsing process failed:\n{msg[1]}")
            _replay(msg, ingest, opts, report, progress, source, answer)
            if kind in ("events", "mta_ops") and _idle(reader):
                ingest.index_text()  # the child is still parsing: use the wait
                if ahead is not None:
                    ahead.step()
    finally:
        reader.close()
        answer.close()
        if ahead is not None and not finished:
            with contextlib.suppress(sqlite3.Error):  # (rolled back anyway)
                ahead.close()
        if not finished:  # stopped early (Ctrl-C, --strict, an error): stop the child too
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _idle(reader: Connection) -> bool:
    """Nothing from the child is waiting: the parent may do work ahead."""
    return not reader.poll()


def _settle(ingest: batches.Ingest, ahead: mta_state.MessagesAhead) -> None:
    """The rows computed ahead into messages, once the child is done. The bulk load's
    indexes come back first (`Ingest.finish` would, next): settling reads the events'
    message index."""
    if ingest.bulk is not None:
        ingest.store.end_bulk(ingest.bulk)
        ingest.bulk = None
    ingest.result.new_messages += ahead.settle()


def _replay(
    msg: tuple[Any, ...],
    ingest: batches.Ingest,
    opts: loop.Options,
    report: loop.Reporter,
    progress: loop.Progress | None,
    source: readers.Source,
    answer: Connection,
) -> None:
    """One of the child's side effects, done here in the order the child did it."""
    kind, arg = msg[0], msg[1]
    if kind == "events":
        ingest._write_events(arg, msg[2])
    elif kind == "audit":
        ingest._write_audit(arg)
    elif kind == "mta_ops":  # a mail log's rows come with their queue-state ops
        ingest._apply_mta(arg)
    elif kind == "mta":  # lines the child did not correlate (see _Forwarder._write_mta)
        ingest._write_mta(arg)
    elif kind == "mta_need":  # stored queue state the child's correlation needs
        try:
            answer.send(mta_state.load_rows(ingest.store.conn, arg))
        except OSError:  # it is gone (killed): say so, as for a closed pipe
            raise _gone(source) from None
    elif kind == "content":
        ingest._save_content(arg)
    elif kind == "restored":
        ingest._write_restored(arg)
    elif kind == "report":
        report(arg)
    elif kind == "reject":
        assert opts.rejects is not None
        opts.rejects.write(arg)
    elif kind == "progress":
        if progress is not None:
            progress(arg, source.size)
    else:
        raise RuntimeError(f"the parsing process sent {kind!r}")


def _mail_log(source: readers.Source, forced: ModuleType | None) -> bool:
    """Whether the file will be read as a mail-server log (the child's own first test)."""
    from maillog_cli.ingest.records import text_log

    try:
        return text_log(readers.peek_head(source), forced) is not None
    except FileFormatError:
        return False  # the child meets it again and reports it, as for any file


def _gone(source: readers.Source) -> MaillogError:
    return MaillogError(f"{source.name}: the parsing process ended unexpectedly")


def _merge(result: FileResult, child: FileResult) -> None:
    """The counters only the child saw (new/duplicates/audit/contents are counted here)."""
    result.skipped.update(child.skipped)
    result.formats.update(child.formats)
    result.rejected += child.rejected
    result.unrecognised += child.unrecognised
    result.note = child.note

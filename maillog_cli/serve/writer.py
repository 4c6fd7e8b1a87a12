"""Group commit: a 2xx is sent only once a request's events are committed.

Requests hand their parsed items to one writer thread; it takes whatever has queued
while the last commit ran and writes it all in one transaction (`BEGIN IMMEDIATE … COMMIT`
with `synchronous = FULL`, so a commit survives a crash of the machine too, not only of
the process). Many concurrent requests thus share one fsync. If a group fails, each of its
requests is tried alone, so one bad request cannot fail the others; a store that cannot be
written fails the request, which the app answers with 503 so the provider retries.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from maillog_cli.errors import MaillogError
from maillog_cli.ingest.batches import Ingest
from maillog_cli.ingest.records import FileResult
from maillog_cli.store.db import LOCK_TIMEOUT_ENV, Store

GROUP_MAX = 2000  # requests in one transaction at most
# A group with this many items indexes their text once at the end of its transaction (the
# import path's bulk mode, indexes kept) instead of row by row: measured twice as fast for
# 32 batches of 100 events, and not worth the trigger swap below it.
BULK_ITEMS = 256
LOCK_WAIT = "10"  # seconds a commit waits for another writer before the requests get 503


@dataclass
class Job:
    """One request's items; `done` gets (new, duplicates) or the exception."""

    provider: str
    items: list[Any]
    done: Future[tuple[int, int]] = field(default_factory=Future)


class Writer:
    """The one writer thread of `maillog serve` (the store's connection lives in it)."""

    def __init__(self, store: Store, on_commit: Callable[[list[Job]], None] | None = None) -> None:
        self.store = store
        self.queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.imports: dict[str, int] = {}  # provider → this run's imports row
        self.totals: dict[str, list[int]] = {}
        self.on_commit = on_commit
        self.problem: str | None = None  # the last write failure, until a commit succeeds
        os.environ.setdefault(LOCK_TIMEOUT_ENV, LOCK_WAIT)
        store.conn.execute("PRAGMA synchronous = FULL")
        self.thread = threading.Thread(target=self._run, name="maillog-serve-writer", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Future[tuple[int, int]]:
        self.queue.put(job)
        return job.done

    def close(self) -> None:
        """Write what is queued, then stop."""
        self.queue.put(None)
        self.thread.join()

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            group = [job]
            stop = False
            while len(group) < GROUP_MAX:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            self._write_group(group)
            if stop:
                return

    def _write_group(self, group: list[Job]) -> None:
        try:
            counts = self._commit(group)
        except Exception as exc:  # noqa: BLE001 - every failure must reach its requests
            if len(group) > 1:
                for job in group:
                    self._write_group([job])
                return
            self.problem = _one_line(exc)
            group[0].done.set_exception(exc)
            return
        self.problem = None
        for job, count in zip(group, counts, strict=True):
            job.done.set_result(count)
        if self.on_commit is not None:
            self.on_commit(group)

    def _commit(self, group: list[Job]) -> list[tuple[int, int]]:
        """One transaction for the group: per provider, the import path's Ingest (classify,
        insert or ignore, refresh messages) and this run's provenance row."""
        counts: dict[int, tuple[int, int]] = {}
        pending: dict[str, int] = {}
        staged: dict[str, list[int]] = {}
        moved = self._file_moved()
        if moved:
            raise MaillogError(moved)
        with self.store.write():
            for provider in dict.fromkeys(j.provider for j in group):
                import_id = self.imports.get(provider)
                if import_id is None:
                    import_id = pending[provider] = self.store.start_import(
                        f"maillog serve /hooks/{provider}", provider
                    )
                result = FileResult(source=f"/hooks/{provider}")
                ingest = Ingest(self.store, result, import_id)
                if sum(len(j.items) for j in group if j.provider == provider) >= BULK_ITEMS:
                    ingest.bulk = self.store.begin_bulk(drop_indexes=False)
                for i, job in enumerate(group):
                    if job.provider == provider:
                        new, dup = result.new, result.duplicates
                        for item in job.items:
                            ingest.add(item)
                        ingest.flush()
                        counts[i] = (result.new - new, result.duplicates - dup)
                ingest.finish()
                before = self.totals.get(provider, [0, 0, 0])
                total = staged[provider] = [
                    before[0] + result.new,
                    before[1] + result.duplicates,
                    before[2] + result.new_messages,
                ]
                self.store.finish_import(
                    import_id,
                    new_events=total[0],
                    duplicates=total[1],
                    new_messages=total[2],
                    format=provider,
                )
        self.imports.update(pending)  # only rows that were committed
        self.totals.update(staged)
        return [counts[i] for i in range(len(group))]

    def writable(self) -> str | None:
        """Why the store cannot be written now, else None (for /healthz)."""
        from maillog_cli.store.db import write_problem

        return self._file_moved() or write_problem(self.store.path) or self.problem

    def _file_moved(self) -> str | None:
        """Why the open store is no longer the file at its path (removed, renamed, a backup
        moved over it), else None: every commit would go where nobody will read it,
        acknowledged all the same."""
        moved = self.store.replaced()
        return f"{moved}; restart maillog serve to store into the file now there" if moved else None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, MaillogError):
        return str(exc).splitlines()[0]
    if isinstance(exc, sqlite3.Error):
        return f"store error: {exc}"
    return f"{type(exc).__name__}: {exc}"

"""A new store's first file, built beside it and published whole (issue 17).

A store's first import is most of its life's writing, and in WAL mode SQLite writes every
page twice: into the -wal file during the transaction, then into the database at the
checkpoint (a 200k-event file: ≈ 200 MB through the WAL, 0.6 s of the commit alone, more on
a busy disk). When the store does not exist yet, nobody can be reading it, so the first
file is written into a hidden sibling (`.NAME.importing-PID`) with its rollback journal in
memory and no syncs, then synced once and published under the store's name with a hard
link, which refuses to replace a file that appeared meanwhile. Same rows, same schema,
same WAL mode afterwards; a failed or interrupted import leaves no store, as before.

The in-memory journal holds only the pages that existed when the transaction began (a
new file's schema), so memory stays flat; a bad file still rolls back cleanly.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from maillog_cli.errors import MaillogError
from maillog_cli.store.db import Store, storage_error


def wanted(target: Path, first: str) -> bool:
    """Build aside when the store does not exist yet and the first input can be read twice
    (the rare lost race re-imports it into the store that won)."""
    if first == "-" or target.exists() or Path(f"{target}-wal").exists():
        return False
    if not target.parent.is_dir():
        return False  # the normal open says what it does about a missing folder
    return Path(first).is_file()


def partial_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.importing-{os.getpid()}")


def open_aside(target: Path) -> Store:
    """A new store at the hidden sibling of `target`, journal in memory, no syncs."""
    sweep(target)
    partial = partial_path(target)
    discard(partial)
    store = Store.open(partial)
    try:
        # main only: the unqualified pragma (every schema, and the default for the temp
        # tables the import makes and drops) measured +4 MB of peak memory at 1M events
        store.conn.execute("PRAGMA main.journal_mode = MEMORY")
        store.conn.execute("PRAGMA synchronous = OFF")
    except sqlite3.DatabaseError as exc:
        store.close()
        discard(partial)
        raise storage_error(exc, target) from None
    store.path = target  # what every message names: the store the user asked for
    return store


def publish(store: Store, target: Path) -> bool:
    """Make the built store `target`: WAL mode, synced, linked into place. False when a
    store appeared at `target` meanwhile (the built one is then thrown away)."""
    partial = partial_path(target)
    try:
        store.conn.execute("PRAGMA journal_mode = WAL")
        store.close()
        _sync(partial)
        try:
            os.link(partial, target)
        except FileExistsError:
            return False
        except OSError:
            # A file system without hard links: rename, which cannot refuse an existing
            # file, so look first (the window is microseconds; a race here is two first
            # imports of one new store in the same instant).
            if target.exists():
                return False
            os.replace(partial, target)
        _sync(target.parent)
        return True
    except sqlite3.DatabaseError as exc:
        raise storage_error(exc, target) from None
    except OSError as exc:
        raise MaillogError(
            f"cannot create {target}: {exc.strerror or exc}; nothing of the first file is stored"
        ) from None
    finally:
        discard(partial)


def sweep(target: Path) -> None:
    """Remove what a killed first import left beside `target` (its process is gone)."""
    prefix = f".{target.name}.importing-"
    for path in target.parent.iterdir():
        if not path.name.startswith(prefix):
            continue
        pid = path.name[len(prefix) :]
        if pid.isdigit() and not _alive(int(pid)):
            discard(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def discard(partial: Path) -> None:
    """Remove a built store and any journal files SQLite left beside it."""
    for path in (partial, *(Path(f"{partial}{s}") for s in ("-wal", "-shm", "-journal"))):
        path.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """fsync a file or a folder (so the published name survives a power cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

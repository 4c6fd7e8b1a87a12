"""The one SQLite file: open (WAL, busy timeout, migrations), batched writes, lookups.

Writers take `BEGIN IMMEDIATE` so two imports queue instead of failing with
"database is locked"; WAL lets `tail --follow` and the TUI read meanwhile.
Core code only: nothing here prints.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from maillog_cli.errors import MaillogError
from maillog_cli.model import EVENT_KEYS, AuditEntry, Event, Restored, StoredMessage
from maillog_cli.normalize import bounce_pattern, domain_of
from maillog_cli.redaction import scrub
from maillog_cli.statuses import LIFECYCLE, LIFECYCLE_RANK
from maillog_cli.store.migrations import (
    APPLICATION_ID,
    BOUNCE_DISTINCT_INDEXES,
    BOUNCE_INDEXES,
    MESSAGE_RELAY_SQL,
    MIGRATIONS,
)

BUSY_TIMEOUT_MS = 30_000
# The tables every maillog store has had since schema 1: a store from before application_id.
MAILLOG_TABLES = frozenset({"events", "messages", "audit", "imports"})
# The contract keys, with the derived recipient_domain after recipient, then our own columns.
_AT = EVENT_KEYS.index("recipient") + 1
EVENT_COLUMNS: tuple[str, ...] = (
    *EVENT_KEYS[:_AT],
    "recipient_domain",
    *EVENT_KEYS[_AT:],
    "bounce_hint",
    "tag",
    "tags",
    "type",
    "size",
    "send_method",
    "extra",
    "import_id",
    "diagnostic_pattern",  # normalize.bounce_pattern of status and stored diagnostic
)
_INSERT_EVENT = (
    f"INSERT OR IGNORE INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})"
)


def now_iso() -> str:
    from maillog_cli.dates import format_dt

    return format_dt(datetime.now(UTC))


def _dumps(value: Any) -> str | None:
    """JSON text for a column; integers beyond 64 bits (orjson refuses them) go through json."""
    if not value:
        return None
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        import json

        return json.dumps(value, default=str, ensure_ascii=False)


_FLAT = frozenset({str, int, float, bool, type(None)})
_EXTRA_CACHE: dict[bytes, str | None] = {}


def extra_json(extra: dict[str, Any]) -> str | None:
    """`_dumps(scrub(extra))`: the JSON text stored in events.extra, secrets removed.

    Cached for the usual flat shape (strings, numbers, lists of strings), where equal JSON
    means an equal dict: providers repeat the same extras (tags, pool, user agent) on
    thousands of events, and walking them for secrets cost ≈ 2 µs per event.
    """
    for value in extra.values():
        kind = type(value)
        if kind is list:
            if not all(type(item) is str for item in value):
                return _dumps(scrub(extra))
        elif kind not in _FLAT:
            return _dumps(scrub(extra))
    try:
        key = orjson.dumps(extra)
    except (TypeError, orjson.JSONEncodeError):  # keys not strings, integers past 64 bits
        return _dumps(scrub(extra))
    text = _EXTRA_CACHE.get(key, _MISSING)
    if text is _MISSING:
        if len(_EXTRA_CACHE) >= 16384:
            _EXTRA_CACHE.clear()
        text = _EXTRA_CACHE[key] = _dumps(scrub(extra))
    return text  # type: ignore[return-value]


_MISSING: Any = object()
# Recipients repeat (≈ 2.6 events per message): the domain is computed once per address.
_domain_of = lru_cache(maxsize=65536)(domain_of)


_INT64_MAX = (1 << 63) - 1


def _size(value: int | None) -> int | None:
    """A size SQLite can hold, else unknown: a source's digits can be any length
    ("99999999999999999999999" in a CSV cell), and SQLite's integers stop at 2**63."""
    return value if value is None or 0 <= value <= _INT64_MAX else None


def event_row(e: Event, import_id: int | None) -> tuple[Any, ...]:
    """An Event as the tuple `_INSERT_EVENT` takes, its free text scrubbed of secrets.

    This and `insert_audit` are where rows become bytes on disk: scrubbing here (by key
    and by value, redaction.scrub) keeps secrets out of the file, its WAL, the
    FTS index, `sql` output and prune archives, whatever importer made the row.
    """
    diagnostic = scrub(e.diagnostic)
    return (
        e.event_id,
        e.message_id,
        e.timestamp,
        e.provider,
        e.direction or "outbound",
        e.status,
        e.raw_status,
        e.sender,
        e.recipient,
        _domain_of(e.recipient),
        scrub(e.subject),
        e.smtp_code,
        e.enhanced_code,
        diagnostic,
        e.bounce_class,
        e.bounce_reason,
        e.bounce_hint,
        scrub(e.tag or (e.tags[0] if e.tags else None)),
        # sorted: see refresh_messages
        _dumps(sorted({scrub(t) for t in e.tags})) if e.tags else None,
        e.type,
        _size(e.size),
        e.send_method,
        extra_json(e.extra) if e.extra else None,  # most events have none: skip the walk
        import_id,
        bounce_pattern(e.status, diagnostic),
    )


def _retry_locked(step: Callable[[], Any], seconds: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Run a set-up step, retrying while another process creates the same file.

    Switching a brand-new file to WAL takes an exclusive lock that the busy timeout does
    not wait for, so two imports started at once on a new store could fail without this.
    """
    import time

    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


# --- file names, permissions and SQLite errors in words ---------------------------------------


def sqlite_uri(path: Path, **params: str) -> str:
    """A `file:` URI that names exactly `path`: `#`, `?` and `%` in a file name are escaped,
    so `store.db#snap` or `x.db?mode=rw` can never open another file or another mode."""
    from urllib.parse import quote, urlencode

    return f"file:{quote(str(Path(path).absolute()), safe='/')}?{urlencode(params)}"


def _companions(path: Path) -> tuple[Path, Path]:
    """The WAL and its index, which SQLite keeps beside the store."""
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _dir_writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK | os.X_OK) and not _read_only_fs(directory)


def write_problem(path: Path) -> str | None:
    """Why a writer could not write to the store at `path`, in words; None when it can.

    Checked before SQLite is asked, because SQLite only says "unable to open database
    file" or "attempt to write a readonly database" and never which of these it is.
    """
    directory = path.parent if path.parent.exists() else None
    if directory is not None and _read_only_fs(directory):
        return f"the file system holding {directory} is mounted read-only"
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file is read-only (mode {path.stat().st_mode & 0o777:o})"
    if directory is not None and not _dir_writable(directory):
        if not all(p.exists() for p in _companions(path)):
            return (
                f"its directory {directory} is not writable, and SQLite must create"
                f" {path.name}-wal and {path.name}-shm there"
            )
    return None


def file_identity(path: Path) -> tuple[int, int] | None:
    """The file a path names (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def replaced_since(path: Path, identity: tuple[int, int] | None) -> str | None:
    """Why the file at `path` is no longer the one `file_identity` saw, else None."""
    if file_identity(path) == identity:
        return None
    return f"{path} was removed or replaced while maillog had it open"


def store_files(path: Path) -> list[Path]:
    """The store and the journal files SQLite keeps beside it: writing any of them as an
    output (an export, a rejects file) would destroy the store."""
    return [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: same inode when both exist, else same resolved path."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def storage_error(exc: sqlite3.Error, path: Path) -> MaillogError:
    """A SQLite failure as one line that says what is wrong with the store and what to do."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc)
    if code == sqlite3.SQLITE_FULL:
        return MaillogError(
            f"{path}: the disk is full ({text}); the unfinished write was rolled back"
            " and the store is intact",
            "free some space, then run the command again",
        )
    if code == sqlite3.SQLITE_IOERR:
        return MaillogError(
            f"{path}: the disk refused a read or write ({text}); the unfinished write was"
            " rolled back",
            "check free space, the file size limit (ulimit -f) and the disk, then run it again",
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
        why = write_problem(path) or text
        return MaillogError(
            f"cannot write to {path}: {why}",
            "readers (search, show, sql …) still work; to import or prune, make it writable"
            " or copy the store (with any -wal file) somewhere writable",
        )
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return MaillogError(
            f"{path} is locked by another process ({text})", "run the command again when it ends"
        )
    return MaillogError(
        f"{path} is not a usable maillog database: {text}",
        "check the path given with --db or $MAILLOG_DB",
    )


# --- waiting for the write lock ----------------------------------------------------------------

LOCK_TIMEOUT_ENV = "MAILLOG_LOCK_TIMEOUT"
LOCK_NOTICE_AFTER = 1.0  # seconds of silent waiting before a writer says it is waiting
LOCK_SLICE = 0.5  # seconds per wait inside SQLite: Ctrl-C is handled between slices


def lock_timeout() -> float | None:
    """$MAILLOG_LOCK_TIMEOUT in seconds: how long a writer waits for another; None = as long
    as the other holds the lock (the default: imports queue, as promised)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise MaillogError(
            f"${LOCK_TIMEOUT_ENV} must be a number of seconds, not {raw!r}",
            "unset it to wait as long as another writer holds the store",
        )
    return seconds


def _is_busy(exc: sqlite3.Error) -> bool:
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def lock_holder(path: Path) -> int | None:
    """The pid holding the WAL write lock on `path`, where the system says (Linux
    /proc/locks: SQLite's write lock is byte 120 of the -shm file); None otherwise."""
    try:
        st = _companions(path)[1].stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in locks.splitlines():
        fields = line.split()
        if "->" in fields:
            continue  # a waiter, not the holder
        if len(fields) >= 8 and fields[5] == inode and fields[6] == "120" and fields[4] != "-1":
            if fields[3] == "WRITE" and fields[4].isdigit() and int(fields[4]) != os.getpid():
                return int(fields[4])
    return None


Notice = Callable[[str], None]


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that can never write, create or reinterpret the file.

    SQLite needs the `-shm` file beside a WAL store to read it. In a directory this user
    cannot write (or a read-only mount) with no -shm, the store is read as immutable —
    safe because without a -wal file there is nothing uncommitted and no writer (a writer
    would have created one); with a -wal file it cannot be read, and the error says why.
    """
    conn = sqlite3.connect(
        sqlite_uri(path, mode="ro"), uri=True, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if (exc.sqlite_errorcode & 0xFF) != sqlite3.SQLITE_CANTOPEN or _dir_writable(path.parent):
            raise
    wal, shm = _companions(path)
    if wal.exists() and wal.stat().st_size > 0 and not shm.exists():
        raise MaillogError(
            f"cannot read {path}: it has unfinished writes in {wal.name}, and SQLite needs to"
            f" create {shm.name} in {path.parent}, which is not writable",
            "make the directory writable, or copy the store with its -wal file somewhere writable",
        )
    return sqlite3.connect(
        sqlite_uri(path, mode="ro", immutable="1"),
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )


class Store:
    """An open maillog database."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        readonly: bool = False,
        on_wait: Notice | None = None,
    ) -> None:
        self.path = path
        self.conn = conn
        self.readonly = readonly
        self._msg_cols: frozenset[str] | None = None  # messages columns, read once (restore)
        # Told what a writer waits for: another writer's lock, or the one-time upgrade of
        # an older store (the CLI prints it on stderr).
        self.on_wait = on_wait
        self.file = file_identity(path)  # to notice the file removed or replaced under us

    def replaced(self) -> str | None:
        """Why the file at the store's path is no longer the one this connection writes
        to, else None. A long-running writer (serve, tail --import) would otherwise go on
        committing into a removed or replaced file that nobody will read again."""
        return replaced_since(self.path, self.file)

    # --- opening -----------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path | str,
        readonly: bool = False,
        create: bool = True,
        on_wait: Notice | None = None,
    ) -> Store:
        """Open (and create and migrate) the store; MaillogError when it cannot be."""
        p = Path(path).expanduser()
        if p.is_dir():
            raise MaillogError(f"{p} is a directory", "give the path of a database file with --db")
        if readonly or not create:
            if not p.exists():
                raise MaillogError(
                    f"no maillog database at {p}", "import something first: maillog import FILE"
                )
        elif not p.parent.is_dir():
            raise MaillogError(  # as sqlite3 and git: a directory is never made on a guess
                f"cannot create {p}: the directory {p.parent} does not exist",
                f"create it first (mkdir -p {p.parent}) or give another --db",
            )
        if not readonly:
            problem = write_problem(p)
            if problem:
                raise MaillogError(
                    f"cannot write to {p}: {problem}",
                    "readers (search, show, sql …) still work; to import or prune, make it"
                    " writable or copy the store (with any -wal file) somewhere writable",
                )
        try:
            if readonly:
                conn = _connect_readonly(p)
            else:
                conn = sqlite3.connect(p, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            store = cls(p, conn, readonly=readonly, on_wait=on_wait)
            # Before anything writes: a foreign or newer file stays untouched.
            store.check_ours()
            store.check_version()
            if readonly and store.version == 0:
                raise MaillogError(
                    f"no maillog database at {p} (the file is empty)",
                    "import something first: maillog import FILE",
                )
            if readonly and store.version < len(MIGRATIONS) and not write_problem(p):
                # Written by an older maillog: a reader upgrades it too (migrations apply
                # on open), or it would query columns the file lacks. A file it cannot
                # write is read as it is.
                conn.close()
                cls.open(p, on_wait=on_wait).close()
                return cls.open(p, readonly=True, create=create, on_wait=on_wait)
            if not readonly:
                _retry_locked(store._prepare_new_file)
                conn.execute("PRAGMA synchronous = NORMAL")
            # 32 MiB of page cache; temp b-trees (index builds, GROUP BY) spill to disk so
            # that importing a 1 GB file stays well under 150 MB of memory.
            conn.execute("PRAGMA cache_size = -32768")
            if not readonly:
                store.migrate()
        except sqlite3.DatabaseError as exc:
            raise storage_error(exc, p) from None
        return store

    def close(self) -> None:
        self.conn.close()

    def backup(self, dest: Path) -> int:
        """A consistent copy of the store at `dest` while readers and writers go on.

        `VACUUM INTO` reads one snapshot (a WAL read transaction), so the copy holds every
        committed event and nothing half-written — unlike `cp maillog.db`, which misses
        what is still in maillog.db-wal. The copy is written beside `dest` and renamed
        into place, so a failed backup leaves no partial file. Returns its size in bytes.
        """
        from maillog_cli.paths import write_target

        dest = write_target(dest)
        if dest.exists():
            raise MaillogError(
                f"{dest} already exists", "choose a new file name; nothing was written"
            )
        if not dest.parent.is_dir():
            raise MaillogError(f"{dest.parent} is not a folder", "create it first")
        partial = dest.with_name(f".{dest.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            try:
                self.conn.execute("VACUUM INTO ?", (str(partial),))
            except sqlite3.DatabaseError as exc:  # the copy failed, not the store
                raise MaillogError(
                    f"cannot write the backup {dest}: {exc}; nothing was written and the"
                    " store is unchanged",
                    "free some space where the backup goes (or check ulimit -f), or choose"
                    " another place",
                ) from None
            if dest.exists():
                raise MaillogError(f"{dest} appeared during the backup", "choose a new file name")
            partial.rename(dest)
        finally:
            partial.unlink(missing_ok=True)
        return dest.stat().st_size

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def check_version(self) -> None:
        if self.version > len(MIGRATIONS):
            raise MaillogError(
                f"{self.path} was written by a newer maillog (schema {self.version})",
                "upgrade maillog",
            )

    def check_ours(self) -> None:
        """Refuse a SQLite file that belongs to something else, before anything touches it.

        Ours: marked with our application_id (every store since migration 3), or an older
        store (a schema version and maillog's tables), or empty (ours to create).
        """
        app_id = int(self.conn.execute("PRAGMA application_id").fetchone()[0])
        if app_id == APPLICATION_ID:
            return
        names = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        if app_id == 0 and (not names or (self.version >= 1 and MAILLOG_TABLES <= set(names))):
            return
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            what = f"it has tables {shown}"
        else:
            what = f"it belongs to another application (application_id {app_id:#x})"
        raise MaillogError(
            f"{self.path} is not a maillog store ({what})",
            "point --db at a maillog store or a new file",
        )

    def _prepare_new_file(self) -> None:
        """WAL, and incremental auto-vacuum while the file has no tables (it can only be set
        then); both are no-ops on a file another process has already prepared."""
        if self.version == 0:
            self.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self.conn.execute("PRAGMA journal_mode = WAL")

    def migrate(self) -> None:
        """Apply every migration newer than the file, in one write transaction."""
        self.check_version()
        if self.version >= len(MIGRATIONS):
            return
        with self.write():
            current = self.version  # re-read under the lock: another process may have won
            self.check_version()
            if current and current < len(MIGRATIONS) and self.on_wait is not None:
                # Upgrades may rebuild a table (migration 3 rewrites events): say why we pause.
                self.on_wait(
                    f"upgrading {self.path} from schema {current} to {len(MIGRATIONS)}"
                    " (once; a big store takes a while)…"
                )
            for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                migration(self.conn)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE … COMMIT, rolled back on any error.

        The one place writers take the lock: they wait for another writer as long as it
        holds the store (or $MAILLOG_LOCK_TIMEOUT), and a full disk or a read-only file
        ends in a MaillogError that says so, never in a SQLite traceback.
        """
        if self.readonly:
            raise MaillogError("the store is open read-only")
        try:
            self.wait_for_lock(lambda: self.conn.execute("BEGIN IMMEDIATE"))
        except sqlite3.DatabaseError as exc:
            raise storage_error(exc, self.path) from None
        try:
            yield self.conn
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise storage_error(exc, self.path) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise storage_error(exc, self.path) from None

    def _rollback(self) -> None:
        """Roll back what is still open: SQLite may already have (disk full, I/O error), and
        a failing ROLLBACK must not hide the error that caused it."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def wait_for_lock(self, step: Callable[[], Any]) -> Any:
        """Run `step` (which takes the write lock), waiting while another process holds it.

        SQLite's busy timeout gives up after a fixed time; a queued import must instead wait
        as long as the other writer works. It waits in short slices (so Ctrl-C is handled),
        says once that it waits, and stops after $MAILLOG_LOCK_TIMEOUT seconds if set.
        """
        import time

        limit = lock_timeout()
        started = time.monotonic()
        told = False
        try:
            while True:
                waited = time.monotonic() - started
                piece = LOCK_SLICE if told else LOCK_NOTICE_AFTER
                if limit is not None:
                    piece = max(0.0, min(piece, limit - waited))
                self.conn.execute(f"PRAGMA busy_timeout = {int(piece * 1000)}")
                try:
                    return step()
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
                waited = time.monotonic() - started
                if limit is not None and waited >= limit:
                    raise MaillogError(
                        f"another process has held the write lock on {self.path} for"
                        f" {waited:.0f} s (${LOCK_TIMEOUT_ENV}={limit:g}); nothing was written",
                        f"run it again when the other writer has finished, or unset ${LOCK_TIMEOUT_ENV} to wait",
                    )
                if not told:
                    told = True
                    if self.on_wait is not None:
                        pid = lock_holder(self.path)
                        who = f" (pid {pid})" if pid else ""
                        self.on_wait(
                            f"waiting for another maillog writer{who} to finish with {self.path}…"
                        )
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    # --- writing -------------------------------------------------------------------
    def insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """INSERT OR IGNORE rows made by `event_row`; returns how many were new."""
        return self.conn.executemany(_INSERT_EVENT, rows).rowcount

    def insert_aliases(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO message_aliases(alias, message_id) VALUES (?, ?)", pairs
        )

    def save_content(self, m: StoredMessage) -> bool:
        """Store a raw email and its message-level facts; False when already stored.

        The send method is what the email's own Received trail says (None when it says
        nothing): a copy from a Sent folder is not known to have gone out over SMTP.
        """
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO message_content(message_id, raw) VALUES (?, ?)",
            (m.message_id, m.raw),
        )
        self.conn.execute(
            """
            INSERT INTO messages(message_id, sender, recipient, recipient_domain, subject, size,
                                 first_seen, spf, dkim, dmarc, headers, has_content, send_method)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
            ON CONFLICT(message_id) DO UPDATE SET
                sender = coalesce(messages.sender, excluded.sender),
                recipient = coalesce(messages.recipient, excluded.recipient),
                recipient_domain = CASE WHEN messages.recipient IS NULL
                    THEN excluded.recipient_domain ELSE messages.recipient_domain END,
                subject = coalesce(messages.subject, excluded.subject),
                size = coalesce(excluded.size, messages.size),
                spf = coalesce(excluded.spf, messages.spf),
                dkim = coalesce(excluded.dkim, messages.dkim),
                dmarc = coalesce(excluded.dmarc, messages.dmarc),
                headers = coalesce(excluded.headers, messages.headers),
                send_method = coalesce(messages.send_method, excluded.send_method),
                has_content = 1
            """,
            (
                m.message_id,
                m.sender,
                m.recipients[0] if m.recipients else None,
                domain_of(m.recipients[0]) if m.recipients else None,
                scrub(m.subject),
                m.size,
                m.timestamp,
                m.spf,
                m.dkim,
                m.dmarc,
                _dumps(scrub(m.headers)),
                m.send_method,
            ),
        )
        return cur.rowcount > 0

    def restore(self, item: Restored) -> bool:
        """Write a row of our full export form as it was; True when the row is new.

        A message row is upserted whole (its event-derived columns are recomputed by the
        refresh that ends the import, from whatever events the store then holds); an alias,
        a stored email or a queue id's lifecycle already present is left alone.
        """
        v = item.values
        if item.table == "message_aliases":
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO message_aliases(alias, message_id) VALUES (?, ?)",
                (v["alias"], v["message_id"]),
            )
            return cur.rowcount > 0
        if item.table == "message_content":
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO message_content(message_id, raw) VALUES (?, ?)",
                (v["message_id"], v["raw"]),
            )
            return cur.rowcount > 0
        if item.table == "mta_queue":
            # One lifecycle of a queue id is (host, qid, first_at): an export imported again,
            # or a store that followed the same log, keeps the row it has.
            cols = list(v)
            cur = self.conn.execute(
                f"INSERT INTO mta_queue({', '.join(cols)}) SELECT {', '.join('?' for _ in cols)}"
                " WHERE NOT EXISTS (SELECT 1 FROM mta_queue WHERE qid = ? AND host = ?"
                " AND first_at = ?)",
                [*(v[c] for c in cols), v["qid"], v["host"], v["first_at"]],
            )
            return cur.rowcount > 0
        if item.table != "messages":
            raise ValueError(f"cannot restore rows of {item.table!r}")
        known = self._message_columns()
        cols = [c for c in v if c in known]
        new = not self.conn.execute(
            "SELECT 1 FROM messages WHERE message_id = ?", (v["message_id"],)
        ).fetchone()
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "message_id")
        self.conn.execute(
            f"INSERT INTO messages({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            f" ON CONFLICT(message_id) DO UPDATE SET {updates}",
            [_dumps(v[c]) if isinstance(v[c], dict | list) else v[c] for c in cols],
        )
        return new

    def _message_columns(self) -> frozenset[str]:
        if self._msg_cols is None:
            rows = self.conn.execute("PRAGMA main.table_info(messages)")
            self._msg_cols = frozenset(r[1] for r in rows)
        return self._msg_cols

    def insert_audit(self, entries: Sequence[AuditEntry], import_id: int | None) -> int:
        cur = self.conn.executemany(
            """INSERT OR IGNORE INTO audit(id, created_at, actor_id, actor_email, action,
                   raw_action, target_type, target_id, metadata, ip, user_agent, import_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    a.id,
                    a.created_at,
                    a.actor_id,
                    a.actor_email,
                    a.action,
                    a.raw_action,
                    a.target_type,
                    a.target_id,
                    orjson.dumps(scrub(a.metadata or {}), default=str).decode(),
                    a.ip,
                    scrub(a.user_agent),
                    import_id,
                )
                for a in entries
            ],
        )
        return cur.rowcount

    def refresh_messages(
        self, touched_table: str = "touched", into: str = "messages", events: str = "events"
    ) -> int:
        """Recompute the messages rows of the ids in temp table `touched_table` from events.

        Set-based, in two statements: the latest lifecycle event per message (SQLite takes
        bare columns from the row that holds max()), then one upsert of the aggregates.
        Returns how many message rows are new. A forked mail-log import computes rows
        ahead (store/mta_state.py): `into` a temp table shaped like messages, from
        `events` a view of the recent events only.
        """
        before = self.conn.execute(f"SELECT count(*) FROM {into}").fetchone()[0]
        lifecycle = ", ".join(f"'{s}'" for s in LIFECYCLE)
        rank = " ".join(f"WHEN '{s}' THEN {r}" for s, r in LIFECYCLE_RANK.items())
        self.conn.execute("DROP TABLE IF EXISTS temp.latest")
        self.conn.execute(
            f"""
            CREATE TEMP TABLE latest AS
            SELECT message_id, status, timestamp, bounce_class, bounce_reason, seq,
                   max(timestamp || CASE status {rank} ELSE 0 END || printf('%012d', seq)) AS k
            FROM {events} AS events
            WHERE message_id IN (SELECT message_id FROM {touched_table}) AND status IN ({lifecycle})
            GROUP BY message_id
            """
        )
        self.conn.execute("CREATE INDEX temp.latest_id ON latest(message_id)")
        self.conn.execute(
            f"""
            INSERT INTO {into} AS messages(message_id, sender, recipient, recipient_domain,
                subject, tag, provider, direction, first_seen, opened_at, clicked_at, complained_at,
                unsubscribed_at, event_count, spf, dkim, dmarc, type, size, send_method,
                open_count, last_opened_at, click_count, last_clicked_at, tags,
                last_status, last_status_at, bounce_class, bounce_reason, last_seq, relay)
            SELECT a.*, l.status, l.timestamp, l.bounce_class, l.bounce_reason, l.seq,
                {MESSAGE_RELAY_SQL.format("a.message_id")}
            FROM (
                SELECT message_id, max(sender), min(recipient),
                    -- the domain of that same recipient (a min of its own was another
                    -- recipient's domain: ann@example.org shown under example.com)
                    nullif(substr(min(recipient || char(1) || coalesce(recipient_domain, '')),
                        length(min(recipient)) + 2), ''),
                    max(subject), max(tag), max(provider), max(direction), min(timestamp),
                    min(CASE WHEN status = 'opened' THEN timestamp END),
                    min(CASE WHEN status = 'clicked' THEN timestamp END),
                    min(CASE WHEN status = 'complained' THEN timestamp END),
                    min(CASE WHEN status = 'unsubscribed' THEN timestamp END),
                    count(*),
                    -- authentication results an importer found in the event (extra.spf …)
                    max(json_extract(extra, '$.spf')), max(json_extract(extra, '$.dkim')),
                    max(json_extract(extra, '$.dmarc')),
                    max(type), max(size), max(send_method),
                    -- opens/clicks: the moments they happened (SES reports one open of a
                    -- 3-recipient email as 3 events at one time), or the count an email
                    -- log states (extra)
                    max(count(DISTINCT CASE WHEN status = 'opened' THEN timestamp END),
                        coalesce(max(json_extract(extra, '$.open_count')), 0)),
                    max(CASE WHEN status = 'opened' THEN timestamp END),
                    max(count(DISTINCT CASE WHEN status = 'clicked' THEN timestamp END),
                        coalesce(max(json_extract(extra, '$.click_count')), 0)),
                    max(CASE WHEN status = 'clicked' THEN timestamp END),
                    -- every tag of every event, once each, sorted (event tags are stored
                    -- sorted, so the union is only computed where events disagree)
                    CASE WHEN min(tags) IS NULL OR min(tags) = max(tags) THEN min(tags) ELSE (
                        SELECT json_group_array(value) FROM (
                            SELECT DISTINCT j.value FROM events x, json_each(x.tags) AS j
                            WHERE x.message_id = events.message_id AND x.tags IS NOT NULL
                            ORDER BY j.value
                        )
                    ) END
                FROM {events} AS events
                WHERE message_id IN (SELECT message_id FROM {touched_table})
                GROUP BY message_id
            ) AS a LEFT JOIN latest l ON l.message_id = a.message_id
            WHERE true
            ON CONFLICT(message_id) DO UPDATE SET
                -- what all its events say (the aggregate above reads every one), so the
                -- row does not depend on which of them an earlier import held; a stored
                -- email's own headers (save_content) stay first
                sender = CASE WHEN messages.has_content THEN coalesce(messages.sender, excluded.sender)
                    ELSE coalesce(excluded.sender, messages.sender) END,
                recipient = CASE WHEN messages.has_content AND messages.recipient IS NOT NULL
                    OR excluded.recipient IS NULL THEN messages.recipient ELSE excluded.recipient END,
                recipient_domain = CASE WHEN messages.has_content AND messages.recipient IS NOT NULL
                    OR excluded.recipient IS NULL THEN messages.recipient_domain
                    ELSE excluded.recipient_domain END,
                subject = CASE WHEN messages.has_content THEN coalesce(messages.subject, excluded.subject)
                    ELSE coalesce(excluded.subject, messages.subject) END,
                tag = coalesce(excluded.tag, messages.tag),
                provider = coalesce(excluded.provider, messages.provider),
                direction = coalesce(excluded.direction, messages.direction),
                first_seen = min(coalesce(messages.first_seen, excluded.first_seen), excluded.first_seen),
                opened_at = excluded.opened_at,
                clicked_at = excluded.clicked_at,
                complained_at = excluded.complained_at,
                unsubscribed_at = excluded.unsubscribed_at,
                event_count = excluded.event_count,
                spf = coalesce(excluded.spf, messages.spf),
                dkim = coalesce(excluded.dkim, messages.dkim),
                dmarc = coalesce(excluded.dmarc, messages.dmarc),
                type = coalesce(excluded.type, messages.type),
                size = coalesce(excluded.size, messages.size),
                send_method = coalesce(excluded.send_method, messages.send_method),
                open_count = excluded.open_count,
                last_opened_at = excluded.last_opened_at,
                click_count = excluded.click_count,
                last_clicked_at = excluded.last_clicked_at,
                tags = coalesce(excluded.tags, messages.tags),
                last_status = excluded.last_status,
                last_status_at = excluded.last_status_at,
                bounce_class = excluded.bounce_class,
                bounce_reason = excluded.bounce_reason,
                last_seq = excluded.last_seq,
                relay = coalesce(excluded.relay, messages.relay)
            """
        )
        self.conn.execute("DROP TABLE temp.latest")
        after = self.conn.execute(f"SELECT count(*) FROM {into}").fetchone()[0]
        return after - before

    # --- bulk loads ----------------------------------------------------------------------
    def begin_bulk(self, drop_indexes: bool) -> tuple[int, list[str]]:
        """Defer FTS (and optionally index) maintenance to the end of a big load.

        Inside the caller's write transaction, so a kill or error rolls it all back.
        Returns the state `end_bulk` needs: the last seq before the load, and the
        SQL of the dropped indexes.
        """
        from maillog_cli.store.migrations import drop_fts_triggers

        before = self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        drop_fts_triggers(self.conn)
        # FTS segments are merged once at the end, not after every batch (−0.7 µs/event);
        # crisismerge still bounds them meanwhile.
        self.conn.execute("INSERT INTO events_fts(events_fts, rank) VALUES ('automerge', 0)")
        dropped = self._drop_indexes("events") if drop_indexes else []
        return before, dropped

    def _drop_indexes(self, table: str) -> list[str]:
        """Drop the secondary indexes of `table` (inside the caller's transaction) before a
        write that touches most of it; returns their SQL, to build them again after.

        The bounce indexes stay: they hold 6 % of the events, cheaper to add to row by
        row than to build again, which reads every event's row (≈ 0.4 s per million each)."""
        dropped: list[str] = []
        for name, sql in self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",
            (table,),
        ).fetchall():
            if name in BOUNCE_INDEXES or name in BOUNCE_DISTINCT_INDEXES:
                continue
            self.conn.execute(f'DROP INDEX "{name}"')
            dropped.append(sql)
        return dropped

    @contextmanager
    def indexes_deferred(self, table: str, defer: bool) -> Iterator[None]:
        """With `defer`, `table`'s secondary indexes are dropped for the block and built
        again after it, sorted, in the same transaction: cheaper than updating them row by
        row when the block writes more rows than the table held."""
        dropped = self._drop_indexes(table) if defer else []
        yield
        for sql in dropped:
            self.conn.execute(sql)

    def row_count_estimate(self, table: str) -> int:
        """Rows in a rowid table, cheaply (max rowid; deletions make it an over-estimate)."""
        return int(self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0])

    def end_bulk(self, state: tuple[int, list[str]]) -> None:
        """Rebuild what begin_bulk deferred: indexes, then the FTS rows of the new events."""
        from maillog_cli.store.migrations import create_fts_triggers

        before, dropped = state
        for sql in dropped:
            self.conn.execute(sql)
        self.index_text(before)
        self.conn.execute("INSERT INTO events_fts(events_fts, rank) VALUES ('automerge', 4)")
        create_fts_triggers(self.conn)

    def index_text(self, after: int) -> int:
        """Add the FTS rows of the events past seq `after` (during a bulk load); returns the
        last seq indexed, to pass next time."""
        last = self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if last > after:
            self.conn.execute(
                "INSERT INTO events_fts(rowid, subject, sender, recipient, diagnostic)"
                " SELECT seq, subject, sender, recipient, diagnostic FROM events"
                " WHERE seq > ? AND seq <= ?",
                (after, last),
            )
        return int(last)

    def event_count_estimate(self) -> int:
        """Rows in events, cheaply (max seq; deletions make it an over-estimate)."""
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    # --- provenance ------------------------------------------------------------------
    def start_import(self, source: str, fmt: str | None) -> int:
        cur = self.conn.execute(
            "INSERT INTO imports(source, format, started_at) VALUES (?, ?, ?)",
            (source, fmt, now_iso()),
        )
        return int(cur.lastrowid or 0)

    def finish_import(self, import_id: int, **counts: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in counts)
        self.conn.execute(
            f"UPDATE imports SET {sets}, finished_at = ? WHERE id = ?",
            (*counts.values(), now_iso(), import_id),
        )

    # --- reading ---------------------------------------------------------------------
    def resolve_message_id(self, ident: str) -> str | None:
        """The stored message id for any of its identities (with or without <>)."""
        from maillog_cli.normalize import message_id

        mid = message_id(ident)
        if not mid:
            return None
        for sql in (
            "SELECT message_id FROM messages WHERE message_id = ?",
            "SELECT message_id FROM message_aliases WHERE alias = ?",
            "SELECT message_id FROM events WHERE message_id = ? LIMIT 1",
        ):
            row = self.conn.execute(sql, (mid,)).fetchone()
            if row:
                return row[0]
        return None

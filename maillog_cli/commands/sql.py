"""`sql`: the read-only escape hatch over the documented schema.

Read-only twice over: the store is opened with `mode=ro` (through a quoted URI, so no
file name can change the mode), and an authorizer refuses every statement that would
write, attach, set a pragma, or call a function that leaks pointers or loads code.
A runaway query ends with one line: Ctrl-C, a time limit and a memory limit stop it.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from types import TracebackType
from typing import Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, FormatOption, OutputFormat

DEFAULT_TIMEOUT = 30.0  # seconds; 0 = no limit
DEFAULT_MAX_MEMORY = 256  # MiB of SQLite memory; 0 = no limit
PROGRESS_STEPS = 10_000  # SQLite VM steps between checks of the clock and of Ctrl-C
_MIB = 1 << 20


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)


def sql(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help="A SELECT over the documented schema (events, messages, audit, imports).",
        ),
    ],
    fmt: FormatOption = OutputFormat.table,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0,
            metavar="SECONDS",
            help="Stop the query after this long (0 = no limit).",
        ),
    ] = DEFAULT_TIMEOUT,
    max_memory: Annotated[
        int,
        typer.Option(
            "--max-memory",
            min=0,
            metavar="MB",
            help="Stop the query when SQLite needs more memory than this (0 = no limit).",
        ),
    ] = DEFAULT_MAX_MEMORY,
    db: DbOption = None,
) -> None:
    """Read-only SQL escape hatch: nothing can change, and a runaway query is stopped."""
    from maillog_cli.context import open_store
    from maillog_cli.render.output import console, is_terminal, table, write_rows, write_tsv

    store = open_store(ctx, db, readonly=True)
    with QueryGuard(store.conn, timeout, max_memory) as guard:
        store.conn.set_authorizer(_reads_only)
        try:
            cur = store.conn.execute(query)
            names = [d[0] for d in cur.description or []]
            rows: Any = (dict(zip(names, r, strict=False)) for r in cur)
            if fmt is not OutputFormat.table:
                write_rows(rows, names, fmt.value)
            elif is_terminal():
                console().print(
                    table(
                        [(n, {"overflow": "fold"}) for n in names],
                        ([r[n] for n in names] for r in rows),
                    )
                )
            else:
                write_tsv([r[n] for n in names] for r in rows)
        except (sqlite3.Error, MemoryError) as exc:
            raise guard.explain(exc) from None


class QueryGuard:
    """Limits for one query: Ctrl-C, a deadline and a memory cap all end it.

    SQLite runs a query in C, where Python's Ctrl-C cannot reach it; a progress handler
    called every PROGRESS_STEPS steps stops it when the deadline has passed or a SIGINT
    arrived (our handler sets a flag and interrupts the connection). Memory: the longest
    string or blob a query may build is a quarter of the cap (a doubling string stops
    there, at once), and SQLite's hard heap limit (process-wide, only ever lowered: the
    CLI runs one query and exits) stops the rest.
    """

    def __init__(self, conn: sqlite3.Connection, timeout: float, max_memory: int) -> None:
        self.conn = conn
        self.timeout = timeout
        self.max_memory = max_memory
        self.deadline: float | None = None
        self.interrupted = False
        self.timed_out = False
        self._previous_sigint: Any = None

    def __enter__(self) -> QueryGuard:
        if self.timeout:
            self.deadline = time.monotonic() + self.timeout
        if self.max_memory:
            cap = min(self.max_memory * _MIB, 2**62)  # SQLite takes a 64-bit heap limit
            # the longest string or blob: a C int, so a huge --max-memory is clamped to it
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, min(max(_MIB, cap // 4), 2**31 - 1))
            self.conn.execute(f"PRAGMA hard_heap_limit = {cap}").fetchall()
        self.conn.set_progress_handler(self._should_stop, PROGRESS_STEPS)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.conn.set_progress_handler(None, 0)
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
        if self.interrupted and kind is None:
            raise KeyboardInterrupt  # Ctrl-C after the last row: still exit 130

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        self.conn.interrupt()

    def _should_stop(self) -> int:
        if self.interrupted:
            return 1
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def explain(self, exc: BaseException) -> BaseException:
        """The one-line error (or KeyboardInterrupt for Ctrl-C) a failed query ends with."""
        if self.interrupted:
            return KeyboardInterrupt()
        if self.timed_out:
            return MaillogError(
                f"the query ran longer than {self.timeout:g} s and was stopped",
                "narrow it, or give --timeout SECONDS (0 = no limit)",
            )
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if isinstance(exc, MemoryError) or code in (sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_TOOBIG):
            limit = f"the {self.max_memory} MB memory limit" if self.max_memory else "memory"
            return MaillogError(
                f"the query needed more than {limit} and was stopped",
                "narrow it, or give --max-memory MB (0 = no limit)",
            )
        return MaillogError(
            f"SQL error: {exc}",
            "maillog sql is read-only; the schema is in the README (tables events, messages, audit, imports)",
        )


# --- the authorizer ----------------------------------------------------------------------------

# Every action that changes a database, the schema, the connection's files or its
# transaction state. Refused even though the store is opened read-only: the open mode
# alone once depended on a file name being parsed right.
_WRITE_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_INDEX,
        sqlite3.SQLITE_CREATE_TEMP_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
        sqlite3.SQLITE_CREATE_TEMP_VIEW,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_INDEX,
        sqlite3.SQLITE_DROP_TEMP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_TRIGGER,
        sqlite3.SQLITE_DROP_TEMP_VIEW,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_DROP_VTABLE,
        sqlite3.SQLITE_ALTER_TABLE,
        sqlite3.SQLITE_REINDEX,
        sqlite3.SQLITE_ANALYZE,
        sqlite3.SQLITE_ATTACH,  # also VACUUM INTO, which creates a file
        sqlite3.SQLITE_DETACH,
        sqlite3.SQLITE_TRANSACTION,
        sqlite3.SQLITE_SAVEPOINT,
    }
)

# SQLite asks about "UPDATE sqlite_master" while it loads a virtual table's schema (FTS,
# pragma_table_info()); a user cannot write it (writable_schema is a refused pragma).
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema"})

# Functions that leak a pointer (fts3_tokenizer returns one, and with two arguments
# installs one) or load or touch files (load_extension; readfile/writefile/edit where a
# build has them).
_REFUSED_FUNCTIONS = frozenset(
    {"fts3_tokenizer", "load_extension", "readfile", "writefile", "edit"}
)

# Pragmas whose argument names a thing to read, not a value to set.
_PRAGMAS_WITH_ARGS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
        "table_list",
    }
)

# Pragmas that only report, without an argument. Anything else (optimize runs ANALYZE,
# wal_checkpoint and incremental_vacuum write, hard_heap_limit would lift our limit) is refused.
_READING_PRAGMAS = _PRAGMAS_WITH_ARGS | frozenset(
    {
        "application_id",
        "auto_vacuum",
        "cache_size",
        "collation_list",
        "compile_options",
        "data_version",  # FTS5 asks for it on every query
        "database_list",
        "encoding",
        "freelist_count",
        "function_list",
        "journal_mode",
        "module_list",
        "page_count",
        "page_size",
        "pragma_list",
        "schema_version",
        "user_version",
    }
)


def _reads_only(
    action: int, arg1: str | None, arg2: str | None, *_: object
) -> int:  # sqlite3 authorizer
    """SQLite authorizer for `maillog sql`: reading only, whatever the open mode."""
    if action in _WRITE_ACTIONS:
        if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() in _SCHEMA_TABLES:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name not in _READING_PRAGMAS:
            return sqlite3.SQLITE_DENY
        if arg2 is not None and name not in _PRAGMAS_WITH_ARGS:
            return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK

"""`maillog tail`: the last N matching events oldest first, then (--follow) new ones live."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.options import (
    DbOption,
    FormatOption,
    OutputFormat,
    TextArgument,
    cap_count,
    filter_options,
)

if TYPE_CHECKING:  # loads with the command's run, not with --help
    from maillog_cli.store.query import Filters


def register(app: typer.Typer) -> None:
    app.command("tail")(tail)


@filter_options
def tail(
    ctx: typer.Context,
    text: TextArgument = None,
    lines: Annotated[
        int,
        typer.Option(
            "--lines",
            "-n",
            min=0,
            callback=cap_count,
            help="Show the last N matching events first, oldest first; 0 for none.",
            rich_help_panel="Output",
        ),
    ] = 20,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-F",
            help="Keep printing new matching events as they are imported (Ctrl-C to stop).",
        ),
    ] = False,
    import_file: Annotated[
        Path | None,
        typer.Option(
            "--import",
            metavar="FILE",
            help="Follow a file another process appends to: import each new line, show the matches (implies --follow).",
            show_default=False,
        ),
    ] = None,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start",
            help="With --import: import the whole file first, not only what is appended from now on.",
        ),
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.05,
            max=60.0,
            help="Seconds between checks for new events while following.",
        ),
    ] = 0.25,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """The last events (oldest first, like tail(1)); with --follow, new ones as they land.

    New events come from any `maillog import` running meanwhile, or from a file being appended to (--import FILE). Ctrl-C stops cleanly.
    """
    from maillog_cli import follow as core
    from maillog_cli.context import db_path, error, open_store

    if from_start and import_file is None:
        raise typer.BadParameter("only makes sense with --import FILE", param_hint="--from-start")
    if follow and import_file is None and not _store_appeared(db_path(ctx, db), interval):
        return  # Ctrl-C while waiting for the first import
    store = open_store(ctx, db, readonly=import_file is None)
    growing = None
    try:
        if import_file is not None:
            growing = core.GrowingFile(import_file, from_start, notice=error)
        following = follow or growing is not None
        if following:
            _line_buffered()
            if fmt is OutputFormat.table and _is_tty(sys.stdout) and _is_tty(sys.stderr):
                _hint(lines)
        rows = core.tail(
            store,
            filters,
            lines,
            following,
            growing,
            report=error,
            interval=interval,
            stop=_reader_gone,
        )
        _emit(_until_interrupted(rows), fmt, following, store.conn)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a follow ends: exit 0, no traceback
    except BrokenPipeError:
        _silence_stdout()  # `maillog tail | head`: the reader has what it wanted
    finally:
        if growing is not None:
            growing.close()
        store.close()


def _store_appeared(path: Path, interval: float) -> bool:
    """Like tail -F on a file not there yet: wait until the first import creates the store
    (a new store appears whole, when its first file is in). False on Ctrl-C."""
    import time

    from maillog_cli.context import error

    if path.exists():
        return True
    error(f"waiting for {path} to be created by a first import… (Ctrl-C to stop)")
    try:
        while not path.exists():
            time.sleep(interval)
    except KeyboardInterrupt:
        return False
    return True


def _until_interrupted(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """End the stream on Ctrl-C, so writers close it properly (a json array gets its `]`)."""
    try:
        yield from rows
    except KeyboardInterrupt:
        return


def _emit(rows: Iterable[dict[str, Any]], fmt: OutputFormat, following: bool, conn: Any) -> None:
    """The rows in the chosen format; on a terminal one line each, with the columns of
    search's table and the id shortened as there. Nothing printed (and not following):
    stderr says why, as search does."""
    from maillog_cli.commands.listing import say_when_empty
    from maillog_cli.model import EVENT_KEYS
    from maillog_cli.render.events import event_line, table_cells
    from maillog_cli.render.output import console, is_terminal, write_rows, write_tsv
    from maillog_cli.store.query import short_id

    if fmt is not OutputFormat.table:
        shown = write_rows(rows, EVENT_KEYS, fmt.value)
    elif not is_terminal():
        shown = write_tsv(table_cells(r) for r in rows)
    else:
        out = console()
        shown = id_width = 0
        for row in rows:
            mid = row.get("message_id")
            short = short_id(conn, mid) if mid else ""
            id_width = max(id_width, len(short))  # lines already printed never move
            line = event_line(row, out.width, short, id_width)
            out.print(line, no_wrap=True, overflow="ellipsis", crop=True)
            shown += 1
    if not following:
        say_when_empty(conn, shown)


def _hint(lines: int) -> None:
    from maillog_cli.render.output import console

    what = "new matching events appear below" if lines else "waiting for new matching events"
    console(stderr=True).print(f"following: {what} (Ctrl-C to stop)", style="dim")


def _is_tty(stream: Any) -> bool:
    from maillog_cli.render.output import is_terminal

    return is_terminal(stream)


def _line_buffered() -> None:
    """While following, every line reaches a pipe at once (jq, grep), whatever the format."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(line_buffering=True)
        except (ValueError, OSError):  # pragma: no cover - an unusual stdout
            pass


def _reader_gone() -> bool:
    """True when stdout is a pipe whose reader has gone (`| head` finished) — noticed while idle."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR / POLLHUP are always reported
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, ValueError, OSError):
        return False


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        pass

"""`maillog import`: files, stdin, .gz and Maildir folders into the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, new_file
from maillog_cli.render.format import counted


def register(app: typer.Typer) -> None:
    app.command("import", no_args_is_help=False)(import_cmd)


def import_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FILE",
            help="Files to import; - for stdin; .gz is read transparently; a Maildir folder.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="auto (detect per record), or force one format: see --list-formats."
        ),
    ] = "auto",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Abort a file at its first bad record and import nothing from it."
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            metavar="FILE",
            parser=new_file,
            help="Write rejected records to this new file (JSONL: source, line, error, record).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Let --rejects overwrite an existing file (never an input or the store).",
        ),
    ] = False,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Time zone for times that carry none (default UTC), e.g. Europe/Berlin."
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(
            "--year",
            min=1970,
            max=9999,
            help="Syslog lines without a year (Mar  1 10:00:01 …): the year of the first line "
            "(default: from the file's time).",
            show_default=False,
        ),
    ] = None,
    field_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="Generic CSV/JSONL: map a column to a field, col=field (repeatable)."
        ),
    ] = None,
    list_formats: Annotated[
        bool,
        typer.Option(
            "--list-formats", help="List every format and how it is recognised, then exit."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")
    ] = False,
    max_record_mb: Annotated[
        float | None,
        typer.Option(
            "--max-record-mb",
            help="Record cap: a line, CSV field or JSON value bigger than this (decompressed) "
            "is a bad record. Default 16, or $MAILLOG_MAX_RECORD_MB.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import exports and webhook dumps of any provider (auto-detected per record), raw emails and audit logs.

    Bad records are skipped and reported as FILE:LINE: why (exit 1); a file with a
    problem as a whole imports nothing and does not stop the other files.
    """
    from maillog_cli.dates import parse_tz
    from maillog_cli.importers.base import Context
    from maillog_cli.ingest import pipeline, readers

    if list_formats:
        _list_formats()
        return
    if not files:
        raise MaillogError("nothing to import", "give one or more files, or - for stdin")
    mapping: dict[str, str] = {}
    for item in field_map or []:
        col, sep, target = item.partition("=")
        if not sep or not col.strip() or not target.strip():
            raise typer.BadParameter(f"{item!r} is not col=field", param_hint="--map")
        mapping[col.strip()] = target.strip()
    from maillog_cli.importers.generic import FIELDS

    for target in mapping.values():
        if target not in FIELDS:
            raise typer.BadParameter(
                f"{target!r} is not a field; use one of {', '.join(FIELDS)}", param_hint="--map"
            )
    opts = pipeline.Options(
        fmt=None if fmt == "auto" else fmt,
        strict=strict,
        ctx=Context(default_tz=parse_tz(tz), field_map=mapping, year=year),
        max_record=readers.max_record_bytes(max_record_mb),
    )
    pipeline.resolve_format(opts.fmt)  # fail fast on an unknown --format
    from maillog_cli.context import db_path, error, make_data_dir, open_store, using_store

    if rejects is not None:
        _refuse_protected_rejects(rejects, files, db_path(ctx, db))
    from maillog_cli.store import aside

    store_path = db_path(ctx, db)
    make_data_dir(store_path)
    building = aside.wanted(store_path, files[0])
    using_store(store_path)
    store = aside.open_aside(store_path) if building else open_store(ctx, db)
    try:
        rejects_file = _open_rejects(rejects, force) if rejects else None
    except MaillogError:
        store.close()
        if building:
            aside.discard(aside.partial_path(store_path))
        raise
    opts.rejects = rejects_file
    from maillog_cli.render.output import is_terminal

    show = not quiet and is_terminal(sys.stderr)
    failed = False
    results = []
    try:
        for path in files:
            result = _import_one(store, path, opts, error, show)
            if building:
                building = False
                published = aside.publish(store, store_path)
                store = open_store(ctx, db)
                if not published:  # another process created the store meanwhile
                    _restart_rejects(rejects_file)
                    result = _import_one(store, path, opts, error, show)
            results.append(result)
            if not quiet:
                _summary(result)
            failed = failed or not result.ok
        if not quiet and len(results) > 1:
            _total(results)
    except KeyboardInterrupt:
        error("interrupted: the file being imported was rolled back; nothing of it is stored")
        raise SystemExit(130) from None
    finally:
        if rejects_file:
            rejects_file.close()
        store.close()
        if building:  # interrupted before the first file was published: nothing stays
            aside.discard(aside.partial_path(store_path))
    if failed:
        raise typer.Exit(1)


def _restart_rejects(rejects_file) -> None:  # IO[str] | None
    """Empty the rejects file before a file is imported again from the start."""
    if rejects_file is not None:
        rejects_file.seek(0)
        rejects_file.truncate()


def _refuse_protected_rejects(rejects: Path, files: list[str], store: Path) -> None:
    """--rejects never names an input (a hard or symbolic link to one included) or the
    store or its journal files: opening it for writing would empty them."""
    from maillog_cli.store.db import same_file, store_files

    inputs = [Path(f) for f in files if f != "-"]
    what = None
    if any(same_file(rejects, p) for p in inputs) or ("-" in files and _is_stdin(rejects)):
        what = "an input file"
    elif any(same_file(rejects, p) for p in store_files(store)):
        what = "the store"
    if what:
        raise MaillogError(
            f"--rejects {rejects} is {what}; nothing imported",
            "give a new file for the rejected records",
        )


def _is_stdin(path: Path) -> bool:
    """Whether standard input is redirected from this very file."""
    import os

    try:
        here, there = os.fstat(sys.stdin.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _open_rejects(path: Path, force: bool):  # -> IO[str]
    """A new file for rejected records; an existing one only with --force (a link to a file
    writes that file; a pipe or device is written straight into)."""
    from maillog_cli.paths import write_target

    path = write_target(path, into_special=True)
    try:
        return open(path, "w" if force else "x", encoding="utf-8")  # noqa: SIM115
    except FileExistsError:
        raise MaillogError(
            f"--rejects {path} already exists; nothing imported",
            "give a new file, or add --force to overwrite it",
        ) from None
    except OSError as exc:
        raise MaillogError(
            f"--rejects {path}: cannot write it ({exc.strerror or exc}); nothing imported"
        ) from None


def _import_one(store, path: str, opts, report, show_progress: bool):
    from maillog_cli.ingest import pipeline
    from maillog_cli.render.output import is_terminal

    if path == "-" and is_terminal(sys.stdin):  # else a silent spinner waits for typing
        report("reading from the terminal: paste or type records, then Ctrl-D (Ctrl-C cancels)")
    if not show_progress:
        return pipeline.import_path(store, path, opts, report)
    from maillog_cli.render.progress import file_progress

    with file_progress(Path(path).name) as (notice, update):
        return pipeline.import_path(store, path, opts, notice, update)


def _total(results: list) -> None:
    """After several files, one line that adds them up (`import *.eml`)."""
    failed = sum(1 for r in results if r.error)
    new = sum(r.new for r in results)
    present = sum(r.duplicates for r in results)
    skipped = sum(sum(r.skipped.values()) + r.rejected for r in results)
    audit = sum(r.audit for r in results)
    parts = [
        counted(len(results), "file"),
        counted(new, "new event"),
        f"{present:,} already present",
        f"{skipped:,} skipped",
    ]
    if audit:
        parts.append(counted(audit, "new audit entry", "new audit entries"))
    if failed:
        parts.append(f"{failed:,} failed (nothing of them stored)")
    _say("total: " + ", ".join(parts))


def _summary(result) -> None:
    from maillog_cli.context import error

    if result.error:
        error(f"error: {result.error}")
        return
    if result.note and not (result.new or result.duplicates or result.skipped or result.rejected):
        _say(f"{result.source}: {result.note}, nothing to import")
        return
    events = result.new + result.duplicates
    audit_only = result.audit_seen and not events
    if audit_only:
        parts = [
            counted(result.audit, "new audit entry", "new audit entries"),
            f"{result.audit_seen - result.audit:,} already present",
        ]
    else:
        parts = [counted(result.new, "new event"), f"{result.duplicates:,} already present"]
    skipped = sum(result.skipped.values()) + result.rejected
    if skipped:
        why = [f"{n} {w}" for w, n in result.skipped.most_common(3)]
        if result.rejected:
            why.append(f"{result.rejected} malformed or unrecognised")
        parts.append(f"{skipped:,} skipped ({'; '.join(why)})")
    else:
        parts.append("0 skipped")
    extra = []
    if result.contents:
        extra.append(counted(result.contents, "email") + " stored")
    if result.audit_seen and not audit_only:
        extra.append(
            counted(result.audit, "new audit entry", "new audit entries")
            + f" ({result.audit_seen - result.audit:,} already present)"
        )
    fmts = ", ".join(sorted(result.formats)) or "-"
    _say(f"{result.source}: {', '.join(parts + extra)} [{fmts}]")


def _say(line: str) -> None:
    """A summary line on stderr, made visible like every other message."""
    from maillog_cli.render.output import visible

    sys.stderr.write(visible(line) + "\n")


def _list_formats() -> None:
    from maillog_cli import importers
    from maillog_cli.render.output import console, is_terminal, table, write_tsv

    rows = [(m.NAME, m.SIGNATURE, getattr(m, "SHAPES", "")) for m in importers.all_importers()]
    if is_terminal():
        console().print(
            table(
                [
                    ("format", {"style": "bold", "no_wrap": True}),
                    ("recognised by", {}),
                    ("shapes", {}),
                ],
                rows,
            )
        )
    else:
        write_tsv(rows)

"""`maillog import`: files, stdin, .gz and Maildir folders into the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption


def register(app: typer.Typer) -> None:
    app.command("import", no_args_is_help=False)(import_cmd)


def import_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[str] | None,
        typer.Argument(
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
            "--rejects", help="Write rejected records here (JSONL: source, line, error, record)."
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Time zone for times that carry none (default UTC), e.g. Europe/Berlin."
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
    db: DbOption = None,
) -> None:
    """Import exports and webhook dumps of any provider (auto-detected per record), raw emails and audit logs.

    Bad records are skipped and reported as FILE:LINE: why (exit 1); a file with a
    problem as a whole imports nothing and does not stop the other files.
    """
    from maillog_cli.dates import parse_tz
    from maillog_cli.importers.base import Context
    from maillog_cli.ingest import pipeline

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
        ctx=Context(default_tz=parse_tz(tz), field_map=mapping),
    )
    pipeline.resolve_format(opts.fmt)  # fail fast on an unknown --format
    from maillog_cli.context import error, open_store

    store = open_store(ctx, db)
    rejects_file = open(rejects, "w", encoding="utf-8") if rejects else None  # noqa: SIM115
    opts.rejects = rejects_file
    show = not quiet and sys.stderr.isatty()
    failed = False
    try:
        for path in files:
            result = _import_one(store, path, opts, error, show)
            if not quiet:
                _summary(result)
            failed = failed or not result.ok
    except KeyboardInterrupt:
        error("interrupted: the file being imported was rolled back; nothing of it is stored")
        raise SystemExit(130) from None
    finally:
        if rejects_file:
            rejects_file.close()
        store.close()
    if failed:
        raise typer.Exit(1)


def _import_one(store, path: str, opts, report, show_progress: bool):
    from maillog_cli.ingest import pipeline

    if not show_progress:
        return pipeline.import_path(store, path, opts, report)
    from maillog_cli.render.progress import file_progress

    with file_progress(Path(path).name) as (notice, update):
        return pipeline.import_path(store, path, opts, notice, update)


def _summary(result) -> None:
    from maillog_cli.context import error

    if result.error:
        error(f"error: {result.error}")
        return
    if result.note and not (result.new or result.duplicates or result.skipped or result.rejected):
        sys.stderr.write(f"{_name(result.source)}: {result.note}, nothing to import\n")
        return
    events = result.new + result.duplicates
    audit_only = result.audit_seen and not events
    if audit_only:
        parts = [
            f"{result.audit} new audit entries",
            f"{result.audit_seen - result.audit} already present",
        ]
    else:
        parts = [f"{result.new} new events", f"{result.duplicates} already present"]
    skipped = sum(result.skipped.values()) + result.rejected
    if skipped:
        why = [f"{n} {w}" for w, n in result.skipped.most_common(3)]
        if result.rejected:
            why.append(f"{result.rejected} malformed or unrecognised")
        parts.append(f"{skipped} skipped ({'; '.join(why)})")
    else:
        parts.append("0 skipped")
    extra = []
    if result.contents:
        extra.append(f"{result.contents} emails stored")
    if result.audit_seen and not audit_only:
        extra.append(
            f"{result.audit} new audit entries ({result.audit_seen - result.audit} already present)"
        )
    fmts = ", ".join(sorted(result.formats)) or "-"
    sys.stderr.write(f"{_name(result.source)}: {', '.join(parts + extra)} [{fmts}]\n")


def _name(source: str) -> str:
    from maillog_cli.render.output import visible

    return visible(source)


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

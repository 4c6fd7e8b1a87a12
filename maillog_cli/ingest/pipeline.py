"""The import pipeline, written once for every format.

It flows one way: source (readers) → parsed items (records) → the record loop (loop, or
the forked parser for big files) → batches into the store (batches) → provenance. One
transaction per file: a file either goes in (minus its reported bad records) or, on a
file-level problem, `--strict`, Ctrl-C or a kill, not at all.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from maillog_cli import importers
from maillog_cli.errors import FileFormatError, MaillogError
from maillog_cli.ingest import forked, loop, readers
from maillog_cli.ingest.batches import BULK_BYTES, Ingest
from maillog_cli.ingest.loop import REPORT_LIMIT, Abort, Options, Progress, Reporter
from maillog_cli.ingest.records import FileResult
from maillog_cli.store.db import Store

__all__ = [
    "BULK_BYTES",
    "FileResult",
    "Ingest",
    "Options",
    "Progress",
    "Reporter",
    "import_path",
    "import_source",
    "resolve_format",
]


def resolve_format(name: str | None) -> ModuleType | None:
    if name is None or name == "auto":
        return None
    module = importers.by_format(name)
    if module is None:
        names = ", ".join(sorted(m.NAME for m in importers.all_importers()))
        raise MaillogError(f"unknown format {name!r}", f"use one of: auto, {names}")
    return module


def import_source(
    store: Store,
    source: readers.Source,
    opts: Options,
    report: Reporter,
    progress: Progress | None = None,
) -> FileResult:
    """Import one opened source in one transaction; never raises for bad data."""
    result = FileResult(source=source.name)
    forced = resolve_format(opts.fmt)
    try:
        with store.write():
            import_id = store.start_import(source.name, opts.fmt or "auto")
            ingest = Ingest(store, result, import_id, source.size)
            consume = forked.consume if forked.wanted(source) else loop.consume
            added = consume(source, opts, forced, ingest, report, progress)
            _finish_file(
                ingest, source.name, added, opts, forced, report, source.counter.sha256.hexdigest()
            )
    except Abort as exc:
        return _failed(result, str(exc))
    except FileFormatError as exc:
        msg = str(exc)
        return _failed(result, msg if msg.startswith(source.name) else f"{source.name}: {msg}")
    if progress is not None:
        progress(source.counter.count, source.size)
    return result


def _finish_file(
    ingest: Ingest,
    name: str,
    added: int,
    opts: Options,
    forced: ModuleType | None,
    report: Reporter,
    sha256: str | None,
) -> None:
    """After the loop: the count of unshown errors, the unknown-format verdict, the messages
    refresh and the provenance row, inside the file's transaction."""
    result = ingest.result
    if result.rejected > REPORT_LIMIT:
        more = result.rejected - REPORT_LIMIT
        report(
            f"{name}: … {more} more bad record{'s' if more > 1 else ''} not shown"
            + ("" if opts.rejects else " (--rejects FILE keeps them all)")
        )
    if result.rejected and not added and not result.formats:
        raise Abort(f"{name}: {_no_format_verdict(result, forced)}")
    ingest.finish()
    assert ingest.import_id is not None  # a file import always has its imports row
    ingest.store.finish_import(
        ingest.import_id,
        sha256=sha256,
        new_events=result.new,
        duplicates=result.duplicates,
        skipped=sum(result.skipped.values()),
        errors=result.rejected,
        new_messages=result.new_messages,
        new_audit=result.audit,
        format=",".join(sorted(result.formats)) or opts.fmt or "auto",
    )


def _no_format_verdict(result: FileResult, forced: ModuleType | None) -> str:
    """Why nothing was imported, pointing at the format the records look like (never
    suggesting again the --format that just failed)."""
    if forced is None and not result.unrecognised:
        # every record failed to be read (over the cap, broken JSON): --format cannot help
        return "no record could be read; nothing imported (the lines above say why)"
    if forced is None:
        return "no record in a format maillog knows; nothing imported (try --format NAME, see maillog import --list-formats)"
    if result.looks_like:
        other = result.looks_like.most_common(1)[0][0]
        return (
            f"no record fits --format {forced.NAME}; nothing imported "
            f"(the records look like {other}: use --format {other} or leave --format out)"
        )
    fix = result.fix or "leave --format out, or see maillog import --list-formats"
    return f"no record fits --format {forced.NAME}; nothing imported ({fix})"


def _failed(result: FileResult, message: str) -> FileResult:
    """Nothing of the file stays: zero the counts and keep the one-line reason."""
    fresh = FileResult(source=result.source, rejected=result.rejected, error=message)
    return fresh


def import_path(
    store: Store, path: str, opts: Options, report: Reporter, progress: Progress | None = None
) -> FileResult:
    """Open and import one command-line argument (a file, `-`, a .gz, or a Maildir folder)."""
    p = Path(path)
    email_mod = importers.load("email.files")
    if path != "-" and p.is_dir() and email_mod is not None and email_mod.is_maildir(p):
        return _import_maildir(store, p, opts, report, email_mod)
    try:
        source = readers.open_source(path)
    except FileFormatError as exc:
        return FileResult(source=path, error=str(exc))
    try:
        return import_source(store, source, opts, report, progress)
    finally:
        source.close()


def _import_maildir(
    store: Store, path: Path, opts: Options, report: Reporter, email_mod: ModuleType
) -> FileResult:
    """A Maildir folder is one source: one transaction, the same record loop and policy."""
    result = FileResult(source=str(path))
    result.formats[email_mod.NAME] += 1
    items = ((name, item, None) for name, item in email_mod.read_maildir(path, opts.ctx))
    try:
        with store.write():
            ingest = Ingest(store, result, store.start_import(str(path), email_mod.NAME))
            added = loop.feed(str(path), items, opts, ingest, report)
            _finish_file(ingest, str(path), added, opts, email_mod, report, None)
    except Abort as exc:
        return _failed(result, str(exc))
    return result

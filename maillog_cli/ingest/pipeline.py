"""The import pipeline, written once for every format.

read (stream, sniff the container) → detect the importer per record → parse to canonical
events → classify bounces → insert in batches → refresh the messages rows → record
provenance. One transaction per file: a file either goes in (minus its reported bad
records) or, on a file-level problem, `--strict`, Ctrl-C or a kill, not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import orjson

from maillog_cli import importers
from maillog_cli.errors import FileFormatError, MaillogError, RecordError
from maillog_cli.importers.base import Context
from maillog_cli.ingest import readers
from maillog_cli.model import AuditEntry, Event, Skip, StoredMessage
from maillog_cli.store.db import Store, event_row

BATCH = 5000
# Files at least this big defer FTS maintenance to the end of the load; when they are also
# big next to the store, the events indexes are dropped and rebuilt (measured: benchmarks/).
BULK_BYTES = 8 << 20
BYTES_PER_EVENT = 250
REPORT_LIMIT = 20  # per file; the rest are counted (and written to --rejects)
UNKNOWN_AFTER = 1000  # bad records in a row with nothing recognised: the file is not ours
# What an importer may raise for a record it recognised but cannot read.
RECORD_ERRORS = (
    RecordError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)

Reporter = Callable[[str], None]
Progress = Callable[[int, int | None], None]


@dataclass
class Options:
    fmt: str | None = None  # --format; None/"auto" = detect per record
    strict: bool = False
    rejects: IO[str] | None = None
    ctx: Context = field(default_factory=Context)


@dataclass
class FileResult:
    source: str
    new: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # valid records with no event, by why
    rejected: int = 0  # malformed or unrecognised records
    new_messages: int = 0
    contents: int = 0
    audit: int = 0  # new audit entries
    audit_seen: int = 0  # audit entries read (new + already present)
    formats: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # a file-level problem: nothing was imported
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.rejected == 0


class _Abort(Exception):
    """Internal: stop this file and roll it back (strict mode, unknown format)."""


def _keys(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = list(obj)[:8]
        more = ", …" if len(obj) > 8 else ""
        return ", ".join(str(k)[:40] for k in keys) + more if keys else "(none)"
    return f"a JSON {type(obj).__name__}"


def _classifier() -> Callable[[Event], None]:
    from maillog_cli.bounce.classify import classify

    def apply(e: Event) -> None:
        if e.bounce_class is None or e.bounce_reason is None:
            v = classify(e.status, e.smtp_code, e.enhanced_code, e.diagnostic, e.bounce_hint)
            if v is not None:
                e.bounce_class = e.bounce_class or v.bounce_class
                e.bounce_reason = e.bounce_reason or v.bounce_reason

    return apply


class Ingest:
    """Collects parsed items for one file inside one open write transaction."""

    def __init__(
        self, store: Store, result: FileResult, import_id: int, size: int | None = None
    ) -> None:
        self.store, self.result, self.import_id = store, result, import_id
        self.bulk: tuple[int, list[str]] | None = None
        store.conn.execute("CREATE TEMP TABLE IF NOT EXISTS touched (message_id TEXT PRIMARY KEY)")
        store.conn.execute("DELETE FROM touched")
        if size is not None and size >= BULK_BYTES:
            expected = size // BYTES_PER_EVENT
            self.bulk = store.begin_bulk(drop_indexes=expected > 2 * store.event_count_estimate())
        self.events: list[Event] = []
        self.audit: list[AuditEntry] = []
        self.classify = _classifier()

    def add(self, item: Event | AuditEntry | Skip | StoredMessage) -> None:
        if isinstance(item, Event):
            self.classify(item)
            self.events.append(item)
            if len(self.events) >= BATCH:
                self.flush()
        elif isinstance(item, AuditEntry):
            self.audit.append(item)
            if len(self.audit) >= BATCH:
                self.flush()
        elif isinstance(item, StoredMessage):
            self._save_content(item)
        elif isinstance(item, Skip):
            self.result.skipped[item.why] += 1

    def _save_content(self, item: StoredMessage) -> None:
        if self.store.save_content(item):
            self.result.contents += 1
        self.store.conn.execute("INSERT OR IGNORE INTO touched VALUES (?)", (item.message_id,))

    def flush(self) -> None:
        if self.events:
            rows = [event_row(e, self.import_id) for e in self.events]
            ids = {(e.message_id,) for e in self.events if e.message_id}
            aliases = {
                (a, e.message_id)
                for e in self.events
                if e.message_id
                for a in e.aliases
                if a and a != e.message_id
            }
            self.events = []
            self._write_events(rows, ids, aliases)
        if self.audit:
            entries, self.audit = self.audit, []
            self._write_audit(entries)

    def _write_events(
        self, rows: list[tuple[Any, ...]], ids: set[tuple[str]], aliases: set[tuple[str, str]]
    ) -> None:
        new = self.store.insert_rows(rows)
        self.result.new += new
        self.result.duplicates += len(rows) - new
        self.store.conn.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ids)
        if aliases:
            self.store.insert_aliases(aliases)

    def _write_audit(self, entries: list[AuditEntry]) -> None:
        self.result.audit += self.store.insert_audit(entries, self.import_id)
        self.result.audit_seen += len(entries)

    def index_text(self) -> None:
        """During a bulk load, bring the FTS rows up to date now (when there is idle time)."""
        if self.bulk is not None:
            before, dropped = self.bulk
            self.bulk = (self.store.index_text(before), dropped)

    def finish(self) -> None:
        self.flush()
        if self.bulk is not None:
            self.store.end_bulk(self.bulk)
        self.result.new_messages = self.store.refresh_messages("touched")


# --- reading a source into parsed items -------------------------------------------------------


Item = tuple[
    int | str, Any, Any
]  # (location, Event/AuditEntry/Skip/StoredMessage or RecordError, raw record)


def parse_value(
    value: Any, ctx: Context, forced: ModuleType | None, result: FileResult
) -> Iterator[Any]:
    """Detect and parse one JSON value (arrays are walked); yields items or RecordErrors."""
    if isinstance(value, list):
        for element in value:
            yield from parse_value(element, ctx, forced, result)
        return
    if not isinstance(value, dict):
        yield RecordError(f"unrecognised record: {_keys(value)}")
        return
    module = forced if forced is not None else importers.detect(value)
    if module is None:
        wrapped = _wrapped_list(value)
        if wrapped is not None:  # an export page no importer claims: {"Messages": [...]} …
            for element in wrapped:
                yield from parse_value(element, ctx, forced, result)
            return
        yield RecordError(f"unrecognised record: keys {_keys(value)}")
        return
    if forced is not None and not _fits(forced, value, ctx):
        yield RecordError(f"does not fit --format {forced.NAME}: keys {_keys(value)}")
        return
    result.formats[module.NAME] += 1
    yield from _guarded(module.parse, value, ctx)


def _wrapped_list(value: dict[str, Any]) -> list[Any] | None:
    """The list of a wrapped export (one of readers.WRAPPER_KEYS), if that is what it is."""
    lists = [k for k in readers.WRAPPER_KEYS if isinstance(value.get(k), list)]
    return value[lists[0]] if len(lists) == 1 and value[lists[0]] else None


def _fits(module: ModuleType, value: dict[str, Any], ctx: Context) -> bool:
    """Whether a forced format accepts a record (with --map applied where it matters)."""
    if hasattr(module, "fits"):
        return bool(module.fits(value, ctx))
    return not hasattr(module, "detect") or bool(module.detect(value))


def _guarded(parse: Callable[..., Iterable[Any]], record: Any, ctx: Context) -> Iterator[Any]:
    """An importer's items for one record; an exception it raises ends that record as a
    RecordError (whether parse is a generator or returns a list).

    Importers may also yield RecordError instances for one bad element of a batch or page,
    so the good elements of the same object are kept.
    """
    try:
        yield from parse(record, ctx)
    except RECORD_ERRORS as exc:
        yield exc if isinstance(exc, RecordError) else RecordError(_describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def iter_items(
    source: readers.Source, ctx: Context, forced: ModuleType | None, result: FileResult
) -> Iterator[Item]:
    """Every parsed item of a source with its location; FileFormatError for file problems."""
    head = readers.peek_head(source)
    if not head.strip():
        result.note = "empty input"
        return
    email_mod = importers.load("email.files")
    if email_mod is not None and (
        forced is email_mod or (forced is None and email_mod.sniff(source.name, head))
    ):
        result.formats[email_mod.NAME] += 1
        for loc, item in email_mod.read(source.stream, source.name, ctx):
            yield loc, item, None
        return
    codec, bom = readers.detect_encoding(head)
    if codec == "utf-8":
        readers.check_text(head[bom:])
    container = readers.container_of(head[bom:])
    if forced is not None and hasattr(forced, "detect_header") and not hasattr(forced, "detect"):
        container = "csv"
    if container == "jsonl":
        values: Iterable[tuple[int | str, Any]] = readers.iter_jsonl(source.stream, codec, bom)
    elif container == "json":
        values = readers.iter_json_document(source.stream, codec, bom, source.size, source.path)
    elif container == "form":
        values = _form_values(source)
    else:
        yield from _csv_items(source, codec, bom, ctx, forced, result)
        return
    for loc, value in values:
        if isinstance(value, RecordError):
            yield loc, value, getattr(value, "raw", None)
            continue
        for item in parse_value(value, ctx, forced, result):
            yield loc, item, value


def _form_values(source: readers.Source) -> Iterator[tuple[int, Any]]:
    from maillog_cli.importers import mandrill

    data = source.stream.read()
    try:
        text = data.decode("utf-8")
        yield 1, mandrill.decode_form_body(text)
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"form body is not valid UTF-8 at byte {exc.start}") from None
    except RecordError as exc:
        raise FileFormatError(f"mandrill_events form body: {exc}") from None


def _csv_items(
    source: readers.Source,
    codec: str,
    bom: int,
    ctx: Context,
    forced: ModuleType | None,
    result: FileResult,
) -> Iterator[Item]:
    header, rows = readers.iter_csv(source.stream, codec, bom)
    if not header:
        result.note = "empty input"
        return
    if forced is not None:
        module = forced
        fits = getattr(module, "fits_header", None)
        if not (
            fits(header, ctx)
            if fits
            else hasattr(module, "detect_header") and module.detect_header(header)
        ):
            raise FileFormatError(
                f"line 1: the CSV columns do not fit --format {forced.NAME}: {', '.join(header[:10])}"
            )
    else:
        module = importers.detect_csv(header)
        if module is None:
            raise FileFormatError(
                f"line 1: CSV without the required columns (has {', '.join(h[:30] for h in header[:10])})",
                "maillog CSV needs status and timestamp; or map columns with --format generic --map col=field",
            )
    parse_row = getattr(module, "parse_csv_row", module.parse)  # CSV-only unquoting, if any
    for loc, row in rows:
        if isinstance(row, RecordError):
            yield loc, row, None
            continue
        result.formats[module.NAME] += 1
        for item in _guarded(parse_row, row, ctx):
            yield loc, item, row


# --- importing ----------------------------------------------------------------------------------


def resolve_format(name: str | None) -> ModuleType | None:
    if name is None or name == "auto":
        return None
    module = importers.by_format(name)
    if module is None:
        names = ", ".join(sorted(m.NAME for m in importers.all_importers()))
        raise MaillogError(f"unknown format {name!r}", f"use one of: auto, {names}")
    return module


def write_reject(out: IO[str], source: str, loc: int | str, why: str, raw: Any) -> None:
    """One rejected record as a JSON line: where it came from, why, and the record itself."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    out.write(
        orjson.dumps(
            {"source": source, "line": loc, "error": why, "record": raw}, default=str
        ).decode()
        + "\n"
    )


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
            from maillog_cli.ingest import forked as parallel

            consume = parallel.consume if parallel.wanted(source) else _consume
            added = consume(source, opts, forced, ingest, report, progress)
            _finish_file(
                ingest, source.name, added, opts, forced, report, source.counter.sha256.hexdigest()
            )
    except _Abort as exc:
        return _failed(result, str(exc))
    except FileFormatError as exc:
        msg = str(exc)
        return _failed(result, msg if msg.startswith(source.name) else f"{source.name}: {msg}")
    if progress is not None:
        progress(source.counter.count, source.size)
    return result


def _consume(
    source: readers.Source,
    opts: Options,
    forced: ModuleType | None,
    ingest: Ingest,
    report: Reporter,
    progress: Progress | None,
) -> int:
    """Feed every item of the source to `ingest`, reporting bad records; returns items added."""

    def tick(added: int) -> None:
        if progress is not None and added % 2000 == 0:
            progress(source.counter.count, source.size)

    try:
        items = iter_items(source, opts.ctx, forced, ingest.result)
        return _feed(source.name, items, opts, ingest, report, tick)
    except (OSError, EOFError) as exc:
        raise FileFormatError(f"{source.name}: unreadable data: {exc}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{source.name}: not valid UTF-8 (byte {exc.start})", "re-save it as UTF-8"
        ) from None


def _feed(
    name: str,
    items: Iterable[Item],
    opts: Options,
    ingest: Ingest,
    report: Reporter,
    tick: Callable[[int], None] | None = None,
) -> int:
    """The one record loop: good items to `ingest`, bad ones reported, rejected, or (with
    --strict) the end of the file. Returns how many items were added."""
    result, added = ingest.result, 0
    for loc, item, raw in items:
        if not isinstance(item, Exception):
            ingest.add(item)
            added += 1
            if tick is not None:
                tick(added)
            continue
        why = str(item) if isinstance(item, RecordError) else _describe(item)
        result.rejected += 1
        if result.rejected <= REPORT_LIMIT:
            report(f"{name}:{loc}: {why}")
        if opts.rejects is not None:
            write_reject(opts.rejects, name, loc, why, raw)
        if opts.strict:
            raise _Abort(f"{name}:{loc}: {why} (--strict: nothing imported from this file)")
        if result.rejected >= UNKNOWN_AFTER and not added and not result.formats:
            break
    return added


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
        hint = (
            f"--format {forced.NAME}"
            if forced
            else "--format NAME (see maillog import --list-formats)"
        )
        raise _Abort(f"{name}: no record in a format maillog knows; nothing imported (try {hint})")
    ingest.finish()
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
            added = _feed(str(path), items, opts, ingest, report)
            _finish_file(ingest, str(path), added, opts, email_mod, report, None)
    except _Abort as exc:
        return _failed(result, str(exc))
    return result

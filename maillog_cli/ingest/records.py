"""Reading a source into parsed items: sniff the container, detect the importer per
record, parse. Yields (location, item, raw record); an item is an Event, AuditEntry, Skip,
StoredMessage, or the RecordError that ended that record. Never touches the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any

from maillog_cli import importers
from maillog_cli.errors import FileFormatError, RecordError
from maillog_cli.importers.base import Context
from maillog_cli.ingest import envelopes, readers
from maillog_cli.ingest.fast import EVENTS, Readers
from maillog_cli.ingest.fast import NAME as listing_event_format
from maillog_cli.normalize import json_kind

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


@dataclass
class FileResult:
    source: str
    new: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # valid records with no event, by why
    rejected: int = 0  # malformed or unrecognised records
    unrecognised: int = 0  # of those, records read whole that no format claims
    new_messages: int = 0
    contents: int = 0
    audit: int = 0  # new audit entries
    audit_seen: int = 0  # audit entries read (new + already present)
    formats: Counter[str] = field(default_factory=Counter)
    looks_like: Counter[str] = field(default_factory=Counter)  # under a misfit --format
    fix: str | None = None  # the --map a misfit generic record needs
    error: str | None = None  # a file-level problem: nothing was imported
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.rejected == 0


def _keys(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = list(obj)[:8]
        more = ", …" if len(obj) > 8 else ""
        return ", ".join(str(k)[:40] for k in keys) + more if keys else "(none)"
    return f"{json_kind(obj)}, not an object"


Item = tuple[
    int | str, Any, Any
]  # (location, Event/AuditEntry/Skip/StoredMessage or RecordError, raw record)


def parse_value(
    value: Any, ctx: Context, forced: ModuleType | None, result: FileResult
) -> Iterator[Any]:
    """Detect and parse one JSON value (arrays are walked); yields items or RecordErrors."""
    if isinstance(value, RecordError):  # an envelope whose content cannot be read
        yield value
        return
    if isinstance(value, list):
        for element in value:
            yield from parse_value(element, ctx, forced, result)
        return
    if not isinstance(value, dict):
        result.unrecognised += 1
        yield RecordError(f"unrecognised record: {_keys(value)}")
        return
    module = forced if forced is not None else importers.detect(value)
    if module is None or not _fits(forced, value, ctx):
        # A transport envelope or an export page no importer claims: {"Records": [...]} …
        fits = (
            _recognised
            if forced is None
            else (lambda v: isinstance(v, dict) and _fits(forced, v, ctx))
        )
        wrapped = envelopes.inner(value, fits)
        if wrapped is not None:
            for element in wrapped:
                yield from parse_value(element, ctx, forced, result)
            return
    if module is None:
        result.unrecognised += 1
        yield RecordError(f"unrecognised record: keys {_keys(value)}")
        return
    if forced is not None and not _fits(forced, value, ctx):
        yield RecordError(_misfit(forced, value, ctx, result))
        return
    result.formats[module.NAME] += 1
    yield from guarded(module.parse, value, ctx)


def _misfit(forced: ModuleType, value: dict[str, Any], ctx: Context, result: FileResult) -> str:
    """Why a record does not fit the forced format, and which format it looks like."""
    message = f"does not fit --format {forced.NAME}"
    if forced.NAME == "generic":
        from maillog_cli.importers import generic

        fix = generic.missing_fields(value, ctx.field_map)
        result.fix = result.fix or fix
        return f"{message}: {fix or _keys(value)}"
    other = importers.detect(value)
    if other is not None and other is not forced:
        result.looks_like[other.NAME] += 1
        return f"{message}: it looks like {other.NAME} (keys {_keys(value)})"
    return f"{message}: keys {_keys(value)}"


def _recognised(value: Any) -> bool:
    """Whether detection (or an envelope's unwrapping) takes a value."""
    return isinstance(value, dict) and (
        importers.detect(value) is not None or envelopes.inner(value, lambda _v: False) is not None
    )


def _fits(module: ModuleType | None, value: dict[str, Any], ctx: Context) -> bool:
    """Whether a forced format accepts a record (with --map applied where it matters);
    True without one."""
    if module is None:
        return True
    if hasattr(module, "fits"):
        return bool(module.fits(value, ctx))
    return not hasattr(module, "detect") or bool(module.detect(value))


def guarded(parse: Callable[..., Iterable[Any]], record: Any, ctx: Context) -> Iterator[Any]:
    """An importer's items for one record; an exception it raises ends that record as a
    RecordError (whether parse is a generator or returns a list).

    Importers may also yield RecordError instances for one bad element of a batch or page,
    so the good elements of the same object are kept.
    """
    try:
        yield from parse(record, ctx)
    except RECORD_ERRORS as exc:
        yield exc if isinstance(exc, RecordError) else RecordError(describe(exc))


def describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def iter_items(
    source: readers.Source,
    ctx: Context,
    forced: ModuleType | None,
    result: FileResult,
    cap: int = readers.DEFAULT_MAX_RECORD_MB << 20,
    fast: Readers = EVENTS,
) -> Iterator[Item]:
    """Every parsed item of a source with its location; FileFormatError for file problems.
    `cap` is the record cap (readers.max_record_bytes); `fast` reads the records it knows
    for sure before detection (ingest.fast; the forked parser's make store rows)."""
    head = readers.peek_head(source)
    if not head.strip():
        result.note = "empty input"
        return
    email_mod = importers.load("email.files")
    if email_mod is not None and (
        forced is email_mod or (forced is None and email_mod.sniff(source.name, head))
    ):
        result.formats[email_mod.NAME] += 1
        for loc, item in email_mod.read(source.stream, source.name, ctx, source.path):
            yield loc, item, None
        return
    log_reader = text_log(head, forced)
    if log_reader is not None:
        yield from _text_log_items(source, log_reader, ctx, result)
        return
    if forced is None:
        from maillog_cli.importers.mta import lines

        misfit = lines.syslog_misfit(head)
        if misfit is not None:
            raise FileFormatError(
                f"line 1: {misfit}", "use --format postfix or --format exim to read it anyway"
            )
    codec, bom = readers.detect_encoding(head)
    text_head, stream = readers.read_head(readers.as_utf8(source.stream, codec, bom))
    container = readers.container_of(text_head)
    if forced is not None and hasattr(forced, "detect_header") and not hasattr(forced, "detect"):
        container = "csv"
    readers.check_text(text_head, header=container == "csv")
    reopen = _reopener(source, codec, bom)
    if container == "jsonl":
        values: Iterable[tuple[int | str, Any]] = readers.iter_jsonl(stream, cap)
    elif container == "json":
        values = readers.iter_json_document(stream, cap, reopen)
    elif container == "form":
        values = _form_values(stream, cap)
    else:
        yield from _csv_items(stream, cap, ctx, forced, result)
        return
    canonical = fast.canonical if forced is None or forced.NAME == listing_event_format else None
    sendgrid = fast.sendgrid
    formats = result.formats
    for loc, value in values:
        if type(value) is dict:
            if canonical is not None:
                event = canonical(value)
                if event is not None:  # our own canonical record (ingest.fast)
                    formats[listing_event_format] += 1
                    yield loc, event, value
                    continue
            if sendgrid is not None:
                row = sendgrid(value)
                if row is not None:  # a SendGrid event, as a store row (ingest.fast)
                    formats["sendgrid"] += 1
                    yield loc, row, value
                    continue
        if isinstance(value, RecordError):
            yield loc, value, getattr(value, "raw", None)
            continue
        for item in parse_value(value, ctx, forced, result):
            yield loc, item, value


def text_log(head: bytes, forced: ModuleType | None) -> ModuleType | None:
    """The mail-server log reader (Postfix, Exim) for a text of log lines, else None."""
    if forced is not None:
        return forced if hasattr(forced, "read_lines") else None
    from maillog_cli.importers.mta import lines

    kind = lines.sniff(head)
    return importers.load(f"mta.{kind}") if kind else None


def _text_log_items(
    source: readers.Source, module: ModuleType, ctx: Context, result: FileResult
) -> Iterator[Item]:
    """Mail-log lines: their facts (correlated later, in the store), skips and errors.
    A year-less syslog time takes its year from the file's last write (or --year)."""
    from datetime import UTC, datetime

    reference = None
    if source.path is not None:
        try:
            reference = datetime.fromtimestamp(source.path.stat().st_mtime, UTC)
        except OSError:
            reference = None
    for loc, item, raw in module.read_lines(source.stream, ctx, reference):
        provider = getattr(item, "provider", None)
        if provider is not None:
            result.formats[provider] += 1
        yield loc, item, raw


def _reopener(source: readers.Source, codec: str, bom: int) -> readers.Reopen | None:
    """A way to read a file on disk again from its start (a big page's first pass)."""
    path = source.path
    if path is None:
        return None

    def reopen() -> IO[bytes]:
        return readers.as_utf8(readers.open_source(str(path)).stream, codec, bom)

    return reopen


def _form_values(stream: IO[bytes], cap: int) -> Iterator[tuple[int, Any]]:
    from maillog_cli.importers import mandrill

    data = stream.read(cap + 1)
    problem = readers.over_cap(cap) if len(data) > cap else readers.too_many_values(data, cap)
    if problem is not None:
        yield 1, problem
        return
    try:
        text = data.decode("utf-8")
        yield 1, mandrill.decode_form_body(text)
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"form body is not valid UTF-8 at byte {exc.start}") from None
    except RecordError as exc:
        raise FileFormatError(f"mandrill_events form body: {exc}") from None


def _csv_misfit(forced: ModuleType, header: list[str], ctx: Context) -> tuple[str, str]:
    """The one-line error for CSV columns a forced format cannot read, with the fix: the
    missing field's --map under generic, else the format the columns look like."""
    message = f"line 1: the CSV columns do not fit --format {forced.NAME}: {', '.join(header[:10])}"
    if forced.NAME == "generic":
        from maillog_cli.importers import generic

        return message, generic.missing_fields(header, ctx.field_map) or ""
    other = importers.detect_csv(header)
    if other is not None and other is not forced:
        return (
            message,
            f"they look like {other.NAME}: use --format {other.NAME} or leave --format out",
        )
    return message, "leave --format out, or see maillog import --list-formats"


def _csv_items(
    stream: IO[bytes],
    cap: int,
    ctx: Context,
    forced: ModuleType | None,
    result: FileResult,
) -> Iterator[Item]:
    header, rows = readers.iter_csv(stream, cap)
    if not header:
        result.note = "empty input"
        return
    module: ModuleType | None
    if forced is not None:
        module = forced
        fits = getattr(module, "fits_header", None)
        if not (
            fits(header, ctx)
            if fits
            else hasattr(module, "detect_header") and module.detect_header(header)
        ):
            raise FileFormatError(*_csv_misfit(forced, header, ctx))
    else:
        module = importers.detect_csv(header)
        if module is None:
            from maillog_cli.importers import generic

            raise FileFormatError(
                f"line 1: CSV without the required columns (has {', '.join(h[:30] for h in header[:10])})",
                generic.missing_fields(header, ctx.field_map, forced=False)
                or "map columns with --format generic --map col=field",
            )
    parse_row = getattr(module, "parse_csv_row", module.parse)  # CSV-only unquoting, if any
    for loc, row in rows:
        if isinstance(row, RecordError):
            yield loc, row, None
            continue
        result.formats[module.NAME] += 1
        for item in guarded(parse_row, row, ctx):
            yield loc, item, row

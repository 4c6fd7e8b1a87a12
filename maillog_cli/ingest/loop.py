"""The one record loop: parsed items of a source to an `Ingest`, bad records reported,
written to --rejects, or (with --strict) the end of the file. Used in-process by the
pipeline and inside the forked parser alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any

import orjson

from maillog_cli.errors import FileFormatError, RecordError
from maillog_cli.importers.base import Context
from maillog_cli.ingest import readers
from maillog_cli.ingest.batches import Ingest
from maillog_cli.ingest.fast import EVENTS, Readers
from maillog_cli.ingest.records import Item, describe, iter_items

REPORT_LIMIT = 20  # per file; the rest are counted (and written to --rejects)
UNKNOWN_AFTER = 1000  # bad records in a row with nothing recognised: the file is not ours

Reporter = Callable[[str], None]
Progress = Callable[[int, int | None], None]


@dataclass
class Options:
    fmt: str | None = None  # --format; None/"auto" = detect per record
    strict: bool = False
    rejects: IO[str] | None = None
    ctx: Context = field(default_factory=Context)
    max_record: int = field(default_factory=readers.max_record_bytes)  # the record cap, bytes


class Abort(Exception):
    """Internal: stop this file and roll it back (strict mode, unknown format)."""


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


def consume(
    source: readers.Source,
    opts: Options,
    forced: ModuleType | None,
    ingest: Ingest,
    report: Reporter,
    progress: Progress | None,
    fast: Readers = EVENTS,
) -> int:
    """Feed every item of the source to `ingest`, reporting bad records; returns items added.
    `fast` reads the records it knows for sure (records.iter_items)."""

    def tick(added: int) -> None:
        if progress is not None and added % 2000 == 0:
            progress(source.counter.count, source.size)

    try:
        items = iter_items(source, opts.ctx, forced, ingest.result, opts.max_record, fast)
        return feed(source.name, items, opts, ingest, report, tick)
    except (OSError, EOFError) as exc:
        raise FileFormatError(f"{source.name}: unreadable data: {exc}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{source.name}: not valid UTF-8 (byte {exc.start})", "re-save it as UTF-8"
        ) from None


def feed(
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
        why = str(item) if isinstance(item, RecordError) else describe(item)
        result.rejected += 1
        if result.rejected <= REPORT_LIMIT:
            report(f"{name}:{loc}: {why}")
        if opts.rejects is not None:
            write_reject(opts.rejects, name, loc, why, raw)
        if opts.strict:
            raise Abort(f"{name}:{loc}: {why} (--strict: nothing imported from this file)")
        if result.rejected >= UNKNOWN_AFTER and not added and not result.formats:
            break
    return added

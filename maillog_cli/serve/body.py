"""A verified body → parsed items, through the same readers, detection and importer as
`maillog import` (the importer the route names, as `--format` would): so a webhook and a
dump of the same events make the same store.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import orjson

from maillog_cli import importers
from maillog_cli.errors import FileFormatError, RecordError
from maillog_cli.importers.base import Context
from maillog_cli.ingest import readers
from maillog_cli.ingest.records import FileResult, iter_items, parse_value
from maillog_cli.model import Event


class Malformed(Exception):
    """The body cannot be read as the provider's webhook: a 400 with this one line."""


@dataclass
class Parsed:
    """The good items of one body, and the one-line reasons of its bad records."""

    items: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(isinstance(i, Event) for i in self.items)


def gunzip(data: bytes, cap: int) -> bytes:
    """A gzip body (by its magic bytes) inflated, never past `cap` bytes."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            while chunk := gz.read(1 << 16):
                out += chunk
                if len(out) > cap:
                    raise Malformed(f"body over {cap} bytes once decompressed")
    except (OSError, EOFError, zlib.error) as exc:
        raise Malformed(f"broken gzip body: {exc}") from None
    return bytes(out)


def _source(name: str, data: bytes) -> readers.Source:
    counter = readers.CountingReader(io.BytesIO(data))
    stream = io.BufferedReader(
        counter, buffer_size=max(1 << 16, min(len(data), readers.SNIFF_BYTES))
    )
    return readers.Source(name=name, stream=stream, counter=counter, size=len(data))


FAST_LIMIT = 1 << 16  # below this, too small to hold more values than the record cap allows


def _small_json(data: bytes) -> Any:
    """A small body that is one JSON object or array, parsed at once — what the reader
    yields for it too (its elements go one by one through parse_value, which walks an
    array the same way). Anything else (a BOM, JSONL, huge integers, a lone surrogate,
    bad UTF-8) goes the reader's full way, with its exact errors."""
    if len(data) > FAST_LIMIT:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict | list) else None


@cache
def importer(provider: str) -> ModuleType:
    """The importer a route names (looked up once: the lookup costs more than a parse)."""
    module = importers.by_format(provider)
    if module is None:  # a route without an importer is a bug, not the sender's fault
        raise LookupError(provider)
    return module


def parse(provider: str, data: bytes, ctx: Context | None = None) -> Parsed:
    """Every item of the body, read as `maillog import --format PROVIDER` reads a file."""
    module = importer(provider)
    head = data.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if not head:
        raise Malformed("empty body")
    if provider == "mandrill" and head not in (b"{", b"["):
        if not data.lstrip().startswith(b"mandrill_events="):
            raise Malformed("not a Mandrill webhook body (a form with mandrill_events=…)")
    elif provider != "mandrill" and head not in (b"{", b"["):
        raise Malformed(f"not JSON: a /hooks/{provider} body is a JSON object or array")
    result = FileResult(source=f"/hooks/{provider}")
    out = Parsed()
    value = _small_json(data) if provider != "mandrill" else None
    items = (
        ((1, item, None) for item in parse_value(value, ctx or Context(), module, result))
        if value is not None
        else None
    )
    try:
        for _loc, item, _raw in items or iter_items(
            _source(result.source, data), ctx or Context(), module, result
        ):
            if isinstance(item, Exception):
                out.errors.append(
                    str(item) if isinstance(item, RecordError) else type(item).__name__
                )
            else:
                out.items.append(item)
    except FileFormatError as exc:
        line = str(exc).splitlines()[0].replace(f"--format {module.NAME}", f"/hooks/{provider}")
        raise Malformed(line) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"unreadable body: {str(exc)[:160]}") from None
    out.errors = [e.replace(f"--format {module.NAME}", f"/hooks/{provider}") for e in out.errors]
    if out.errors and not out.items:
        raise Malformed(out.errors[0])
    return out

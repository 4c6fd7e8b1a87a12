"""Streaming readers: a file (or stdin, or .gz) → (line, value) pairs, memory flat.

Containers (docs/providers.md, "Reading a file"): JSONL, a JSON document (array, object, API page,
or several concatenated objects), a form-encoded Mandrill body, CSV, or a raw email.
Problems with the whole file raise FileFormatError; problems with one record are
yielded as exceptions next to their line so the pipeline can skip and report them.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from maillog_cli.errors import FileFormatError, RecordError

SNIFF_BYTES = 1 << 20
# Documents up to this size are parsed whole (fast, with line numbers); larger ones are
# streamed with ijson so memory stays flat.
WHOLE_DOCUMENT_LIMIT = 32 << 20
WRAPPER_KEYS = ("items", "entries", "Messages", "results", "Bounces", "events", "data")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts the bytes read from it (for progress)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0
        self.sha256 = hashlib.sha256()  # of the bytes on disk, recorded in `imports`

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        self.sha256.update(data)
        return n


@dataclass
class Source:
    """An opened input: its display name, decompressed binary stream and byte counter."""

    name: str
    stream: IO[bytes]
    counter: CountingReader
    size: int | None  # bytes on disk, for progress; None for stdin
    path: Path | None = None  # None for stdin

    def close(self) -> None:
        self.stream.close()


def open_source(path: str) -> Source:
    """Open a file, `-` for stdin, transparently gunzipping (judged by magic bytes)."""
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        name, size = "<stdin>", None
    else:
        p = Path(path)
        if p.is_dir():
            raise FileFormatError(
                f"{path}: is a directory", "give the files inside it (or a Maildir folder)"
            )
        try:
            raw = open(p, "rb")  # noqa: SIM115 - closed by Source.close
            size = p.stat().st_size
        except FileNotFoundError as exc:
            raise FileFormatError(f"{path}: no such file") from exc
        except PermissionError as exc:
            raise FileFormatError(f"{path}: permission denied") from exc
        except OSError as exc:
            raise FileFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        name = path
    counter = CountingReader(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 16)
    head = buffered.peek(2)[:2]
    stream: IO[bytes] = buffered
    if head == b"\x1f\x8b":
        stream = io.BufferedReader(
            gzip.GzipFile(fileobj=buffered, mode="rb"), buffer_size=SNIFF_BYTES
        )  # type: ignore[arg-type]
    else:
        stream = io.BufferedReader(buffered, buffer_size=SNIFF_BYTES)  # type: ignore[arg-type]
    return Source(
        name=name,
        stream=stream,
        counter=counter,
        size=size,
        path=None if path == "-" else Path(path),
    )


def peek_head(source: Source) -> bytes:
    """The first bytes of the (decompressed) stream, without consuming them."""
    try:
        return source.stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]
    except (OSError, EOFError, zlib.error) as exc:
        raise FileFormatError(f"broken compression or unreadable data: {exc}") from None


def detect_encoding(head: bytes) -> tuple[str, int]:
    """(codec, BOM length). UTF-8 unless a BOM says otherwise."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    if len(head) >= 4 and head[1:2] == b"\x00" and head[3:4] == b"\x00":
        raise FileFormatError("looks like UTF-16 without a byte-order mark", "re-save it as UTF-8")
    return "utf-8", 0


def check_text(head: bytes) -> None:
    """FileFormatError for binary data (an image, an archive): maillog reads text formats."""
    sample = head[: 64 << 10]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut_at_end = len(sample) == 64 << 10 and exc.start >= len(sample) - 4
        if not cut_at_end:  # not just a character cut by the sample's end
            where = f"byte 0x{sample[exc.start]:02x} at offset {exc.start}"
            controls = sum(b < 9 or 13 < b < 32 for b in sample[:4096])
            if b"\x00" in sample or controls > 8:
                raise FileFormatError(
                    f"binary data, not a log file ({where})",
                    "maillog imports JSON, JSONL, CSV, form bodies and raw emails",
                ) from None
            raise FileFormatError(
                f"not UTF-8 text ({where}; perhaps Latin-1 or Windows-1252)",
                "re-save it as UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8",
            ) from None


def container_of(head: bytes) -> str:
    """'jsonl', 'json', 'form', 'csv', or 'empty' — docs/providers.md, "Reading a file"."""
    text = head.lstrip()
    if not text:
        return "empty"
    if text[:1] in (b"{", b"["):
        nl = text.find(b"\n")
        cr = text.find(b"\r")
        ends = [i for i in (nl, cr) if i >= 0]
        if not ends:
            return "json"
        first = text[: min(ends)].strip()
        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            # A one-line object that is itself broken is still a JSONL file's first record;
            # a pretty-printed document starts with a lone "{" or "[".
            closed = len(first) > 1 and (first[:1], first[-1:]) in ((b"{", b"}"), (b"[", b"]"))
            return "jsonl" if closed else "json"
        return "jsonl"
    if text.startswith(b"mandrill_events="):
        return "form"
    return "csv"


# --- JSON ---------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads(data: bytes | str) -> Any:
    """Parse one JSON value; RecordError with a short reason when it is not valid JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = str(exc).split(":", 1)[0]
        if "recursion" in str(exc).lower():
            msg = "nested too deeply"
        raise RecordError(f"invalid JSON: {msg}") from None


def iter_jsonl(stream: IO[bytes], codec: str, bom: int) -> Iterator[tuple[int, Any]]:
    """(physical line, value or RecordError) for each non-blank line; CR, LF, CRLF all end lines."""
    if codec != "utf-8":
        text = io.TextIOWrapper(stream, encoding=codec, errors="strict", newline=None)
        lines: Iterator[bytes] = (line.encode("utf-8", "surrogatepass") for line in text)
    else:
        lines = iter(stream)
    lineno = 0
    first = True
    for raw_line in lines:
        if first and bom and codec == "utf-8":
            raw_line = raw_line[bom:]
        first = False
        parts = (
            [raw_line]
            if b"\r" not in raw_line
            else raw_line.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        )
        if len(parts) > 1 and parts[-1] == b"":
            parts.pop()
        for part in parts:
            lineno += 1
            if not part.strip():
                continue
            try:
                yield lineno, loads(part)
            except RecordError as exc:
                yield lineno, exc


def iter_json_document(
    stream: IO[bytes], codec: str, bom: int, size_hint: int | None, path: Path | None = None
) -> Iterator[tuple[int | str, Any]]:
    """Values of a JSON document: array elements one by one, else the top-level value(s)."""
    if size_hint is not None and size_hint > WHOLE_DOCUMENT_LIMIT and codec == "utf-8":
        yield from _stream_large_document(stream, bom, path)
        return
    data = stream.read()
    try:
        text = data[bom:].decode(codec) if codec != "utf-8" else data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"not valid {codec.upper()} at byte {exc.start}", "re-save it as UTF-8"
        ) from exc
    yield from _walk_text(text)


def _line_at(text: str, pos: int, cache: list[int]) -> int:
    """1-based line of pos; cache = [last_pos, last_line] for linear scans."""
    last_pos, last_line = cache
    if pos >= last_pos:
        last_line += text.count("\n", last_pos, pos)
    else:
        last_line = text.count("\n", 0, pos) + 1
    cache[0], cache[1] = pos, last_line
    return last_line


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _decode_at(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except RecursionError:
        raise FileFormatError("JSON nested too deeply") from None
    except ValueError as exc:
        raise FileFormatError(_json_problem(text, exc)) from None


def _json_problem(text: str, exc: ValueError) -> str:
    pos = getattr(exc, "pos", None)
    msg = getattr(exc, "msg", str(exc))
    rest = text[pos:].strip() if pos is not None else "x"
    if pos is not None and (
        not rest or (msg.startswith("Unterminated string") and '"' not in rest[1:])
    ):
        line = text.count("\n", 0, pos) + 1
        return f"line {line}: truncated JSON document (the file ends inside a value)"
    if pos is not None:
        line = text.count("\n", 0, pos) + 1
        return f"line {line}: invalid JSON: {msg}"
    return f"invalid JSON: {msg}"


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _walk_text(text: str) -> Iterator[tuple[int, Any]]:
    """Top-level values in order; a value with a lone surrogate is a RecordError (as in JSONL)."""
    check = _SURROGATE_ESCAPE.search(text) is not None
    for line, value in _walk_values(text):
        if check:
            try:
                json.dumps(value, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                yield (
                    line,
                    RecordError("invalid JSON: a lone surrogate (\\ud800-\\udfff) in a string"),
                )
                continue
        yield line, value


def _walk_values(text: str) -> Iterator[tuple[int, Any]]:
    """Top-level values in order; top-level arrays are walked element by element."""
    pos, n, cache = _skip_ws(text, 0), len(text), [0, 1]
    while pos < n:
        if text[pos] == "[":
            pos = _skip_ws(text, pos + 1)
            if pos < n and text[pos] == "]":
                pos = _skip_ws(text, pos + 1)
                continue
            while True:
                if pos >= n:
                    raise FileFormatError("truncated JSON document (the array is not closed)")
                line = _line_at(text, pos, cache)
                value, pos = _decode_at(text, pos)
                yield line, value
                pos = _skip_ws(text, pos)
                if pos < n and text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
                    continue
                if pos < n and text[pos] == "]":
                    pos = _skip_ws(text, pos + 1)
                    break
                if pos >= n:
                    raise FileFormatError("truncated JSON document (the array is not closed)")
                raise FileFormatError(
                    f"line {_line_at(text, pos, cache)}: invalid JSON: expected ',' or ']'"
                )
        else:
            line = _line_at(text, pos, cache)
            value, pos = _decode_at(text, pos)
            yield line, value
            pos = _skip_ws(text, pos)


def _stream_large_document(
    stream: IO[bytes], bom: int, path: Path | None
) -> Iterator[tuple[int | str, Any]]:
    """Big documents through ijson: array items one by one, or a wrapped page's list items
    each handed on as a one-item page (the page's other keys kept, read in a first pass)."""
    import ijson

    if bom:
        stream.read(bom)
    head = stream.peek(64).lstrip() if isinstance(stream, io.BufferedReader) else b""  # type: ignore[attr-defined]
    try:
        if head[:1] == b"[":
            for i, item in enumerate(ijson.items(stream, "item"), start=1):
                yield f"item {i}", item
            return
        if path is None or head[:1] != b"{":
            for i, value in enumerate(ijson.items(stream, "", multiple_values=True), start=1):
                yield f"value {i}", value
            return
        frame, list_key = _page_frame(path)
        if list_key is None:
            for i, value in enumerate(ijson.items(stream, "", multiple_values=True), start=1):
                yield f"value {i}", value
            return
        for i, item in enumerate(ijson.items(stream, f"{list_key}.item"), start=1):
            yield f"{list_key} item {i}", {**frame, list_key: [item]}
    except ijson.IncompleteJSONError as exc:
        raise FileFormatError(f"truncated or invalid JSON document: {exc}") from None
    except ijson.JSONError as exc:
        raise FileFormatError(f"invalid JSON document: {exc}") from None


def _page_frame(path: Path) -> tuple[dict[str, Any], str | None]:
    """First pass over a big wrapped page: its top-level keys except the big list."""
    import ijson
    from ijson.common import ObjectBuilder

    frame: dict[str, Any] = {}
    list_key: str | None = None
    builder: ObjectBuilder | None = None
    current: str | None = None
    with open_source(str(path)).stream as f:
        for prefix, event, value in ijson.parse(f):
            if prefix == "":
                if event == "map_key":
                    current = value
                continue  # the page object's own start and end
            if current is None:
                continue
            if (
                prefix == current
                and event == "start_array"
                and current in WRAPPER_KEYS
                and list_key is None
            ):
                list_key = current
                continue
            if list_key is not None and (prefix == list_key or prefix.startswith(list_key + ".")):
                continue
            if builder is None:
                builder = ObjectBuilder()
            builder.event(event, value)
            if prefix == current and event not in ("start_map", "start_array", "map_key"):
                frame[current] = builder.value
                builder = None
    return frame, list_key


# --- CSV --------------------------------------------------------------------------------------


def iter_csv(
    stream: IO[bytes], codec: str, bom: int
) -> tuple[list[str], Iterator[tuple[int, Any]]]:
    """(header columns, iterator of (first physical line of the row, row dict or RecordError))."""
    text = io.TextIOWrapper(
        stream, encoding="utf-8-sig" if codec == "utf-8" else codec, errors="strict", newline=""
    )
    csv.field_size_limit(16 << 20)
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return [], iter(())
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileFormatError(f"line 1: unreadable CSV header: {exc}") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise FileFormatError(f"line 1: the CSV header repeats the column(s) {', '.join(dupes)}")

    def rows() -> Iterator[tuple[int, Any]]:
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, RecordError(f"unreadable CSV row: {exc}")
                start = reader.line_num + 1
                continue
            except UnicodeDecodeError as exc:
                raise FileFormatError(
                    f"line {start}: not valid UTF-8 (byte {exc.start} of the line)",
                    "re-save it as UTF-8",
                ) from None
            line, start = start, reader.line_num + 1
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                yield line, RecordError(f"{len(row)} fields where the header has {len(header)}")
                continue
            yield line, dict(zip(header, row, strict=True))

    return header, rows()

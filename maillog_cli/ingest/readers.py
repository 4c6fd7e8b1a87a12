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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from maillog_cli.errors import FileFormatError, RecordError

SNIFF_BYTES = 1 << 20
# Documents up to this size (decompressed, and never over the record cap) are parsed whole
# (fast, with line numbers); larger ones are streamed with ijson so memory stays flat.
WHOLE_DOCUMENT_LIMIT = 8 << 20
# The keys export pages and transport envelopes put their list of records under (AWS
# Lambda: `Records`); ingest/envelopes.py also finds a list under a key not named here.
WRAPPER_KEYS = (
    "items",
    "entries",
    "Messages",
    "results",
    "Bounces",
    "events",
    "data",
    "Records",
    "records",
    "messages",
    "Opens",
    "Clicks",
    "InboundMessages",
)
_BOMS = (  # UTF-32's little-endian mark begins with UTF-16's: it is looked for first
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The record cap: one line, CSV row field or JSON value (decompressed) may be this big; a
# bigger one is a record error, so a compressed bomb or a runaway line never fills memory.
DEFAULT_MAX_RECORD_MB = 16
MAX_RECORD_ENV = "MAILLOG_MAX_RECORD_MB"
_CHUNK = 1 << 20
_EOL = re.compile(rb"(\r\n|\r|\n)")
# A minified export page: scalar fields, then a wrapper key opening its list.
_PAGE_START = re.compile(
    rb'\{\s*(?:"[^"\\]{0,64}"\s*:\s*(?:"[^"\\]{0,256}"|[-+.\deE]{1,32}|true|false|null)\s*,\s*){0,16}'
    rb'"(?:' + b"|".join(k.encode() for k in WRAPPER_KEYS) + rb')"\s*:\s*\['
)


def max_record_bytes(mb: float | None = None) -> int:
    """The record cap in bytes: --max-record-mb, else $MAILLOG_MAX_RECORD_MB, else 16 MB."""
    import os

    from maillog_cli.errors import MaillogError

    where = "--max-record-mb"
    if mb is None:
        text = os.environ.get(MAX_RECORD_ENV, "").strip()
        if not text:
            return DEFAULT_MAX_RECORD_MB << 20
        where = MAX_RECORD_ENV
        try:
            mb = float(text)
        except ValueError:
            mb = -1
    if not (0 < mb <= 4096):
        raise MaillogError(f"{where} must be a number of megabytes from 0.001 to 4096")
    return max(1, int(mb * (1 << 20)))


def over_cap(cap: int) -> RecordError:
    """The record error for anything bigger than the record cap."""
    mb = cap / (1 << 20)
    size = f"{mb:g} MB" if mb >= 1 else f"{cap} bytes"
    return RecordError(
        f"record over {size} (the record cap; raise it with --max-record-mb or {MAX_RECORD_ENV})"
    )


def values_cap(cap: int) -> int:
    """How many values (JSON members and elements, CSV fields) one record may hold: each
    costs up to ~150 bytes once parsed, so a record of tiny values (`[{},{},…]`) is held
    to about the memory a record of the cap's size in bytes may take."""
    return max(4096, cap // 40)


def too_many_values(data: bytes, cap: int, separators: bytes = b",:") -> RecordError | None:
    """The record error for a record holding more than values_cap values, else None.
    Counted by separators (an overcount inside strings only matters for huge records)."""
    if len(data) <= 1 << 16:  # too small to hold enough values to matter
        return None
    if sum(data.count(bytes([c])) for c in separators) <= values_cap(cap):
        return None
    return crowded(cap)


def crowded(cap: int) -> RecordError:
    """The record error for a record with more values than values_cap."""
    return RecordError(
        f"record with more than {values_cap(cap):,} values (the record cap; raise it with "
        f"--max-record-mb or {MAX_RECORD_ENV})"
    )


class Oversize:
    """Stands for a physical line over the record cap (its bytes were read and dropped)."""

    def __init__(self, size: int) -> None:
        self.size = size


class CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts the bytes read from it (for progress).

    The end is remembered: a terminal reports Ctrl-D once, as one empty read, and the
    buffers above ask again after it; without this each of them waited for another Ctrl-D
    and `maillog import -` typed at a prompt could not be ended."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0
        self.sha256 = hashlib.sha256()  # of the bytes on disk, recorded in `imports`
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.ended:
            return 0
        data = self.raw.read(len(b))
        n = len(data)
        if n == 0:
            self.ended = True
            return 0
        b[:n] = data
        self.count += n
        self.sha256.update(data)
        return n


# Deflate expands at most about 1030 times; real logs about 5-30 times. Past BOMB_AFTER
# decompressed bytes, a file that expands more than BOMB_RATIO times is refused as a bomb.
BOMB_RATIO = 200
BOMB_AFTER = 256 << 20


class _Inflated(io.RawIOBase):
    """A gzip stream that stops a compressed bomb early (see BOMB_RATIO)."""

    def __init__(self, gz: gzip.GzipFile, counter: CountingReader, name: str) -> None:
        self.gz, self.counter, self.name = gz, counter, name
        self.count = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.gz.close()
        super().close()

    def readinto(self, b: Any) -> int:
        n = self.gz.readinto(b)
        self.count += n
        if self.count > BOMB_AFTER and self.count > BOMB_RATIO * max(1, self.counter.count):
            raise FileFormatError(
                f"expands more than {BOMB_RATIO} times when decompressed, like a compressed bomb",
                "unpack it yourself if it is genuine, and import the result",
            )
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
        # unbuffered where there is a file descriptor: a terminal line is read as typed
        raw: IO[bytes] = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
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
        inflated = _Inflated(gzip.GzipFile(fileobj=buffered, mode="rb"), counter, name)
        stream = io.BufferedReader(inflated, buffer_size=SNIFF_BYTES)  # type: ignore[arg-type]
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


def check_text(head: bytes, header: bool = False) -> None:
    """FileFormatError for binary data (an image, an archive) and for text that is mostly
    not UTF-8 (a Latin-1 export): more than half of the records (non-blank lines after a
    CSV header) in the first 64 KB. A few bad lines in a UTF-8 file are record errors."""
    sample = head[: 64 << 10]
    try:
        sample.decode("utf-8")
        return
    except UnicodeDecodeError as exc:
        cut_at_end = len(sample) == 64 << 10 and exc.start >= len(sample) - 4
        if cut_at_end:  # just a character cut by the sample's end
            return
        where = f"byte 0x{sample[exc.start]:02x} at offset {exc.start}"
        controls = sum(b < 9 or 13 < b < 32 for b in sample[:4096])
        if b"\x00" in sample or controls > 8:
            raise FileFormatError(
                f"binary data, not a log file ({where})",
                "maillog imports JSON, JSONL, CSV, form bodies and raw emails",
            ) from None
        if _mostly_not_utf8(sample, header):
            raise FileFormatError(
                f"not UTF-8 text ({where}; perhaps Latin-1 or Windows-1252)",
                "re-save it as UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8",
            ) from None


def _mostly_not_utf8(sample: bytes, header: bool) -> bool:
    """More than half of the sample's records hold bytes that are not UTF-8."""
    lines = [x for x in _EOL.sub(b"\n", sample).split(b"\n") if x.strip()]
    if len(sample) == 64 << 10 and len(lines) > 1:
        lines.pop()  # cut by the sample's end
    if header and len(lines) > 1:
        lines = lines[1:]
    bad = sum(1 for line in lines if not _is_utf8(line))
    return bad * 2 > len(lines)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def utf8_problem(data: bytes) -> str | None:
    """Why a line is not UTF-8 text (for its record error), or None when it is."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {exc.start + 1}); "
            "re-save the file as UTF-8"
        )
    return None


class _Transcoder(io.RawIOBase):
    """A UTF-16 or UTF-32 stream read as UTF-8 bytes, so every reader after it handles one
    encoding."""

    def __init__(self, raw: IO[bytes], codec: str) -> None:
        self.raw, self.codec = raw, codec
        self.decoder = codecs.getincrementaldecoder(codec)("strict")
        self.pending, self.offset, self.eof = b"", 0, False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()
        super().close()

    def readinto(self, b: Any) -> int:
        while not self.pending and not self.eof:
            chunk = self.raw.read(1 << 16)
            self.eof = not chunk
            try:
                text = self.decoder.decode(chunk, final=self.eof)
            except UnicodeDecodeError as exc:
                raise FileFormatError(
                    f"not valid {self.codec.upper()} at byte {self.offset + exc.start}",
                    "re-save it as UTF-8",
                ) from None
            self.offset += len(chunk)
            self.pending = text.encode("utf-8", "surrogatepass")
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def as_utf8(stream: IO[bytes], codec: str, bom: int) -> IO[bytes]:
    """The stream past its byte-order mark, as UTF-8 bytes (peekable)."""
    if bom:
        stream.read(bom)
    if codec == "utf-8":
        return stream
    return io.BufferedReader(_Transcoder(stream, codec), buffer_size=SNIFF_BYTES)  # type: ignore[return-value]


class _Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of the stream."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self.prefix, self.stream, self.used = prefix, stream, 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.stream.close()
        super().close()

    def readinto(self, b: Any) -> int:
        if self.used < len(self.prefix):
            part = self.prefix[self.used : self.used + len(b)]
            self.used += len(part)
            b[: len(part)] = part
            return len(part)
        data = self.stream.read(len(b))
        b[: len(data)] = data
        return len(data)


# RFC 7464 JSON text sequences (`journalctl -o json-seq`) start each record with RS.
JSON_SEQ_RS = b"\x1e"


def read_head(stream: IO[bytes]) -> tuple[bytes, IO[bytes]]:
    """(the first SNIFF_BYTES of the stream, or all of it when shorter; the stream again
    from its start). Unlike peek(), the head is never cut short by a small first read
    (gzip), so sniffing sees the same bytes whatever the input came through."""
    head = stream.read(SNIFF_BYTES)
    again = io.BufferedReader(_Prefixed(head, stream), buffer_size=SNIFF_BYTES)
    return head, again  # type: ignore[return-value]


def container_of(head: bytes) -> str:
    """'jsonl', 'json', 'form', 'csv', or 'empty' — docs/providers.md, "Reading a file"."""
    text = head.lstrip().removeprefix(JSON_SEQ_RS)  # a JSON text sequence is JSONL
    if not text:
        return "empty"
    if text[:1] in (b"{", b"["):
        nl = text.find(b"\n")
        cr = text.find(b"\r")
        ends = [i for i in (nl, cr) if i >= 0]
        if not ends:
            # A first line longer than the sniffed prefix: an object is read line by line
            # (a record over the cap is then one record error, not the whole file in
            # memory) unless it opens like a minified export page. Arrays stream.
            full = len(head) >= SNIFF_BYTES
            page = _PAGE_START.match(text) is not None or (full and _first_value_ends(text))
            return "jsonl" if full and text[:1] == b"{" and not page else "json"
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


def concatenated(data: bytes) -> list[Any] | None:
    """The values of a line holding several JSON objects back to back (`{…}{…}`, or with
    blanks between: Kinesis Data Firehose joins records with no separator), else None."""
    text = data.decode("utf-8").strip()
    values, pos = [], 0
    try:
        while pos < len(text):
            value, pos = _DECODER.raw_decode(text, pos)
            values.append(value)
            pos = _skip_ws(text, pos)
    except (ValueError, RecursionError):
        return None
    return values if len(values) > 1 else None


def _first_value_ends(text: bytes) -> bool:
    """Whether a head without line ends holds a whole first JSON object and another value
    after it (concatenated objects, read as a document rather than as one huge line)."""
    decoded = text.decode("utf-8", errors="replace")
    try:
        _, pos = _DECODER.raw_decode(decoded)
    except (ValueError, RecursionError):
        return False
    rest = decoded[pos:].lstrip()
    return rest[:1] in ("{", "[")


Reopen = Callable[[], IO[bytes]]  # the same input again from its start, as UTF-8


def physical_lines(
    stream: IO[bytes], cap: int, keepends: bool = False
) -> Iterator[bytes | Oversize]:
    """Each physical line (CR, LF and CRLF all end one), read in chunks so that no line
    over `cap` bytes is ever held: such a line is `Oversize`, yielded as soon as it passes
    the cap (so it is reported at once), and the rest of it is read through and dropped."""
    pieces: list[bytes] = []
    size, over, carry = 0, False, b""
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if carry:
            chunk, carry = carry + chunk, b""
        if chunk.endswith(b"\r"):  # maybe the first half of a CRLF: decide with the next chunk
            chunk, carry = chunk[:-1], b"\r"
        if b"\r" in chunk:
            parts = _EOL.split(chunk)
            contents, ends = parts[0::2], parts[1::2]
        else:
            contents = chunk.split(b"\n")
            ends = [b"\n"] * (len(contents) - 1)
        for content, end in zip(contents, ends, strict=False):
            if over:
                pass  # already reported
            elif size + len(content) > cap:
                yield Oversize(size + len(content))
            elif pieces:
                yield b"".join([*pieces, content, end] if keepends else [*pieces, content])
            else:
                yield content + end if keepends else content
            pieces, size, over = [], 0, False
        if not over:
            pieces.append(contents[-1])
            size += len(contents[-1])
            if size > cap:
                yield Oversize(size)
                pieces, over = [], True
    if not over and (size or carry):
        yield b"".join([*pieces, carry]) if keepends else b"".join(pieces)


def iter_jsonl(stream: IO[bytes], cap: int) -> Iterator[tuple[int | str, Any]]:
    """(physical line, value or RecordError) for each non-blank line of a UTF-8 stream;
    a line over the cap is a record error."""
    for lineno, line in enumerate(physical_lines(stream, cap), start=1):
        if isinstance(line, Oversize):
            yield lineno, over_cap(cap)
            continue
        if line[:1] == JSON_SEQ_RS:  # RFC 7464: each record after a record separator
            line = line[1:]
        if not line.strip():
            continue
        problem = too_many_values(line, cap)
        if problem is not None:
            yield lineno, problem
            continue
        try:
            yield lineno, loads(line)
        except RecordError as exc:
            why = utf8_problem(line)
            several = None if why else concatenated(line)
            if several is not None:  # Firehose: records written back to back on a line
                for value in several:
                    yield lineno, value
                continue
            yield lineno, RecordError(why) if why else exc


def iter_json_document(
    stream: IO[bytes], cap: int, reopen: Reopen | None = None
) -> Iterator[tuple[int | str, Any]]:
    """Values of a UTF-8 JSON document: array elements one by one, else the top-level
    value(s). Up to the whole-document limit (decompressed bytes, and never more than the
    record cap) it is parsed whole; beyond, streamed with every value held to the cap."""
    limit = min(WHOLE_DOCUMENT_LIMIT, cap)
    data = stream.read(limit + 1)
    if len(data) > limit or too_many_values(data, cap) is not None:
        yield from _stream_large_document(_Capped(data, stream, cap), data, reopen, cap)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"not valid UTF-8 at byte {exc.start}", "re-save it as UTF-8"
        ) from exc
    yield from _walk_text(text)


class _TooBig(Exception):
    """Internal: more than the record cap was read inside one JSON value."""

    def __init__(self, why: RecordError) -> None:
        super().__init__(str(why))
        self.why = why


class _Capped:
    """The stream ijson reads, refusing to run past the record cap inside one value (a
    string of 4 GB would otherwise be buffered whole by the parser, a million tiny
    values built whole): `done()` marks where a value ended; reading more than the cap
    in bytes or values (plus one read-ahead) after it raises _TooBig."""

    def __init__(self, prefix: bytes, stream: IO[bytes], cap: int) -> None:
        self.prefix, self.stream, self.cap = prefix, stream, cap
        self.max_values = values_cap(cap) + (1 << 16)
        self.count = self.mark = self.used = self.values = self.values_mark = 0

    def read(self, n: int = -1) -> bytes:
        if self.count - self.mark > self.cap + (1 << 16):
            raise _TooBig(over_cap(self.cap))
        if self.values - self.values_mark > self.max_values:
            raise _TooBig(crowded(self.cap))
        if n == 0:  # ijson asks for nothing to learn bytes from str
            return b""
        n = n if n is not None and n > 0 else 1 << 16
        if self.prefix:
            out = self.prefix[self.used : self.used + n]
            self.used += len(out)
            if self.used >= len(self.prefix):
                self.prefix = b""  # let it go
        else:
            out = self.stream.read(n)
        self.count += len(out)
        self.values += out.count(b",") + out.count(b":")
        return out

    def done(self) -> None:
        self.mark, self.values_mark = self.count, self.values


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
    capped: _Capped, head: bytes, reopen: Reopen | None, cap: int
) -> Iterator[tuple[int | str, Any]]:
    """Big documents through ijson: array items one by one, or a wrapped page's list items
    each handed on as a one-item page (the page's other keys kept, read in a first pass).
    A value over the cap is reported where it is; the rest of the document cannot be found
    without parsing it, so the file then stops as a whole."""
    import ijson

    first = head.lstrip()[:1]
    where = "item 1" if first == b"[" else "value 1"
    try:
        if first == b"[":
            values: Iterator[tuple[str, Any]] = (
                (f"item {i}", v) for i, v in enumerate(ijson.items(capped, "item"), start=1)
            )
        else:
            frame, list_key = _page_frame(reopen, cap) if reopen and first == b"{" else ({}, None)
            if list_key is None:
                values = (
                    (f"value {i}", v)
                    for i, v in enumerate(ijson.items(capped, "", multiple_values=True), start=1)
                )
            else:
                where = f"{list_key} item 1"
                values = (
                    (f"{list_key} item {i}", {**frame, list_key: [item]})
                    for i, item in enumerate(ijson.items(capped, f"{list_key}.item"), start=1)
                )
        for loc, value in values:
            capped.done()
            yield loc, value
            where = _next_location(loc)
    except _TooBig as exc:
        yield where, exc.why
        raise FileFormatError(
            f"{where}: the rest of the JSON document cannot be read past a record over the cap; "
            "nothing imported from this file"
        ) from None
    except ijson.IncompleteJSONError as exc:
        raise FileFormatError(f"truncated or invalid JSON document: {exc}") from None
    except ijson.JSONError as exc:
        raise FileFormatError(f"invalid JSON document: {exc}") from None


def _next_location(loc: str) -> str:
    """'item 7' → 'item 8': where the next value starts."""
    head, _, n = loc.rpartition(" ")
    return f"{head} {int(n) + 1}"


def _page_frame(reopen: Reopen, cap: int) -> tuple[dict[str, Any], str | None]:
    """First pass over a big wrapped page: its top-level keys except the big list (each
    held to the record cap, as is every token inside the list). When more values follow
    the first (concatenated objects), there is no one page: (no frame, no list key)."""
    import ijson
    from ijson.common import ObjectBuilder

    frame: dict[str, Any] = {}
    list_key: str | None = None
    builder: ObjectBuilder | None = None
    current: str | None = None
    doc = reopen()
    capped = _Capped(b"", doc, cap)
    try:
        events = ijson.parse(capped, multiple_values=True)
        for prefix, event, value in events:
            if builder is None:
                capped.done()  # outside a kept value every event is progress
            if prefix == "":
                if event == "map_key":
                    current = value
                elif event == "end_map":  # the first value ends: is it the only one?
                    if next(events, None) is not None:
                        return {}, None
                    break
                continue  # the page object's own start
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
    except _TooBig:
        if current is None or current != list_key:
            raise FileFormatError(
                f"the page's {current!r} field is over the record cap",
                "raise it with --max-record-mb",
            ) from None
        # an item of the list is: the second pass reports it where it is
    finally:
        doc.close()
    return frame, list_key


# --- CSV --------------------------------------------------------------------------------------


class _LineProblem(Exception):
    def __init__(self, lineno: int, why: RecordError) -> None:
        self.lineno, self.why = lineno, why


class _CsvLines:
    """Physical lines for csv.reader, decoded one by one: a line that is not UTF-8 or is
    over the cap raises _LineProblem (csv.reader passes it on and starts afresh after)."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        self.lines = physical_lines(stream, cap, keepends=True)
        self.cap, self.lineno, self.row_bytes = cap, 0, 0
        self.separator = b","
        self.pending: str | None = None  # the header line, read once to choose the delimiter

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        if self.pending is not None:
            header, self.pending = self.pending, None
            return header
        line = next(self.lines)
        self.lineno += 1
        if isinstance(line, Oversize):
            raise _LineProblem(self.lineno, over_cap(self.cap))
        self.row_bytes += len(line)
        if self.row_bytes > self.cap:  # a row spread over many lines (quoted line breaks)
            raise _LineProblem(self.lineno, over_cap(self.cap))
        problem = too_many_values(line, self.cap, self.separator)
        if problem is not None:
            raise _LineProblem(self.lineno, problem)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise _LineProblem(self.lineno, RecordError(utf8_problem(line) or "")) from None


def _csv_problem(exc: csv.Error, cap: int) -> RecordError:
    text = str(exc)
    if "unexpected end of data" in text:
        return RecordError("unterminated quoted field (the file ends inside quotes)")
    if "field larger than field limit" in text:
        why = over_cap(cap)
        return RecordError(f"{why} (or an unterminated quoted field)")
    return RecordError(f"unreadable CSV row: {text}")


def csv_delimiter(header_line: str) -> str:
    """`,`, unless the header holds none and is split by `;` or tabs instead: a spreadsheet
    saved where the comma is the decimal mark writes `;`, and a TSV is a CSV of tabs."""
    if "," in header_line:
        return ","
    semicolons, tabs = header_line.count(";"), header_line.count("\t")
    if semicolons or tabs:
        return ";" if semicolons >= tabs else "\t"
    return ","


def iter_csv(
    stream: IO[bytes], cap: int = DEFAULT_MAX_RECORD_MB << 20
) -> tuple[list[str], Iterator[tuple[int, Any]]]:
    """(header columns, iterator of (first physical line of the row, row dict or RecordError)).

    Read strictly: a quote left open is an error at the row it opens (never a field that
    swallows the lines after it), as is a stray quote or a field over the record cap."""
    lines = _CsvLines(stream, cap)
    csv.field_size_limit(cap)
    try:
        lines.pending = next(lines)
    except StopIteration:
        return [], iter(())
    except _LineProblem as exc:
        raise FileFormatError(f"line {exc.lineno}: unreadable CSV header: {exc.why}") from None
    delimiter = csv_delimiter(lines.pending)
    lines.separator = delimiter.encode()
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], iter(())
    except csv.Error as exc:
        raise FileFormatError(f"line 1: unreadable CSV header: {_csv_problem(exc, cap)}") from None
    except _LineProblem as exc:
        raise FileFormatError(f"line {exc.lineno}: unreadable CSV header: {exc.why}") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise FileFormatError(f"line 1: the CSV header repeats the column(s) {', '.join(dupes)}")

    def rows() -> Iterator[tuple[int, Any]]:
        while True:
            start, lines.row_bytes = lines.lineno + 1, 0
            try:
                row = next(reader)
            except StopIteration:
                return
            except _LineProblem as exc:
                yield exc.lineno, exc.why
                continue
            except csv.Error as exc:
                yield start, _csv_problem(exc, cap)
                continue
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                yield start, RecordError(f"{len(row)} fields where the header has {len(header)}")
                continue
            yield start, dict(zip(header, row, strict=True))

    return header, rows()

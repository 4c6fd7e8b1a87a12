"""maillog_cli/ingest/readers.py: bytes on disk → (line, value) pairs.

gzip is judged by its magic bytes (never by the name), a BOM picks the codec, the first
bytes pick the container (JSONL, a JSON document, a form body, CSV), and every value keeps
the line it came from so a bad record can be named."""

from __future__ import annotations

import codecs
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from maillog_cli.errors import FileFormatError, RecordError
from maillog_cli.ingest import readers


def stream(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


CAP = 16 << 20  # the default record cap (readers.DEFAULT_MAX_RECORD_MB)


def utf8(data: bytes, codec: str = "utf-8", bom: int = 0):
    """The stream the record readers take: past the BOM, transcoded to UTF-8."""
    return readers.as_utf8(stream(data), codec, bom)


def values(pairs: Any) -> list[tuple[Any, Any]]:
    """(line, value), with a RecordError shown as ("error", its message) for comparison."""
    return [(line, ("error", str(v)) if isinstance(v, RecordError) else v) for line, v in pairs]


# --- opening: gzip by magic, sizes, problems ----------------------------------------------------


def test_gzip_is_recognised_by_its_magic_bytes_not_its_name(tmp_path: Path) -> None:
    body = b'{"a": 1}\n{"a": 2}\n'
    disguised = tmp_path / "events.jsonl"  # gzip inside, no .gz
    disguised.write_bytes(gzip.compress(body))
    plain = tmp_path / "plain.jsonl.gz"  # a .gz name, plain text inside
    plain.write_bytes(body)
    for path in (disguised, plain):
        source = readers.open_source(str(path))
        try:
            assert readers.peek_head(source).startswith(b'{"a": 1}')
            assert source.stream.read() == body
            assert source.size == path.stat().st_size  # bytes on disk, for progress
            assert source.counter.count == path.stat().st_size
        finally:
            source.close()


def test_broken_gzip_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.gz"
    path.write_bytes(b"\x1f\x8bnot really gzip")
    source = readers.open_source(str(path))
    try:
        with pytest.raises(FileFormatError, match="broken compression"):
            readers.peek_head(source)
    finally:
        source.close()


def test_missing_file_and_directory_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no such file"):
        readers.open_source(str(tmp_path / "nope.jsonl"))
    with pytest.raises(FileFormatError, match="is a directory"):
        readers.open_source(str(tmp_path))


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"a": 1}', ("utf-8", 0)),
        (codecs.BOM_UTF8 + b'{"a": 1}', ("utf-8", 3)),
        (codecs.BOM_UTF16_LE + '{"a"'.encode("utf-16-le"), ("utf-16-le", 2)),
        (codecs.BOM_UTF16_BE + '{"a"'.encode("utf-16-be"), ("utf-16-be", 2)),
    ],
)
def test_a_bom_picks_the_codec(head: bytes, expected: tuple[str, int]) -> None:
    assert readers.detect_encoding(head) == expected


def test_utf16_without_a_bom_says_to_resave_as_utf8() -> None:
    with pytest.raises(FileFormatError, match="UTF-16 without a byte-order mark"):
        readers.detect_encoding('{"a": 1}'.encode("utf-16-le"))


def test_text_checks() -> None:
    readers.check_text("café ✓".encode())
    with pytest.raises(FileFormatError, match="perhaps Latin-1") as exc:
        readers.check_text("café".encode("latin-1"))
    assert "iconv" in str(exc.value.hint)
    with pytest.raises(FileFormatError, match="binary data"):
        readers.check_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xff\xfe")
    cut = ("é" * (32 << 10)).encode()[: (64 << 10) - 1]  # a character cut by the sample's end
    readers.check_text(cut + b"\xc3")


# --- which container -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"", "empty"),
        (b"  \n\t", "empty"),
        (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        (b'{"a": 1}\r{"a": 2}', "jsonl"),  # old Mac line ends
        (b'\n\n  {"a": 1}\n', "jsonl"),
        (b'{"a": 1, broken}\n{"b": 1}\n', "jsonl"),  # a broken first record is still a record
        (b"[1, 2]\n[3]\n", "jsonl"),
        (b'{\n  "a": 1\n}\n', "json"),  # pretty-printed
        (b"[\n", "json"),
        (b'[{"a": 1}]', "json"),  # one line, no newline
        (b'{"a": 1}{"a": 2}', "json"),  # concatenated on one line
        (b'{"a": 1', "json"),
        (b"mandrill_events=%5B%5D", "form"),
        (b"timestamp,status\n1,sent\n", "csv"),
    ],
)
def test_container_of(head: bytes, container: str) -> None:
    assert readers.container_of(head) == container


# --- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_keeps_physical_line_numbers_with_any_line_end() -> None:
    data = codecs.BOM_UTF8 + b'{"a": 1}\r\n\r\n{"a": 2}\r{bad\n[1]\n   \n{"a": 3}'
    assert values(readers.iter_jsonl(utf8(data, "utf-8", 3), CAP)) == [
        (1, {"a": 1}),
        (3, {"a": 2}),
        (4, ("error", "invalid JSON: unexpected character, expected a string key")),
        (5, [1]),
        (7, {"a": 3}),  # no newline at the end
    ]


def test_jsonl_in_utf16() -> None:
    data = '{"a": "é"}\r\n{"a": 2}\n'.encode("utf-16")  # with its BOM
    codec, bom = readers.detect_encoding(data)
    assert values(readers.iter_jsonl(utf8(data, codec, bom), CAP)) == [
        (1, {"a": "é"}),
        (2, {"a": 2}),
    ]


def test_loads_says_why_in_a_few_words() -> None:
    with pytest.raises(RecordError, match="^invalid JSON: unexpected end of data"):
        readers.loads(b'{"a": ')
    with pytest.raises(RecordError, match="invalid JSON"):
        readers.loads(b'{"a": NaN}')  # not JSON, though Python's json reads it


# --- JSON documents ------------------------------------------------------------------------------


def doc(data: bytes, codec: str = "utf-8", bom: int = 0) -> list[tuple[Any, Any]]:
    return values(readers.iter_json_document(utf8(data, codec, bom), CAP))


def test_arrays_are_walked_and_concatenated_values_follow_each_other() -> None:
    data = b'[{"a": 1},\n {"a": 2}]\n[]\n{"b": 3}{"c": 4}\n\n"x"'
    assert doc(data) == [(1, {"a": 1}), (2, {"a": 2}), (4, {"b": 3}), (4, {"c": 4}), (6, "x")]
    assert doc(b"[[1, 2], [3]]") == [(1, [1, 2]), (1, [3])]  # one level only
    assert doc(codecs.BOM_UTF8 + b'{"a": 1}', bom=3) == [(1, {"a": 1})]


def test_a_lone_surrogate_is_one_bad_record_not_a_bad_file() -> None:
    assert doc(b'[{"a": "\\ud800"}, {"a": "ok"}]') == [
        (1, ("error", "invalid JSON: a lone surrogate (\\ud800-\\udfff) in a string")),
        (1, {"a": "ok"}),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"a": 1},', "truncated JSON document (the array is not closed)"),
        (b'{"a":', "line 1: truncated JSON document (the file ends inside a value)"),
        (b'[{"a": 1}\n {"b": 2}]', "line 2: invalid JSON: expected ',' or ']'"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_a_broken_document_is_a_file_error_with_its_line(data: bytes, message: str) -> None:
    with pytest.raises(FileFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        doc(data)


def big(path: Path) -> list[tuple[Any, Any]]:
    """A document read the way one over WHOLE_DOCUMENT_LIMIT is (when the limit is patched)."""
    source = readers.open_source(str(path))
    try:
        return list(
            readers.iter_json_document(
                source.stream, CAP, lambda: readers.open_source(str(path)).stream
            )
        )
    finally:
        source.close()


def test_big_documents_stream_and_a_big_page_keeps_its_other_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 10)  # everything is "big"
    array = tmp_path / "array.json"
    array.write_bytes(b'[{"a": 1}, {"a": 2}]')
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"page": 3, "items": [{"a": 1}, {"a": 2}], "next": None}))

    assert big(array) == [("item 1", {"a": 1}), ("item 2", {"a": 2})]
    assert big(page) == [
        ("items item 1", {"page": 3, "next": None, "items": [{"a": 1}]}),
        ("items item 2", {"page": 3, "next": None, "items": [{"a": 2}]}),
    ]
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(b'[{"a": 1}, {"a"')
    with pytest.raises(FileFormatError, match="truncated or invalid JSON document"):
        big(truncated)


def test_big_concatenated_objects_stream_like_small_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = tmp_path / "loose.json"
    loose.write_bytes(b'{"a": 1} {"a": 2}')
    assert doc(loose.read_bytes()) == [(1, {"a": 1}), (1, {"a": 2})]  # small: fine
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 10)
    assert big(loose) == [("value 1", {"a": 1}), ("value 2", {"a": 2})]


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_rows_keep_their_first_line_and_bad_rows_are_record_errors() -> None:
    data = codecs.BOM_UTF8 + b' a , b\n1,2\n"x\ny",3\n\n1,2,3\n4,5\n'
    header, rows = readers.iter_csv(utf8(data, "utf-8", 3), CAP)
    assert header == ["a", "b"]  # BOM and spaces gone
    assert values(rows) == [
        (2, {"a": "1", "b": "2"}),
        (3, {"a": "x\ny", "b": "3"}),  # a quoted newline: one row from line 3
        (6, ("error", "3 fields where the header has 2")),
        (7, {"a": "4", "b": "5"}),
    ]


def test_csv_header_problems() -> None:
    with pytest.raises(FileFormatError, match="repeats the column"):
        readers.iter_csv(utf8(b"a,a,b\n1,2,3\n", "utf-8", 0), CAP)
    header, rows = readers.iter_csv(utf8(b"", "utf-8", 0), CAP)
    assert header == [] and list(rows) == []


def test_csv_invalid_utf8_is_a_record_error_on_its_own_line() -> None:
    data = b"a,b\n" + b"1,2\n" * 5000 + b"3,caf\xe9\n"
    _, rows = readers.iter_csv(utf8(data), CAP)
    got = values(rows)
    assert len(got) == 5001 and got[0] == (2, {"a": "1", "b": "2"})
    assert got[-1][0] == 5002 and "not valid UTF-8 (byte 0xe9" in got[-1][1][1]

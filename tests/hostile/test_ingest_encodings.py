"""Bad lines inside good files, and encodings: a few lines that are not UTF-8 are record
errors by line number (the rest imports); a file that is mostly not UTF-8 is refused
whole; CSV is read strictly; UTF-16 (BE and LE) with a BOM is read as JSON.

Every case runs in-process and through the forked parser (big files' path)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest


def row(i: int, **extra: object) -> dict:
    return {
        "event_id": f"e{i}",
        "status": "sent",
        "timestamp": f"2026-01-01T00:00:{i:02d}Z",
        "subject": f"hello {i}",
        **extra,
    }


@pytest.fixture(params=["in-process", "forked"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    from maillog_cli.ingest import batches

    if request.param == "forked":  # every file on disk through the forked parser
        monkeypatch.setattr(batches, "BULK_BYTES", 1)
    return str(request.param)


def ids(cli) -> list[str]:
    out = cli("search", "-f", "jsonl", "--limit", "0").stdout
    return sorted(orjson.loads(line)["event_id"] for line in out.splitlines())


def test_lines_that_are_not_utf8_are_rejected_by_number_and_the_rest_imported(
    cli, tmp_path: Path, path_kind: str
) -> None:
    lines = [
        orjson.dumps(row(1)),
        orjson.dumps(row(2)).replace(b"hello", b"caf\xe9"),
        b'{"status": "sent", "subject": "\xff\xfe broken"}',
        orjson.dumps(row(4)).replace(b"hello", b"\xc3("),
        orjson.dumps(row(5)),
        b"",
        orjson.dumps(row(7)),
    ]
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    r = cli("import", "--rejects", rejects, f)
    assert r.exit_code == 1, r
    for n in (2, 3, 4):
        assert f"{f}:{n}: not valid UTF-8" in r.stderr, r
    assert "not UTF-8 text" not in r.stderr
    assert ids(cli) == ["e1", "e5", "e7"]
    kept = [orjson.loads(x) for x in rejects.read_text().splitlines()]
    assert [k["line"] for k in kept] == [2, 3, 4]


def test_a_file_mostly_not_utf8_is_refused_whole(cli, tmp_path: Path, path_kind: str) -> None:
    f = tmp_path / "latin1.jsonl"
    body = [json.dumps(row(i, subject=f"Caf\u00e9 {i}"), ensure_ascii=False) for i in range(6)]
    body.insert(2, json.dumps(row(9)))  # one line that happens to be plain ASCII
    f.write_bytes("\n".join(body).encode("latin-1"))
    r = cli("import", f)
    assert r.exit_code == 1
    assert f"{f}: not UTF-8 text (byte 0xe9" in r.stderr and "iconv" in r.stderr, r
    assert ids(cli) == []


def test_csv_unterminated_quote_is_an_error_at_its_line_and_swallows_nothing(
    cli, tmp_path: Path, path_kind: str
) -> None:
    f = tmp_path / "quote.csv"
    f.write_text(
        "timestamp,status,event_id,subject\n"
        "2026-01-01T00:00:01Z,sent,c1,fine\n"
        '2026-01-01T00:00:02Z,sent,c2,"never closed\n'
        "2026-01-01T00:00:03Z,sent,c3,swallowed\n"
        "2026-01-01T00:00:04Z,sent,c4,swallowed too\n"
    )
    r = cli("import", f)
    assert r.exit_code == 1, r
    assert f"{f}:3: unterminated quoted field" in r.stderr
    out = cli("search", "-f", "jsonl", "--limit", "0").stdout
    assert ids(cli) == ["c1"] and "swallowed" not in out


def test_csv_stray_quote_and_bad_utf8_line_are_record_errors(
    cli, tmp_path: Path, path_kind: str
) -> None:
    f = tmp_path / "rows.csv"
    f.write_bytes(
        b"timestamp,status,event_id,subject\n"
        b"2026-01-01T00:00:01Z,sent,c1,fine\n"
        b'2026-01-01T00:00:02Z,sent,c2,"quoted"tail\n'
        b"2026-01-01T00:00:03Z,sent,c3,caf\xe9\n"
        b'2026-01-01T00:00:04Z,sent,c4,"multi\r\nline"\n'
    )
    r = cli("import", f)
    assert r.exit_code == 1, r
    assert f"{f}:3: unreadable CSV row" in r.stderr
    assert f"{f}:4: not valid UTF-8 (byte 0xe9" in r.stderr
    assert ids(cli) == ["c1", "c4"]
    out = cli("search", "-f", "jsonl", "--limit", "0").stdout
    assert "multi\\r\\nline" in out  # a CRLF inside quotes is data, kept as it was


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16-le"])
@pytest.mark.parametrize("container", ["jsonl", "json"])
def test_utf16_with_a_bom_is_read_as_json(
    cli, tmp_path: Path, path_kind: str, codec: str, container: str
) -> None:
    rows = [row(1), row(2, subject="gr\u00fc\u00df \U0001f600"), row(3)]
    if container == "jsonl":
        text = "\r\n".join(json.dumps(x, ensure_ascii=False) for x in rows) + "\r\n"
    else:
        text = json.dumps(rows, indent=2, ensure_ascii=False)
    f = tmp_path / f"u16.{container}"
    f.write_bytes(("\ufeff" + text).encode(codec))
    r = cli("import", f)
    assert r.exit_code == 0, r
    assert "3 new events" in r.stderr and "CSV" not in r.stderr
    out = cli("search", "-f", "jsonl", "--limit", "0").stdout
    assert ids(cli) == ["e1", "e2", "e3"] and "gr\u00fc\u00df \U0001f600" in out


def test_broken_utf16_is_one_file_error(cli, tmp_path: Path, path_kind: str) -> None:
    f = tmp_path / "bad16.jsonl"
    f.write_bytes(
        ("\ufeff" + json.dumps(row(1)) + "\n").encode("utf-16-be") + b"\xd8\x00\x00A\x00\n"
    )
    r = cli("import", f)
    assert r.exit_code == 1 and f"{f}: not valid UTF-16-BE at byte" in r.stderr, r
    assert "Traceback" not in r.stderr and ids(cli) == []


def test_big_concatenated_objects_and_pages_import_like_small_ones(
    cli, tmp_path: Path, path_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maillog_cli.ingest import readers

    loose = tmp_path / "loose.json"
    loose.write_text("".join(json.dumps(row(i), indent=1) for i in (1, 2, 3)))
    pages = tmp_path / "pages.json"
    pages.write_text(
        json.dumps({"TotalCount": 1, "Messages": [row(4)]}, indent=1)
        + json.dumps({"TotalCount": 1, "Messages": [row(5)]}, indent=1)
    )
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 10)  # as if they were big
    r = cli("import", loose, pages)
    assert r.exit_code == 0, r
    assert ids(cli) == ["e1", "e2", "e3", "e4", "e5"]

"""The import pipeline's bad-input policy: skip and report, atomic per file."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import orjson
import pytest

GOOD = {
    "event_id": "e1",
    "message_id": "<m1@example.com>",
    "timestamp": "2026-01-02T03:04:05.678Z",
    "provider": "postfix",
    "status": "delivered",
    "recipient": "Bob <Bob@Example.org>",
    "diagnostic": "250 2.0.0 OK",
}


def row(i: int, **changes: object) -> dict[str, object]:
    return {**GOOD, "event_id": f"e{i}", "message_id": f"m{i}@example.com", **changes}


def jsonl(path: Path, rows: list[object]) -> Path:
    path.write_bytes(
        b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows)
    )
    return path


def count(db: Path, table: str = "events") -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_good_file_imports_and_normalises(cli, tmp_path: Path, db_path: Path) -> None:
    f = jsonl(
        tmp_path / "a.jsonl", [row(1), row(2, status="bounce", diagnostic="550 5.1.1 no such user")]
    )
    r = cli("import", f)
    assert r.exit_code == 0, r
    assert "2 new events, 0 already present, 0 skipped" in r.stderr
    out = cli("search", "--format", "jsonl")
    rows = [orjson.loads(x) for x in out.stdout.splitlines()]
    assert {x["recipient"] for x in rows} == {"bob@example.org"}
    bounced = next(x for x in rows if x["status"] == "bounced")
    assert (bounced["smtp_code"], bounced["enhanced_code"]) == (550, "5.1.1")
    assert bounced["bounce_class"] == "hard" and bounced["bounce_reason"] == "user_unknown"


def test_reimport_adds_nothing(cli, tmp_path: Path, db_path: Path) -> None:
    f = jsonl(tmp_path / "a.jsonl", [row(1), row(2), row(1)])
    assert "2 new events, 1 already present" in cli("import", f).stderr
    assert "0 new events, 3 already present" in cli("import", f).stderr
    assert count(db_path) == 2


def test_bad_lines_are_reported_with_their_physical_line_and_skipped(
    cli, tmp_path: Path, db_path: Path
) -> None:
    f = jsonl(
        tmp_path / "b.jsonl",
        [
            row(1),
            b"{not json",
            b"",
            row(3, status="exploded"),
            row(4, timestamp="99999-01-01"),
            row(5),
        ],
    )
    r = cli("import", f)
    assert r.exit_code == 1
    lines = [
        line for line in r.stderr.splitlines() if ".jsonl:" in line and "new events" not in line
    ]
    assert lines[0].startswith(f"maillog: {f}:2: invalid JSON")
    assert f"{f}:4: unknown status 'exploded'" in lines[1]
    assert f"{f}:5: " in lines[2] and "99999" in lines[2]
    assert "2 new events" in r.stderr and "3 skipped" in r.stderr
    assert count(db_path) == 2


def test_strict_imports_nothing_from_a_bad_file_but_continues(
    cli, tmp_path: Path, db_path: Path
) -> None:
    bad = jsonl(tmp_path / "bad.jsonl", [row(1), b"[1, 2", row(3)])
    good = jsonl(tmp_path / "good.jsonl", [row(10)])
    r = cli("import", "--strict", bad, good)
    assert r.exit_code == 1
    assert "--strict: nothing imported from this file" in r.stderr
    assert count(db_path) == 1


def test_rejects_file_keeps_the_bad_records(cli, tmp_path: Path) -> None:
    f = jsonl(tmp_path / "b.jsonl", [row(1), row(2, status="nope")])
    rej = tmp_path / "rejects.jsonl"
    cli("import", "--rejects", rej, f)
    rejected = [orjson.loads(x) for x in rej.read_text().splitlines()]
    assert len(rejected) == 1
    assert rejected[0]["line"] == 2 and rejected[0]["record"]["status"] == "nope"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "trunc.json",
            b'[\n {"status": "sent", "timestamp": 1700000000},\n {"status": "se',
            "truncated JSON",
        ),
        ("cols.csv", b"a,b,c\n1,2,3\n", "CSV without the required columns"),
        ("utf16.jsonl", "\u0000".encode("utf-16-le") * 3, "UTF-16"),
        ("gz.jsonl.gz", b"\x1f\x8bnot really gzip", "compress"),
        ("deep.json", b"[" * 10000 + b"]" * 10000, ""),
    ],
)
def test_whole_file_problems_import_nothing_and_do_not_stop_the_others(
    cli, tmp_path: Path, db_path: Path, name: str, content: bytes, message: str
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    good = jsonl(tmp_path / "good.jsonl", [row(1)])
    r = cli("import", bad, good)
    assert r.exit_code == 1
    assert str(bad) in r.stderr and message in r.stderr
    assert "Traceback" not in r.stderr
    assert count(db_path) == 1


def test_missing_file_and_directory(cli, tmp_path: Path) -> None:
    r = cli("import", tmp_path / "nope.jsonl", tmp_path)
    assert r.exit_code == 1
    assert "no such file" in r.stderr and "is a directory" in r.stderr


def test_empty_input_is_not_an_error(cli, tmp_path: Path) -> None:
    f = tmp_path / "empty.jsonl"
    f.write_bytes(b"\n\n  \n")
    r = cli("import", f)
    assert r.exit_code == 0 and "empty input" in r.stderr


def test_encodings_and_line_ends(cli, tmp_path: Path, db_path: Path) -> None:
    body = (
        orjson.dumps(row(1)) + b"\r\n" + orjson.dumps(row(2)) + b"\r" + orjson.dumps(row(3)) + b"\n"
    )
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + body)
    (tmp_path / "u16.jsonl").write_bytes(("\ufeff" + body.decode()).encode("utf-16-le"))
    r = cli("import", tmp_path / "bom.jsonl")
    assert r.exit_code == 0 and "3 new events" in r.stderr, r
    r = cli("import", tmp_path / "u16.jsonl")
    assert r.exit_code == 0 and "3 already present" in r.stderr, r


def test_hostile_values_are_record_errors(cli, tmp_path: Path, db_path: Path) -> None:
    lines = [
        b'{"status": "sent", "timestamp": NaN}',
        b'{"status": "sent", "timestamp": 1e999}',
        b'{"status": "sent", "timestamp": true}',
        b'{"status": "sent", "timestamp": -5}',
        b'{"status": "sent", "timestamp": "yesterday-ish"}',
        b'{"status": "sent", "timestamp": 123456789012345678901234567890}',
        b'{"status": "sent", "timestamp": "2026-01-01", "subject": "\\ud800 lone"}',
        b'{"status": "sent", "timestamp": "2026-01-01", "subject": "nul \\u0000 byte"}',
        b'{"status": ["sent"], "timestamp": "2026-01-01"}',
        b"\x00\x00\x00",
        b'{"status": "sent", "timestamp": "2026-01-02", "subject": "' + b"x" * 2_000_000 + b'"}',
        b"[" * 5000 + b"]" * 5000,
    ]
    f = jsonl(tmp_path / "h.jsonl", lines)
    r = cli("import", f)
    assert "Traceback" not in r.stderr
    assert r.exit_code == 1
    # the NUL-in-string and the long line are valid records; the rest are reported
    assert count(db_path) == 2
    assert r.stderr.count(f"maillog: {f}:") == 10


def test_gzip_and_stdin(cli, tmp_path: Path, db_path: Path) -> None:
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(orjson.dumps(row(1)) + b"\n"))
    assert cli("import", gz).exit_code == 0
    r = cli("import", "-", input=orjson.dumps(row(2)).decode() + "\n")
    assert r.exit_code == 0, r
    assert count(db_path) == 2


def test_json_array_concatenated_objects_and_wrapped_pages(
    cli, tmp_path: Path, db_path: Path
) -> None:
    (tmp_path / "arr.json").write_text(json.dumps([row(1), row(2)], indent=2))
    (tmp_path / "cat.json").write_text(
        json.dumps(row(3), indent=2) + "\n" + json.dumps(row(4), indent=2)
    )
    r = cli("import", tmp_path / "arr.json", tmp_path / "cat.json")
    assert r.exit_code == 0, r
    assert count(db_path) == 4


def test_bad_item_in_array_reports_its_line(cli, tmp_path: Path) -> None:
    (tmp_path / "arr.json").write_text(json.dumps([row(1), row(2, status="??")], indent=2))
    r = cli("import", tmp_path / "arr.json")
    assert r.exit_code == 1
    assert f"{tmp_path / 'arr.json'}:11: unknown status" in r.stderr


def test_csv_physical_lines_count_quoted_newlines(cli, tmp_path: Path, db_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text(
        'timestamp,status,subject\n2026-01-01T00:00:00Z,sent,"two\nlines"\n2026-01-01T00:00:01Z,bogus,x\n'
    )
    r = cli("import", f)
    assert f"{f}:4: unknown status 'bogus'" in r.stderr
    assert count(db_path) == 1


def test_naive_times_use_tz_option(cli, tmp_path: Path) -> None:
    f = jsonl(tmp_path / "a.jsonl", [row(1, timestamp="2026-01-02 12:00:00")])
    cli("import", "--tz", "Europe/Berlin", f)
    out = orjson.loads(cli("search", "--format", "jsonl").stdout)
    assert out["timestamp"] == "2026-01-02T11:00:00.000Z"


def test_unrecognised_records_name_their_keys(cli, tmp_path: Path, db_path: Path) -> None:
    f = jsonl(tmp_path / "x.jsonl", [{"foo": 1, "bar": 2}])
    r = cli("import", f)
    assert r.exit_code == 1
    assert "unrecognised record: keys foo, bar" in r.stderr
    assert "nothing imported" in r.stderr


def test_unknown_format_name_is_a_clear_error(cli, tmp_path: Path) -> None:
    f = jsonl(tmp_path / "a.jsonl", [row(1)])
    r = cli("import", "--format", "nosuch", f)
    assert r.exit_code == 1 and "unknown format 'nosuch'" in r.stderr


def test_provenance_is_recorded(cli, tmp_path: Path, db_path: Path) -> None:
    f = jsonl(tmp_path / "a.jsonl", [row(1), row(2)])
    cli("import", f)
    with sqlite3.connect(db_path) as conn:
        source, sha, new, fmt = conn.execute(
            "SELECT source, sha256, new_events, format FROM imports"
        ).fetchone()
    import hashlib

    assert (source, new, fmt) == (str(f), 2, "maillog")
    assert sha == hashlib.sha256(f.read_bytes()).hexdigest()


def test_big_documents_are_streamed_with_the_same_result(
    cli, tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maillog_cli.ingest import readers

    from .conftest import PROVIDER_FIXTURES

    page = PROVIDER_FIXTURES / "mailgun-events-page.json"  # a wrapped page: kept keys
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps([row(i) for i in range(50)], indent=1))
    small = [cli("import", page), cli("import", arr)]
    assert all(r.exit_code == 0 for r in small), small
    before = cli("search", "-f", "jsonl", "--limit", "0").stdout
    db_path.unlink()
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 10)
    streamed = [cli("import", page), cli("import", arr)]
    assert all(r.exit_code == 0 for r in streamed), streamed
    assert cli("search", "-f", "jsonl", "--limit", "0").stdout == before


def test_lone_surrogate_in_a_json_document_is_a_record_error(
    cli, tmp_path: Path, db_path: Path
) -> None:
    f = tmp_path / "s.json"
    f.write_text(
        '[{"status": "sent", "timestamp": 1700000000, "subject": "\\ud800"},\n {"status": "sent", "timestamp": 1700000001, "subject": "\\ud83d\\ude00 ok"}]'
    )
    r = cli("import", f)
    assert r.exit_code == 1 and "lone surrogate" in r.stderr
    assert orjson.loads(cli("search", "-f", "jsonl").stdout)["subject"] == "😀 ok"


def test_wrapped_exports_are_unwrapped(cli, tmp_path: Path, db_path: Path) -> None:
    for i, key in enumerate(("items", "entries", "Messages")):
        (tmp_path / f"{key}.json").write_text(
            json.dumps({key: [row(10 * i), row(10 * i + 1)], "TotalCount": 2}, indent=2)
        )
    r = cli("import", *sorted(tmp_path.glob("*.json")))
    assert r.exit_code == 0, r
    assert count(db_path) == 6


def test_binary_and_non_utf8_files_are_named_as_such(cli, tmp_path: Path, db_path: Path) -> None:
    (tmp_path / "img.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "latin.csv").write_bytes(b"timestamp,status,subject\n2026-01-01,sent,Caf\xe9\n")
    r = cli("import", tmp_path / "img.json", tmp_path / "latin.csv")
    assert r.exit_code == 1
    assert "img.json: binary data" in r.stderr
    assert "latin.csv: not UTF-8 text (byte 0xe9" in r.stderr and "iconv" in r.stderr


def test_a_maildir_folder_follows_the_same_policy(cli, tmp_path: Path, db_path: Path) -> None:
    from email.message import EmailMessage

    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@x.example", "b@y.example", "hi"
    msg["Date"], msg["Message-ID"] = "Fri, 14 Jun 2024 08:00:06 +0200", "<m1@x.example>"
    msg.set_content("hello")
    (box / "cur" / "1.eml").write_bytes(msg.as_bytes())
    (box / "new" / "2.eml").write_bytes(  # no From, To, Subject, Date or Message-ID
        b"X-Mailer: notes\nX-Note: no date\n\nbody\n"
    )
    r = cli("import", box)
    assert r.exit_code == 1
    assert f"{box}:new/2.eml: " in r.stderr
    assert count(db_path) == 1 and count(db_path, "message_content") == 1
    db_path.unlink()
    r = cli("import", "--strict", box)
    assert r.exit_code == 1 and "--strict: nothing imported" in r.stderr
    assert count(db_path) == 0

"""Compressed bombs and runaway records: the record cap holds on decompressed bytes, an
oversized line or JSON value is a record error, and memory stays under 150 MB.

The hostile files are generated here (multi-member gzip: one compressed megabyte-run
repeated), never committed. Each import runs in a child process whose peak memory
(its own and its forked parser's) is measured; RLIMIT_AS is a safety net only.
"""

from __future__ import annotations

import gzip
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
MEMORY_PROMISE_KB = 150 * 1024
CAP_ERROR = "record over 16 MB"

_RUN = """
import resource, sys
rss_file, args = sys.argv[1], sys.argv[2:]
if args[0] == "--fork":  # every file on disk through the forked parser
    from maillog_cli.ingest import batches
    batches.BULK_BYTES = 1
args = args[1:]
sys.argv = ["maillog", *args]
from maillog_cli.cli import main
try:
    main()
finally:
    # This process's own high-water mark: ru_maxrss would also count what the process that
    # started it (pytest, grown big after many tests) had resident when it forked, which
    # Linux keeps across exec. The forked parser's peak is its own (it forks from here).
    try:
        own = next(int(line.split()[1]) for line in open("/proc/self/status")
                   if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    open(rss_file, "w").write(str(peak))
"""


def run(tmp_path: Path, *args: str, forked: bool = False, env: dict[str, str] | None = None):
    """(exit code, stderr, peak RSS in KB, seconds) of `maillog ARGS` in a child process."""
    rss = tmp_path / "rss.txt"

    def limit() -> None:  # a regression fails with MemoryError instead of taking the machine
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(rss), "--fork" if forked else "--no-fork", *args],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MAILLOG_DB": str(tmp_path / "store.db"),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=600,
    )
    return proc.returncode, proc.stderr, int(rss.read_text()), time.monotonic() - started


def member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def good(i: int) -> bytes:
    return orjson.dumps(
        {"event_id": f"g{i}", "status": "sent", "timestamp": f"2026-01-01T00:00:0{i}Z"}
    )


def events(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return sorted(r[0] for r in conn.execute("SELECT event_id FROM events"))


@pytest.fixture(params=["in-process", "forked"])
def forked(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "forked")


def test_a_4gb_line_in_a_jsonl_gz_fails_fast_with_the_record_error(
    tmp_path: Path, forked: bool
) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    run_of_x = member(b"x" * (16 << 20))
    with bomb.open("wb") as f:
        f.write(member(good(1) + b'\n{"status": "sent", "subject": "'))
        for _ in range(256):  # 4 GB of one line, about 4 MB on disk
            f.write(run_of_x)
        f.write(member(b'"}\n' + good(2) + b"\n"))
    code, err, rss, seconds = run(tmp_path, "import", str(bomb), forked=forked)
    assert code == 1, err
    assert f"{bomb}:2: {CAP_ERROR}" in err
    assert "Traceback" not in err and "MemoryError" not in err
    assert rss < MEMORY_PROMISE_KB, f"peak {rss // 1024} MB"
    assert seconds < 120
    assert events(tmp_path / "store.db") == []  # a bomb is refused as a whole


def test_a_huge_json_document_in_a_gz_is_a_record_error_in_bounded_memory(
    tmp_path: Path, forked: bool
) -> None:
    run_of_x = member(b"x" * (16 << 20))
    page = tmp_path / "page.json.gz"
    with page.open("wb") as f:
        f.write(member(b'{"TotalCount": 2, "Messages": [' + good(1) + b', {"Subject": "'))
        for _ in range(256):
            f.write(run_of_x)
        f.write(member(b'"}]}'))
    array = tmp_path / "array.json.gz"
    array.write_bytes(
        member(b"[\n" + good(1) + b',\n{"subject": "') + run_of_x * 4 + member(b'"}]')
    )
    for path, where in ((page, "Messages item 2"), (array, "item 2")):
        code, err, rss, _ = run(tmp_path, "import", str(path), forked=forked)
        assert code == 1, err
        assert f"{path}:{where}: {CAP_ERROR}" in err
        assert "nothing imported" in err and "Traceback" not in err
        assert rss < MEMORY_PROMISE_KB, f"{path.name}: peak {rss // 1024} MB"


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_long_first_line_is_one_bad_record_not_a_whole_file_document(
    tmp_path: Path, forked: bool, suffix: str
) -> None:
    body = (
        b'{"status": "sent", "subject": "'
        + b"y" * (40 << 20)  # one 40 MB line; detection looks at the first 1 MB only
        + b'"}\n'
        + good(1)
        + b"\n\n"
        + good(2)
        + b"\n"
    )
    f = tmp_path / f"long-first{suffix}"
    f.write_bytes(gzip.compress(body, compresslevel=1) if suffix.endswith(".gz") else body)
    del body
    code, err, rss, _ = run(tmp_path, "import", str(f), forked=forked)
    assert code == 1, err
    assert f"{f}:1: {CAP_ERROR}" in err and "--max-record-mb" in err
    assert "2 new events" in err
    assert events(tmp_path / "store.db") == ["g1", "g2"]
    assert rss < MEMORY_PROMISE_KB, f"peak {rss // 1024} MB"


def test_the_cap_is_configurable_by_option_and_environment(cli, tmp_path: Path) -> None:
    f = tmp_path / "mid.jsonl"
    f.write_bytes(
        good(1)
        + b'\n{"status": "sent", "timestamp": "2026-01-01T00:00:09Z", "event_id": "big", "subject": "'
        + b"z" * (2 << 20)
        + b'"}\n'
        + good(2)
        + b"\n"
    )
    r = cli("import", "--max-record-mb", "1", f)
    assert r.exit_code == 1 and f"{f}:2: record over 1 MB" in r.stderr, r
    assert cli("search", "-f", "jsonl").stdout.count("\n") == 2
    os.environ["MAILLOG_MAX_RECORD_MB"] = "4"
    try:
        r = cli("import", f)
    finally:
        del os.environ["MAILLOG_MAX_RECORD_MB"]
    assert r.exit_code == 0, r
    assert cli("search", "-f", "jsonl").stdout.count("\n") == 3
    for bad in ("0", "-3", "1e9"):
        r = cli("import", "--max-record-mb", bad, f)
        assert r.exit_code == 1 and "--max-record-mb must be a number" in r.stderr, r
    os.environ["MAILLOG_MAX_RECORD_MB"] = "lots"
    try:
        r = cli("import", f)
    finally:
        del os.environ["MAILLOG_MAX_RECORD_MB"]
    assert r.exit_code == 1 and "MAILLOG_MAX_RECORD_MB must be a number" in r.stderr


def test_a_csv_line_or_field_over_the_cap_is_a_record_error(cli, tmp_path: Path) -> None:
    f = tmp_path / "big.csv"
    f.write_bytes(
        b"timestamp,status,event_id,subject\n"
        + b"2026-01-01T00:00:01Z,sent,c1,hello\n"
        + b"2026-01-01T00:00:02Z,sent,c2,"
        + b"w" * (2 << 20)
        + b"\n2026-01-01T00:00:03Z,sent,c3,"
        + b'"'
        + b"q" * (2 << 20)
        + b'"\n2026-01-01T00:00:04Z,sent,c4,bye\n'
    )
    r = cli("import", "--max-record-mb", "1", f)
    assert r.exit_code == 1, r
    assert f"{f}:3: record over 1 MB" in r.stderr and f"{f}:4: record over 1 MB" in r.stderr
    rows = cli("search", "-f", "jsonl").stdout
    assert rows.count("\n") == 2 and '"c1"' in rows and '"c4"' in rows


CROWDED = {
    "tiny objects": lambda: b"[" + b"{}," * (5 << 20) + b"{}]",
    "tiny strings": lambda: b"[" + b'"a",' * (3 << 20) + b'"a"]',
    "many keys": lambda: b"{" + b"".join(b'"k%d":1,' % i for i in range(1 << 20)) + b'"z":1}',
}


@pytest.mark.parametrize("shape", sorted(CROWDED))
def test_a_record_of_millions_of_tiny_values_is_a_record_error_in_bounded_memory(
    tmp_path: Path, forked: bool, shape: str
) -> None:
    """Under the byte cap, but each value costs ~50-150 bytes once parsed: 16 MB of `{},`
    would take over 500 MB. A record holds at most one value per 40 bytes of the cap."""
    f = tmp_path / "crowded.jsonl"
    f.write_bytes(good(1) + b"\n" + CROWDED[shape]() + b"\n" + good(2) + b"\n")
    code, err, rss, _ = run(tmp_path, "import", str(f), forked=forked)
    assert code == 1, err
    assert f"{f}:2: record with more than 419,430 values" in err, err
    assert events(tmp_path / "store.db") == ["g1", "g2"]
    assert rss < MEMORY_PROMISE_KB, f"{shape}: peak {rss // 1024} MB"


def test_a_crowded_json_document_streams_and_a_crowded_csv_row_is_an_error(
    tmp_path: Path, forked: bool
) -> None:
    doc = tmp_path / "crowded.json"  # a page under 8 MB whose side field holds 2M objects
    doc.write_bytes(
        b'{\n"Messages": [\n' + good(1) + b'\n],\n"meta": [' + b"{}," * (2 << 20) + b"{}]}\n"
    )
    code, err, rss, _ = run(tmp_path, "import", str(doc), forked=forked)
    assert code == 1 and "the page's 'meta' field is over the record cap" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert rss < MEMORY_PROMISE_KB, f"json: peak {rss // 1024} MB"
    table = tmp_path / "crowded.csv"
    table.write_bytes(
        b"timestamp,status,event_id\n" + b"," * (8 << 20) + b"\n2026-01-01T00:00:01Z,sent,c1\n"
    )
    code, err, rss, _ = run(tmp_path, "import", str(table), forked=forked)
    assert code == 1 and f"{table}:2: record with more than" in err, err
    assert "1 new event," in err
    assert rss < MEMORY_PROMISE_KB, f"csv: peak {rss // 1024} MB"


def big_email(n_bytes: int, message_id: str) -> bytes:
    """A sent email with one attachment of about n_bytes (base64 lines, as mail carries it)."""
    import base64

    body = base64.encodebytes(os.urandom(n_bytes * 3 // 4))
    head = (
        f"From: app@example.com\nTo: bob@example.org\nSubject: report\n"
        f"Message-ID: <{message_id}>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n\n"
        "--BB\nContent-Type: text/plain\n\nhi\n--BB\n"
        "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
    ).encode()
    return head + body + b"\n--BB--\n"


def test_a_big_email_is_stored_whole_under_the_memory_promise(tmp_path: Path) -> None:
    eml = tmp_path / "big.eml"
    eml.write_bytes(big_email(20 << 20, "big@example.com"))
    code, err, rss, _ = run(tmp_path, "import", str(eml))
    assert code == 0, err
    assert rss < MEMORY_PROMISE_KB, f"peak {rss // 1024} MB"
    with sqlite3.connect(tmp_path / "store.db") as conn:
        (size,) = conn.execute("SELECT length(raw) FROM message_content").fetchone()
        (status,) = conn.execute("SELECT status FROM events").fetchone()
    assert size == eml.stat().st_size and status == "sent"


def test_an_email_over_the_message_cap_is_a_record_error(tmp_path: Path) -> None:
    eml = tmp_path / "huge.eml"
    eml.write_bytes(big_email(30 << 20, "huge@example.com"))
    code, err, rss, _ = run(tmp_path, "import", str(eml))
    assert code == 1 and "message larger than 24 MiB" in err, err
    assert rss < MEMORY_PROMISE_KB, f"peak {rss // 1024} MB"

"""Red team 6: two sources that number their events alike.

Events are unique by event_id, taken from the source: an application's CSV numbers them
1, 2, 3 …, Postmark numbers its bounces, SparkPost its events. A second source using the
same numbers was counted "already present" and its events were never stored.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

CSV_HEAD = "event_id,timestamp,status,recipient,message_id\n"


def _rows(db: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute("SELECT recipient, status, message_id FROM events"))
    finally:
        conn.close()


def test_two_applications_numbering_events_alike_keep_all_their_events(
    cli, tmp_path: Path, db_path: Path
) -> None:
    a = tmp_path / "app-a.csv"
    a.write_text(
        CSV_HEAD + "1,2026-12-01T00:00:00Z,delivered,ann@a.example,m-a1\n"
        "2,2026-12-01T00:01:00Z,bounced,bob@a.example,m-a2\n"
    )
    b = tmp_path / "app-b.csv"
    b.write_text(
        CSV_HEAD + "1,2026-12-02T00:00:00Z,delivered,cy@b.example,m-b1\n"
        "2,2026-12-02T00:01:00Z,bounced,di@b.example,m-b2\n"
    )
    r = cli("import", a, b)
    assert r.exit_code == 0, r
    assert "app-b.csv: 2 new events, 0 already present" in r.stderr
    assert [x[0] for x in _rows(db_path)] == [
        "ann@a.example", "bob@a.example", "cy@b.example", "di@b.example"
    ]  # fmt: skip
    # Importing both again finds every event already stored (in either order).
    r = cli("import", b, a)
    assert r.exit_code == 0, r
    assert "total: 2 files, 0 new events, 4 already present" in r.stderr
    assert len(_rows(db_path)) == 4


def test_a_postmark_bounce_and_a_sparkpost_event_with_the_same_number(
    cli, tmp_path: Path, db_path: Path
) -> None:
    number = "4323372036854775807"
    pm = tmp_path / "postmark.jsonl"
    pm.write_text(
        json.dumps(
            {
                "RecordType": "Bounce",
                "ID": int(number),
                "Type": "HardBounce",
                "TypeCode": 1,
                "MessageID": "pm-0002",
                "Email": "jon@example.org",
                "BouncedAt": "2024-06-05T14:00:00Z",
                "Details": "smtp;550 5.1.1 no such user",
            }
        )
        + "\n"
    )
    sp = tmp_path / "sparkpost.json"
    event = {
        "type": "delivery",
        "event_id": number,
        "message_id": "sp-0001",
        "timestamp": "1718010000",
        "rcpt_to": "tom@example.com",
    }
    sp.write_text(json.dumps([{"msys": {"message_event": event}}]))
    assert cli("import", pm).exit_code == 0
    r = cli("import", sp)
    assert r.exit_code == 0, r
    assert "1 new event, 0 already present" in r.stderr
    assert [x[0] for x in _rows(db_path)] == ["jon@example.org", "tom@example.com"]


def test_a_true_duplicate_is_still_one_event(cli, tmp_path: Path, db_path: Path) -> None:
    """The same provider's event for the same recipient, whatever else differs in the
    copy (a later form may add a subject), stays one row."""
    a = tmp_path / "a.csv"
    a.write_text(CSV_HEAD + "7,2026-12-01T00:00:00Z,delivered,ann@a.example,m-a1\n")
    b = tmp_path / "b.csv"
    b.write_text(
        "event_id,timestamp,status,recipient,message_id,subject\n"
        "7,2026-12-01T00:00:00Z,delivered,ANN@a.example,m-a1,Hello\n"
    )
    assert cli("import", a).exit_code == 0
    r = cli("import", b)
    assert r.exit_code == 0 and "0 new events, 1 already present" in r.stderr, r
    assert len(_rows(db_path)) == 1


def test_the_store_with_both_round_trips_through_export(cli, tmp_path: Path, db_path: Path) -> None:
    a = tmp_path / "app-a.csv"
    a.write_text(CSV_HEAD + "1,2026-12-01T00:00:00Z,delivered,ann@a.example,m-a1\n")
    b = tmp_path / "app-b.csv"
    b.write_text(CSV_HEAD + "1,2026-12-02T00:00:00Z,delivered,cy@b.example,m-b1\n")
    assert cli("import", a, b).exit_code == 0
    first, second, fresh = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "fresh.db"
    assert cli("export", "-o", first).exit_code == 0
    r = cli("--db", fresh, "import", first)
    assert r.exit_code == 0 and "2 new events" in r.stderr, r
    assert cli("--db", fresh, "export", "-o", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert _rows(fresh) == _rows(db_path)

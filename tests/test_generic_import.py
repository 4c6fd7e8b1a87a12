from __future__ import annotations

from pathlib import Path

import orjson


def test_generic_csv_by_common_names(cli, tmp_path: Path) -> None:
    f = tmp_path / "app.csv"
    f.write_text(
        "date,email,event,reason\n2026-01-02 10:00:00,Bob@X.example,hard_bounce,550 5.1.1 no such user\n2026-01-02 10:01:00,amy@x.example,delivered,\n"
    )
    r = cli("import", f)
    assert r.exit_code == 0, r
    rows = [orjson.loads(x) for x in cli("search", "-f", "jsonl").stdout.splitlines()]
    assert [(x["status"], x["recipient"], x["smtp_code"], x["bounce_class"]) for x in rows] == [
        ("delivered", "amy@x.example", None, None),
        ("bounced", "bob@x.example", 550, "hard"),
    ]
    assert (
        rows[1]["raw_status"] == "hard_bounce"
        and rows[1]["timestamp"] == "2026-01-02T10:00:00.000Z"
    )


def test_map_option_for_unusual_columns(cli, tmp_path: Path) -> None:
    f = tmp_path / "odd.csv"
    f.write_text("when,who,what,mid\n1767348000,c@x.example,open,<m1@x>\n")
    r = cli("import", f)
    assert r.exit_code == 1 and "CSV without the required columns" in r.stderr
    r = cli(
        "import",
        "--format",
        "generic",
        "--map",
        "when=timestamp",
        "--map",
        "who=recipient",
        "--map",
        "what=status",
        "--map",
        "mid=message_id",
        f,
    )
    assert r.exit_code == 0, r
    row = orjson.loads(cli("search", "-f", "jsonl").stdout)
    assert (row["status"], row["recipient"], row["message_id"]) == ("opened", "c@x.example", "m1@x")


def test_bad_map_target_is_reported(cli, tmp_path: Path) -> None:
    f = tmp_path / "odd.jsonl"
    f.write_text('{"when": 1767348000, "who": "a@x", "what": "open"}\n')
    r = cli("import", "--format", "generic", "--map", "when=time_of_day", f)
    assert r.exit_code == 1 and "is not a field" in r.stderr


def test_generic_jsonl_auto_detected(cli, tmp_path: Path) -> None:
    f = tmp_path / "log.jsonl"
    f.write_text(
        '{"created_at": "2026-01-02T10:00:00+02:00", "to": "a@x.example", "event": "spamreport"}\n'
    )
    assert cli("import", f).exit_code == 0
    row = orjson.loads(cli("search", "-f", "jsonl").stdout)
    assert (row["status"], row["timestamp"]) == ("complained", "2026-01-02T08:00:00.000Z")

"""`maillog stats`: exact per-message counts and rates on a known data set, imported
through the real CLI; the DESIGN.md json shape; empty windows; --by sorting; thresholds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

WINDOW = ("--since", "2026-03-02", "--until", "2026-03-06")

# (message, domain, provider, day, [(time, status, bounce_class)]) — 13 messages, 29 events.
MESSAGES = [
    # 03-02
    (
        "m1",
        "gmail.com",
        "sendgrid",
        "02",
        [
            ("10:00", "queued", None),
            ("10:01", "sent", None),
            ("10:02", "delivered", None),
            ("11:00", "opened", None),
            ("12:00", "opened", None),
            ("12:01", "clicked", None),
        ],
    ),
    (
        "m2",
        "gmail.com",
        "sendgrid",
        "02",
        [("10:00", "sent", None), ("10:01", "delivered", None), ("13:00", "complained", None)],
    ),
    ("m3", "yahoo.com", "ses", "02", [("10:00", "sent", None), ("10:01", "bounced", "hard")]),
    # 03-03
    (
        "m4",
        "yahoo.com",
        "ses",
        "03",
        [("09:00", "sent", None), ("09:05", "deferred", "soft"), ("10:05", "deferred", "soft")],
    ),
    (
        "m5",
        "yahoo.com",
        "ses",
        "03",
        [("09:00", "sent", None), ("09:05", "deferred", "soft"), ("11:00", "delivered", None)],
    ),
    ("m6", "example.org", "ses", "03", [("09:00", "dropped", "hard")]),
    ("m7", "example.org", "ses", "03", [("09:00", "failed", "undetermined")]),
    # 03-04: nothing. 03-05:
    ("m8", "example.org", "sendgrid", "05", [("08:00", "queued", None)]),
    ("m9", "gmail.com", "sendgrid", "05", [("08:00", "sent", None)]),
    ("m10", "gmail.com", "sendgrid", "05", [("08:00", "sent", None), ("09:00", "opened", None)]),
    (
        "m11",
        "hotmail.com",
        "sendgrid",
        "05",
        [("08:00", "sent", None), ("08:01", "bounced", "block")],
    ),
    (
        "m12",
        "gmail.com",
        "sendgrid",
        "05",
        [("08:00", "delivered", None), ("09:00", "unsubscribed", None)],
    ),
]
# First seen the day before the window, delivered inside it: outside --since 2026-03-02.
EARLY = ("m13", "example.net", "ses", "01", [("23:59", "sent", None)])
EARLY_LATE_EVENT = ("2026-03-02T00:01:00Z", "delivered")


def _rows() -> list[dict]:
    rows = []
    for mid, domain, provider, day, events in [*MESSAGES, EARLY]:
        for n, (hhmm, status, cls) in enumerate(events):
            rows.append(
                _event(
                    f"{mid}-{n}", mid, f"2026-03-{day}T{hhmm}:00Z", provider, status, domain, cls
                )
            )
    rows.append(
        _event(
            "m13-late", "m13", EARLY_LATE_EVENT[0], "ses", EARLY_LATE_EVENT[1], "example.net", None
        )
    )
    return rows


def _event(
    eid: str, mid: str, ts: str, provider: str, status: str, domain: str, cls: str | None
) -> dict:
    return {
        "event_id": eid,
        "message_id": f"{mid}@test.example",
        "timestamp": ts,
        "provider": provider,
        "direction": "outbound",
        "status": status,
        "raw_status": status,
        "sender": "app@test.example",
        "recipient": f"user-{mid}@{domain}",
        "subject": "Hello",
        "smtp_code": None,
        "enhanced_code": None,
        "diagnostic": None,
        "bounce_class": cls,
        "bounce_reason": None,
    }


@pytest.fixture
def data(tmp_path: Path, cli) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()), encoding="utf-8")
    r = cli("import", path)
    assert r.exit_code == 0, r
    return path


def _json(cli, *args: str) -> dict:
    r = cli("stats", "--format", "json", *args)
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


def test_counts_and_rates_are_per_message(data, cli):
    o = _json(cli, *WINDOW)
    assert o["messages"] == 12
    assert o["sent"] == 9  # not m6 dropped, m7 failed, m8 queued
    assert o["by_status"] == {
        "queued": 1, "sent": 2, "delivered": 4, "deferred": 1, "bounced": 2,
        "dropped": 1, "failed": 1, "forwarded": 0, "processed": 0, "rejected": 0,
    }  # fmt: skip
    # m1 (sent, delivered, opened twice, clicked) counts once as delivered and once as opened;
    # m10 (sent, opened) was delivered by the evidence of its open.
    assert o["counts"] == {
        "delivered": 5, "bounced": 2, "hard": 1, "soft": 0, "block": 1, "undetermined": 0,
        "deferred": 1, "unconfirmed": 1, "complained": 1, "opened": 2, "clicked": 1,
        "unsubscribed": 1, "queued": 1, "dropped": 1, "failed": 1,
    }  # fmt: skip
    assert o["rates"] == {
        "delivery": 0.555556, "bounce": 0.222222, "complaint": 0.111111, "open": 0.222222,
        "click": 0.111111, "deferral": 0.111111, "pending": 0.111111, "unsubscribe": 0.111111,
    }  # fmt: skip
    assert o["bounce_classes"] == {"hard": 1, "soft": 0, "block": 1, "undetermined": 0}
    # The four outcomes split the sent messages.
    c = o["counts"]
    assert c["delivered"] + c["bounced"] + c["deferred"] + c["unconfirmed"] == o["sent"]


def test_json_shape_is_design_md(data, cli):
    o = _json(cli, *WINDOW)
    assert list(o)[:4] == ["messages", "by_status", "rates", "series"]
    assert list(o) == [
        "messages", "by_status", "rates", "series", "sent", "counts", "bounce_classes", "auth", "thresholds",
    ]  # fmt: skip
    assert list(o["rates"])[:5] == ["delivery", "bounce", "complaint", "open", "click"]
    assert all(v is None or 0.0 <= v <= 1.0 for v in o["rates"].values())
    assert o["thresholds"] == {"bounce": 0.02, "complaint": 0.001}
    assert o["auth"] == {"spf": None, "dkim": None, "dmarc": None}
    assert [d["day"] for d in o["series"]] == [
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-05",
    ]
    for day in o["series"]:
        assert list(day)[0] == "day"


def test_series_per_day_with_empty_days(data, cli):
    days = {d["day"]: d for d in _json(cli, *WINDOW)["series"]}
    d1, d2, gap, d4 = (days[f"2026-03-0{n}"] for n in (2, 3, 4, 5))
    assert (d1["messages"], d1["sent"], d1["delivered"], d1["bounced"], d1["opened"]) == (
        3,
        3,
        2,
        1,
        1,
    )
    assert d1["bounce"] == 0.333333 and d1["complaint"] == 0.333333
    assert (
        d2["messages"],
        d2["sent"],
        d2["delivered"],
        d2["deferred"],
        d2["dropped"],
        d2["failed"],
    ) == (4, 2, 1, 1, 1, 1)
    assert gap["messages"] == 0 and gap["sent"] == 0
    assert gap["delivery"] is None and gap["bounce"] is None  # no division by zero: null
    assert (d4["messages"], d4["sent"], d4["delivered"], d4["unconfirmed"], d4["queued"]) == (
        5,
        4,
        2,
        1,
        1,
    )


def test_window_applies_to_first_seen(data, cli):
    # m13 was first seen on 03-01: inside with no window, outside --since 2026-03-02 even
    # though its delivery happened on 03-02.
    assert _json(cli)["messages"] == 13
    assert _json(cli, "--since", "2026-03-02")["messages"] == 12
    assert _json(cli, "--until", "2026-03-02")["messages"] == 1
    assert _json(cli, "--since", "2026-03-05", "--until", "2026-03-06")["sent"] == 4


def test_empty_window(data, cli):
    o = _json(cli, "--since", "2025-01-01", "--until", "2025-01-03")
    assert o["messages"] == 0 and o["sent"] == 0
    assert set(o["rates"].values()) == {None}
    assert set(o["by_status"].values()) == {0}
    assert [(d["day"], d["messages"], d["bounce"]) for d in o["series"]] == [
        ("2025-01-01", 0, None),
        ("2025-01-02", 0, None),
    ]
    r = cli("stats", "--since", "2025-01-01", "--until", "2025-01-03")
    assert r.exit_code == 0 and "no messages match" in r.stdout
    r = cli(
        "stats", "--by", "domain", "--since", "2025-01-01", "--until", "2025-01-03", "-f", "csv"
    )
    assert r.exit_code == 0 and r.stdout.count("\n") == 1  # the header only


def test_common_filters_select_messages(data, cli):
    assert _json(cli, *WINDOW, "--domain", "gmail.com")["messages"] == 5
    assert _json(cli, *WINDOW, "--provider", "ses")["sent"] == 3
    # A status filter means the latest lifecycle status, or "was ever" for engagement.
    assert _json(cli, *WINDOW, "--status", "bounced")["messages"] == 2
    assert _json(cli, *WINDOW, "--status", "open")["messages"] == 2
    assert _json(cli, *WINDOW, "--status", "spam", "--status", "deferred")["messages"] == 2
    assert _json(cli, *WINDOW, "--class", "block")["counts"]["bounced"] == 1
    assert _json(cli, *WINDOW, "--message-id", "<m9@test.example>")["counts"]["unconfirmed"] == 1


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_by_domain_sorted_by_attention(data, cli):
    r = cli("stats", "--by", "domain", *WINDOW, "--format", "csv")
    assert r.exit_code == 0, r
    rows = _csv(r.stdout)
    # complaint 1/5 = 200x its threshold; bounce 1/1 = 50x; bounce 1/3 = 16.7x; nothing sent.
    assert [x["domain"] for x in rows] == ["gmail.com", "hotmail.com", "yahoo.com", "example.org"]
    gmail = rows[0]
    assert (gmail["messages"], gmail["sent"], gmail["delivered"], gmail["opened"]) == (
        "5",
        "5",
        "4",
        "2",
    )
    assert gmail["complaint"] == "0.2" and rows[-1]["bounce"] == ""  # null in csv: empty
    assert list(rows[0])[:3] == ["domain", "messages", "sent"]

    by_volume = _csv(
        cli("stats", "--by", "domain", *WINDOW, "--sort", "volume", "-f", "csv").stdout
    )
    assert [x["domain"] for x in by_volume] == [
        "gmail.com",
        "yahoo.com",
        "hotmail.com",
        "example.org",
    ]
    by_key = _csv(cli("stats", "--by", "domain", *WINDOW, "--sort", "key", "-f", "csv").stdout)
    assert [x["domain"] for x in by_key] == ["example.org", "gmail.com", "hotmail.com", "yahoo.com"]


def test_by_time_and_other_keys(data, cli):
    days = [
        json.loads(x)
        for x in cli("stats", "--by", "day", *WINDOW, "-f", "jsonl").stdout.splitlines()
    ]
    assert [(d["day"], d["messages"]) for d in days] == [
        ("2026-03-05", 5),
        ("2026-03-03", 4),
        ("2026-03-02", 3),
    ]
    weeks = json.loads(cli("stats", "--by", "week", "-f", "json").stdout)
    # 03-01 is a Sunday (ISO week 9); 03-02 … 03-05 are in week 10.
    assert [(w["week"], w["messages"]) for w in weeks] == [("2026-W10", 12), ("2026-W09", 1)]
    providers = _csv(cli("stats", "--by", "provider", *WINDOW, "-f", "csv").stdout)
    assert {p["provider"]: int(p["sent"]) for p in providers} == {"ses": 3, "sendgrid": 6}
    senders = _csv(cli("stats", "--by", "sender", *WINDOW, "-f", "csv").stdout)
    assert [(s["sender"], s["messages"]) for s in senders] == [("app@test.example", "12")]
    types = _csv(cli("stats", "--by", "type", *WINDOW, "-f", "csv").stdout)
    assert [(t["type"], t["messages"]) for t in types] == [("", "12")]  # no tags: one None group


def test_limit_says_when_it_cut(data, cli):
    r = cli("stats", "--by", "domain", *WINDOW, "--limit", "2", "-f", "csv")
    assert [x["domain"] for x in _csv(r.stdout)] == ["gmail.com", "hotmail.com"]
    assert "--limit 0" in r.stderr
    r = cli("stats", "--by", "domain", *WINDOW, "--limit", "4", "-f", "csv")
    assert len(_csv(r.stdout)) == 4 and r.stderr == ""


def test_series_as_csv_and_jsonl(data, cli):
    rows = _csv(cli("stats", *WINDOW, "-f", "csv").stdout)
    assert [(x["day"], x["messages"]) for x in rows] == [
        ("2026-03-02", "3"), ("2026-03-03", "4"), ("2026-03-04", "0"), ("2026-03-05", "5"),
    ]  # fmt: skip


def test_overview_table_marks_thresholds(data, cli):
    r = cli("stats", *WINDOW)
    assert r.exit_code == 0, r
    lines = {line.split("  ")[0].strip(): line for line in r.stdout.splitlines() if line.strip()}
    assert "22.22%!" in lines["bounced"]  # over 2 %
    assert "11.11%!" in lines["complained"]  # over 0.1 %
    assert "55.56%" in lines["delivered"] and "!" not in lines["delivered"]
    assert "not sent: queued 1 · dropped 1 · failed 1" in r.stdout
    assert "Per day  2026-03-02 → 2026-03-05" in r.stdout
    assert "03-02" in r.stdout  # the date axis is labelled


def test_thresholds_are_strictly_over(tmp_path, cli):
    # 1 complaint and 1 bounce of 1000 sent: complaint rate 0.1 % is not over 0.1 %; the
    # bounce rate 0.1 % is under 2 %: nothing is marked.
    rows = []
    for n in range(1000):
        mid = f"bulk{n}"
        last = "bounced" if n == 0 else "delivered"
        rows.append(_event(f"{mid}-a", mid, "2026-03-02T10:00:00Z", "ses", last, "gmail.com", None))
    rows.append(
        _event("bulk1-c", "bulk1", "2026-03-02T11:00:00Z", "ses", "complained", "gmail.com", None)
    )
    path = tmp_path / "bulk.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert cli("import", path).exit_code == 0
    o = _json(cli)
    assert (o["rates"]["complaint"], o["rates"]["bounce"]) == (0.001, 0.001)
    r = cli("stats")
    assert "!" not in r.stdout


def test_by_table_on_a_terminal_and_tsv_in_a_pipe(data, cli, monkeypatch):
    r = cli("stats", "--by", "domain", *WINDOW)
    first = r.stdout.splitlines()[0].split("\t")
    # the `!` threshold marks stay in a pipe (issue 16): 20 % complaints is over 0.1 %
    assert first == ["gmail.com", "5", "80.00%", "0.00%", "20.00%!", "0.00%", "40.00%", "20.00%"]
    day = cli("stats", "--by", "day", *WINDOW).stdout
    assert "%!" in day and "\x1b" not in day
    monkeypatch.setattr("maillog_cli.render.output.is_terminal", lambda stream=None: True)
    monkeypatch.setenv("COLUMNS", "80")
    r = cli("stats", "--by", "domain", *WINDOW)
    assert r.exit_code == 0, r
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith("hotmail.com"))
    assert "100.00%!" in row  # the bounce rate, over 2 %
    assert "! over the levels mailbox providers publish" in r.stdout
    assert any(line.startswith("sent ") for line in lines)  # the chart under the table


def test_overview_fits_80_columns(data, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = cli("stats", *WINDOW)
    assert all(len(line) <= 80 for line in r.stdout.splitlines())


def test_authentication_results_where_present(tmp_path, cli):
    eml = tmp_path / "a.eml"
    eml.write_text(
        "From: Ann <ann@example.com>\nTo: bob@gmail.com\nSubject: hello\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0000\nMessage-ID: <auth1@example.com>\n"
        "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.com;"
        " dkim=fail header.d=example.com; dmarc=pass\n\nhi\n",
        encoding="utf-8",
    )
    assert cli("import", eml).exit_code == 0
    auth = _json(cli)["auth"]
    assert auth["spf"] == {"checked": 1, "pass": 1, "fail": 0, "pass_rate": 1.0}
    assert auth["dkim"] == {"checked": 1, "pass": 0, "fail": 1, "pass_rate": 0.0}
    assert "SPF 100.00% pass of 1" in cli("stats").stdout


def test_bad_by_is_a_usage_error(data, cli):
    r = cli("stats", "--by", "color")
    assert r.exit_code == 1 and "--by 'color' is not one of day, week" in r.stderr


def test_no_store_is_one_line(tmp_path, cli):
    r = cli("--db", tmp_path / "none.db", "stats")
    assert r.exit_code == 1 and "no maillog database" in r.stderr


def test_core_takes_tui_filter_words(data, db_path):
    # The TUI Stats tab calls the core with its filter words, free text included.
    from maillog_cli import stats
    from maillog_cli.store.db import Store
    from maillog_cli.store.query import parse_words

    store = Store.open(db_path, readonly=True)
    try:
        o = stats.overview(store, parse_words("domain:gmail.com since:2026-03-02 until:2026-03-06"))
        assert (o["messages"], o["sent"], o["counts"]["complained"]) == (5, 5, 1)
        assert stats.compute is stats.overview
        found = stats.overview(store, parse_words('"user-m9"'))
        assert (found["messages"], found["counts"]["unconfirmed"]) == (1, 1)
        rows = stats.breakdown(
            store, parse_words("since:2026-03-02 until:2026-03-06"), "domain", limit=1
        )
        assert [r["domain"] for r in rows] == ["gmail.com"]
    finally:
        store.close()


def test_untrusted_group_keys_are_made_safe(tmp_path, cli, monkeypatch):
    rows = [
        _event("h1", "h1", "2026-03-02T10:00:00Z", "=HYPERLINK(1)", "delivered", "b.example", None),
        {**_event("h2", "h2", "2026-03-02T10:00:00Z", "ses", "delivered", "b.example", None),
         "sender": "=cmd\x1b[31m@evil.example"},
    ]  # fmt: skip
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert cli("import", path).exit_code == 0
    providers = _csv(cli("stats", "--by", "provider", "--sort", "key", "-f", "csv").stdout)
    assert [p["provider"] for p in providers] == ["'=HYPERLINK(1)", "ses"]
    tsv = cli("stats", "--by", "sender", "--sort", "key").stdout
    assert "\x1b" not in tsv and "=cmd\\x1b[31m@evil.example\t1\t" in tsv
    monkeypatch.setattr("maillog_cli.render.output.is_terminal", lambda stream=None: True)
    table = cli("stats", "--by", "sender").stdout
    assert "\x1b" not in table and "\\x1b[31m" in table

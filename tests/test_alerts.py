"""`maillog check` / `maillog watch`: alert rules over generated stores, at a fixed --now.

Every threshold is tested one below, at and one above it: `above` is strictly greater
(`below` strictly less), so a value exactly at the threshold never fires. Notifications go
to a real HTTP server on 127.0.0.1 and a real program; repeat and resolve are checked
across new processes (state lives in the store).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import default_signals, wait_until

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-03-02T12:00:00Z"
HOUR = "2026-03-02T11"  # the window of a 1h rule at NOW


# --- building stores ------------------------------------------------------------------------------


def message(
    mid: str,
    ts: str,
    outcome: str,
    domain: str = "example.com",
    *,
    sender: str = "app@acme.com",
    provider: str = "ses",
    tags: list[str] | None = None,
    bounce_class: str | None = None,
    reason: str | None = None,
    reply: str | None = None,
) -> list[dict[str, Any]]:
    """The events of one message: sent, then its outcome (a complaint follows a delivery)."""
    base = {
        "message_id": f"{mid}@test.example",
        "timestamp": ts,
        "provider": provider,
        "sender": sender,
        "recipient": f"user-{mid}@{domain}",
        "tags": tags,
    }
    events = [{**base, "event_id": f"{mid}-0", "status": "sent"}]
    if outcome == "complained":
        events.append({**base, "event_id": f"{mid}-1", "status": "delivered"})
    if outcome != "sent":
        end = {**base, "event_id": f"{mid}-2", "status": outcome}
        if outcome in ("bounced", "deferred"):
            end |= {
                "bounce_class": bounce_class or ("hard" if outcome == "bounced" else "soft"),
                "bounce_reason": reason,
                "diagnostic": reply,
            }
        events.append(end)
    return events


def group(
    prefix: str, hour: str, bad: int, outcome: str, total: int = 100, **kw: Any
) -> list[dict[str, Any]]:
    """`total` messages in the hour, the last `bad` of them with `outcome`, the rest delivered."""
    out = []
    for i in range(total):
        ts = f"{hour}:{i * 60 // total:02d}:{i * 60 % total * 60 // total:02d}Z"
        out += message(f"{prefix}{i}", ts, outcome if i >= total - bad else "delivered", **kw)
    return out


def load(cli, tmp_path: Path, events: list[dict[str, Any]], name: str = "events.jsonl") -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    r = cli("import", path)
    assert r.exit_code == 0, r


def load_audit(cli, tmp_path: Path, entries: list[dict[str, Any]]) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    r = cli("import", path)
    assert r.exit_code == 0 and "audit" in r.stderr, r


def rules(tmp_path: Path, *tables: str) -> Path:
    path = Path(os.environ["MAILLOG_CONFIG"])
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def rule(name: str = "r", **keys: Any) -> str:
    keys = {"notify": ["stdout"], **keys}
    lines = ["[[alert]]", f"name = {json.dumps(name)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def check(cli, *args: str, now: str = NOW) -> tuple[int, dict[str, Any]]:
    r = cli("check", "--now", now, "--format", "json", "--no-notify", *args)
    assert r.exit_code in (0, 3), r
    return r.exit_code, json.loads(r.stdout)


def firing(doc: dict[str, Any]) -> set[str | None]:
    return {a["key"] for a in doc["alerts"]}


# --- each metric, at its threshold -----------------------------------------------------------------

# metric -> (the outcome of the counted messages, the rule's threshold keys)
METRIC_CASES = {
    "bounce_rate": ("bounced", {"above": "5%"}),
    "complaint_rate": ("complained", {"above": "5%"}),
    "deferral_rate": ("deferred", {"above": "5%"}),
    "delivery_rate": ("bounced", {"below": "95%"}),  # 4/5/6 bounced: 96/95/94 % delivered
    "hard_bounces": ("bounced", {"above": "5"}),
}


@pytest.mark.parametrize("metric", list(METRIC_CASES))
def test_each_metric_fires_above_its_threshold_only_and_clears(cli, tmp_path, metric):
    outcome, threshold = METRIC_CASES[metric]
    events = []
    # hour 11: a.com one below, b.com at, c.com one above; hour 12: c.com back below.
    for domain, bad_11, bad_12 in (("a.com", 4, 4), ("b.com", 5, 5), ("c.com", 6, 4)):
        events += group(f"{domain}-11-", HOUR, bad_11, outcome, domain=domain)
        events += group(f"{domain}-12-", "2026-03-02T12", bad_12, outcome, domain=domain)
    load(cli, tmp_path, events)
    rules(tmp_path, rule(metric=metric, window="1h", by="domain", **threshold))
    code, doc = check(cli)
    assert (code, firing(doc)) == (3, {"c.com"})
    assert doc["rules"][0]["ok"] == 2
    code, doc = check(cli, now="2026-03-02T13:00:00Z")
    assert (code, firing(doc)) == (0, set())


def test_auth_failure_rate_counts_messages_with_a_failed_check(cli, tmp_path, db_path):
    events = []
    for domain in ("a.com", "b.com", "c.com"):
        events += group(f"{domain}-", HOUR, 0, "delivered", domain=domain)
    load(cli, tmp_path, events)
    with sqlite3.connect(db_path) as conn:  # results as an .eml import records them
        conn.execute("UPDATE messages SET spf = 'pass', dkim = 'pass'")
        for domain, failed in (("a.com", 4), ("b.com", 5), ("c.com", 6)):
            conn.execute(
                "UPDATE messages SET dkim = 'fail' WHERE message_id IN (SELECT message_id FROM"
                " messages WHERE recipient_domain = ? ORDER BY message_id LIMIT ?)",
                (domain, failed),
            )
    conn.close()
    rules(tmp_path, rule(metric="auth_failure_rate", above="5%", window="1h", by="domain"))
    code, doc = check(cli)
    assert (code, firing(doc)) == (3, {"c.com"})
    assert doc["alerts"][0]["count"] == 6 and doc["alerts"][0]["volume"] == 100


def test_rates_are_the_rates_stats_shows(cli, tmp_path):
    events = group("m", HOUR, 7, "bounced", domain="a.com")
    events += group("d", HOUR, 3, "deferred", domain="a.com")
    load(cli, tmp_path, events)
    rules(tmp_path, rule(metric="bounce_rate", above="1%", window="1h"))
    _, doc = check(cli)
    r = cli("stats", "--since", f"{HOUR}:00:00Z", "--until", NOW, "--format", "json")
    assert doc["alerts"][0]["value"] == json.loads(r.stdout)["rates"]["bounce"] == 0.035


# --- each scope ----------------------------------------------------------------------------------

# Three groups of messages; what each scope calls them.
GROUPS = [
    {"domains": ("gmail.com", "googlemail.com"), "sender": "s0@acme.com", "provider": "ses", "tag": "t0"},
    {"domains": ("hotmail.com", "outlook.com"), "sender": "s1@acme.com", "provider": "sendgrid", "tag": "t1"},
    {"domains": ("yahoo.com", "aol.com"), "sender": "s2@acme.com", "provider": "postmark", "tag": "t2"},
]  # fmt: skip
FIRING_KEY = {
    "mailbox_provider": "yahoo",
    "sender": "s2@acme.com",
    "provider": "postmark",
    "tag": "t2",
}


@pytest.fixture
def scoped(cli, tmp_path) -> None:
    """4, 5 and 6 bounced of 100 in the three groups; 15 of 300 (5 %) in all."""
    events = []
    for g, (spec, bad) in enumerate(zip(GROUPS, (4, 5, 6), strict=True)):
        for i in range(100):
            ts = f"{HOUR}:{i * 60 // 100:02d}:00Z"
            events += message(
                f"g{g}-{i}",
                ts,
                "bounced" if i >= 100 - bad else "delivered",
                spec["domains"][i % 2],
                sender=spec["sender"],
                provider=spec["provider"],
                tags=[spec["tag"], "all-mail"] if spec["tag"] != "t1" else [spec["tag"]],
            )
    load(cli, tmp_path, events)


@pytest.mark.parametrize("scope", list(FIRING_KEY))
def test_each_scope_groups_and_fires_only_the_group_above(cli, tmp_path, scoped, scope):
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", by=scope))
    code, doc = check(cli)
    assert (code, firing(doc)) == (3, {FIRING_KEY[scope]})
    expected_groups = 4 if scope == "tag" else 3  # tag: t0, t1, t2 and all-mail (t0 + t2)
    assert doc["rules"][0]["groups"] == expected_groups


def test_tag_scope_counts_a_message_in_each_of_its_tags(cli, tmp_path, scoped):
    rules(tmp_path, rule(metric="bounce_rate", above="4.9%", window="1h", by="tag"))
    _, doc = check(cli)
    counts = {a["key"]: (a["count"], a["volume"]) for a in doc["alerts"]}
    assert counts == {"t1": (5, 100), "t2": (6, 100), "all-mail": (10, 200)}


@pytest.mark.parametrize(("above", "fires"), [("4.99%", True), ("5%", False), ("5.01%", False)])
def test_scope_all_at_its_threshold(cli, tmp_path, scoped, above, fires):
    rules(tmp_path, rule(metric="bounce_rate", above=above, window="1h"))
    code, doc = check(cli)
    assert (code == 3) is fires
    assert doc["rules"][0]["groups"] == 1
    if fires:
        assert doc["alerts"][0]["key"] is None and doc["alerts"][0]["volume"] == 300


def test_a_filter_narrows_the_messages_a_rule_sees(cli, tmp_path, scoped):
    rules(
        tmp_path,
        rule(metric="bounce_rate", above="5%", window="1h", filter="provider:postmark"),
    )
    _, doc = check(cli)
    assert doc["alerts"][0]["count"] == 6 and doc["alerts"][0]["volume"] == 100


# --- baseline and volume guard -------------------------------------------------------------------


def test_baseline_is_the_same_window_on_the_previous_seven_days(cli, tmp_path):
    events = []
    for day in range(1, 8):  # Feb 23 … Mar 1, 11:00-12:00: 2 % bounced everywhere
        hour = f"2026-02-{22 + day:02d}T11" if day < 7 else "2026-03-01T11"
        for domain in ("a.com", "b.com", "c.com"):
            events += group(f"{domain}-d{day}-", hour, 2, "bounced", domain=domain)
        # outside the baseline's windows (other hours): never counted
        events += group(f"noise-d{day}-", hour.replace("T11", "T15"), 50, "bounced", domain="a.com")
    for domain, bad in (("a.com", 5), ("b.com", 6), ("c.com", 7), ("new.com", 50)):
        events += group(f"{domain}-now-", HOUR, bad, "bounced", domain=domain)
    load(cli, tmp_path, events)
    rules(
        tmp_path,
        rule(metric="bounce_rate", above="3x baseline", window="1h", by="domain", min_messages=50),
    )
    code, doc = check(cli)
    assert (code, firing(doc)) == (3, {"c.com"})  # 6 % is 3 × 2 %: at, not above
    alert = doc["alerts"][0]
    assert alert["baseline"] == 0.02 and alert["limit"] == 0.06 and alert["value"] == 0.07
    assert doc["rules"][0]["no_baseline"] == 1  # new.com: no history to compare with
    assert "3x baseline 2%" in alert["text"]


def test_a_count_baseline_is_the_mean_per_window(cli, tmp_path):
    events = []
    for day in range(1, 8):
        hour = f"2026-02-{22 + day:02d}T11" if day < 7 else "2026-03-01T11"
        events += group(f"d{day}-", hour, 2, "bounced", domain="a.com")
    events += group("now-", HOUR, 5, "bounced", domain="a.com")
    load(cli, tmp_path, events)
    rules(tmp_path, rule(metric="hard_bounces", above="2x baseline", window="1h"))
    _, doc = check(cli)
    assert doc["alerts"][0]["baseline"] == 2 and doc["alerts"][0]["limit"] == 4


@pytest.mark.parametrize(("sent", "fires"), [(49, False), (50, True), (51, True)])
def test_min_messages_guards_small_groups(cli, tmp_path, sent, fires):
    load(cli, tmp_path, group("m", HOUR, 20, "bounced", total=sent, domain="a.com"))
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", min_messages=50))
    code, doc = check(cli)
    assert (code == 3) is fires
    assert doc["rules"][0]["too_few"] == (0 if fires else 1)


def test_messages_outside_the_window_do_not_count(cli, tmp_path):
    events = group("old", "2026-03-02T10", 50, "bounced", domain="a.com")
    events += group("new", HOUR, 1, "bounced", domain="a.com")
    events += group("future", "2026-03-02T12", 50, "bounced", domain="a.com")
    load(cli, tmp_path, events)
    rules(tmp_path, rule(metric="bounce_rate", above="2%", window="1h"))
    code, doc = check(cli)
    assert code == 0 and doc["rules"][0]["ok"] == 1


# --- what changed --------------------------------------------------------------------------------


def test_what_changed_names_the_audit_entries_new_reasons_and_replies(cli, tmp_path):
    events = []
    # the week before: mailbox_full bounces were already usual for c.com
    events += group("past", "2026-02-27T09", 3, "bounced", domain="c.com", reason="mailbox_full",
                    reply="552 5.2.2 mailbox full")  # fmt: skip
    events += group("now-a", HOUR, 4, "bounced", domain="c.com", reason="mailbox_full",
                    reply="552 5.2.2 mailbox full")  # fmt: skip
    events += message("now-b1", f"{HOUR}:58:00Z", "bounced", "c.com", reason="bad_mailbox",
                      reply="550 5.1.1 user unknown")  # fmt: skip
    for n in range(2, 7):
        events += message(f"now-b{n}", f"{HOUR}:59:0{n}Z", "bounced", "c.com",
                          reason="bad_mailbox", reply="550 5.1.1 user unknown")  # fmt: skip
    load(cli, tmp_path, events)
    load_audit(
        cli,
        tmp_path,
        [
            audit("too-old", "2026-03-02T09:59:00Z", "webhook.update", "old@acme.com"),
            audit("lookback", "2026-03-02T10:15:00Z", "api_key.create", "bob@acme.com"),
            audit("inside", "2026-03-02T11:20:00Z", "smtp.update", "alice@acme.com"),
            audit("after", "2026-03-02T12:00:00Z", "domain.verified", "carol@acme.com"),
        ],
    )
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", by="domain"))
    _, doc = check(cli)
    changes = doc["alerts"][0]["what_changed"]
    assert [(a["action"], a["actor"], a["minutes_before"]) for a in changes["audit"]] == [
        ("smtp.update", "alice@acme.com", 40),
        ("api_key.create", "bob@acme.com", 105),
    ]
    assert changes["audit"][0]["text"] == "smtp.update by alice@acme.com 40 min before"
    assert changes["new_bounce_reasons"] == [{"reason": "bad_mailbox", "count": 6}]
    assert [(r["reply"], r["count"]) for r in changes["top_replies"]] == [
        ("550 5.1.1 user unknown", 6),
        ("552 5.2.2 mailbox full", 4),
    ]
    r = cli("check", "--now", NOW, "--no-notify")
    assert r.exit_code == 3
    assert "  changed: smtp.update by alice@acme.com 40 min before, api_key.create" in r.stdout
    assert "  new bounce reasons: bad_mailbox (6)" in r.stdout


def audit(ident: str, at: str, action: str, actor: str) -> dict[str, Any]:
    return {"id": ident, "created_at": at, "action": action, "actor_email": actor,
            "target_type": "smtp", "target_id": "default", "metadata": {}}  # fmt: skip


def test_untrusted_text_is_made_visible_in_the_report(cli, tmp_path):
    events = group("m", HOUR, 10, "bounced", domain="a.com", reply="550 \x1b[31mred\x1b[0m no")
    load(cli, tmp_path, events)
    load_audit(cli, tmp_path, [audit("x", f"{HOUR}:10:00Z", "smtp.update", "ev\u202eil@acme.com")])
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h"))
    r = cli("check", "--now", NOW, "--no-notify")
    assert r.exit_code == 3
    assert "\x1b" not in r.stdout and "\u202e" not in r.stdout
    assert "\\x1b[31mred" in r.stdout and "ev\\u202eil@acme.com" in r.stdout


# --- exit codes and rule errors ------------------------------------------------------------------


def test_exit_codes_all_clear_firing_and_errors(cli, tmp_path):
    load(cli, tmp_path, group("m", HOUR, 3, "bounced", domain="a.com"))
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h"))
    r = cli("check", "--now", NOW, "--no-notify")
    assert r.exit_code == 0 and "all clear" in r.stdout
    rules(tmp_path, rule(metric="bounce_rate", above="2%", window="1h"))
    assert cli("check", "--now", NOW, "--no-notify").exit_code == 3
    Path(os.environ["MAILLOG_CONFIG"]).write_text("retention = '30d'\n")
    r = cli("check", "--now", NOW)
    assert r.exit_code == 1 and "no [[alert]] rules in" in r.stderr
    assert cli("check", "--bogus").exit_code == 2


BAD_RULES = [
    ('metric = "bounces"', 3, "metric: 'bounces' is not a metric; use one of: bounce_rate"),
    ('metric = "bounce_rate"\nabove = "20"', 4, "above: bounce_rate is a rate: '20' needs a % sign"),
    ('metric = "hard_bounces"\nabove = "5%"', 4, "above: hard_bounces is a count, not a rate"),
    ('metric = "bounce_rate"\nabove = "5%"\nwindow = "1 fortnight"', 5, "window: '1 fortnight' is not a duration"),
    ('metric = "bounce_rate"\nabove = "5%"\nwindow = "1h"\nby = "country"', 6, "by: 'country' is not a scope"),
    ('metric = "bounce_rate"\nabove = "5%"\nwindow = "1h"\nnotify = ["pager"]', 6, "notify: 'pager' is not a notification channel"),
    ('metric = "bounce_rate"\nabove = "5%"\nwindow = "1h"\ntreshold = 3', 6, "treshold: is not a rule key"),
    ('metric = "bounce_rate"\nabove = "3x baseline"\nwindow = "7d"', 4, "above: a baseline compares 7d with the same 7d on each of the previous 7 days"),
    ('metric = "bounce_rate"\nabove = "5%"\nbelow = "1%"\nwindow = "1h"', 5, "below: give exactly one of above and below"),
    ('metric = "bounce_rate"\nabove = "5%"\nwindow = "1h"\nmin_messages = -1', 6, "min_messages: -1 is not a whole number"),
    ('metric = "bounce_rate"\nabove = "5%"\nwindow = "1h"\nfilter = "domain:x.com since:2d"', 6, "filter: since: and until: do not apply"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "line", "message"), BAD_RULES)
def test_a_bad_rule_is_refused_with_its_file_and_line(cli, tmp_path, body, line, message):
    good = rule("first", metric="bounce_rate", above="5%", window="1h")
    config = Path(os.environ["MAILLOG_CONFIG"])
    # the good rule takes 6 lines and a blank one: the bad rule's [[alert]] is line 8, so
    # the line within the bad rule (its [[alert]] is 1) is 7 less than in the file
    config.write_text(good + "\n" + f'[[alert]]\nname = "second"\n{body}\n')
    r = cli("check", "--now", NOW)
    assert r.exit_code == 1, r
    assert f"config.toml:{line + 7}: [[alert]] 'second': {message}" in r.stderr, r.stderr


def test_two_rules_with_one_name_are_refused(cli, tmp_path):
    one = rule("same", metric="bounce_rate", above="5%", window="1h")
    rules(tmp_path, one, one)
    r = cli("check", "--now", NOW)
    assert (
        r.exit_code == 1
        and "config.toml:9: [[alert]] 'same': the name is also used by the rule on line 1"
        in r.stderr
    )


def test_invalid_toml_names_its_line(cli, tmp_path):
    rules(tmp_path, '[[alert]]\nname = "x"\nmetric = bounce_rate\n')
    r = cli("check", "--now", NOW)
    assert r.exit_code == 1 and "line 3" in r.stderr


# --- notifications, repeat and resolve across processes -------------------------------------------


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)}
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("H", (Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def run_check(db: Path, now: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`maillog check` in a new process: nothing is remembered but what the store keeps."""
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "maillog_cli", "check", "--now", now, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_notifications_fire_once_repeat_every_and_resolve_across_restarts(
    cli, tmp_path, db_path, hook
):
    url, server = hook
    received = tmp_path / "received.jsonl"
    script = tmp_path / "save.py"
    script.write_text(
        "import sys\nwith open(sys.argv[1], 'a') as f:\n    f.write(sys.stdin.read())\n"
    )
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com", reason="bad_mailbox"))
    notify = [
        f"webhook:{url}/hooks/T000/SECRETPATH?token=SECRETQUERY",
        f"command:{sys.executable} {script} '{received}'",
        "stdout",
    ]
    rules(tmp_path, rule("c bounces", metric="bounce_rate", above="5%", window="2h",
                         by="domain", every="1h", notify=notify))  # fmt: skip
    steps = [
        ("2026-03-02T12:00:00Z", 3, "firing"),  # fires: sent once
        ("2026-03-02T12:30:00Z", 3, None),  # still firing, within `every`: nothing sent
        ("2026-03-02T13:00:00Z", 3, "repeat"),  # `every` later: sent again
        ("2026-03-02T13:30:00Z", 3, None),
        ("2026-03-02T14:30:00Z", 0, "resolved"),  # the window holds no message: resolved
        ("2026-03-02T15:00:00Z", 0, None),  # resolved once only
    ]
    sent = []
    for now, code, expected in steps:
        r = run_check(db_path, now)
        assert r.returncode == code, (now, r.stdout, r.stderr)
        lines = [x for x in r.stdout.splitlines() if x.startswith(("FIRING", "STILL", "RESOLVED"))]
        if expected is None:
            assert len(lines) <= 1 and not server.received[len(sent) :], (now, r.stdout)
            continue
        body = server.received[len(sent)]["body"]
        sent.append(body)
        assert body["state"] == ("resolved" if expected == "resolved" else "firing")
        assert body["repeat"] is (expected == "repeat")
        assert "SECRET" not in r.stdout + r.stderr
    assert len(server.received) == 3
    first = server.received[0]
    assert first["path"] == "/hooks/T000/SECRETPATH?token=SECRETQUERY"
    assert first["type"] == "application/json"
    # Slack reads <…> as mentions and links: the text is escaped as Slack asks
    assert first["body"]["text"].startswith("FIRING c bounces: bounce_rate 10% &gt; 5% over 2h")
    assert first["body"]["key"] == "c.com" and first["body"]["since"] == "2026-03-02T12:00:00.000Z"
    assert server.received[2]["body"]["text"].startswith("RESOLVED c bounces")
    assert server.received[2]["body"]["since"] == "2026-03-02T12:00:00.000Z"
    # the command got the same three alerts, as JSON on its stdin
    got = [json.loads(x) for x in received.read_text().splitlines()]
    assert [(g["state"], g["repeat"]) for g in got] == [
        ("firing", False), ("firing", True), ("resolved", False)
    ]  # fmt: skip


def test_a_failing_channel_is_reported_without_its_secret_and_is_not_fatal(
    cli, tmp_path, db_path, hook
):
    url, server = hook
    server.status = 500
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    notify = [
        f"webhook:{url}/hooks/SECRETPATH?token=SECRETQUERY",
        "webhook:http://user:SECRETPASS@127.0.0.1:9/x",  # nothing listens on port 9
        f"command:{tmp_path}/no-such-program --token SECRETARG",
        f"command:{sys.executable} -c 'import sys; sys.exit(4)'",
        "json",
    ]
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=notify))
    r = run_check(db_path, NOW)
    assert r.returncode == 3, r.stderr
    assert "SECRET" not in r.stdout + r.stderr
    port = url.rsplit(":", 1)[1]
    assert f"notification failed: webhook http://127.0.0.1:{port}/…: HTTP 500" in r.stderr
    assert "notification failed: webhook http://127.0.0.1:9/…:" in r.stderr
    assert "notification failed: command no-such-program: no such program" in r.stderr
    assert "exited with 4" in r.stderr
    alert = json.loads(r.stdout.splitlines()[0])  # the json channel still went out
    assert alert["rule"] == "r" and alert["state"] == "firing"


def test_a_webhook_url_can_come_from_the_environment(cli, tmp_path, db_path, hook, monkeypatch):
    url, server = hook
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    notify = ["webhook:$MAILLOG_TEST_HOOK", "webhook:$MAILLOG_TEST_UNSET"]
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=notify))
    monkeypatch.setenv("MAILLOG_TEST_HOOK", f"{url}/from-env?token=SECRET")
    monkeypatch.delenv("MAILLOG_TEST_UNSET", raising=False)
    r = run_check(db_path, NOW)
    assert r.returncode == 3
    assert [x["path"] for x in server.received] == ["/from-env?token=SECRET"]
    assert "webhook $MAILLOG_TEST_UNSET: the environment variable is not set" in r.stderr
    assert "SECRET" not in r.stdout + r.stderr


def test_check_format_json_keeps_stdout_one_document(cli, tmp_path):
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=["stdout", "json"]))
    r = cli("check", "--now", NOW, "--format", "json")
    assert r.exit_code == 3
    doc = json.loads(r.stdout)
    assert doc["firing"] == 1 and doc["alerts"][0]["since"] == "2026-03-02T12:00:00.000Z"
    assert "FIRING r:" in r.stderr
    assert [n["channel"] for n in doc["notifications"]] == ["stdout", "json"]


def test_no_notify_sends_nothing_and_remembers_nothing(cli, tmp_path, db_path):
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h"))
    r = cli("check", "--now", NOW, "--no-notify")
    assert r.exit_code == 3 and r.stdout.count("FIRING") == 1
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM alert_state").fetchone()[0] == 0
    conn.close()
    r = cli("check", "--now", NOW)
    assert r.stdout.count("FIRING") == 2  # the notification line, then the report


# --- watch ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_watch_notifies_as_events_arrive_and_stops_on_sigterm(cli, tmp_path, db_path):
    load(cli, tmp_path, group("ok", HOUR, 0, "bounced", domain="c.com"))
    # the window is long enough that the test's events (in 2026) stay inside it
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="90d", notify=["stdout"]))
    env = {**os.environ, "MAILLOG_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    out = tmp_path / "watch.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "maillog_cli", "watch", "--interval", "0.2"],
            env=env, stdout=sink, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals,
        )  # fmt: skip
        try:
            wait_until(lambda: db_path.exists(), what="watch started")
            import time

            time.sleep(1.5)
            assert "FIRING" not in out.read_text()
            now = __import__("datetime").datetime.now(__import__("datetime").UTC)
            hour = now.strftime("%Y-%m-%dT%H")
            minute = now.strftime("%M")
            bad = [
                e
                for i in range(20)
                for e in message(f"bad{i}", f"{hour}:{minute}:00Z", "bounced", "c.com")
            ]
            load(cli, tmp_path, bad, "more.jsonl")
            wait_until(lambda: "FIRING r: bounce_rate" in out.read_text(), what="the alert")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert out.read_text().count("FIRING") == 1


def test_the_mailbox_provider_table_in_the_docs_is_the_code_s():
    from maillog_cli.alerts.metrics import MAILBOX_PROVIDERS, mailbox_provider_of

    doc = (ROOT / "docs" / "alerts.md").read_text()
    for name, domains in MAILBOX_PROVIDERS.items():
        assert f"| `{name}` | {', '.join(domains)} |" in doc
        assert all(mailbox_provider_of(d) == name for d in domains)
    assert mailbox_provider_of("acme.example") == "other"


# --- audit marks on the stats time axis ----------------------------------------------------------


@pytest.fixture
def three_days(cli, tmp_path) -> None:
    events = []
    for day in ("01", "02", "03"):
        events += group(f"d{day}-", f"2026-03-{day}T10", 1, "bounced", total=10)
    load(cli, tmp_path, events)
    load_audit(
        cli,
        tmp_path,
        [
            audit("x1", "2026-03-02T09:00:00Z", "smtp.update", "alice@acme.com"),
            audit("x2", "2026-03-02T23:59:59Z", "webhook.update", "bob@acme.com"),
            audit("x3", "2026-02-20T09:00:00Z", "smtp.update", "old@acme.com"),  # before
        ],
    )


def test_stats_marks_the_days_with_audit_entries_on_the_chart(cli, three_days):
    r = cli("stats", "--lines", "sent")
    assert r.exit_code == 0, r
    lines = r.stdout.splitlines()
    sent = next(x for x in lines if x.startswith("sent "))
    marks = next(x for x in lines if x.startswith("audit "))
    start = len("audit".ljust(11))
    columns = marks[start : start + 9]  # three days, three characters each
    assert columns == "   ◆◆◆   ", marks
    assert marks.endswith("  2 audit entries")
    assert len(sent) > start + 9
    assert "audit" not in cli("stats", "--lines", "sent", "--no-chart").stdout


def test_the_tui_stats_tab_marks_the_days_with_audit_entries(three_days, db_path):
    from rich.console import Console

    from maillog_cli.store.query import Filters
    from maillog_cli.tui.data import Source
    from maillog_cli.tui.widgets.stats import compute, stats_renderable

    source = Source(db_path)
    try:
        data = compute(source, Filters())
    finally:
        source.close()
    assert data["audit_days"] == {"2026-03-02": 2}
    console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(stats_renderable(data, 100))
    text = console.export_text()
    day2 = next(x for x in text.splitlines() if x.startswith("2026-03-02"))
    assert day2.endswith("◆ 2 audit")
    assert "◆" not in next(x for x in text.splitlines() if x.startswith("2026-03-01"))


# --- speed: index-backed window queries ---------------------------------------------------------


@pytest.mark.parametrize(
    "scope", ["all", "domain", "mailbox_provider", "sender", "provider", "tag"]
)
def test_every_query_of_a_rule_reads_the_messages_by_an_index(cli, tmp_path, db_path, scope):
    """A check must cost the window, never the store: no statement of a rule (its window,
    its baseline, what changed) scans the messages table."""
    from datetime import UTC, datetime

    from maillog_cli.alerts.evaluate import evaluate
    from maillog_cli.alerts.rules import parse_rule
    from maillog_cli.store.db import Store

    load(cli, tmp_path, group("m", HOUR, 10, "bounced", domain="gmail.com", tags=["t"]))
    rules = [
        parse_rule({"name": "a", "metric": "bounce_rate", "above": "1%", "window": "1h", "by": scope}),
        parse_rule({"name": "b", "metric": "bounce_rate", "above": "1x baseline", "window": "1h", "by": scope}),
        parse_rule({"name": "c", "metric": "delivery_rate", "below": "99%", "window": "24h", "by": scope,
                    "filter": "domain:gmail.com"}),
    ]  # fmt: skip
    store = Store.open(db_path, readonly=True)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    verdicts = evaluate(store, rules, datetime(2026, 3, 2, 12, tzinfo=UTC))
    store.conn.set_trace_callback(None)
    assert any(v.firing and v.changes.get("top_replies") is not None for v in verdicts)
    plans = []
    for sql in statements:
        if "messages m" in sql:
            plan = " | ".join(r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql))
            plans.append(plan)
            # a range of the time index (first seen, or bounced at), not all rows of a value
            ranged = re.search(
                r"SEARCH m USING INDEX \w+ \([^)]*(first_seen|last_status_at)>\?", plan
            )
            assert "SCAN m" not in plan and ranged, (sql, plan)
    store.close()
    assert len(plans) >= 10  # window, 7 baseline days, reasons, replies …


def test_a_rule_name_with_control_characters_is_shown_visible(cli, tmp_path):
    load(cli, tmp_path, group("m", HOUR, 10, "bounced", domain="a.com"))
    rules(tmp_path, rule("\x1b[2Jwipe", metric="bounce_rate", above="5%", window="1h"))
    r = cli("check", "--now", NOW)
    assert r.exit_code == 3 and "\x1b" not in r.stdout
    assert "FIRING \\x1b[2Jwipe: bounce_rate 10% > 5%" in r.stdout
    rules(tmp_path, rule("\x1b[2Jwipe", metric="nope", above="5%", window="1h"))
    r = cli("check", "--now", NOW)
    assert r.exit_code == 1 and "\x1b" not in r.stderr and "'\\x1b[2Jwipe'" in r.stderr


def test_watch_reports_a_failed_pass_and_goes_on(cli, tmp_path, db_path):
    """A pass that fails (here the clock; in life a store locked past the lock timeout) is
    reported and tried again; the loop does not end."""
    from datetime import UTC, datetime

    from maillog_cli.alerts.rules import load_rules
    from maillog_cli.alerts.watch import watch
    from maillog_cli.errors import MaillogError
    from maillog_cli.store.db import Store

    load(cli, tmp_path, group("m", HOUR, 10, "bounced", domain="a.com"))
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=["stdout"]))
    calls, errors, passes, lines = [0], [], [], []

    def clock() -> datetime:
        calls[0] += 1
        if calls[0] == 1:
            raise MaillogError("the store is locked")
        return datetime(2026, 3, 2, 12, tzinfo=UTC)

    store = Store.open(db_path)
    try:
        watch(store, load_rules(), lambda s, line: lines.append(line), stop=lambda: len(passes) >= 2,
              report=passes.append, interval=0, tick=0, clock=clock, sleep=lambda s: None,
              on_error=errors.append)  # fmt: skip
    finally:
        store.close()
    assert [e.message for e in errors] == ["the store is locked"]
    assert [len(p.firing) for p in passes] == [1, 1]
    assert len(lines) == 1 and lines[0].startswith("FIRING r:")  # sent once, not twice


# --- one notice per transition, however many evaluators --------------------------------------------


def _appender(tmp_path: Path, delay: float = 0) -> tuple[str, Path]:
    """A real notifier program: waits `delay` s (a slow channel), then appends its stdin."""
    out = tmp_path / "notices.jsonl"
    script = tmp_path / "append.py"
    script.write_text(
        "import sys, time\n"
        f"time.sleep({delay})\n"
        "data = sys.stdin.read()\n"
        "with open(sys.argv[1], 'a') as f:\n    f.write(data)\n"
    )
    return f"command:{sys.executable} {script} '{out}'", out


@pytest.mark.slow
def test_two_evaluators_at_the_same_instant_send_one_notice(cli, tmp_path, db_path):
    """The decision is claimed under the write lock before anything is sent: the second
    evaluator finds the alert already notified, even while the first is still delivering."""
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    command, out = _appender(tmp_path, delay=2)
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=[command]))
    env = {**os.environ, "MAILLOG_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "maillog_cli", "check", "--now", NOW]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]  # fmt: skip
    codes = [p.wait(timeout=120) for p in procs]
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    assert codes == [3, 3]  # both see the alert firing…
    sent = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(a["state"], a["repeat"]) for a in sent] == [("firing", False)]  # …one notifies


class FailOnce(Hook):
    """Answers 500 to the first POST, then 200."""

    def do_POST(self) -> None:  # noqa: N802
        type(self).status = 500 if not type(self).received else 200
        super().do_POST()


def test_a_failed_notification_is_retried_at_the_next_evaluation_not_every_later(
    cli, tmp_path, db_path
):
    handler = type("H", (FailOnce,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
        command, out = _appender(tmp_path)
        url = f"http://127.0.0.1:{server.server_port}/hook"
        rules(tmp_path, rule(metric="bounce_rate", above="5%", window="2h", every="1h",
                             notify=[f"webhook:{url}", command]))  # fmt: skip
        first = cli("check", "--now", NOW)
        assert first.exit_code == 3 and "HTTP 500" in first.stderr
        # 20 s later: the backoff (30 s after a first failure) has not passed
        assert cli("check", "--now", "2026-03-02T12:00:20Z").exit_code == 3
        assert len(handler.received) == 1
        # a minute later, well before `every`: the webhook gets the notice it missed
        again = cli("check", "--now", "2026-03-02T12:01:00Z")
        assert again.exit_code == 3 and "notification failed" not in again.stderr
        assert len(handler.received) == 2
        retried = handler.received[1]["body"]
        assert (retried["state"], retried["repeat"]) == ("firing", False)
        assert retried["since"] == "2026-03-02T12:00:00.000Z"
        # delivered now: nothing more until `every`, and the command (which took the first
        # notice) was not sent it twice
        cli("check", "--now", "2026-03-02T12:30:00Z")
        assert len(handler.received) == 2
        assert len(out.read_text().splitlines()) == 1
        cli("check", "--now", "2026-03-02T13:01:00Z")
        assert len(handler.received) == 3 and handler.received[2]["body"]["repeat"] is True
    finally:
        server.shutdown()
        server.server_close()


def test_a_failed_resolution_is_retried_too(cli, tmp_path, db_path, hook):
    url, server = hook
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h",
                         notify=[f"webhook:{url}/h"]))  # fmt: skip
    assert cli("check", "--now", NOW).exit_code == 3
    server.status = 503
    resolved = cli("check", "--now", "2026-03-02T14:00:00Z")
    assert resolved.exit_code == 0 and "HTTP 503" in resolved.stderr
    server.status = 200
    cli("check", "--now", "2026-03-02T14:01:00Z")
    cli("check", "--now", "2026-03-02T14:02:00Z")
    states = [r["body"]["state"] for r in server.received]
    assert states == ["firing", "resolved", "resolved"]  # the failed one, then delivered once


def test_retry_backoff_doubles_and_is_bounded():
    from datetime import timedelta

    from maillog_cli.alerts.state import RETRY_MAX, retry_delay

    hour = timedelta(hours=1)
    assert [retry_delay(n, hour).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(50, hour) == RETRY_MAX
    assert retry_delay(50, timedelta(minutes=2)) == timedelta(minutes=2)


# --- watch reloads the config file ---------------------------------------------------------------


def test_watch_reloads_edited_rules_and_keeps_the_last_good_ones(cli, tmp_path, db_path):
    """An edit is picked up at the next look; a bad edit is reported with FILE:LINE once and
    the rules before it stay in force; fixing it brings the new rules in."""
    from datetime import UTC, datetime

    from maillog_cli.alerts.rules import RuleFile
    from maillog_cli.alerts.watch import reloader, watch
    from maillog_cli.store.db import Store

    load(cli, tmp_path, group("m", HOUR, 10, "bounced", domain="a.com"))  # 10% bounced
    path = rules(tmp_path, rule(metric="bounce_rate", above="50%", window="1h"))
    edits = [
        rule(metric="bounce_rate", above="lots", window="1h"),  # bad: `above` on line 5
        rule(metric="bounce_rate", above="5%", window="1h", every="2h"),  # good
    ]
    said, passes, lines = [], [], []

    def report(p) -> None:
        passes.append(p)
        if edits:
            path.write_text(edits.pop(0), encoding="utf-8")

    rule_file = RuleFile(path)
    store = Store.open(db_path)
    try:
        watch(store, rule_file.rules, lambda s, line: lines.append(line),
              stop=lambda: len(passes) >= 4, report=report, interval=0, tick=0,
              clock=lambda: datetime(2026, 3, 2, 12, tzinfo=UTC), sleep=lambda s: None,
              reload=reloader(rule_file, said.append))  # fmt: skip
    finally:
        store.close()
    assert [len(p.firing) for p in passes] == [0, 0, 1, 1]  # the old rule, kept, then the new
    bad = [x for x in said if x.startswith("rules not reloaded")]
    assert len(bad) == 1 and f"{path}:5:" in bad[0] and "keeping the 1 rule" in bad[0]
    assert said[-1] == f"reloaded 1 rule from {path}"
    assert len(lines) == 1 and lines[0].startswith("FIRING r: bounce_rate 10% > 5%")


def test_a_rule_file_that_disappears_keeps_the_last_good_rules(tmp_path):
    from maillog_cli.alerts.rules import RuleFile
    from maillog_cli.errors import MaillogError

    path = rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h"))
    rule_file = RuleFile(path)
    assert not rule_file.changed()
    path.unlink()
    with pytest.raises(MaillogError, match="no such file.*keeping the 1 rule"):
        rule_file.changed()
    assert not rule_file.changed()  # reported once per edit
    assert [r.name for r in rule_file.rules] == ["r"]

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from maillog_cli.dates import format_dt


def test_demo_data_imports_cleanly_and_covers_every_part(
    cli, tmp_path: Path, db_path: Path
) -> None:
    from datetime import UTC, datetime

    out = tmp_path / "demo"
    r = cli("demo", "--out", out, "--messages", "300")
    now = format_dt(datetime.now(UTC))
    assert r.exit_code == 0, r
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "audit-log.json",
        "events.jsonl",
        "sendgrid-webhook.json",
        "sent-mail.mbox",
    ]
    r = cli("import", *files)
    assert r.exit_code == 0, r
    assert (
        "[audit]" in r.stderr
        and "[sendgrid]" in r.stderr
        and "[email]" in r.stderr
        and "emails stored" in r.stderr
    )
    with sqlite3.connect(db_path) as conn:
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM events")}
        newest = conn.execute("SELECT max(timestamp) FROM events").fetchone()[0]
        secrets = conn.execute(
            "SELECT count(*) FROM audit WHERE metadata LIKE '%hunter2%'"
        ).fetchone()[0]
        content = conn.execute("SELECT count(*) FROM message_content").fetchone()[0]
    assert {"queued", "delivered", "bounced", "deferred", "opened"} <= statuses
    assert newest <= now
    assert secrets == 0 and content > 0


# --- the demo looks like a real sender's weeks (issue 16) -----------------------------------
# One store built the way `make run` builds it, checked for what a person would notice.

# Stage of each status in a message's life: never goes back; one final outcome.
STAGE = {
    "queued": 0,
    "sent": 1,
    "deferred": 2,
    "delivered": 3,
    "bounced": 3,
    "dropped": 3,
    "failed": 3,
    "opened": 4,
    "clicked": 4,
    "complained": 4,
    "unsubscribed": 4,
}
HARD = {"user_unknown", "mailbox_disabled", "domain_not_found"}
ADDRESS_REASONS = HARD | {"mailbox_full"}
# Words only a big receiver's replies contain; a reply from anyone else contains none.
FAMILY_MARKERS = {
    "gmail": ("gsmtp", "google.com"),
    "yahoo": ("yahoo",),
    "microsoft": ("outlook.com", "mail.live.com", "aka.ms", "resolver.", "storedrv"),
}
DOMAIN_FAMILY = {
    "gmail.com": "gmail",
    "yahoo.com": "yahoo",
    "outlook.com": "microsoft",
    "hotmail.com": "microsoft",
}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    """`maillog demo` then `maillog import` of everything it wrote, through the real CLI."""
    from typer.testing import CliRunner

    from maillog_cli.cli import app

    folder = tmp_path_factory.mktemp("demo")
    runner = CliRunner()
    r = runner.invoke(app, ["demo", "--out", str(folder / "data")])
    assert r.exit_code == 0, r.output
    files = sorted(str(p) for p in (folder / "data").iterdir())
    r = runner.invoke(app, ["--db", str(folder / "demo.db"), "import", "--quiet", *files])
    assert r.exit_code == 0, r.output
    conn = sqlite3.connect(folder / "demo.db")
    yield conn
    conn.close()


def lifecycles(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for mid, ts, status in conn.execute(
        "SELECT message_id, timestamp, status FROM events ORDER BY message_id, timestamp, seq"
    ):
        out[mid].append((ts, status))
    return out


def lifecycle_problem(events: list[tuple[str, str]]) -> str | None:
    """What is wrong with one message's events in time order, or None."""
    stages = [STAGE[s] for _, s in events]
    seconds = [ts[:19] for ts, _ in events]
    statuses = [s for _, s in events]
    if len(set(seconds)) != len(seconds):
        return "two events in the same second"
    if stages != sorted(stages):
        return "a stage after a later one"
    if stages.count(3) > 1:
        return "more than one outcome"
    if any(s == 4 for s in stages) and "delivered" not in statuses:
        return "engagement without a delivery"
    if "clicked" in statuses and statuses.index("clicked") < statuses.index("opened"):
        return "a click before any open"
    return None


def test_every_message_has_one_lifecycle_in_time_order(demo_db) -> None:
    messages = lifecycles(demo_db)
    bad = {mid: (lifecycle_problem(ev), ev) for mid, ev in messages.items()}
    bad = {mid: v for mid, v in bad.items() if v[0]}
    assert not bad, list(bad.items())[:3]
    # and every kind of life is there to be looked at
    shapes = {tuple(dict.fromkeys(s for _, s in ev)) for ev in messages.values()}
    assert any("deferred" in s and "delivered" in s for s in shapes)
    assert any("deferred" in s and "bounced" in s for s in shapes)
    assert any(s[-1] == "clicked" for s in shapes)
    assert any(s[:3] == ("queued", "sent", "delivered") for s in shapes)  # with stored content
    assert any(s[:2] == ("sent", "delivered") for s in shapes)  # SES and Resend start at "sent"


def test_an_address_keeps_one_fate(demo_db) -> None:
    reasons: dict[str, set[str]] = defaultdict(set)
    delivered: set[str] = set()
    for rcpt, status, reason in demo_db.execute(
        "SELECT recipient, status, bounce_reason FROM events"
        " WHERE status IN ('bounced', 'deferred', 'delivered')"
    ):
        if status == "delivered":
            delivered.add(rcpt)
        elif reason in ADDRESS_REASONS:
            reasons[rcpt].add(reason)
    contradicting = {a: r for a, r in reasons.items() if len(r) > 1}
    assert not contradicting, contradicting
    revived = sorted(a for a, r in reasons.items() if r & HARD and a in delivered)
    assert not revived, revived  # an unknown user stays unknown
    recovered = [a for a, r in reasons.items() if r == {"mailbox_full"} and a in delivered]
    assert recovered, "a full mailbox may later recover"
    not_found = {a.rsplit("@", 1)[1] for a, r in reasons.items() if "domain_not_found" in r}
    assert not_found and not any(a.rsplit("@", 1)[1] in not_found for a in delivered)


def families_in(text: str) -> set[str]:
    low = text.lower()
    return {f for f, words in FAMILY_MARKERS.items() if any(w in low for w in words)}


def test_reply_texts_fit_the_receiving_domain(demo_db) -> None:
    rows = demo_db.execute(
        "SELECT recipient_domain, status, diagnostic FROM events"
        " WHERE status IN ('bounced', 'deferred', 'delivered') AND diagnostic IS NOT NULL"
        " AND coalesce(bounce_reason, '') != 'suppressed'"
    ).fetchall()
    assert len(rows) > 500
    wrong = []
    for domain, status, text in rows:
        own = {DOMAIN_FAMILY[domain]} if domain in DOMAIN_FAMILY else set()
        # never another receiver's words; a refusal names its receiver (Yahoo's "250 ok
        # dirdel" is all Yahoo says on success)
        if not families_in(text) <= own or (status != "delivered" and families_in(text) != own):
            wrong.append((domain, text))
    assert not wrong, wrong[:5]
    texts = [t for _, s, t in rows if s != "delivered"]
    # varied wording, not one stock line
    assert len(set(t[:40] for t in texts)) >= 20
    assert not any("Requested action not taken: mailbox unavailable" in t for t in texts)


def test_reply_texts_mean_what_the_demo_intends() -> None:
    """Each reply text is classified as the reason the demo uses it for (so an address's
    fate shows as one reason in `bounces`), and carries an enhanced status code or a
    receiver's own well-known wording."""
    from datetime import UTC, datetime

    from maillog_cli import demo
    from maillog_cli.bounce.classify import classify

    gen = demo._Generator(1, datetime(2026, 11, 1, tzinfo=UTC), 21, ("sendgrid",))
    for (family, reason), texts in demo.REPLIES.items():
        for template in texts:
            text = gen.fill(template, "bob12@example.org", "m@acme.example")
            verdict = classify(None, None, None, text)
            assert verdict is not None and verdict.bounce_reason == reason.removesuffix("_temp"), (
                family,
                reason,
                text,
                verdict,
            )


def test_audit_actions_come_from_the_catalogue(demo_db) -> None:
    from maillog_cli.audit.queries import ACTIONS

    actions = {a for (a,) in demo_db.execute("SELECT action FROM audit")}
    assert actions and actions <= set(ACTIONS), actions - set(ACTIONS)
    assert len(actions) >= 8


def test_timestamps_are_distinct_and_follow_the_working_day(demo_db) -> None:
    from datetime import UTC, datetime

    total, distinct, newest = demo_db.execute(
        "SELECT count(*), count(DISTINCT timestamp), max(timestamp) FROM events"
    ).fetchone()
    assert distinct / total >= 0.995, (distinct, total)
    assert newest <= format_dt(datetime.now(UTC))
    hours = dict(
        demo_db.execute(
            "SELECT CAST(substr(timestamp, 12, 2) AS INTEGER), count(*) FROM events"
            " WHERE status IN ('queued', 'sent', 'failed') GROUP BY 1"
        ).fetchall()
    )
    night = sum(hours.get(h, 0) for h in range(0, 5)) / 5
    day = sum(hours.get(h, 0) for h in range(10, 17)) / 7
    assert night < day / 3, hours


def test_the_sent_mail_belongs_to_demo_messages(demo_db) -> None:
    """`show` of a message with stored content finds its whole lifecycle, `sent` after `queued`."""
    rows = demo_db.execute(
        "SELECT c.message_id, (SELECT group_concat(status, ' ') FROM"
        " (SELECT status FROM events e WHERE e.message_id = c.message_id ORDER BY timestamp))"
        " FROM message_content c"
    ).fetchall()
    assert len(rows) == 40
    for mid, statuses in rows:
        assert statuses.startswith("queued sent "), (mid, statuses)


def test_same_seed_same_files(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from maillog_cli.demo import write_demo

    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    a = write_demo(tmp_path / "a", messages=300, now=now)
    b = write_demo(tmp_path / "b", messages=300, now=now)
    c = write_demo(tmp_path / "c", messages=300, seed=8, now=now)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


def test_send_failures_are_explained_by_the_audit_log(demo_db) -> None:
    """Client-side failures happen only in two short incidents that an SMTP settings change
    ended (the wrong password yesterday, a relay outage), never scattered at random."""
    changes = [t for (t,) in demo_db.execute(
        "SELECT created_at FROM audit WHERE action = 'smtp.update' ORDER BY created_at"
    )]  # fmt: skip
    failures = [
        t for (t,) in demo_db.execute("SELECT timestamp FROM events WHERE status = 'failed'")
    ]
    assert changes and failures
    for when in failures:  # each failure is followed within the hour by the change that fixed it
        fixed = [c for c in changes if c > when]
        assert fixed and (parse_ts(fixed[0]) - parse_ts(when)).total_seconds() < 3600, when
    yesterday = demo_db.execute(
        "SELECT count(*) FROM audit WHERE action = 'smtp.update'"
        " AND created_at >= strftime('%Y-%m-%dT00:00:00', 'now', '-1 day')"
        " AND created_at < strftime('%Y-%m-%dT00:00:00', 'now')"
    ).fetchone()[0]
    assert yesterday == 2  # the wrong password and its fix


def parse_ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))

"""The schema is frozen here: a store made by today's migration chain, and a store made by
an older maillog (only the first N migrations) then opened by today's, both end with exactly
SCHEMA. In the style of simonw/llm's tests/test_migrate.py.

Adding a migration: append it in maillog_cli/store/migrations.py, then update SCHEMA below
(the failure prints the whole schema of a fresh store, ready to paste) and nothing else.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from pathlib import Path

import pytest

from maillog_cli.store import db as store_db
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import MIGRATIONS

SCHEMA = """
PRAGMA user_version = 14;
PRAGMA auto_vacuum = 2;
PRAGMA journal_mode = wal;
CREATE INDEX audit_action ON audit(action, created_at);
CREATE INDEX audit_actor_email ON audit(actor_email);
CREATE INDEX audit_actor_id ON audit(actor_id);
CREATE INDEX audit_created ON audit(created_at);
CREATE INDEX audit_target ON audit(target_id);
CREATE INDEX events_bounce_days ON events(substr(timestamp, 1, 10), bounce_class, bounce_reason, recipient_domain, timestamp, status, message_id, recipient) WHERE (status = 'bounced' OR status = 'deferred' OR status = 'dropped' OR status = 'failed');
CREATE INDEX events_bounce_messages ON events(message_id, status) WHERE (status = 'bounced' OR status = 'deferred' OR status = 'dropped' OR status = 'failed');
CREATE INDEX events_bounce_patterns ON events(diagnostic_pattern, diagnostic, bounce_reason, bounce_class, recipient_domain, timestamp, status, message_id, recipient) WHERE (status = 'bounced' OR status = 'deferred' OR status = 'dropped' OR status = 'failed');
CREATE INDEX events_bounce_recipients ON events(recipient, status) WHERE (status = 'bounced' OR status = 'deferred' OR status = 'dropped' OR status = 'failed');
CREATE INDEX events_class ON events(bounce_class, timestamp) WHERE bounce_class IS NOT NULL;
CREATE INDEX events_domain ON events(recipient_domain, timestamp);
CREATE INDEX events_message ON events(message_id, timestamp);
CREATE INDEX events_recipient ON events(recipient, timestamp);
CREATE INDEX events_status ON events(status, timestamp);
CREATE INDEX events_timestamp ON events(timestamp);
CREATE INDEX message_aliases_message ON message_aliases(message_id);
CREATE INDEX messages_domain ON messages(recipient_domain, first_seen);
CREATE INDEX messages_first_seen ON messages(first_seen);
CREATE INDEX messages_last_status ON messages(last_status, last_status_at);
CREATE INDEX messages_last_status_at ON messages(last_status_at);
CREATE INDEX messages_recipient ON messages(recipient);
CREATE INDEX messages_resent_from ON messages(resent_from) WHERE resent_from IS NOT NULL;
CREATE INDEX messages_stats_domain
ON messages(recipient_domain, last_status, bounce_class, ((complained_at IS NOT NULL) + 2 * (opened_at IS NOT NULL OR open_count > 0) + 4 * (clicked_at IS NOT NULL OR click_count > 0) + 8 * (unsubscribed_at IS NOT NULL) + 16 * (coalesce(spf, '') != '') + 32 * (coalesce(lower(spf), '') = 'pass') + 64 * (coalesce(dkim, '') != '') + 128 * (coalesce(lower(dkim), '') = 'pass') + 256 * (coalesce(dmarc, '') != '') + 512 * (coalesce(lower(dmarc), '') = 'pass')), first_seen);
CREATE INDEX messages_stats_relay ON messages(relay, last_status, bounce_class, ((complained_at IS NOT NULL) + 2 * (opened_at IS NOT NULL OR open_count > 0) + 4 * (clicked_at IS NOT NULL OR click_count > 0) + 8 * (unsubscribed_at IS NOT NULL) + 16 * (coalesce(spf, '') != '') + 32 * (coalesce(lower(spf), '') = 'pass') + 64 * (coalesce(dkim, '') != '') + 128 * (coalesce(lower(dkim), '') = 'pass') + 256 * (coalesce(dmarc, '') != '') + 512 * (coalesce(lower(dmarc), '') = 'pass')), first_seen) WHERE relay IS NOT NULL;
CREATE INDEX messages_stats_time
ON messages(substr(first_seen, 1, 13), last_status, bounce_class, ((complained_at IS NOT NULL) + 2 * (opened_at IS NOT NULL OR open_count > 0) + 4 * (clicked_at IS NOT NULL OR click_count > 0) + 8 * (unsubscribed_at IS NOT NULL) + 16 * (coalesce(spf, '') != '') + 32 * (coalesce(lower(spf), '') = 'pass') + 64 * (coalesce(dkim, '') != '') + 128 * (coalesce(lower(dkim), '') = 'pass') + 256 * (coalesce(dmarc, '') != '') + 512 * (coalesce(lower(dmarc), '') = 'pass')), first_seen);
CREATE INDEX messages_stats_who
ON messages(provider, sender, tag, last_status, bounce_class, ((complained_at IS NOT NULL) + 2 * (opened_at IS NOT NULL OR open_count > 0) + 4 * (clicked_at IS NOT NULL OR click_count > 0) + 8 * (unsubscribed_at IS NOT NULL) + 16 * (coalesce(spf, '') != '') + 32 * (coalesce(lower(spf), '') = 'pass') + 64 * (coalesce(dkim, '') != '') + 128 * (coalesce(lower(dkim), '') = 'pass') + 256 * (coalesce(dmarc, '') != '') + 512 * (coalesce(lower(dmarc), '') = 'pass')), first_seen);
CREATE INDEX mta_queue_message ON mta_queue(message_id, last_at, id, relay);
CREATE INDEX mta_queue_qid ON mta_queue(qid, host, first_at);
-- index sqlite_autoindex_audit_1 ON audit
-- index sqlite_autoindex_events_1 ON events
-- index sqlite_autoindex_message_aliases_1 ON message_aliases
-- index sqlite_autoindex_message_content_1 ON message_content
-- index sqlite_autoindex_messages_1 ON messages
-- index sqlite_autoindex_meta_1 ON meta
CREATE TABLE alert_state (
rule TEXT NOT NULL, -- the rule's name
scope TEXT NOT NULL, -- the group (a domain, a sender …; '' for all)
firing INTEGER NOT NULL, -- 1 while the alert is firing
since TEXT, -- when it began firing
last_sent TEXT, -- when it was last notified
value REAL, -- the value at the last evaluation
updated_at TEXT NOT NULL, pending TEXT, channels TEXT, failures INTEGER NOT NULL DEFAULT 0, retry_at TEXT,
PRIMARY KEY (rule, scope)
) WITHOUT ROWID;
CREATE TABLE audit (
id TEXT PRIMARY KEY,
created_at TEXT NOT NULL,
actor_id TEXT,
actor_email TEXT,
action TEXT NOT NULL,
raw_action TEXT,
target_type TEXT,
target_id TEXT,
metadata TEXT,
ip TEXT,
user_agent TEXT,
import_id INTEGER
);
CREATE TABLE "events" (
seq INTEGER PRIMARY KEY AUTOINCREMENT,
event_id TEXT NOT NULL UNIQUE,
message_id TEXT,
timestamp TEXT NOT NULL,
provider TEXT,
direction TEXT NOT NULL DEFAULT 'outbound',
status TEXT NOT NULL,
raw_status TEXT,
sender TEXT,
recipient TEXT,
recipient_domain TEXT,
subject TEXT,
smtp_code INTEGER,
enhanced_code TEXT,
diagnostic TEXT,
bounce_class TEXT,
bounce_reason TEXT,
bounce_hint TEXT,
tag TEXT,
extra TEXT,
import_id INTEGER
, tags TEXT, type TEXT, size INTEGER, send_method TEXT, diagnostic_pattern TEXT);
CREATE VIRTUAL TABLE events_fts USING fts5(
subject, sender, recipient, diagnostic,
content='events', content_rowid='seq', tokenize='unicode61'
);
CREATE TABLE 'events_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE 'events_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'events_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'events_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE imports (
id INTEGER PRIMARY KEY,
source TEXT NOT NULL,
sha256 TEXT,
format TEXT,
started_at TEXT NOT NULL,
finished_at TEXT,
new_events INTEGER NOT NULL DEFAULT 0,
duplicates INTEGER NOT NULL DEFAULT 0,
skipped INTEGER NOT NULL DEFAULT 0,
errors INTEGER NOT NULL DEFAULT 0,
new_messages INTEGER NOT NULL DEFAULT 0,
new_audit INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE message_aliases (
alias TEXT PRIMARY KEY,
message_id TEXT NOT NULL
);
CREATE TABLE message_content (
message_id TEXT PRIMARY KEY,
raw BLOB NOT NULL
);
CREATE TABLE messages (
message_id TEXT PRIMARY KEY,
sender TEXT,
recipient TEXT,
recipient_domain TEXT,
subject TEXT,
tag TEXT,
provider TEXT,
send_method TEXT,
size INTEGER,
direction TEXT,
first_seen TEXT,
last_status TEXT,
last_status_at TEXT,
bounce_class TEXT,
bounce_reason TEXT,
opened_at TEXT,
clicked_at TEXT,
complained_at TEXT,
unsubscribed_at TEXT,
event_count INTEGER NOT NULL DEFAULT 0,
last_seq INTEGER,
spf TEXT,
dkim TEXT,
dmarc TEXT,
headers TEXT,
has_content INTEGER NOT NULL DEFAULT 0,
resent_from TEXT
, tags TEXT, type TEXT, open_count INTEGER NOT NULL DEFAULT 0, last_opened_at TEXT, click_count INTEGER NOT NULL DEFAULT 0, last_clicked_at TEXT, relay TEXT);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE mta_queue (
id INTEGER PRIMARY KEY,
host TEXT NOT NULL,
qid TEXT NOT NULL,
message_id TEXT NOT NULL,
first_at TEXT NOT NULL,
last_at TEXT NOT NULL,
started INTEGER NOT NULL DEFAULT 0,
removed_at TEXT,
sender TEXT,
header_id TEXT,
size INTEGER,
nrcpt INTEGER,
client TEXT,
authenticated INTEGER NOT NULL DEFAULT 0,
notice TEXT,
relay TEXT
);
CREATE TABLE prunes (
id INTEGER PRIMARY KEY,
at TEXT NOT NULL,
cutoff TEXT NOT NULL,
filters TEXT,
events INTEGER NOT NULL,
messages INTEGER NOT NULL,
audit INTEGER NOT NULL,
archive TEXT
);
CREATE TABLE sqlite_sequence(name,seq);
CREATE TABLE stats_groups (
provider NOT NULL, sender NOT NULL, tag NOT NULL, recipient_domain NOT NULL, last_status NOT NULL, bounce_class NOT NULL,
fl INTEGER NOT NULL,
n INTEGER NOT NULL,
PRIMARY KEY (provider, sender, tag, recipient_domain, last_status, bounce_class, fl)
) WITHOUT ROWID;
CREATE TABLE stats_hours (
hour NOT NULL, last_status NOT NULL, bounce_class NOT NULL, listed NOT NULL,
fl INTEGER NOT NULL,
n INTEGER NOT NULL,
PRIMARY KEY (hour, last_status, bounce_class, listed, fl)
) WITHOUT ROWID;
CREATE TRIGGER events_fts_ad AFTER DELETE ON events BEGIN
INSERT INTO events_fts(events_fts, rowid, subject, sender, recipient, diagnostic)
VALUES ('delete', old.seq, old.subject, old.sender, old.recipient, old.diagnostic);
END;
CREATE TRIGGER events_fts_ai AFTER INSERT ON events BEGIN
INSERT INTO events_fts(rowid, subject, sender, recipient, diagnostic)
VALUES (new.seq, new.subject, new.sender, new.recipient, new.diagnostic);
END;
CREATE TRIGGER events_fts_au AFTER UPDATE OF subject, sender, recipient, diagnostic ON events BEGIN
INSERT INTO events_fts(events_fts, rowid, subject, sender, recipient, diagnostic)
VALUES ('delete', old.seq, old.subject, old.sender, old.recipient, old.diagnostic);
INSERT INTO events_fts(rowid, subject, sender, recipient, diagnostic)
VALUES (new.seq, new.subject, new.sender, new.recipient, new.diagnostic);
END;
CREATE TRIGGER stats_groups_ad AFTER DELETE ON messages BEGIN
INSERT INTO stats_groups(provider, sender, tag, recipient_domain, last_status, bounce_class, fl, n) VALUES (coalesce(old.provider, X''), coalesce(old.sender, X''), coalesce(old.tag, X''), coalesce(old.recipient_domain, X''), coalesce(old.last_status, X''), coalesce(old.bounce_class, X''), ((old.complained_at IS NOT NULL) + 2 * (old.opened_at IS NOT NULL OR old.open_count > 0) + 4 * (old.clicked_at IS NOT NULL OR old.click_count > 0) + 8 * (old.unsubscribed_at IS NOT NULL) + 16 * (coalesce(old.spf, '') != '') + 32 * (coalesce(lower(old.spf), '') = 'pass') + 64 * (coalesce(old.dkim, '') != '') + 128 * (coalesce(lower(old.dkim), '') = 'pass') + 256 * (coalesce(old.dmarc, '') != '') + 512 * (coalesce(lower(old.dmarc), '') = 'pass')), -1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER stats_groups_ai AFTER INSERT ON messages BEGIN
INSERT INTO stats_groups(provider, sender, tag, recipient_domain, last_status, bounce_class, fl, n) VALUES (coalesce(new.provider, X''), coalesce(new.sender, X''), coalesce(new.tag, X''), coalesce(new.recipient_domain, X''), coalesce(new.last_status, X''), coalesce(new.bounce_class, X''), ((new.complained_at IS NOT NULL) + 2 * (new.opened_at IS NOT NULL OR new.open_count > 0) + 4 * (new.clicked_at IS NOT NULL OR new.click_count > 0) + 8 * (new.unsubscribed_at IS NOT NULL) + 16 * (coalesce(new.spf, '') != '') + 32 * (coalesce(lower(new.spf), '') = 'pass') + 64 * (coalesce(new.dkim, '') != '') + 128 * (coalesce(lower(new.dkim), '') = 'pass') + 256 * (coalesce(new.dmarc, '') != '') + 512 * (coalesce(lower(new.dmarc), '') = 'pass')), 1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER stats_groups_au AFTER UPDATE OF bounce_class, last_status, provider, recipient_domain, sender, tag, complained_at, opened_at, open_count, clicked_at, click_count, unsubscribed_at, spf, dkim, dmarc
ON messages WHEN (coalesce(old.provider, X''), coalesce(old.sender, X''), coalesce(old.tag, X''), coalesce(old.recipient_domain, X''), coalesce(old.last_status, X''), coalesce(old.bounce_class, X''), ((old.complained_at IS NOT NULL) + 2 * (old.opened_at IS NOT NULL OR old.open_count > 0) + 4 * (old.clicked_at IS NOT NULL OR old.click_count > 0) + 8 * (old.unsubscribed_at IS NOT NULL) + 16 * (coalesce(old.spf, '') != '') + 32 * (coalesce(lower(old.spf), '') = 'pass') + 64 * (coalesce(old.dkim, '') != '') + 128 * (coalesce(lower(old.dkim), '') = 'pass') + 256 * (coalesce(old.dmarc, '') != '') + 512 * (coalesce(lower(old.dmarc), '') = 'pass'))) IS NOT (coalesce(new.provider, X''), coalesce(new.sender, X''), coalesce(new.tag, X''), coalesce(new.recipient_domain, X''), coalesce(new.last_status, X''), coalesce(new.bounce_class, X''), ((new.complained_at IS NOT NULL) + 2 * (new.opened_at IS NOT NULL OR new.open_count > 0) + 4 * (new.clicked_at IS NOT NULL OR new.click_count > 0) + 8 * (new.unsubscribed_at IS NOT NULL) + 16 * (coalesce(new.spf, '') != '') + 32 * (coalesce(lower(new.spf), '') = 'pass') + 64 * (coalesce(new.dkim, '') != '') + 128 * (coalesce(lower(new.dkim), '') = 'pass') + 256 * (coalesce(new.dmarc, '') != '') + 512 * (coalesce(lower(new.dmarc), '') = 'pass'))) BEGIN
INSERT INTO stats_groups(provider, sender, tag, recipient_domain, last_status, bounce_class, fl, n) VALUES (coalesce(old.provider, X''), coalesce(old.sender, X''), coalesce(old.tag, X''), coalesce(old.recipient_domain, X''), coalesce(old.last_status, X''), coalesce(old.bounce_class, X''), ((old.complained_at IS NOT NULL) + 2 * (old.opened_at IS NOT NULL OR old.open_count > 0) + 4 * (old.clicked_at IS NOT NULL OR old.click_count > 0) + 8 * (old.unsubscribed_at IS NOT NULL) + 16 * (coalesce(old.spf, '') != '') + 32 * (coalesce(lower(old.spf), '') = 'pass') + 64 * (coalesce(old.dkim, '') != '') + 128 * (coalesce(lower(old.dkim), '') = 'pass') + 256 * (coalesce(old.dmarc, '') != '') + 512 * (coalesce(lower(old.dmarc), '') = 'pass')), -1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
INSERT INTO stats_groups(provider, sender, tag, recipient_domain, last_status, bounce_class, fl, n) VALUES (coalesce(new.provider, X''), coalesce(new.sender, X''), coalesce(new.tag, X''), coalesce(new.recipient_domain, X''), coalesce(new.last_status, X''), coalesce(new.bounce_class, X''), ((new.complained_at IS NOT NULL) + 2 * (new.opened_at IS NOT NULL OR new.open_count > 0) + 4 * (new.clicked_at IS NOT NULL OR new.click_count > 0) + 8 * (new.unsubscribed_at IS NOT NULL) + 16 * (coalesce(new.spf, '') != '') + 32 * (coalesce(lower(new.spf), '') = 'pass') + 64 * (coalesce(new.dkim, '') != '') + 128 * (coalesce(lower(new.dkim), '') = 'pass') + 256 * (coalesce(new.dmarc, '') != '') + 512 * (coalesce(lower(new.dmarc), '') = 'pass')), 1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER stats_hours_ad AFTER DELETE ON messages BEGIN
INSERT INTO stats_hours(hour, last_status, bounce_class, listed, fl, n) VALUES (coalesce(substr(old.first_seen, 1, 13), X''), coalesce(old.last_status, X''), coalesce(old.bounce_class, X''), coalesce(old.last_seq IS NOT NULL, X''), ((old.complained_at IS NOT NULL) + 2 * (old.opened_at IS NOT NULL OR old.open_count > 0) + 4 * (old.clicked_at IS NOT NULL OR old.click_count > 0) + 8 * (old.unsubscribed_at IS NOT NULL) + 16 * (coalesce(old.spf, '') != '') + 32 * (coalesce(lower(old.spf), '') = 'pass') + 64 * (coalesce(old.dkim, '') != '') + 128 * (coalesce(lower(old.dkim), '') = 'pass') + 256 * (coalesce(old.dmarc, '') != '') + 512 * (coalesce(lower(old.dmarc), '') = 'pass')), -1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER stats_hours_ai AFTER INSERT ON messages BEGIN
INSERT INTO stats_hours(hour, last_status, bounce_class, listed, fl, n) VALUES (coalesce(substr(new.first_seen, 1, 13), X''), coalesce(new.last_status, X''), coalesce(new.bounce_class, X''), coalesce(new.last_seq IS NOT NULL, X''), ((new.complained_at IS NOT NULL) + 2 * (new.opened_at IS NOT NULL OR new.open_count > 0) + 4 * (new.clicked_at IS NOT NULL OR new.click_count > 0) + 8 * (new.unsubscribed_at IS NOT NULL) + 16 * (coalesce(new.spf, '') != '') + 32 * (coalesce(lower(new.spf), '') = 'pass') + 64 * (coalesce(new.dkim, '') != '') + 128 * (coalesce(lower(new.dkim), '') = 'pass') + 256 * (coalesce(new.dmarc, '') != '') + 512 * (coalesce(lower(new.dmarc), '') = 'pass')), 1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER stats_hours_au AFTER UPDATE OF bounce_class, first_seen, last_seq, last_status, complained_at, opened_at, open_count, clicked_at, click_count, unsubscribed_at, spf, dkim, dmarc
ON messages WHEN (coalesce(substr(old.first_seen, 1, 13), X''), coalesce(old.last_status, X''), coalesce(old.bounce_class, X''), coalesce(old.last_seq IS NOT NULL, X''), ((old.complained_at IS NOT NULL) + 2 * (old.opened_at IS NOT NULL OR old.open_count > 0) + 4 * (old.clicked_at IS NOT NULL OR old.click_count > 0) + 8 * (old.unsubscribed_at IS NOT NULL) + 16 * (coalesce(old.spf, '') != '') + 32 * (coalesce(lower(old.spf), '') = 'pass') + 64 * (coalesce(old.dkim, '') != '') + 128 * (coalesce(lower(old.dkim), '') = 'pass') + 256 * (coalesce(old.dmarc, '') != '') + 512 * (coalesce(lower(old.dmarc), '') = 'pass'))) IS NOT (coalesce(substr(new.first_seen, 1, 13), X''), coalesce(new.last_status, X''), coalesce(new.bounce_class, X''), coalesce(new.last_seq IS NOT NULL, X''), ((new.complained_at IS NOT NULL) + 2 * (new.opened_at IS NOT NULL OR new.open_count > 0) + 4 * (new.clicked_at IS NOT NULL OR new.click_count > 0) + 8 * (new.unsubscribed_at IS NOT NULL) + 16 * (coalesce(new.spf, '') != '') + 32 * (coalesce(lower(new.spf), '') = 'pass') + 64 * (coalesce(new.dkim, '') != '') + 128 * (coalesce(lower(new.dkim), '') = 'pass') + 256 * (coalesce(new.dmarc, '') != '') + 512 * (coalesce(lower(new.dmarc), '') = 'pass'))) BEGIN
INSERT INTO stats_hours(hour, last_status, bounce_class, listed, fl, n) VALUES (coalesce(substr(old.first_seen, 1, 13), X''), coalesce(old.last_status, X''), coalesce(old.bounce_class, X''), coalesce(old.last_seq IS NOT NULL, X''), ((old.complained_at IS NOT NULL) + 2 * (old.opened_at IS NOT NULL OR old.open_count > 0) + 4 * (old.clicked_at IS NOT NULL OR old.click_count > 0) + 8 * (old.unsubscribed_at IS NOT NULL) + 16 * (coalesce(old.spf, '') != '') + 32 * (coalesce(lower(old.spf), '') = 'pass') + 64 * (coalesce(old.dkim, '') != '') + 128 * (coalesce(lower(old.dkim), '') = 'pass') + 256 * (coalesce(old.dmarc, '') != '') + 512 * (coalesce(lower(old.dmarc), '') = 'pass')), -1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
INSERT INTO stats_hours(hour, last_status, bounce_class, listed, fl, n) VALUES (coalesce(substr(new.first_seen, 1, 13), X''), coalesce(new.last_status, X''), coalesce(new.bounce_class, X''), coalesce(new.last_seq IS NOT NULL, X''), ((new.complained_at IS NOT NULL) + 2 * (new.opened_at IS NOT NULL OR new.open_count > 0) + 4 * (new.clicked_at IS NOT NULL OR new.click_count > 0) + 8 * (new.unsubscribed_at IS NOT NULL) + 16 * (coalesce(new.spf, '') != '') + 32 * (coalesce(lower(new.spf), '') = 'pass') + 64 * (coalesce(new.dkim, '') != '') + 128 * (coalesce(lower(new.dkim), '') = 'pass') + 256 * (coalesce(new.dmarc, '') != '') + 512 * (coalesce(lower(new.dmarc), '') = 'pass')), 1) ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
"""


def schema_of(conn: sqlite3.Connection) -> str:
    """Everything in sqlite_master plus the pragmas a store depends on, as stable text:
    objects sorted by type and name, each line of their SQL stripped of indentation."""
    out = [
        f"PRAGMA user_version = {conn.execute('PRAGMA user_version').fetchone()[0]};",
        f"PRAGMA auto_vacuum = {conn.execute('PRAGMA auto_vacuum').fetchone()[0]};",
        f"PRAGMA journal_mode = {conn.execute('PRAGMA journal_mode').fetchone()[0]};",
    ]
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    for kind, name, table, sql in rows:
        if sql is None:  # an index SQLite makes for a UNIQUE or PRIMARY KEY constraint
            out.append(f"-- {kind} {name} ON {table}")
            continue
        lines = (re.sub(r"\s+", " ", line).strip() for line in sql.splitlines())
        out.append("\n".join(line for line in lines if line) + ";")
    return "\n".join(out) + "\n"


def schema_at(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return schema_of(conn)
    finally:
        conn.close()


def assert_frozen(actual: str) -> None:
    if actual.strip() != SCHEMA.strip():
        diff = "\n".join(
            difflib.unified_diff(
                SCHEMA.strip().splitlines(),
                actual.strip().splitlines(),
                "SCHEMA",
                "store",
                lineterm="",
            )
        )
        pytest.fail(f"the schema changed; if on purpose, set SCHEMA to:\n{actual}\ndiff:\n{diff}")


def test_a_new_store_has_exactly_the_frozen_schema(tmp_path: Path) -> None:
    Store.open(tmp_path / "new.db").close()
    actual = schema_at(tmp_path / "new.db")
    assert f"PRAGMA user_version = {len(MIGRATIONS)};" in actual
    assert_frozen(actual)


@pytest.mark.parametrize("done", range(len(MIGRATIONS)))
def test_a_store_from_an_older_maillog_upgrades_to_exactly_the_frozen_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, done: int
) -> None:
    path = tmp_path / "old.db"
    with monkeypatch.context() as old_maillog:  # a maillog that knew only `done` migrations
        old_maillog.setattr(store_db, "MIGRATIONS", MIGRATIONS[:done])
        Store.open(path).close()
    assert f"PRAGMA user_version = {done};" in schema_at(path)
    if done:  # what the old maillog stored survives the upgrade
        with sqlite3.connect(path) as conn:
            conn.execute(
                "INSERT INTO events (event_id, timestamp, status) "
                "VALUES ('kept', '2024-01-01T00:00:00.000Z', 'delivered')"
            )
        conn.close()
    Store.open(path).close()
    assert_frozen(schema_at(path))
    if done:
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT event_id FROM events").fetchall() == [("kept",)]
        conn.close()


def test_opening_an_up_to_date_store_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store.open(path).close()
    before = schema_at(path)
    Store.open(path).close()
    Store.open(path, readonly=True).close()
    assert schema_at(path) == before

"""Numbered schema migrations, applied in order on every open.

Append-only: never edit a migration that has shipped; add the next number.
`PRAGMA user_version` records how far a store has been migrated.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]

# PRAGMA application_id of every maillog store ("MLOG" in ASCII): how a file is known to
# be ours, so that someone else's SQLite file is never taken over.
APPLICATION_ID = 0x4D4C4F47


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one, inside the caller's transaction.

    (`executescript` would COMMIT the open transaction first.)
    """
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        conn.execute(buffer)


def m001_initial(conn: sqlite3.Connection) -> None:
    """Events, messages, audit, imports; the indexes the filters use; FTS over text."""
    run_script(
        conn,
        """
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
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
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
        );
        CREATE INDEX events_timestamp ON events(timestamp);
        CREATE INDEX events_status ON events(status, timestamp);
        CREATE INDEX events_recipient ON events(recipient, timestamp);
        CREATE INDEX events_domain ON events(recipient_domain, timestamp);
        CREATE INDEX events_message ON events(message_id, timestamp);
        CREATE INDEX events_class ON events(bounce_class, timestamp) WHERE bounce_class IS NOT NULL;

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
        );
        CREATE INDEX messages_first_seen ON messages(first_seen);
        CREATE INDEX messages_last_status ON messages(last_status, last_status_at);
        CREATE INDEX messages_last_status_at ON messages(last_status_at);
        CREATE INDEX messages_recipient ON messages(recipient);
        CREATE INDEX messages_domain ON messages(recipient_domain, first_seen);
        CREATE INDEX messages_resent_from ON messages(resent_from) WHERE resent_from IS NOT NULL;

        -- The raw content, apart so that scans of messages stay small.
        CREATE TABLE message_content (
            message_id TEXT PRIMARY KEY,
            raw BLOB NOT NULL
        );
        -- Other identities of a message: provider ids, RFC Message-ID, queue ids.
        CREATE TABLE message_aliases (
            alias TEXT PRIMARY KEY,
            message_id TEXT NOT NULL
        );

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
        CREATE INDEX audit_created ON audit(created_at);
        CREATE INDEX audit_action ON audit(action, created_at);
        CREATE INDEX audit_actor_email ON audit(actor_email);
        CREATE INDEX audit_actor_id ON audit(actor_id);
        CREATE INDEX audit_target ON audit(target_id);

        CREATE VIRTUAL TABLE events_fts USING fts5(
            subject, sender, recipient, diagnostic,
            content='events', content_rowid='seq', tokenize='unicode61'
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        """,
    )
    create_fts_triggers(conn)


def create_fts_triggers(conn: sqlite3.Connection) -> None:
    """Keep events_fts in step with events (dropped during bulk loads, then rebuilt)."""
    run_script(
        conn,
        """
        CREATE TRIGGER IF NOT EXISTS events_fts_ai AFTER INSERT ON events BEGIN
            INSERT INTO events_fts(rowid, subject, sender, recipient, diagnostic)
            VALUES (new.seq, new.subject, new.sender, new.recipient, new.diagnostic);
        END;
        CREATE TRIGGER IF NOT EXISTS events_fts_ad AFTER DELETE ON events BEGIN
            INSERT INTO events_fts(events_fts, rowid, subject, sender, recipient, diagnostic)
            VALUES ('delete', old.seq, old.subject, old.sender, old.recipient, old.diagnostic);
        END;
        CREATE TRIGGER IF NOT EXISTS events_fts_au AFTER UPDATE OF subject, sender, recipient, diagnostic ON events BEGIN
            INSERT INTO events_fts(events_fts, rowid, subject, sender, recipient, diagnostic)
            VALUES ('delete', old.seq, old.subject, old.sender, old.recipient, old.diagnostic);
            INSERT INTO events_fts(rowid, subject, sender, recipient, diagnostic)
            VALUES (new.seq, new.subject, new.sender, new.recipient, new.diagnostic);
        END;
        """,
    )


def drop_fts_triggers(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        "DROP TRIGGER IF EXISTS events_fts_ai;\nDROP TRIGGER IF EXISTS events_fts_ad;\n"
        "DROP TRIGGER IF EXISTS events_fts_au;\n",
    )


def m002_prunes(conn: sqlite3.Connection) -> None:
    """A record of every prune: when, the cut-off and what went."""
    run_script(
        conn,
        """
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
        """,
    )


def m003_monotonic_seq_and_application_id(conn: sqlite3.Connection) -> None:
    """events.seq becomes AUTOINCREMENT, and the file is marked as a maillog store.

    Without AUTOINCREMENT SQLite hands out max(seq) + 1, so after a prune deleted the
    newest rows their numbers came back and `tail --follow` (which asks for seq > the last
    it saw) skipped new events. The table is rebuilt in place (SQLite cannot alter a
    primary key): same columns, same seqs, same indexes; the FTS rows keep their rowids.
    The high-water mark starts at the highest seq left (numbers a prune freed before this
    migration cannot be known any more).
    """
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    table_sql = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'"
    ).fetchone()[0]
    if "AUTOINCREMENT" in table_sql.upper():
        return
    new_sql, n = re.subn(
        r"\bseq\s+INTEGER\s+PRIMARY\s+KEY\b",
        "seq INTEGER PRIMARY KEY AUTOINCREMENT",
        table_sql,
        count=1,
        flags=re.IGNORECASE,
    )
    if n != 1:
        raise sqlite3.DatabaseError(f"unexpected events table: {table_sql}")
    new_sql = re.sub(r"^\s*CREATE\s+TABLE\s+\"?events\"?", "CREATE TABLE events_new", new_sql)
    indexes = [
        r[0]
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
            " AND sql IS NOT NULL"
        )
    ]
    drop_fts_triggers(conn)
    conn.execute(new_sql)
    conn.execute("INSERT INTO events_new SELECT * FROM events ORDER BY seq")
    conn.execute("DROP TABLE events")
    conn.execute("ALTER TABLE events_new RENAME TO events")
    for sql in indexes:
        conn.execute(sql)
    create_fts_triggers(conn)


def m004_message_model(conn: sqlite3.Connection) -> None:
    """The whole message model: every tag, type, size and send method an event carries, and
    open/click counts with first and last times on the message; filled in for old stores.

    Self-contained (it only adds columns and fills them), so it can be renumbered freely.
    """
    run_script(
        conn,
        """
        ALTER TABLE events ADD COLUMN tags TEXT;
        ALTER TABLE events ADD COLUMN type TEXT;
        ALTER TABLE events ADD COLUMN size INTEGER;
        ALTER TABLE events ADD COLUMN send_method TEXT;
        ALTER TABLE messages ADD COLUMN tags TEXT;
        ALTER TABLE messages ADD COLUMN type TEXT;
        ALTER TABLE messages ADD COLUMN open_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN last_opened_at TEXT;
        ALTER TABLE messages ADD COLUMN click_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN last_clicked_at TEXT;
        -- Tags older imports kept only in extra: a list of words, or name → value(s).
        UPDATE events SET tags = (
            SELECT json_group_array(t) FROM (
                SELECT DISTINCT t FROM (
                    SELECT CASE WHEN j.type = 'array' THEN NULL
                                WHEN json_type(events.extra, '$.tags') = 'object'
                                THEN j.key || ':' || j.value ELSE j.value END AS t
                    FROM json_each(events.extra, '$.tags') AS j
                    WHERE j.type IN ('text', 'integer', 'real')
                    UNION ALL
                    SELECT j.key || ':' || v.value
                    FROM json_each(events.extra, '$.tags') AS j, json_each(j.value) AS v
                    WHERE j.type = 'array' AND v.type IN ('text', 'integer', 'real')
                ) WHERE t IS NOT NULL AND t NOT LIKE 'ses:%' ORDER BY t
            )
        )
        WHERE json_valid(extra) AND json_type(extra, '$.tags') IN ('array', 'object');
        UPDATE events SET tags = NULL WHERE tags = '[]';
        UPDATE messages SET
            open_count = (SELECT count(*) FROM events e
                          WHERE e.message_id = messages.message_id AND e.status = 'opened'),
            last_opened_at = (SELECT max(timestamp) FROM events e
                              WHERE e.message_id = messages.message_id AND e.status = 'opened'),
            click_count = (SELECT count(*) FROM events e
                           WHERE e.message_id = messages.message_id AND e.status = 'clicked'),
            last_clicked_at = (SELECT max(timestamp) FROM events e
                               WHERE e.message_id = messages.message_id AND e.status = 'clicked')
        WHERE opened_at IS NOT NULL OR clicked_at IS NOT NULL;
        UPDATE messages SET tags = (
            SELECT json_group_array(value) FROM (
                SELECT DISTINCT j.value FROM events e, json_each(e.tags) AS j
                WHERE e.message_id = messages.message_id AND e.tags IS NOT NULL ORDER BY j.value
            )
        )
        WHERE message_id IN (SELECT message_id FROM events WHERE tags IS NOT NULL);
        CREATE INDEX IF NOT EXISTS message_aliases_message ON message_aliases(message_id);
        """,
    )


def m005_mta_queue(conn: sqlite3.Connection) -> None:
    """The partial state of mail servers' queue ids (store/mta_state.py): which message a
    Postfix or Exim queue id stands for, between which times, and the facts its lines gave.

    Kept in the store so that a message whose lines are split across rotated files,
    separate imports or a followed log is still one message. Self-contained (one new
    table), so it can be renumbered freely.
    """
    run_script(
        conn,
        """
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
        CREATE INDEX mta_queue_qid ON mta_queue(qid, host, first_at);
        CREATE INDEX mta_queue_message ON mta_queue(message_id);
        """,
    )


def m006_alert_state(conn: sqlite3.Connection) -> None:
    """What `maillog check` / `watch` last decided per alert rule and group, so an alert
    fires once, repeats no more often than its `every` and resolves, across restarts.

    Self-contained (one new table), so it can be renumbered freely.
    """
    run_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS alert_state (
            rule TEXT NOT NULL,           -- the rule's name
            scope TEXT NOT NULL,          -- the group (a domain, a sender …; '' for all)
            firing INTEGER NOT NULL,      -- 1 while the alert is firing
            since TEXT,                   -- when it began firing
            last_sent TEXT,               -- when it was last notified
            value REAL,                   -- the value at the last evaluation
            updated_at TEXT NOT NULL,
            PRIMARY KEY (rule, scope)
        ) WITHOUT ROWID;
        """,
    )


def m007_alert_delivery(conn: sqlite3.Connection) -> None:
    """A notice whose delivery failed is retried at the next evaluation (with a bounded
    backoff) instead of waiting for the rule's `every`: what is owed (`pending`: firing,
    repeat or resolved), to which of the rule's channels (`channels`: their positions, as
    JSON), after how many failures, and not before when.

    Self-contained (columns of alert_state only), so it can be renumbered freely.
    """
    for column in (
        "pending TEXT",
        "channels TEXT",
        "failures INTEGER NOT NULL DEFAULT 0",
        "retry_at TEXT",
    ):
        conn.execute(f"ALTER TABLE alert_state ADD COLUMN {column}")


# A message's flags as `stats` counts them, one small integer (bit: meaning): 1 complained,
# 2 opened (an event or a count an email log states), 4 clicked (likewise), 8 unsubscribed,
# 16/32 SPF checked/passed, 64/128 DKIM, 256/512 DMARC. maillog_cli.stats groups by it
# and must use this exact text (SQLite matches an index expression by its form).
def stats_flags_sql(row: str = "") -> str:
    """The flags of the message row `row` ("new.", "old." in a trigger; "" for the row
    an index or a query reads)."""
    return (
        f"(({row}complained_at IS NOT NULL)"
        f" + 2 * ({row}opened_at IS NOT NULL OR {row}open_count > 0)"
        f" + 4 * ({row}clicked_at IS NOT NULL OR {row}click_count > 0)"
        f" + 8 * ({row}unsubscribed_at IS NOT NULL)"
        f" + 16 * (coalesce({row}spf, '') != '') + 32 * (coalesce(lower({row}spf), '') = 'pass')"
        f" + 64 * (coalesce({row}dkim, '') != '') + 128 * (coalesce(lower({row}dkim), '') = 'pass')"
        f" + 256 * (coalesce({row}dmarc, '') != '')"
        f" + 512 * (coalesce(lower({row}dmarc), '') = 'pass'))"
    )


STATS_FLAGS_SQL = stats_flags_sql()
# The hour a message was first seen ('2026-10-05T13'), the time key of the stats index.
STATS_HOUR_SQL = "substr(first_seen, 1, 13)"
# What every count of `stats` depends on, after the group key: grouped in index order, a
# breakdown reads one small index and sorts nothing.
_STATS_COLUMNS = f"last_status, bounce_class, {STATS_FLAGS_SQL}"


def m008_stats_indexes(conn: sqlite3.Connection) -> None:
    """Covering indexes for `stats`: per hour of first_seen, per domain and per provider,
    sender and tag, each followed by what the counts depend on (latest status, bounce
    class, the flags above), so a breakdown over a million messages steps through one
    index in order instead of sorting every message row (1.2 s → a tenth of that).

    Self-contained (indexes only), so it can be renumbered freely.
    """
    run_script(
        conn,
        f"""
        CREATE INDEX IF NOT EXISTS messages_stats_time
            ON messages({STATS_HOUR_SQL}, {_STATS_COLUMNS}, first_seen);
        CREATE INDEX IF NOT EXISTS messages_stats_domain
            ON messages(recipient_domain, {_STATS_COLUMNS}, first_seen);
        CREATE INDEX IF NOT EXISTS messages_stats_who
            ON messages(provider, sender, tag, {_STATS_COLUMNS}, first_seen);
        """,
    )


# The rollups of migration 9: what `stats` counts (latest status, bounce class, flags)
# per hour of first_seen, and per provider, sender, tag and recipient domain, each with how
# many messages. (column, SQL over a message row `{r}`) of each key; a NULL key is stored
# as X'' (an empty blob, which no text equals): in a primary key a NULL never meets its
# row again.
_OUTCOME_KEY: tuple[tuple[str, str], ...] = (
    ("last_status", "{r}last_status"),
    ("bounce_class", "{r}bounce_class"),
)
STATS_ROLLUPS: dict[str, tuple[tuple[str, str], ...]] = {
    # with whether the message has a latest lifecycle event (what `search --messages`
    # lists, one row per such message: its count is the sum of these rows)
    "stats_hours": (
        ("hour", "substr({r}first_seen, 1, 13)"),
        *_OUTCOME_KEY,
        ("listed", "{r}last_seq IS NOT NULL"),
    ),
    "stats_groups": (
        ("provider", "{r}provider"),
        ("sender", "{r}sender"),
        ("tag", "{r}tag"),
        ("recipient_domain", "{r}recipient_domain"),
        *_OUTCOME_KEY,
    ),
}
# The messages columns the flags are made of.
_FLAG_COLUMNS = (
    "complained_at, opened_at, open_count, clicked_at, click_count, unsubscribed_at,"
    " spf, dkim, dmarc"
)


def _rollup_key(table: str, row: str) -> list[str]:
    """The key of message row `row` ("new.", "old.", "" in a query) in rollup `table`."""
    return [f"coalesce({sql.format(r=row)}, X'')" for _, sql in STATS_ROLLUPS[table]] + [
        stats_flags_sql(row)
    ]


def _rollup_add(table: str, row: str, n: int) -> str:
    """The statement that counts message row `row` (n = 1) or takes it off (n = -1)."""
    columns = [name for name, _ in STATS_ROLLUPS[table]] + ["fl", "n"]
    return (
        f"INSERT INTO {table}({', '.join(columns)})"
        f" VALUES ({', '.join(_rollup_key(table, row))}, {n})"
        " ON CONFLICT DO UPDATE SET n = n + excluded.n;"
    )


def _create_rollup(conn: sqlite3.Connection, table: str) -> None:
    """The rollup table, its three triggers on messages, and its rows from the messages."""
    names = [name for name, _ in STATS_ROLLUPS[table]]
    reads = ", ".join(
        sorted({c for _, sql in STATS_ROLLUPS[table] for c in re.findall(r"\{r\}(\w+)", sql)})
    )
    old, new = _rollup_key(table, "old."), _rollup_key(table, "new.")
    grouped = ", ".join(
        f"{sql.format(r='')} AS k{i}" for i, (_, sql) in enumerate(STATS_ROLLUPS[table])
    )
    run_script(
        conn,
        f"""
        CREATE TABLE IF NOT EXISTS {table} (
            {"".join(f"{name} NOT NULL, " for name in names)}
            fl INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY ({", ".join(names)}, fl)
        ) WITHOUT ROWID;
        CREATE TRIGGER IF NOT EXISTS {table}_ai AFTER INSERT ON messages BEGIN
            {_rollup_add(table, "new.", 1)}
        END;
        CREATE TRIGGER IF NOT EXISTS {table}_ad AFTER DELETE ON messages BEGIN
            {_rollup_add(table, "old.", -1)}
        END;
        CREATE TRIGGER IF NOT EXISTS {table}_au AFTER UPDATE OF {reads}, {_FLAG_COLUMNS}
            ON messages WHEN ({", ".join(old)}) IS NOT ({", ".join(new)}) BEGIN
            {_rollup_add(table, "old.", -1)}
            {_rollup_add(table, "new.", 1)}
        END;
        DELETE FROM {table};
        INSERT INTO {table}({", ".join(names)}, fl, n)
            SELECT {", ".join(f"coalesce(k{i}, X'')" for i in range(len(names)))}, fl, n FROM (
                SELECT {grouped}, {STATS_FLAGS_SQL} AS fl, count(*) AS n
                FROM messages GROUP BY {", ".join(str(i + 1) for i in range(len(names) + 1))});
        """,
    )


def m009_stats_rollups(conn: sqlite3.Connection) -> None:
    """Rollups of what `stats` counts — per hour of first_seen (`stats_hours`), and per
    provider, sender, tag and recipient domain (`stats_groups`) — kept exact by triggers
    on messages: every write to a message (an import's refresh, a merge, a prune, a
    reclassify, anything later) moves its count from its old group to its new one in the
    same transaction. The overview, the chart and every --by over all time (by time also
    over a --since/--until window) then read a few thousand rows instead of walking an
    index of every message (on 1.9M messages ≈0.3 s a walk).

    Self-contained (tables and their triggers), so it can be renumbered freely. What it
    makes is STATS_ROLLUPS and stats_flags_sql(): shipped with it, a change to them is a
    new migration (test_migrate's frozen schema fails first).
    """
    for table in STATS_ROLLUPS:
        _create_rollup(conn, table)


# The statuses that carry a bounce class (statuses.BOUNCE_STATUSES) as literal SQL. The
# bounce index below covers only these events, and SQLite uses a partial index only for
# a query whose WHERE holds the index's WHERE term as written: bounce.report adds this.
# ORs, not `status IN (…)`: an IN list in an index's WHERE builds a lookup table for
# every row inserted, any status (+2.3 µs per event of import, measured: 100,000 rows
# 0.72 → 0.96 s; these four comparisons cost 0.2 µs).
BOUNCE_STATUS_SQL = (
    "(status = 'bounced' OR status = 'deferred' OR status = 'dropped' OR status = 'failed')"
)
# The day of an event's timestamp ('2026-10-05'), the first key of the bounce days index.
# bounce.report groups by it and must use this exact text (SQLite matches an index
# expression by its form).
BOUNCE_DAY_SQL = "substr(timestamp, 1, 10)"
# What `maillog bounces` reads of each bounce event, in two partial covering indexes (6 %
# of the events), each in the order one of its groupings needs, so that it steps through
# one index instead of sorting every matching event: per day, class, reason and domain
# (and a time window is a range of it), and per pattern and text (the ranking and its
# examples). Both hold every column the filters read; the days index leaves the long
# texts out (a time window's few events are looked up for them), which keeps its walks
# and its inserts cheap.
BOUNCE_DAYS_INDEX = "events_bounce_days"
BOUNCE_PATTERNS_INDEX = "events_bounce_patterns"
BOUNCE_INDEXES = (BOUNCE_DAYS_INDEX, BOUNCE_PATTERNS_INDEX)
# How many distinct messages and recipients the bounce events have (migration 12): each a
# walk of its own small index in order, not a sort of every bounce event's id.
BOUNCE_MESSAGES_INDEX = "events_bounce_messages"
BOUNCE_RECIPIENTS_INDEX = "events_bounce_recipients"
BOUNCE_DISTINCT_INDEXES = (BOUNCE_MESSAGES_INDEX, BOUNCE_RECIPIENTS_INDEX)


def m010_diagnostic_patterns(conn: sqlite3.Connection) -> None:
    """Each bounce event's diagnostic pattern (normalize.bounce_pattern), stored with it so
    that `maillog bounces` ranks reply texts by a GROUP BY instead of normalising every
    distinct text on every run, filled here for the events already stored (a one-time
    cost: ≈ 3.5 s of CPU per million events); and the two bounce indexes above.

    Self-contained (one column filled, two indexes), so it can be renumbered freely.
    """
    from maillog_cli.normalize import bounce_pattern

    conn.execute("ALTER TABLE events ADD COLUMN diagnostic_pattern TEXT")
    conn.create_function("maillog_bounce_pattern", 2, bounce_pattern, deterministic=True)
    conn.execute(
        "UPDATE events SET diagnostic_pattern = maillog_bounce_pattern(status, diagnostic)"
        f" WHERE {BOUNCE_STATUS_SQL} AND diagnostic IS NOT NULL"
    )
    rest = "timestamp, status, message_id, recipient"
    for name, columns in (
        (
            BOUNCE_DAYS_INDEX,
            f"{BOUNCE_DAY_SQL}, bounce_class, bounce_reason, recipient_domain, {rest}",
        ),
        (
            BOUNCE_PATTERNS_INDEX,
            f"diagnostic_pattern, diagnostic, bounce_reason, bounce_class, recipient_domain, {rest}",
        ),
    ):
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON events({columns}) WHERE {BOUNCE_STATUS_SQL}"
        )


# A message's relay (`stats --by relay`): the host its latest delivery attempt went to, from
# the mail-server queue state (store/mta_state.py) — the message's latest mta_queue row that
# reached a relay, of two as late the later row. `{}` is the message id's SQL.
MESSAGE_RELAY_SQL = (
    "(SELECT q.relay FROM mta_queue q WHERE q.message_id = {} AND q.relay IS NOT NULL"
    " ORDER BY q.last_at DESC, q.id DESC LIMIT 1)"
)


def m011_message_relay(conn: sqlite3.Connection) -> None:
    """The relay as the message's own fact (kept by the messages refresh from mta_queue),
    with a covering index of the relayed messages only: `stats --by relay` walks it in
    order instead of picking each message's latest queue row and joining it to its
    message (0.4 s → 0.02 s on a million log lines). The queue rows' index by message
    covers MESSAGE_RELAY_SQL in its order, so the refresh finds a message's relay in its
    index entries alone (0.32 → 0.05 s per 130k messages).

    Self-contained (a column and indexes of messages and mta_queue), so it can be
    renumbered freely.
    """
    conn.execute("DROP INDEX IF EXISTS mta_queue_message")
    conn.execute("CREATE INDEX mta_queue_message ON mta_queue(message_id, last_at, id, relay)")
    conn.execute("ALTER TABLE messages ADD COLUMN relay TEXT")
    conn.execute(
        f"UPDATE messages SET relay = {MESSAGE_RELAY_SQL.format('messages.message_id')}"
        " WHERE message_id IN (SELECT message_id FROM mta_queue WHERE relay IS NOT NULL)"
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS messages_stats_relay"
        f" ON messages(relay, {_STATS_COLUMNS}, first_seen) WHERE relay IS NOT NULL"
    )


def m012_bounce_distinct(conn: sqlite3.Connection) -> None:
    """Two narrow partial indexes of the bounce events, by message and by recipient (with
    the status, so a `--status` subset is read from the index alone): the all-time
    `bounces` counts its distinct messages and recipients by walking them in order
    (0.29 s → ≈ 0.05 s on 5M events, where `count(DISTINCT)` sorted 316k ids twice).

    Self-contained (two indexes), so it can be renumbered freely.
    """
    for name, column in (
        (BOUNCE_MESSAGES_INDEX, "message_id"),
        (BOUNCE_RECIPIENTS_INDEX, "recipient"),
    ):
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON events({column}, status)"
            f" WHERE {BOUNCE_STATUS_SQL}"
        )


def m013_one_spelling_per_domain(conn: sqlite3.Connection) -> None:
    """Every stored recipient domain in its one spelling (normalize.domain: lower case,
    IDNA labels decoded), so that `bücher.example` and `xn--bcher-kva.example` are one
    domain in `stats --by domain`, `bounces` and --domain. Only rows whose domain could
    differ (anything but lower-case ASCII letters, digits, dots and hyphens, or an `xn--`
    label) are read in Python; the stats rollups follow the messages through their
    triggers.

    Self-contained (an UPDATE of one column of events and messages), so it can be
    renumbered freely.
    """
    from maillog_cli.normalize import domain

    conn.create_function("maillog_domain", 1, domain, deterministic=True)
    may_differ = (
        "recipient_domain IS NOT NULL AND (recipient_domain GLOB '*[^a-z0-9.-]*'"
        " OR recipient_domain LIKE '%xn--%' OR recipient_domain LIKE '%.')"
    )
    for table in ("events", "messages"):
        conn.execute(
            f"UPDATE {table} SET recipient_domain = maillog_domain(recipient_domain)"
            f" WHERE {may_differ} AND maillog_domain(recipient_domain) IS NOT recipient_domain"
        )


def m014_recipient_domain_of_the_recipient(conn: sqlite3.Connection) -> None:
    """A message's recipient_domain is its own recipient's: the refresh took the smallest
    domain of any of its recipients (ann@example.org shown under example.com), so the
    rows of emails to several domains are read again from their recipient's events. Only
    messages of more than one event can differ; the stats rollups follow through their
    triggers. Self-contained, so it can be renumbered freely."""
    conn.execute(
        """
        UPDATE messages SET recipient_domain = d.domain
        FROM (
            SELECT m.message_id AS id, (
                SELECT e.recipient_domain FROM events e
                WHERE e.message_id = m.message_id AND e.recipient = m.recipient
                ORDER BY e.seq LIMIT 1
            ) AS domain
            FROM messages m WHERE m.recipient IS NOT NULL AND m.event_count > 1
        ) AS d
        WHERE messages.message_id = d.id AND messages.recipient_domain IS NOT d.domain
        """
    )


MIGRATIONS: tuple[Migration, ...] = (
    m001_initial,
    m002_prunes,
    m003_monotonic_seq_and_application_id,
    m004_message_model,
    m005_mta_queue,
    m006_alert_state,
    m007_alert_delivery,
    m008_stats_indexes,
    m009_stats_rollups,
    m010_diagnostic_patterns,
    m011_message_relay,
    m012_bounce_distinct,
    m013_one_spelling_per_domain,
    m014_recipient_domain_of_the_recipient,
)

"""Filters → parameterised SQL, shared by every command and the TUI.

`Filters` is built from CLI options (options.py) or from TUI filter words
(`parse_words`); both go through the same validation, and `where()` is the one
place that turns them into SQL. Values are always bound parameters.
"""

from __future__ import annotations

import itertools
import shlex
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from maillog_cli.dates import format_dt, parse_since, parse_when
from maillog_cli.errors import MaillogError
from maillog_cli.normalize import address, domain_spellings, message_id, send_method
from maillog_cli.normalize import domain as normalize_domain
from maillog_cli.statuses import STATUSES, canonical_status

BOUNCE_CLASSES = ("hard", "soft", "block", "undetermined")


@dataclass
class Filters:
    """What the user asked to see. Empty lists / None mean "any"."""

    statuses: list[str] = field(default_factory=list)
    to: str | None = None
    sender: str | None = None
    domain: str | None = None
    subject: str | None = None
    providers: list[str] = field(default_factory=list)
    message_id: str | None = None
    bounce_class: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    # message facts: any of the message's tags, its type, how it was sent
    tags: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    send_methods: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        """The filter as filter words (what the TUI header and messages show)."""
        words: list[str] = []
        for s in self.statuses:
            words.append(f"status:{s}")
        for name, key in (
            ("to", "to"),
            ("sender", "from"),
            ("domain", "domain"),
            ("subject", "subject"),
            ("message_id", "id"),
        ):
            value = getattr(self, name)
            if value:
                words.append(f"{key}:{shlex.quote(value)}")
        words += [f"provider:{p}" for p in self.providers]
        words += [f"class:{c}" for c in self.bounce_class]
        words += [f"reason:{r}" for r in self.reason]
        words += [f"tag:{shlex.quote(t)}" for t in self.tags]
        words += [f"type:{shlex.quote(t)}" for t in self.types]
        words += [f"method:{m}" for m in self.send_methods]
        if self.since:
            words.append(f"since:{format_dt(self.since)}")
        if self.until:
            words.append(f"until:{format_dt(self.until)}")
        if self.text:
            words.append(shlex.quote(self.text))
        return " ".join(words)

    def as_options(self) -> str:
        """The filter as `search` options (what `tui` suggests in a script): the same
        Filters, so the suggestion selects exactly what the filter words did."""
        words: list[str] = []
        words += [f"--status {s}" for s in self.statuses]
        for name, option in (
            ("to", "--to"),
            ("sender", "--from"),
            ("domain", "--domain"),
            ("subject", "--subject"),
            ("message_id", "--message-id"),
        ):
            value = getattr(self, name)
            if value:
                words.append(f"{option} {shlex.quote(value)}")
        words += [f"--provider {shlex.quote(p)}" for p in self.providers]
        words += [f"--class {c}" for c in self.bounce_class]
        words += [f"--reason {shlex.quote(r)}" for r in self.reason]
        words += [f"--tag {shlex.quote(t)}" for t in self.tags]
        words += [f"--type {shlex.quote(t)}" for t in self.types]
        words += [f"--send-method {m}" for m in self.send_methods]
        if self.since:
            words.append(f"--since {format_dt(self.since)}")
        if self.until:
            words.append(f"--until {format_dt(self.until)}")
        if self.text:
            words += (
                ["--", shlex.quote(self.text)]
                if self.text.startswith("-")
                else [shlex.quote(self.text)]
            )
        return " ".join(words)


# --- validation shared by CLI options and filter words ---------------------------------------


def check_status(word: str) -> str:
    status = canonical_status(word)
    if status is None:
        raise MaillogError(
            f"unknown status {word!r}",
            f"use one of: {', '.join(STATUSES)} (or spam, bounce, suppressed, delayed, open, click)",
        )
    return status


def check_class(word: str) -> str:
    w = word.strip().lower()
    if w not in BOUNCE_CLASSES:
        raise MaillogError(
            f"unknown bounce class {word!r}", f"use one of: {', '.join(BOUNCE_CLASSES)}"
        )
    return w


def build(
    statuses: list[str] | None = None,
    to: str | None = None,
    sender: str | None = None,
    domain: str | None = None,
    subject: str | None = None,
    providers: list[str] | None = None,
    message_id_: str | None = None,
    bounce_class: list[str] | None = None,
    reason: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    text: str | None = None,
    now: datetime | None = None,
    tags: list[str] | None = None,
    types: list[str] | None = None,
    send_methods: list[str] | None = None,
) -> Filters:
    """Validate raw user words into Filters; MaillogError for anything unreadable."""
    f = Filters(
        statuses=list(dict.fromkeys(check_status(s) for s in statuses or [])),
        to=(to.strip().lower() or None) if to else None,
        sender=(sender.strip().lower() or None) if sender else None,
        domain=normalize_domain(domain.strip().lstrip("@")) if domain else None,
        subject=subject or None,
        providers=[p.strip().lower() for p in providers or [] if p.strip()],
        message_id=message_id(message_id_) if message_id_ else None,
        bounce_class=[check_class(c) for c in bounce_class or []],
        reason=[r.strip().lower() for r in reason or [] if r.strip()],
        since=parse_since(since, now) if since else None,
        until=parse_when(until, now) if until else None,
        text=text.strip() or None if text else None,
        tags=[t.strip().lower() for t in tags or [] if t.strip()],
        types=[t.strip().lower() for t in types or [] if t.strip()],
        send_methods=[m for m in (send_method(w) for w in send_methods or []) if m],
    )
    if f.since and f.until and f.since > f.until:
        raise MaillogError("--since is after --until", "swap them")
    return f


FILTER_WORDS: dict[str, str] = {
    "status": "statuses",
    "to": "to",
    "from": "sender",
    "domain": "domain",
    "subject": "subject",
    "provider": "providers",
    "id": "message_id_",
    "message-id": "message_id_",
    "class": "bounce_class",
    "bounce-class": "bounce_class",
    "reason": "reason",
    "since": "since",
    "until": "until",
    "tag": "tags",
    "type": "types",
    "method": "send_methods",
    "send-method": "send_methods",
}
_LIST_WORDS = {"statuses", "providers", "bounce_class", "reason", "tags", "types", "send_methods"}


def parse_words(text: str, now: datetime | None = None) -> Filters:
    """TUI filter words: `status:bounced domain:gmail.com since:7d "free text"`.

    The same validation as the CLI options; MaillogError names the bad word.
    """
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise MaillogError(
            f"cannot read the filter: {exc}", 'close the quote: "free text"'
        ) from None
    kwargs: dict[str, Any] = {}
    free: list[str] = []
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key.lower() in FILTER_WORDS:
            name = FILTER_WORDS[key.lower()]
            if not value:
                raise MaillogError(f"{key}: needs a value", f"for example {key}:…")
            if name in _LIST_WORDS:
                kwargs.setdefault(name, []).extend(v for v in value.split(",") if v)
            else:
                kwargs[name] = value
        elif (
            sep
            and " " not in token
            and key.isalpha()
            and key.lower() not in FILTER_WORDS
            and not token.startswith("http")
        ):
            raise MaillogError(
                f"unknown filter word {key}:",
                f"use {', '.join(sorted(set(FILTER_WORDS) - {'message-id', 'bounce-class', 'send-method'}))}",
            )
        else:
            free.append(token)
    if free:
        kwargs["text"] = " ".join(free)
    return build(**kwargs, now=now)


# --- SQL --------------------------------------------------------------------------------------


def iso(dt: datetime) -> str:
    """A filter time as the store writes times (UTC), for comparing with stored ones."""
    return format_dt(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


_iso = iso  # the name export.py and audit/queries.py import it by


# Engagement statuses never become a message's last_status; a message "has" one when the
# matching timestamp column of messages is set.
_ENGAGED_AT = {
    "opened": "opened_at",
    "clicked": "clicked_at",
    "complained": "complained_at",
    "unsubscribed": "unsubscribed_at",
}


def where(
    f: Filters, alias: str = "e", *, messages: bool = False, facts: str | None = None
) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword; '1' when empty) over the events table.

    `messages=True` gives the same filters over the messages table (alias e.g. "m"), for
    per-message figures (stats): --status is the message's latest lifecycle status (an
    engagement status means "was ever opened/clicked/…"), --since/--until apply to
    first_seen, free text matches any of the message's events.

    `facts` names a joined messages table whose sender and subject stand in where the
    event has none: a message's row (MESSAGE_EVENT_SELECT) shows them, so --from and
    --subject must find it by them, as `stats` does.
    """
    a = f"{alias}." if alias else ""
    clauses: list[str] = []
    params: list[Any] = []

    def fact(column: str) -> str:
        return f"coalesce({a}{column}, {facts}.{column})" if facts else f"{a}{column}"

    def any_of(column: str, values: list[str]) -> None:
        clauses.append(f"{a}{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)

    if f.statuses and messages:
        lifecycle = [s for s in f.statuses if s not in _ENGAGED_AT]
        either = [f"{a}{_ENGAGED_AT[s]} IS NOT NULL" for s in f.statuses if s in _ENGAGED_AT]
        if lifecycle:
            either.insert(0, f"{a}last_status IN ({', '.join('?' for _ in lifecycle)})")
            params.extend(lifecycle)
        clauses.append("(" + " OR ".join(either) + ")")
    elif f.statuses:
        any_of("status", f.statuses)
    if f.to:
        _match_address(clauses, params, f"{a}recipient", f.to)
    if f.sender:
        _match_address(clauses, params, fact("sender"), f.sender)
    if f.domain:
        clauses.append(f"{a}recipient_domain = ?")
        params.append(f.domain)
    if f.subject:
        sql, args = contains(fact("subject"), f.subject)
        clauses.append(sql)
        params.extend(args)
    if f.providers:
        any_of("provider", f.providers)
    if f.message_id:
        clauses.append(
            f"({a}message_id = ? OR {a}message_id IN (SELECT message_id FROM message_aliases WHERE alias = ?))"
        )
        params += [f.message_id, f.message_id]
    facts, fact_params = message_facts(f, alias if messages else "m")
    if facts:
        if messages:
            clauses.append(facts)
        else:
            clauses.append(f"{a}message_id IN (SELECT m.message_id FROM messages m WHERE {facts})")
        params.extend(fact_params)
    if f.bounce_class:
        any_of("bounce_class", f.bounce_class)
    if f.reason:
        any_of("bounce_reason", f.reason)
    when = "first_seen" if messages else "timestamp"
    if f.since:
        clauses.append(f"{a}{when} >= ?")
        params.append(iso(f.since))
    if f.until:
        clauses.append(f"{a}{when} < ?")
        params.append(iso(f.until))
    if f.text:
        fts = "SELECT rowid FROM events_fts WHERE events_fts MATCH ?"
        if messages:
            fts = f"SELECT message_id FROM events WHERE seq IN ({fts})"
        clauses.append(f"{a}message_id IN ({fts})" if messages else f"{a}seq IN ({fts})")
        params.append(fts_literal(f.text))
    return (" AND ".join(clauses) or "1"), params


def message_facts(f: Filters, alias: str = "m") -> tuple[str, list[Any]]:
    """--tag/--type/--send-method over the messages table ('' when none is given).

    A tag matches whole (`welcome`, `campaign:welcome`) or as the value of a name:value
    tag (`welcome` finds `campaign:welcome`); tags and types ignore case.
    """
    a = f"{alias}." if alias else ""
    clauses: list[str] = []
    params: list[Any] = []
    if f.tags:
        marks = ", ".join("?" for _ in f.tags)
        clauses.append(
            f"EXISTS (SELECT 1 FROM json_each({a}tags) j WHERE lower(j.value) IN ({marks})"
            f" OR lower(substr(j.value, instr(j.value, ':') + 1)) IN ({marks}))"
        )
        params += f.tags + f.tags
    if f.types:
        clauses.append(f"lower({a}type) IN ({', '.join('?' for _ in f.types)})")
        params += f.types
    if f.send_methods:
        clauses.append(f"{a}send_method IN ({', '.join('?' for _ in f.send_methods)})")
        params += f.send_methods
    return " AND ".join(clauses), params


def fts_literal(text: str) -> str:
    """Free text as an FTS5 query that can only mean "all these words", never syntax.

    Each whitespace-separated token becomes an FTS5 string with its quotes doubled, so
    `"`, `(`, `AND`, `NOT`, `*`, `:` and `-` are searched for, not obeyed. A token of
    punctuation alone is an empty phrase, which FTS5 ignores (a query of only such
    tokens matches nothing rather than failing with "fts5: syntax error").
    """
    tokens = text.split()
    return " ".join('"' + token.replace('"', '""') + '"' for token in tokens) or '""'


def contains(column: str, text: str) -> tuple[str, list[Any]]:
    """`column` holds `text`, ASCII case folded, every character literal. instr, not LIKE:
    no wildcard to escape, and no pattern length limit (a LIKE pattern over 50,000 bytes
    failed as "not a usable maillog database")."""
    return f"instr(lower({column}), lower(?)) > 0", [text]


def starts_with(column: str, prefix: str) -> tuple[str, list[Any]]:
    """`column` begins with `prefix`, ASCII case folded, every character literal (as
    `contains`, never LIKE)."""
    return f"lower(substr({column}, 1, ?)) = lower(?)", [len(prefix), prefix]


# SQLite's SQLITE_MAX_LIKE_PATTERN_LENGTH: a longer GLOB fails as "pattern too complex"
GLOB_LIMIT = 50_000


def _match_address(clauses: list[str], params: list[Any], column: str, value: str) -> None:
    """A full address matches exactly (its domain in either IDNA spelling); `*` globs; a
    bare local part or word matches by prefix."""
    if "*" in value or "?" in value:
        if len(value.encode()) > GLOB_LIMIT:
            raise MaillogError(
                f"the pattern {value[:40]!r}… is longer than {GLOB_LIMIT} bytes",
                "give a shorter pattern, or a full address without * or ?",
            )
        clauses.append(f"{column} GLOB ?")
        params.append(value)
    elif "@" in value:
        full = address(value) or value
        local, _, host = full.rpartition("@")
        spelled = list(dict.fromkeys([full, *(f"{local}@{d}" for d in domain_spellings(host))]))
        clauses.append(
            f"{column} = ?"
            if len(spelled) == 1
            else f"{column} IN ({', '.join('?' * len(spelled))})"
        )
        params.extend(spelled)
    else:
        sql, args = starts_with(column, value + "@")
        clauses.append(sql)
        params.extend(args)


EVENT_SELECT = (
    "e.seq, e.event_id, e.message_id, e.timestamp, e.provider, e.direction, e.status, e.raw_status,"
    " e.sender, e.recipient, e.subject, e.smtp_code, e.enhanced_code, e.diagnostic,"
    " e.bounce_class, e.bounce_reason"
)

# One row per message: its latest event, with the sender, recipient and subject the message
# knows where that event does not carry them (the bounce named the subject; the later open
# or Postmark delivery does not), so a fact some event gave is never shown as null.
MESSAGE_EVENT_SELECT = (
    "e.seq, e.event_id, e.message_id, e.timestamp, e.provider, e.direction, e.status, e.raw_status,"
    " coalesce(e.sender, m.sender) AS sender, coalesce(e.recipient, m.recipient) AS recipient,"
    " coalesce(e.subject, m.subject) AS subject, e.smtp_code, e.enhanced_code, e.diagnostic,"
    " e.bounce_class, e.bounce_reason"
)

# The message facts (model.MESSAGE_FACT_KEYS) beside a message's latest event.
MESSAGE_SELECT = (
    "m.first_seen, m.type, m.tags, m.size, m.send_method, m.open_count,"
    " m.opened_at AS first_opened_at, m.last_opened_at, m.click_count,"
    " m.clicked_at AS first_clicked_at, m.last_clicked_at, m.complained_at, m.unsubscribed_at,"
    " m.spf, m.dkim, m.dmarc,"
    " (SELECT json_group_array(alias) FROM (SELECT alias FROM message_aliases"
    "  WHERE message_id = m.message_id ORDER BY alias)) AS aliases,"
    " m.has_content, m.resent_from, m.event_count"
)


@dataclass(frozen=True)
class Page:
    """Keyset position: rows strictly older than (timestamp, seq)."""

    timestamp: str
    seq: int


def events_sql(
    f: Filters,
    limit: int | None,
    after: Page | None = None,
    messages: bool = False,
    newest_from: str | None = None,
) -> tuple[str, list[Any]]:
    """SELECT of events (or of each message's latest event), newest first, keyset-paged.

    `newest_from`: only the events at or after this time, walked newest first in the time
    index (see `_newest_window`)."""
    clause, params = where(f, "e", facts="m" if messages else None)
    events = "events e"
    if newest_from is not None:
        events = "events e INDEXED BY events_timestamp"
        clause, params = f"e.timestamp >= ? AND {clause}", [newest_from, *params]
    if after is not None:
        # The redundant `timestamp <= ?` lets SQLite seek the index instead of scanning from the top.
        clause += " AND e.timestamp <= ? AND (e.timestamp < ? OR (e.timestamp = ? AND e.seq < ?))"
        params += [after.timestamp, after.timestamp, after.timestamp, after.seq]
    if messages:
        # events drive (in index order, stopping at LIMIT); messages is probed by its primary
        # key. `messages JOIN events ON seq = last_seq` scanned every message per page (0.6-9 s
        # on 1M events), as messages.last_seq has no index.
        source = (
            f"{events} CROSS JOIN messages m ON m.message_id = e.message_id AND m.last_seq = e.seq"
        )
    else:
        source = events
    select = f"{MESSAGE_EVENT_SELECT}, {MESSAGE_SELECT}" if messages else EVENT_SELECT
    sql = f"SELECT {select} FROM {source} WHERE {clause} ORDER BY e.timestamp DESC, e.seq DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def iter_events(
    conn: sqlite3.Connection,
    f: Filters,
    limit: int | None,
    after: Page | None = None,
    messages: bool = False,
) -> Iterator[dict[str, Any]]:
    """The events (or each message's latest event) `events_sql` selects, as dicts, streamed."""
    since = _newest_window(conn, f, limit, after)
    if since is not None:  # the newest events first; all of them when those were too few
        assert limit
        rows = _dicts(conn, *events_sql(f, limit, messages=messages, newest_from=since))
        found = list(itertools.islice(rows, limit))
        if len(found) == limit:
            yield from found
            return
    yield from _dicts(conn, *events_sql(f, limit, after=after, messages=messages))


def _dicts(conn: sqlite3.Connection, sql: str, params: list[Any]) -> Iterator[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


# A step of the time index (one entry, one probe of the set of matches) costs about this
# fraction of what a match costs when every match is read (its event looked up, sorted).
_STEP_PER_MATCH = 0.1


def _newest_window(
    conn: sqlite3.Connection, f: Filters, limit: int | None, after: Page | None
) -> str | None:
    """For free text alone: a time T such that the events at or after T probably hold
    `limit` matches, when walking those newest events in the time index costs less than
    reading every match (the full-text index gives them in import order, not by time, so
    the newest 100 of 80,000 matches were 80,000 lookups and a sort); None otherwise.

    Exact whatever T: the events at or after T are the first ones of the newest-first
    order, so when they hold `limit` matches those are the newest `limit` (else
    iter_events reads every match)."""
    if not (f.text and limit and after is None) or not replace(f, text=None).is_empty():
        return None
    matches = conn.execute(
        "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (fts_literal(f.text),)
    ).fetchone()[0]
    events = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    walk = 2 * limit * events // max(matches, 1)  # twice what evenly spread matches need
    if not matches or walk >= events or walk * _STEP_PER_MATCH > matches:
        return None
    row = conn.execute(
        "SELECT timestamp FROM events ORDER BY timestamp DESC LIMIT 1 OFFSET ?", (walk,)
    ).fetchone()
    return str(row[0]) if row else None


def has_rollups(conn: sqlite3.Connection) -> bool:
    """Whether the store has the stats rollups (migration 9): a store an older maillog wrote
    and that cannot be upgraded here (a read-only file) is read without them."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stats_hours'"
    ).fetchone()
    return found is not None


def count_sql(f: Filters, messages: bool = False, rollups: bool = True) -> tuple[str, list[Any]]:
    """How many rows `events_sql` would give without a limit (`rollups`: has_rollups)."""
    clause, params = where(f, "e", facts="m" if messages else None)
    if messages and clause == "1" and rollups:
        # Every message with a latest lifecycle event is listed (refresh_messages keeps
        # last_seq on one of the message's events, or NULL): the rollup of migration 9
        # counts them (a pass over 1.9M messages was 0.3 s; a lookup of each one's event
        # before that, 0.24 s on 380k).
        return "SELECT coalesce(sum(n), 0) FROM stats_hours WHERE listed = 1", params
    source = "messages m JOIN events e ON e.seq = m.last_seq" if messages else "events e"
    return f"SELECT count(*) FROM {source} WHERE {clause}", params


def with_changes(f: Filters, **changes: Any) -> Filters:
    return replace(f, **changes)


# --- short ids ----------------------------------------------------------------------------------

SHORT_ID_MIN = 8  # git's rule for abbreviated hashes, with its floor of 8 characters
PREFIX_MIN = 4  # like git: a shorter prefix is too likely to be a typo for something else


@dataclass(frozen=True)
class IdSpace:
    """Where one kind of id lives, so messages and audit entries shorten and resolve their
    ids by one rule: `table.column` holds the ids; `aliases` (table, alias column, owner
    column), when given, holds other names an id is also found by."""

    table: str
    column: str
    what: str  # "message ids", "audit entry ids": how an error names them
    aliases: tuple[str, str, str] | None = None

    def sources(self) -> list[tuple[str, str, str]]:
        """(table, key column, owner column) pairs: the ids themselves, then the aliases."""
        own = (self.table, self.column, self.column)
        return [own, self.aliases] if self.aliases else [own]


MESSAGE_IDS = IdSpace(
    "messages", "message_id", "message ids", ("message_aliases", "alias", "message_id")
)
AUDIT_IDS = IdSpace("audit", "id", "audit entry ids")


def _other_neighbours(conn: sqlite3.Connection, ident: str, space: IdSpace) -> Iterator[str]:
    """The keys (ids and aliases) of OTHER entries just before and just after `ident` in
    sort order: the ones that share the longest prefix with it (indexed seeks, no scan)."""
    for table, key, owner in space.sources():
        for op, order in (("<", "DESC"), (">", "")):
            row = conn.execute(
                f"SELECT {key} FROM {table} WHERE {key} {op} ? AND {owner} <> ?"
                f" ORDER BY {key} {order} LIMIT 1",
                (ident, ident),
            ).fetchone()
            if row:
                yield row[0]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def short_id(
    conn: sqlite3.Connection, ident: str, space: IdSpace = MESSAGE_IDS, minimum: int = SHORT_ID_MIN
) -> str:
    """The shortest prefix of `ident`, at least `minimum` characters, that no other entry's
    id or alias starts with — so what a terminal shows, `show PREFIX` finds."""
    neighbours = _other_neighbours(conn, ident, space)
    shared = max((_common_prefix(ident, n) for n in neighbours), default=0)
    return ident[: max(minimum, shared + 1)]


def short_ids(
    conn: sqlite3.Connection, idents: Iterable[str | None], space: IdSpace = MESSAGE_IDS
) -> dict[str, str]:
    """short_id() of each distinct id (a few index seeks per id)."""
    return {i: short_id(conn, i, space) for i in dict.fromkeys(i for i in idents if i)}


def ids_with_prefix(
    conn: sqlite3.Connection, prefix: str, space: IdSpace = MESSAGE_IDS, limit: int = 6
) -> list[str]:
    """The ids (at most `limit`) whose id or one of whose aliases starts with `prefix`,
    exactly (case-sensitive, as ids are stored: never LIKE, which folds case), sorted."""
    found: dict[str, None] = {}
    for table, key, owner in space.sources():
        sql = f"SELECT {key}, {owner} FROM {table} WHERE {key} >= ? ORDER BY {key}"
        for name, ident in conn.execute(sql, (prefix,)):
            if not name.startswith(prefix) or len(found) >= limit:
                break
            found[ident] = None
    return sorted(found)[:limit]


def unique_with_prefix(
    conn: sqlite3.Connection, prefix: str, space: IdSpace, asked: str | None = None
) -> str | None:
    """The one id in `space` that starts with `prefix` (at least PREFIX_MIN characters);
    None when none does; MaillogError naming a few when several do."""
    if len(prefix) < PREFIX_MIN:
        return None
    found = ids_with_prefix(conn, prefix, space, limit=4)
    if len(found) > 1:
        shown = ", ".join(found[:3]) + (", …" if len(found) > 3 else "")
        raise MaillogError(
            f"{asked or prefix!r} is the start of several {space.what} ({shown})",
            "give more of the id",
        )
    return found[0] if found else None


def resolve_prefix(conn: sqlite3.Connection, ident: str) -> str | None:
    """The one message whose id or alias starts with `ident` (<> optional), for an id
    shortened on a terminal; None when none does; MaillogError naming a few when several do."""
    prefix = (message_id(ident) or "").lstrip("<")  # `<2026…`: the start of `<2026…>`
    return unique_with_prefix(conn, prefix, MESSAGE_IDS, asked=ident)

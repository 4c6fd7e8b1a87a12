"""Audit log queries: filters → SQL, the action vocabulary and its categories, lookups.

Shared by `maillog audit` and the TUI's Audit tab. Core code: nothing here prints.
Rows leave through `public_row()`, which parses the metadata and masks anything that
still looks like a credential, so every output path shows the same safe values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from maillog_cli.dates import parse_since, parse_when
from maillog_cli.errors import MaillogError
from maillog_cli.importers.audit import normalize_action
from maillog_cli.model import AUDIT_KEYS
from maillog_cli.redaction import mask_credentials, mask_value
from maillog_cli.store.query import (  # the same literal matching and time shape as event filters
    AUDIT_IDS,
    _iso,
    contains,
    starts_with,
    unique_with_prefix,
)

# --- vocabulary ---------------------------------------------------------------------------------

# The first dotted part of an action decides its category, so new actions of a known
# family (smtp.test, webhook.disable …) are categorised without a code change.
PREFIX_CATEGORY: dict[str, str] = {
    "project": "project",
    "smtp": "sending",
    "broadcast": "sending",
    "bounce_imap": "bounces",
    "bounce_token": "bounces",
    "suppression": "bounces",
    "api_key": "api",
    "webhook": "api",
    "workspace": "workspace",
    "member": "workspace",
    "settings": "workspace",
    "domain": "domains",
    "login": "auth",
    "login_failed": "auth",
    "logout": "auth",
    "password": "auth",
    "two_factor": "auth",
}
OTHER = "other"
CATEGORIES: tuple[str, ...] = (*dict.fromkeys(PREFIX_CATEGORY.values()), OTHER)

# Known actions and what they mean (tests/test_audit.py checks docs/cli/audit.md against this).
# The last six are other products' activity-log words, normalised (see normalize_action).
ACTIONS: dict[str, str] = {
    "project.create": "a project was created",
    "project.update": "project settings changed (name, default sender, tracking …)",
    "project.delete": "a project was deleted",
    "smtp.create": "SMTP relay settings were added",
    "smtp.update": "SMTP relay settings changed (host, port, user or password)",
    "smtp.delete": "SMTP relay settings were removed",
    "broadcast.send": "a broadcast was sent to a list",
    "bounce_imap.update": "the bounce mailbox (IMAP) settings changed",
    "bounce_token.rotate": "the bounce webhook token was rotated",
    "suppression.add": "an address was added to the suppression list",
    "suppression.remove": "an address was removed from the suppression list",
    "suppression.import": "a suppression list was imported",
    "api_key.create": "an API key was created",
    "api_key.update": "an API key's name or scopes changed",
    "api_key.revoke": "an API key was revoked",
    "api_key.delete": "an API key was deleted",
    "webhook.create": "a webhook endpoint was added",
    "webhook.update": "a webhook endpoint changed (URL, events, secret)",
    "webhook.delete": "a webhook endpoint was removed",
    "workspace.create": "a workspace was created",
    "workspace.update": "workspace settings changed",
    "workspace.delete": "a workspace was deleted",
    "workspace.member_add": "a member joined the workspace",
    "workspace.member_remove": "a member was removed from the workspace",
    "workspace.member_role": "a member's role changed",
    "login": "a sign-in (other products: Login)",
    "login.failed": "a failed sign-in (other products: Login Failed)",
    "domain.added": "a sending domain was added (other products: Domain Added)",
    "domain.verified": "a sending domain passed DNS verification (Domain Verified)",
    "settings.changed": "account settings changed (Settings Changed)",
    "api_key.generated": "an API key was generated (API Key Generated)",
    "member.invited": "a member was invited (Member Invited)",
}


def prefix_of(action: str) -> str:
    return action.split(".", 1)[0]


def category_of(action: str | None) -> str:
    """The category of an action: by its first dotted part, else "other"."""
    return PREFIX_CATEGORY.get(prefix_of(action or ""), OTHER)


def _prefix_sql(column: str) -> str:
    """SQL for prefix_of(column): the same rule, so filters agree with category_of()."""
    return f"(CASE WHEN instr({column}, '.') > 0 THEN substr({column}, 1, instr({column}, '.') - 1) ELSE {column} END)"


# --- filters ------------------------------------------------------------------------------------


@dataclass
class AuditFilters:
    """What the user asked to see; empty lists / None mean "any"."""

    actors: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # normalised names or lower-case globs
    categories: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    meta: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _is_glob(value: str) -> bool:
    return any(c in value for c in "*?[")


def check_category(word: str) -> str:
    w = word.strip().lower()
    if w not in CATEGORIES:
        raise MaillogError(f"unknown category {word!r}", f"use one of: {', '.join(CATEGORIES)}")
    return w


def build(
    actors: Iterable[str] | None = None,
    actions: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    targets: Iterable[str] | None = None,
    ips: Iterable[str] | None = None,
    meta: str | None = None,
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
) -> AuditFilters:
    """Validate the user's words; MaillogError for anything unreadable."""
    cleaned_actions = []
    for a in actions or []:
        a = a.strip()
        if a:
            cleaned_actions.append(a.lower() if _is_glob(a) else normalize_action(a))
    f = AuditFilters(
        actors=[a.strip() for a in actors or [] if a.strip()],
        actions=list(dict.fromkeys(cleaned_actions)),
        categories=list(dict.fromkeys(check_category(c) for c in categories or [] if c.strip())),
        targets=[t.strip() for t in targets or [] if t.strip()],
        ips=[i.strip() for i in ips or [] if i.strip()],
        meta=meta or None,
        since=parse_since(since, now) if since else None,
        until=parse_when(until, now) if until else None,
    )
    if f.since and f.until and f.since > f.until:
        raise MaillogError("--since is after --until", "swap them")
    return f


def where(f: AuditFilters, alias: str = "a") -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword; '1' when empty) over the audit table.

    Each filter is "any of its values"; different filters all apply.
    """
    a = f"{alias}." if alias else ""
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(parts: list[tuple[str, list[Any]]]) -> None:
        clauses.append("(" + " OR ".join(sql for sql, _ in parts) + ")")
        for _, p in parts:
            params.extend(p)

    if f.actors:
        parts: list[tuple[str, list[Any]]] = []
        for actor in f.actors:
            parts.append((f"{a}actor_id = ?", [actor]))
            if "@" in actor:
                parts.append((f"{a}actor_email = ?", [actor.lower()]))
            else:
                # The local part exactly: alice → alice@…, never malice@… (emails are stored lower case).
                parts.append(starts_with(f"{a}actor_email", actor.lower() + "@"))
        any_of(parts)
    if f.actions:
        any_of(
            [
                (f"{a}action GLOB ?", [x]) if _is_glob(x) else (f"{a}action = ?", [x])
                for x in f.actions
            ]
        )
    if f.categories:
        prefix = _prefix_sql(f"{a}action")
        parts = []
        for cat in f.categories:
            if cat == OTHER:
                known = list(PREFIX_CATEGORY)
                parts.append((f"{prefix} NOT IN ({', '.join('?' for _ in known)})", known))
            else:
                mine = [p for p, c in PREFIX_CATEGORY.items() if c == cat]
                parts.append((f"{prefix} IN ({', '.join('?' for _ in mine)})", mine))
        any_of(parts)
    if f.targets:
        any_of(
            [
                (f"({a}target_id = ? OR {a}target_type || ':' || {a}target_id = ?)", [t, t])
                for t in f.targets
            ]
        )
    if f.ips:
        any_of([(f"{a}ip GLOB ?", [ip]) if _is_glob(ip) else (f"{a}ip = ?", [ip]) for ip in f.ips])
    if f.meta:
        sql, args = contains(f"{a}metadata", f.meta)
        clauses.append(sql)
        params.extend(args)
    if f.since:
        clauses.append(f"{a}created_at >= ?")
        params.append(_iso(f.since))
    if f.until:
        clauses.append(f"{a}created_at < ?")
        params.append(_iso(f.until))
    return (" AND ".join(clauses) or "1"), params


SELECT = "a.id, a.created_at, a.actor_id, a.actor_email, a.action, a.raw_action, a.target_type, a.target_id, a.metadata, a.ip, a.user_agent"


def entries_sql(f: AuditFilters, limit: int | None) -> tuple[str, list[Any]]:
    """Entries newest first (ties: the later imported first)."""
    clause, params = where(f)
    sql = f"SELECT {SELECT} FROM audit a WHERE {clause} ORDER BY a.created_at DESC, a.rowid DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def _dicts(cur: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as every output shows it: metadata an object, credentials masked."""
    out = dict(row)
    try:
        metadata = orjson.loads(row["metadata"]) if row.get("metadata") else {}
    except orjson.JSONDecodeError:
        metadata = {"_unreadable": row["metadata"]}
    out["metadata"] = mask_value(metadata if isinstance(metadata, dict) else {"value": metadata})
    if out.get("user_agent"):
        out["user_agent"] = mask_credentials(out["user_agent"])
    return out


def list_entries(
    conn: sqlite3.Connection, f: AuditFilters, limit: int | None
) -> Iterator[dict[str, Any]]:
    """Matching entries, newest first, as public rows (streamed)."""
    sql, params = entries_sql(f, limit)
    return (public_row(r) for r in _dicts(conn.execute(sql, params)))


def count_entries(conn: sqlite3.Connection, f: AuditFilters) -> int:
    """How many entries match (what a listing cut by --limit reports)."""
    sql, params = entries_sql(f, None)
    return int(conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def count_all(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM audit").fetchone()[0])


def entries_per_day(conn: sqlite3.Connection, first_day: str, last_day: str) -> dict[str, int]:
    """UTC day (YYYY-MM-DD) -> audit entries that day, from `first_day` to `last_day`
    inclusive: the marks `stats` and the TUI's Stats tab put on their time axis, so a
    change and a spike are seen together. One count per day, each a range of audit_created
    (grouping by day would sort every entry in the range: 36 ms for 100,000)."""
    cur = conn.execute(
        "WITH RECURSIVE d(day) AS (SELECT ? UNION ALL SELECT date(day, '+1 day') FROM d"
        " WHERE day < ?) SELECT day, (SELECT count(*) FROM audit"
        " WHERE created_at >= day AND created_at < date(day, '+1 day')) AS n FROM d WHERE n > 0",
        (first_day, last_day),
    )
    return {day: n for day, n in cur}


ACTION_KEYS: tuple[str, ...] = (
    "action",
    "category",
    "count",
    "first_seen",
    "last_seen",
    "description",
)


def action_counts(conn: sqlite3.Connection, f: AuditFilters) -> list[dict[str, Any]]:
    """The actions present in the store (within the filters), most frequent first."""
    clause, params = where(f)
    cur = conn.execute(
        f"SELECT a.action, count(*) AS n, min(a.created_at), max(a.created_at) FROM audit a"
        f" WHERE {clause} GROUP BY a.action ORDER BY n DESC, a.action",
        params,
    )
    return [
        {
            "action": action,
            "category": category_of(action),
            "count": n,
            "first_seen": first,
            "last_seen": last,
            "description": ACTIONS.get(action),
        }
        for action, n, first, last in cur
    ]


def get_entry(conn: sqlite3.Connection, ident: str) -> dict[str, Any] | None:
    """One entry by its id, or by a unique prefix of it (like git, case-sensitive: the
    prefix `maillog audit` shows always finds its one entry); MaillogError if ambiguous."""
    ident = ident.strip()
    if not ident:
        return None
    found = _entry(conn, ident) or _entry(conn, unique_with_prefix(conn, ident, AUDIT_IDS))
    return public_row(found) if found else None


def _entry(conn: sqlite3.Connection, ident: str | None) -> dict[str, Any] | None:
    if ident is None:
        return None
    cur = conn.execute(f"SELECT {SELECT} FROM audit a WHERE a.id = ?", (ident,))
    return next(_dicts(cur), None)


def output_row(row: dict[str, Any]) -> dict[str, Any]:
    """The contract keys (README, "Output contract": audit keys) of a public row, in order."""
    return {k: row.get(k) for k in AUDIT_KEYS}


# --- one-line summaries -------------------------------------------------------------------------


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if not value and prefix:
            yield prefix, "{}"
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            yield prefix, ",".join("null" if v is None else str(v) for v in value)
        else:
            for i, v in enumerate(value):
                yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield (
            prefix,
            "null"
            if value is None
            else str(value).lower()
            if isinstance(value, bool)
            else str(value),
        )


def metadata_summary(metadata: dict[str, Any] | None) -> str:
    """`changed=password host=smtp.example.com` — the metadata on one line (untruncated)."""
    return " ".join(f"{k}={v}" for k, v in _flatten(metadata or {}))


def actor_label(row: dict[str, Any]) -> str:
    return row.get("actor_email") or row.get("actor_id") or ""


def target_label(row: dict[str, Any]) -> str:
    t, i = row.get("target_type"), row.get("target_id")
    if t and i:
        return f"{t}:{i}"
    return i or t or ""

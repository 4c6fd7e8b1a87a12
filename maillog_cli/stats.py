"""Delivery health per message: counts, rates, per-day series and breakdowns.

Core only (nothing prints); `maillog stats` and the TUI Stats tab render what these
functions return. Every figure is one SQL aggregate over the `messages` table (one row
per email, kept by store.refresh_messages), filtered by `query.where(..., messages=True)`,
so a message with sent, delivered and opened events counts once as delivered and once
as opened, and --since/--until select messages by when they were first seen. Over all
time or a time window, the per-hour rollup `stats_hours` (migration 9, kept by triggers
on messages) stands for the messages of the window's whole hours.

The rules (also in docs/cli/stats.md):

- A message's *outcome* is decided by its latest lifecycle status (`last_status`):
  `delivered` and `bounced` are final; `deferred` latest means deferred and never
  delivered; `sent` latest means handed over with no confirmation yet. An engagement
  (open, click, complaint, unsubscribe) proves the message arrived, so a message whose
  latest lifecycle status is queued, sent or deferred — or that has engagement events
  only — but that was engaged with counts as delivered.
- The messages with an outcome are the *sent* messages: the denominator of every rate.
  Not sent: only queued, dropped (suppressed, never sent), failed (never handed off) and
  inbound mail (forwarded, processed, rejected).
- The four outcomes split the sent messages, so delivery + bounce + deferred +
  pending = 1. Engagement rates count sent messages that were ever opened, clicked …
- A rate with no sent message is None (JSON null): "no data" is not "0 %".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from maillog_cli.errors import MaillogError
from maillog_cli.statuses import LIFECYCLE
from maillog_cli.store.migrations import STATS_FLAGS_SQL, STATS_HOUR_SQL
from maillog_cli.store.query import BOUNCE_CLASSES, Filters, has_rollups, iso, where

if TYPE_CHECKING:  # only a type here: `maillog --help` need not load the store
    from maillog_cli.store.db import Store

# The levels the big mailbox providers publish (Gmail, Yahoo sender guidelines).
THRESHOLDS: dict[str, float] = {"bounce": 0.02, "complaint": 0.001}

# The output contract's rates, in its order; then ours.
RATE_KEYS: tuple[str, ...] = ("delivery", "bounce", "complaint", "open", "click")
EXTRA_RATES: tuple[str, ...] = ("deferral", "pending", "unsubscribe")
# rate name -> the count it divides by `sent`
RATE_OF: dict[str, str] = {
    "delivery": "delivered",
    "bounce": "bounced",
    "complaint": "complained",
    "open": "opened",
    "click": "clicked",
    "deferral": "deferred",
    "pending": "unconfirmed",
    "unsubscribe": "unsubscribed",
}
AUTH_METHODS: tuple[str, ...] = ("spf", "dkim", "dmarc")

# What --by groups on: the SQL expression over `messages m`.
GROUPS: dict[str, str] = {
    "day": "substr(m.first_seen, 1, 10)",
    "week": "date(m.first_seen, 'weekday 0', '-6 days')",  # the Monday (UTC) of its week
    "domain": "+m.recipient_domain",  # + : scan the table, not the index (no lookups)
    "provider": "m.provider",
    "type": "m.tag",
    "sender": "m.sender",
    "hour": "substr(m.first_seen, 1, 13) || ':00'",  # pflogsumm's per-hour traffic (UTC)
    # The host of the message's latest delivery attempt (a mail server's relay=, Exim's
    # H=), a fact of the message (migrations.MESSAGE_RELAY_SQL); providers' have none.
    "relay": "m.relay",
}
TIME_GROUPS = frozenset({"day", "week", "hour"})
SORTS: tuple[str, ...] = ("attention", "volume", "key")

# Engaged: an engagement event, or open/click counts an email log states without events.
_ENGAGED = (
    "(coalesce(m.opened_at, m.clicked_at, m.complained_at, m.unsubscribed_at) IS NOT NULL"
    " OR m.open_count > 0 OR m.click_count > 0)"
)
_OUTCOME = f"""CASE
    WHEN m.last_status IN ('delivered', 'bounced') THEN m.last_status
    WHEN coalesce(m.last_status, 'queued') IN ('queued', 'sent', 'deferred') AND {_ENGAGED}
        THEN 'delivered'
    WHEN m.last_status = 'deferred' THEN 'deferred'
    WHEN m.last_status = 'sent' THEN 'unconfirmed'
END"""
OUTCOME_SQL = _OUTCOME  # a message's outcome, as alerts (maillog_cli/alerts) count it too

# The per-group counts: (key in the row, SQL over the `base` rows with `outcome`).
_COUNTS: tuple[tuple[str, str], ...] = (
    ("messages", "count(*)"),
    ("sent", "count(outcome)"),
    ("delivered", "sum(outcome = 'delivered')"),
    ("bounced", "sum(outcome = 'bounced')"),
    *(
        (cls, f"sum(outcome = 'bounced' AND coalesce(bounce_class, 'undetermined') = '{cls}')")
        for cls in BOUNCE_CLASSES
    ),
    ("deferred", "sum(outcome = 'deferred')"),
    ("unconfirmed", "sum(outcome = 'unconfirmed')"),
    ("complained", "sum(outcome IS NOT NULL AND complained_at IS NOT NULL)"),
    ("opened", "sum(outcome IS NOT NULL AND (opened_at IS NOT NULL OR open_count > 0))"),
    ("clicked", "sum(outcome IS NOT NULL AND (clicked_at IS NOT NULL OR click_count > 0))"),
    ("unsubscribed", "sum(outcome IS NOT NULL AND unsubscribed_at IS NOT NULL)"),
    ("queued", "sum(outcome IS NULL AND coalesce(last_status, 'queued') = 'queued')"),
    ("dropped", "sum(last_status = 'dropped')"),
    ("failed", "sum(last_status = 'failed')"),
)
COUNT_KEYS: tuple[str, ...] = tuple(k for k, _ in _COUNTS)
# The keys of a breakdown / series row after its group key (csv/jsonl columns).
ROW_KEYS: tuple[str, ...] = COUNT_KEYS + RATE_KEYS + EXTRA_RATES


def rate(n: int, sent: int) -> float | None:
    """n / sent rounded to 6 places (0.0001 % resolution); None when nothing was sent."""
    return round(n / sent, 6) if sent else None


def over(row: dict[str, Any]) -> list[str]:
    """The rates of this row above their threshold (what to highlight)."""
    return [k for k, t in THRESHOLDS.items() if row.get(k) is not None and row[k] > t]


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    """Add the rates whose counts the row has."""
    sent = row["sent"]
    for name in RATE_KEYS + EXTRA_RATES:
        if RATE_OF[name] in row:
            row[name] = rate(row[RATE_OF[name]], sent)
    return row


# Only the overview needs these (summed over its per-day rows): the latest status of
# every message, and the authentication results where the source carried them.
_OVERVIEW_EXTRAS: tuple[tuple[str, str], ...] = (
    *((f"status:{s}", f"sum(last_status = '{s}')") for s in LIFECYCLE),
    *(
        pair
        for a in AUTH_METHODS
        for pair in (
            (f"{a}:checked", f"sum({a} IS NOT NULL AND {a} != '')"),
            (f"{a}:pass", f"sum(lower({a}) = 'pass')"),
        )
    ),
)


# What the chart draws: a day's series for it costs a third of the full one.
CHART_KEYS: tuple[str, ...] = (
    "messages",
    "sent",
    "delivered",
    "bounced",
    "complained",
    "opened",
    "clicked",
)
# The chart's lines (`stats --lines`): sent messages, then rates; the default leaves click out.
CHART_LINES: tuple[str, ...] = ("sent", "delivery", "bounce", "complaint", "open", "click")
DEFAULT_LINES: tuple[str, ...] = ("sent", "delivery", "bounce", "complaint", "open")


def _select(
    key_sql: str,
    clause: str,
    pairs: tuple[tuple[str, str], ...] = _COUNTS,
    source: str = "messages m",
    with_: bool = False,
) -> str:
    """One aggregate over the filtered messages, grouped by `key_sql` (`with_`: after
    other common table expressions, whose WITH is already written)."""
    counts = ", ".join(f'coalesce({sql}, 0) AS "{key}"' for key, sql in pairs)
    return (
        f"{', ' if with_ else 'WITH '}base AS (SELECT {key_sql} AS k, m.*, {_OUTCOME} AS outcome"
        f" FROM {source} WHERE {clause})"
        f" SELECT k, {counts} FROM base GROUP BY k"
    )


# --- the shared definitions alerts count with (maillog_cli/alerts/metrics.py) ---------------

# Messages whose authentication was checked (any of spf, dkim, dmarc has a result), and
# those where a checked method did not pass: `auth_failure_rate` is the second over the first.
_AUTH_CHECKED = " OR ".join(f"({a} IS NOT NULL AND {a} != '')" for a in AUTH_METHODS)
_AUTH_FAILED = " OR ".join(
    f"({a} IS NOT NULL AND {a} != '' AND lower({a}) != 'pass')" for a in AUTH_METHODS
)
AUTH_COUNTS: tuple[tuple[str, str], ...] = (
    ("auth_checked", f"sum({_AUTH_CHECKED})"),
    ("auth_failed", f"sum({_AUTH_FAILED})"),
)
# Every per-message count by name: the SQL `sum(...)` over the `base` rows of `select_counts`.
COUNT_SQL: dict[str, str] = dict(_COUNTS + AUTH_COUNTS)


def select_counts(
    key_sql: str, clause: str, keys: tuple[str, ...], source: str = "messages m"
) -> str:
    """The SQL of the named counts per `key_sql` over the messages `clause` selects: the
    query stats itself runs, so an alert's bounce rate is the rate `stats` shows."""
    return _select(key_sql, clause, tuple((k, COUNT_SQL[k]) for k in keys), source)


# --- the overview ------------------------------------------------------------------------------


def overview(store: Store, filters: Filters, now: datetime | None = None) -> dict[str, Any]:
    """The `stats --format json` object: the output contract's keys first, then ours.

    {messages, by_status, rates, series, sent, counts, bounce_classes, auth, thresholds}
    One scan: the totals are the sums of the per-day rows (a few per day, never per event).
    """
    days = _grouped(store, filters, "day", pairs=_COUNTS + _OVERVIEW_EXTRAS)
    total = {k: sum(r[k] for r in days) for k, _ in _COUNTS + _OVERVIEW_EXTRAS}
    row = _with_rates({k: total[k] for k in COUNT_KEYS})
    auth: dict[str, Any] = {}
    for method in AUTH_METHODS:
        checked, passed = total[f"{method}:checked"], total[f"{method}:pass"]
        auth[method] = (
            {
                "checked": checked,
                "pass": passed,
                "fail": checked - passed,
                "pass_rate": rate(passed, checked),
            }
            if checked
            else None
        )
    return {
        "messages": row["messages"],
        "by_status": {s: total[f"status:{s}"] for s in LIFECYCLE},
        "rates": {k: row[k] for k in RATE_KEYS + EXTRA_RATES},
        "series": _fill_days(days, filters, now, COUNT_KEYS),
        "sent": row["sent"],
        "counts": {k: row[k] for k in COUNT_KEYS if k not in ("messages", "sent")},
        "bounce_classes": {c: row[c] for c in BOUNCE_CLASSES},
        "auth": auth,
        "thresholds": dict(THRESHOLDS),
    }


# The TUI's data layer asks for `compute`.
compute = overview


# --- series and breakdowns ---------------------------------------------------------------------


def series(
    store: Store, filters: Filters, now: datetime | None = None, chart: bool = False
) -> list[dict[str, Any]]:
    """One row per UTC day of first_seen, oldest first, with the days without mail as zeros.

    The days run over the window (--since … --until, or now) when one is given, else
    from the first to the last day with messages. `chart=True`: only the CHART_KEYS
    counts and their rates (what the chart draws), for a cheaper scan.
    """
    keys = CHART_KEYS if chart else COUNT_KEYS
    pairs = tuple(p for p in _COUNTS if p[0] in keys)
    return _fill_days(_grouped(store, filters, "day", pairs=pairs), filters, now, keys)


def _fill_days(
    rows: list[dict[str, Any]], filters: Filters, now: datetime | None, keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    by_day = {r["day"]: {k: v for k, v in r.items() if ":" not in k} for r in rows if r["day"]}
    if not by_day and not filters.since:
        return []
    first = filters.since.astimezone(UTC).date() if filters.since else None
    if filters.until:
        last = (filters.until.astimezone(UTC) - timedelta(microseconds=1)).date()
    elif filters.since:
        last = (now or datetime.now(UTC)).astimezone(UTC).date()
    else:
        last = None
    seen = sorted(by_day)
    if seen:
        first = min(first or date.max, date.fromisoformat(seen[0]))
        last = max(last or date.min, date.fromisoformat(seen[-1]))
    assert first is not None and last is not None
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [by_day.get(d.isoformat()) or empty_row("day", d.isoformat(), keys) for d in days]


def empty_row(key_name: str, key: Any, keys: tuple[str, ...] = COUNT_KEYS) -> dict[str, Any]:
    return _with_rates({key_name: key, **dict.fromkeys(keys, 0)})


# How each --by key is found from the grouped rows of `_grouped_sql`: the inner query groups
# by the index's own key columns (in index order, nothing sorted), the outer by the key.
_HOUR = "h"
_INNER_KEYS: dict[str, tuple[str, ...]] = {
    "day": (STATS_HOUR_SQL,),
    "week": (STATS_HOUR_SQL,),
    "hour": (STATS_HOUR_SQL,),
    "domain": ("recipient_domain",),
    "provider": ("provider", "sender", "tag"),
    "type": ("provider", "sender", "tag"),
    "sender": ("provider", "sender", "tag"),
    "relay": ("relay",),
}
_OUTER_KEY: dict[str, str] = {
    "day": "substr(k0, 1, 10)",
    "week": "date(substr(k0, 1, 10), 'weekday 0', '-6 days')",
    "hour": "k0 || ':00'",
    "domain": "k0",
    "provider": "k0",
    "type": "k2",
    "sender": "k1",
    "relay": "k0",
}
# The columns the counts read, made back from the flags (STATS_FLAGS_SQL): each test of a
# count ("opened_at IS NOT NULL OR open_count > 0", "lower(spf) = 'pass'" …) gives on them
# what it gives on the message rows they stand for.
_FROM_FLAGS = (
    "CASE WHEN fl & 1 THEN 1 END AS complained_at,"
    " CASE WHEN fl & 2 THEN 1 END AS opened_at, 0 AS open_count,"
    " CASE WHEN fl & 4 THEN 1 END AS clicked_at, 0 AS click_count,"
    " CASE WHEN fl & 8 THEN 1 END AS unsubscribed_at,"
    " CASE WHEN fl & 16 THEN CASE WHEN fl & 32 THEN 'pass' ELSE 'fail' END END AS spf,"
    " CASE WHEN fl & 64 THEN CASE WHEN fl & 128 THEN 'pass' ELSE 'fail' END END AS dkim,"
    " CASE WHEN fl & 256 THEN CASE WHEN fl & 512 THEN 'pass' ELSE 'fail' END END AS dmarc"
)


def _weighted(sql: str) -> str:
    """A count over message rows (`count(*)`, `count(outcome)`, `sum(<test>)`) as the same
    count over grouped rows that each stand for `n` messages."""
    if sql == "count(*)":
        return "sum(n)"
    if sql == "count(outcome)":
        return "sum(CASE WHEN outcome IS NOT NULL THEN n END)"
    assert sql.startswith("sum(") and sql.endswith(")"), sql
    return f"sum(CASE WHEN {sql[4:-1]} THEN n END)"


def _grouped_sql(
    by: str,
    clause: str,
    params: list[Any],
    filters: Filters,
    pairs: tuple[tuple[str, str], ...],
    counted: bool = False,
    rollups: bool = True,
) -> tuple[str, list[Any]]:
    """The counts per `by` key in two steps: first the messages grouped by the index's key
    columns and what the counts depend on (latest status, bounce class, the flags), which
    walks one covering index in order (migration 8); then the counts over those few rows,
    each weighted by how many messages it stands for."""
    inner = _INNER_KEYS[by]
    weighted = tuple((k, _weighted(v)) for k, v in pairs)
    if counted:  # a breakdown: each row also says how many groups there are
        weighted += ((_TOTAL, "count(*) OVER ()"),)
    bounds, extra = _hour_bounds(filters)
    by_time = by in TIME_GROUPS or by == "relay"
    hours = _rolled_up(filters, clause, params) if by_time and rollups else None
    others = None if by_time or not rollups else _rolled_up_groups(inner, filters)
    if others:
        grouped, params = others, []
    elif by == "relay":
        every = hours or (_groups((STATS_HOUR_SQL,), clause + bounds), [*params, *extra])
        grouped, params = _relay_groups(clause + bounds, [*params, *extra], every)
    elif hours:
        grouped, params = hours
    else:
        grouped, params = _groups(inner, clause + bounds), [*params, *extra]
    # The grouped rows summed per key first (an hour's rows into its day's …): the counts'
    # expressions then run on as few rows as there are distinct keys and outcomes.
    sql = (
        f"WITH g AS ({grouped}),"
        f" k AS (SELECT {_OUTER_KEY[by]} AS key_, last_status, bounce_class, fl, sum(n) AS n"
        " FROM g GROUP BY 1, 2, 3, 4),"
        f" r AS (SELECT key_, last_status, bounce_class, {_FROM_FLAGS}, n FROM k) "
        + _select("m.key_", "1", weighted, "r m", with_=True)
    )
    return sql, params


def _groups(keys: tuple[str, ...], clause: str) -> str:
    """The filtered messages grouped by `keys`, latest status, bounce class and flags."""
    named = ", ".join(f"{sql} AS k{i}" for i, sql in enumerate(keys))
    group = ", ".join([*keys, "last_status", "bounce_class", STATS_FLAGS_SQL])
    return (
        f"SELECT {named}, last_status, bounce_class, {STATS_FLAGS_SQL} AS fl, count(*) AS n"
        f" FROM messages m WHERE {clause} GROUP BY {group}"
    )


def _relay_groups(
    clause: str, params: list[Any], every: tuple[str, list[Any]]
) -> tuple[str, list[Any]]:
    """`_groups` by relay: the relayed messages from their own covering index (migration
    11, only messages with a relay); the other messages, the None group, are all the
    messages (`every`: the groups by hour, from the rollup or a walk of the time index)
    less the relayed ones. Combinations that cancel out are no messages."""
    relayed = _groups(("relay",), f"relay IS NOT NULL AND ({clause})")
    everyone, every_params = every
    sql = (
        "WITH relayed AS MATERIALIZED ("
        + relayed
        + "), every AS ("
        + everyone
        + ") SELECT k0, last_status, bounce_class, fl, sum(n) AS n FROM ("
        "SELECT * FROM relayed"
        " UNION ALL SELECT NULL, last_status, bounce_class, fl, n FROM every"
        " UNION ALL SELECT NULL, last_status, bounce_class, fl, -n FROM relayed)"
        " GROUP BY k0, last_status, bounce_class, fl HAVING sum(n) <> 0"
    )
    return sql, [*params, *every_params]


# A rollup row's outcome columns as `_groups` names them (a NULL key is stored as X'').
_ROLLED_OUTCOME = (
    "nullif(last_status, X'') AS last_status, nullif(bounce_class, X'') AS bounce_class, fl, n"
)


def _rolled_up(filters: Filters, clause: str, params: list[Any]) -> tuple[str, list[Any]] | None:
    """`_groups` by hour from the per-hour rollup (migration 9) when the filter is a time
    window or nothing: the whole hours inside the window are its rows as they are; the
    hour --since falls in and the hour --until falls in are read from the messages with
    the filter itself (the time index, searched). None for any other filter.

    Exact: an hour ('2026-10-05T13', the first 13 characters of first_seen) after the
    --since's hour holds only times after --since, one before the --until's hour only
    times before --until (strings compare character by character)."""
    if not replace(filters, since=None, until=None).is_empty():
        return None
    rolled = f"SELECT nullif(hour, X'') AS k0, {_ROLLED_OUTCOME} FROM stats_hours WHERE n <> 0"
    edges = [iso(t)[:13] for t in (filters.since, filters.until) if t]
    if not edges:
        return rolled, []
    rolled += " AND hour <> X''"  # a message with no first_seen is in no window
    if filters.since:
        rolled += " AND hour > ?"
    if filters.until:
        rolled += " AND hour < ?"
    marks = ", ".join("?" for _ in edges)
    edge = _groups((STATS_HOUR_SQL,), f"{clause} AND {STATS_HOUR_SQL} IN ({marks})")
    return f"{rolled} UNION ALL {edge}", [*edges, *params, *edges]


def _rolled_up_groups(keys: tuple[str, ...], filters: Filters) -> str | None:
    """`_groups` by `keys` (columns of messages) from the rollup per provider, sender, tag
    and domain (migration 9) when there is no filter at all; None otherwise."""
    if not filters.is_empty():
        return None
    named = ", ".join(f"nullif({key}, X'') AS k{i}" for i, key in enumerate(keys))
    return f"SELECT {named}, {_ROLLED_OUTCOME} FROM stats_groups WHERE n <> 0"


def _hour_bounds(filters: Filters) -> tuple[str, list[Any]]:
    """--since/--until again as bounds of the hour the stats index starts with (the
    filter itself, on first_seen, stays): so the index is searched, not scanned."""
    sql, params = "", []
    if filters.since:
        sql += f" AND {STATS_HOUR_SQL} >= ?"
        params.append(iso(filters.since)[:13])
    if filters.until:
        sql += f" AND {STATS_HOUR_SQL} <= ?"
        params.append(iso(filters.until)[:13])
    return sql, params


def _need_relay(store: Store) -> None:
    """A store an older maillog wrote keeps no relay per message until it is upgraded, which
    a read-only file cannot be: say so instead of SQLite's "no such column"."""
    if not any(row[1] == "relay" for row in store.conn.execute("PRAGMA table_info(messages)")):
        raise MaillogError(
            f"{store.path} was written by an older maillog and is read-only here, so it has"
            " no relay per message yet",
            "make the file writable once: any maillog command then upgrades it",
        )


def _grouped(
    store: Store,
    filters: Filters,
    by: str,
    order: str = "",
    limit: int | None = None,
    pairs: tuple[tuple[str, str], ...] = _COUNTS,
) -> list[dict[str, Any]]:
    if by == "relay":
        _need_relay(store)
    clause, params = where(filters, "m", messages=True)
    sql, params = _grouped_sql(
        by, clause, params, filters, pairs, counted=bool(order), rollups=has_rollups(store.conn)
    )
    if order:
        sql += f" ORDER BY {order}"
    if limit:
        sql += " LIMIT ?"
        params = [*params, limit]
    cur = store.conn.execute(sql, params)
    names = [by] + [d[0] for d in cur.description[1:]]
    return [_with_rates(dict(zip(names, values, strict=True))) for values in cur]


_TOTAL = "_groups"  # the number of groups, on each row of a breakdown (breakdown_page)


def _order(by: str, sort: str) -> str:
    """ORDER BY for a breakdown: worst first, biggest first, or by key (newest first for time)."""
    bounce = f"(CAST(bounced AS REAL) / nullif(sent, 0)) / {THRESHOLDS['bounce']}"
    complaint = f"(CAST(complained AS REAL) / nullif(sent, 0)) / {THRESHOLDS['complaint']}"
    if sort == "attention":
        return f"max({bounce}, {complaint}) DESC NULLS LAST, sent DESC, messages DESC, k"
    if sort == "volume":
        return "sent DESC, messages DESC, k"
    return "k DESC" if by in TIME_GROUPS else "k IS NULL, k"


def breakdown(
    store: Store,
    filters: Filters,
    by: str,
    sort: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Counts and rates per day, ISO week, hour, domain, provider, type (tag), sender or relay.

    Sorted by `sort`: "attention" (the worse of bounce and complaint rate relative to its
    threshold, worst first, then volume; the default but for day/week), "volume" (sent),
    or "key" (the default for day/week: newest first). Messages without the key group as
    None.
    """
    return breakdown_page(store, filters, by, sort, limit)[0]


def breakdown_page(
    store: Store, filters: Filters, by: str, sort: str | None, limit: int | None
) -> tuple[list[dict[str, Any]], int]:
    """breakdown() of at most `limit` rows, and how many rows there are in all (the same
    query counts them: a listing that says "showing 100 of 1,416" runs it once)."""
    if by not in GROUPS:
        raise MaillogError(f"cannot group by {by!r}", f"use one of: {', '.join(GROUPS)}")
    sort = sort or ("key" if by in TIME_GROUPS else "attention")
    if sort not in SORTS:
        raise MaillogError(f"cannot sort by {sort!r}", f"use one of: {', '.join(SORTS)}")
    rows = _grouped(store, filters, by, order=_order(by, sort), limit=limit)
    total = 0
    for row in rows:
        total = row.pop(_TOTAL)
        if by == "week":
            row["week"] = iso_week(row["week"])
    return rows, total


def iso_week(monday: str | None) -> str | None:
    """'2026-09-07' (a Monday) -> '2026-W37'."""
    if not monday:
        return None
    year, week, _ = date.fromisoformat(monday).isocalendar()
    return f"{year}-W{week:02d}"


# --- chart buckets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """Consecutive days summed, for a chart narrower than the series."""

    first: str
    last: str
    row: dict[str, Any]


def buckets(rows: list[dict[str, Any]], width: int) -> list[Bucket]:
    """The per-day rows in at most `width` buckets of equal days (the last may be shorter)."""
    if not rows:
        return []
    size = max(1, math.ceil(len(rows) / max(1, width)))
    out = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        summed = {k: sum(r[k] for r in chunk) for k in COUNT_KEYS if k in chunk[0]}
        out.append(Bucket(chunk[0]["day"], chunk[-1]["day"], _with_rates(summed)))
    return out

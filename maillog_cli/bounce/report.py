"""Bounce summaries, `explain`, and re-applying the classifier to stored events.

Core only: every figure is one SQL aggregate over the events indexes (no Python loop
over events), the same `query.where()` filters as every other command, and nothing
here prints. The commands and the TUI render what these functions return.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

# The classifier (bounce.classify compiles its phrase rules on import, ~65 ms) loads only
# where a text is classified (explain, reclassify), and the rules' tables (~2 ms) only
# where they are read: a summary reads stored verdicts and patterns.
from maillog_cli.errors import MaillogError
from maillog_cli.normalize import diagnostic_pattern
from maillog_cli.statuses import BOUNCE_STATUSES
from maillog_cli.store.db import Store
from maillog_cli.store.migrations import (
    BOUNCE_DAY_SQL,
    BOUNCE_DAYS_INDEX,
    BOUNCE_DISTINCT_INDEXES,
    BOUNCE_INDEXES,
    BOUNCE_MESSAGES_INDEX,
    BOUNCE_PATTERNS_INDEX,
    BOUNCE_RECIPIENTS_INDEX,
    BOUNCE_STATUS_SQL,
)
from maillog_cli.store.query import BOUNCE_CLASSES, Filters, iso, where, with_changes

# What `maillog bounces` looks at when no --status is given (docs/bounces.md: the statuses
# that carry a bounce class), in the contract's status order.
DEFAULT_STATUSES: tuple[str, ...] = tuple(sorted(BOUNCE_STATUSES))

# --- the filters ------------------------------------------------------------------------------


def bounce_filters(filters: Filters) -> Filters:
    """The user's filters, with the bounce statuses by default and reasons checked."""
    if filters.reason:
        from maillog_cli.bounce.rules import REASONS

    for reason in filters.reason:
        if reason not in REASONS:
            raise MaillogError(
                f"unknown bounce reason {reason!r}", f"use one of: {', '.join(REASONS)}"
            )
    if filters.statuses:
        return filters
    return with_changes(filters, statuses=list(DEFAULT_STATUSES))


# --- normalised diagnostics -------------------------------------------------------------------

Text = tuple[str, str | None, str | None, int]  # diagnostic, reason, class, events


def top_patterns(
    texts: Iterable[Text], top: int
) -> list[tuple[str | None, int, str, str | None, str | None]]:
    """The `top` commonest diagnostic patterns of (diagnostic, reason, class, events) rows,
    each with its event count and, as its example, the commonest text (of equals, the
    first in text order; then the first row given): (pattern, events, example, reason,
    class), by events then pattern.

    Each text patterned here, at query time: the rule `ranked_patterns` keeps with the
    stored patterns, and the reference its tests compare it with."""
    totals: dict[str | None, int] = {}
    best: dict[str | None, Text] = {}
    for text in texts:
        diagnostic, _, _, n = text
        pattern = diagnostic_pattern(diagnostic)
        totals[pattern] = totals.get(pattern, 0) + n
        seen = best.get(pattern)
        if seen is None or n > seen[3] or (n == seen[3] and diagnostic < seen[0]):
            best[pattern] = text
    order = sorted(totals, key=lambda p: (-totals[p], p is not None, p or ""))[:top]
    return [(p, totals[p], best[p][0], best[p][1], best[p][2]) for p in order]


Ranked = tuple[str | None, int, str, str | None, str | None]


def _example_order(text: Text) -> tuple[Any, ...]:
    """Which text of a pattern is its example: the most events, then text order, then
    the verdict (nulls first), as top_patterns picks from texts in GROUP BY order."""
    diagnostic, reason, cls, n = text
    return (-n, diagnostic, reason is not None, reason or "", cls is not None, cls or "")


TextCounts = Counter[
    tuple[str | None, str, str | None, str | None]
]  # (pattern, text, reason, class)


def ranked_patterns(conn: sqlite3.Connection, source: Source, top: int) -> list[Ranked]:
    """top_patterns of the events in `source`, from the patterns stored with them.

    A bounce event's pattern is stored at import (events.diagnostic_pattern). In the
    patterns index (all time) the ranking is one walk of it, and each top pattern's
    example one range of it; elsewhere (a time window, a copy) one pass counts each
    text under its pattern. Texts stored without one (events of other statuses, which
    --status can select, or a store not upgraded) are patterned here, as top_patterns
    does, and join the same totals and examples."""
    if not source.by_pattern:
        counts: TextCounts = Counter()
        for pattern, diagnostic, reason, cls, n in conn.execute(
            "SELECT e.diagnostic_pattern, e.diagnostic, e.bounce_reason, e.bounce_class, count(*)"
            f" FROM {source.patterns} WHERE {source.cond} AND e.diagnostic IS NOT NULL"
            " GROUP BY 1, 2, 3, 4",
            source.params,
        ):
            if pattern is None:
                pattern = diagnostic_pattern(diagnostic)
            counts[pattern, diagnostic, reason, cls] += n
        totals: dict[str | None, int] = {}
        for (pattern, *_), n in counts.items():
            totals[pattern] = totals.get(pattern, 0) + n
        return _ranked(totals, counts, {}, top)

    totals = dict(
        conn.execute(
            f"SELECT e.diagnostic_pattern, count(*) FROM {source.patterns} WHERE {source.cond}"
            " AND e.diagnostic_pattern IS NOT NULL GROUP BY 1",
            source.params,
        ).fetchall()
    )
    loose: TextCounts = Counter()
    for diagnostic, reason, cls, n in conn.execute(
        f"SELECT e.diagnostic, e.bounce_reason, e.bounce_class, count(*) FROM {source.patterns}"
        f" WHERE {source.cond} AND e.diagnostic_pattern IS NULL AND e.diagnostic IS NOT NULL"
        " GROUP BY 1, 2, 3",
        source.params,
    ):
        pattern = diagnostic_pattern(diagnostic)
        loose[pattern, diagnostic, reason, cls] += n
        totals[pattern] = totals.get(pattern, 0) + n
    order = _top_order(totals, top)
    best: dict[str | None, Text] = {}
    mixed = {key[0] for key in loose}
    for pattern in order:
        if pattern not in mixed:  # its commonest text: one range, no sort of every text
            best[pattern] = conn.execute(
                "SELECT e.diagnostic, e.bounce_reason, e.bounce_class, count(*) AS n"
                f" FROM {source.patterns} WHERE {source.cond} AND e.diagnostic_pattern = ?"
                " GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3 LIMIT 1",
                [*source.params, pattern],
            ).fetchone()
    rest = [p for p in order if p not in best]
    if rest:  # patterns that also have texts patterned here: every text of them counted
        for pattern, diagnostic, reason, cls, n in conn.execute(
            "SELECT e.diagnostic_pattern, e.diagnostic, e.bounce_reason, e.bounce_class, count(*)"
            f" FROM {source.patterns} WHERE {source.cond}"
            " AND e.diagnostic_pattern IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3, 4",
            [*source.params, json.dumps([p for p in rest if p is not None])],
        ):
            loose[pattern, diagnostic, reason, cls] += n
    return _ranked(totals, loose, best, top)


def _top_order(totals: dict[str | None, int], top: int) -> list[str | None]:
    """The `top` patterns by events, then pattern (no pattern first), as top_patterns."""
    return sorted(totals, key=lambda p: (-totals[p], p is not None, p or ""))[:top]


def _ranked(
    totals: dict[str | None, int], counts: TextCounts, best: dict[str | None, Text], top: int
) -> list[Ranked]:
    """The top patterns with their totals and examples: `best` where already known, else
    the commonest of their texts in `counts` (_example_order)."""
    order = _top_order(totals, top)
    wanted = {p for p in order if p not in best}
    for (pattern, diagnostic, reason, cls), n in counts.items():
        if pattern in wanted:
            text = (diagnostic, reason, cls, n)
            seen = best.get(pattern)
            if seen is None or _example_order(text) < _example_order(seen):
                best[pattern] = text
    return [(p, totals[p], best[p][0], best[p][1], best[p][2]) for p in order]


# --- the summary ------------------------------------------------------------------------------


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


@dataclass
class Summary:
    """What `maillog bounces` shows: counts and shares of the matching events."""

    filters: str
    events: int
    messages: int
    recipients: int
    by_class: list[dict[str, Any]] = field(default_factory=list)
    by_reason: list[dict[str, Any]] = field(default_factory=list)
    domains: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The `--format json` object (keys in this order; documented in docs/cli/bounces.md)."""
        return {
            "filters": self.filters,
            "events": self.events,
            "messages": self.messages,
            "recipients": self.recipients,
            "by_class": self.by_class,
            "by_reason": self.by_reason,
            "domains": self.domains,
            "diagnostics": self.diagnostics,
            "series": self.series,
        }

    def rows(self) -> list[dict[str, Any]]:
        """The summary as rows for jsonl and csv: every row of as_json()'s lists, tagged
        with `kind` (SUMMARY_KINDS), after one `total` row with its top-level figures.

        The same facts as the json object, so the three formats print the same summary;
        each row has the keys of its list, the other SUMMARY_ROW_KEYS are null.
        """
        total = {
            "kind": "total",
            "events": self.events,
            "messages": self.messages,
            "recipients": self.recipients,
            "filters": self.filters,
        }
        lists = (
            ("class", self.by_class),
            ("reason", self.by_reason),
            ("domain", self.domains),
            ("diagnostic", self.diagnostics),
            ("day", self.series),
        )
        return [total, *({"kind": kind, **row} for kind, rows in lists for row in rows)]


# The keys of a summary row in jsonl and csv (docs/cli/bounces.md): what the row is, what
# it is about, then its counts; null where the row's kind has no such key.
SUMMARY_KINDS = ("total", "class", "reason", "domain", "diagnostic", "day")
SUMMARY_ROW_KEYS = (
    "kind",
    "bounce_class",
    "bounce_reason",
    "domain",
    "pattern",
    "day",
    "events",
    "share",
    *BOUNCE_CLASSES,
    "top_reason",
    "example",
    "messages",
    "recipients",
    "filters",
)


def summary(store: Store, filters: Filters, top: int = 10, now: datetime | None = None) -> Summary:
    """Counts and shares by class, reason, domain, normalised diagnostic and day."""
    f = bounce_filters(filters)
    with _matching_events(store.conn, f) as source, _groups(store.conn, source) as groups:
        return _summary(store.conn, f, source, groups, top, now)


@dataclass(frozen=True)
class Source:
    """Where the summary's statements find the matching events: `FROM {table} WHERE
    {cond}` with `params`, the table aliased `e`; the pattern ranking reads `patterns`
    (the same events, in pattern order when an index has them so)."""

    table: str
    patterns: str
    cond: str = "1"
    params: tuple[Any, ...] = ()
    by_pattern: bool = False  # `patterns` is the patterns index: a pattern is a range


# The columns of the matching events the summary reads (see _matching_events).
_SUMMARY_COLUMNS = (
    "e.message_id, e.recipient, e.recipient_domain, e.bounce_class, e.bounce_reason,"
    " e.diagnostic, e.diagnostic_pattern, e.timestamp"
)
# Filters on columns the bounce indexes do not hold: each statement would look up every
# matching event's row, so the matching events are copied once instead.
_NOT_IN_BOUNCE_INDEXES = ("sender", "subject", "providers")
_DAY = BOUNCE_DAY_SQL.replace("timestamp", "e.timestamp")


@contextmanager
def _matching_events(conn: sqlite3.Connection, f: Filters) -> Iterator[Source]:
    """Where the summary reads the events `f` selects.

    Bounce events are read straight from the bounce indexes (migration 10), which hold
    every column the summary reads: no lookup of each event's row, no copy, and each
    grouping steps through an index in its own order (a time window is a range of the
    days index; the patterns index has the texts). Otherwise (other statuses, a filter on a column the indexes lack) they
    are copied once into a temporary table, which goes at the end: reading them from
    `events` in each statement looked up every event's row each time. A store not
    upgraded yet (a reader does not migrate) has neither the indexes nor stored
    patterns: its texts are patterned at query time (ranked_patterns). The same rows
    each way, so the same figures."""
    clause, params = where(f, "e")
    indexed = _has_bounce_indexes(conn)
    if indexed and f.statuses and BOUNCE_STATUSES.issuperset(f.statuses):
        # The literal status term lets SQLite use the partial indexes; INDEXED BY, as
        # without statistics the planner would take the status index and look rows up.
        clause = f"{clause} AND {BOUNCE_STATUS_SQL}"
        if f.since:  # implied by the timestamp's own bounds: a range of the days index
            clause += f" AND {_DAY} >= ?"
            params.append(iso(f.since)[:10])
        if f.until:
            clause += f" AND {_DAY} <= ?"
            params.append(iso(f.until)[:10])
        days = f"events e INDEXED BY {BOUNCE_DAYS_INDEX}"
        if not any(getattr(f, k) for k in _NOT_IN_BOUNCE_INDEXES):
            # A time window's patterns too: walks of the patterns index, whatever the
            # window (the window's rows looked up cost 10 µs each: 0.17 s for 7 days of 5M).
            patterns = f"events e INDEXED BY {BOUNCE_PATTERNS_INDEX}"
            yield Source(days, patterns, clause, tuple(params), by_pattern=True)
            return
        source = days
    else:
        source = "events e"
    columns = (
        _SUMMARY_COLUMNS
        if indexed
        else _SUMMARY_COLUMNS.replace("e.diagnostic_pattern", "NULL AS diagnostic_pattern")
    )
    table = "temp.maillog_summary_events"
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TEMP TABLE maillog_summary_events AS SELECT {columns} FROM {source} WHERE {clause}",
        params,
    )
    try:
        yield Source(f"{table} e", f"{table} e")
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _has_bounce_indexes(conn: sqlite3.Connection) -> bool:
    """Whether the store has migration 10's bounce indexes (and so the stored patterns)."""
    return _has_indexes(conn, BOUNCE_INDEXES)


def _has_indexes(conn: sqlite3.Connection, names: tuple[str, ...]) -> bool:
    """Whether every index in `names` exists (a store not upgraded yet lacks the newer)."""
    marks = ", ".join("?" for _ in names)
    found = conn.execute(
        f"SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
        names,
    ).fetchone()[0]
    return bool(found == len(names))


def _counts(
    conn: sqlite3.Connection, f: Filters, source: Source, groups: str
) -> tuple[int, int, int]:
    """The matching events, and how many distinct messages and recipients they have.

    With no filter but bounce statuses (the all-time `bounces`), the events are the sum
    of the `groups` table (the same events counted per day, class, reason and domain; a
    second walk of the days index cost 0.08 s on 5M events) and the distinct ids are
    walked in order in migration 12's narrow indexes, whose entries carry the status the
    condition reads; otherwise `count(DISTINCT)` over the source (it sorts the ids)."""
    if source.by_pattern and _only_statuses(f) and _has_indexes(conn, BOUNCE_DISTINCT_INDEXES):
        (events,) = conn.execute(f"SELECT coalesce(sum(events), 0) FROM {groups}").fetchone()

        def distinct(column: str, index: str) -> int:
            return int(
                conn.execute(
                    f"SELECT count(v) FROM (SELECT DISTINCT e.{column} AS v"
                    f" FROM events e INDEXED BY {index} WHERE {source.cond})",
                    source.params,
                ).fetchone()[0]
            )

        return (
            int(events),
            distinct("message_id", BOUNCE_MESSAGES_INDEX),
            distinct("recipient", BOUNCE_RECIPIENTS_INDEX),
        )
    events, messages, recipients = conn.execute(
        "SELECT count(*), count(DISTINCT e.message_id), count(DISTINCT e.recipient)"
        f" FROM {source.table} WHERE {source.cond}",
        source.params,
    ).fetchone()
    return int(events), int(messages), int(recipients)


def _only_statuses(f: Filters) -> bool:
    """Whether `f` filters on nothing but statuses."""
    return with_changes(f, statuses=[]).is_empty()


@contextmanager
def _groups(conn: sqlite3.Connection, source: Source) -> Iterator[str]:
    """The matching events counted per (day, class, reason, domain), in a temporary
    table (its name is yielded; it goes at the end): the class, reason, domain and day
    figures are sums over its few thousand rows (4,800 for 64,000 events on a 1M-event
    store), where each of their statements sorted every matching event. The days index
    is in this order, so the count steps through it. Grouped rows come out in key order
    either way, so the rankings and their ties are the same."""
    table = "temp.maillog_summary_groups"
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TEMP TABLE maillog_summary_groups AS SELECT {_DAY} AS day,"
        " e.bounce_class AS bounce_class, e.bounce_reason AS bounce_reason,"
        " e.recipient_domain AS recipient_domain, count(*) AS events"
        f" FROM {source.table} WHERE {source.cond} GROUP BY 1, 2, 3, 4",
        source.params,
    )
    try:
        yield table
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _summary(
    conn: sqlite3.Connection,
    f: Filters,
    source: Source,
    groups: str,
    top: int,
    now: datetime | None,
) -> Summary:
    """summary() over the matching events in `source`, counted per day, class, reason
    and domain in table `groups`."""
    events, messages, recipients = _counts(conn, f, source, groups)
    result = Summary(filters=f.describe(), events=events, messages=messages, recipients=recipients)

    # Class and reason in one pass; the per-class totals are sums of its (few) rows.
    by_class: Counter[str | None] = Counter()
    for cls, reason, n in conn.execute(
        f"SELECT g.bounce_class, g.bounce_reason, sum(g.events) AS n FROM {groups} g"
        " GROUP BY 1, 2 ORDER BY n DESC, 2",
    ):
        by_class[cls] += n
        result.by_reason.append(
            {"bounce_reason": reason, "bounce_class": cls, "events": n, "share": _share(n, events)}
        )
    classes: list[str | None] = list(BOUNCE_CLASSES)
    if by_class.get(None):
        classes.append(None)  # events of other statuses (--status delivered …) have no class
    result.by_class = [
        {
            "bounce_class": c,
            "events": by_class.get(c, 0),
            "share": _share(by_class.get(c, 0), events),
        }
        for c in classes
    ]

    class_sums = ", ".join(f"sum(g.events * (g.bounce_class = '{c}'))" for c in BOUNCE_CLASSES)
    for row in conn.execute(
        f"""
        WITH top_domains AS (
            SELECT g.recipient_domain AS domain, sum(g.events) AS n, {class_sums}
            FROM {groups} g WHERE g.recipient_domain IS NOT NULL
            GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?
        ),
        reasons AS (
            SELECT g.recipient_domain AS domain, g.bounce_reason AS reason, sum(g.events) AS n
            FROM {groups} g WHERE g.recipient_domain IN (SELECT domain FROM top_domains)
            GROUP BY 1, 2
        ),
        top_reason AS (
            SELECT domain, reason FROM (
                SELECT domain, reason, row_number() OVER (PARTITION BY domain ORDER BY n DESC, reason) AS rk
                FROM reasons
            ) WHERE rk = 1
        )
        SELECT t.*, r.reason FROM top_domains t LEFT JOIN top_reason r USING (domain)
        ORDER BY t.n DESC, t.domain
        """,
        [top],
    ):
        domain, n, *per_class, reason = row
        result.domains.append(
            {
                "domain": domain,
                "events": n,
                "share": _share(n, events),
                **dict(zip(BOUNCE_CLASSES, per_class, strict=True)),
                "top_reason": reason,
            }
        )

    for pattern, n, example, reason, cls in ranked_patterns(conn, source, top):
        result.diagnostics.append(
            {
                "pattern": pattern,
                "example": example,
                "bounce_reason": reason,
                "bounce_class": cls,
                "events": n,
                "share": _share(n, events),
            }
        )

    result.series = _series(conn, f, groups, now)
    return result


def _series(
    conn: sqlite3.Connection, f: Filters, groups: str, now: datetime | None
) -> list[dict[str, Any]]:
    """Events per UTC day and class, with the days without any filled in as zeros."""
    counts: dict[str, dict[str, int]] = {}
    for day, cls, n in conn.execute(
        f"SELECT g.day, g.bounce_class, sum(g.events) FROM {groups} g GROUP BY 1, 2",
    ):
        per = counts.setdefault(day, dict.fromkeys(BOUNCE_CLASSES, 0))
        if cls in per:
            per[cls] += n
        per["_total"] = per.get("_total", 0) + n
    if not counts and not f.since:
        return []
    days = sorted(counts)
    first = f.since.astimezone(UTC).date() if f.since else date.fromisoformat(days[0])
    if f.until:
        last = (f.until.astimezone(UTC) - timedelta(microseconds=1)).date()
    elif f.since:
        last = (now or datetime.now(UTC)).astimezone(UTC).date()
    else:
        last = date.fromisoformat(days[-1])
    if days:
        first, last = (
            min(first, date.fromisoformat(days[0])),
            max(last, date.fromisoformat(days[-1])),
        )
    series = []
    day = first
    while day <= last:
        per = counts.get(day.isoformat(), {})
        series.append(
            {
                "day": day.isoformat(),
                "events": per.get("_total", 0),
                **{c: per.get(c, 0) for c in BOUNCE_CLASSES},
            }
        )
        day += timedelta(days=1)
    return series


# --- explain ----------------------------------------------------------------------------------

# docs/bounces.md, Classes: what each class means and what the sender should do.
CLASS_INFO: dict[str, tuple[str, str]] = {
    "hard": (
        "The address cannot receive mail, now or later.",
        "Suppress the address now (after the first final failure). Do not retry.",
    ),
    "soft": (
        "A temporary condition on the receiving side or on the path.",
        "Let the MTA/provider retry. Suppress only after repeated final soft bounces.",
    ),
    "block": (
        "The receiver refused the message because of the sender or the message, not the recipient.",
        "Never suppress the recipient for this. Fix the cause, then resend.",
    ),
    "undetermined": (
        "Not enough information to tell.",
        "Take no automatic action; have a person look at it.",
    ),
}


@dataclass(frozen=True)
class Explanation:
    """One classified text, with everything `bounces explain` prints."""

    bounce_class: str
    bounce_reason: str
    rule: str
    meaning: str
    action: str
    class_meaning: str
    class_action: str
    smtp_code: int | None
    enhanced_code: str | None
    counts_for_soft_suppression: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "bounce_class": self.bounce_class,
            "bounce_reason": self.bounce_reason,
            "rule": self.rule,
            "meaning": self.meaning,
            "action": self.action,
            "class_meaning": self.class_meaning,
            "class_action": self.class_action,
            "smtp_code": self.smtp_code,
            "enhanced_code": self.enhanced_code,
            "counts_for_soft_suppression": self.counts_for_soft_suppression,
        }


def explain(
    text: str | None, code: int | None = None, enhanced: str | None = None, hint: str | None = None
) -> Explanation:
    """Classify a reply text (and optional codes / provider label) and say what it means."""
    if not (text and text.strip()) and code is None and not enhanced and not hint:
        raise MaillogError(
            "nothing to explain",
            "give the bounce text, e.g. maillog bounces explain '550 5.1.1 user unknown'",
        )
    from maillog_cli.bounce.classify import classify, extract_codes, normalise_text
    from maillog_cli.bounce.rules import REASONS

    verdict = classify(None, code, enhanced, text, hint)
    assert verdict is not None  # status None always classifies
    # A client error's numbers are ports and errnos, not reply codes.
    client = verdict.rule.startswith("client error")
    in_text = (None, None) if client else extract_codes(normalise_text(text))
    info = REASONS[verdict.bounce_reason]
    meaning, action = _client_advice(text, verdict.rule, info.meaning, info.action)
    class_meaning, class_action = CLASS_INFO[verdict.bounce_class]
    return Explanation(
        bounce_class=verdict.bounce_class,
        bounce_reason=verdict.bounce_reason,
        rule=verdict.rule,
        meaning=meaning,
        action=action,
        class_meaning=class_meaning,
        class_action=class_action,
        smtp_code=code or in_text[0],
        enhanced_code=enhanced or in_text[1],
        counts_for_soft_suppression=info.counts_for_soft_suppression,
    )


def _client_advice(
    text: str | None, rule: str, reason_meaning: str, reason_action: str
) -> tuple[str, str]:
    """(meaning, action): the client error code's own, else the reason's.

    Five codes share the reason network_error, but "the recipient's domain does not
    resolve" (ENOTFOUND) and "nothing listens on that port" (ECONNREFUSED) need different
    fixes. For EENVELOPE / EMESSAGE the embedded server reply decided the reason, so the
    reply's meaning and action follow the code's meaning.
    """
    from maillog_cli.bounce.rules import CLIENT_ADVICE_NAMES, CLIENT_ERROR_ADVICE

    if rule.startswith("client error "):
        advice = CLIENT_ERROR_ADVICE.get(rule.removeprefix("client error ").lower())
        return advice or (reason_meaning, reason_action)
    from maillog_cli.bounce.classify import normalise_text

    found = CLIENT_ADVICE_NAMES.search(normalise_text(text))
    if found is None or found.group() not in _EMBEDDING_CODES:
        return reason_meaning, reason_action
    code_meaning, _ = CLIENT_ERROR_ADVICE[found.group()]
    return f"{code_meaning} The reply: {reason_meaning}", reason_action


_EMBEDDING_CODES = frozenset({"eenvelope", "emessage"})


# --- reclassify -------------------------------------------------------------------------------


@dataclass
class Reclassified:
    """What `reclassify` did: rows read, rows changed and how, messages refreshed."""

    scanned: int = 0
    changed: int = 0
    messages: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    moves: Counter[tuple[str | None, str | None]] = field(
        default_factory=Counter
    )  # (old, new) reason

    def as_json(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "changed": self.changed,
            "messages": self.messages,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "moves": [{"from": a, "to": b, "events": n} for (a, b), n in self.moves.most_common()],
        }


_STATUS_LIST = ", ".join(f"'{s}'" for s in DEFAULT_STATUSES)
# Below this many bounce events one process is quicker than starting workers.
PARALLEL_FROM = 100_000

# seq, message_id, status, smtp_code, enhanced_code, diagnostic, hint, stored class, stored reason
Row = tuple[Any, ...]
# new class, new reason, seq, message_id, old reason
Change = tuple[str, str, int, str | None, str | None]


def _changes(rows: list[Row]) -> list[Change]:
    """The rows whose verdict differs from the stored one (runs in a worker process too)."""
    from maillog_cli.bounce.classify import classify

    out: list[Change] = []
    for seq, mid, status, code, enhanced, diag, hint, old_class, old_reason in rows:
        v = classify(status, code, enhanced, diag, hint)
        if v is not None and (v.bounce_class != old_class or v.bounce_reason != old_reason):
            out.append((v.bounce_class, v.bounce_reason, seq, mid, old_reason))
    return out


def _pool(workers: int):  # -> multiprocessing.pool.Pool
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    # fork: the workers inherit the compiled rules instead of compiling them again
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn").Pool(workers)


def reclassify(
    store: Store,
    batch: int = 50_000,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Reclassified:
    """Re-apply the classifier to every stored bounce event, in batches.

    Reads (seq, status, codes, diagnostic, provider label) in seq order, classifies with
    the cached classifier, and writes only the rows whose class or reason changed, one
    transaction per batch so that readers and imports are never held up for long. Events
    of other statuses that carry a class lose it. The messages whose events changed get
    their bounce_class / bounce_reason again from their latest lifecycle event.

    Classifying is the costly part (pure Python, ~15 µs for a text never seen before),
    so big stores are classified by `workers` processes (default: one per CPU, up to 4,
    from PARALLEL_FROM bounce events) while this process reads and writes; all SQLite
    work stays in this process. `progress(done, total)` is called after each batch.
    """
    started = time.perf_counter()
    result = Reclassified(dry_run=dry_run)
    conn = store.conn
    total = conn.execute(
        f"SELECT count(*) FROM events WHERE status IN ({_STATUS_LIST})"
    ).fetchone()[0]
    if workers is None:
        workers = _default_workers(total)
    if not dry_run:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS reclassified (message_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM reclassified")
    read = _batch_reader(conn, batch, result)
    write = _batch_writer(store, result, dry_run, progress, total)
    if workers <= 1:
        while rows := read():
            write(_changes(rows))
    else:
        _classify_in_workers(read, write, workers)
    _clear_stray_classes(store, result, dry_run)
    if not dry_run:
        result.messages = _refresh_changed_messages(store)
    result.seconds = time.perf_counter() - started
    return result


def _default_workers(total: int) -> int:
    """One process below PARALLEL_FROM bounce events, else one per CPU (up to 4)."""
    import os

    return min(os.cpu_count() or 1, 4) if total >= PARALLEL_FROM else 1


def _batch_reader(
    conn: sqlite3.Connection, batch: int, result: Reclassified
) -> Callable[[], list[Row]]:
    """A function returning the next `batch` bounce events in seq order ([] at the end)."""
    select = (
        "SELECT seq, message_id, status, smtp_code, enhanced_code, diagnostic, bounce_hint, bounce_class, bounce_reason"
        # `+status`: walk the table in seq order; the status index would sort every
        # remaining bounce event again for each batch.
        f" FROM events WHERE seq > ? AND +status IN ({_STATUS_LIST}) ORDER BY seq LIMIT ?"
    )
    last = 0

    def read() -> list[Row]:
        nonlocal last
        rows = conn.execute(select, (last, batch)).fetchall()
        if rows:
            last = rows[-1][0]
            result.scanned += len(rows)
        return rows

    return read


def _batch_writer(
    store: Store,
    result: Reclassified,
    dry_run: bool,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> Callable[[list[Change]], None]:
    """A function that counts one batch's changes and (unless dry_run) writes them."""
    conn = store.conn

    def write(changes: list[Change]) -> None:
        result.changed += len(changes)
        for _, new_reason, _, _, old_reason in changes:
            result.moves[(old_reason, new_reason)] += 1
        if changes and not dry_run:
            with store.write():
                conn.executemany(
                    "UPDATE events SET bounce_class = ?, bounce_reason = ? WHERE seq = ?",
                    (c[:3] for c in changes),
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO reclassified VALUES (?)",
                    ((c[3],) for c in changes if c[3] is not None),
                )
        if progress is not None:
            progress(result.scanned, total)

    return write


def _classify_in_workers(
    read: Callable[[], list[Row]], write: Callable[[list[Change]], None], workers: int
) -> None:
    """A bounded pipeline: read a batch, hand it to a worker, write the oldest result."""
    from collections import deque

    with _pool(workers) as pool:
        pending: deque[Any] = deque()
        while rows := read():
            pending.append(pool.apply_async(_changes, (rows,)))
            if len(pending) > workers:
                write(pending.popleft().get())
        while pending:
            write(pending.popleft().get())


def _clear_stray_classes(store: Store, result: Reclassified, dry_run: bool) -> None:
    """Other statuses never carry a class (docs/bounces.md): clear any that a source supplied."""
    conn = store.conn
    stray = f"bounce_class IS NOT NULL AND status NOT IN ({_STATUS_LIST})"
    for old_reason, n in conn.execute(
        f"SELECT bounce_reason, count(*) FROM events WHERE {stray} GROUP BY 1"
    ).fetchall():
        result.moves[(old_reason, None)] += n
        result.changed += n
    if dry_run:
        return
    with store.write():
        conn.execute(
            f"INSERT OR IGNORE INTO reclassified SELECT message_id FROM events WHERE {stray} AND message_id IS NOT NULL"
        )
        conn.execute(f"UPDATE events SET bounce_class = NULL, bounce_reason = NULL WHERE {stray}")


def _refresh_changed_messages(store: Store) -> int:
    """Copy the new verdicts onto the messages whose events changed; how many changed.

    A message shows its latest lifecycle event's verdict (last_seq is kept by
    Store.refresh_messages); only verdicts changed, so they are copied over.
    """
    conn = store.conn
    with store.write():
        cur = conn.execute(
            """
            UPDATE messages SET bounce_class = e.bounce_class, bounce_reason = e.bounce_reason
            FROM reclassified r JOIN events e
            WHERE messages.message_id = r.message_id AND e.seq = messages.last_seq
              AND (messages.bounce_class, messages.bounce_reason) IS NOT (e.bounce_class, e.bounce_reason)
            """
        )
        conn.execute("DELETE FROM reclassified")
    return cur.rowcount

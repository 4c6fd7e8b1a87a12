"""What a rule measures, per scope, over a window of time: index-backed aggregates.

A window selects messages by `first_seen` (the `messages_first_seen` index: a range scan
of the window's rows, never of the store), and every count is the SQL `maillog stats` runs
(stats.select_counts): a message counts once, by its outcome, exactly as stats counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from maillog_cli.dates import format_dt
from maillog_cli.stats import COUNT_SQL, OUTCOME_SQL, select_counts
from maillog_cli.store.query import where

if TYPE_CHECKING:
    from maillog_cli.alerts.rules import Rule
    from maillog_cli.store.db import Store


@dataclass(frozen=True)
class Metric:
    """`count` over `per` (a rate), or `count` alone when `per` is None; `volume` is what
    min_messages is compared with."""

    count: str
    per: str | None
    description: str

    @property
    def volume(self) -> str:
        return self.per or "sent"


METRICS: dict[str, Metric] = {
    "bounce_rate": Metric("bounced", "sent", "bounced messages / sent messages"),
    "complaint_rate": Metric("complained", "sent", "messages marked as spam / sent messages"),
    "deferral_rate": Metric(
        "deferred", "sent", "messages still deferred, never delivered / sent messages"
    ),
    "delivery_rate": Metric("delivered", "sent", "delivered messages / sent messages"),
    "hard_bounces": Metric("hard", None, "messages that bounced hard (a count)"),
    "auth_failure_rate": Metric(
        "auth_failed",
        "auth_checked",
        "messages where SPF, DKIM or DMARC did not pass / messages with a result",
    ),
}

SCOPES: tuple[str, ...] = ("all", "domain", "mailbox_provider", "sender", "provider", "tag")

# The built-in mailbox provider groups (docs/alerts.md prints this table): recipient
# domains that land in the same provider's filters. Any other domain is "other".
MAILBOX_PROVIDERS: dict[str, tuple[str, ...]] = {
    "gmail": ("gmail.com", "googlemail.com"),
    "microsoft": (
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "passport.com",
        "windowslive.com",
        "outlook.fr",
        "outlook.de",
        "outlook.es",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "live.co.uk",
        "live.fr",
        "live.de",
        "live.nl",
    ),
    "yahoo": (
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aim.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.ca",
        "yahoo.com.br",
        "yahoo.co.in",
        "yahoo.co.jp",
    ),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "proton": ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"),
    "gmx": ("gmx.de", "gmx.net", "gmx.com", "gmx.at", "gmx.ch", "web.de", "mail.com"),
    "yandex": ("yandex.ru", "yandex.com", "ya.ru"),
    "mail.ru": ("mail.ru", "bk.ru", "inbox.ru", "list.ru"),
    "zoho": ("zoho.com", "zohomail.com"),
    "fastmail": ("fastmail.com", "fastmail.fm"),
    "comcast": ("comcast.net",),
    "orange": ("orange.fr", "wanadoo.fr"),
    "qq": ("qq.com",),
    "netease": ("163.com", "126.com", "yeah.net"),
}
OTHER_PROVIDER = "other"


def mailbox_provider_of(domain: str | None) -> str:
    """The group a recipient domain belongs to (the same table the SQL uses)."""
    d = (domain or "").lower()
    return next((g for g, ds in MAILBOX_PROVIDERS.items() if d in ds), OTHER_PROVIDER)


def _provider_case() -> str:
    # Literals from the constant table above (never user text), so inlining them is safe.
    whens = " ".join(
        f"WHEN '{d}' THEN '{group}'" for group, ds in MAILBOX_PROVIDERS.items() for d in ds
    )
    return f"(CASE m.recipient_domain {whens} ELSE '{OTHER_PROVIDER}' END)"


# scope -> (the SQL of a message's group key, the FROM clause). A message with several
# tags counts once in each; one without a tag (or domain, sender …) in none.
_SCOPE_SQL: dict[str, tuple[str, str]] = {
    "all": ("''", "messages m"),
    "domain": ("m.recipient_domain", "messages m"),
    "mailbox_provider": (_provider_case(), "messages m"),
    "sender": ("m.sender", "messages m"),
    "provider": ("m.provider", "messages m"),
    "tag": ("lower(j.value)", "messages m, json_each(m.tags) AS j"),
}


def condition(count: str) -> str:
    """The per-message SQL condition behind a count: `sum(X)` → `X` (one definition)."""
    sql = COUNT_SQL[count]
    if sql == "count(outcome)":
        return "outcome IS NOT NULL"
    assert sql.startswith("sum(") and sql.endswith(")"), sql
    return sql[4:-1]


def bad_condition(rule: Rule) -> str:
    """The messages that make the alert: the counted ones, or for a `below` rule the
    others among the measured (the undelivered ones for delivery_rate)."""
    metric = METRICS[rule.metric]
    if rule.condition == "above":
        return condition(metric.count)
    return f"({condition(metric.volume)}) AND NOT coalesce({condition(metric.count)}, 0)"


Span = tuple[datetime, datetime]


def _scope_clause(
    rule: Rule, spans: Sequence[Span], column: str = "m.first_seen"
) -> tuple[str, list[Any]]:
    """The rule's messages whose `column` lies in one of `spans` (each an index range).

    Nothing here may tempt the planner off the time index: a group key's `IS NOT NULL`
    would walk messages_domain over the whole table, so messages without a key are
    dropped after grouping instead."""
    ranges = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in spans)
    params: list[Any] = [format_dt(x) for span in spans for x in span]
    clause = f"({ranges})"
    if rule.filters is not None:
        extra, extra_params = where(rule.filters, "m", messages=True)
        clause += f" AND {extra}"
        params += extra_params
    return clause, params


Counts = dict[str, dict[str, int]]


def window_counts(store: Store, rule: Rule, spans: Sequence[Span]) -> Counts:
    """Group key -> {count, volume, messages} over the messages first seen in `spans`
    (one index range scan each, summed)."""
    metric = METRICS[rule.metric]
    keys = tuple(dict.fromkeys(("messages", metric.count, metric.volume)))
    key_sql, source = _SCOPE_SQL[rule.by]
    out: Counts = {}
    for span in spans:
        clause, params = _scope_clause(rule, [span])
        sql = select_counts(key_sql, clause, keys, source)
        for row in store.conn.execute(sql, params):
            values = dict(zip(("k", *keys), row, strict=True))
            if values["k"] is None:
                continue  # no domain, sender … : in no group
            group = out.setdefault(str(values["k"]), {"messages": 0, "count": 0, "volume": 0})
            group["messages"] += values["messages"]
            group["count"] += values[metric.count]
            group["volume"] += values[metric.volume]
    return out


def _base(
    rule: Rule, span: Span, column: str = "m.first_seen", bounced: bool = False
) -> tuple[str, list[Any]]:
    """A CTE `base` of the rule's messages in `span` with their key and outcome, as stats'."""
    key_sql, source = _SCOPE_SQL[rule.by]
    clause, params = _scope_clause(rule, [span], column)
    if bounced:  # by bounce time: the index on (last_status, last_status_at); else `+`
        # keeps the planner on the window's time index instead of every bounce ever
        status = "m.last_status" if column == "m.last_status_at" else "+m.last_status"
        clause = f"{status} = 'bounced' AND {clause}"
    return (
        f"WITH base AS (SELECT {key_sql} AS k, m.*, {OUTCOME_SQL} AS outcome"
        f" FROM {source} WHERE {clause})"
    ), params


def top_replies(
    store: Store, rule: Rule, keys: set[str], span: Span, limit: int = 3
) -> dict[str, list[dict[str, Any]]]:
    """Per group among `keys`: the remote servers' most frequent replies on the messages
    that make the alert (each message's latest lifecycle event), most frequent first.
    One query for all the rule's groups."""
    cte, params = _base(rule, span)
    sql = (
        f"{cte} SELECT b.k, e.smtp_code, e.enhanced_code, e.diagnostic, count(*) AS n"
        f" FROM (SELECT k, last_seq FROM base WHERE {bad_condition(rule)}) b"
        f" JOIN events e ON e.seq = b.last_seq"
        f" WHERE e.diagnostic IS NOT NULL OR e.smtp_code IS NOT NULL"
        f" GROUP BY b.k, e.smtp_code, e.enhanced_code, e.diagnostic"
        f" ORDER BY n DESC, e.diagnostic"
    )
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for k, code, enhanced, diag, n in store.conn.execute(sql, params):
        replies = out.get(str(k)) if k is not None else None
        if replies is not None and len(replies) < limit:
            replies.append(
                {"smtp_code": code, "enhanced_code": enhanced, "reply": diag, "count": n}
            )
    return out


def bounce_reasons(
    store: Store, rule: Rule, span: Span, by_bounce_time: bool = False
) -> dict[str, dict[str, int]]:
    """Group -> bounce reason -> bounced messages, first seen in `span` — or, with
    `by_bounce_time`, that bounced in it (index messages_last_status: bounces only)."""
    column = "m.last_status_at" if by_bounce_time else "m.first_seen"
    cte, params = _base(rule, span, column, bounced=True)
    sql = (
        f"{cte} SELECT k, bounce_reason, count(*) FROM base"
        f" WHERE bounce_reason IS NOT NULL AND k IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 2"
    )
    out: dict[str, dict[str, int]] = {}
    for k, reason, n in store.conn.execute(sql, params):
        out.setdefault(str(k), {})[reason] = n
    return out

"""Who a sender should stop mailing, and why (docs/bounces.md, "Who to stop mailing").

An address is suppressed when, among the events in view:

- `hard_bounce`: a `bounced` or `dropped` event classified `hard` (the address does not
  exist, is disabled, its domain takes no mail, or a list already suppresses it) with no
  delivery to the address after it;
- `complaint`: the recipient marked a message as spam (never undone by a delivery);
- `unsubscribed`: the recipient unsubscribed (never undone by a delivery; can be left
  out with `unsubscribes=False`);
- `soft_bounces`: at least `soft_after` final soft bounces (status `bounced`, reasons whose
  `counts_for_soft_suppression` is true) since the last delivery, the first and the last
  of them at least `window_days` days apart. Deferrals never count; a delivery resets.

One row per address, with the strongest reason (in the order above). Everything is one
SQL statement over the events indexes; `suppression_reason` asks it about one address
(resend uses it to refuse a send).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from maillog_cli.bounce.classify import REASONS
from maillog_cli.errors import MaillogError
from maillog_cli.normalize import address as normalise_address
from maillog_cli.store.db import Store
from maillog_cli.store.query import Filters, where, with_changes

SUPPRESSION_KEYS: tuple[str, ...] = (
    "address",
    "reason",
    "bounce_class",
    "bounce_reason",
    "count",
    "first_seen",
    "last_seen",
    "diagnostic",
)
WHY = ("hard_bounce", "complaint", "unsubscribed", "soft_bounces")  # strongest first
SOFT_AFTER = 3
WINDOW_DAYS = 7.0
COUNTING_REASONS: tuple[str, ...] = tuple(
    r for r, info in REASONS.items() if info.counts_for_soft_suppression
)


def _sql(clause: str, unsubscribes: bool, tail: str = "") -> str:
    """The statement; `clause` selects the events in view (alias e) and appears twice.

    Positional values: the clause's, again the clause's, soft_after, window_days, the tail's.
    """
    counting = ", ".join(f"'{r}'" for r in COUNTING_REASONS)
    watched = "'bounced', 'dropped', 'complained'" + (", 'unsubscribed'" if unsubscribes else "")
    rank = " ".join(f"WHEN '{w}' THEN {i}" for i, w in enumerate(WHY))
    return f"""
    WITH ev AS (
        SELECT e.seq, e.recipient AS address, e.status, e.timestamp, e.bounce_class,
               e.bounce_reason, e.diagnostic
        FROM events e
        WHERE {clause} AND e.recipient IS NOT NULL AND e.status IN ({watched})
    ),
    delivered AS (
        SELECT e.recipient AS address, max(e.timestamp) AS at FROM events e
        WHERE {clause} AND e.status = 'delivered' AND e.recipient IN (SELECT address FROM ev)
        GROUP BY 1
    ),
    counted AS (
        SELECT ev.*, CASE
            WHEN ev.status = 'complained' THEN 'complaint'
            WHEN ev.status = 'unsubscribed' THEN 'unsubscribed'
            WHEN ev.bounce_class = 'hard' THEN 'hard_bounce'
            WHEN ev.status = 'bounced' AND ev.bounce_class = 'soft'
                 AND ev.bounce_reason IN ({counting}) THEN 'soft_bounces'
        END AS why
        FROM ev LEFT JOIN delivered d USING (address)
        WHERE ev.status IN ('complained', 'unsubscribed') OR d.at IS NULL OR ev.timestamp > d.at
    ),
    grouped AS (
        SELECT address, why, bounce_class, bounce_reason, diagnostic, timestamp AS last_seen,
               count(*) OVER w AS n, min(timestamp) OVER w AS first_seen,
               row_number() OVER (PARTITION BY address, why ORDER BY timestamp DESC, seq DESC) AS latest
        FROM counted WHERE why IS NOT NULL
        WINDOW w AS (PARTITION BY address, why)
    ),
    qualified AS (
        SELECT *, row_number() OVER (PARTITION BY address ORDER BY CASE why {rank} END) AS pick
        FROM grouped
        WHERE latest = 1 AND (why <> 'soft_bounces'
              OR (n >= ? AND julianday(last_seen) - julianday(first_seen) >= ?))
    )
    SELECT address, why AS reason,
           CASE WHEN why IN ('hard_bounce', 'soft_bounces') THEN bounce_class END AS bounce_class,
           CASE WHEN why IN ('hard_bounce', 'soft_bounces') THEN bounce_reason END AS bounce_reason,
           n AS count, first_seen, last_seen,
           CASE WHEN why IN ('hard_bounce', 'soft_bounces') THEN diagnostic END AS diagnostic
    FROM qualified WHERE pick = 1 {tail}
    """


def _check(soft_after: int, window_days: float) -> None:
    if soft_after < 1:
        raise MaillogError("--soft-after must be at least 1")
    if window_days < 0:
        raise MaillogError("--soft-window cannot be negative")


def suppression_list(
    store: Store,
    filters: Filters,
    soft_after: int = SOFT_AFTER,
    window_days: float = WINDOW_DAYS,
    unsubscribes: bool = True,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The suppressed addresses among the filtered events, by address, as SUPPRESSION_KEYS rows.

    The filters choose the events looked at (--since, --domain, --provider …); --class
    and --reason select among the resulting rows; --status does not apply (the policy
    decides which statuses count).
    """
    _check(soft_after, window_days)
    if filters.statuses:
        raise MaillogError(
            "--status does not apply to suppressions",
            "the policy decides which events count; use --class or --reason",
        )
    clause, params = where(with_changes(filters, bounce_class=[], reason=[]), "e")
    # Positional values in statement order: the clause twice, the soft rule, the tail.
    values: list[Any] = [*params, *params, soft_after, window_days]
    tail = ""
    for column, chosen in (
        ("bounce_class", filters.bounce_class),
        ("bounce_reason", filters.reason),
    ):
        if chosen:
            tail += f" AND {column} IN ({', '.join('?' for _ in chosen)})"
            values += chosen
    tail += " ORDER BY address"
    if limit:
        tail += " LIMIT ?"
        values.append(limit)
    cur = store.conn.execute(_sql(clause, unsubscribes, tail), values)
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


def describe(row: dict[str, Any]) -> str:
    """Why, in words: `hard bounce (user_unknown) on 2026-11-02`, `3 soft bounces (…) …`."""
    last = (row.get("last_seen") or "")[:10]
    why = row["reason"]
    if why == "hard_bounce":
        return f"hard bounce ({row.get('bounce_reason') or 'undetermined'}) on {last}"
    if why == "complaint":
        return f"complained (marked a message as spam) on {last}"
    if why == "unsubscribed":
        return f"unsubscribed on {last}"
    first = (row.get("first_seen") or "")[:10]
    return f"{row['count']} soft bounces ({row.get('bounce_reason')}) from {first} to {last}"


def suppression_reason(store: Store, address: str) -> str | None:
    """Why `address` must not be mailed, in words; None when nothing says so.

    The default policy (SOFT_AFTER, WINDOW_DAYS, unsubscribes included) over all stored
    events of that exact address.
    """
    addr = normalise_address(address)
    if not addr:
        return None
    cur = store.conn.execute(
        _sql("e.recipient = ?", True, "LIMIT 1"), [addr, addr, SOFT_AFTER, WINDOW_DAYS]
    )
    row = cur.fetchone()
    if row is None:
        return None
    return describe(dict(zip([d[0] for d in cur.description], row, strict=True)))

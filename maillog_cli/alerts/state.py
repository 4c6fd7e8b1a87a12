"""What each alert last was, kept in the store (table alert_state, migrations 6 and 7), and
the one rule for what to send now:

- not firing → firing: send "firing" once;
- still firing: send "repeat" when the last notice is at least `every` old;
- firing → not firing (back within the threshold, too few messages to judge, or no
  messages at all): send "resolved" and forget the alert;
- a notice that some channel failed to take is owed on those channels: sent again at the
  next evaluation after a short, bounded backoff (RETRY_FIRST doubling up to RETRY_MAX,
  never later than `every`), not an `every` later.

Two evaluators (a cron `check` and a `watch`, or two watchers) may judge the same moment:
`claim` reads the state and writes the decision in ONE write transaction, so only the first
to take the lock owns a transition and the other finds it already made. Delivery (slow
webhooks, programs) happens after the lock is released; its failures are written back by
`record_failures`.

State is keyed by the rule's name and the group, so it survives a restart and a rule
edit; the state of a rule that left the config file is dropped silently.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from maillog_cli.dates import format_dt

if TYPE_CHECKING:
    from maillog_cli.alerts.evaluate import Verdict
    from maillog_cli.alerts.rules import Rule
    from maillog_cli.store.db import Store

FIRING, REPEAT, RESOLVED = "firing", "repeat", "resolved"


RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)


@dataclass(frozen=True)
class Previous:
    firing: bool
    since: str | None
    last_sent: str | None
    pending: str | None = None  # the notice still owed after a failed delivery
    channels: tuple[int, ...] | None = None  # …on these of the rule's channels
    failures: int = 0
    retry_at: str | None = None


@dataclass
class Notice:
    """One notification to send: the verdict it is about and why it is sent now."""

    kind: str  # firing | repeat | resolved
    verdict: Verdict
    since: str | None  # when the alert began firing
    channels: tuple[int, ...] | None = None  # positions in rule.notify; None: all
    failures: int = 0  # failed deliveries of this notice so far

    @property
    def key(self) -> tuple[str, str]:
        return (self.verdict.rule.name, self.verdict.key)


def load(store: Store) -> dict[tuple[str, str], Previous]:
    return _load(store.conn)


def _load(conn: sqlite3.Connection) -> dict[tuple[str, str], Previous]:
    rows = conn.execute(
        "SELECT rule, scope, firing, since, last_sent, pending, channels, failures, retry_at"
        " FROM alert_state"
    )
    return {
        (r, s): Previous(bool(f), since, sent, pend, _positions(ch), fails or 0, retry)
        for r, s, f, since, sent, pend, ch, fails, retry in rows
    }


def _positions(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return tuple(int(i) for i in value) if isinstance(value, list) else None


def plan(
    rules: list[Rule],
    verdicts: list[Verdict],
    previous: dict[tuple[str, str], Previous],
    now: datetime,
) -> list[Notice]:
    """The notices this evaluation sends, in verdict order, then the resolutions of alerts
    whose group has no verdict at all any more (no messages in the window)."""
    from maillog_cli.alerts.evaluate import resolved_for_absence

    at = format_dt(now)
    notices: list[Notice] = []
    judged: set[tuple[str, str]] = set()
    for v in verdicts:
        key = (v.rule.name, v.key)
        judged.add(key)
        prev = previous.get(key)
        if v.firing:
            if prev is None or not prev.firing:
                notices.append(Notice(FIRING, v, at))
            elif prev.pending in (FIRING, REPEAT):
                if _retry_due(prev, now):
                    notices.append(_retry(prev, v))
            elif _due(prev.last_sent, v.rule, now):
                notices.append(Notice(REPEAT, v, prev.since))
        elif prev is not None:
            notice = _resolution(prev, v, now)
            if notice is not None:
                notices.append(notice)
    by_name = {r.name: r for r in rules}
    for (name, scope), prev in sorted(previous.items()):
        if (name, scope) not in judged and name in by_name:
            gone = resolved_for_absence(by_name[name], scope, now)
            notice = _resolution(prev, gone, now)
            if notice is not None:
                notices.append(notice)
    return notices


def _resolution(prev: Previous, v: Verdict, now: datetime) -> Notice | None:
    """A firing alert that is no longer firing resolves; a resolution that failed to go
    out is retried when due."""
    if prev.firing:
        return Notice(RESOLVED, v, prev.since)
    if prev.pending == RESOLVED and _retry_due(prev, now):
        return _retry(prev, v)
    return None


def _retry(prev: Previous, v: Verdict) -> Notice:
    assert prev.pending is not None
    return Notice(prev.pending, v, prev.since, prev.channels, prev.failures)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _due(last_sent: str | None, rule: Rule, now: datetime) -> bool:
    if not last_sent:
        return True
    return now - _when(last_sent) >= rule.every


def _retry_due(prev: Previous, now: datetime) -> bool:
    return not prev.retry_at or now >= _when(prev.retry_at)


def retry_delay(failures: int, every: timedelta) -> timedelta:
    """How long after its `failures`-th failed delivery a notice is tried again: doubling
    from RETRY_FIRST, at most RETRY_MAX and never more than the rule's `every`."""
    doublings = min(max(failures - 1, 0), 16)  # 30 s × 2**16 is far past RETRY_MAX
    return min(RETRY_FIRST * 2**doublings, RETRY_MAX, every)


def claim(store: Store, rules: list[Rule], verdicts: list[Verdict], now: datetime) -> list[Notice]:
    """Decide what to send and record it as sent, in one write transaction: the state is
    read under the write lock, so of two evaluators judging the same moment only one owns
    each transition (the other reads the claim and sends nothing). Deliver afterwards,
    outside the lock, and hand failures to `record_failures`."""
    at = format_dt(now)
    names = [r.name for r in rules]
    with store.write() as conn:
        notices = plan(rules, verdicts, _load(conn), now)
        sent = {n.key: n for n in notices}
        marks = ", ".join("?" for _ in names)
        conn.execute(f"DELETE FROM alert_state WHERE rule NOT IN ({marks})", names)
        for v in verdicts:
            if not v.firing:
                continue
            key = (v.rule.name, v.key)
            notice = sent.get(key)
            if notice is None:
                conn.execute(
                    "UPDATE alert_state SET value = ?, updated_at = ? WHERE rule = ? AND scope = ?",
                    (_real(v.value), at, *key),
                )
                continue
            conn.execute(
                """INSERT INTO alert_state (rule, scope, firing, since, last_sent, value,
                    updated_at, pending, channels, failures, retry_at)
                VALUES (?, ?, 1, ?, ?, ?, ?, NULL, NULL, ?, NULL)
                ON CONFLICT (rule, scope) DO UPDATE SET
                    firing = 1, since = excluded.since, last_sent = excluded.last_sent,
                    value = excluded.value, updated_at = excluded.updated_at,
                    pending = NULL, channels = NULL, failures = excluded.failures,
                    retry_at = NULL""",
                (*key, notice.since, at, _real(v.value), at, notice.failures),
            )
        for n in notices:
            if n.kind == RESOLVED:
                conn.execute("DELETE FROM alert_state WHERE rule = ? AND scope = ?", n.key)
    return notices


def record_failures(store: Store, failed: list[tuple[Notice, list[int]]], now: datetime) -> None:
    """Remember the notices some channels did not take, to retry on those channels only.
    Written only where the claim still stands (another evaluator may have moved on)."""
    if not failed:
        return
    at = format_dt(now)
    with store.write() as conn:
        for n, positions in failed:
            failures = n.failures + 1
            retry = format_dt(now + retry_delay(failures, n.verdict.rule.every))
            channels = json.dumps(sorted(positions))
            if n.kind == RESOLVED:
                conn.execute(
                    """INSERT INTO alert_state (rule, scope, firing, since, last_sent, value,
                        updated_at, pending, channels, failures, retry_at)
                    VALUES (?, ?, 0, ?, NULL, NULL, ?, ?, ?, ?, ?)
                    ON CONFLICT (rule, scope) DO NOTHING""",
                    (*n.key, n.since, at, RESOLVED, channels, failures, retry),
                )
                continue
            conn.execute(
                "UPDATE alert_state SET pending = ?, channels = ?, failures = ?, retry_at = ?"
                " WHERE rule = ? AND scope = ? AND firing = 1 AND pending IS NULL",
                (n.kind, channels, failures, retry, *n.key),
            )


def _real(value: Any) -> float | None:
    return None if value is None else float(value)

"""What each alert last was, kept in the store (table alert_state, migration 6), and the
one rule for what to send now:

- not firing → firing: send "firing" once;
- still firing: send "repeat" when the last notice is at least `every` old;
- firing → not firing (back within the threshold, too few messages to judge, or no
  messages at all): send "resolved" and forget the alert.

State is keyed by the rule's name and the group, so it survives a restart and a rule
edit; the state of a rule that left the config file is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from maillog_cli.dates import format_dt

if TYPE_CHECKING:
    from maillog_cli.alerts.evaluate import Verdict
    from maillog_cli.alerts.rules import Rule
    from maillog_cli.store.db import Store

FIRING, REPEAT, RESOLVED = "firing", "repeat", "resolved"


@dataclass(frozen=True)
class Previous:
    firing: bool
    since: str | None
    last_sent: str | None


@dataclass
class Notice:
    """One notification to send: the verdict it is about and why it is sent now."""

    kind: str  # firing | repeat | resolved
    verdict: Verdict
    since: str | None  # when the alert began firing


def load(store: Store) -> dict[tuple[str, str], Previous]:
    rows = store.conn.execute("SELECT rule, scope, firing, since, last_sent FROM alert_state")
    return {(r, s): Previous(bool(f), since, sent) for r, s, f, since, sent in rows}


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
            elif _due(prev.last_sent, v.rule, now):
                notices.append(Notice(REPEAT, v, prev.since))
        elif prev is not None and prev.firing:
            notices.append(Notice(RESOLVED, v, prev.since))
    by_name = {r.name: r for r in rules}
    for (name, scope), prev in sorted(previous.items()):
        if prev.firing and (name, scope) not in judged and name in by_name:
            gone = resolved_for_absence(by_name[name], scope, now)
            notices.append(Notice(RESOLVED, gone, prev.since))
    return notices


def _due(last_sent: str | None, rule: Rule, now: datetime) -> bool:
    if not last_sent:
        return True
    sent = datetime.fromisoformat(last_sent.replace("Z", "+00:00"))
    return now - sent >= rule.every


def save(
    store: Store,
    rules: list[Rule],
    verdicts: list[Verdict],
    notices: list[Notice],
    now: datetime,
) -> None:
    """Record this evaluation in one write: firing alerts kept (with when they were last
    sent), resolved ones and those of rules no longer configured removed."""
    at = format_dt(now)
    sent = {(n.verdict.rule.name, n.verdict.key): n for n in notices}
    names = [r.name for r in rules]
    with store.write() as conn:
        marks = ", ".join("?" for _ in names)
        conn.execute(f"DELETE FROM alert_state WHERE rule NOT IN ({marks})", names)
        for v in verdicts:
            key = (v.rule.name, v.key)
            if not v.firing:
                conn.execute("DELETE FROM alert_state WHERE rule = ? AND scope = ?", key)
                continue
            notice = sent.get(key)
            conn.execute(
                """INSERT INTO alert_state (rule, scope, firing, since, last_sent, value, updated_at)
                VALUES (?, ?, 1, ?, ?, ?, ?)
                ON CONFLICT (rule, scope) DO UPDATE SET
                    firing = 1,
                    last_sent = coalesce(excluded.last_sent, alert_state.last_sent),
                    value = excluded.value, updated_at = excluded.updated_at""",
                (*key, at, at if notice else None, _real(v.value), at),
            )
        for n in notices:
            if n.kind == RESOLVED:
                conn.execute(
                    "DELETE FROM alert_state WHERE rule = ? AND scope = ?",
                    (n.verdict.rule.name, n.verdict.key),
                )


def _real(value: Any) -> float | None:
    return None if value is None else float(value)

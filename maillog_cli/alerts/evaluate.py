"""Judge every rule at a moment `now`, and say what changed before an alert.

For each rule and group: the metric over the window [now − window, now), compared
strictly (`above` is >, `below` is <: a value exactly at the threshold does not fire)
with the threshold, or with `factor ×` the baseline — the same window of the day on each
of the previous 7 days, summed (a rate: their pooled rate; a count: their mean). A group
with fewer than `min_messages` measured messages (sent; for auth_failure_rate, with an
authentication result) is not judged, nor one whose baseline has fewer.

What changed, for a firing alert: the audit entries from `lookback` before the window up
to now (newest first), bounce reasons of the window that no bounce of the group had in the
7 days before it, and the remote servers' most frequent replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from maillog_cli.alerts import metrics
from maillog_cli.alerts.metrics import METRICS
from maillog_cli.alerts.rules import BASELINE_DAYS, Rule
from maillog_cli.dates import format_dt

if TYPE_CHECKING:
    from maillog_cli.store.db import Store

FIRING, OK, TOO_FEW, NO_BASELINE = "firing", "ok", "too_few", "no_baseline"
STATES = (FIRING, OK, TOO_FEW, NO_BASELINE)
AUDIT_LIMIT = 5
REASONS_LIMIT = 5
REPLIES_LIMIT = 3


@dataclass
class Verdict:
    rule: Rule
    key: str  # the group ('' for by = all)
    state: str  # firing | ok | too_few | no_baseline
    start: datetime
    end: datetime
    count: int = 0
    volume: int = 0
    messages: int = 0
    value: Fraction | None = None
    limit: Fraction | None = None  # the value it is compared with (factor × baseline)
    baseline: Fraction | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.state == FIRING


def evaluate(store: Store, rules: list[Rule], now: datetime, explain: bool = True) -> list[Verdict]:
    """Every rule's verdict per group, in rule order then group order; `explain` adds
    what changed to the firing ones. One read snapshot, so all rules see the same store."""
    conn = store.conn
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        out: list[Verdict] = []
        for rule in rules:
            out += evaluate_rule(store, rule, now, explain)
        return out
    finally:
        if own:
            conn.execute("COMMIT")


def evaluate_rule(store: Store, rule: Rule, now: datetime, explain: bool = True) -> list[Verdict]:
    start, end = now - rule.window, now
    current = metrics.window_counts(store, rule, [(start, end)])
    if rule.by == "all" and "" not in current:
        current[""] = {"messages": 0, "count": 0, "volume": 0}
    base: dict[str, dict[str, int]] = {}
    if rule.threshold.kind == "baseline":
        base = metrics.window_counts(store, rule, baseline_spans(start, end))
    verdicts = [
        judge(rule, key, counts, base.get(key), start, end)
        for key, counts in sorted(current.items())
    ]
    if explain:
        explain_firing(store, rule, [v for v in verdicts if v.firing])
    return verdicts


def baseline_spans(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The same window of the day on each of the previous BASELINE_DAYS days."""
    return [
        (start - timedelta(days=d), end - timedelta(days=d)) for d in range(1, BASELINE_DAYS + 1)
    ]


def judge(
    rule: Rule,
    key: str,
    counts: dict[str, int],
    base: dict[str, int] | None,
    start: datetime,
    end: datetime,
) -> Verdict:
    """One group's verdict from its counts (and its baseline's)."""
    v = Verdict(rule, key, OK, start, end, counts["count"], counts["volume"], counts["messages"])
    need = max(rule.min_messages, 1)
    is_rate = METRICS[rule.metric].per is not None
    if v.volume < need:
        v.state = TOO_FEW
        return v
    v.value = Fraction(v.count, v.volume) if is_rate else Fraction(v.count)
    if rule.threshold.kind == "baseline":
        if base is None or base["volume"] < need:
            v.state = NO_BASELINE
            return v
        v.baseline = (
            Fraction(base["count"], base["volume"])
            if is_rate
            else Fraction(base["count"], BASELINE_DAYS)
        )
        v.limit = rule.threshold.value * v.baseline
    else:
        v.limit = rule.threshold.value
    fires = v.value > v.limit if rule.condition == "above" else v.value < v.limit
    v.state = FIRING if fires else OK
    return v


def resolved_for_absence(rule: Rule, key: str, now: datetime) -> Verdict:
    """The verdict of a group that has no message in the window any more."""
    return Verdict(rule, key, TOO_FEW, now - rule.window, now)


# --- what changed -------------------------------------------------------------------------------


def explain_firing(store: Store, rule: Rule, verdicts: list[Verdict]) -> None:
    """Fill in what changed for the rule's firing groups: a few queries per rule, however
    many of its groups fire (each reads the window, or the week before it, once)."""
    from maillog_cli.audit.queries import AuditFilters, actor_label, list_entries, target_label

    if not verdicts:
        return
    start, end = verdicts[0].start, verdicts[0].end
    audit = []
    for row in list_entries(
        store.conn, AuditFilters(since=start - rule.lookback, until=end), AUDIT_LIMIT
    ):
        at = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        actor = actor_label(row)
        text = f"{row['action']}" + (f" by {actor}" if actor else "") + f" {_ago(end - at)} before"
        audit.append(
            {
                "at": row["created_at"],
                "action": row["action"],
                "actor": actor or None,
                "target": target_label(row) or None,
                "minutes_before": int((end - at).total_seconds() // 60),
                "text": text,
            }
        )
    keys = {v.key for v in verdicts}
    now_reasons = metrics.bounce_reasons(store, rule, (start, end))
    week = (start - timedelta(days=BASELINE_DAYS), start)
    before = metrics.bounce_reasons(store, rule, week, by_bounce_time=True)
    replies = metrics.top_replies(store, rule, keys, (start, end), REPLIES_LIMIT)
    for v in verdicts:
        known = before.get(v.key, {})
        new = [
            {"reason": r, "count": n}
            for r, n in now_reasons.get(v.key, {}).items()
            if r not in known
        ]
        v.changes = {
            "audit": audit,
            "new_bounce_reasons": new[:REASONS_LIMIT],
            "top_replies": replies.get(v.key, []),
        }


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


# --- the alert as it is sent ---------------------------------------------------------------------


def show_value(value: Fraction | None, metric: str) -> str:
    if value is None:
        return "n/a"
    if METRICS[metric].per is None:
        number = float(value)
        return f"{number:g}" if value.denominator != 1 else str(value.numerator)
    pct = float(value * 100)
    return f"{pct:.3g}%" if pct < 100 else f"{pct:.0f}%"


def _number(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 6)


def alert(v: Verdict, kind: str, since: str | None, now: datetime) -> dict[str, Any]:
    """The alert as one object: the JSON line, the command's stdin, the webhook's fields."""
    rule = v.rule
    data = {
        "state": "resolved" if kind == "resolved" else "firing",
        "repeat": kind == "repeat",
        "rule": rule.name,
        "metric": rule.metric,
        "condition": rule.condition,
        "threshold": rule.threshold.text,
        "by": rule.by,
        "key": v.key if rule.by != "all" else None,
        "value": _number(v.value),
        "limit": _number(v.limit),
        "baseline": _number(v.baseline),
        "count": v.count,
        "volume": v.volume,
        "messages": v.messages,
        "window": rule.window_text,
        "window_start": format_dt(v.start),
        "window_end": format_dt(v.end),
        "filter": rule.filter_text,
        "since": since,
        "at": format_dt(now),
        "what_changed": v.changes or None,
    }
    data["headline"] = summary(v, kind, changes=False)
    data["text"] = summary(v, kind)
    return data


def _scope_words(v: Verdict) -> str:
    rule = v.rule
    metric = METRICS[rule.metric]
    measured = "with an auth result" if metric.per == "auth_checked" else "sent"
    where = f"{rule.by.replace('_', ' ')} {v.key}: " if rule.by != "all" else ""
    if metric.per is None:
        return f"{where}{v.count} among {v.volume} {measured}"
    return f"{where}{v.count} of {v.volume} {measured}"


def summary(v: Verdict, kind: str = "firing", changes: bool = True) -> str:
    """One line a person reads: what, how much, where; then what changed."""
    rule = v.rule
    op = ">" if rule.condition == "above" else "<"
    limit = show_value(v.limit, rule.metric)
    if rule.threshold.kind == "baseline":
        limit += f" ({rule.threshold.text} {show_value(v.baseline, rule.metric)})"
    value = show_value(v.value, rule.metric)
    if kind == "resolved":
        judged = f"{rule.metric} {value}" if v.value is not None else "too few messages to judge"
        return f"RESOLVED {rule.name}: {judged} over {rule.window_text} ({_scope_words(v)})"
    head = "FIRING" if kind == "firing" else "STILL FIRING"
    text = f"{head} {rule.name}: {rule.metric} {value} {op} {limit} over {rule.window_text} ({_scope_words(v)})"
    if not changes:
        return text
    return text + "".join(f"; {part}" for part in change_parts(v.changes))


def change_parts(changes: dict[str, Any]) -> list[str]:
    """What changed, as short phrases (also the report's indented lines)."""
    parts = []
    if changes.get("audit"):
        parts.append("changed: " + ", ".join(a["text"] for a in changes["audit"]))
    if changes.get("new_bounce_reasons"):
        parts.append(
            "new bounce reasons: "
            + ", ".join(f"{r['reason']} ({r['count']})" for r in changes["new_bounce_reasons"])
        )
    if changes.get("top_replies"):
        parts.append("top replies: " + ", ".join(_reply(r) for r in changes["top_replies"]))
    return parts


def _reply(r: dict[str, Any]) -> str:
    text = r.get("reply") or " ".join(
        str(x) for x in (r.get("smtp_code"), r.get("enhanced_code")) if x
    )
    if len(text) > 120:
        text = text[:119] + "…"
    return f"{text} ({r['count']})"

"""One pass over the rules (evaluate → decide → notify → remember), and the loop that
runs passes as events arrive: what `maillog check` runs once and `maillog watch` (and,
later, `serve --watch`: call `watch()` from a thread with a `stop` callable) runs forever.

Evaluating is a handful of index-backed aggregates per rule, so the loop simply
re-evaluates every rule when the store changed (`PRAGMA data_version`, as `tail --follow`
polls), at most once per `interval`, and at least once per `tick` because windows slide
and alerts resolve even when no mail arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from maillog_cli.alerts import notify, state
from maillog_cli.alerts.evaluate import STATES, Verdict, alert, evaluate
from maillog_cli.dates import now_utc
from maillog_cli.errors import MaillogError

if TYPE_CHECKING:
    from maillog_cli.alerts.rules import Rule
    from maillog_cli.store.db import Store

INTERVAL = 5.0  # seconds: at most one evaluation this often while events arrive
TICK = 60.0  # seconds: at least one evaluation this often (windows slide without events)
POLL = 0.5  # seconds between looks at the store's change counter


@dataclass
class Pass:
    """What one evaluation found and did."""

    now: datetime
    verdicts: list[Verdict]
    alerts: list[dict[str, Any]] = field(default_factory=list)  # the notices sent, as alerts
    sent: list[dict[str, Any]] = field(default_factory=list)  # per channel: ok or why not
    since: dict[tuple[str, str], str | None] = field(default_factory=dict)  # firing since

    @property
    def firing(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.firing]

    @property
    def failures(self) -> list[str]:
        return [s["error"] for s in self.sent if s["error"]]


def document(result: Pass, rules: list[Rule]) -> dict[str, Any]:
    """`check --format json`: the firing alerts, a line per rule, what was sent."""
    from maillog_cli.dates import format_dt

    firing = [
        alert(v, "firing", result.since.get((v.rule.name, v.key)), result.now)
        for v in result.firing
    ]
    per_rule = []
    for rule in rules:
        mine = [v for v in result.verdicts if v.rule is rule]
        per_rule.append(
            {
                "rule": rule.name,
                "definition": rule.describe(),
                "groups": len(mine),
                **{s: sum(v.state == s for v in mine) for s in STATES},
            }
        )
    return {
        "at": format_dt(result.now),
        "firing": len(firing),
        "alerts": firing,
        "rules": per_rule,
        "resolved": [a for a in result.alerts if a["state"] == "resolved"],
        "notifications": result.sent,
    }


def run_pass(
    store: Store,
    rules: list[Rule],
    now: datetime,
    write: notify.Write,
    send: bool = True,
) -> Pass:
    """Evaluate every rule at `now`; with `send`, notify what is due and record it."""
    result = Pass(now, evaluate(store, rules, now))
    if not send:
        return result
    notices = state.claim(store, rules, result.verdicts, now)
    failed: list[tuple[state.Notice, list[int]]] = []
    for n in notices:
        data = alert(n.verdict, n.kind, n.since, now)
        result.alerts.append(data)
        missed = []
        for position, channel in enumerate(n.verdict.rule.notify):
            if n.channels is not None and position not in n.channels:
                continue  # a retry goes only where the notice did not arrive
            error = notify.send(channel, data, write)
            if error:
                missed.append(position)
            result.sent.append(
                {
                    "rule": data["rule"],
                    "key": data["key"],
                    "state": data["state"],
                    "repeat": data["repeat"],
                    "channel": channel.label,
                    "error": error,
                }
            )
        if missed:
            failed.append((n, missed))
    state.record_failures(store, failed, now)
    result.since = {key: prev.since for key, prev in state.load(store).items()}
    return result


def watch(
    store: Store,
    rules: list[Rule],
    write: notify.Write,
    stop: Callable[[], bool],
    report: Callable[[Pass], None] = lambda p: None,
    interval: float = INTERVAL,
    tick: float = TICK,
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
    on_error: Callable[[MaillogError], None] | None = None,
) -> None:
    """Evaluate now, then whenever the store changed (at most every `interval` s) and at
    least every `tick` s, until `stop()` is true. `report` sees each pass; `on_error` a
    pass that failed (a store locked past $MAILLOG_LOCK_TIMEOUT …), which is tried again
    an interval later instead of ending the watch (without it, the error is raised)."""
    from maillog_cli.follow import Changes

    changes = Changes(store)
    last = float("-inf")
    dirty = True
    while not stop():
        if changes.changed():
            dirty = True
        t = time.monotonic()
        if (dirty and t - last >= interval) or t - last >= tick:
            dirty = False
            last = t
            try:
                result = run_pass(store, rules, clock(), write)
            except MaillogError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                dirty = True
                continue
            report(result)
            continue
        sleep(POLL)

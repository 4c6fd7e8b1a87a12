"""One pass over the rules (evaluate → decide → notify → remember), and the loop that
runs passes as events arrive: what `maillog check` runs once and `maillog watch` (and,
`serve --watch`, through `Background`: a thread of its own) runs until stopped.

Evaluating is a handful of index-backed aggregates per rule, so the loop simply
re-evaluates every rule when the store changed (`PRAGMA data_version`, as `tail --follow`
polls), at most once per `interval`, and at least once per `tick` because windows slide
and alerts resolve even when no mail arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maillog_cli.alerts import notify, state
from maillog_cli.alerts.evaluate import STATES, Verdict, alert, evaluate
from maillog_cli.dates import now_utc
from maillog_cli.errors import MaillogError

if TYPE_CHECKING:
    from maillog_cli.alerts.rules import Rule, RuleFile
    from maillog_cli.store.db import Store

INTERVAL = 5.0  # seconds: at most one evaluation this often while events arrive
TICK = 60.0  # seconds: at least one evaluation this often (windows slide without events)
POLL = 0.5  # seconds between looks at the store's change counter


class StoreReplaced(MaillogError):
    """The store's file was removed or replaced under a running watch: its passes would
    judge (and record alert state into) a file nobody reads again."""


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
    reload: Callable[[], list[Rule] | None] | None = None,
) -> None:
    """Evaluate now, then whenever the store changed (at most every `interval` s) and at
    least every `tick` s, until `stop()` is true. `report` sees each pass; `on_error` a
    pass that failed (a store locked past $MAILLOG_LOCK_TIMEOUT …), which is tried again
    an interval later instead of ending the watch (without it, the error is raised).
    `reload`, looked at before each evaluation, returns new rules when the config file
    changed (None when not) and raises MaillogError for a bad edit (reported through
    `on_error`; the rules in force stay). StoreReplaced when the store's file is no longer
    the one at its path (never passed to `on_error`: trying again cannot help)."""
    from maillog_cli.follow import Changes

    changes = Changes(store)
    last = float("-inf")
    dirty = True
    while not stop():
        moved = store.replaced()
        if moved:
            raise StoreReplaced(moved)
        if changes.changed():
            dirty = True
        if reload is not None:
            try:
                fresh = reload()
            except MaillogError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                fresh = None
            if fresh is not None:
                rules, dirty, last = fresh, True, float("-inf")  # judge the new rules now
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


def reloader(rule_file: RuleFile, say: Callable[[str], None]) -> Callable[[], list[Rule] | None]:
    """`watch`'s `reload` for a config file: the new rules when it changed, None when not
    (or when the edit is bad, which `say` reports with FILE:LINE, once per edit)."""

    def reload() -> list[Rule] | None:
        try:
            if not rule_file.changed():
                return None
        except MaillogError as exc:
            say(f"rules not reloaded: {exc}")
            return None
        n = len(rule_file.rules)
        say(f"reloaded {n} rule{'s' if n != 1 else ''} from {rule_file.path}")
        return rule_file.rules

    return reload


class Background:
    """`watch()` on its own thread with its own store connection, for `serve --watch`:
    the request path only calls `wake()` (after a commit), which costs nothing, so an
    evaluation or a slow notification never delays a 2xx."""

    def __init__(
        self,
        path: Path,
        rule_file: RuleFile,
        write: notify.Write,
        say: Callable[[str], None],
        interval: float = INTERVAL,
    ) -> None:
        self.path, self.rule_file, self.write, self.say = path, rule_file, write, say
        self.interval = interval
        self.stopping = threading.Event()
        self.woken = threading.Event()
        self.thread = threading.Thread(target=self._run, name="maillog-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self, *_: object) -> None:
        self.woken.set()

    def stop(self, timeout: float = 30) -> None:
        """End after the evaluation in progress (its notifications are bounded by their
        timeouts)."""
        self.stopping.set()
        self.woken.set()
        self.thread.join(timeout)

    def _sleep(self, seconds: float) -> None:
        self.woken.wait(seconds)
        self.woken.clear()

    def _report(self, result: Pass) -> None:
        for failure in result.failures:
            self.say(f"notification failed: {failure}")

    def _run(self) -> None:
        """Evaluate until stopped, reopening the store after a failure, but never a file
        that replaced it: serve still holds the old one open, and SQLite's journal files
        beside the path belong to that one until it closes (a second connection there
        reads the wrong store, and a restart is what makes the path safe again)."""
        from maillog_cli.store.db import Store, file_identity, replaced_since

        first = file_identity(self.path)
        while not self.stopping.is_set():
            try:
                moved = replaced_since(self.path, first)
                if moved:
                    raise StoreReplaced(moved)
                store = Store.open(self.path, create=False)
                try:
                    watch(
                        store,
                        self.rule_file.rules,
                        self.write,
                        stop=self.stopping.is_set,
                        report=self._report,
                        interval=self.interval,
                        sleep=self._sleep,
                        on_error=lambda exc: self.say(
                            f"alert evaluation failed, trying again: {exc}"
                        ),
                        reload=reloader(self.rule_file, self.say),
                    )
                finally:
                    store.close()
            except StoreReplaced as exc:
                self.say(f"{exc}; alerts are no longer evaluated: restart maillog serve")
                return
            except Exception as exc:  # noqa: BLE001 - the receiver must outlive its watcher
                self.say(f"alert evaluation failed, trying again: {type(exc).__name__}: {exc}")
                self.stopping.wait(self.interval)

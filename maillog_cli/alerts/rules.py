"""`[[alert]]` rules from the config file: read, validated, and refused with FILE:LINE.

```toml
[[alert]]
name = "gmail bounces"
metric = "bounce_rate"     # see metrics.METRICS
above = "5%"               # a rate, a count ("20") or a multiple of the baseline ("3x baseline")
window = "1h"
by = "domain"              # all (default) | domain | mailbox_provider | sender | provider | tag
min_messages = 50
notify = ["stdout"]        # stdout | stderr | json | "command:PATH ARGS" | "webhook:URL"
every = "1h"               # repeat no more often than this
```

Our additions (the keys above stay as they are): `below` instead of `above` (for
delivery_rate), `filter` (TUI filter words that narrow the messages a rule looks at:
`"domain:gmail.com tag:welcome"`) and `lookback` (how far before the window audit entries
are shown; default the window's length).

tomllib reports syntax errors with a line but knows no line for a value that is valid TOML
and a bad rule, so `_key_lines` finds the line of each `[[alert]]` table and its keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from maillog_cli.alerts.metrics import METRICS, SCOPES
from maillog_cli.alerts.notify import Channel, parse_channel
from maillog_cli.errors import MaillogError
from maillog_cli.store.query import Filters

KEYS: tuple[str, ...] = (
    "name",
    "metric",
    "above",
    "below",
    "window",
    "by",
    "min_messages",
    "notify",
    "every",
    "filter",
    "lookback",
)
BASELINE_DAYS = 7
MAX_WINDOW = timedelta(days=90)
DEFAULT_EVERY = "1h"
DEFAULT_MIN_MESSAGES = 1
SCOPE_ALIASES = {"mailbox-provider": "mailbox_provider", "mailbox": "mailbox_provider"}


@dataclass(frozen=True)
class Threshold:
    """What a value is compared with: a fraction ("5%"), a count ("20"), or a multiple of
    the baseline ("3x baseline"); `value` is exact so "at the threshold" is exact too."""

    kind: str  # rate | count | baseline
    value: Fraction
    text: str


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    condition: str  # above | below (strictly: > or <)
    threshold: Threshold
    window: timedelta
    window_text: str
    by: str = "all"
    min_messages: int = DEFAULT_MIN_MESSAGES
    notify: tuple[Channel, ...] = ()
    every: timedelta = timedelta(hours=1)
    every_text: str = DEFAULT_EVERY
    filters: Filters | None = None
    filter_text: str | None = None
    lookback: timedelta = timedelta(hours=1)
    line: int = 0  # of its [[alert]] table in the config file

    def describe(self) -> str:
        """`bounce_rate > 5% over 1h by domain min 50 messages` (the issue's own words)."""
        op = ">" if self.condition == "above" else "<"
        text = f"{self.metric} {op} {self.threshold.text} over {self.window_text}"
        if self.by != "all":
            text += f" by {self.by}"
        if self.filter_text:
            text += f" where {self.filter_text}"
        if self.min_messages > 1:
            text += f" min {self.min_messages} messages"
        return text


class RuleError(Exception):
    """What is wrong with one key of one rule (the loader adds the file and line)."""

    def __init__(self, key: str | None, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.key, self.message, self.hint = key, message, hint


# --- reading ------------------------------------------------------------------------------------


def load_rules(path: Path | None = None, require: bool = True) -> list[Rule]:
    """The config file's rules, validated; MaillogError naming FILE:LINE for the first bad one.

    `require`: no rule at all is an error (a cron job checking nothing would pass forever).
    """
    from maillog_cli.config import load_config, read_config_text
    from maillog_cli.paths import config_path

    p = path or config_path()
    config = load_config(p)
    raw = config.get("alert")
    if raw is None:
        if require:
            where = f"{p}" if p.exists() else f"{p} (no such file)"
            raise MaillogError(
                f"no [[alert]] rules in {where}",
                'add one, e.g. [[alert]] name = "bounces" metric = "bounce_rate"'
                ' above = "5%" window = "1h" (see docs/alerts.md)',
            )
        return []
    text = read_config_text(p) or ""
    lines = _key_lines(text)
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        line = _top_key_line(text, "alert")
        raise MaillogError(
            f"{p}:{line}: alert must be an array of tables", "write each rule as [[alert]]"
        )
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for n, table in enumerate(raw):
        start, keys = lines[n] if n < len(lines) else (_top_key_line(text, "alert"), {})
        try:
            rule = parse_rule(table, start)
        except RuleError as exc:
            line = keys.get(exc.key or "", start) if exc.key else start
            label = f" {table['name']!r}" if isinstance(table.get("name"), str) else f" #{n + 1}"
            prefix = f"{exc.key}: " if exc.key else ""
            raise MaillogError(
                f"{p}:{line}: [[alert]]{label}: {prefix}{exc.message}", exc.hint
            ) from None
        if rule.name in seen:
            raise MaillogError(
                f"{p}:{keys.get('name', start)}: [[alert]] {rule.name!r}: the name is also used"
                f" by the rule on line {seen[rule.name]}",
                "give every rule its own name (its state is kept under it)",
            )
        seen[rule.name] = start
        rules.append(rule)
    if not rules and require:
        raise MaillogError(f"no [[alert]] rules in {p}", "add one (see docs/alerts.md)")
    return rules


class RuleFile:
    """The rules of a config file that may be edited while `watch` runs: reloaded when the
    file changes (its mtime, size or inode), the last good rules kept when an edit is bad.
    The first load raises (start-up refuses a bad file); later ones report through
    `changed`, once per edit."""

    def __init__(self, path: Path | None = None) -> None:
        from maillog_cli.paths import config_path

        self.path = path or config_path()
        self.stamp = _stamp(self.path)
        self.rules = load_rules(self.path)

    def changed(self) -> bool:
        """True when the file changed and its new rules are now in force; MaillogError
        (with FILE:LINE) when it changed into something bad: the last good rules stay."""
        stamp = _stamp(self.path)
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        try:
            self.rules = load_rules(self.path)
        except MaillogError as exc:
            raise MaillogError(
                f"{exc.message} (keeping the {len(self.rules)} rule"
                f"{'s' if len(self.rules) != 1 else ''} loaded before)",
                exc.hint,
            ) from None
        return True


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


_TABLE = re.compile(r"^\s*\[\[\s*alert\s*\]\]\s*(#.*)?$")
_HEADER = re.compile(r"^\s*\[")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


def _key_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """Each `[[alert]]` table's line and the line of each of its keys, in file order."""
    tables: list[tuple[int, dict[str, int]]] = []
    current: dict[str, int] | None = None
    in_multiline = False
    for no, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            in_multiline = line.count('"""') % 2 == 0 and line.count("'''") % 2 == 0
            continue
        if _TABLE.match(line):
            current = {}
            tables.append((no, current))
            continue
        if _HEADER.match(line):
            current = None
            continue
        m = _KEY.match(line)
        if m and current is not None:
            current.setdefault(m.group(1).strip("\"'"), no)
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            in_multiline = True
    return tables


def _top_key_line(text: str, key: str) -> int:
    for no, line in enumerate(text.splitlines(), start=1):
        m = _KEY.match(line)
        if m and m.group(1).strip("\"'") == key:
            return no
    return 1


# --- validating one rule --------------------------------------------------------------------------


def parse_rule(table: dict[str, Any], line: int = 0) -> Rule:
    """One `[[alert]]` table as a Rule; RuleError naming the key that is wrong."""
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise RuleError(unknown[0], "is not a rule key", f"use: {', '.join(KEYS)}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError("name", "is missing or empty", 'give the rule a name: name = "bounces"')
    metric = _word(table, "metric", None)
    if metric not in METRICS:
        raise RuleError(
            "metric",
            f"{metric!r} is not a metric" if metric else "is missing",
            f"use one of: {', '.join(METRICS)}",
        )
    given = [k for k in ("above", "below") if k in table]
    if len(given) != 1:
        raise RuleError(
            given[1] if given else None,
            "give exactly one of above and below" if given else "has no threshold",
            'e.g. above = "5%", above = "20" or above = "3x baseline"',
        )
    condition = given[0]
    threshold = parse_threshold(table[condition], metric, condition)
    window_text = _text(table, "window", None)
    if window_text is None:
        raise RuleError("window", "is missing", 'e.g. window = "1h" (15m, 24h, 7d …)')
    window = parse_span(window_text, "window")
    if window > MAX_WINDOW:
        raise RuleError("window", f"{window_text!r} is longer than 90 days", "use a shorter one")
    if threshold.kind == "baseline" and window > timedelta(days=1):
        raise RuleError(
            "above" if condition == "above" else "below",
            f"a baseline compares {window_text} with the same {window_text} on each of the"
            f" previous {BASELINE_DAYS} days, so the window can be at most 24h",
            'use window = "24h" or shorter, or a fixed threshold ("5%")',
        )
    by = _word(table, "by", "all") or "all"
    by = SCOPE_ALIASES.get(by, by)
    if by not in SCOPES:
        raise RuleError("by", f"{by!r} is not a scope", f"use one of: {', '.join(SCOPES)}")
    min_messages = table.get("min_messages", DEFAULT_MIN_MESSAGES)
    if isinstance(min_messages, bool) or not isinstance(min_messages, int) or min_messages < 0:
        raise RuleError("min_messages", f"{min_messages!r} is not a whole number of messages")
    notify = table.get("notify", ["stdout"])
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not notify or not all(isinstance(n, str) for n in notify):
        raise RuleError("notify", "must be a list of strings", 'e.g. notify = ["stdout"]')
    channels = []
    for item in notify:
        try:
            channels.append(parse_channel(item))
        except ValueError as exc:
            raise RuleError("notify", str(exc), _NOTIFY_FORMS) from None
    every_text = _text(table, "every", DEFAULT_EVERY) or DEFAULT_EVERY
    every = parse_span(every_text, "every")
    filter_text = _text(table, "filter", None)
    filters = parse_filter(filter_text) if filter_text else None
    lookback_text = _text(table, "lookback", None)
    lookback = parse_span(lookback_text, "lookback") if lookback_text else window
    return Rule(
        name=name.strip(),
        metric=metric,
        condition=condition,
        threshold=threshold,
        window=window,
        window_text=window_text.strip(),
        by=by,
        min_messages=min_messages,
        notify=tuple(channels),
        every=every,
        every_text=every_text.strip(),
        filters=filters,
        filter_text=filter_text,
        lookback=lookback,
        line=line,
    )


_NOTIFY_FORMS = (
    'use "stdout", "stderr", "json", "command:/path/to/program ARGS" or "webhook:https://…"'
)


def _text(table: dict[str, Any], key: str, default: str | None) -> str | None:
    value = table.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RuleError(key, f"{value!r} is not text", f'write it in quotes: {key} = "…"')
    return value


def _word(table: dict[str, Any], key: str, default: str | None) -> str | None:
    value = _text(table, key, default)
    return value.strip().lower() if value else value


def parse_span(text: str, key: str) -> timedelta:
    """A window or interval: 15m, 1h, 24h, 7d (months and years have no fixed length)."""
    from maillog_cli.dates import parse_duration

    try:
        rd = parse_duration(text)
    except ValueError:
        raise RuleError(key, f"{text!r} is not a duration", "e.g. 15m, 1h, 24h, 7d") from None
    if rd.years or rd.months:
        raise RuleError(key, f"{text!r}: months and years vary in length", "use days: 30d")
    span = timedelta(days=rd.days, hours=rd.hours, minutes=rd.minutes, seconds=rd.seconds)
    if span <= timedelta(0):
        raise RuleError(key, f"{text!r} is no time at all", "e.g. 15m, 1h, 24h")
    return span


_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_BASELINE = re.compile(r"^(\d+(?:\.\d+)?)\s*[x×]\s*(?:the\s+)?(?:baseline)?$")


def parse_threshold(value: Any, metric: str, key: str) -> Threshold:
    """ "5%" (a rate metric), "20" or 20 (a count metric), "3x baseline" (either)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RuleError(key, f"{value!r} is not a threshold", '"5%", "20" or "3x baseline"')
    text = str(value).strip().lower()
    is_rate = METRICS[metric].per is not None
    m = _BASELINE.match(text)
    if m and ("baseline" in text or "x" in text or "×" in text):
        factor = Fraction(m.group(1))
        if factor <= 0:
            raise RuleError(key, f"{value!r}: the multiple must be above 0")
        return Threshold("baseline", factor, f"{m.group(1)}x baseline")
    m = _PERCENT.match(text)
    if m:
        if not is_rate:
            raise RuleError(
                key, f"{metric} is a count, not a rate", f'give a number of messages: {key} = "20"'
            )
        pct = Fraction(m.group(1))
        if pct > 100:
            raise RuleError(key, f"{value!r} is more than 100%")
        return Threshold("rate", pct / 100, f"{m.group(1)}%")
    if _NUMBER.match(text):
        if is_rate:
            raise RuleError(
                key,
                f"{metric} is a rate: {value!r} needs a % sign",
                f'e.g. {key} = "5%" (or "0.1%")',
            )
        if "." in text:
            raise RuleError(key, f"{value!r}: a count is a whole number")
        return Threshold("count", Fraction(text), text)
    raise RuleError(
        key,
        f"{value!r} is not a threshold",
        '"5%" for a rate, "20" for a count, "3x baseline" for a multiple of the usual',
    )


def parse_filter(text: str) -> Filters:
    """`filter = "domain:gmail.com tag:welcome"`: the TUI's filter words; no dates (the
    window is the rule's) and no free text (it would scan every event)."""
    from maillog_cli.store.query import parse_words

    try:
        filters = parse_words(text)
    except MaillogError as exc:
        raise RuleError("filter", exc.message, exc.hint) from None
    if filters.since or filters.until:
        raise RuleError("filter", "since: and until: do not apply", "the window sets the time")
    if filters.text:
        raise RuleError(
            "filter",
            f"{filters.text!r} is not a filter word",
            "use words like domain:gmail.com from:app@x.com provider:ses tag:welcome",
        )
    return filters

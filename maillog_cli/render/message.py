"""One message for a person: what `show` prints and the TUI detail screen shows."""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.text import Text

from maillog_cli.message_detail import MessageDetail
from maillog_cli.render.format import short_time
from maillog_cli.render.output import status_text, visible


class Fields:
    """Label/value lines: every value starts two cells after the longest label ("Also
    known as"), and a long value wraps under itself, never at column 0 — without the
    trailing padding a table would add."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Text]] = []

    def add(self, label: str, value: Text) -> None:
        self.rows.append((label, value))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        indent = max((len(label) for label, _ in self.rows), default=0) + 2
        width = max(20, options.max_width - indent)
        for label, value in self.rows:
            for i, part in enumerate(value.wrap(console, width, overflow="fold")):
                out = Text(label.ljust(indent), style="bold") if i == 0 else Text(" " * indent)
                out.append_text(part)
                out.rstrip()
                yield out


def message_view(detail: MessageDetail) -> Group:
    """The header lines, the timeline and (for a bounce) why and what to do."""
    m = detail.message
    head = Fields()

    def line(label: str, value: Any, style: str = "") -> None:
        if value in (None, ""):
            return
        head.add(label, Text(visible(value), style=style))

    line("Message-ID", detail.message_id)
    line("Also known as", ", ".join(detail.aliases))
    line("From", m.get("sender"))
    people = detail.recipients()
    if len(people) > 1:
        head.add("To", recipients_text(people))
    else:
        line("To", m.get("recipient"))
    line("Subject", m.get("subject"))
    line("Provider", m.get("provider"))
    line("Type", m.get("type"))
    line("Tags", ", ".join(detail.tags()))
    line("Sent via", m.get("send_method"))
    line("First seen", short_time(m.get("first_seen")))
    if m.get("last_status"):
        status = status_text(m["last_status"])
        if m.get("bounce_class"):
            status.append(f"  ({visible(m['bounce_class'])}: {visible(m.get('bounce_reason'))})")
        head.add("Status", status)
    line("Opened", engagement(m.get("open_count"), m.get("opened_at"), m.get("last_opened_at")))
    line("Clicked", engagement(m.get("click_count"), m.get("clicked_at"), m.get("last_clicked_at")))
    for key, label in (
        ("complained_at", "Complained"),
        ("unsubscribed_at", "Unsubscribed"),
    ):
        line(label, short_time(m.get(key)))
    auth = [f"{k.upper()}={m[k]}" for k in ("spf", "dkim", "dmarc") if m.get(k)]
    line("Auth", " ".join(auth))
    line("Size", f"{m['size']} bytes" if m.get("size") else None)
    line(
        "Content",
        "stored (maillog show --raw, maillog resend)" if m.get("has_content") else "not stored",
    )
    line("Resent from", m.get("resent_from"))
    line("Resent as", ", ".join(detail.resends))
    explain = explanation(detail)
    parts: list[Any] = [head, timeline(detail)]
    if explain is not None:
        parts.append(explain)
    return Group(*parts)


def recipients_text(people: list[dict[str, Any]]) -> Text:
    """ "alice@x delivered, bob@y bounced (hard)": each recipient's own fate."""
    t = Text()
    for i, p in enumerate(people):
        if i:
            t.append(", ")
        t.append(visible(p["recipient"]))
        if p["status"]:
            t.append(" ")
            t.append_text(status_text(p["status"]))
            if p.get("bounce_class"):
                t.append(f" ({visible(p['bounce_class'])})")
    return t


def engagement(count: int | None, first: str | None, last: str | None) -> str | None:
    """ "3 times, first 2026-11-12 10:00:00, last 2026-11-13 08:12:00" (None when never)."""
    if not first:
        return None
    n = count or 1
    if n == 1 or not last or last == first:
        return short_time(first) + (f" ({n} times)" if n > 1 else "")
    return f"{n} times, first {short_time(first)}, last {short_time(last)}"


def timeline(detail: MessageDetail) -> Text:
    """One line per event (time, status, the provider's word, code, class/reason, and the
    recipient when it is not the message's), its diagnostic indented below it."""
    main = detail.message.get("recipient")
    t = Text()
    t.append("\nTimeline\n", style="bold")
    for e in detail.events:
        t.append(short_time(e.get("timestamp"), "millisecond"), style="dim")
        t.append("  ")
        word = status_text(e.get("status"))
        word.pad_right(11 - len(word.plain))
        t.append_text(word)
        if e.get("raw_status") and e["raw_status"] != e.get("status"):
            t.append(f" ({visible(e['raw_status'])})", style="dim")
        code = " ".join(str(x) for x in (e.get("smtp_code"), e.get("enhanced_code")) if x)
        if code:
            t.append(f"  {code}")
        if e.get("bounce_class"):
            t.append(f"  {visible(e['bounce_class'])}/{visible(e.get('bounce_reason'))}")
        if e.get("recipient") and e["recipient"] != main:
            t.append(f"  → {visible(e['recipient'])}")
        if e.get("provider") and e["provider"] != detail.message.get("provider"):
            t.append(f"  [{visible(e['provider'])}]", style="dim")
        t.append("\n")
        if e.get("diagnostic"):
            t.append(f"    {visible(e['diagnostic'])}\n", style="italic")
    return t


def explanation(detail: MessageDetail) -> Text | None:
    """Why it bounced and what to do, for the latest bounce-like event."""
    found = detail.explanation()
    if found is None:
        return None
    e, info = found
    t = Text()
    t.append("\nWhy: ", style="bold")
    t.append(f"{e['bounce_reason']} ({e.get('bounce_class')}): {info.meaning}\n")
    t.append("What to do: ", style="bold")
    t.append(info.action)
    return t

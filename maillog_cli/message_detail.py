"""One message and its whole timeline: what `show` prints and the TUI detail screen shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from maillog_cli.model import EVENT_KEYS
from maillog_cli.store.db import Store


@dataclass
class MessageDetail:
    message_id: str
    message: dict[str, Any]
    events: list[dict[str, Any]]
    aliases: list[str] = field(default_factory=list)
    resends: list[str] = field(default_factory=list)
    raw: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        msg = dict(self.message)
        msg["headers"] = orjson.loads(msg["headers"]) if msg.get("headers") else None
        msg["tags"] = orjson.loads(msg["tags"]) if msg.get("tags") else []
        msg.pop("last_seq", None)  # the store's bookkeeping, not a fact
        return {
            "message": msg,
            "aliases": self.aliases,
            "resends": self.resends,
            "events": [{k: e.get(k) for k in EVENT_KEYS} for e in self.events],
        }

    def renderable(self):  # -> rich Group
        from rich.console import Group
        from rich.text import Text

        from maillog_cli.render.output import status_text, visible

        m = self.message
        head = Text()

        def line(label: str, value: Any, style: str = "") -> None:
            if value in (None, ""):
                return
            head.append(f"{label:<13}", style="bold")
            head.append(visible(value), style=style)
            head.append("\n")

        line("Message-ID", self.message_id)
        line("Also known as", ", ".join(self.aliases))
        line("From", m.get("sender"))
        line("To", m.get("recipient"))
        line("Subject", m.get("subject"))
        line("Provider", m.get("provider"))
        line("Type", m.get("type"))
        tags = orjson.loads(m["tags"]) if m.get("tags") else ([m["tag"]] if m.get("tag") else [])
        line("Tags", ", ".join(tags))
        line("Sent via", m.get("send_method"))
        line("First seen", (m.get("first_seen") or "")[:19].replace("T", " "))
        if m.get("last_status"):
            head.append(f"{'Status':<13}", style="bold")
            head.append_text(status_text(m["last_status"]))
            if m.get("bounce_class"):
                head.append(f"  ({visible(m['bounce_class'])}: {visible(m.get('bounce_reason'))})")
            head.append("\n")
        line(
            "Opened", _engagement(m.get("open_count"), m.get("opened_at"), m.get("last_opened_at"))
        )
        line(
            "Clicked",
            _engagement(m.get("click_count"), m.get("clicked_at"), m.get("last_clicked_at")),
        )
        for key, label in (
            ("complained_at", "Complained"),
            ("unsubscribed_at", "Unsubscribed"),
        ):
            line(label, (m.get(key) or "")[:19].replace("T", " "))
        auth = [f"{k.upper()}={m[k]}" for k in ("spf", "dkim", "dmarc") if m.get(k)]
        line("Auth", " ".join(auth))
        line("Size", f"{m['size']} bytes" if m.get("size") else None)
        line(
            "Content",
            "stored (maillog show --raw, maillog resend)" if m.get("has_content") else "not stored",
        )
        line("Resent from", m.get("resent_from"))
        line("Resent as", ", ".join(self.resends))
        explain = self._explanation()
        timeline = self._timeline()
        parts: list[Any] = [head, timeline]
        if explain is not None:
            parts.append(explain)
        return Group(*parts)

    def _timeline(self):
        """One line per event (time, status, the provider's word, code, class/reason, and the
        recipient when it is not the message's), its diagnostic indented below it."""
        from rich.text import Text

        from maillog_cli.render.output import status_text, visible

        main = self.message.get("recipient")
        t = Text()
        t.append("\nTimeline\n", style="bold")
        for e in self.events:
            t.append((e.get("timestamp") or "")[:23].replace("T", " "), style="dim")
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
            if e.get("provider") and e["provider"] != self.message.get("provider"):
                t.append(f"  [{visible(e['provider'])}]", style="dim")
            t.append("\n")
            if e.get("diagnostic"):
                t.append(f"    {visible(e['diagnostic'])}\n", style="italic")
        return t

    def _explanation(self):
        """Why it bounced and what to do, for the latest bounce-like event."""
        from rich.text import Text

        from maillog_cli.bounce.classify import REASONS

        for e in reversed(self.events):
            reason = e.get("bounce_reason")
            if reason and reason in REASONS:
                info = REASONS[reason]
                t = Text()
                t.append("\nWhy: ", style="bold")
                t.append(f"{reason} ({e.get('bounce_class')}): {info.meaning}\n")
                t.append("What to do: ", style="bold")
                t.append(info.action)
                return t
        return None


def _short(ts: str | None) -> str:
    return (ts or "")[:19].replace("T", " ")


def _engagement(count: int | None, first: str | None, last: str | None) -> str | None:
    """ "3 times, first 2026-11-12 10:00:00, last 2026-11-13 08:12:00" (None when never)."""
    if not first:
        return None
    n = count or 1
    if n == 1 or not last or last == first:
        return f"{_short(first)}" + (f" ({n} times)" if n > 1 else "")
    return f"{n} times, first {_short(first)}, last {_short(last)}"


def load_message(store: Store, ident: str) -> MessageDetail | None:
    """Everything about one message, by any of its identities."""
    mid = store.resolve_message_id(ident)
    if mid is None:
        return None
    conn = store.conn
    cur = conn.execute("SELECT * FROM messages WHERE message_id = ?", (mid,))
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    message = dict(zip(names, row, strict=True)) if row else {"message_id": mid}
    cur = conn.execute(
        f"SELECT seq, {', '.join(EVENT_KEYS)} FROM events WHERE message_id = ? ORDER BY timestamp, seq",
        (mid,),
    )
    names = [d[0] for d in cur.description]
    events = [dict(zip(names, r, strict=True)) for r in cur]
    aliases = [
        r[0]
        for r in conn.execute(
            "SELECT alias FROM message_aliases WHERE message_id = ? ORDER BY alias", (mid,)
        )
    ]
    resends = [
        r[0]
        for r in conn.execute(
            "SELECT message_id FROM messages WHERE resent_from = ? ORDER BY first_seen", (mid,)
        )
    ]
    raw_row = conn.execute(
        "SELECT raw FROM message_content WHERE message_id = ?", (mid,)
    ).fetchone()
    return MessageDetail(mid, message, events, aliases, resends, raw_row[0] if raw_row else None)

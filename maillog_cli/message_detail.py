"""One message and its whole timeline, read from the store (render/message.py shows it)."""

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
            "recipients": self.recipients(),
            "events": [{k: e.get(k) for k in EVENT_KEYS} for e in self.events],
        }

    def tags(self) -> list[str]:
        """Every tag of the message (stored as a JSON list); an older row's single tag."""
        m = self.message
        return orjson.loads(m["tags"]) if m.get("tags") else ([m["tag"]] if m.get("tag") else [])

    def recipients(self) -> list[dict[str, Any]]:
        """Each recipient's own latest lifecycle status, in the order they first appear.

        One email to several people has one row but as many fates (delivered to one,
        bounced for another); the message's status alone is only the latest of them.
        """
        from maillog_cli.statuses import LIFECYCLE_RANK

        latest: dict[str, dict[str, Any] | None] = {}
        for e in self.events:  # ordered by time, then seq
            who = e.get("recipient")
            if not who:
                continue
            now = latest.setdefault(who, None)
            rank = LIFECYCLE_RANK.get(e.get("status") or "")
            if rank is None:
                continue
            if now is None or e["timestamp"] > now["timestamp"] or rank >= now["rank"]:
                latest[who] = {**e, "rank": rank}
        return [
            {
                "recipient": who,
                "status": e and e["status"],
                "bounce_class": e and e.get("bounce_class"),
                "bounce_reason": e and e.get("bounce_reason"),
            }
            for who, e in latest.items()
        ]

    def explanation(self) -> tuple[dict[str, Any], Any] | None:
        """The latest bounce-like event whose reason has advice, and that advice (why, what to do)."""
        from maillog_cli.bounce.rules import REASONS  # the table alone: classify compiles regexes

        for e in reversed(self.events):
            reason = e.get("bounce_reason")
            if reason and reason in REASONS:
                return e, REASONS[reason]
        return None


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

"""The one canonical status vocabulary, its CLI aliases and its display colours."""

from __future__ import annotations

STATUSES: tuple[str, ...] = (
    "queued",
    "sent",
    "delivered",
    "deferred",
    "bounced",
    "dropped",
    "failed",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "forwarded",
    "processed",
    "rejected",
)

ALIASES: dict[str, str] = {
    "spam": "complained",
    "bounce": "bounced",
    "suppressed": "dropped",
    "delayed": "deferred",
    "open": "opened",
    "click": "clicked",
}

# Engagement follows delivery; it never replaces a message's lifecycle status.
ENGAGEMENT: frozenset[str] = frozenset({"opened", "clicked", "complained", "unsubscribed"})
LIFECYCLE: tuple[str, ...] = tuple(s for s in STATUSES if s not in ENGAGEMENT)
BOUNCE_STATUSES: frozenset[str] = frozenset({"bounced", "deferred", "dropped", "failed"})

# When two lifecycle events share a timestamp, the later stage wins.
LIFECYCLE_RANK: dict[str, int] = {
    "queued": 1,
    "sent": 2,
    "processed": 2,
    "deferred": 3,
    "delivered": 4,
    "forwarded": 4,
    "bounced": 5,
    "dropped": 5,
    "failed": 5,
    "rejected": 5,
}

COLOURS: dict[str, str] = {
    "queued": "grey50",
    "sent": "cyan",
    "delivered": "green",
    "deferred": "yellow",
    "bounced": "red",
    "dropped": "magenta",
    "failed": "bright_red",
    "complained": "red",
    "opened": "blue",
    "clicked": "blue",
    "unsubscribed": "dark_orange",
    "forwarded": "green",
    "processed": "cyan",
    "rejected": "red",
}


def canonical_status(word: str | None) -> str | None:
    """Map a canonical name or alias (any case) to the canonical status; None if unknown."""
    if not isinstance(word, str):
        return None
    w = word.strip().lower()
    if w in ALIASES:
        return ALIASES[w]
    return w if w in COLOURS else None

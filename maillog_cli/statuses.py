"""The one canonical status vocabulary, its CLI aliases, the providers' own words and
the display colours.

Every status word maillog reads — a column of a generic log, a `--status` on the command
line, a `status:` filter word in the TUI — goes through `canonical_status`, so a word a
provider shows its users ("Delivery failed", "Failed - Bounce") means the same thing
wherever it is typed. Importers with a format of their own keep a STATUS_MAP for words
whose meaning depends on that format (SendGrid's `processed` is not an inbound `processed`).
"""

from __future__ import annotations

import re
from functools import lru_cache

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

# The words providers and application logs use for a status, beyond the canonical names and
# ALIASES, spelled as the source shows them. They are looked up in `status_key` form (lower
# case, words separated by one space), so "Failed - Bounce", "failed_bounce" and
# "failedBounce" are one word.
PROVIDER_WORDS: dict[str, str] = {
    # common words of application logs and exports
    "accepted": "queued",
    "send": "sent",
    "delivery": "delivered",
    "hard_bounce": "bounced",
    "soft_bounce": "bounced",
    "hardbounce": "bounced",
    "softbounce": "bounced",
    "deferral": "deferred",
    "delay": "deferred",
    "blocked": "dropped",
    "reject": "dropped",
    "error": "failed",
    "spamreport": "complained",
    "spam_report": "complained",
    "complaint": "complained",
    "unsubscribe": "unsubscribed",
    "unsub": "unsubscribed",
    # NotificationAPI log states and events: a request is received, then validated and about
    # to be sent; `success` means delivered to every channel; `Ignored` is a preference,
    # setting or plan limit that kept it from being sent.
    "Received": "queued",
    "Sending": "queued",
    "success": "delivered",
    "failure": "failed",
    "Ignored": "dropped",
    "Failed - Bounce": "bounced",  # the recipient's server permanently rejected it
    "Failed - Delivery Delay": "deferred",  # a temporary issue; retried
    # Plutio's email log: `Send failed` never left Plutio (`Failed` is a failure after sending)
    "Send failed": "failed",
    # Cloudflare's dashboard wording of `deliveryFailed`: the destination refused it
    "Delivery failed": "bounced",
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


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def status_key(word: str) -> str:
    """A status word in the one form the tables use: `Failed - Bounce`, `failed_bounce`
    and `failedBounce` → `failed bounce`."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", word).lower()).strip()


_PROVIDER_KEYS: dict[str, str] = {status_key(w): s for w, s in PROVIDER_WORDS.items()}


@lru_cache(maxsize=1024)
def _lookup(word: str) -> str | None:
    key = status_key(word)
    if key in COLOURS:
        return key
    return ALIASES.get(key) or _PROVIDER_KEYS.get(key)


def canonical_status(word: str | None) -> str | None:
    """The canonical status a canonical name, alias or provider word (any case, any
    separators) stands for; None if unknown."""
    if not isinstance(word, str):
        return None
    return _lookup(word)


def is_provider_word(word: str | None) -> bool:
    """True for a provider's own word (not a canonical name or alias): the raw word worth
    keeping next to the canonical status it stands for."""
    if not isinstance(word, str):
        return False
    key = status_key(word)
    return key not in COLOURS and key not in ALIASES and key in _PROVIDER_KEYS

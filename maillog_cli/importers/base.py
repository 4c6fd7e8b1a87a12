"""What an importer module is, and the context the pipeline hands it.

An importer is a small module in `maillog_cli/importers/` with:

    NAME: str                 the --format name ("sendgrid", "ses", …)
    PROVIDER: str | None      the provider slug it produces (None: taken from the data)
    SIGNATURE: str            how it is recognised, for `import --list-formats`
    SHAPES: str               the shapes it accepts, for the README table
    def detect(obj: dict) -> bool                  JSON records (optional)
    def detect_header(columns: list[str]) -> bool  CSV headers (optional)
    def parse(obj: dict, ctx: Context) -> Iterable[Event | AuditEntry | Skip]

`parse` raises `RecordError` (or any ValueError/KeyError/TypeError, which the
pipeline reports the same way) for a record it recognised but cannot read.
Importers never touch the store and never print.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from maillog_cli.dates import to_iso
from maillog_cli.errors import RecordError
from maillog_cli.model import AuditEntry, Event, Skip
from maillog_cli.normalize import event_hash, message_id
from maillog_cli.statuses import is_provider_word, status_key

Parsed = Event | AuditEntry | Skip


@dataclass(slots=True)
class Context:
    """Per-import settings an importer may need."""

    default_tz: tzinfo | None = None  # --tz: zone for times that carry none
    field_map: dict[str, str] = field(default_factory=dict)  # --map col=field (generic)
    year: int | None = None  # --year: the year of a year-less syslog file's first line

    def time(self, value: Any) -> str:
        """The one timestamp rule, with this import's --tz."""
        return to_iso(value, self.default_tz)


def require(obj: dict[str, Any], key: str) -> Any:
    """obj[key], or a RecordError naming the missing key."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None or value == "":
        raise RecordError(f"missing {key!r}")
    return value


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """A nested object the format promises, or a RecordError."""
    if not isinstance(value, dict):
        raise RecordError(f"{what} is not an object")
    return value


def finish(event: Event) -> Event:
    """Fill the stable event id when the source has none (docs/providers.md, "Event id"),
    then a synthetic message id for a row that names no message (so it is a message that
    `stats`, `show` and `search --messages` count). The event id is computed first, as it
    always was, so re-importing an old file into an old store adds nothing."""
    if not event.event_id:
        event.event_id = event_hash(
            event.provider, event.message_id, event.timestamp, event.raw_status, event.recipient
        )
    if not event.message_id:
        event.message_id = synthetic_message_id(event)
    return event


SYNTHETIC_PREFIX = "noid-"


def synthetic_message_id(event: Event, *more: str) -> str:
    """The stable id of a message its source does not name: `noid-` and a hash of the facts
    any source of the same email shows alike (recipient, sender, subject, the time to the
    second), never of the provider or status. The same row imported twice, or from two
    exports, is one message; rows that differ in any of these facts are separate messages.
    `more`: facts that tell apart attempts these do not (the client a mail server refused:
    two clients refused for one recipient in the same second are two emails).
    The prefix keeps it apart from real ids (a provider's id or a Message-ID's local@domain)."""
    key = "\x1f".join(
        (
            event.recipient or "",
            event.sender or "",
            " ".join((event.subject or "").split()),
            event.timestamp[:19],
            *more,
        )
    )
    return SYNTHETIC_PREFIX + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def map_status(table: dict[str, str | None], word: Any, what: str = "event") -> str | None:
    """Look a provider word up in its status table.

    Returns the canonical status, or None for words the table maps to None (skip);
    raises RecordError for words the table does not know.
    """
    if not isinstance(word, str) or word not in table:
        raise RecordError(f"unknown {what} {word!r}")
    return table[word]


# The keys under which a sending library leaves its own id for the email in the provider's
# custom args / metadata (django-anymail's `anymail_id`), so that its events can be joined.
CUSTOM_ID_KEYS = ("anymail_id", "anymail-id")


def status_word_hint(word: Any, status: str) -> str | None:
    """A bounce's status word as the classifier's provider verdict (step 5b of
    docs/bounces.md, labels `generic:<word>`): an export whose only word is "Hard Bounce" or
    "Soft Bounce" still tells hard from soft."""
    if status != "bounced" or not is_provider_word(word):
        return None  # "bounced" itself says nothing more than the status
    return f"generic:{status_key(word)}"


def custom_ids(*places: Any) -> list[Any]:
    """The sender's own ids for the email found in custom args or metadata: each place is
    an object (or JSON text of one, or None); a value may be a one-element list (SES tags)."""
    found: list[Any] = []
    for place in places:
        if isinstance(place, str) and place.lstrip().startswith("{"):
            try:
                place = json.loads(place)
            except ValueError:
                continue
        if not isinstance(place, dict):
            continue
        for key in CUSTOM_ID_KEYS:
            value = place.get(key)
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if isinstance(value, str):
                found.append(value)
    return found


def other_ids(primary: str | None, *ids: Any) -> tuple[str, ...]:
    """The other identities of one email (Event.aliases): normalised like a message id,
    each once, never the message id itself."""
    out = dict.fromkeys(m for i in ids if (m := message_id(i)) is not None and m != primary)
    return tuple(out)


def header_message_ids(headers: Any, name_key: str = "name", value_key: str = "value") -> list[Any]:
    """The Message-ID values in a provider's list of header objects (`[{name, value}]`; the
    key names differ by provider: SES `name`/`value`, Postmark `Name`/`Value`)."""
    if not isinstance(headers, list):
        return []
    return [
        h.get(value_key)
        for h in headers
        if isinstance(h, dict) and str(h.get(name_key, "")).lower() == "message-id"
    ]

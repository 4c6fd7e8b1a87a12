"""Generic CSV/JSONL: columns mapped by common names, or by `--map col=field`.

For application logs and exports no provider format covers. A record is recognised when
it has (after `--map`) a time, a status and a recipient; the status word must be one
maillog knows (canonical, alias, or one of the common words below).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import orjson

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import (
    Context,
    Parsed,
    finish,
    status_word_hint,
    synthetic_message_id,
)
from maillog_cli.importers.columns import find_columns, norm_key
from maillog_cli.model import Event
from maillog_cli.normalize import (
    address,
    message_id,
    reply_fields,
    send_method,
    tag_list,
    text_or_none,
)
from maillog_cli.statuses import ENGAGEMENT, PROVIDER_WORDS, canonical_status

NAME = "generic"
PROVIDER = None
SIGNATURE = "a time, a status and a recipient column under common names (email/to/recipient, status/event, timestamp/date/created_at …); --map col=field for the rest"
SHAPES = "JSONL, JSON array, CSV (last resort; force with --format generic)"

# canonical field → the column names that commonly hold it (first present wins; names are
# compared in columns.norm_key form, so `Sent time`, `sentTime` and `sent_time` are one).
# A column serves one field: the first field in this order that names it.
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "timestamp": (
        "timestamp",
        "date",
        "created_at",
        "time",
        "datetime",
        "ts",
        "event_time",
        "occurred_at",
        "sent_at",
        "sent_time",
        "send_time",
        "sent_date",
        "@timestamp",
    ),
    "status": ("status", "event", "event_type", "type", "state", "delivery_status"),
    "recipient": (
        "recipient",
        "email",
        "to",
        "rcpt",
        "rcpt_to",
        "address",
        "email_address",
        "recipient_email",
    ),
    "message_id": ("message_id", "message-id", "messageid", "msg_id", "smtp-id", "smtp_id"),
    "event_id": ("event_id", "event-id", "eventid"),
    "sender": ("sender", "from", "from_email", "mail_from"),
    "subject": ("subject",),
    "diagnostic": (
        "diagnostic",
        "response",
        "smtp_response",
        "reason",
        "error",
        "errors",
        "error_message",
        "message",
    ),
    "smtp_code": ("smtp_code", "code", "status_code", "response_code"),
    "enhanced_code": ("enhanced_code", "enhanced_status"),
    "provider": ("provider", "service"),
    # Message-level facts. `type` is the message type only beside a `status` column (without
    # one it is the status word, above).
    "tags": ("tags", "tag", "category", "categories"),
    "type": ("message_type", "email_type", "mail_type", "type"),
    "size": ("size", "message_size", "msg_size", "size_bytes"),
    "send_method": ("send_method", "sent_via", "send_via"),
    # An email log's counts and first open (one row per email, e.g. Plutio's): the counts
    # become the message's open/click counts, the time an `opened` event.
    "open_count": ("open_count", "opens_count", "opens", "opened_count", "number_of_opens"),
    "click_count": ("click_count", "clicks_count", "clicks", "clicked_count"),
    "opened_at": ("opened_at", "first_opened_at", "first_open", "opened_time"),
}
FIELDS = tuple(COMMON_NAMES)
# The status words beyond the canonical names and aliases: the one table in statuses.py
# (named here for the generated docs' table of this importer's words).
STATUS_MAP: dict[str, str] = PROVIDER_WORDS


def status_of(word: Any) -> str | None:
    return canonical_status(word)


def _columns(keys: Iterable[str], field_map: dict[str, str]) -> dict[str, str]:
    """canonical field → the record's key holding it (worked out once per set of keys:
    a log's records share theirs)."""
    return dict(_columns_of(tuple(keys), tuple(field_map.items())))


@lru_cache(maxsize=256)
def _columns_of(
    keys: tuple[str, ...], pinned: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    return tuple(find_columns(keys, COMMON_NAMES, dict(pinned)).items())


REQUIRED = ("timestamp", "status", "recipient")


def _recognised(cols: dict[str, str]) -> bool:
    return all(f in cols for f in REQUIRED)


def missing_fields(
    columns: Iterable[str], field_map: dict[str, str], *, forced: bool = True
) -> str | None:
    """What a record or CSV header lacks to be read as generic, and the --map that fixes
    it: "no timestamp column: name yours with --map when=timestamp, or call it timestamp,
    date or created_at". None when nothing is missing."""
    columns = [str(c) for c in columns]
    cols = _columns(columns, field_map)
    lacking = [f for f in REQUIRED if f not in cols]
    if not lacking:
        return None
    field_ = lacking[0]
    claimed = set(cols.values())
    spare = next((c for c in columns if c not in claimed), "COLUMN")
    # a column name is the file's text: only a short plain one is echoed (a 5 MB header
    # cell made a 5 MB error line)
    plain = spare.replace("_", "").replace("-", "").isalnum() and len(spare) <= 40
    example = spare if plain else "COLUMN"
    names = COMMON_NAMES[field_]
    flag = "--map" if forced else "--format generic --map"
    return (
        f"no {' and no '.join(lacking)} column: name yours with {flag} {example}={field_}, "
        f"or call it {', '.join(names[:2])} or {names[2]}"
    )


def detect(obj: dict[str, Any]) -> bool:
    cols = _columns(obj, {})
    return _recognised(cols) and status_of(obj.get(cols["status"])) is not None


def detect_header(columns: list[str]) -> bool:
    return _recognised(_columns(columns, {}))


def fits(obj: dict[str, Any], ctx: Context) -> bool:
    """Under --format generic: recognised once the --map columns are applied."""
    return _recognised(_columns(obj, ctx.field_map))


def fits_header(columns: list[str], ctx: Context) -> bool:
    return _recognised(_columns(columns, ctx.field_map))


def check_map(field_map: dict[str, str]) -> None:
    """--map targets must be canonical fields."""
    bad = [t for t in field_map.values() if t not in FIELDS]
    if bad:
        raise RecordError(f"--map target {bad[0]!r} is not a field; use one of {', '.join(FIELDS)}")


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    check_map(ctx.field_map)
    cols = _columns(obj, ctx.field_map)
    if "timestamp" not in cols or "status" not in cols:
        raise RecordError(missing_fields(obj, ctx.field_map) or "no timestamp or status column")

    def get(field: str) -> Any:
        return obj.get(cols[field]) if field in cols else None

    word = get("status")
    status = status_of(word)
    if status is None:
        raise RecordError(f"unknown status {word!r}")
    code, enhanced, diag = reply_fields(
        status, get("diagnostic"), get("smtp_code") or None, get("enhanced_code")
    )
    counts = _counts(get("open_count"), get("click_count"))
    row = Event(
        timestamp=ctx.time(get("timestamp")),
        status=status,
        raw_status=text_or_none(word),
        provider=text_or_none(get("provider")),
        event_id=text_or_none(get("event_id")),
        message_id=message_id(get("message_id")),
        sender=address(get("sender")),
        recipient=address(get("recipient")),
        subject=text_or_none(get("subject")),
        smtp_code=code,
        enhanced_code=enhanced,
        diagnostic=diag,
        tags=tags_in(get("tags")),
        type=text_or_none(get("type")),
        size=size_in(get("size")),
        send_method=send_method(get("send_method")),
        extra=counts,
        bounce_hint=status_word_hint(word, status),
    )
    # The message's id is worked out from the row as the source wrote it (its time), so
    # every event this row yields is on the same message.
    row.message_id = row.message_id or synthetic_message_id(row)
    if status in ENGAGEMENT and norm_key(cols["timestamp"]) in SENT_TIME_NAMES:
        # An email log's row (one per email) whose time is when it was sent: the email was
        # sent then, whatever happened to it since.
        yield finish(_derived(row, "sent", row.timestamp))
    opened_at = text_or_none(get("opened_at"))
    if opened_at and status == "opened":
        row.timestamp = ctx.time(opened_at)
    yield finish(row)
    if opened_at and status != "opened":
        yield finish(_derived(row, "opened", ctx.time(opened_at)))


# Time columns that say when the email was sent (an email log), not when an event happened.
SENT_TIME_NAMES = frozenset(("sent_at", "sent_time", "send_time", "sent_date"))


def _counts(opens: Any, clicks: Any) -> dict[str, int]:
    """An email log's open and click counts (digits only), for the message's counts."""
    counts = {"open_count": size_in(opens), "click_count": size_in(clicks)}
    return {k: v for k, v in counts.items() if v}


def _derived(row: Event, status: str, when: str) -> Event:
    """Another event an email log's row states (its send, its first open), on the row's
    message, with the row's message facts."""
    return Event(
        timestamp=when,
        status=status,
        provider=row.provider,
        message_id=row.message_id,
        sender=row.sender,
        recipient=row.recipient,
        subject=row.subject,
        tags=row.tags,
        type=row.type,
        size=row.size,
        send_method=row.send_method,
    )


def tags_in(value: Any) -> tuple[str, ...]:
    """A tags cell: a JSON array, or words separated by commas or semicolons."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return tag_list(orjson.loads(text))
            except orjson.JSONDecodeError:
                pass
        return tag_list([t for t in re.split(r"[,;]", text)])
    return tag_list(value)


def size_in(value: Any) -> int | None:
    """A size in bytes (an integer, or digits in a cell); anything else is not a size."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    text = text_or_none(value)
    return int(text.strip()) if text and text.strip().isdigit() else None

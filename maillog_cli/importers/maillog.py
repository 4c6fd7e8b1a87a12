"""maillog's own format (docs/providers.md#maillog): our output, read back without loss.

Two shapes: the listing rows (`search --format`, the event keys, and the message keys of
`search --messages`), and the full form of `maillog export` / `prune --archive`, whose
records each name their kind in a `maillog` key (see maillog_cli/export.py). A full-form
record is restored as it was written: nothing is re-derived, so export → import → export
gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

import orjson

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context, Parsed, finish, status_word_hint
from maillog_cli.model import AuditEntry, Event, Restored
from maillog_cli.normalize import (
    address,
    diagnostic,
    enhanced_code,
    message_id,
    send_method,
    smtp_code,
    tag_list,
    text_or_none,
)
from maillog_cli.statuses import ENGAGEMENT, canonical_status, is_provider_word

NAME = "maillog"
PROVIDER = None
SIGNATURE = "JSON object with `status` and `timestamp`; CSV header with both columns"
SHAPES = (
    "JSONL, JSON array, CSV with the 15 output keys (what `maillog search --format` prints);"
    " the full form of `maillog export` and `prune --archive`"
)
EXPORT_VERSION = 1  # the newest full form this reads (maillog_cli/export.py VERSION)
KINDS = frozenset({"export", "event", "message", "alias", "content", "audit", "queue"})


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"status", "maillog"})


def detect(obj: dict[str, Any]) -> bool:
    return ("status" in obj and "timestamp" in obj) or obj.get("maillog") in KINDS


def detect_header(columns: list[str]) -> bool:
    return "status" in columns and "timestamp" in columns


def parse_csv_row(row: dict[str, str], ctx: Context) -> Iterable[Parsed | Restored]:
    """A row of our own CSV: remove the spreadsheet guard `--format csv` put in front of
    values starting with = + - @ TAB or CR (render.output.neutralise_cell), so that an
    export imported again is the same data, not data with a ' in front."""
    from maillog_cli.render.output import unguard_cell

    return parse({k: unguard_cell(v) if type(v) is str else v for k, v in row.items()}, ctx)


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | Restored]:
    kind = obj.get("maillog")
    if kind in KINDS:
        return _FULL_FORM[kind](obj)
    return _listing_row(obj, ctx)


def _listing_row(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    word = obj.get("status")
    status = canonical_status(word)
    if status is None:
        raise RecordError(f"unknown status {word!r}")
    if obj.get("timestamp") in (None, ""):
        raise RecordError("missing 'timestamp'")
    diag = diagnostic(obj.get("diagnostic"))
    engagement = status in ENGAGEMENT
    direction = text_or_none(obj.get("direction")) or "outbound"
    yield finish(
        Event(
            timestamp=ctx.time(obj["timestamp"]),
            status=status,
            # a provider's word in `status` ("Send failed") is the raw word itself
            raw_status=text_or_none(obj.get("raw_status"))
            or (text_or_none(word) if is_provider_word(word) else None),
            provider=text_or_none(obj.get("provider")),
            event_id=text_or_none(obj.get("event_id")),
            message_id=message_id(obj.get("message_id")),
            direction=direction,
            sender=address(obj.get("sender")),
            recipient=address(obj.get("recipient")),
            subject=text_or_none(obj.get("subject")),
            smtp_code=smtp_code(obj.get("smtp_code") or None, diag),
            enhanced_code=enhanced_code(obj.get("enhanced_code") or None, diag),
            diagnostic=diag,
            bounce_class=None if engagement else text_or_none(obj.get("bounce_class")),
            bounce_reason=None if engagement else text_or_none(obj.get("bounce_reason")),
            # the message keys of `search --messages`, when the row has them
            tags=_tags_cell(obj.get("tags")),
            type=text_or_none(obj.get("type")),
            size=_size_cell(obj.get("size")),
            send_method=send_method(obj.get("send_method")),
            bounce_hint=status_word_hint(word, status),
        )
    )


def _tags_cell(value: Any) -> tuple[str, ...]:
    """`tags` as JSON prints it (an array) or as CSV does (the array as JSON text)."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    return tag_list(value)


def _size_cell(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    text = text_or_none(value)
    return int(text) if text and text.isdigit() else None


# --- the full form -------------------------------------------------------------------------------


def _text(obj: dict[str, Any], key: str, required: bool = False) -> str | None:
    """A text field of a full-form record, exactly as written (None stays None)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise RecordError(f"missing {key!r}")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key!r} is not a string")
    return value


def _int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{key!r} is not an integer")
    return value


def _header(obj: dict[str, Any]) -> list[Any]:
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError("export header without a version number")
    if version > EXPORT_VERSION:
        raise RecordError(
            f"written by a newer maillog (export version {version}; this one reads {EXPORT_VERSION}): upgrade maillog"
        )
    return []


def _event(obj: dict[str, Any]) -> list[Any]:
    status = _text(obj, "status", required=True)
    if canonical_status(status) != status:
        raise RecordError(f"unknown status {status!r}")
    tags = obj.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise RecordError("'tags' is not a list of strings")
    extra = obj.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise RecordError("'extra' is not an object")
    return [
        Event(
            timestamp=_text(obj, "timestamp", required=True) or "",
            status=status or "",
            raw_status=_text(obj, "raw_status"),
            provider=_text(obj, "provider"),
            event_id=_text(obj, "event_id", required=True),
            message_id=_text(obj, "message_id"),
            direction=_text(obj, "direction") or "outbound",
            sender=_text(obj, "sender"),
            recipient=_text(obj, "recipient"),
            subject=_text(obj, "subject"),
            smtp_code=_int(obj, "smtp_code"),
            enhanced_code=_text(obj, "enhanced_code"),
            diagnostic=_text(obj, "diagnostic"),
            bounce_class=_text(obj, "bounce_class"),
            bounce_reason=_text(obj, "bounce_reason"),
            bounce_hint=_text(obj, "bounce_hint"),
            tag=_text(obj, "tag"),
            tags=tuple(tags or ()),
            type=_text(obj, "type"),
            size=_int(obj, "size"),
            send_method=_text(obj, "send_method"),
            extra=extra or {},
        )
    ]


def _message(obj: dict[str, Any]) -> list[Any]:
    values = {k: v for k, v in obj.items() if k != "maillog"}
    _text(values, "message_id", required=True)
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float | list | dict | None):
            raise RecordError(f"{key!r} has an unusable value")
    return [Restored("messages", values)]


def _alias(obj: dict[str, Any]) -> list[Any]:
    values = {
        "alias": _text(obj, "alias", required=True),
        "message_id": _text(obj, "message_id", required=True),
    }
    return [Restored("message_aliases", values)]


def _content(obj: dict[str, Any]) -> list[Any]:
    mid = _text(obj, "message_id", required=True)
    try:
        raw = base64.b64decode(_text(obj, "raw", required=True) or "", validate=True)
    except (binascii.Error, ValueError):
        raise RecordError("'raw' is not base64") from None
    return [Restored("message_content", {"message_id": mid, "raw": raw})]


def _audit(record: dict[str, Any]) -> list[Any]:
    obj = record.get("entry")
    if not isinstance(obj, dict):
        raise RecordError("audit record without an 'entry' object")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RecordError("'metadata' is not an object")
    return [
        AuditEntry(
            id=_text(obj, "id", required=True),
            created_at=_text(obj, "created_at", required=True) or "",
            action=_text(obj, "action", required=True) or "",
            actor_id=_text(obj, "actor_id"),
            actor_email=_text(obj, "actor_email"),
            target_type=_text(obj, "target_type"),
            target_id=_text(obj, "target_id"),
            metadata=metadata or {},
            ip=_text(obj, "ip"),
            user_agent=_text(obj, "user_agent"),
            raw_action=_text(obj, "raw_action"),
        )
    ]


def _queue(obj: dict[str, Any]) -> list[Any]:
    """A mail server's queue id in flight (mta_queue), as export.QUEUE_RECORD_KEYS."""
    from maillog_cli.export import QUEUE_RECORD_KEYS

    required = ("host", "qid", "message_id", "first_at", "last_at")
    numbers = ("started", "size", "nrcpt", "authenticated")
    values: dict[str, Any] = {}
    for key in QUEUE_RECORD_KEYS:
        if key in numbers:
            values[key] = _int(obj, key)
        else:
            values[key] = _text(obj, key, required=key in required)
    values["started"] = values["started"] or 0
    values["authenticated"] = values["authenticated"] or 0
    return [Restored("mta_queue", values)]


_FULL_FORM = {
    "export": _header,
    "event": _event,
    "message": _message,
    "alias": _alias,
    "content": _content,
    "audit": _audit,
    "queue": _queue,
}

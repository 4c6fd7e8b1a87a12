"""maillog's own format (docs/providers.md#maillog): our json/jsonl/csv output, read back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context, Parsed, finish
from maillog_cli.model import Event
from maillog_cli.normalize import (
    address,
    diagnostic,
    enhanced_code,
    message_id,
    smtp_code,
    text_or_none,
)
from maillog_cli.statuses import ENGAGEMENT, canonical_status

NAME = "maillog"
PROVIDER = None
SIGNATURE = "JSON object with `status` and `timestamp`; CSV header with both columns"
SHAPES = "JSONL, JSON array, CSV with the 15 output keys (what `maillog search --format` prints)"


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"status"})


def detect(obj: dict[str, Any]) -> bool:
    return "status" in obj and "timestamp" in obj


def detect_header(columns: list[str]) -> bool:
    return "status" in columns and "timestamp" in columns


def parse_csv_row(row: dict[str, str], ctx: Context) -> Iterable[Parsed]:
    """A row of our own CSV: remove the spreadsheet guard `--format csv` put in front of
    values starting with = + - @ TAB or CR (render.output.neutralise_cell), so that an
    export imported again is the same data, not data with a ' in front."""
    from maillog_cli.render.output import unguard_cell

    return parse({k: unguard_cell(v) if type(v) is str else v for k, v in row.items()}, ctx)


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
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
            raw_status=text_or_none(obj.get("raw_status")),
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
        )
    )

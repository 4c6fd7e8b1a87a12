"""SendGrid Email Activity CSV export (docs/providers.md#sendgrid-csv).

SendGrid publishes no schema for this file: columns are accepted by name and the rest
ignored. The time is `processed` (`YYYY-MM-DD HH:MM:SS.fff`, UTC); the message id is
`recv_message_id`, else `message_id` cut like the webhook's `sg_message_id`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from maillog_cli.errors import RecordError
from maillog_cli.importers import sendgrid
from maillog_cli.importers.base import Context, Parsed, custom_ids, finish, map_status, other_ids
from maillog_cli.model import Event, Skip
from maillog_cli.normalize import address, message_id, reply_fields, text_or_none
from maillog_cli.statuses import BOUNCE_STATUSES

NAME = "sendgrid-csv"
PROVIDER = "sendgrid"
SIGNATURE = "CSV header with `processed`, `message_id`, `event` and `email`"
SHAPES = "Email Activity feed 'Export CSV' (quoted columns)"

# Event words, looked up lower-cased: the webhook's words plus the export's spellings.
STATUS_MAP: dict[str, str | None] = {
    **sendgrid.STATUS_MAP,
    "drop": "dropped",
    "bounced": "bounced",
    "opened": "opened",
    "clicked": "clicked",
    "spam_report": "complained",
    "spam report": "complained",
    "unsubscribed": "unsubscribed",
    "group unsubscribe": "unsubscribed",
    "group resubscribe": None,
    # the Email Activity API's summary `status` (sendgrid_activity.py)
    "processing": "queued",
    "not_delivered": "bounced",
}

REQUIRED_COLUMNS = frozenset({"processed", "message_id", "event", "email"})
# Columns kept as extra data (column → extra key).
_EXTRA_COLUMNS: dict[str, str] = {
    "originating_ip": "originating_ip",
    "outbound_ip": "ip",
    "outbound_ip_type": "ip_type",
    "mx": "mx",
    "attempt": "attempt",
    "url": "url",
    "user_agent": "user_agent",
    "type": "bounce_type",
    "bounce_classification": "bounce_classification",
    "is_unique": "is_unique",
    "username": "username",
    "api_key_id": "api_key_id",
    "credential_id": "credential_id",
    "asm_group_id": "asm_group_id",
    "template_id": "template_id",
    "marketing_campaign_id": "marketing_campaign_id",
    "marketing_campaign_name": "marketing_campaign_name",
    "marketing_campaign_split_id": "marketing_campaign_split_id",
    "marketing_campaign_version": "marketing_campaign_version",
}


def detect_header(columns: list[str]) -> bool:
    return REQUIRED_COLUMNS <= {c.strip() for c in columns}


def _cell(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    return value if value.strip() else None


def _json_cell(value: str | None) -> Any:
    """A cell that holds JSON (`categories`, `unique_args`); the text itself when it does not."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _categories(value: str | None) -> list[str]:
    parsed = _json_cell(value)
    if isinstance(parsed, list):
        return [t for v in parsed if (t := text_or_none(v)) is not None]
    t = text_or_none(parsed) if not isinstance(parsed, dict) else None
    return [t] if t is not None else []


def parse(row: dict[str, Any], ctx: Context) -> Iterable[Parsed]:
    if not isinstance(row, dict):
        raise RecordError("CSV row is not a mapping of columns")
    word = _cell(row, "event")
    if word is None:
        raise RecordError("missing 'event'")
    status = map_status(STATUS_MAP, word.strip().lower())
    if status is None:
        return [Skip(f"sendgrid {word.strip()}")]
    when = _cell(row, "processed")
    if when is None:
        raise RecordError("missing 'processed'")
    timestamp = ctx.time(when.strip())

    long_id = message_id(_cell(row, "message_id"))
    msg_id = message_id(_cell(row, "recv_message_id")) or sendgrid.cut_message_id(long_id)
    aliases = other_ids(msg_id, long_id, *custom_ids(_cell(row, "unique_args")))

    text = _cell(row, "reason")
    smtp, enhanced, diag = reply_fields(status, text)
    hint = None
    if status in BOUNCE_STATUSES:
        classification = _cell(row, "bounce_classification")
        if status == "dropped" and text:
            hint = f"sendgrid-drop:{text.strip()}"
        elif classification:
            hint = f"sendgrid-class:{classification.strip()}"

    tags = _categories(_cell(row, "categories"))
    extra: dict[str, Any] = {}
    if tags:
        extra["tags"] = tags
    for column, key in _EXTRA_COLUMNS.items():
        value = _cell(row, column)
        if value is not None:
            extra[key] = value
    if diag is None and text is not None:
        extra["reason"] = text
    custom = _json_cell(_cell(row, "unique_args"))
    if custom not in (None, {}, []):
        extra["custom_args"] = custom

    return [
        finish(
            Event(
                timestamp=timestamp,
                status=status,
                raw_status=word,
                provider=PROVIDER,
                message_id=msg_id,
                sender=address(_cell(row, "from")),
                recipient=address(_cell(row, "email")),
                subject=_cell(row, "subject"),
                smtp_code=smtp,
                enhanced_code=enhanced,
                diagnostic=diag,
                bounce_hint=hint,
                tag=tags[0] if tags else None,
                tags=tuple(tags),
                aliases=aliases,
                extra=extra,
            )
        )
    ]

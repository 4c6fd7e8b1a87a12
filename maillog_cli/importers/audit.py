"""Audit logs: administrative actions (who changed what, when, from where).

Shapes read:
- the audit API page `{"entries": [...], "next_cursor": ...}` (the cursor is read and
  ignored: a page holds what it holds; fetch the next one and import it too);
- a JSON array or JSONL of entries (the pipeline walks arrays and hands us each one);
- CSV with the same columns (`metadata` a JSON string there);
- other products' activity-log entries that also carry an `action` word and a time
  ("Domain Added", "API Key Generated" …), with `actor`/`user` as an object or a string
  and camelCase keys.

An entry keyed on `event` (or `activity`) instead of `action` — an activity log such as
`timestamp,user,event,ip,device` — is claimed only when it names a user or actor, carries
no delivery-event column (status, recipient, message id, subject) and, in JSON, its word is
not a delivery status: `event` is also the delivery-event key of SendGrid, Mailjet, Brevo,
Mandrill and Postal, and a delivery export must not be mistaken for an audit log.

Secrets: the metadata is passed through `redact.redact` here, before the pipeline
stores anything, so a value under a secret-looking key never reaches the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

import orjson

from maillog_cli.errors import RecordError
from maillog_cli.importers.base import Context, Parsed
from maillog_cli.importers.columns import norm_key
from maillog_cli.model import AuditEntry
from maillog_cli.normalize import text_or_none
from maillog_cli.redaction import redact
from maillog_cli.statuses import canonical_status

NAME = "audit"
PROVIDER = None
SIGNATURE = (
    "JSON object with `action` and `created_at` plus an actor or target field, or a page "
    "`{entries: [...], next_cursor}`; CSV header with `action` and a time column; an activity "
    "log keyed on `event` beside a `user`/`actor` and no delivery column (`timestamp,user,event,ip,device`)"
)
SHAPES = "audit API page with cursor, JSON array, JSONL, CSV (metadata as a JSON string); other products' activity logs with `action`"

# Where each audit field may live, after key normalisation (columns.norm_key: camelCase →
# snake_case, lower). The first present, non-empty key wins. One table for JSON and CSV alike.
ACTION_KEYS = ("action", "event", "activity")
# `event`/`activity` name the action only beside an actor, and never beside these columns
# of a delivery event.
DELIVERY_KEYS = frozenset(
    (
        "status",
        "recipient",
        "to",
        "rcpt",
        "rcpt_to",
        "message_id",
        "messageid",
        "msg_id",
        "smtp_id",
        "sg_message_id",
        "subject",
    )
)
TIME_KEYS = ("created_at", "occurred_at", "date", "time", "timestamp")
ID_KEYS = ("id", "audit_id", "entry_id", "uuid")
ACTOR_ID_KEYS = ("actor_id", "user_id")
ACTOR_EMAIL_KEYS = ("actor_email", "user_email", "email")
ACTOR_OBJECT_KEYS = ("actor", "user")  # an object {id, email}, or a string (an email or an id)
TARGET_TYPE_KEYS = ("target_type", "resource_type")
TARGET_ID_KEYS = ("target_id", "resource_id")
TARGET_OBJECT_KEYS = ("target", "resource")
METADATA_KEYS = ("metadata", "meta", "details")
IP_KEYS = ("ip", "ip_address", "remote_ip", "client_ip", "source_ip")
UA_KEYS = ("user_agent", "useragent", "ua", "device")
KNOWN_KEYS = frozenset(
    (
        "action",
        *TIME_KEYS,
        *ID_KEYS,
        *ACTOR_ID_KEYS,
        *ACTOR_EMAIL_KEYS,
        *ACTOR_OBJECT_KEYS,
        *TARGET_TYPE_KEYS,
        *TARGET_ID_KEYS,
        *TARGET_OBJECT_KEYS,
        *METADATA_KEYS,
        *IP_KEYS,
        *UA_KEYS,
    )
)
# Besides `action` and a time, an entry names who or what (one of these keys).
_ENTRY_HINTS = frozenset(
    (
        *ACTOR_ID_KEYS,
        *ACTOR_EMAIL_KEYS,
        *ACTOR_OBJECT_KEYS,
        *TARGET_TYPE_KEYS,
        *TARGET_ID_KEYS,
        *TARGET_OBJECT_KEYS,
        *METADATA_KEYS,
        *IP_KEYS,
    )
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Keys that name who acted, for an entry keyed on `event` (a bare `email` does not: it is
# a delivery log's recipient as often as a user).
_ACTOR_HINTS = frozenset((*ACTOR_ID_KEYS, *ACTOR_OBJECT_KEYS, "actor_email", "user_email"))


def action_key(keys: Iterable[str]) -> str | None:
    """Which normalised key holds the action: `action`, else `event`/`activity` in an
    activity log (an actor named, no delivery-event column); None when neither."""
    keys = set(keys)
    if "action" in keys:
        return "action"
    if keys & DELIVERY_KEYS or not keys & _ACTOR_HINTS:
        return None
    return next((k for k in ACTION_KEYS if k in keys), None)


# --- action names ------------------------------------------------------------------------------

_DOTTED = re.compile(r"^[A-Za-z0-9_]+(?:[.:/][A-Za-z0-9_\-]+)+$")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9_]+")
_PARTICLES = frozenset(("in", "out", "up", "on", "off", "down"))


def normalize_action(raw: str) -> str:
    """One dotted lower-case name per action, whatever product wrote it.

    - already dotted (`smtp.update`, `api_key:create`, `Webhook/Deleted`): lower case,
      `:` and `/` become `.`, `-` becomes `_`;
    - words (`API Key Generated`, `Domain Added`, `User Logged In`): the last word is the
      verb, the words before it the object joined by `_`: `api_key.generated`,
      `domain.added`, `user.logged_in` (a trailing in/out/up/on/off joins its verb);
    - one word (`Login`, `login_failed`): that word in lower case: `login`, `login_failed`.
    """
    text = raw.strip()
    if _DOTTED.match(text):
        return re.sub(r"[:/]", ".", text).replace("-", "_").lower()
    words = [w.lower() for w in _WORD_SPLIT.split(_CAMEL.sub(" ", text)) if w]
    if not words:
        return text.lower()
    if len(words) >= 3 and words[-1] in _PARTICLES:
        words = [*words[:-2], f"{words[-2]}_{words[-1]}"]
    if len(words) == 1:
        return words[0]
    return "_".join(words[:-1]) + "." + words[-1]


# --- detection ---------------------------------------------------------------------------------


def _fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The record with normalised keys (the first spelling of a key wins)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(k, str):
            out.setdefault(norm_key(k), v)
    return out


def is_entry(obj: Any) -> bool:
    """An audit entry: an action word (`action`, or `event` in an activity log) and a time,
    plus an actor, target, metadata or IP; never a delivery event (`status` with
    `timestamp`, an `event` beside an `action`, or an `event` word that is a status)."""
    if not isinstance(obj, dict) or not any(k in obj for k in DETECT_KEYS):
        return False
    f = _fields(obj)
    key = action_key(f)
    if key is None or not isinstance(f.get(key), str) or not f[key].strip():
        return False
    if ("status" in f and "timestamp" in f) or (key == "action" and "event" in f):
        return False
    if key != "action" and canonical_status(f[key]) is not None:
        return False
    if not any(f.get(k) not in (None, "") for k in TIME_KEYS):
        return False
    return any(k in f for k in _ENTRY_HINTS)


def is_page(obj: dict[str, Any]) -> bool:
    """`{"entries": [...], "next_cursor": ...}` whose entries are audit entries."""
    entries = obj.get("entries")
    if not isinstance(entries, list):
        return False
    if not entries:
        return "next_cursor" in obj
    return all(is_entry(e) or not isinstance(e, dict) for e in entries) and any(
        isinstance(e, dict) for e in entries
    )


# detect() is False for a record with none of these keys (importers.detect skips it).
DETECT_KEYS = frozenset({"entries", "action", "Action", "event", "Event", "activity", "Activity"})


def detect(obj: dict[str, Any]) -> bool:
    # Cheap first: most records fed to us belong to the importers after us (maillog).
    if "entries" in obj:
        return is_page(obj)
    return is_entry(obj)


def detect_header(columns: list[str]) -> bool:
    cols = {norm_key(c) for c in columns}
    if "status" in cols and "timestamp" in cols:
        return False
    return action_key(cols) is not None and any(k in cols for k in TIME_KEYS)


# --- parsing -----------------------------------------------------------------------------------


def parse(obj: dict[str, Any], ctx: Context) -> Iterable[Parsed | RecordError]:
    """One entry, or every entry of a page.

    In a page, a bad entry is yielded as its RecordError (the pipeline reports it like a
    raised one) so that the page's other entries still go in.
    """
    if "entries" in obj and isinstance(obj.get("entries"), list):
        for i, element in enumerate(obj["entries"], start=1):
            try:
                if not isinstance(element, dict):
                    raise RecordError("not an object")
                yield entry(element, ctx)
            except RecordError as exc:
                yield RecordError(f"entries[{i}]: {exc}")
        return
    yield entry(obj, ctx)


def _first(f: dict[str, Any], keys: Iterable[str]) -> Any:
    for k in keys:
        v = f.get(k)
        if v is not None and v != "":
            return v
    return None


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, dict | list):
        raise RecordError(f"{what} is not a string")
    return text_or_none(str(value))


def _email(value: Any) -> str | None:
    text = _text(value, "actor email")
    return text.strip().lower() if text else None


def _metadata(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise RecordError(
                f"metadata is not valid JSON: {str(exc).splitlines()[0][:80]}"
            ) from None
        if value is None:
            return {}
    if not isinstance(value, dict):
        raise RecordError("metadata is not a JSON object")
    return value


def entry(obj: dict[str, Any], ctx: Context) -> AuditEntry:
    """One audit entry (JSON object or CSV row) → AuditEntry, secrets redacted."""
    f = _fields(obj)
    action_col = action_key(f) or next(
        (k for k in ACTION_KEYS if f.get(k) not in (None, "")), "action"
    )
    raw_action = _text(f.get(action_col), action_col)
    if not raw_action:
        raise RecordError("missing 'action'")
    when = _first(f, TIME_KEYS)
    if when is None:
        raise RecordError("missing 'created_at'")

    actor_id = _text(_first(f, ACTOR_ID_KEYS), "actor_id")
    actor_email = _email(_first(f, ACTOR_EMAIL_KEYS))
    for key in ACTOR_OBJECT_KEYS:
        actor = f.get(key)
        if isinstance(actor, dict):
            a = _fields(actor)
            actor_id = actor_id or _text(a.get("id"), f"{key}.id")
            actor_email = actor_email or _email(a.get("email"))
        elif isinstance(actor, str) and actor.strip():
            if "@" in actor:
                actor_email = actor_email or _email(actor)
            else:
                actor_id = actor_id or actor.strip()

    target_type = _text(_first(f, TARGET_TYPE_KEYS), "target_type")
    target_id = _text(_first(f, TARGET_ID_KEYS), "target_id")
    for key in TARGET_OBJECT_KEYS:
        target = f.get(key)
        if isinstance(target, dict):
            t = _fields(target)
            target_type = target_type or _text(t.get("type"), f"{key}.type")
            target_id = target_id or _text(t.get("id"), f"{key}.id")
        elif isinstance(target, str | int) and not isinstance(target, bool):
            target_id = target_id or _text(target, key)

    metadata = dict(_metadata(_first(f, METADATA_KEYS)))
    # Keys we do not map (project_id, description, request_id …) are kept in metadata.
    for k, v in obj.items():
        if (
            isinstance(k, str)
            and norm_key(k) not in KNOWN_KEYS
            and norm_key(k) != action_col
            and v not in (None, "")
            and k not in metadata
        ):
            metadata[k] = v
    metadata = redact(metadata)

    e = AuditEntry(
        id=_text(_first(f, ID_KEYS), "id"),
        created_at=ctx.time(when),
        action=normalize_action(raw_action),
        raw_action=raw_action,
        actor_id=actor_id,
        actor_email=actor_email,
        target_type=target_type,
        target_id=target_id,
        metadata=metadata,
        ip=_text(_first(f, IP_KEYS), "ip"),
        user_agent=_text(_first(f, UA_KEYS), "user_agent"),
    )
    if not e.id:
        e.id = content_id(e)
    return e


def content_id(e: AuditEntry) -> str:
    """A stable id for an entry without one: the same entry imported twice is stored once."""
    key = orjson.dumps(
        [
            e.created_at,
            e.actor_id,
            e.actor_email,
            e.raw_action,
            e.target_type,
            e.target_id,
            e.metadata,
            e.ip,
            e.user_agent,
        ],
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return "a:" + hashlib.sha1(key).hexdigest()[:24]

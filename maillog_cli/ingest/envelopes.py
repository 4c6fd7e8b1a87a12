"""Transport envelopes and export pages around provider records (docs/providers.md,
"Reading a file"): what a record that no importer claims holds for them.

Provider events often arrive wrapped by the transport that carried them, not by the
provider: an AWS Lambda event (`{"Records": [{"Sns": {…}} | {"body": "<json>"}]}`), an SQS
message (`{"MessageId", "ReceiptHandle", "Body": "<json>"}`, one per line or under
`Messages` in a ReceiveMessage answer), a Kinesis or Firehose record (`data` in base64),
or an export page whose list sits under a key we
have not seen (`{"opens": […], "next": …}`), or a saved request or log entry holding one
record (`{"headers": …, "body": "<json>"}`, `{"form": {…}}`). `inner` returns the values
inside, which are then detected one by one like any other record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from maillog_cli.errors import RecordError
from maillog_cli.ingest.readers import WRAPPER_KEYS

# An SQS message's body (ReceiveMessage: `Body`; Lambda's SQS event: `body`), beside one
# of its own keys.
_SQS_BODY = ("Body", "body")
_SQS_KEYS = frozenset(
    {"MessageId", "messageId", "ReceiptHandle", "receiptHandle", "MD5OfBody", "md5OfBody"}
)


def inner(value: dict[str, Any], recognised: Callable[[Any], bool]) -> list[Any] | None:
    """The records inside a value no importer claims, or None when it is no envelope.

    `recognised(v)` says whether an importer (or this function) would take a value; it
    decides which lists of an unfamiliar page are the records (an unknown key whose first
    object is recognised), so that extra keys beside the list never hide the records."""
    body = _sqs_body(value)
    if body is not None:
        return [body]
    sns = value.get("Sns")
    if isinstance(sns, dict) and ("EventSource" in value or "Message" in sns):
        return [sns]  # one record of a Lambda event from SNS, on its own
    # The keys export pages are known to use are taken even when their elements are not
    # recognised (each is then reported on its own).
    known = [k for k in WRAPPER_KEYS if isinstance(value.get(k), list)]
    if len(known) == 1:
        items = value[known[0]]
        return [_record_of(i) for i in items] if items else None
    found: list[Any] = []
    for items in value.values():
        if isinstance(items, list) and items and _looks_recognised(items, recognised):
            found.extend(_record_of(i) for i in items)
    if found:
        return found
    # A saved request or log entry around one record: `{"headers": …, "body": "<json>"}`,
    # `{"form": {…}}`, `{"level": …, "event": {…}}`. Only a value that is recognised counts.
    for item in value.values():
        if isinstance(item, str) and item.lstrip()[:1] == "{":
            try:
                item = orjson.loads(item)
            except orjson.JSONDecodeError:
                continue
        if isinstance(item, dict) and recognised(item):
            found.append(item)
    return found or None


def _looks_recognised(items: list[Any], recognised: Callable[[Any], bool]) -> bool:
    """Whether the list's first readable record is recognised (an SQS message whose body
    cannot be read is skipped: it is reported when the list is read)."""
    for item in items:
        record = _record_of(item) if isinstance(item, dict) else None
        if isinstance(record, dict):
            return recognised(record)
    return False


def _record_of(item: Any) -> Any:
    """A Lambda record as what it carries (SNS envelope, SQS body, Kinesis or Firehose
    data); anything else as is."""
    if not isinstance(item, dict):
        return item
    sns = item.get("Sns")
    if isinstance(sns, dict):
        return sns
    kinesis = item.get("kinesis")
    if isinstance(kinesis, dict) and isinstance(kinesis.get("data"), str):
        return _base64_json(kinesis["data"], "kinesis.data")
    if "recordId" in item and isinstance(item.get("data"), str):  # Firehose transformation
        return _base64_json(item["data"], "data")
    body = _sqs_body(item)
    return item if body is None else body


def _base64_json(text: str, what: str) -> Any:
    """A Kinesis / Firehose record's base64 data as JSON (a RecordError when it is not);
    Firehose may hold several records back to back in one."""
    import base64
    import binascii

    from maillog_cli.ingest.readers import concatenated

    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return RecordError(f"{what} is not base64")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            several = concatenated(data)
        except UnicodeDecodeError:
            several = None
        return several if several is not None else RecordError(f"{what} is not JSON")


def _sqs_body(value: dict[str, Any]) -> Any:
    """The parsed body of an SQS message, else None. A body that is not JSON is a
    RecordError (the message was recognised; its content cannot be read)."""
    key = next((k for k in _SQS_BODY if isinstance(value.get(k), str)), None)
    if key is None or _SQS_KEYS.isdisjoint(value) and value.get("eventSource") != "aws:sqs":
        return None
    text = value[key].strip()
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return RecordError(f"SQS message {key} is not JSON: {text[:60]!r}")

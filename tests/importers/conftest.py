"""Shared helpers for importer tests: the shared samples, their expected events, and a
small harness that detects and parses a sample file the way the pipeline would.

This is a test harness only; the real reading lives in maillog_cli/readers.py and
maillog_cli/pipeline.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maillog_cli import importers
from maillog_cli.importers.base import Context
from maillog_cli.model import Event, Skip

from ..conftest import SAMPLES, SHARED_MISSING

EXPECTED_KEYS = (
    "provider",
    "message_id",
    "timestamp",
    "status",
    "recipient",
    "smtp_code",
    "enhanced_code",
)


def require_samples() -> Path:
    if not SAMPLES.exists():
        pytest.skip(SHARED_MISSING)
    return SAMPLES


def expected_for(file: str) -> list[dict[str, Any]]:
    """samples/expected.jsonl rows for one sample file (relative to samples/), without `file`."""
    rows = []
    with open(require_samples() / "expected.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if row.get("file") == file:
                    rows.append({k: row.get(k) for k in EXPECTED_KEYS})
    return rows


def summary(event: Event) -> dict[str, Any]:
    """An Event in the shape of an expected.jsonl row (timestamp at whole seconds + Z)."""
    return {
        "provider": event.provider,
        "message_id": event.message_id,
        "timestamp": event.timestamp[:19] + "Z",
        "status": event.status,
        "recipient": event.recipient,
        "smtp_code": event.smtp_code,
        "enhanced_code": event.enhanced_code,
    }


def as_multiset(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def load_values(path: Path) -> Iterator[Any]:
    """The JSON values of a sample: a JSON document or JSONL; a Mandrill form body is
    decoded with mandrill.decode_form_body. Arrays are walked element by element."""
    text = path.read_text(encoding="utf-8-sig")
    if text.startswith("mandrill_events="):
        mandrill = importers.load("mandrill")
        assert mandrill is not None, "form bodies need the mandrill importer"
        values: list[Any] = [mandrill.decode_form_body(text)]
    else:
        try:
            values = [json.loads(text)]
        except json.JSONDecodeError:
            values = [json.loads(line) for line in text.splitlines() if line.strip()]
    yield from _walk(values)


def _walk(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _walk(value)
        else:
            yield value


def parse_values(values: Any, ctx: Context | None = None) -> list[Event | Skip]:
    """Detect and parse JSON values (arrays walked); every item, Skips included."""
    ctx = ctx or Context()
    out: list[Event | Skip] = []
    for value in _walk([values]):
        module = importers.detect(value)
        assert module is not None, f"no importer recognises keys {sorted(value)[:10]}"
        out.extend(module.parse(value, ctx))
    return out


def pipeline_values(value: Any, ctx: Context | None = None) -> list[Any]:
    """What the import pipeline makes of one JSON value (envelopes and pages unwrapped,
    ingest/records.parse_value): Events, Skips and RecordErrors."""
    from maillog_cli.ingest.records import FileResult, parse_value

    return list(parse_value(value, ctx or Context(), None, FileResult("test")))


def parse_file(path: Path | str, ctx: Context | None = None) -> list[Event]:
    """Load a sample, run registry detect() then parse() on each value; the Events."""
    p = Path(path)
    if not p.is_absolute():
        p = require_samples() / p
    items = parse_values(list(load_values(p)), ctx)
    return [i for i in items if isinstance(i, Event)]

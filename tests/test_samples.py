"""Every shared sample file, imported through the real CLI, yields exactly expected.jsonl."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from .conftest import SAMPLES, SHARED_MISSING

EXPECTED = SAMPLES / "expected.jsonl"
KEYS = ("provider", "message_id", "timestamp", "status", "recipient", "smtp_code", "enhanced_code")


def expected_by_file() -> dict[str, list[dict]]:
    if not EXPECTED.exists():
        return {}
    out: dict[str, list[dict]] = {}
    for line in EXPECTED.read_text().splitlines():
        row = orjson.loads(line)
        out.setdefault(row["file"], []).append(row)
    return out


EXPECTED_ROWS = expected_by_file()
SAMPLE_FILES = (
    sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*") if p.is_file())
    if SAMPLES.exists()
    else []
)


def key(row: dict) -> tuple:
    ts = row["timestamp"]
    whole = ts[:19] + "Z" if ts else ts
    return tuple(whole if k == "timestamp" else row[k] for k in KEYS)


@pytest.mark.skipif(not SAMPLE_FILES, reason=SHARED_MISSING)
@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_imports_to_expected_events(cli, name: str) -> None:
    r = cli("import", SAMPLES / name)
    assert r.exit_code == 0, r
    rows = [
        orjson.loads(x) for x in cli("search", "--limit", "0", "-f", "jsonl").stdout.splitlines()
    ]
    got = Counter(key(x) for x in rows)
    want = Counter(key(x) for x in EXPECTED_ROWS.get(name, []))
    assert got == want, f"missing: {want - got}\nunexpected: {got - want}"
    again = cli("import", SAMPLES / name)
    assert f"0 new events, {len(rows)} already present" in again.stderr


@pytest.mark.skipif(not SAMPLE_FILES, reason=SHARED_MISSING)
def test_all_samples_together_thread_messages(cli, tmp_path: Path) -> None:
    files = [SAMPLES / n for n in SAMPLE_FILES]
    r = cli("import", *files)
    assert r.exit_code == 0, r
    total = sum(len(v) for v in EXPECTED_ROWS.values())
    rows = cli("search", "--limit", "0", "-f", "jsonl").stdout.splitlines()
    # the same event appears in two sample files of one provider (a single body and a batch,
    # a form body and its decoded JSON): stored once
    distinct = {key(x) for v in EXPECTED_ROWS.values() for x in v}
    assert len(distinct) <= len(rows) < total
    for row in map(orjson.loads, rows):
        if row["status"] in ("bounced", "deferred", "dropped", "failed"):
            assert row["bounce_class"] in ("hard", "soft", "block", "undetermined"), row
            assert row["bounce_reason"], row
        else:
            assert row["bounce_class"] is None, row

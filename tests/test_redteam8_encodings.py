"""Red team 8: UTF-32 files with a byte-order mark.

UTF-32's little-endian mark begins with UTF-16's (FF FE), so such a file was read as
UTF-16: every character came with NULs, and the error quoted them ("CSV without the
required columns (has \\x00{\\x00…"). A BOM names its encoding: UTF-32 is read as the
text it is, as UTF-16 is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

EVENT = {
    "event_id": "u32-1", "message_id": "u32@example.com", "provider": "ses",
    "timestamp": "2026-01-01T00:00:00Z", "status": "delivered",
    "recipient": "zoë@example.org", "subject": "café ☕",
}  # fmt: skip
CSV = (
    "event_id,timestamp,status,recipient,provider,subject\n"
    "u32-1,2026-01-01T00:00:00Z,delivered,zoë@example.org,ses,café ☕\n"
)


@pytest.mark.parametrize("codec", ["utf-32", "utf-32-be-bom"])
@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_utf32_with_a_bom_imports_like_utf8(
    cli: Callable[..., Result], tmp_path: Path, codec: str, form: str
) -> None:
    text = json.dumps(EVENT, ensure_ascii=False) + "\n" if form == "jsonl" else CSV
    data = (
        text.encode("utf-32")  # the platform's order, with its mark
        if codec == "utf-32"
        else b"\x00\x00\xfe\xff" + text.encode("utf-32-be")
    )
    path = tmp_path / f"events.{form}"
    path.write_bytes(data)
    r = cli("import", path)
    assert r.exit_code == 0, r
    assert "1 new event" in r.stderr, r
    rows = json.loads(cli("search", "--format", "json").stdout)
    assert [(e["recipient"], e["subject"]) for e in rows] == [("zoë@example.org", "café ☕")]

"""Red-team findings about numbers bigger than the store holds.

A size written as digits ("99999999999999999999999" in a CSV cell or a SparkPost string)
became a Python int past SQLite's 2**63 and the import died with an OverflowError
traceback, storing nothing of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HUGE = "9" * 30

SOURCES = {
    "sparkpost.json": json.dumps(
        [
            {
                "msys": {
                    "message_event": {
                        "type": "delivery",
                        "event_id": "sp-1",
                        "message_id": "000443ee14578172be22",
                        "rcpt_to": "a@example.com",
                        "timestamp": "1764496800",
                        "msg_size": HUGE,
                    }
                }
            }
        ]
    ),
    "activity.csv": f"Sent At,Recipient Email,Delivery Status,Size\n2026-11-30 10:00,a@example.com,Delivered,{HUGE}\n",
    "ours.csv": f"timestamp,status,recipient,size\n2026-11-30T10:00:00Z,delivered,a@example.com,{HUGE}\n",
}


@pytest.mark.parametrize("name", SOURCES)
def test_a_size_past_what_sqlite_holds_is_unknown_not_a_crash(
    cli, tmp_path: Path, name: str
) -> None:
    src = tmp_path / name
    src.write_text(SOURCES[name])
    result = cli("import", str(src))
    assert result.exit_code == 0, result
    (row,) = json.loads(cli("search", "--messages", "--format", "json").stdout)
    assert (row["recipient"], row["status"], row["size"]) == ("a@example.com", "delivered", None)

"""An export whose only word for a bounce is "Hard Bounce" or "Soft Bounce" (an application's
own log, a CRM's CSV) keeps that verdict: hard or soft, not undetermined (docs/bounces.md
step 5b, labels `generic:<word>`). The reply text still wins where there is one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _bounces(cli, db: Path, path: Path) -> dict[str, tuple[str, str]]:
    r = cli("--db", db, "import", path)
    assert r.exit_code == 0, r
    r = cli("--db", db, "search", "--format", "jsonl", "--limit", "0")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return {row["recipient"]: (row["bounce_class"], row["bounce_reason"]) for row in rows}


@pytest.mark.parametrize(
    "header, row",
    [
        # our own columns (format maillog) and an application's words (format generic)
        ("timestamp,status,recipient,diagnostic", "2026-11-01T10:00:0{i}Z,{word},{rcpt},{diag}"),
        ("date,event,email,reason", "2026-11-01 10:00:0{i},{word},{rcpt},{diag}"),
    ],
)
def test_hard_and_soft_bounce_words_give_their_class(cli, tmp_path: Path, header, row) -> None:
    cases = [
        ("Hard Bounce", "hard@x.example", ""),
        ("hard_bounce", "hard2@x.example", ""),
        ("SoftBounce", "soft@x.example", ""),
        ("bounced", "plain@x.example", ""),
        # the reply names the cause: the text decides, not the word
        ("Hard Bounce", "full@x.example", "452 4.2.2 Mailbox full"),
    ]
    lines = [header] + [
        row.format(i=i, word=w, rcpt=r, diag=d) for i, (w, r, d) in enumerate(cases)
    ]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    got = _bounces(cli, tmp_path / "m.db", path)
    assert got["hard@x.example"] == ("hard", "user_unknown")
    assert got["hard2@x.example"] == ("hard", "user_unknown")
    assert got["soft@x.example"] == ("soft", "other")
    assert got["plain@x.example"] == ("undetermined", "other")
    assert got["full@x.example"] == ("soft", "mailbox_full")

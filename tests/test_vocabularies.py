"""The providers' own status words (NotificationAPI, Plutio, Cloudflare's dashboard …) are
read through the one status map on import, kept as the raw word, and accepted by `--status`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maillog_cli.statuses import PROVIDER_WORDS

# word as the provider shows it → the canonical status it must become
SEED_WORDS = {
    "success": "delivered",
    "failure": "failed",
    "Received": "queued",
    "Ignored": "dropped",
    "Sending": "queued",
    "Failed - Bounce": "bounced",
    "Failed - Delivery Delay": "deferred",
    "Send failed": "failed",
    "Delivery failed": "bounced",
}


def rows_of(cli, *args: str) -> list[dict]:
    r = cli("search", "--format", "json", "--limit", "0", *args)
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


def write_csv(tmp_path: Path) -> Path:
    lines = ["date,email,status,message_id"]
    for i, word in enumerate(SEED_WORDS):
        lines.append(f'2026-01-0{1 + i % 9}T10:00:0{i % 10}Z,user{i}@example.com,"{word}",m{i}@x')
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_seed_words_import_as_canonical_statuses_with_the_raw_word_kept(cli, tmp_path) -> None:
    r = cli("import", write_csv(tmp_path))
    assert r.exit_code == 0, r
    got = {row["raw_status"]: row["status"] for row in rows_of(cli)}
    assert got == SEED_WORDS


def test_seed_words_in_our_own_format_keep_the_raw_word(cli, tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {"timestamp": f"2026-01-01T10:00:0{i}Z", "status": w, "recipient": f"u{i}@x.org"}
            )
            for i, w in enumerate(SEED_WORDS)
        )
    )
    r = cli("import", path)
    assert r.exit_code == 0, r
    got = {row["raw_status"]: row["status"] for row in rows_of(cli)}
    assert got == SEED_WORDS


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Delivery failed", "bounced"),
        ("failed - bounce", "bounced"),
        ("FAILED - DELIVERY DELAY", "deferred"),
        ("send failed", "failed"),
        ("Ignored", "dropped"),
    ],
)
def test_provider_words_are_status_words_on_the_command_line(
    cli, tmp_path, typed: str, expected: str
) -> None:
    assert cli("import", write_csv(tmp_path)).exit_code == 0
    rows = rows_of(cli, "--status", typed)
    assert rows and {row["status"] for row in rows} == {expected}


def test_every_word_of_the_map_works_on_import_and_on_the_command_line(cli, tmp_path) -> None:
    """The class, not the examples: every provider word (in any of its spellings) imports
    as its status and is a status word for --status that finds that status."""
    path = tmp_path / "all.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"created_at": "2026-01-01T10:00:00Z", "event": key, "email": f"{i}@x.org"})
            for i, key in enumerate(PROVIDER_WORDS)
        )
    )
    r = cli("import", "--format", "generic", path)
    assert r.exit_code == 0, r
    by_raw = {row["raw_status"]: row["status"] for row in rows_of(cli)}
    assert by_raw == PROVIDER_WORDS
    for key, status in PROVIDER_WORDS.items():
        for spelling in (key, key.title(), key.replace(" ", "_"), key.replace(" ", " - ")):
            rows = rows_of(cli, "--status", spelling)
            assert {row["status"] for row in rows} == {status}, spelling


def test_completion_offers_canonical_names_and_aliases_only() -> None:
    """Shell completion stays a short list of single words (no provider phrases with spaces)."""
    from maillog_cli.options import complete_status

    assert complete_status("fa") == ["failed"]
    assert all(" " not in w for w in complete_status(""))

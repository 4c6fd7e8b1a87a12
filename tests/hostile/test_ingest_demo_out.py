"""`maillog demo --out DIR` never overwrites files that are already there (or needs --force)."""

from __future__ import annotations

from pathlib import Path


def test_demo_refuses_to_overwrite_and_force_overwrites(cli, tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    mine = out / "events.jsonl"
    mine.write_text("my own log\n")
    r = cli("demo", "--out", out, "--messages", "50")
    assert r.exit_code == 1, r
    assert "already holds events.jsonl; nothing written" in r.stderr and "--force" in r.stderr
    assert r.stderr.count("\n") == 1
    assert mine.read_text() == "my own log\n" and sorted(p.name for p in out.iterdir()) == [
        "events.jsonl"
    ]
    r = cli("demo", "--out", out, "--messages", "50", "--force")
    assert r.exit_code == 0, r
    assert mine.read_text() != "my own log\n" and len(list(out.iterdir())) == 4


def test_demo_refuses_a_dangling_symlink_and_a_file_as_out(cli, tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "sent-mail.mbox").symlink_to(tmp_path / "elsewhere")
    r = cli("demo", "--out", out, "--messages", "50")
    assert r.exit_code == 1 and "sent-mail.mbox" in r.stderr, r
    assert not (tmp_path / "elsewhere").exists()
    plain = tmp_path / "plain"
    plain.write_text("x")
    r = cli("demo", "--out", plain)
    assert r.exit_code == 1 and "is a file, not a folder" in r.stderr, r
    assert "Traceback" not in r.stderr


def test_demo_into_a_new_folder_still_works(cli, tmp_path: Path) -> None:
    r = cli("demo", "--out", tmp_path / "new" / "deeper", "--messages", "50")
    assert r.exit_code == 0 and r.stdout.count("\n") == 4, r

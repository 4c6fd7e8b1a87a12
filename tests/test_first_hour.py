"""The first hour of a new user (issue 16): suggestions that work, errors that name the
fix, ids and one listing convention, through the real CLI on a real store."""

from __future__ import annotations

import json
import shlex
import sqlite3
from pathlib import Path

from tests.conftest import PROVIDER_FIXTURES, audit_entries, import_audit_only


def test_tui_without_terminal_suggests_the_same_filter_as_options(cli, tmp_path: Path) -> None:
    cli("import", str(PROVIDER_FIXTURES / "sendgrid.json"))
    words = ["status:bounced", "domain:example.com", "free text"]
    r = cli("tui", *words)
    assert r.exit_code == 1
    suggestion = r.stderr.split("in scripts use: maillog ", 1)[1].strip().rstrip(")")
    assert "--status bounced" in suggestion and "--domain example.com" in suggestion
    assert "status:" not in suggestion
    # the suggestion runs, and selects what the filter words meant
    args = shlex.split(suggestion)
    assert args[:2] == ["search", "--messages"]
    ran = cli(*args, "--format", "json")
    assert ran.exit_code == 0, ran


def test_forced_format_misfit_names_the_format_the_data_looks_like(cli) -> None:
    r = cli("import", str(PROVIDER_FIXTURES / "sendgrid.json"), "--format", "postmark")
    assert r.exit_code == 1
    last = r.stderr.strip().splitlines()[-1]
    assert "look like sendgrid" in last and "--format sendgrid" in last
    assert "try --format postmark" not in r.stderr
    csv = cli("import", str(PROVIDER_FIXTURES / "sendgrid-activity.csv"), "--format", "postmark")
    assert csv.exit_code == 1 and "look like sendgrid-csv" in csv.stderr


def test_generic_csv_missing_field_names_it_and_the_map_that_fixes_it(cli, tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("when,email,status\n2026-01-01T00:00:00Z,a@b.example,delivered\n")
    r = cli("import", str(f), "--format", "generic")
    assert r.exit_code == 1
    assert "no timestamp column" in r.stderr and "--map when=timestamp" in r.stderr
    auto = cli("import", str(f))
    assert auto.exit_code == 1 and "--format generic --map when=timestamp" in auto.stderr
    j = tmp_path / "log.jsonl"
    j.write_text('{"at": "2026-01-01T00:00:00Z", "status": "delivered", "to": "a@b.example"}\n')
    r = cli("import", str(j), "--format", "generic")
    assert r.exit_code == 1 and "--map at=timestamp" in r.stderr.strip().splitlines()[-1]
    ok = cli("import", str(f), "--format", "generic", "--map", "when=timestamp")
    assert ok.exit_code == 0, ok


def test_show_labels_keep_a_gap_and_wrapped_values_stay_under_themselves(
    cli, tmp_path: Path, monkeypatch
) -> None:
    aliases = [f"alias-{n:02d}-0123456789abcdef@relay.example" for n in range(4)]
    row = {
        "event_id": "e1",
        "message_id": "<main@acme.example>",
        "timestamp": "2026-01-01T10:00:00Z",
        "provider": "maillog",
        "status": "delivered",
        "recipient": "bob@gmail.com",
    }
    f = tmp_path / "e.jsonl"
    f.write_text(json.dumps(row) + "\n")
    assert cli("import", str(f)).exit_code == 0
    with sqlite3.connect(tmp_path / "maillog.db") as conn:
        conn.executemany(
            "INSERT INTO message_aliases (alias, message_id) VALUES (?, ?)",
            [(a, "main@acme.example") for a in aliases],
        )
    monkeypatch.setenv("COLUMNS", "70")
    out = cli("show", "main@acme.example").stdout
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Also known as"))
    assert lines[first].startswith("Also known as  alias-00")
    value_column = lines[first].index("alias-00")
    wrapped = lines[first + 1]
    assert wrapped[:value_column].strip() == "" and wrapped[value_column:].strip(), out


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command (and group) of the real app, as argv prefixes."""
    import typer.main

    from maillog_cli.cli import app

    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        if path:
            paths.append(path)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, (*path, name))

    walk(root, ())
    return paths


def test_db_is_accepted_after_every_command_and_sub_command(cli, tmp_path: Path) -> None:
    refused = [
        " ".join(p)
        for p in _command_paths()
        if cli(*p, "--db", str(tmp_path / "x.db"), "--help").exit_code != 0
    ]
    assert refused == []


def test_db_after_a_sub_command_or_its_group_is_the_store_used(cli, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    assert (
        cli("--db", str(other), "import", str(PROVIDER_FIXTURES / "sendgrid.json")).exit_code == 0
    )
    for argv in (["db", "info", "--db", str(other)], ["db", "--db", str(other), "info"]):
        r = cli(*argv, "--format", "json")
        assert r.exit_code == 0, (argv, r)
        assert str(other) in r.stdout
    r = cli("bounces", "suppressions", "--db", str(other), "--format", "csv")
    assert r.exit_code == 0, r


BROKEN_LABELS = ("<bool>", "<list[", "<int", "<str>", "<path>", "range>", "[x>=", "x<=", "]...]...")


def test_help_labels_values_for_a_person(cli) -> None:
    for path in _command_paths():
        out = cli(*path, "--help").stdout
        found = [label for label in BROKEN_LABELS if label in out]
        assert not found, (path, found)
    assert "maillog tui [OPTIONS] [FILTER_WORDS]..." in cli("tui", "--help").stdout
    assert "N (0 or more)" in cli("search", "--help").stdout


def test_every_format_choice_is_described_in_its_help() -> None:
    import typer.main

    from maillog_cli.cli import app

    def walk(cmd, path):
        for param in getattr(cmd, "params", []):
            if "--format" in getattr(param, "opts", []) and param.type_descriptor.is_choice:
                choices = [str(getattr(c, "value", c)) for c in param.type_descriptor.choices]
                missing = [c for c in choices if c not in (param.help or "")]
                assert not missing, (path, param.help, missing)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())


def test_help_never_lists_an_option_the_command_refuses(cli) -> None:
    assert "--status" not in cli("bounces", "suppressions", "--help").stdout
    assert "--to" not in cli("resend", "--help").stdout.split("Filters")[-1].split("--from")[0]
    assert "same forms as --to" not in cli("resend", "--help").stdout


def test_a_bad_value_is_one_line_exit_1_in_every_command(cli) -> None:
    cases = [
        ("search", "--format", "xml"),
        ("bounces", "explain", "--code", "700", "x"),
        ("search", "-n", "abc"),
        ("search", "-n", "-1"),
        ("stats", "--by", "hour"),
        ("db", "info", "--format", "xml"),
        ("prune", "--older-than", "soon", "--dry-run"),
        ("search", "--since", "someday"),
    ]
    for argv in cases:
        r = cli(*argv)
        assert r.exit_code == 1, (argv, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("maillog: error: "), (argv, r.stderr)
        assert "Value error" not in r.stderr and "Input should" not in r.stderr
    assert (
        "--format 'xml' is not one of table, json, jsonl, csv" in cli("search", "-f", "xml").stderr
    )
    assert "at most 599" in cli("bounces", "explain", "--code", "700", "x").stderr
    # a malformed command line stays Typer's usage message, exit 2
    assert cli("search", "--no-such-option").exit_code == 2


def _events(n: int) -> list[dict]:
    return [
        {
            "event_id": f"ev{i}",
            "message_id": f"<msg-{i:03d}-a-long-message-id@mail.acme.example>",
            "timestamp": f"2026-01-01T10:{i // 60:02d}:{i % 60:02d}Z",
            "provider": "maillog",
            "status": "bounced" if i % 2 else "delivered",
            "recipient": f"user{i}@gmail.com",
            "subject": f"Receipt {i}",
            "diagnostic": "550 5.1.1 user unknown" if i % 2 else None,
        }
        for i in range(n)
    ]


def test_every_event_listing_piped_has_the_table_columns_and_says_when_the_limit_cut(
    cli, tmp_path: Path
) -> None:
    from maillog_cli.render.events import MESSAGE_TABLE_COLUMNS, TABLE_COLUMNS

    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in _events(12)))
    assert cli("import", str(f)).exit_code == 0
    listings = {
        ("search",): 12,
        ("ls",): 12,
        ("search", "--messages"): 12,
        ("bounces", "--list"): 6,
    }
    for argv, matching in listings.items():
        r = cli(*argv, "-n", "3")
        lines = r.stdout.splitlines()
        assert len(lines) == 3, (argv, r)
        for line in lines:
            cells = line.split("\t")
            extra = len(MESSAGE_TABLE_COLUMNS) if "--messages" in argv else 0
            assert len(cells) == len(TABLE_COLUMNS) + extra, (argv, line)
            time_, mid, status = cells[:3]
            assert mid.startswith("msg-") and mid.endswith("@mail.acme.example"), line  # whole
            assert status in ("bounced", "delivered")
        assert f"showing 3 of {matching}; --limit 0 for all" in r.stderr, argv
        whole = cli(*argv, "-n", "0")
        assert "showing" not in whole.stderr and len(whole.stdout.splitlines()) == matching
    tail = cli("tail", "-n", "3").stdout.splitlines()
    assert [len(t.split("\t")) for t in tail] == [len(TABLE_COLUMNS)] * 3


def test_audit_listing_shows_the_entry_id_and_the_limit(cli, tmp_path: Path) -> None:
    f = tmp_path / "audit.jsonl"
    f.write_text("".join(json.dumps(entry) + "\n" for entry in audit_entries(5)))
    assert cli("import", str(f)).exit_code == 0, cli("import", str(f))
    r = cli("audit", "-n", "2")
    lines = r.stdout.splitlines()
    assert [line.split("\t")[1] for line in lines] == ["aud-4", "aud-3"]
    assert "showing 2 of 5; --limit 0 for all" in r.stderr
    assert cli("audit", "show", "aud-4").exit_code == 0


def test_many_files_end_with_one_total_line_and_counts_agree(cli, tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        f = tmp_path / f"m{i}.eml"
        f.write_text(
            f"From: app@acme.example\nTo: u{i}@gmail.com\nSubject: hi {i}\n"
            f"Date: Mon, 02 Mar 2026 10:00:0{i} +0000\nMessage-ID: <m{i}@acme.example>\n\nhello\n"
        )
        paths.append(str(f))
    r = cli("import", *paths)
    assert r.exit_code == 0, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 4 and all("1 new event," in line for line in lines[:3])
    assert "1 new events" not in r.stderr and "1 emails" not in r.stderr
    assert lines[-1].startswith("total: 3 files, 3 new events, 0 already present, 0 skipped")
    one = cli("import", paths[0]).stderr.strip().splitlines()
    assert len(one) == 1 and "total" not in one[0]


def test_an_empty_store_and_a_filter_that_matches_nothing_say_so(cli, tmp_path: Path) -> None:
    import_audit_only(cli, tmp_path)
    r = cli("search")
    assert r.exit_code == 0 and r.stdout == ""
    assert "No emails yet — import a provider dump: maillog import FILE" in r.stderr
    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in _events(2)))
    assert cli("import", str(f)).exit_code == 0
    r = cli("search", "--domain", "nowhere.example")
    assert r.exit_code == 0 and r.stdout == ""
    assert "no events match these filters" in r.stderr
    r = cli("search", "--messages", "--domain", "nowhere.example", "--format", "json")
    assert r.exit_code == 0 and r.stdout.strip() == "[]" and "no messages match" in r.stderr


def test_show_address_lists_that_recipients_messages_newest_first(cli, tmp_path: Path) -> None:
    rows = _events(6)
    for r in rows:
        r["recipient"] = "bob@gmail.com" if int(r["event_id"][2:]) % 3 == 0 else "amy@gmail.com"
    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in rows))
    assert cli("import", str(f)).exit_code == 0
    r = cli("show", "bob@gmail.com")
    assert r.exit_code == 0, r
    ids = [line.split("\t")[1] for line in r.stdout.splitlines()]
    assert ids == [
        "msg-003-a-long-message-id@mail.acme.example",
        "msg-000-a-long-message-id@mail.acme.example",
    ]
    nobody = cli("show", "zed@gmail.com")
    assert nobody.exit_code == 1 and "no message" in nobody.stderr
    # a Message-ID (it has an @ too) still shows that one message
    assert "Timeline" in cli("show", "msg-003-a-long-message-id@mail.acme.example").stdout


def _bash_complete(words: list[str], tmp_path: Path) -> list[str]:
    """Complete the last word as bash does: source the committed completion script, fill
    COMP_WORDS/COMP_CWORD, call the completion function and print COMPREPLY."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    shim = tmp_path / "bin" / "maillog"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m maillog_cli "$@"\n')
    shim.chmod(0o755)
    quoted = " ".join(shlex.quote(w) for w in words)
    script = (
        f"source {shlex.quote(str(root / 'completions' / 'maillog.bash'))}\n"
        f"COMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n"
        "_maillog_completion maillog\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}", "PYTHONPATH": str(root)}
    out = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    return [line for line in out.stdout.splitlines() if line]


def test_shell_completion_completes_option_values_through_bash(tmp_path: Path) -> None:
    cases = {
        ("search", "--status", "bou"): {"bounced", "bounce"},
        ("search", "--class", "h"): {"hard"},
        ("bounces", "--reason", "mailbox_f"): {"mailbox_full"},
        ("search", "--provider", "sp"): {"sparkpost"},
        ("audit", "--category", "au"): {"auth"},
        ("stats", "--by", "d"): {"day", "domain"},
        ("search", "--format", "js"): {"json", "jsonl"},
    }
    for words, want in cases.items():
        got = _bash_complete(["maillog", *words], tmp_path)
        assert set(got) == want, (words, got)


def test_zsh_and_fish_scripts_get_the_same_values(tmp_path: Path) -> None:
    """zsh and fish are not installed here: run the exact call their committed scripts make."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    assert "_TYPER_COMPLETE_ARGS" in (root / "completions" / "_maillog").read_text()
    assert "get-args" in (root / "completions" / "maillog.fish").read_text()
    for shell, extra in (("zsh", {}), ("fish", {"_TYPER_COMPLETE_FISH_ACTION": "get-args"})):
        env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "_MAILLOG_COMPLETE": f"complete_{shell}",
            "_TYPER_COMPLETE_ARGS": "maillog search --reason mailbox_f",
            **extra,
        }
        out = subprocess.run(
            [sys.executable, "-m", "maillog_cli"], capture_output=True, text=True, env=env
        ).stdout
        assert "mailbox_full" in out and "user_unknown" not in out, (shell, out)


def test_db_backup_is_consistent_while_a_writer_holds_the_store(cli, tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in _events(8)))
    assert cli("import", str(f)).exit_code == 0
    writer = sqlite3.connect(tmp_path / "maillog.db", isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM events")  # not committed: a backup must not see it
    try:
        copy = tmp_path / "copy.db"
        r = cli("db", "backup", str(copy))
        assert r.exit_code == 0, r
        assert "backed up" in r.stderr
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 8
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert cli("--db", str(copy), "search", "-n", "0").stdout.count("\n") == 8
    again = cli("db", "backup", str(copy))
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert not list(tmp_path.glob(".*partial"))


def test_dash_n_is_the_limit_everywhere_and_prune_keeps_only_dry_run(cli) -> None:
    assert "-n" not in cli("prune", "--help").stdout.replace("--no-", "")
    assert cli("prune", "-n", "--older-than", "30d").exit_code == 2


def test_the_bounce_reason_is_a_column_of_every_bounce_listing(
    cli, tmp_path: Path, monkeypatch
) -> None:
    from maillog_cli.render.events import TABLE_COLUMNS

    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in _events(4)))
    assert cli("import", str(f)).exit_code == 0
    at = TABLE_COLUMNS.index("reason")
    for argv in (["bounces", "--list"], ["search", "--status", "bounced"]):
        lines = cli(*argv).stdout.splitlines()
        assert lines and all(line.split("\t")[at] == "user_unknown" for line in lines), lines
    monkeypatch.setattr("maillog_cli.commands.listing.is_terminal", lambda *a: True)
    assert "user_unknown" in cli("bounces", "--list").stdout


def test_stats_chart_has_a_delivery_line_and_lines_can_be_chosen(cli, tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in _events(6)))
    assert cli("import", str(f)).exit_code == 0

    def labels(out: str) -> list[str]:
        chart = out.split("Per day", 1)[1].splitlines()[1:]
        return [ln.split()[0] for ln in chart if ln[:1].isalpha()]

    out = cli("stats", "--since", "2025-12-31").stdout
    assert labels(out) == ["sent", "delivery", "bounce", "complaint", "open"]
    assert "low 50.00%" in out  # half were delivered each day
    chosen = cli("stats", "--since", "2025-12-31", "--lines", "delivery,click").stdout
    assert labels(chosen) == ["delivery", "click"]
    bad = cli("stats", "--lines", "sent,bogus")
    assert bad.exit_code == 1 and "bogus is not a chart line" in bad.stderr

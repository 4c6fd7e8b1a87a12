"""No crash on any input (issue 16: "A traceback is a bug"): a bounded, deterministic
hypothesis pass over the reading commands' free text and filter values, the writing
commands' values held to a dry run (prune, resend) or stdout (export), and the TUI's
filter words, against a small real store.

Values are what a person (or a script) can put in argv: quotes, brackets, FTS and LIKE
syntax, unicode, control characters, undecodable bytes (as Python's argv carries them:
lone surrogates), huge numbers, empty strings and option-like strings. Each run goes
through the real CLI in-process (the `cli` fixture); the only outcomes allowed are
exit 0, a one-line error with exit 1, or a usage error with exit 2 — never a
traceback. `--follow`, `--import` and `--db` are left out of the option-like strings
(waiting forever, writing and opening another file are what they are for).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maillog_cli.errors import MaillogError

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SPECIAL = [
    "",
    " ",
    '"',
    '""',
    "'",
    "\\",
    "(",
    ")",
    "[",
    "]",
    "{}",
    "*",
    "%",
    "_",
    "^",
    ":",
    "-",
    "--",
    "-x",
    "--nope",
    "--limit",
    "--format",
    "-n",
    "NEAR(a b)",
    "a AND OR NOT b",
    "col:value",
    "status:",
    "to:",
    "since:",
    "domain:gmail.com status:nope",
    '"unterminated',
    "[bold]x[/bold]",
    "\x1b[2J",
    "\u202egnp",
    "\x07\x08\x7f\x85",
    "\udcff\udc80",  # undecodable argv bytes, as Python passes them on
    "ｆｕｌｌ",
    "𝔲𝔫𝔦𝔠𝔬𝔡𝔢",
    "é́́",
    "0",
    "-1",
    "99999999999999999999999999",
    "1e309",
    "nan",
    "9999999999d",
    "99999999999999h",
    "-5d",
    "2026-13-45",
    "0000-00-00",
    "9999-12-31T23:59:59Z",
    "1969-12-31",
    "yesterday",
    "monday",
    "3pm",
    "@1",
    "a" * 5000,
]
FORBIDDEN_OPTIONS = ("--follow", "--import", "--db", "--interval")

_free = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\x00"
    ),  # NUL cannot be in argv
    max_size=40,
)
_optionish = st.builds(lambda s: "-" + s, _free) | st.builds(lambda s: "--" + s, _free)
VALUES = (st.sampled_from(SPECIAL) | _free | _optionish).filter(
    lambda v: not v.startswith(FORBIDDEN_OPTIONS)
)

# Where a value goes: each a command line with one hole.
COMMANDS: list[tuple[str, ...]] = [
    ("search", "{}"),
    ("search", "--messages", "{}"),
    ("search", "{}", "--format", "jsonl"),
    ("ls", "{}"),
    ("search", "--to", "{}"),
    ("search", "--from", "{}"),
    ("search", "--domain", "{}"),
    ("search", "--subject", "{}"),
    ("search", "--status", "{}"),
    ("search", "--reason", "{}"),
    ("search", "--bounce-class", "{}"),
    ("search", "--provider", "{}"),
    ("search", "--message-id", "{}"),
    ("search", "--tag", "{}"),
    ("search", "--type", "{}"),
    ("search", "--send-method", "{}"),
    ("search", "--since", "{}"),
    ("search", "--until", "{}"),
    ("search", "--limit", "{}"),
    ("search", "--format", "{}"),
    ("tail", "{}"),
    ("tail", "-n", "{}"),
    ("tail", "--since", "{}"),
    ("show", "{}"),
    ("show", "{}", "--format", "json"),
    ("bounces", "{}"),
    ("bounces", "--domain", "{}"),
    ("bounces", "--since", "{}"),
    ("bounces", "--top", "{}"),
    ("bounces", "--list", "--reason", "{}"),
    ("bounces", "explain", "{}"),
    ("bounces", "explain", "--code", "{}", "x"),
    ("bounces", "explain", "--enhanced", "{}", "x"),
    ("audit", "{}"),
    ("audit", "--actor", "{}"),
    ("audit", "--action", "{}"),
    ("audit", "--category", "{}"),
    ("audit", "--target", "{}"),
    ("audit", "--ip", "{}"),
    ("audit", "--meta", "{}"),
    ("audit", "--since", "{}"),
    ("audit", "--until", "{}"),
    ("audit", "show", "{}"),
    ("audit", "actions", "--actor", "{}"),
    ("stats", "{}"),
    ("stats", "--by", "{}"),
    ("stats", "--since", "{}"),
    ("stats", "--lines", "{}"),
    ("stats", "--domain", "{}"),
    ("sql", "{}"),
    ("tui", "{}"),
    # Commands that write or send: each held to a dry run or stdout, the hole last so that
    # an option-like value cannot take the place of --dry-run.
    ("prune", "--dry-run", "--older-than", "{}"),
    ("prune", "--dry-run", "--before", "{}"),
    ("prune", "--dry-run", "--include-audit", "--audit-older-than", "{}"),
    ("export", "--output", "-", "--status", "{}"),
    ("export", "--output", "-", "--since", "{}"),
    ("export", "--output", "-", "--to", "{}"),
    ("resend", "--dry-run", "--smtp-host", "127.0.0.1", "--smtp-port", "9", "{}"),
    ("resend", "--dry-run", "--smtp-host", "127.0.0.1", "--smtp-port", "9", "--to", "{}", "ev0"),
    ("resend", "--dry-run", "--smtp-host", "127.0.0.1", "--smtp-port", "9", "--rate", "{}", "ev0"),
]


def _events() -> list[dict]:
    rows = []
    for i, (status, diag) in enumerate(
        [
            ("delivered", None),
            ("bounced", "550 5.1.1 <ghost@gmail.com>: user unknown"),
            ("bounced", "552 5.2.2 mailbox full"),
            ("deferred", "421 4.7.0 try again later"),
            ("complained", None),
            ("opened", None),
        ]
    ):
        rows.append(
            {
                "event_id": f"ev{i}",
                "message_id": f"<2026010112000{i}.{i}.AAAA@mg.acme.example>",
                "timestamp": f"2026-01-0{1 + i}T10:00:00Z",
                "provider": "maillog",
                "status": status,
                "sender": "app@acme.example",
                "recipient": f"user{i}@{'gmail.com' if i % 2 else 'yahoo.com'}",
                "subject": f'Receipt "{i}" [bold]',
                "diagnostic": diag,
            }
        )
    return rows


AUDIT = [
    {
        "id": f"01HZX3KQ7Y8ABCDEF000{i}",
        "created_at": f"2026-03-0{1 + i}T09:00:00Z",
        "actor_email": "bob@acme.com",
        "action": action,
        "metadata": {"changed": ["host"]},
        "ip": "203.0.113.9",
    }
    for i, action in enumerate(["smtp.update", "api_key.create", "Domain Added"])
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real store: a few events of each kind and a few audit entries."""
    from maillog_cli.context import format_error

    folder = tmp_path_factory.mktemp("fuzz")
    db = folder / "maillog.db"
    events = folder / "events.jsonl"
    events.write_text("".join(json.dumps(r) + "\n" for r in _events()))
    audit = folder / "audit.json"
    audit.write_text(json.dumps({"entries": AUDIT}))
    from typer.testing import CliRunner

    from maillog_cli.cli import app

    for f in (events, audit):
        r = CliRunner().invoke(app, ["--db", str(db), "import", str(f)], catch_exceptions=False)
        assert r.exit_code == 0, (r.stdout, r.stderr, format_error)
    return db


@pytest.fixture
def fuzz_cli(cli, store: Path, tmp_path: Path, monkeypatch) -> Callable[..., object]:
    monkeypatch.setenv("MAILLOG_DB", str(store))
    monkeypatch.chdir(tmp_path)  # a stray relative path lands here
    return cli


def _run(cli, template: tuple[str, ...], value: str):
    args = [value if part == "{}" else part for part in template]
    r = cli(*args)
    assert r.exit_code in (0, 1, 2), (args, r)
    out = r.stdout + r.stderr
    assert "Traceback" not in out, (args, r)
    if r.exit_code == 1:
        assert len(r.stderr.strip().splitlines()) <= 2, (args, r)  # the error and its hint
    return r


@pytest.mark.slow  # ~30 s: 250 command lines
def test_no_traceback_on_any_value(fuzz_cli) -> None:
    @settings(FUZZ, max_examples=250)
    @given(template=st.sampled_from(COMMANDS), value=VALUES)
    def run(template: tuple[str, ...], value: str) -> None:
        _run(fuzz_cli, template, value)

    run()


def _typeable(text: str) -> bool:
    """Text a terminal's keyboard or paste delivers: decoded, so no lone surrogates
    (`maillog tui WORDS` from argv is cleaned on the way in: see the regressions below)."""
    return not any("\ud800" <= c <= "\udfff" for c in text)


def test_tui_filter_words_parse_or_say_why_and_always_query(store: Path) -> None:
    """What the TUI's `/` filter does with typed words: parse_words (a MaillogError is
    shown under the input) and, when they parse, the Emails page and count, the header's
    description and the Bounces summary — none may raise."""
    from maillog_cli.store.query import parse_words
    from maillog_cli.tui.data import Source

    source = Source(store)
    try:

        @FUZZ
        @given(words=(st.lists(VALUES, max_size=4).map(" ".join) | VALUES).filter(_typeable))
        def run(words: str) -> None:
            try:
                filters = parse_words(words)
            except MaillogError:
                return
            filters.describe()
            source.page(filters)
            source.count(filters)
            source.bounce_summary(filters)

        run()
    finally:
        source.close()


# --- regressions: each crash the fuzzing found, as its own test -----------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("search", "\udcff\udc80"),
        ("search", "--to", "caf\udce9@x.example"),
        ("tail", "\udcff"),
        ("show", "\udcff"),
        ("bounces", "--domain", "\udcffa"),
        ("audit", "--actor", "\udcff"),
        ("audit", "show", "\udcff\udcfe\udcfd\udcfc"),
        ("bounces", "explain", "\udcff"),
        ("sql", "SELECT '\udcff'"),
        ("tui", "\udcff"),
    ],
    ids=lambda a: " ".join(a).encode("ascii", "backslashreplace").decode(),
)
def test_undecodable_argv_bytes_are_replacement_characters(fuzz_cli, args) -> None:
    """`maillog search $'\\xff'`: bytes that are not UTF-8 reach Python as lone
    surrogates, which SQLite and the terminal refuse ("surrogates not allowed", a
    traceback). Every text value now carries U+FFFD in their place, as an import does."""
    r = _run(fuzz_cli, args, "")
    assert "\udcff" not in r.stdout + r.stderr
    if args[0] == "sql":
        assert r.exit_code == 0 and "\ufffd" in r.stdout

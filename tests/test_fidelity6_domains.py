"""One domain written two ways is one domain (fidelity6, item 1): an internationalised name
and its punycode, and any case, are stored in one spelling (readable Unicode, lower case),
grouped as one by `stats --by domain` and `bounces`, and found by --domain in either
spelling. Text that is not valid IDNA is kept as written and never raises."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_cli.normalize import domain, domain_spellings
from maillog_cli.store.migrations import MIGRATIONS, m013_one_spelling_per_domain

from .test_stats_rollup import assert_exact

SPELLINGS = [
    "ann@bücher.example",
    "bob@xn--bcher-kva.example",
    "Cy <cy@BÜCHER.Example>",
    "dee@XN--BCHER-KVA.EXAMPLE.",
]


def _import(cli: Callable[..., object], tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    f = tmp_path / "idn.jsonl"
    f.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"d-{i}",
                    "message_id": f"<d{i}@example.com>",
                    "timestamp": "2026-03-01T10:00:00Z",
                    "provider": "postmark",
                    "status": status,
                    "recipient": rcpt,
                    "diagnostic": "550 5.1.1 user unknown" if status == "bounced" else None,
                },
                ensure_ascii=False,
            )
            + "\n"
            for i, (rcpt, status) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    r = cli("import", f)
    assert r.exit_code == 0, r


def _stats_domains(cli: Callable[..., object]) -> dict[str, int]:
    r = cli("stats", "--by", "domain", "--format", "jsonl")
    assert r.exit_code == 0, r
    return {row["domain"]: row["messages"] for row in map(json.loads, r.stdout.splitlines())}


def _found(cli: Callable[..., object], word: str) -> int:
    r = cli("search", "--domain", word, "--limit", "0", "--format", "jsonl")
    assert r.exit_code == 0, r
    return len(r.stdout.splitlines())


def test_one_idn_domain_in_four_spellings_is_one_group(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    _import(cli, tmp_path, [(a, "bounced") for a in SPELLINGS] + [("eve@gmail.com", "delivered")])
    assert _stats_domains(cli) == {"bücher.example": 4, "gmail.com": 1}
    r = cli("bounces", "--format", "json")
    assert [d["domain"] for d in json.loads(r.stdout)["domains"]] == ["bücher.example"]
    for word in (
        "bücher.example",
        "xn--bcher-kva.example",
        "BÜCHER.EXAMPLE",
        "@Xn--Bcher-Kva.Example.",
    ):
        assert _found(cli, word) == 4, word
        r = cli("stats", "--domain", word, "--format", "json")
        assert json.loads(r.stdout)["messages"] == 4, word
    assert_exact(db_path)


def test_text_that_is_not_idna_is_kept_as_written(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    odd = ["a@xn--zz.example", "b@xn--a.example", "c@xn--.example", "d@xn--bcd-5q0a.example"]
    _import(cli, tmp_path, [(a, "delivered") for a in odd])
    assert set(_stats_domains(cli)) == {
        "xn--zz.example",
        "xn--a.example",
        "xn--.example",
        "xn--bcd-5q0a.example",
    }
    assert _found(cli, "XN--ZZ.example") == 1
    r = cli("search", "--domain", "xn--\udcff")
    assert "Traceback" not in r.stderr


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(max_size=80) | st.builds(lambda s: "xn--" + s, st.text(max_size=70)))
def test_the_one_spelling_never_raises_and_is_stable(text: str):
    once = domain(text)
    assert once is None or (once == domain(once) and once == once.lower())


def test_migration_13_respells_an_older_stores_domains(
    cli: Callable[..., object], tmp_path: Path, db_path: Path
):
    _import(cli, tmp_path, [(a, "bounced") for a in SPELLINGS])
    with sqlite3.connect(db_path) as conn:  # as maillog ≤ schema 12 stored them: as written
        for table in ("events", "messages"):
            conn.execute(
                f"UPDATE {table} SET recipient_domain = CASE WHEN recipient LIKE 'bob@%'"
                " THEN 'xn--bcher-kva.example' WHEN recipient LIKE 'dee@%'"
                " THEN 'XN--BCHER-KVA.EXAMPLE' ELSE recipient_domain END"
            )
        conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(m013_one_spelling_per_domain)}")
    conn.close()
    assert _stats_domains(cli) == {"bücher.example": 4}
    with sqlite3.connect(db_path) as conn:
        for table in ("events", "messages"):
            rows = conn.execute(f"SELECT DISTINCT recipient_domain FROM {table}").fetchall()
            assert rows == [("bücher.example",)], table
    conn.close()
    assert_exact(db_path)


def test_to_finds_an_address_whatever_spelling_its_domain_was_stored_in(
    cli: Callable[..., object], tmp_path: Path
):
    """Addresses are kept as the source wrote them (their event ids depend on it); --to
    looks for the domain in both spellings."""
    _import(
        cli, tmp_path, [("ann@bücher.example", "sent"), ("ann@xn--bcher-kva.example", "delivered")]
    )
    for word in ("ann@bücher.example", "ANN@XN--BCHER-KVA.EXAMPLE", "Ann <ann@Bücher.Example>"):
        r = cli("search", "--to", word, "--format", "jsonl")
        assert r.exit_code == 0, r
        assert len(r.stdout.splitlines()) == 2, word


def test_a_label_that_mixes_scripts_stays_punycode_in_both_spellings(
    cli: Callable[..., object], tmp_path: Path
):
    """`аpple.com` with a Cyrillic `а` would read as apple.com: it is shown, stored and
    grouped as `xn--pple-43d.com`, whichever way the source wrote it; a one-script name
    (Japanese mixes Han, Hiragana and Katakana) is shown readable."""
    _import(
        cli,
        tmp_path,
        [
            ("a@xn--pple-43d.com", "delivered"),
            ("b@\u0430pple.com", "delivered"),
            ("c@apple.com", "delivered"),
            ("d@xn--r8jz45g.xn--zckzah", "delivered"),
        ],
    )
    assert _stats_domains(cli) == {"xn--pple-43d.com": 2, "apple.com": 1, "例え.テスト": 1}
    assert _found(cli, "\u0430pple.com") == 2 and _found(cli, "apple.com") == 1


def test_to_finds_a_mixed_script_address_in_either_spelling(
    cli: Callable[..., object], tmp_path: Path
):
    _import(
        cli,
        tmp_path,
        [
            ("a@\u0430pple.com", "sent"),
            ("a@xn--pple-43d.com", "delivered"),
            ("a@apple.com", "sent"),
        ],
    )
    for word in ("a@\u0430pple.com", "a@XN--PPLE-43D.com"):
        assert len(cli("search", "--to", word, "--format", "jsonl").stdout.splitlines()) == 2, word


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_domain_spellings_never_raise(text: str):
    forms = domain_spellings(text)
    assert not forms or forms[0] == domain(text)

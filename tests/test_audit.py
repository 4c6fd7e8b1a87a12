"""`maillog audit` and the audit import: shapes, filters, redaction, empty results."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from maillog_cli import importers
from maillog_cli.audit import queries as auditlog
from maillog_cli.importers import audit as audit_importer
from maillog_cli.importers.base import Context
from maillog_cli.model import AUDIT_KEYS
from maillog_cli.redaction import is_secret_key, mask_credentials, redact

from .conftest import PROVIDER_FIXTURES, fixture_files

SMTP_SECRET = "hunter2-SMTP-s3cret-value"
SG_KEY = "SG.abcdefghijklmnop1234.ABCDEFGHIJKLMNOPqrstuvwx12345"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz"

ENTRIES: list[dict[str, Any]] = [
    {
        "id": "01HAUD0041",
        "created_at": "2026-03-01T09:00:00Z",
        "actor_id": "usr_bob",
        "actor_email": "bob@acme.com",
        "action": "smtp.update",
        "target_type": "smtp",
        "target_id": "default",
        "metadata": {"changed": ["host", "port"], "host": "smtp2.acme.com"},
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
    },
    {
        "id": "01HAUD0042",
        "created_at": "2026-03-02T10:30:00.123456Z",
        "actor_id": "usr_alice",
        "actor_email": "Alice@Acme.com",
        "action": "smtp.update",
        "target_type": "smtp",
        "target_id": "default",
        "metadata": {
            "changed": ["password"],
            "smtp_password": SMTP_SECRET,
            "nested": {"auth": {"Password": SMTP_SECRET}},
        },
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
    },
    {
        "id": "01HAUD0043",
        "created_at": "2026-03-03T08:00:00+02:00",
        "actor_id": "usr_malice",
        "actor_email": "malice@evil.example",
        "action": "api_key.create",
        "target_type": "api_key",
        "target_id": "ak_9",
        "metadata": {"api_key_id": "ak_9", "name": "ci", "note": f"pasted {SG_KEY} by mistake"},
        "ip": "198.51.100.2",
        "user_agent": "curl/8.5",
    },
    {
        "id": "01HAUD0044",
        "created_at": "2026-03-04T12:00:00Z",
        "actor_id": "usr_alice",
        "actor_email": "alice@acme.com",
        "action": "webhook.update",
        "target_type": "webhook",
        "target_id": "wh_1",
        "metadata": {
            "headers": [{"name": "Authorization", "value": f"Bearer {BEARER}"}],
            "url": "https://hooks.example.net/in",
        },
        "ip": "203.0.113.7",
        "user_agent": None,
    },
    {
        "id": "01HAUD0050",
        "created_at": "2026-03-05T12:00:00Z",
        "actor_id": "usr_carol",
        "actor_email": "carol@acme.com",
        "action": "billing.update",
        "target_type": "plan",
        "target_id": "pro",
        "metadata": {},
        "ip": "192.0.2.10",
        "user_agent": None,
    },
]
NEWEST_FIRST = ["01HAUD0050", "01HAUD0044", "01HAUD0043", "01HAUD0042", "01HAUD0041"]


def write_page(path: Path, entries: list[dict[str, Any]], cursor: str | None = "c_0002") -> Path:
    path.write_bytes(
        orjson.dumps({"entries": entries, "next_cursor": cursor}, option=orjson.OPT_INDENT_2)
    )
    return path


def jsonl(r) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in r.stdout.splitlines() if line.strip()]


@pytest.fixture
def loaded(cli, tmp_path: Path):
    """The five ENTRIES imported from an API page with a cursor."""
    r = cli("import", write_page(tmp_path / "page.json", ENTRIES))
    assert r.exit_code == 0, r
    assert "5 new audit entries" in r.stderr
    return cli


def ids(r) -> list[str]:
    assert r.exit_code == 0, r
    return [row["id"] for row in jsonl(r)]


# --- import shapes -----------------------------------------------------------------------------


def test_api_page_with_cursor_imports_every_entry_once(loaded) -> None:
    cli = loaded
    rows = jsonl(cli("audit", "--format", "jsonl"))
    assert [r["id"] for r in rows] == NEWEST_FIRST
    assert all(list(r) == list(AUDIT_KEYS) for r in rows)
    alice = rows[3]
    assert alice["created_at"] == "2026-03-02T10:30:00.123Z"
    assert alice["actor_email"] == "alice@acme.com"
    assert alice["metadata"] == {
        "changed": ["password"],
        "smtp_password": "[redacted]",
        "nested": {"auth": "[redacted]"},
    }
    assert rows[2]["created_at"] == "2026-03-03T06:00:00.000Z"  # +02:00 to UTC
    assert rows[0]["user_agent"] is None and rows[0]["metadata"] == {}


def test_reimport_adds_nothing(loaded, tmp_path: Path) -> None:
    r = loaded("import", write_page(tmp_path / "again.json", ENTRIES, cursor=None))
    assert r.exit_code == 0 and "0 new audit entries, 5 already present" in r.stderr
    assert len(jsonl(loaded("audit", "--format", "jsonl"))) == 5


def _csv_text(entries: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(AUDIT_KEYS)
    for e in entries:
        w.writerow(
            [
                "" if e.get(k) is None else orjson.dumps(e[k]).decode() if k == "metadata" else e[k]
                for k in AUDIT_KEYS
            ]
        )
    return out.getvalue()


@pytest.mark.parametrize("shape", ["array", "jsonl", "csv", "page-jsonl-line"])
def test_arrays_jsonl_and_csv_give_the_same_entries(cli, tmp_path: Path, shape: str) -> None:
    reference = tmp_path / "ref.db"
    assert (
        cli("--db", reference, "import", write_page(tmp_path / "page.json", ENTRIES)).exit_code == 0
    )
    expected = cli("--db", reference, "audit", "--format", "jsonl").stdout
    path = tmp_path / f"in.{shape}"
    if shape == "array":
        path.write_bytes(orjson.dumps(ENTRIES, option=orjson.OPT_INDENT_2))
    elif shape == "jsonl":
        path.write_text("\n".join(orjson.dumps(e).decode() for e in ENTRIES) + "\n")
    elif shape == "csv":
        path.write_text(_csv_text(ENTRIES))
    else:
        path.write_text(
            orjson.dumps({"entries": ENTRIES[:2], "next_cursor": "x"}).decode()
            + "\n"
            + orjson.dumps({"entries": ENTRIES[2:], "next_cursor": None}).decode()
            + "\n"
        )
    r = cli("import", path)
    assert r.exit_code == 0, r
    assert "5 new audit entries, 0 already present, 0 skipped [audit]" in r.stderr
    assert cli("audit", "--format", "jsonl").stdout == expected


def test_our_output_imports_back_without_loss(loaded, tmp_path: Path) -> None:
    for fmt in ("json", "jsonl", "csv"):
        out = tmp_path / f"out.{fmt}"
        out.write_text(loaded("audit", "--format", fmt).stdout)
        other = tmp_path / f"{fmt}.db"
        r = loaded("--db", other, "import", out)
        assert r.exit_code == 0 and "5 new audit entries" in r.stderr, (fmt, r)
        assert (
            loaded("--db", other, "audit", "--format", "jsonl").stdout
            == loaded("audit", "--format", "jsonl").stdout
        )


def test_csv_bad_metadata_json_is_a_bad_record_and_the_rest_goes_in(cli, tmp_path: Path) -> None:
    text = (
        _csv_text(ENTRIES[:2])
        + '01HAUD0099,2026-03-09T00:00:00Z,usr_x,x@acme.com,project.update,project,p1,"{not json",,\n'
    )
    path = tmp_path / "audit.csv"
    path.write_text(text)
    r = cli("import", path)
    assert r.exit_code == 1
    assert "audit.csv:4: metadata is not valid JSON" in r.stderr
    assert ids(cli("audit", "--format", "jsonl")) == ["01HAUD0042", "01HAUD0041"]


def test_a_bad_entry_in_a_page_does_not_lose_the_others(cli, tmp_path: Path) -> None:
    bad = {**ENTRIES[0], "id": "bad", "created_at": "not a time"}
    r = cli("import", write_page(tmp_path / "p.json", [ENTRIES[1], bad, ENTRIES[2]]))
    assert r.exit_code == 1
    assert "entries[2]: timestamp 'not a time' is not a time" in r.stderr
    assert ids(cli("audit", "--format", "jsonl")) == ["01HAUD0043", "01HAUD0042"]


def test_entries_without_id_get_a_stable_content_id(cli, tmp_path: Path) -> None:
    entries = [{k: v for k, v in e.items() if k != "id"} for e in ENTRIES[:3]]
    path = tmp_path / "noid.jsonl"
    path.write_text("\n".join(orjson.dumps(e).decode() for e in entries) + "\n")
    assert cli("import", path).exit_code == 0
    first = ids(cli("audit", "--format", "jsonl"))
    assert len(set(first)) == 3 and all(i.startswith("a:") for i in first)
    r = cli("import", path)
    assert "0 new audit entries, 3 already present" in r.stderr
    assert ids(cli("audit", "--format", "jsonl")) == first


def test_other_products_activity_logs(cli, tmp_path: Path) -> None:
    path = tmp_path / "activity.json"
    path.write_bytes(
        orjson.dumps(
            [
                {
                    "action": "API Key Generated",
                    "createdAt": "2026-02-01T10:00:00Z",
                    "user": {"id": "u1", "email": "Dana@Acme.com"},
                    "ipAddress": "192.0.2.5",
                    "userAgent": "Firefox",
                    "description": "key for CI",
                    "apiKey": "abc123-very-secret",
                },
                {
                    "action": "Domain Added",
                    "created_at": "2026-02-02T10:00:00Z",
                    "actor": "dana@acme.com",
                    "target": {"type": "domain", "id": "acme.com"},
                },
                {"action": "Login", "created_at": 1770076800, "actor": "u1", "ip": "192.0.2.5"},
            ]
        )
    )
    r = cli("import", path)
    assert r.exit_code == 0, r
    rows = jsonl(cli("audit", "--format", "jsonl"))
    assert [
        (x["action"], x["actor_id"], x["actor_email"], x["target_type"], x["target_id"], x["ip"])
        for x in rows
    ] == [
        ("login", "u1", None, None, None, "192.0.2.5"),
        ("domain.added", None, "dana@acme.com", "domain", "acme.com", None),
        ("api_key.generated", "u1", "dana@acme.com", None, None, "192.0.2.5"),
    ]
    assert rows[2]["metadata"] == {"description": "key for CI", "apiKey": "[redacted]"}
    assert rows[2]["user_agent"] == "Firefox"
    show = cli("audit", "show", rows[1]["id"])
    assert "domain.added  [domains]  (as written: Domain Added)" in show.stdout


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("API Key Generated", "api_key.generated"),
        ("Domain Added", "domain.added"),
        ("Domain Verified", "domain.verified"),
        ("Settings Changed", "settings.changed"),
        ("Member Invited", "member.invited"),
        ("Login", "login"),
        ("Login Failed", "login.failed"),
        ("User Logged In", "user.logged_in"),
        ("smtp.update", "smtp.update"),
        ("SMTP.Update", "smtp.update"),
        ("api_key:create", "api_key.create"),
        ("bounce-token/rotate", "bounce_token.rotate"),
        ("domainVerified", "domain.verified"),
    ],
)
def test_action_names_are_normalised(raw: str, name: str) -> None:
    assert audit_importer.normalize_action(raw) == name


def test_provider_samples_are_never_taken_for_audit_entries() -> None:
    checked = 0
    for path in fixture_files():
        if path.suffix == ".csv":
            header = next(csv.reader(path.open(encoding="utf-8-sig")))
            assert not audit_importer.detect_header(header), path
            checked += 1
            continue
        if path.suffix not in (".json", ".jsonl"):
            continue
        text = path.read_text(encoding="utf-8-sig")
        try:
            values = [orjson.loads(text)]
        except orjson.JSONDecodeError:
            values = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        stack = list(values)
        while stack:
            value = stack.pop()
            if isinstance(value, list):
                stack.extend(value)
                continue
            if not isinstance(value, dict):
                continue
            assert not audit_importer.detect(value), path
            module = importers.detect(value)
            assert module is None or module.NAME != "audit", path
            checked += 1
            stack.extend(v for v in value.values() if isinstance(v, list))
    assert checked >= 30  # the repo fixtures alone hold 40 records


def test_audit_entries_are_not_taken_for_events() -> None:
    for e in ENTRIES:
        assert importers.detect(e) is audit_importer
    assert importers.detect({"entries": ENTRIES, "next_cursor": None}) is audit_importer
    # maillog's own event shape and delivery records keyed on `event` stay theirs.
    assert not audit_importer.detect(
        {"status": "delivered", "timestamp": "2026-01-01T00:00:00Z", "action": "x", "created_at": 1}
    )
    assert not audit_importer.detect(
        {"event": "delivered", "action": "x", "created_at": 1, "email": "a@b.c"}
    )
    assert not audit_importer.detect(
        {"action": "x", "created_at": "2026-01-01"}
    )  # nothing says who or what
    assert not audit_importer.detect({"entries": [{"status": "sent"}]})
    assert audit_importer.detect_header(list(AUDIT_KEYS))
    assert not audit_importer.detect_header(["status", "timestamp", "action", "created_at"])


def test_parse_keeps_entries_apart_and_redacts() -> None:
    items = list(audit_importer.parse({"entries": ENTRIES[1:2], "next_cursor": "x"}, Context()))
    assert len(items) == 1
    assert items[0].metadata["smtp_password"] == "[redacted]"
    assert items[0].raw_action == "smtp.update"


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--actor", "alice"], ["01HAUD0044", "01HAUD0042"]),
        (["--actor", "ALICE@acme.com"], ["01HAUD0044", "01HAUD0042"]),
        (["--actor", "usr_alice"], ["01HAUD0044", "01HAUD0042"]),
        (["--actor", "malice"], ["01HAUD0043"]),
        (["--actor", "lice"], []),
        (["--actor", "alice@evil.example"], []),
        (["--actor", "bob", "--actor", "carol"], ["01HAUD0050", "01HAUD0041"]),
        (["--action", "smtp.update"], ["01HAUD0042", "01HAUD0041"]),
        (["--action", "SMTP Update"], ["01HAUD0042", "01HAUD0041"]),
        (["--action", "api_key.*"], ["01HAUD0043"]),
        (["--action", "*.update"], ["01HAUD0050", "01HAUD0044", "01HAUD0042", "01HAUD0041"]),
        (["--action", "api_key.*", "--action", "webhook.update"], ["01HAUD0044", "01HAUD0043"]),
        (["--action", "smtp"], []),
        (["--category", "sending"], ["01HAUD0042", "01HAUD0041"]),
        (["--category", "api"], ["01HAUD0044", "01HAUD0043"]),
        (["--category", "other"], ["01HAUD0050"]),
        (["--category", "auth"], []),
        (["--target", "default"], ["01HAUD0042", "01HAUD0041"]),
        (["--target", "webhook:wh_1"], ["01HAUD0044"]),
        (["--target", "api_key:wh_1"], []),
        (["--ip", "203.0.113.7"], ["01HAUD0044", "01HAUD0042"]),
        (["--ip", "203.0.113.*"], ["01HAUD0044", "01HAUD0042", "01HAUD0041"]),
        (["--ip", "203.0.113.70"], []),
        (
            ["--since", "2026-03-02T10:30:00.123Z"],
            ["01HAUD0050", "01HAUD0044", "01HAUD0043", "01HAUD0042"],
        ),
        (["--until", "2026-03-02T10:30:00.123Z"], ["01HAUD0041"]),
        (["--since", "2026-03-02", "--until", "2026-03-04"], ["01HAUD0043", "01HAUD0042"]),
        (["--limit", "2"], ["01HAUD0050", "01HAUD0044"]),
        (["--limit", "0"], NEWEST_FIRST),
        (["--meta", "PASSWORD"], ["01HAUD0042"]),
        (["--actor", "alice", "--category", "sending", "--ip", "203.0.113.7"], ["01HAUD0042"]),
    ],
)
def test_filters(loaded, args: list[str], expected: list[str]) -> None:
    assert ids(loaded("audit", *args, "--format", "jsonl")) == expected


def test_relative_since(cli, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    entries = [
        {**ENTRIES[0], "id": "old", "created_at": (now - timedelta(days=40)).isoformat()},
        {**ENTRIES[0], "id": "new", "created_at": (now - timedelta(days=2)).isoformat()},
    ]
    assert cli("import", write_page(tmp_path / "p.json", entries)).exit_code == 0
    assert ids(cli("audit", "--action", "smtp.update", "--since", "30d", "--format", "jsonl")) == [
        "new"
    ]
    assert ids(cli("audit", "--until", "30d", "--format", "jsonl")) == ["old"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--category", "billing"], "unknown category 'billing'"),
        (["--since", "someday"], "cannot read the date 'someday'"),
        (["--since", "2026-03-04", "--until", "2026-03-01"], "--since is after --until"),
    ],
)
def test_bad_filter_values_are_one_line_errors(loaded, args: list[str], message: str) -> None:
    r = loaded("audit", *args)
    assert r.exit_code == 1
    assert message in r.stderr and r.stderr.count("\n") == 1


def test_who_changed_our_smtp_password_in_one_command(loaded) -> None:
    r = loaded("audit", "--action", "smtp.*", "--meta", "password")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == [
        "2026-03-02 10:30:00\t01HAUD0042\talice@acme.com\tsmtp.update\tsmtp:default\t203.0.113.7\t"
        "changed=password smtp_password=[redacted] nested.auth=[redacted]"
    ]


def test_category_rule_agrees_between_python_and_sql(cli) -> None:
    from maillog_cli.store.db import Store

    store = Store.open(_db())
    actions = [*auditlog.ACTIONS, "smtp.test", "billing.update", "login", "weird", "domain"]
    store.conn.executemany(
        "INSERT INTO audit(id, created_at, action, metadata) VALUES (?, '2026-01-01T00:00:00.000Z', ?, '{}')",
        [(f"k{i}", a) for i, a in enumerate(actions)],
    )
    for category in auditlog.CATEGORIES:
        clause, params = auditlog.where(auditlog.build(categories=[category]))
        got = {
            r[0] for r in store.conn.execute(f"SELECT action FROM audit a WHERE {clause}", params)
        }
        assert got == {a for a in actions if auditlog.category_of(a) == category}, category
    assert all(auditlog.category_of(a) != auditlog.OTHER for a in auditlog.ACTIONS)
    assert auditlog.category_of("weird") == auditlog.OTHER
    store.close()


def _db() -> str:
    import os

    return os.environ["MAILLOG_DB"]


# --- actions and show --------------------------------------------------------------------------


def test_audit_actions_counts_what_is_stored(loaded) -> None:
    r = loaded("audit", "actions", "--format", "jsonl")
    rows = jsonl(r)
    assert [(x["action"], x["category"], x["count"]) for x in rows] == [
        ("smtp.update", "sending", 2),
        ("api_key.create", "api", 1),
        ("billing.update", "other", 1),
        ("webhook.update", "api", 1),
    ]
    assert (
        rows[0]["first_seen"] == "2026-03-01T09:00:00.000Z"
        and rows[0]["last_seen"] == "2026-03-02T10:30:00.123Z"
    )
    assert rows[2]["description"] is None
    tsv = loaded("audit", "actions", "--actor", "alice").stdout.splitlines()
    assert [line.split("\t")[:3] for line in tsv] == [
        ["smtp.update", "sending", "1"],
        ["webhook.update", "api", "1"],
    ]


def test_show_expands_one_entry(loaded) -> None:
    r = loaded("audit", "show", "01HAUD0042")
    assert r.exit_code == 0, r
    out = r.stdout
    assert "alice@acme.com (usr_alice)" in out and "smtp.update  [sending]" in out
    assert '"smtp_password": "[redacted]"' in out and '"changed": [' in out
    assert SMTP_SECRET not in out
    j = loaded("audit", "show", "01HAUD0042", "--format", "json")
    row = orjson.loads(j.stdout)
    assert list(row) == list(AUDIT_KEYS) and row["id"] == "01HAUD0042"
    assert loaded("audit", "show", "01HAUD0043").exit_code == 0


def test_show_by_unique_prefix_ambiguous_and_missing(loaded) -> None:
    assert '"01HAUD0050"' in loaded("audit", "show", "01HAUD005", "--format", "json").stdout
    r = loaded("audit", "show", "01HAUD004")
    assert r.exit_code == 1 and "is the start of several audit entry ids" in r.stderr
    r = loaded("audit", "show", "nope")
    assert r.exit_code == 1 and "no audit entry 'nope'" in r.stderr


def test_markup_and_control_characters_are_never_interpreted(
    cli, tmp_path: Path, monkeypatch
) -> None:
    import maillog_cli.render.output as render

    nasty = {
        **ENTRIES[0],
        "id": "x1",
        "actor_email": "[bold]eve@acme.com",
        "metadata": {"note": "[red]hi[/red] \x1b[2J \u202egnp"},
    }
    assert cli("import", write_page(tmp_path / "p.json", [nasty])).exit_code == 0
    monkeypatch.setattr(render, "is_terminal", lambda stream=None: True)
    table = cli("audit").stdout
    assert "[bold]eve@acme.com" in table and "[red]hi[/red]" in table
    assert "\x1b" not in table and "\u202e" not in table and "\\x1b[2J" in table
    shown = cli("audit", "show", "x1").stdout
    assert "[red]hi[/red]" in shown and "\x1b" not in shown and "\u202e" not in shown


# --- secrets -----------------------------------------------------------------------------------


def test_secrets_never_reach_the_database_file_nor_any_output(loaded, tmp_path: Path) -> None:
    db = Path(_db())
    for suffix in ("", "-wal", "-journal"):
        f = Path(str(db) + suffix)
        if f.exists():
            assert SMTP_SECRET.encode() not in f.read_bytes(), suffix
    assert db.exists()
    outputs = [
        loaded("audit", "--format", fmt, "--limit", "0").stdout
        for fmt in ("table", "json", "jsonl", "csv")
    ]
    outputs += [
        loaded("audit", "show", i, "--format", fmt).stdout
        for i in NEWEST_FIRST
        for fmt in ("table", "json", "csv")
    ]
    outputs.append(loaded("sql", "SELECT * FROM audit", "--format", "jsonl").stdout)
    for out in outputs:
        assert SMTP_SECRET not in out
    # Value-level masking on output: the SendGrid key and the bearer token under a
    # harmless key, the bearer token in a header pair (redacted on import).
    for out in outputs[:-1]:
        assert SG_KEY not in out and BEARER not in out
    row = orjson.loads(loaded("audit", "show", "01HAUD0043", "--format", "json").stdout)
    assert row["metadata"]["note"] == "pasted SG.[masked] by mistake"
    assert row["metadata"]["api_key_id"] == "ak_9"
    hook = orjson.loads(loaded("audit", "show", "01HAUD0044", "--format", "json").stdout)
    assert hook["metadata"]["headers"] == [{"name": "Authorization", "value": "[redacted]"}]


def test_secrets_stored_before_redaction_are_still_masked_on_output(cli) -> None:
    from maillog_cli.store.db import Store

    store = Store.open(_db())
    store.conn.execute(
        "INSERT INTO audit(id, created_at, action, metadata, user_agent) VALUES ('old', '2026-01-01T00:00:00.000Z', 'smtp.update', ?, ?)",
        (
            orjson.dumps(
                {"password": "plain-old-secret", "url": "smtp://u:pw1234@smtp.acme.com"}
            ).decode(),
            f"bot token={SG_KEY}",
        ),
    )
    store.close()
    row = jsonl(cli("audit", "--format", "jsonl"))[0]
    assert row["metadata"] == {"password": "[redacted]", "url": "smtp://u:[masked]@smtp.acme.com"}
    assert row["user_agent"] == "bot token=[masked]"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("smtp_password", True),
        ("newPassword", True),
        ("passwd", True),
        ("pass", True),
        ("client_secret", True),
        ("access_token", True),
        ("bounce_token", True),
        ("api_key", True),
        ("X-Api-Key", True),
        ("apikey", True),
        ("Authorization", True),
        ("credentials", True),
        ("private_key", True),
        ("session_id", True),
        ("api_key_id", False),
        ("token_type", False),
        ("password_changed", False),
        ("token_last4", False),
        ("passenger", False),
        ("author", False),
        ("monkey", False),
        ("keyboard", False),
        ("id", False),
        ("host", False),
    ],
)
def test_secret_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_redact_walks_every_depth_and_keeps_the_shape() -> None:
    value = {
        "a": [
            {"password": "x", "ok": 1},
            {"name": "X-Api-Key", "value": "v"},
            {"name": "Accept", "value": "json"},
        ],
        "auth": {"user": "u", "pass": "p"},
        "password_set": True,
        "token": None,
        "Token": 12345,
    }
    assert redact(value) == {
        "a": [
            {"password": "[redacted]", "ok": 1},
            {"name": "X-Api-Key", "value": "[redacted]"},
            {"name": "Accept", "value": "json"},
        ],
        "auth": "[redacted]",
        "password_set": True,
        "token": None,
        "Token": "[redacted]",
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (SG_KEY, "SG.[masked]"),
        ("key-0123456789abcdef0123456789abcdef", "key-[masked]"),
        ("0123456789abcdef0123456789abcdef-0123abcd-4567ef01", "[masked]"),
        ("re_123456789_abcdefghijklmnopqrstu", "re_[masked]"),
        ("AKIAIOSFODNN7EXAMPLE", "AKIA[masked]"),
        ("Authorization: Bearer abc.def-ghi12345", "Authorization: Bearer [masked]"),
        ("smtp://alice:hunter2@smtp.example.com:587", "smtp://alice:[masked]@smtp.example.com:587"),
        ("https://x.example/u?token=abc123&x=1", "https://x.example/u?token=[masked]&x=1"),
        ("password=hunter2", "password=[masked]"),
        ("new password: S3cr3t!!", "new password: [masked]"),
        (
            "X-Postmark-Server-Token: 550e8400-e29b-41d4-a716-446655440000",
            "X-Postmark-Server-Token: [masked]",
        ),
        (BEARER, "[masked]"),
        ("xkeysib-" + "a" * 64 + "-AbCdEfGh12345678", "xkeysib-[masked]"),
    ],
)
def test_mask_credentials_masks(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "01HAUD0042XYZABCDEFGHJKMNP",
        "550e8400-e29b-41d4-a716-446655440000",
        "<abc.123@mail.example.com>",
        "filter0001p1las1-16816-5A1E8B9A-1.0",
        "203.0.113.7",
        "2001:db8::1",
        "alice@acme.com",
        "re_send_everything_please",
        "monkey=banana",
        "api_key: [redacted]",
        "0123456789abcdef0123456789abcdef",
        "https://hooks.example.net/in?id=42",
        "smtp.update by alice",
        "ak_9",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    ],
)
def test_mask_credentials_leaves_ordinary_values(text: str) -> None:
    assert mask_credentials(text) == text


# --- empty results -----------------------------------------------------------------------------


def test_empty_results(loaded, monkeypatch) -> None:
    r = loaded("audit", "--actor", "nobody")
    assert r.exit_code == 0 and r.stdout == ""
    assert loaded("audit", "--actor", "nobody", "--format", "json").stdout == "[]\n"
    assert loaded("audit", "--actor", "nobody", "--format", "jsonl").stdout == ""
    assert (
        loaded("audit", "--actor", "nobody", "--format", "csv").stdout
        == ",".join(AUDIT_KEYS) + "\n"
    )
    assert loaded("audit", "actions", "--actor", "nobody", "--format", "jsonl").stdout == ""
    import maillog_cli.render.output as render

    monkeypatch.setattr(render, "is_terminal", lambda stream=None: True)
    r = loaded("audit", "--actor", "nobody")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == "maillog: no audit entries match these filters\n"


def test_empty_store_says_how_to_fill_it(cli, monkeypatch, tmp_path: Path) -> None:
    import maillog_cli.render.output as render

    assert cli("import", PROVIDER_FIXTURES / "maillog.csv").exit_code == 0
    monkeypatch.setattr(render, "is_terminal", lambda stream=None: True)
    r = cli("audit")
    assert r.exit_code == 0
    assert (
        r.stdout == "" and "No audit entries yet" in r.stderr and "maillog import FILE" in r.stderr
    )


def test_table_on_a_terminal(loaded, monkeypatch) -> None:
    import maillog_cli.render.output as render

    monkeypatch.setattr(render, "is_terminal", lambda stream=None: True)
    lines = loaded("audit", "--actor", "alice").stdout.splitlines()
    assert lines[0].split() == ["time", "id", "actor", "action", "target", "ip", "metadata"]
    assert "webhook.update" in lines[1] and "smtp.update" in lines[2]
    # metadata takes the room left in 120 columns and ends in an ellipsis when cut.
    assert lines[2].endswith("changed=password smtp_passw…")
    assert max(len(line) for line in lines) <= 120


def test_group_db_option_reaches_subcommands(cli, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    assert cli("--db", other, "import", write_page(tmp_path / "p.json", ENTRIES)).exit_code == 0
    r = cli("audit", "--db", other, "show", "01HAUD0041", "--format", "json")
    assert r.exit_code == 0 and orjson.loads(r.stdout)["id"] == "01HAUD0041"


def test_the_docs_list_every_known_action_with_its_category() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs/cli/audit.md").read_text(encoding="utf-8")
    for action, meaning in auditlog.ACTIONS.items():
        assert f"| `{action}` | {auditlog.category_of(action)} | {meaning} |" in doc, action
    for category in auditlog.CATEGORIES:
        assert f"**{category}**" in doc, category


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(loaded, tmp_path: Path) -> None:
    """`maillog audit --format jsonl | head -1` in a real process: no traceback, and the
    end of a Unix tool (cli.main restores SIGPIPE's default), or exit 0."""
    import signal
    import subprocess
    import sys

    many = [
        {**ENTRIES[0], "id": f"bulk{i:05d}", "metadata": {"n": i, "pad": "x" * 200}}
        for i in range(3000)
    ]
    assert loaded("import", write_page(tmp_path / "many.json", many)).exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "audit", "--format", "jsonl", "--limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) in (0, -signal.SIGPIPE)
    assert orjson.loads(first)["id"] == "01HAUD0050"
    assert b"Traceback" not in err and err == b""

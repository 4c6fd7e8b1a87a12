"""No crash on any record (issue 16: "A traceback is a bug"; the brief: "safe to point at
anything"): a bounded, deterministic hypothesis pass that takes every provider fixture
in tests/data/providers, breaks its records in the ways real dumps and hostile files
break — a value of another type, a huge or negative number, an empty or enormous string,
control characters and terminal escapes, markup, a nested object where text was, a key
removed, a record cut short — and imports the result through the real CLI into a real
store on disk.

Allowed outcomes: exit 0 (records imported, bad ones reported on their own line naming
the file and line) or exit 1 with one-line errors; never a traceback (the `cli` fixture
lets exceptions through). After each import the store must still answer a listing, and
nothing terminal-active may come out of it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_fuzz_cli import FUZZ as CLI_FUZZ

FIXTURES = Path(__file__).parent / "data" / "providers"
FUZZ = settings(CLI_FUZZ, max_examples=25)  # the same bounded, deterministic hypothesis

# Values a broken or hostile dump puts where the importer expects something else.
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    2**70,
    -(2**70),
    1e308,
    -0.0,
    0.5,
    "",
    " ",
    "\t\n",
    "0",
    "-1",
    "99999999999999999999",
    "1e309",
    "NaN",
    "null",
    "<>",
    "<",
    "@",
    "a@",
    "@b",
    '"',
    "\\",
    "\x00",
    "\x1b[2J\x1b]0;owned\x07",
    "\u202egnp.exe",
    "[bold red]markup[/]",
    "=cmd|' /C calc'!A0",
    "2026-02-30T25:61:61Z",
    "0000-00-00 00:00:00",
    "9999-12-31T23:59:59.999999999+99:99",
    "1718010000.5.5",
    "550 5.1.1 " + "x" * 3000,
    "é" * 500,
    "\udcff",  # a lone surrogate can only come from a lossy decoder; must not crash
    [],
    [None],
    ["a", 1, None, {"k": "v"}],
    {},
    {"nested": {"deeper": [1, {"x": None}]}},
]


# An importer's exception text is not a message a user can act on: a record that fails
# must say which field is wrong and what was expected.
PYTHON_WORDING = (
    "object has no attribute",
    "not subscriptable",
    "unsupported operand",
    "argument of type",
    "object is not iterable",
    "takes no keyword",
    "unhashable type",
    "NoneType",
    "not supported between instances",
    "can only concatenate",
    "must be str, not",
    "invalid literal for int()",
    "could not convert string to float",
    "list index out of range",
    "string indices must be integers",
    "object of type",
    "expected string or bytes-like object",
)


def _records(path: Path) -> tuple[str, list[Any]] | None:
    """The fixture's records and how to write them back (jsonl, json array, csv)."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        return "jsonl", [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".json":
        data = json.loads(text)
        return "json", data if isinstance(data, list) else [data]
    if path.suffix == ".csv":
        return "csv", list(csv.reader(io.StringIO(text)))
    return None


def _write(kind: str, records: list[Any], dest: Path) -> None:
    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False).replace("\udcff", "\\udcff")

    if kind == "jsonl":
        dest.write_text("\n".join(dumps(r) for r in records) + "\n", errors="surrogateescape")
    elif kind == "json":
        dest.write_text(dumps(records), errors="surrogateescape")
    else:
        out = io.StringIO()
        csv.writer(out).writerows(records)
        dest.write_text(out.getvalue(), errors="surrogateescape")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a record a value can be put (keys of objects, items of lists)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(record: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    record = json.loads(json.dumps(record))
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = new
    return record


SOURCES = {
    p.name: loaded
    for p in sorted(FIXTURES.iterdir())
    if (loaded := _records(p)) is not None and loaded[1]
}


def _check(
    cli: Callable[..., Any], tmp_path: Path, name: str, kind: str, records: list[Any]
) -> None:
    src = tmp_path / name
    _write(kind, records, src)
    db = tmp_path / "fuzz.db"
    r = cli("--db", str(db), "import", str(src))
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    for line in r.stderr.splitlines():
        assert "\x1b" not in line and "\x07" not in line, line
        assert not any(p in line for p in PYTHON_WORDING), line
    if db.exists():
        listing = cli("--db", str(db), "search", "--limit", "0", "--format", "jsonl")
        assert listing.exit_code == 0, listing.stderr
        assert "\x1b" not in listing.stdout
        for line in listing.stdout.splitlines():
            json.loads(line)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SOURCES))
@FUZZ
@given(data=st.data())
def test_a_broken_value_anywhere_never_crashes_an_import(
    name: str,
    data: st.DataObject,
    cli: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    kind, records = SOURCES[name]
    tmp = tmp_path_factory.mktemp("fuzz")
    i = data.draw(st.integers(0, len(records) - 1), label="record")
    record = records[i]
    if kind == "csv":
        if i == 0 or not record:  # the header row stays: the rows are what breaks
            return
        col = data.draw(st.integers(0, len(record) - 1), label="column")
        value = data.draw(st.sampled_from([v for v in HOSTILE_VALUES if isinstance(v, str)]))
        broken = [*record[:col], value, *record[col + 1 :]]
        if data.draw(st.booleans(), label="cut the row short"):
            broken = broken[: max(1, col)]
        mutated = [*records[:i], broken, *records[i + 1 :]]
    else:
        paths = _paths(record)
        if not paths:
            return
        path = data.draw(st.sampled_from(paths), label="path")
        value = data.draw(st.sampled_from(HOSTILE_VALUES), label="value")
        delete = data.draw(st.booleans(), label="delete the key instead")
        mutated = [*records[:i], _mutate(record, path, value, delete), *records[i + 1 :]]
    _check(cli, tmp, name, kind, mutated)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIXTURES.iterdir()), ids=lambda p: p.name)
@FUZZ
@given(cut=st.integers(0, 10_000), junk=st.binary(max_size=40))
def test_a_file_cut_anywhere_or_with_junk_spliced_in_never_crashes(
    name: Path,
    cut: int,
    junk: bytes,
    cli: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    raw = name.read_bytes()
    at = cut % (len(raw) + 1)
    broken = raw[:at] + junk + raw[at + len(junk) // 2 :]
    tmp = tmp_path_factory.mktemp("cut")
    src = tmp / name.name
    src.write_bytes(broken)
    db = tmp / "fuzz.db"
    r = cli("--db", str(db), "import", str(src))
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    if db.exists():
        listing = cli("--db", str(db), "search", "--limit", "0", "--format", "jsonl")
        assert listing.exit_code == 0, listing.stderr

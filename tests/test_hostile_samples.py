"""Every provider's records, mangled: the import never crashes, keeps what it can, reports the rest."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import fixture_files

WEIRD: list[Any] = [
    None,
    "",
    [],
    {},
    0,
    -1,
    1e308,
    True,
    "\x00\x1b[2J",
    "not a date",
    [{"x": 1}],
    {"a": None},
    "9" * 40,
    2**70,
]
JSON_SAMPLES = fixture_files(".json", ".jsonl")


def values(path: Path) -> list[Any]:
    text = path.read_text()
    try:
        return [orjson.loads(text)]
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def mangle(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """Replace a few fields anywhere in the structure with values of the wrong type."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if rng.random() < 0.15:
                out[k] = rng.choice(WEIRD)
            elif rng.random() < 0.03:
                continue  # a missing field
            else:
                out[k] = mangle(v, rng, depth + 1)
        return out
    if isinstance(value, list):
        return [mangle(v, rng, depth + 1) for v in value]
    if isinstance(value, str) and value.startswith("{") and rng.random() < 0.5:
        return value[: len(value) // 2]  # an embedded JSON string (SNS Message) cut short
    return value


@pytest.mark.parametrize("path", JSON_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_mangled_records_never_crash_the_import(cli, tmp_path: Path, path: Path) -> None:
    rng = random.Random(path.name)
    lines = [
        json.dumps(mangle(v, rng)).encode()
        for v in values(path)
        for _ in range(int(os.environ.get("MANGLE_ROUNDS", "15")))
    ]
    f = tmp_path / "mangled.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    r = cli("import", f)  # catch_exceptions=False: a traceback fails the test
    assert r.exit_code in (0, 1), r
    assert "Traceback" not in r.stderr
    for line in r.stderr.splitlines():
        assert "\x1b" not in line
    out = cli("search", "--limit", "0", "-f", "jsonl")
    assert out.exit_code in (0, 1), out

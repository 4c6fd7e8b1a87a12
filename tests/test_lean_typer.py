"""The lean parameter conversion (maillog_cli/commands/lean_typer.py) gives every real
parameter of every command exactly what Typer's own (Pydantic) conversion gives: the same
value of the same type, or the same error in the same words."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer import _coercion, core

from maillog_cli.cli import app

# Spellings a user types: numbers plain and odd, choices in any case, paths plain and odd.
TEXTS = (
    "0", "5", "-3", "007", "+4", "1_000", " 7", "70000", "99999999999999999999", "1.5", "-0.25",
    "2.", "1e3", "nan", "", "abc", "table", "JSON", "jsonl", "domain", "Status", "starttls",
    "true", "no", "-", "x/", "./a", "a//b", "/", "/nonexistent/file.jsonl", "no-such-dir/",
)  # fmt: skip
OTHERS: tuple[Any, ...] = (None, 0, 3, 1.0, True, Path("p"), Path("/nonexistent"), ("a", "b"), [])


def outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
    try:
        got = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # the error itself is what is compared
        return ("error", f"{type(exc).__name__}: {exc}")
    return (type(got).__name__, repr(got))


@cache
def root() -> Any:
    return typer.main.get_command(app)


@cache
def context() -> Any:
    return root().make_context("maillog", ["--help"], resilient_parsing=True)


def parameters() -> list[tuple[str, Any]]:
    out = []

    def walk(cmd: Any, path: str) -> None:
        out.extend((f"{path} {p.name}", (cmd, p)) for p in cmd.params)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root(), "maillog")
    return out


@pytest.mark.parametrize(("where", "command_param"), parameters(), ids=lambda v: str(v))
def test_every_parameter_converts_as_typer_would(where: str, command_param: Any) -> None:
    cmd, param = command_param
    assert getattr(core.build_runtime_param, "lean", False), "the lean path is not installed"
    ctx = context()
    lean = core.build_runtime_param(param.type_descriptor)
    full = _coercion.build_runtime_param(param.type_descriptor)
    multi = param.multiple or param.nargs == -1
    values = [*OTHERS, *((t,) for t in TEXTS)] if multi else [*OTHERS, *TEXTS]
    for value in values:
        assert outcome(lean, value, param, ctx) == outcome(full, value, param, ctx), (where, value)


def test_the_lean_path_converts_common_values_without_pydantic() -> None:
    """The point of it: the values a command usually gets never need Typer's adapter."""
    search = root().commands["search"]
    samples = {"limit": "20", "fmt": "json", "status": ("bounced",), "db": "store.db"}
    seen = set()
    for param in search.params:
        if param.name in samples:
            lean = core.build_runtime_param(param.type_descriptor)
            lean.coerce(samples[param.name], param=param, ctx=context())
            assert "full" not in lean.cache, param.name
            seen.add(param.name)
    assert seen == set(samples)

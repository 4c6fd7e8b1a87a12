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


def test_a_run_builds_only_the_command_it_runs() -> None:
    """`maillog search` turns search's signature into options, not all 22 commands'."""
    from maillog_cli.commands.lean_typer import PendingCommand

    fresh = typer.main.get_command(app)
    # Groups (bounces, audit, db) are made at once; their commands wait like the others.
    pending = [
        isinstance(c, (PendingCommand, core.TyperGroup)) for c in dict.values(fresh.commands)
    ]
    assert all(pending)
    assert sum(isinstance(c, PendingCommand) for c in dict.values(fresh.commands)) > 10
    ctx = fresh.make_context("maillog", ["search", "--help"], resilient_parsing=True)
    search = fresh.get_command(ctx, "search")
    assert isinstance(search, core.TyperCommand) and search.name == "search"
    built = [n for n, c in dict.items(fresh.commands) if isinstance(c, core.TyperCommand)]
    assert built == ["search"]


def test_every_command_is_built_as_typer_builds_it() -> None:
    """Listing (help, completion) sees the same commands, names and options as plain Typer."""
    from typer import main

    def shape(cmd: Any) -> Any:
        subs = getattr(cmd, "commands", {})
        return (
            type(cmd).__name__,
            cmd.name,
            cmd.help,
            [(p.name, p.opts, p.required, p.default) for p in cmd.params],
            {name: shape(sub) for name, sub in subs.items()},
        )

    lean = typer.main.get_command(app)
    lazy = main.get_group_from_info
    plain_group_from_info = lazy.__closure__[  # type: ignore[index]
        lazy.__code__.co_freevars.index("group_from_info")
    ].cell_contents
    main.get_group_from_info = plain_group_from_info
    try:
        plain = typer.main.get_command(app)
    finally:
        main.get_group_from_info = lazy
    assert shape(lean) == shape(plain)

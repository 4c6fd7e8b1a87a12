"""Docs and generated files cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from maillog_cli.cli import app
from maillog_cli.completion_scripts import FILES, script

ROOT = Path(__file__).resolve().parents[1]


def commands() -> list[str]:
    click_app = typer.main.get_command(app)
    return sorted(click_app.commands)  # type: ignore[attr-defined]


def test_completion_scripts_are_in_sync() -> None:
    for shell, name in FILES.items():
        assert (ROOT / "completions" / name).read_text() == script(shell), (
            f"run `make completions` ({name})"
        )


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    click_app = typer.main.get_command(app)
    for name in commands():
        cmd = click_app.commands[name]  # type: ignore[attr-defined]
        assert (cmd.help or cmd.short_help or "").strip(), f"`maillog {name}` has no help"
        assert re.search(rf"maillog {re.escape(name)}\b", readme), (
            f"`maillog {name}` is not documented in README.md"
        )


def test_readme_has_the_current_command_docs() -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "assemble_readme.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_every_import_format_is_in_the_readme_table() -> None:
    from maillog_cli import importers

    readme = (ROOT / "README.md").read_text()
    for module in importers.all_importers():
        assert f"| `{module.NAME}` |" in readme, module.NAME

"""Waiting for the app's workers and reading what widgets show, as plain text."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, Static


async def settle(pilot: Pilot) -> None:
    """Let every worker finish and the screen catch up (twice: workers start workers)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def plain(renderable: Any, width: int = 160) -> str:
    console = Console(width=width, no_color=True, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def static_text(widget: Static, width: int = 160) -> str:
    return plain(widget.content, width)


def row_texts(table: DataTable) -> list[list[str]]:
    return [
        [getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)
    ]

"""Waiting for the app's workers and reading what widgets show, as plain text."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, Static


async def settle(pilot: Pilot, rounds: int = 50) -> None:
    """Let every worker finish and the screen catch up: workers start workers (a page, then
    its count, then the short ids), and on a busy machine the chain runs longer, so wait
    until a pause passes with no worker left (at least three rounds, as before)."""
    from textual.worker import WorkerFailed

    for done in range(rounds):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerFailed:
            pass  # the app shows a failed worker's error itself; the test checks that
        await pilot.pause()
        if done >= 2 and all(w.is_finished for w in pilot.app.workers):
            return


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until condition() holds; fail after timeout seconds. A busy machine
    makes the app slow, so a test waits for what it needs instead of a fixed pause."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {timeout:.0f}s"
        await pilot.pause(0.02)


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

"""A transient progress bar on stderr while one file is read (bytes done, time left)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from maillog_cli.render.output import console, visible


@contextmanager
def file_progress(
    name: str,
) -> Iterator[tuple[Callable[[str], None], Callable[[int, int | None], None]]]:
    """Yields (notice, update): `notice(line)` prints above the bar, `update(done, total)` moves it."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(visible(name)[:40], total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        def notice(message: str) -> None:
            """A report line printed above the bar: the same line, made as visible, as
            `error()` prints without one (file names and JSON keys are untrusted)."""
            progress.console.print(
                f"maillog: {visible(message)}", markup=False, highlight=False, soft_wrap=True
            )

        yield notice, update

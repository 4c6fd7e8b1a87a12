"""`maillog demo`: write realistic demo data (what `make run` imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from maillog_cli.options import DbOption


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the demo files into.")
    ] = Path("demo-data"),
    messages: Annotated[
        int, typer.Option("--messages", help="How many emails to simulate.", min=1, max=5_000_000)
    ] = 2500,
    seed: Annotated[
        int, typer.Option("--seed", help="Same seed, same data (times are relative to now).")
    ] = 7,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite demo files already in the --out folder.")
    ] = False,
    db: DbOption = None,  # accepted like everywhere; demo writes files, not the store
) -> None:
    """Write demo data: events of several providers over the last three weeks, an audit log, sent mail."""
    from maillog_cli.demo import write_demo
    from maillog_cli.render.output import visible

    for path in write_demo(out, messages=messages, seed=seed, force=force):
        typer.echo(visible(str(path)))

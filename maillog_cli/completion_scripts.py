"""Shell completion scripts for bash, zsh and fish, generated from the Typer app.

    python -m maillog_cli.completion_scripts completions   # what `make completions` runs

The scripts ask `maillog` itself for candidates at completion time, so they stay right
as commands and options change; a test fails when the committed files differ from
what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

FILES = {"bash": "maillog.bash", "zsh": "_maillog", "fish": "maillog.fish"}


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return (
        get_completion_script(
            prog_name="maillog", complete_var="_MAILLOG_COMPLETE", shell=shell
        ).rstrip()
        + "\n"
    )


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        path = folder / name
        path.write_text(script(shell))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(p)

"""Fold the per-command docs (docs/cli/*.md) into README.md between the markers.

python docs/assemble_readme.py          # rewrite README.md
python docs/assemble_readme.py --check  # exit 1 when README.md is out of date (a test runs this)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN COMMAND DOCS: generated from docs/cli/*.md by docs/assemble_readme.py -->"
END = "<!-- END COMMAND DOCS -->"
ORDER = (
    "import",
    "search",
    "show",
    "tail",
    "bounces",
    "audit",
    "resend",
    "prune",
    "stats",
    "tui",
    "sql",
    "demo",
)


def sections() -> str:
    folder = ROOT / "docs" / "cli"
    names = sorted(p.stem for p in folder.glob("*.md"))
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    return "\n\n".join(demote((folder / f"{n}.md").read_text().strip()) for n in ordered)


def demote(markdown: str) -> str:
    """One heading level down: a command's `##` sits under the README's `## Commands`."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if line.startswith("#") and not fenced else line)
    return "\n".join(out)


def assemble(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{sections()}\n\n{END}{tail}"


def main() -> int:
    path = ROOT / "README.md"
    current = path.read_text()
    new = assemble(current)
    if "--check" in sys.argv:
        if new != current:
            print("README.md is out of date: run python docs/assemble_readme.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

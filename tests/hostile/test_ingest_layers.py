"""The import path flows one way: pipeline → forked → loop → records/batches → readers.
No module of `maillog_cli/ingest` imports one that (directly or not) imports it back, and
none reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

INGEST = Path(__file__).resolve().parents[2] / "maillog_cli" / "ingest"


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(ingest modules imported anywhere in the file, private names used from them)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    private: set[str] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "maillog_cli.ingest":
                for a in node.names:
                    found.add(a.name)
                    aliases[a.asname or a.name] = a.name
            elif node.module.startswith("maillog_cli.ingest."):
                found.add(node.module.rsplit(".", 1)[1])
                private |= {a.name for a in node.names if a.name.startswith("_")}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
        ):
            private.add(f"{aliases[node.value.id]}.{node.attr}")
    return found, private


def test_ingest_has_no_import_cycle_and_no_private_reach() -> None:
    graph: dict[str, set[str]] = {}
    for path in INGEST.glob("*.py"):
        deps, private = _imports(path)
        assert not private, f"{path.name} uses private names {sorted(private)}"
        graph[path.stem] = deps - {path.stem}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep})):
                return True
        return False

    cycles = sorted(m for m in graph if reaches(m, m, set()))
    assert not cycles, f"import cycle through {cycles}"
    assert "pipeline" not in graph["forked"] and "forked" in graph["pipeline"]

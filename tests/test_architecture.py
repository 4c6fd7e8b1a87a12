"""The architecture contract, read from the source: which package may import what.

    commands/, cli, context, options, tui/   the interface: parse, call the core, render
    render/                                   what a person sees; never queries
    engines (ingest, importers, bounce, audit, resend, alerts, follow, stats, prune, …)
    store/, model, statuses, dates, normalize, errors, paths   the core

An arrow only points down: the core imports only the core; engines never import the
interface; render never imports the interface or the store. Third-party libraries keep
to their layer: typer in the command line, textual in tui/, rich in render/ and tui/,
and only store/ opens an SQLite connection. Only resend's SMTP session and the alert
notifications reach outside (network, other programs). No two modules import each other
(directly or round a loop) when they are loaded.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "maillog_cli"

INTERFACE = (
    "maillog_cli.commands",
    "maillog_cli.cli",
    "maillog_cli.context",
    "maillog_cli.options",
)
INTERFACE += ("maillog_cli.tui", "maillog_cli.__main__", "maillog_cli.completion_scripts")
CORE = ("maillog_cli.store", "maillog_cli.model", "maillog_cli.statuses", "maillog_cli.dates")
CORE += ("maillog_cli.normalize", "maillog_cli.errors", "maillog_cli.paths")
# The secret rules the store applies to every row before writing it.
CORE += ("maillog_cli.redaction",)
RENDER = ("maillog_cli.render",)
# The Rich-free part of render/ (escaping, machine formats, widths) an engine may use:
# prune writes its archive with render.output.json_line.
PLAIN_RENDER = ("maillog_cli.render.output", "maillog_cli.render.format")

TYPER_ALLOWED = ("maillog_cli.commands", "maillog_cli.cli", "maillog_cli.options")
# completion_scripts writes the shell scripts from the Typer app (`make completions`).
TYPER_ALLOWED += ("maillog_cli.context", "maillog_cli.completion_scripts")
TEXTUAL_ALLOWED = ("maillog_cli.tui",)
RICH_ALLOWED = ("maillog_cli.render", "maillog_cli.tui")
# The HTTP server and its client (SNS certificates) belong to `maillog serve`'s engine.
AIOHTTP_ALLOWED = ("maillog_cli.serve",)
CONNECT_ALLOWED = ("maillog_cli.store",)
# What reaches outside the machine or runs another program: anywhere else it would be a
# surprise, and a way out for what the store holds.
OUTSIDE = ("smtplib", "socket", "subprocess", "urllib.request", "http.client")
OUTSIDE_ALLOWED = ("maillog_cli.resend.smtp", "maillog_cli.alerts.notify")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports: a module, or module.name
    line: int
    at_load: bool  # run when the module is loaded (not inside a function or TYPE_CHECKING)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules(root: Path = PACKAGE) -> dict[str, ast.Module]:
    return {module_name(p, root): ast.parse(p.read_text(), str(p)) for p in root.rglob("*.py")}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _walk(node: ast.AST, at_load: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        lazy = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield child, at_load
        yield from _walk(child, at_load and not lazy and not _is_type_checking(child))


def imports(name: str, tree: ast.Module) -> Iterator[Import]:
    """Every import, relative ones as `.` + their module (the house writes them absolute)."""
    for node, at_load in _walk(tree, True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, at_load)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            for alias in node.names:
                yield Import(name, f"{base}.{alias.name}", node.lineno, at_load)


def connects(tree: ast.Module) -> Iterator[int]:
    """Lines that open an SQLite connection: sqlite3.connect(…) or a bare imported connect(…)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "connect":
                if isinstance(f.value, ast.Name) and f.value.id == "sqlite3":
                    yield node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == "sqlite3":
            if any(a.name == "connect" for a in node.names):
                yield node.lineno


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_breaks(trees: dict[str, ast.Module]) -> list[str]:
    """Every import that points up a layer or takes a library out of its layer."""
    out: list[str] = []
    for name, tree in trees.items():
        for imp in imports(name, tree):
            where = f"{name}:{imp.line} imports {imp.target}"
            t = imp.target
            if t.startswith("."):
                out.append(f"{where}: imports are absolute, so modules can move between packages")
            if within(name, CORE) and t.startswith("maillog_cli.") and not within(t, CORE):
                out.append(f"{where}: the core imports only the core")
            if not within(name, INTERFACE) and within(t, INTERFACE):
                out.append(f"{where}: only the interface imports the interface")
            if within(name, RENDER) and within(t, ("maillog_cli.store",)):
                out.append(f"{where}: render never queries")
            engine = not within(name, INTERFACE + CORE + RENDER)
            if engine and within(t, RENDER) and not within(t, PLAIN_RENDER):
                out.append(f"{where}: an engine returns data; render/ shows it")
            for lib, allowed in (
                ("typer", TYPER_ALLOWED),
                ("textual", TEXTUAL_ALLOWED),
                ("rich", RICH_ALLOWED),
                ("aiohttp", AIOHTTP_ALLOWED),
            ):
                if within(t, (lib,)) and not within(name, allowed):
                    out.append(f"{where}: {lib} belongs to {', '.join(allowed)}")
            if within(t, OUTSIDE) and not within(name, OUTSIDE_ALLOWED):
                out.append(f"{where}: only {', '.join(OUTSIDE_ALLOWED)} reach outside")
        if not within(name, CONNECT_ALLOWED):
            out += [
                f"{name}:{line} opens a connection: only store/ does" for line in connects(tree)
            ]
    return out


def load_graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module → the package modules it imports when it is loaded."""
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for name, tree in trees.items():
        for imp in imports(name, tree):
            if not imp.at_load:
                continue
            target = imp.target
            while target and target not in trees:  # `from pkg import name`: name, else pkg
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def trees() -> dict[str, ast.Module]:
    return modules()


def test_every_import_points_down_and_libraries_keep_to_their_layer(trees) -> None:
    assert layer_breaks(trees) == []


def test_no_import_cycle_when_modules_load(trees) -> None:
    graph = load_graph(trees)
    assert "maillog_cli.store.query" in graph["maillog_cli.stats"]  # the graph sees real imports
    assert cycles(graph) == []


# --- the checks themselves catch what they are for ---------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, ast.Module]:
    root = tmp_path / "maillog_cli"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return modules(root)


def test_the_checks_catch_a_broken_rule(tmp_path: Path) -> None:
    trees = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "store/__init__.py": "",
            "store/db.py": "import sqlite3\nfrom maillog_cli.render.output import visible\n",
            "render/__init__.py": "",
            "render/output.py": "def visible(x): return x\n",
            "render/view.py": "from maillog_cli.store import db\n",
            "stats.py": "import rich\nfrom maillog_cli.context import error\n",
            "follow.py": "from aiohttp import web\n",
            "prune.py": "import sqlite3\n\ndef f():\n    import typer\n    return sqlite3.connect(':memory:')\n",
            "alerts/__init__.py": "",
            "alerts/evaluate.py": "import subprocess\nfrom urllib import request\n",
            "context.py": "def error(m): ...\n",
            "commands/__init__.py": "",
            "commands/a.py": "import textual\nfrom maillog_cli.commands import b\n",
            "commands/b.py": "from maillog_cli.commands.a import x\n\ndef f():\n    from . import a\n",
        },
    )
    broken = "\n".join(layer_breaks(trees))
    assert "maillog_cli.store.db:2 imports maillog_cli.render.output.visible: the core" in broken
    assert "maillog_cli.render.view:1 imports maillog_cli.store.db: render never queries" in broken
    assert "maillog_cli.stats:1 imports rich: rich belongs to" in broken
    assert "maillog_cli.stats:2 imports maillog_cli.context.error: only the interface" in broken
    assert "maillog_cli.prune:4 imports typer: typer belongs to" in broken
    assert "maillog_cli.follow:1 imports aiohttp.web: aiohttp belongs to" in broken
    assert "maillog_cli.prune:5 opens a connection: only store/ does" in broken
    assert "maillog_cli.commands.a:1 imports textual: textual belongs to" in broken
    assert "maillog_cli.alerts.evaluate:1 imports subprocess: only" in broken
    assert "maillog_cli.alerts.evaluate:2 imports urllib.request: only" in broken
    assert "maillog_cli.commands.b:4 imports ..a: imports are absolute" in broken
    assert cycles(load_graph(trees)) == [["maillog_cli.commands.a", "maillog_cli.commands.b"]]


# What `--help` and a query must not load (issue 17: start-up is most of a query's time).
# Pydantic: Typer's per-parameter adapters; rich.markdown/rich.traceback (and markdown_it,
# pygments): Typer's help renderer; the rest: engines that belong to other commands.
STARTUP_UNWANTED = ("pydantic", "rich.markdown", "rich.traceback", "markdown_it", "pygments")
STARTUP_UNWANTED += ("textual", "aiohttp", "cryptography", "maillog_cli.importers")
STARTUP_UNWANTED += ("maillog_cli.ingest", "maillog_cli.tui", "sqlite_utils", "dateutil")
HELP_UNWANTED = ("maillog_cli.store.db", "email.utils", "maillog_cli.render.events")
REPORT_MODULES = (
    "import atexit, os, sys\n"
    "atexit.register(lambda: os.write(2, ('\\nMODULES=' + ' '.join(sys.modules)).encode()))\n"
    "sys.argv = ['maillog', *sys.argv[1:]]\n"
    "from maillog_cli.cli import main\n"
    "main()\n"
)


def loaded_modules(args: list[str], cwd: Path) -> set[str]:
    """The modules a real `maillog ARGS` process had loaded when it ended."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent), "MAILLOG_DB": str(cwd / "s.db")}
    out = subprocess.run(
        [sys.executable, "-c", REPORT_MODULES, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    assert out.returncode in (0, 1), out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return set(out.stderr.rsplit("MODULES=", 1)[1].split())


@pytest.mark.parametrize(
    "args",
    [["--help"], ["search", "--help"], ["show", "--help"], ["import", "--help"]]
    + [["search", "--domain", "example.com", "--since", "7d", "--limit", "5", "-f", "json"]],
    ids=" ".join,
)
def test_help_and_queries_load_only_what_they_need(tmp_path: Path, args: list[str]) -> None:
    modules = loaded_modules(args, tmp_path)
    # Help lists options: the store and the renderers load when a command runs.
    avoid = STARTUP_UNWANTED + (HELP_UNWANTED if "--help" in args else ())
    unwanted = sorted(m for m in modules if any(m == u or m.startswith(u + ".") for u in avoid))
    assert unwanted == [], f"maillog {' '.join(args)} loads {unwanted}"


def test_showing_a_bounced_email_does_not_load_the_classifier(tmp_path: Path) -> None:
    """`show` explains a bounce from the reasons table; compiling the classifier's phrase
    regexes (~30 ms) is for imports and `bounces explain`."""
    import os
    import subprocess
    import sys

    fixture = PACKAGE.parent / "tests" / "data" / "providers" / "brevo.jsonl"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent), "MAILLOG_DB": str(tmp_path / "s.db")}
    subprocess.run(
        [sys.executable, "-m", "maillog_cli", "import", str(fixture)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    modules = loaded_modules(["show", "202406101000.222@smtp-relay.mailin.fr"], tmp_path)
    assert "maillog_cli.message_detail" in modules
    assert "maillog_cli.bounce.rules" in modules  # the explanation was looked up
    assert "maillog_cli.bounce.classify" not in modules

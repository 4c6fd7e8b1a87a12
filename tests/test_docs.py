"""Docs and generated files cannot drift from the code, and cannot send a reader away.

- every command has help and is named in the README and the reference;
- the generated docs (docs/reference.md, the tables of docs/providers.md and
  docs/bounces.md) are current;
- every `maillog …` command shown in the README and docs/ parses with the real CLI, and
  the README's read-only commands run on demo data without a traceback;
- every link in the README and docs/ resolves to a file (and heading) in the repository;
- no doc or code comment cites design notes that live outside the repository.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
import typer.main

from maillog_cli.cli import app
from maillog_cli.completion_scripts import FILES, script

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def assembler() -> ModuleType:
    """docs/assemble_readme.py as a module (its anchor rule and block names)."""
    spec = importlib.util.spec_from_file_location("assemble_readme", DOCS / "assemble_readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_files() -> list[Path]:
    """The published Markdown: the README and the pages of docs/ (docs/cli/ is their source)."""
    return [README, *sorted(DOCS.glob("*.md"))]


def click_app() -> Any:
    return typer.main.get_command(app)


def commands() -> list[str]:
    return sorted(click_app().commands)


# --- commands are documented ---------------------------------------------------------------


def test_completion_scripts_are_in_sync() -> None:
    for shell, name in FILES.items():
        assert (ROOT / "completions" / name).read_text() == script(shell), (
            f"run `make completions` ({name})"
        )


def test_every_command_has_help_and_is_in_the_readme_and_the_reference() -> None:
    readme = README.read_text()
    reference = (DOCS / "reference.md").read_text()
    group = click_app()
    for name in commands():
        cmd = group.commands[name]
        assert (cmd.help or cmd.short_help or "").strip(), f"`maillog {name}` has no help"
        for label, text in (("README.md", readme), ("docs/reference.md", reference)):
            assert re.search(rf"maillog {re.escape(name)}\b", text), (
                f"`maillog {name}` is not documented in {label}"
            )


def test_the_generated_docs_are_current() -> None:
    r = subprocess.run(
        [sys.executable, str(DOCS / "assemble_readme.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_every_import_format_is_in_the_readme_table_and_in_providers_md() -> None:
    from maillog_cli import importers

    readme = README.read_text()
    providers = (DOCS / "providers.md").read_text()
    for module in importers.all_importers():
        assert f"| `{module.NAME}` |" in readme, module.NAME
        assert f"\n## {module.NAME}\n" in providers, f"docs/providers.md has no ## {module.NAME}"
        if hasattr(module, "STATUS_MAP"):
            assert f"<!-- BEGIN GENERATED status-words:{module.NAME} -->" in providers, (
                f"docs/providers.md does not list the status words of {module.NAME}"
            )


# --- the commands shown parse, and the read-only ones run ----------------------------------


def code_spans(markdown: str) -> Iterator[tuple[str, bool]]:
    """(code, is_example): lines of shell code blocks (examples), then inline code spans
    outside tables and headings (mentions such as `maillog show` may omit arguments)."""
    fence: str | None = None
    text = []
    for line in markdown.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            text.append("")
            continue
        if fence is not None:
            if fence in ("", "sh", "shell", "console", "bash"):
                yield line.strip().removeprefix("$ "), True
            text.append("")
        elif line.lstrip().startswith(("|", "#")):
            text.append("")
        else:
            text.append(line)
    for paragraph in "\n".join(text).split("\n\n"):
        for span in re.findall(r"`([^`]+)`", paragraph):
            yield " ".join(span.split()), False


def maillog_words(line: str) -> list[str] | None:
    """The arguments after `maillog` in one shell line (pipes, redirects, comments cut)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: prose, not a command
        return None
    start = next(
        (i for i, t in enumerate(tokens) if t == "maillog" or t.endswith("/maillog")), None
    )
    if start is None:
        return None
    words: list[str] = []
    for token in tokens[start + 1 :]:
        if token and set(token) <= set("();<>|&"):
            break
        words.append(token)
    return words


def shown_commands(path: Path) -> list[tuple[list[str], bool]]:
    """(arguments, is_example) of every `maillog …` command a Markdown file shows."""
    out = []
    for span, example in code_spans(path.read_text(encoding="utf-8")):
        words = maillog_words(span)
        if words:  # a bare `maillog` names the program
            out.append((words, example))
    return out


# Typer's own options whose callbacks change the user's shell set-up even while parsing.
SIDE_EFFECTS = frozenset({"--install-completion", "--show-completion"})


def parse(words: list[str]) -> tuple[Any, dict[str, Any]]:
    """Parse arguments with the real CLI (options, values, sub-commands), running nothing.

    Eager options run their callbacks while parsing, so the ones that touch the user's
    shell set-up are only looked up, never parsed.
    """
    cmd = click_app()
    if SIDE_EFFECTS.intersection(words):
        known = {opt for param in cmd.params for opt in param.opts}
        missing = SIDE_EFFECTS.intersection(words) - known
        if missing:
            raise typer.BadParameter(f"no option {sorted(missing)[0]}")
        return cmd, {}
    ctx = cmd.make_context("maillog", list(words))
    while hasattr(cmd, "resolve_command"):
        args = [*ctx._protected_args, *ctx.args]
        if not args:
            break
        name, sub, rest = cmd.resolve_command(ctx, args)
        ctx = sub.make_context(name, rest, parent=ctx)
        cmd = sub
    return cmd, ctx.params


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_parses(path: Path) -> None:
    shown = shown_commands(path)
    if path == README:
        assert len(shown) >= 20, "the README should show its commands in code"
    bad = []
    for words, example in shown:
        try:
            parse(words)
        except typer.Exit:
            pass  # an eager option such as --version
        except typer.TyperException as exc:
            if example or type(exc).__name__ != "MissingParameter":
                bad.append(f"maillog {shlex.join(words)}: {exc}")
    assert not bad, "\n".join(bad)


def test_the_parser_check_catches_a_wrong_command() -> None:
    for words in (["search", "--no-such-option"], ["no-such-command"], ["stats", "--by", "year"]):
        with pytest.raises(typer.TyperException):
            parse(words)


# Commands that only read (their sub-commands and options checked below).
READ_ONLY = {"search", "ls", "show", "bounces", "audit", "stats", "sql", "db", "tail"}
WRITES = {"reclassify", "--follow", "-F", "--import", "backup"}  # backup writes a file


def read_only(words: list[str]) -> bool:
    return (
        bool(words)
        and words[0] in READ_ONLY
        and "--db" not in words
        and not WRITES.intersection(words)
        and "--help" not in words
    )


def parses(words: list[str]) -> bool:
    try:
        parse(words)
    except (typer.Exit, typer.TyperException):
        return False
    return True


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the demo data, as `make run` builds it."""
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("demo")
    db = folder / "demo.db"
    runner = CliRunner()
    r = runner.invoke(app, ["demo", "--out", str(folder / "data")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    files = sorted(str(p) for p in (folder / "data").iterdir())
    r = runner.invoke(app, ["--db", str(db), "import", "--quiet", *files], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return db


def test_the_readme_read_only_commands_run_on_demo_data(
    demo_store: Path, cli: Callable[..., Any]
) -> None:
    ran = 0
    for words, _ in shown_commands(README):
        if not read_only(words) or not parses(words):
            continue
        r = cli("--db", demo_store, *words)  # a traceback fails here (catch_exceptions=False)
        assert r.exit_code in (0, 1), (words, r)
        if r.exit_code == 1:  # a user error is one line that says what to fix
            assert r.stderr.count("\n") == 1, (words, r)
        ran += 1
    assert ran >= 8, "the README should show read-only commands worth running"


# --- links stay in the repository ----------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|<(https?://[^>]+)>")
OUTSIDE_NOTES = ("DESIGN.md", "formats.md", "../shared", "shared/docs", "/work/")


def prose(markdown: str) -> str:
    """The Markdown without fenced code blocks and inline code (links there are not links)."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for a Markdown file (duplicates get -1, -2 …)."""
    anchor = assembler().anchor
    seen: dict[str, int] = {}
    out = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    for line in text.splitlines():
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            slug = anchor(m.group(1).strip())
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(path: Path) -> None:
    bad = []
    for m in LINK.finditer(prose(path.read_text(encoding="utf-8"))):
        target = m.group(1) or m.group(2)
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
            bad.append(f"{target}: points outside the repository")
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.is_relative_to(ROOT) or not dest.exists():
            bad.append(f"{target}: no such file in the repository")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            bad.append(f"{target}: no heading #{fragment} in {dest.relative_to(ROOT)}")
    assert not bad, f"{path.relative_to(ROOT)}:\n" + "\n".join(bad)


def test_the_link_check_catches_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[a](https://example.com) [b](missing.md) <https://x.example>\n")
    targets = [m.group(1) or m.group(2) for m in LINK.finditer(prose(page.read_text()))]
    assert targets == ["https://example.com", "missing.md", "https://x.example"]
    assert "no-such-heading" not in anchors(README)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_no_notes_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [name for name in OUTSIDE_NOTES if name in text]
    assert not found, f"{path.relative_to(ROOT)} cites {found}: point at docs/ instead"


def test_code_comments_cite_no_notes_outside_the_repository() -> None:
    bad = []
    for source in sorted((ROOT / "maillog_cli").rglob("*.py")):
        for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            if any(name in line for name in OUTSIDE_NOTES):
                bad.append(f"{source.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "point at docs/providers.md or docs/bounces.md instead:\n" + "\n".join(bad)


SOURCE_PATH = re.compile(r"(?<![\w/.-])((?:[a-z_]+/)+[a-z_]+\.(?:py|md))\b")
TOP_DIRS = ("maillog_cli/", "tests/", "benchmarks/", "docs/")


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_source_files_the_docs_name_exist(path: Path) -> None:
    """A doc that names `maillog_cli/x.py` (or, inside the package, `bounce/classify.py`)
    names a real file: code moves, and its docs must move with it."""
    missing = []
    for m in SOURCE_PATH.finditer(path.read_text(encoding="utf-8")):
        name = m.group(1)
        where = ROOT if name.startswith(TOP_DIRS) else ROOT / "maillog_cli"
        if not (where / name).exists():
            missing.append(name)
    assert not missing, f"{path.relative_to(ROOT)} names files that do not exist: {missing}"


@pytest.mark.parametrize("name", ["import", "stats"])
def test_every_option_and_choice_of_the_mail_log_commands_is_documented(name: str) -> None:
    """Each option of `import` and `stats`, and each value of their choice options (stats
    --by hour|relay …), is named on the command's page of docs/cli/."""
    page = (DOCS / "cli" / f"{name}.md").read_text()
    for param in click_app().commands[name].params:
        if param.param_type_name != "option" or getattr(param, "hidden", False):
            continue
        longs = [o for o in param.opts if o.startswith("--") and o not in ("--help", "--db")]
        if not longs:
            continue
        assert any(o in page for o in longs), f"{longs[0]} is not in docs/cli/{name}.md"
        choices = getattr(getattr(param, "type_descriptor", None), "choices", None) or ()
        for choice in choices:
            value = str(getattr(choice, "value", choice))
            assert re.search(rf"{re.escape(longs[0])} [^\n]*\b{re.escape(value)}\b", page), (
                f"{longs[0]} {value} is not in docs/cli/{name}.md"
            )

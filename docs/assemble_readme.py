"""Generate the parts of the docs that must not drift from the code.

- docs/reference.md: the per-command reference, folded from docs/cli/*.md;
- the blocks between `<!-- BEGIN GENERATED x -->` and `<!-- END GENERATED x -->` in
  docs/providers.md (detection order, each provider's status words) and docs/bounces.md
  (reasons, provider labels, text-pattern precedence, codes), built from the tables in
  maillog_cli, so the docs say what the code does.

python docs/assemble_readme.py          # rewrite them
python docs/assemble_readme.py --check  # exit 1 when one is out of date (a test runs this)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORDER = (
    "import",
    "search",
    "show",
    "tail",
    "bounces",
    "audit",
    "resend",
    "prune",
    "export",
    "stats",
    "tui",
    "sql",
    "demo",
    "serve",
)
REFERENCE_HEAD = """\
# Command reference

<!-- Generated from docs/cli/*.md by docs/assemble_readme.py: edit those files, then run
     `python docs/assemble_readme.py` (tests/test_docs.py fails when this file is stale). -->

Every command, every option, and the decisions behind them. The [README](../README.md) has
the quick start and a cookbook; `--help` after a command prints its options.
Options common to all listings (filters, `--format`, `--limit`) are described under
[search](#maillog-search-alias-maillog-ls); `--db PATH` works on every command.
"""
GENERATED = re.compile(
    r"(<!-- BEGIN GENERATED (?P<name>[\w:-]+) -->\n)(?:.*?\n)??(<!-- END GENERATED (?P=name) -->)",
    re.S,
)


# --- the command reference ------------------------------------------------------------


def command_files() -> list[Path]:
    folder = ROOT / "docs" / "cli"
    names = sorted(p.stem for p in folder.glob("*.md"))
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    return [folder / f"{n}.md" for n in ordered]


def headings(markdown: str, level: int) -> list[str]:
    """The `level` headings of a Markdown text, fenced code blocks left out."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#" * level + " "):
            out.append(line[level + 1 :].strip())
    return out


def anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    slug = re.sub(r"[^\w\- ]", "", title.lower())
    return slug.replace(" ", "-")


def reference() -> str:
    bodies = [p.read_text(encoding="utf-8").strip() for p in command_files()]
    toc = []
    for body in bodies:
        for title in headings(body, 2):
            toc.append(f"- [{title}](#{anchor(title)})")
    return REFERENCE_HEAD + "\n" + "\n".join(toc) + "\n\n" + "\n\n".join(bodies) + "\n"


# --- providers --------------------------------------------------------------------------


def detection_table() -> str:
    from maillog_cli import importers

    lines = ["| # | format (`--format`) | recognised by |", "|---|---|---|"]
    for i, m in enumerate(importers.json_importers(), 1):
        lines.append(f"| {i} | `{m.NAME}` | {m.SIGNATURE} |")
    lines += ["", "CSV files are told apart by their header row, in this order:", ""]
    lines += ["| # | format | recognised by |", "|---|---|---|"]
    for i, m in enumerate(importers.csv_importers(), 1):
        lines.append(f"| {i} | `{m.NAME}` | {m.SIGNATURE} |")
    email = importers.load("email.files")
    lines += [
        "",
        f"Raw email (`{email.NAME}`) is recognised by its first bytes: {email.SIGNATURE}.",
    ]
    for name in importers.TEXT_LOGS:
        m = importers.load(name)
        lines.append(
            f"Mail-server logs (`{m.NAME}`) are recognised by their first lines: {m.SIGNATURE}."
        )
    return "\n".join(lines)


def status_words(name: str) -> str:
    """One provider's words and the canonical status each becomes (or skipped)."""
    from maillog_cli import importers

    module = importers.by_format(name)
    if module is None or not hasattr(module, "STATUS_MAP"):
        raise SystemExit(f"no importer with a STATUS_MAP for {name!r}")
    lines = ["| provider's word | status |", "|---|---|"]
    for word, status in module.STATUS_MAP.items():
        lines.append(f"| `{word}` | {status or 'skipped: no delivery event'} |")
    return "\n".join(lines)


# --- bounces ----------------------------------------------------------------------------


def reasons_table() -> str:
    from maillog_cli.bounce.rules import REASONS

    lines = [
        "| reason | class | meaning | counts for soft suppression | what to do |",
        "|---|---|---|---|---|",
    ]
    for reason, info in REASONS.items():
        cls = (
            f"`{info.bounce_class}`"
            if info.bounce_class
            else "soft or undetermined (from the codes)"
        )
        counts = "yes" if info.counts_for_soft_suppression else "no"
        lines.append(f"| `{reason}` | {cls} | {info.meaning} | {counts} | {info.action} |")
    return "\n".join(lines)


def provider_fallback() -> str:
    from maillog_cli.bounce.rules import PROVIDER_FALLBACK, SOFT_OTHER

    lines = ["| provider label | reason |", "|---|---|"]
    for label, reason in PROVIDER_FALLBACK.items():
        shown = "`other`, class `soft`" if reason == SOFT_OTHER else f"`{reason}`"
        lines.append(f"| `{label}` | {shown} |")
    return "\n".join(lines)


def client_errors() -> str:
    from maillog_cli.bounce.rules import CLIENT_ERRORS

    by_reason: dict[str, list[str]] = {}
    for name, reason in CLIENT_ERRORS.items():
        by_reason.setdefault(reason, []).append(f"`{name.upper()}`")
    lines = ["| reason | error names (any case, as whole words) |", "|---|---|"]
    lines += [f"| `{r}` | {', '.join(names)} |" for r, names in by_reason.items()]
    return "\n".join(lines)


def provider_hints() -> str:
    from maillog_cli.bounce.rules import CONTENT_TEXT_DECIDES, PROVIDER_HINTS

    lines = ["| provider label | reason |", "|---|---|"]
    for label, reason in PROVIDER_HINTS.items():
        shown = (
            "`spam_content`, or `content_rejected` when the text says so"
            if reason == CONTENT_TEXT_DECIDES
            else f"`{reason}`"
        )
        lines.append(f"| `{label}` | {shown} |")
    return "\n".join(lines)


def text_precedence() -> str:
    from maillog_cli.bounce.rules import TEXT_PATTERNS

    groups: list[tuple[str, list[str]]] = []
    for reason, label, _ in TEXT_PATTERNS:
        if groups and groups[-1][0] == reason:
            groups[-1][1].append(label)
        else:
            groups.append((reason, [label]))
    lines = ["| # | reason | phrases (as `bounces explain` names them) |", "|---|---|---|"]
    for i, (reason, labels) in enumerate(groups, 1):
        shown = ", ".join(f"`{label}`" for label in labels).replace("|", "\\|")
        lines.append(f"| {i} | `{reason}` | {shown} |")
    return "\n".join(lines)


def _code_key(code: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in code.split("."))


def _ranges(codes: list[str]) -> list[str]:
    """Codes in order, with runs that differ only in a consecutive last part as a–b."""
    out: list[str] = []
    run: list[str] = []
    for code in sorted(codes, key=_code_key):
        if run:
            head, _, last = run[-1].rpartition(".")
            nhead, _, nlast = code.rpartition(".")
            if head == nhead and nlast.isdigit() and last.isdigit() and int(nlast) == int(last) + 1:
                run.append(code)
                continue
            out.append(run[0] if len(run) < 3 else f"{run[0]}–{run[-1]}")
            out.extend(run[1:] if len(run) == 2 else [])
        run = [code]
    if run:
        out.append(run[0] if len(run) < 3 else f"{run[0]}–{run[-1]}")
        out.extend(run[1:] if len(run) == 2 else [])
    return out


def enhanced_codes() -> str:
    from maillog_cli.bounce.rules import ENHANCED_CODES

    by_reason: dict[str, list[str]] = {}
    for code, reason in ENHANCED_CODES.items():
        by_reason.setdefault(reason, []).append(code)
    lines = ["| reason | enhanced codes (`X` = 4 or 5) |", "|---|---|"]
    for reason in sorted(by_reason):
        lines.append(f"| `{reason}` | {', '.join(_ranges(by_reason[reason]))} |")
    return "\n".join(lines)


def reply_codes() -> str:
    from maillog_cli.bounce.rules import REPLY_CODES

    lines = ["| reply code | reason |", "|---|---|"]
    lines += [f"| {code} | `{reason}` |" for code, reason in REPLY_CODES.items()]
    return "\n".join(lines)


def generic_columns() -> str:
    from maillog_cli.importers.generic import COMMON_NAMES

    lines = ["| field | column names tried (case-insensitive) |", "|---|---|"]
    for field, names in COMMON_NAMES.items():
        lines.append(f"| `{field}` | {', '.join(f'`{n}`' for n in names)} |")
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "detection": detection_table,
    "generic-columns": generic_columns,
    "reasons": reasons_table,
    "client-errors": client_errors,
    "provider-hints": provider_hints,
    "provider-fallback": provider_fallback,
    "text-precedence": text_precedence,
    "enhanced-codes": enhanced_codes,
    "reply-codes": reply_codes,
}


def block(name: str) -> str:
    if name.startswith("status-words:"):
        return status_words(name.split(":", 1)[1])
    if name not in BLOCKS:
        raise SystemExit(f"unknown generated block {name!r}")
    return BLOCKS[name]()


def fill(text: str) -> str:
    """The text with every generated block rebuilt."""
    return GENERATED.sub(lambda m: f"{m.group(1)}{block(m.group('name'))}\n{m.group(3)}", text)


# --- main -------------------------------------------------------------------------------


def outputs() -> dict[Path, str]:
    """Every generated file and what it should contain."""
    docs = ROOT / "docs"
    out = {docs / "reference.md": reference()}
    for name in ("providers.md", "bounces.md"):
        path = docs / name
        out[path] = fill(path.read_text(encoding="utf-8"))
    return out


def stale() -> list[Path]:
    return [
        p
        for p, text in outputs().items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]


def main() -> int:
    if "--check" in sys.argv:
        old = stale()
        for path in old:
            print(
                f"{path.relative_to(ROOT)} is out of date: run python docs/assemble_readme.py",
                file=sys.stderr,
            )
        return 1 if old else 0
    for path, text in outputs().items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Output: Rich tables on a terminal, plain TSV in pipes, streamed json/jsonl/csv.

Render code never queries. Untrusted text goes through `visible()` for anything shown
to a person (control characters and bidi overrides become visible escapes) and is
always handed to Rich as `Text`, never as markup. Machine formats never pass through Rich.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import orjson

# C0 (except nothing), DEL, C1, and the Unicode bidi/format controls that reorder text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = re.compile("'*[=+\\-@\t\r]")  # a formula start, behind any quotes


def _escape_char(m: re.Match[str]) -> str:
    c = m.group(0)
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any) -> str:
    """Text for a person: control characters, bidi overrides shown as `\\x1b`, `\\u202e`."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _UNSAFE.sub(_escape_char, text)
    if not text.isascii():
        # Also invisible: Unicode TAG characters (hidden text after an emoji) and the
        # line/paragraph separators some terminals and editors break lines at.
        text = re.sub(
            "[\u2028\u2029\U000e0000-\U000e007f]",
            lambda m: (
                f"\\U{ord(m.group(0)):08x}"
                if ord(m.group(0)) > 0xFFFF
                else f"\\u{ord(m.group(0)):04x}"
            ),
            text,
        )
    return text


def one_line(value: Any, width: int | None = None) -> str:
    """visible() on one line, optionally cut with an ellipsis."""
    text = visible(value)
    if width is not None and len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text


# --- machine formats ---------------------------------------------------------------------------


def json_line(row: Mapping[str, Any] | list[Any]) -> str:
    """One JSON value (an object, or a list), UTF-8, with C1 and bidi controls escaped too (orjson escapes C0)."""
    text = orjson.dumps(row, default=str).decode()
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def neutralise_cell(value: Any) -> Any:
    """Spreadsheet-safe cell: a leading = + - @ tab or CR gets a ' in front.

    So does one already behind quotes (`'=x` → `''=x`): removing exactly one quote on
    import (`unguard_cell`) then gives every value back unchanged.
    """
    if isinstance(value, str) and _GUARDED.match(value):
        return "'" + value
    return value


def unguard_cell(value: str) -> str:
    """The inverse of `neutralise_cell`, for reading maillog's own CSV back."""
    if value.startswith("'") and _GUARDED.match(value):
        return value[1:]
    return value


# A field holding any of these is quoted. CR matters as much as LF: spreadsheets start a
# new row at a bare CR, so an unquoted one would put `=cmd|…` at the start of a cell.
_CSV_SPECIAL = re.compile('[",\r\n]')


def csv_line(values: Iterable[Any]) -> str:
    """One CSV record (RFC 4180 quoting, LF-terminated) of already neutralised values."""
    fields = []
    for value in values:
        text = "" if value is None else str(value)
        if _CSV_SPECIAL.search(text):
            text = '"' + text.replace('"', '""') + '"'
        fields.append(text)
    return ",".join(fields) + "\n"


def write_rows(
    rows: Iterable[Mapping[str, Any]], keys: Sequence[str], fmt: str, out: IO[str] | None = None
) -> int:
    """Stream rows as json (an array), jsonl or csv, flushing per row; returns the count."""
    out = out or sys.stdout
    n = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json_line({k: row.get(k) for k in keys}) + "\n")
            out.flush()
            n += 1
    elif fmt == "json":
        out.write("[")
        try:
            for row in rows:
                line = json_line({k: row.get(k) for k in keys})  # whole rows only
                out.write(("\n" if n == 0 else ",\n") + line)
                n += 1
        finally:  # Ctrl-C or an error mid-stream still leaves a valid array behind
            out.write("\n]\n" if n else "]\n")
    elif fmt == "csv":
        # CSV keeps control characters as data (it must read back exactly), so on a
        # terminal, where a person reads it, they are shown as escapes like every table.
        cell = _csv_shown if is_terminal(out) else _csv_value
        out.write(csv_line(keys))
        for row in rows:
            out.write(csv_line(cell(row.get(k)) for k in keys))
            n += 1
    else:  # pragma: no cover - guarded by the option's choices
        raise ValueError(fmt)
    out.flush()
    return n


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json_line(value)
    return neutralise_cell(value)


def _csv_shown(value: Any) -> Any:
    """A CSV cell for a terminal: `visible()`, so an escape in the data never drives it."""
    cell = _csv_value(value)
    return visible(cell) if isinstance(cell, str) else cell


# --- people formats -----------------------------------------------------------------------------


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console(stderr: bool = False):  # -> rich.console.Console
    """A Console that honours NO_COLOR, never emits markup/emoji/highlighting from data."""
    from rich.console import Console

    return Console(
        stderr=stderr,
        highlight=False,
        emoji=False,
        markup=False,
        no_color=bool(os.environ.get("NO_COLOR")),
    )


def write_tsv(rows: Iterable[Sequence[Any]], out: IO[str] | None = None) -> int:
    """gh's convention in pipes: plain tab-separated lines, untruncated, uncoloured."""
    out = out or sys.stdout
    n = 0
    for row in rows:
        out.write("\t".join(visible(v).replace("\t", "\\t") for v in row) + "\n")
        n += 1
    out.flush()
    return n


def status_text(status: str | None):  # -> rich.text.Text
    from rich.text import Text

    from maillog_cli.statuses import COLOURS

    return Text(status or "", style=COLOURS.get(status or "", ""))


def table(
    columns: Sequence[tuple[str, dict[str, Any]]],
    rows: Iterable[Sequence[Any]],
    title: str | None = None,
):
    """A Rich Table whose cells are Text (never markup); str cells are made visible()."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, header_style="bold", expand=False, pad_edge=False, box=None)
    for name, opts in columns:
        t.add_column(name, **opts)
    for row in rows:
        t.add_row(*(c if isinstance(c, Text) else Text(visible(c)) for c in row))
    return t

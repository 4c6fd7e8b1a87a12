"""Audit entries for a person: the plain cells, the terminal table (metadata gets the
width the other columns leave) and one entry in full."""

from __future__ import annotations

from typing import Any

import orjson
from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from maillog_cli.audit.queries import actor_label, category_of, metadata_summary, target_label
from maillog_cli.render.format import short_time
from maillog_cli.render.output import one_line, table, visible

# The entry id second, as in the event listings: `maillog audit show ID` takes it (a
# terminal shows its shortest unique prefix, never cut further: see entries_table).
TABLE_COLUMNS = ("time", "id", "actor", "action", "target", "ip", "metadata")
ID_CAP = 10_000  # the id is never cut: a cut id is one `audit show` may not find
CAPS = (19, ID_CAP, 32, 28, 32, 39)  # the widest each column but metadata may grow


def entry_cells(row: dict[str, Any]) -> list[str]:
    """One entry as plain cells in TABLE_COLUMNS order."""
    return [
        short_time(row.get("created_at")),
        str(row.get("id") or ""),
        actor_label(row),
        row.get("action") or "",
        target_label(row),
        row.get("ip") or "",
        metadata_summary(row.get("metadata")),
    ]


def entries_table(
    rows: list[dict[str, Any]], width: int, short: dict[str, str] | None = None
) -> Table:
    """Every column but metadata keeps its natural width (capped); metadata gets the rest.
    Ids are shown as `short` maps them (their unique prefixes), else whole."""
    cells = [[one_line(c) for c in entry_cells(r)] for r in rows]
    for c, r in zip(cells, rows, strict=True):
        c[1] = one_line((short or {}).get(r.get("id") or "", c[1]))
    widths = [
        min(cap, max(len(name), *(len(c[i]) for c in cells)))
        for i, (name, cap) in enumerate(zip(TABLE_COLUMNS, CAPS, strict=False))
    ]
    styles: tuple[dict[str, Any], ...] = (
        {"style": "dim"},
        {"style": "dim"},
        {},
        {"style": "bold"},
        {},
        {},
    )
    columns: list[tuple[str, dict[str, Any]]] = [
        (name, {"no_wrap": True, "overflow": "ellipsis", "min_width": w, "max_width": cap, **style})
        for name, w, cap, style in zip(TABLE_COLUMNS, widths, CAPS, styles, strict=False)
    ]
    room = max(12, width - sum(widths) - 2 * len(widths))
    cells = [[*c[:-1], one_line(c[-1], room)] for c in cells]
    columns.append(("metadata", {"no_wrap": True, "overflow": "ellipsis", "max_width": room}))
    return table(columns, cells)


def action_cells(row: dict[str, Any]) -> list[str]:
    """One line of `maillog audit actions`."""
    return [
        row["action"],
        row["category"],
        str(row["count"]),
        short_time(row["last_seen"]),
        row["description"] or "",
    ]


def actions_table(cells: list[list[str]]) -> Table:
    columns: list[tuple[str, dict[str, Any]]] = [
        ("action", {"no_wrap": True, "style": "bold"}),
        ("category", {"no_wrap": True}),
        ("count", {"justify": "right", "no_wrap": True}),
        ("last seen", {"no_wrap": True, "style": "dim"}),
        ("meaning", {"overflow": "fold"}),
    ]
    return table(columns, cells)


def entry_detail(row: dict[str, Any]) -> Group:
    """Fields as a two-column grid of Text, then the metadata as pretty, highlighted JSON."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    action = row.get("action") or ""
    raw = row.get("raw_action")
    label = f"{action}  [{category_of(action)}]" + (
        f"  (as written: {raw})" if raw and raw != action else ""
    )
    actor = " ".join(
        x
        for x in (row.get("actor_email"), f"({row['actor_id']})" if row.get("actor_id") else None)
        if x
    )
    target = " ".join(x for x in (row.get("target_type"), row.get("target_id")) if x)
    for name, value in (
        ("id", row.get("id")),
        ("time", row.get("created_at")),
        ("actor", actor),
        ("action", label),
        ("target", target),
        ("ip", row.get("ip")),
        ("user agent", row.get("user_agent")),
    ):
        grid.add_row(Text(name), Text(visible(value or "-")))
    pretty = orjson.dumps(
        row.get("metadata") or {}, option=orjson.OPT_INDENT_2, default=str
    ).decode()
    # orjson escapes C0 controls; visible() shows the C1 and bidi ones as escapes too.
    code = "\n".join(visible(line) for line in pretty.splitlines())
    return Group(
        grid,
        Text(""),
        Text("metadata", style="bold"),
        Syntax(code, "json", theme="ansi_dark", word_wrap=True, background_color="default"),
    )

"""`maillog audit`: who changed what, when, from where.

`maillog audit [filters]` lists entries (newest first); `maillog audit actions` counts
the actions in the store; `maillog audit show ID` expands one entry's metadata.
A Typer sub-app whose callback runs without a subcommand, so both
`maillog audit --actor alice` and `maillog audit show ID` work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, FormatOption, LimitOption, OutputFormat

_F = "Filters"


def _filter(kind: Any, *names: str, help: str) -> Any:
    """An audit filter option: the same panel and no default shown, declared once."""
    return Annotated[kind, typer.Option(*names, help=help, rich_help_panel=_F, show_default=False)]


ActorOption = _filter(
    list[str] | None,
    "--actor",
    "-a",
    help="Who: user id, full email, or the email's local part exactly (alice matches alice@…, never malice@…). Repeat for several.",
)
ActionOption = _filter(
    list[str] | None,
    "--action",
    help="Action name (smtp.update, \"Domain Added\") or a glob ('api_key.*'). Repeat for several.",
)
CategoryOption = _filter(
    list[str] | None,
    "--category",
    "-c",
    help="Action category: project, sending, bounces, api, workspace, domains, auth, other.",
)
TargetOption = _filter(list[str] | None, "--target", help="Target id, or type:id (webhook:wh_123).")
IpOption = _filter(list[str] | None, "--ip", help="Client IP, exactly or as a glob (203.0.113.*).")
MetaOption = _filter(
    str | None, "--meta", help="Metadata contains this text (a key or a value), case-insensitive."
)
SinceOption = _filter(
    str | None, "--since", help="From this time: 2h, 30d, yesterday, 2026-01-31 …"
)
UntilOption = _filter(str | None, "--until", help="Before this time (same forms as --since).")

TABLE_COLUMNS = ("time", "actor", "action", "target", "ip", "metadata")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="audit",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    sub.callback(invoke_without_command=True)(audit)
    sub.command("actions")(actions)
    sub.command("show")(show)
    app.add_typer(sub, name="audit")


def _filters(actor, action, category, target, ip, meta, since, until):  # -> AuditFilters
    from maillog_cli.audit.queries import build

    return build(
        actors=actor,
        actions=action,
        categories=category,
        targets=target,
        ips=ip,
        meta=meta,
        since=since,
        until=until,
    )


def _store(ctx: typer.Context, db: Path | None):
    from maillog_cli.context import open_store

    # `maillog audit --db X show ID`: the group's --db, kept in the shared ctx.meta.
    return open_store(ctx, db or ctx.meta.get("audit_db"), readonly=True)


def audit(
    ctx: typer.Context,
    actor: ActorOption = None,
    action: ActionOption = None,
    category: CategoryOption = None,
    target: TargetOption = None,
    ip: IpOption = None,
    meta: MetaOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = 100,
    db: DbOption = None,
) -> None:
    """Audit log: who changed what, when, from where (newest first).

    Examples: maillog audit --actor alice; maillog audit --action smtp.update --since 30d; maillog audit --action 'api_key.*'; maillog audit --action 'smtp.*' --meta password; maillog audit show ID; maillog audit actions.
    """
    if ctx.invoked_subcommand is not None:
        ctx.meta["audit_db"] = db
        return
    from maillog_cli.audit.queries import count_all, list_entries

    filters = _filters(actor, action, category, target, ip, meta, since, until)
    store = _store(ctx, db)
    rows = list_entries(store.conn, filters, limit or None)
    shown = _emit(rows, fmt)
    if shown == 0 and fmt is OutputFormat.table:
        from maillog_cli.render.output import console, is_terminal

        if is_terminal():
            empty = count_all(store.conn) == 0
            console().print(
                "no audit entries in the store yet: import an audit log with `maillog import FILE`"
                if empty
                else "no matching audit entries",
                style="dim",
            )


def _cells(row: dict[str, Any]) -> list[str]:
    from maillog_cli.audit.queries import actor_label, metadata_summary, target_label
    from maillog_cli.commands.listing import short_time

    return [
        short_time(row.get("created_at")),
        actor_label(row),
        row.get("action") or "",
        target_label(row),
        row.get("ip") or "",
        metadata_summary(row.get("metadata")),
    ]


def _emit(rows, fmt: OutputFormat) -> int:
    """Entries in the chosen format; returns how many were printed."""
    from maillog_cli.model import AUDIT_KEYS
    from maillog_cli.render.output import (
        console,
        is_terminal,
        one_line,
        table,
        write_rows,
        write_tsv,
    )

    if fmt is not OutputFormat.table:
        return write_rows(rows, AUDIT_KEYS, fmt.value)
    if not is_terminal():
        return write_tsv(_cells(r) for r in rows)
    cells = [[one_line(c) for c in _cells(r)] for r in rows]
    if not cells:
        return 0
    # Every column but metadata keeps its natural width (capped); metadata gets the rest.
    caps = (19, 32, 28, 32, 39)
    widths = [
        min(cap, max(len(name), *(len(c[i]) for c in cells)))
        for i, (name, cap) in enumerate(zip(TABLE_COLUMNS, caps, strict=False))
    ]
    styles = ({"style": "dim"}, {}, {"style": "bold"}, {}, {})
    columns = [
        (name, {"no_wrap": True, "overflow": "ellipsis", "min_width": w, "max_width": cap, **style})
        for name, w, cap, style in zip(TABLE_COLUMNS, widths, caps, styles, strict=False)
    ]
    out = console()
    room = max(12, out.width - sum(widths) - 2 * len(widths))
    cells = [[*c[:5], one_line(c[5], room)] for c in cells]
    columns.append(("metadata", {"no_wrap": True, "overflow": "ellipsis", "max_width": room}))
    out.print(table(columns, cells))
    return len(cells)


def actions(
    ctx: typer.Context,
    actor: ActorOption = None,
    action: ActionOption = None,
    category: CategoryOption = None,
    target: TargetOption = None,
    ip: IpOption = None,
    meta: MetaOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """The actions in the store with their category and counts (most frequent first)."""
    from maillog_cli.audit.queries import ACTION_KEYS, action_counts
    from maillog_cli.commands.listing import short_time
    from maillog_cli.render.output import console, is_terminal, table, write_rows, write_tsv

    filters = _filters(actor, action, category, target, ip, meta, since, until)
    store = _store(ctx, db)
    rows = action_counts(store.conn, filters)
    if fmt is not OutputFormat.table:
        write_rows(rows, ACTION_KEYS, fmt.value)
        return
    cells = [
        [
            r["action"],
            r["category"],
            str(r["count"]),
            short_time(r["last_seen"]),
            r["description"] or "",
        ]
        for r in rows
    ]
    if not is_terminal():
        write_tsv(cells)
        return
    if not cells:
        console().print("no audit entries match", style="dim")
        return
    columns = [
        ("action", {"no_wrap": True, "style": "bold"}),
        ("category", {"no_wrap": True}),
        ("count", {"justify": "right", "no_wrap": True}),
        ("last seen", {"no_wrap": True, "style": "dim"}),
        ("meaning", {"overflow": "fold"}),
    ]
    console().print(table(columns, cells))


def show(
    ctx: typer.Context,
    ident: Annotated[
        str, typer.Argument(metavar="ID", help="The entry's id (or a unique prefix of it).")
    ],
    fmt: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help="table (pretty), json, jsonl or csv.", case_sensitive=False
        ),
    ] = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """One audit entry with its metadata expanded (pretty JSON, never read as markup)."""
    from maillog_cli.audit.queries import get_entry, output_row

    store = _store(ctx, db)
    row = get_entry(store.conn, ident)
    if row is None:
        raise MaillogError(
            f"no audit entry {ident!r} in {store.path}",
            "list ids with: maillog audit --format jsonl",
        )
    if fmt in (OutputFormat.json, OutputFormat.jsonl):
        from maillog_cli.render.output import json_line

        typer.echo(json_line(output_row(row)))
        return
    if fmt is OutputFormat.csv:
        from maillog_cli.model import AUDIT_KEYS
        from maillog_cli.render.output import write_rows

        write_rows([row], AUDIT_KEYS, "csv")
        return
    from maillog_cli.render.output import console

    console().print(_detail(row))


def _detail(row: dict[str, Any]):  # -> a Rich renderable
    """Fields as a two-column grid of Text, then the metadata as pretty, highlighted JSON."""
    import orjson
    from rich.console import Group
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    from maillog_cli.audit.queries import category_of
    from maillog_cli.render.output import visible

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

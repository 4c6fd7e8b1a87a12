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
from maillog_cli.options import (
    DbOption,
    FormatOption,
    LimitOption,
    OutputFormat,
    complete_category,
)

_F = "Filters"


def _filter(*names: str, help: str, **more: Any) -> Any:
    """An audit filter option: the same panel and no default shown, declared once."""
    return typer.Option(*names, help=help, rich_help_panel=_F, show_default=False, **more)


ActorOption = Annotated[
    list[str] | None,
    _filter(
        "--actor",
        "-a",
        help="Who: user id, full email, or the email's local part exactly (alice matches alice@…, never malice@…). Repeat for several.",
    ),
]
ActionOption = Annotated[
    list[str] | None,
    _filter(
        "--action",
        help="Action name (smtp.update, \"Domain Added\") or a glob ('api_key.*'). Repeat for several.",
    ),
]
CategoryOption = Annotated[
    list[str] | None,
    _filter(
        "--category",
        "-c",
        help="Action category: project, sending, bounces, api, workspace, domains, auth, other.",
        autocompletion=complete_category,
    ),
]
TargetOption = Annotated[
    list[str] | None, _filter("--target", help="Target id, or type:id (webhook:wh_123).")
]
IpOption = Annotated[
    list[str] | None, _filter("--ip", help="Client IP, exactly or as a glob (203.0.113.*).")
]
MetaOption = Annotated[
    str | None,
    _filter("--meta", help="Metadata contains this text (a key or a value), case-insensitive."),
]
SinceOption = Annotated[
    str | None, _filter("--since", help="From this time: 2h, 30d, yesterday, 2026-01-31 …")
]
UntilOption = Annotated[
    str | None, _filter("--until", help="Before this time (same forms as --since).")
]


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
    from maillog_cli.audit.queries import count_entries, list_entries
    from maillog_cli.commands.listing import EMPTY_AUDIT, plus_one, say_when_empty, up_to_limit

    filters = _filters(actor, action, category, target, ip, meta, since, until)
    store = _store(ctx, db)
    rows = up_to_limit(
        list_entries(store.conn, filters, plus_one(limit)),
        limit,
        lambda: count_entries(store.conn, filters),
    )
    shown = _emit(rows, fmt, store.conn)
    say_when_empty(store.conn, shown, "audit entries", table="audit", empty=EMPTY_AUDIT)


def _emit(rows, fmt: OutputFormat, conn) -> int:
    """Entries in the chosen format; returns how many were printed. On a terminal each
    id is its shortest unique prefix in the store `conn` (what `audit show` takes)."""
    from maillog_cli.model import AUDIT_KEYS
    from maillog_cli.render.audit import entries_table, entry_cells
    from maillog_cli.render.output import console, is_terminal, write_rows, write_tsv
    from maillog_cli.store.query import AUDIT_IDS, short_ids

    if fmt is not OutputFormat.table:
        return write_rows(rows, AUDIT_KEYS, fmt.value)
    if not is_terminal():
        return write_tsv(entry_cells(r) for r in rows)
    rows = list(rows)
    if not rows:
        return 0
    out = console()
    short = short_ids(conn, (r.get("id") for r in rows), AUDIT_IDS)
    out.print(entries_table(rows, out.width, short))
    return len(rows)


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
    from maillog_cli.commands.listing import EMPTY_AUDIT, say_when_empty
    from maillog_cli.render.audit import action_cells, actions_table
    from maillog_cli.render.output import console, is_terminal, write_rows, write_tsv

    filters = _filters(actor, action, category, target, ip, meta, since, until)
    store = _store(ctx, db)
    rows = action_counts(store.conn, filters)
    if fmt is not OutputFormat.table:
        write_rows(rows, ACTION_KEYS, fmt.value)
    elif not is_terminal():
        write_tsv(action_cells(r) for r in rows)
    elif rows:
        console().print(actions_table([action_cells(r) for r in rows]))
    say_when_empty(store.conn, len(rows), "audit entries", table="audit", empty=EMPTY_AUDIT)


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
    from maillog_cli.render.audit import entry_detail
    from maillog_cli.render.output import console

    console().print(entry_detail(row))

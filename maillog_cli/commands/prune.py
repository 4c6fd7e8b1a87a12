"""`maillog prune` (retention) and `maillog db info` (what the store holds)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, OutputFormat, cap_count, filter_options, new_file

if TYPE_CHECKING:
    from maillog_cli.prune import Cutoff
    from maillog_cli.store.query import Filters

db_app = typer.Typer(
    help="The store itself: `maillog db info` shows its size, counts, oldest/newest event, last import and prune.",
    no_args_is_help=True,
)

FormatTableJson = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="table (key/value lines), json or jsonl (one object), csv (key,value rows).",
        case_sensitive=False,
        rich_help_panel="Output",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("prune")(prune)
    db_app.callback()(db_group)
    db_app.command("info")(info)
    db_app.command("backup")(backup)
    app.add_typer(db_app, name="db")


def db_group(db: DbOption = None) -> None:
    """The store itself: `maillog db info` shows its size, counts, oldest/newest event, last import and prune."""
    # --db here (`maillog db --db X info`) is recorded for the sub-command by DbOption.


@filter_options
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Delete events older than this: 90d, 12w, 6mo, 1y, 36h, 1y6mo … (default: retention in the config file).",
            show_default=False,
        ),
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(
            "--before",
            metavar="DATE",
            help="Delete events before this date (2026-01-01, 2026-01-01T12:00Z, or the relative forms of --since).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would go (counts, estimated bytes); delete nothing."
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Do not ask (cron); without it a non-terminal refuses."),
    ] = False,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            metavar="FILE",
            parser=new_file,
            help="First write everything that goes to FILE (gzip if .gz) as maillog JSONL; `maillog import FILE` brings it back.",
            show_default=False,
        ),
    ] = None,
    include_audit: Annotated[
        bool,
        typer.Option(
            "--include-audit", help="Delete old audit entries too (by default they are kept)."
        ),
    ] = False,
    audit_older_than: Annotated[
        str | None,
        typer.Option(
            "--audit-older-than",
            metavar="DURATION",
            help="With --include-audit: the audit entries' own cut-off (default: the events' one).",
            show_default=False,
        ),
    ] = None,
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="Rewrite the whole file afterwards (VACUUM) instead of the incremental vacuum.",
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            hidden=True,
            callback=cap_count,
            help="Fixed rows per transaction (tests).",
        ),
    ] = None,
    fmt: FormatTableJson = OutputFormat.table,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Delete old events (retention): messages left without events go too; audit kept unless --include-audit."""
    from maillog_cli.context import open_store
    from maillog_cli.prune import Pruner

    if audit_older_than is not None and not include_audit:
        raise typer.BadParameter(
            "add --include-audit to delete audit entries", param_hint="--audit-older-than"
        )
    cutoff, audit_cutoff = _cutoffs(older_than, before, include_audit, audit_older_than)
    store = open_store(ctx, db, readonly=dry_run, create=False)
    pruner = Pruner(store, cutoff, filters, audit_cutoff, batch=batch_size)
    plan = pruner.plan(estimate=dry_run or not yes)
    if dry_run:
        _show(plan.as_json(), fmt, title="would delete (dry run: nothing deleted)")
        return
    if plan.empty:
        _show({**plan.as_json(), "deleted": False}, fmt, title="nothing to prune")
        return
    if not yes:
        _confirm(plan.as_json())
    if archive is not None:
        pruner.archive(archive)
    outcome = pruner.delete(_progress() if fmt is OutputFormat.table else None)
    pruner.reclaim(full=vacuum)
    _show({**plan.as_json(), **outcome.as_json()}, fmt, title="deleted")


def _cutoffs(
    older_than: str | None, before: str | None, include_audit: bool, audit_older_than: str | None
) -> tuple[Cutoff, Cutoff | None]:
    """The events' cut-off (--older-than, --before, else the config's retention) and, with
    --include-audit, the audit entries' one; a usage error when there is none."""
    from maillog_cli.config import load_config
    from maillog_cli.paths import config_path
    from maillog_cli.prune import BadCutoff, resolve_audit_cutoff, resolve_cutoff

    try:
        retention = None
        if older_than is None and before is None:
            retention = load_config().get("retention")
        cutoff = resolve_cutoff(
            older_than, before, retention, config_name=f"config file {config_path()}"
        )
        if cutoff is None:
            raise typer.BadParameter(
                f'give --older-than 180d or --before DATE, or set retention = "180d" in {config_path()}',
                param_hint="--older-than",
            )
        audit_cutoff = resolve_audit_cutoff(audit_older_than, cutoff) if include_audit else None
    except BadCutoff as exc:
        raise typer.BadParameter(exc.message, param_hint=exc.option) from None
    return cutoff, audit_cutoff


def _confirm(plan: dict[str, Any]) -> None:
    """Ask a person at a terminal, after showing what goes; refuse without one."""
    from maillog_cli.context import confirm_or_refuse

    confirm_or_refuse(
        "Delete them?",
        no_terminal=MaillogError(
            "refusing to delete without --yes when not run from a terminal",
            "check with --dry-run, then add --yes",
        ),
        declined=MaillogError(
            "nothing deleted", "answer y to delete, or use --dry-run to look first"
        ),
        show=lambda: _show(plan, OutputFormat.table, title="this will delete", err=True),
        err=True,
    )


def _progress():  # -> Progress callback or None
    """A bar on stderr when a person watches; nothing otherwise."""
    from maillog_cli.render.output import is_terminal

    if not is_terminal(sys.stderr):
        return None

    def report(done: int, total: int) -> None:
        sys.stderr.write(f"\rdeleted {done:,} of {total:,} …")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


LABELS = {
    "cutoff": "cut-off (older goes)",
    "cutoff_source": "from",
    "estimated_bytes": "estimated size",
    "size_before": "file before",
    "size_after": "file after",
    "longest_batch_seconds": "longest batch (s)",
}


def _show(data: dict[str, Any], fmt: OutputFormat, title: str, err: bool = False) -> None:
    """One object as JSON, or key/value lines (a Rich grid on a terminal, TSV in a pipe)."""
    from maillog_cli.render.output import console, is_terminal, json_line, table, write_tsv

    if fmt is not OutputFormat.table:
        if fmt is OutputFormat.csv:
            from maillog_cli.render.output import write_rows

            write_rows(({"key": k, "value": v} for k, v in data.items()), ("key", "value"), "csv")
            return
        typer.echo(json_line(data))
        return
    rows = [
        (LABELS.get(k, k.replace("_", " ")), _human(k, v)) for k, v in data.items() if v is not None
    ]
    stream = sys.stderr if err else sys.stdout
    if is_terminal(stream):
        console(stderr=err).print(table([("", {"style": "bold"}), ("", {})], rows, title=title))
    else:
        stream.write(f"# {title}\n")
        write_tsv(rows, out=stream)


def _human(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in ("estimated_bytes", "size_before", "size_after", "size", "wal_size", "free_bytes"):
        return _bytes(int(value))
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def backup(
    ctx: typer.Context,
    dest: Annotated[
        Path, typer.Argument(metavar="PATH", parser=new_file, help="The new file to write.")
    ],
    db: DbOption = None,
) -> None:
    """A consistent copy of the store while it is in use (never `cp` a live store: its
    newest events may still be in the -wal file). Refuses an existing file."""
    from maillog_cli.context import error, open_store

    store = open_store(ctx, db, readonly=True, create=False)
    try:
        size = store.backup(dest)
    finally:
        store.close()
    error(f"backed up {store.path} to {dest} ({_bytes(size)})")


def info(
    ctx: typer.Context, fmt: FormatTableJson = OutputFormat.table, db: DbOption = None
) -> None:
    """The store: path, size, schema version, counts, oldest/newest event, last import and prune."""
    from maillog_cli.context import open_store
    from maillog_cli.prune import db_info

    store = open_store(ctx, db, readonly=True)
    _show(db_info(store), fmt, title=str(store.path))

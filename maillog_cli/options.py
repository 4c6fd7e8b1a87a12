"""Options declared once and applied to every command that lists or filters.

`@filter_options` appends the common filters (README, "Cookbook") to a command's signature and
hands the command one validated `Filters` object as `filters`; `@output_options` adds
`--format` and `--limit`. Every command therefore spells its flags the same way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from maillog_cli.store.query import Filters, build

F = Callable[..., Any]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def choices(name: str, values: Iterable[str]) -> type[StrEnum]:
    """A Typer choice enum made from the core's own tuple of values, so the two never drift."""
    return StrEnum(name, {v: v for v in values})  # type: ignore[return-value]


def remember_db(ctx: typer.Context, value: Path | None) -> Path | None:
    """--db wherever it is given (`maillog --db X db info`, `maillog db --db X info`,
    `maillog db info --db X`) becomes the run's store: the last one given wins."""
    from maillog_cli.context import State

    if value is not None:
        state = ctx.find_object(State)
        if state is None:
            state = ctx.find_root().ensure_object(State)
        state.db = value
    return value


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Database file (default: $MAILLOG_DB, else the user data dir).",
        show_default=False,
        callback=remember_db,
        rich_help_panel="Store",
    ),
]

_FILTERS: list[tuple[str, Any, Any]] = [
    (
        "status",
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help="Canonical status or alias (bounced, deferred, spam …); repeat for several.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "to",
        str | None,
        typer.Option(
            "--to",
            help="Recipient: full address, local part, or a glob (*@example.com).",
            rich_help_panel="Filters",
        ),
    ),
    (
        "from_",
        str | None,
        typer.Option(
            "--from", help="Sender address (same forms as --to).", rich_help_panel="Filters"
        ),
    ),
    (
        "domain",
        str | None,
        typer.Option(
            "--domain", help="Recipient domain, e.g. gmail.com.", rich_help_panel="Filters"
        ),
    ),
    (
        "subject",
        str | None,
        typer.Option("--subject", help="Subject contains this text.", rich_help_panel="Filters"),
    ),
    (
        "provider",
        list[str] | None,
        typer.Option(
            "--provider",
            help="Provider slug (sendgrid, ses …); repeat for several.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "message_id",
        str | None,
        typer.Option(
            "--message-id",
            help="Any identity of the message, with or without <>.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "bounce_class",
        list[str] | None,
        typer.Option(
            "--bounce-class",
            "--class",
            help="hard, soft, block or undetermined.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "reason",
        list[str] | None,
        typer.Option(
            "--reason",
            help="Bounce reason, e.g. mailbox_full (see `maillog bounces explain`).",
            rich_help_panel="Filters",
        ),
    ),
    (
        "tag",
        list[str] | None,
        typer.Option(
            "--tag",
            help="The message has this tag (or name:value tag); repeat for any of several.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "type",
        list[str] | None,
        typer.Option(
            "--type",
            help="Message type, e.g. transactional, broadcast; repeat for several.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "send_method",
        list[str] | None,
        typer.Option(
            "--send-method",
            help="How it was sent: smtp or api; repeat for several.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "since",
        str | None,
        typer.Option(
            "--since",
            help="From this time: 2h, 7d, yesterday, monday, 3pm, 2026-01-31 … (never in the future).",
            rich_help_panel="Filters",
        ),
    ),
    (
        "until",
        str | None,
        typer.Option(
            "--until", help="Before this time (same forms as --since).", rich_help_panel="Filters"
        ),
    ),
]


def filters_from(values: dict[str, Any], text: str | None = None) -> Filters:
    """Filters from the parsed option values (raises MaillogError for a bad value)."""
    return build(
        statuses=values.get("status"),
        to=values.get("to"),
        sender=values.get("from_"),
        domain=values.get("domain"),
        subject=values.get("subject"),
        providers=values.get("provider"),
        message_id_=values.get("message_id"),
        bounce_class=values.get("bounce_class"),
        reason=values.get("reason"),
        since=values.get("since"),
        until=values.get("until"),
        text=text,
        tags=values.get("tag"),
        types=values.get("type"),
        send_methods=values.get("send_method"),
    )


def _extend(
    func: F,
    extra: list[inspect.Parameter],
    collect: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> F:
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name not in {"filters"}]
    names = {p.name for p in extra}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        taken = {n: kwargs.pop(n) for n in list(kwargs) if n in names}
        kwargs.update(collect(taken, kwargs))
        return func(*args, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in func.__annotations__.items() if k != "filters"},
        **{p.name: p.annotation for p in extra},
    }
    return wrapper


def filter_options(func: F) -> F:
    """Add the common filters; the command receives them as one `filters: Filters`.

    A command with a `text` parameter gets it folded into the filters as free text too.
    """
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[typ, opt]
        )
        for name, typ, opt in _FILTERS
    ]

    def collect(values: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        text = kwargs.get("text")
        return {
            "filters": filters_from(values, text=" ".join(text) if isinstance(text, list) else text)
        }

    return _extend(func, extra, collect)


MAX_COUNT = 1 << 62  # more than any store holds, and still a SQLite integer


def cap_count(value: int | None) -> int | None:
    """A count option's value, capped: 99999999999999999999 means "all", not an
    OverflowError when SQLite is handed a number wider than 64 bits."""
    return None if value is None else min(value, MAX_COUNT)


LimitOption = Annotated[
    int,
    typer.Option(
        "--limit",
        "-n",
        help="At most this many rows; 0 for all.",
        min=0,
        callback=cap_count,
        rich_help_panel="Output",
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="table (a terminal table, or TSV in a pipe), json, jsonl or csv.",
        case_sensitive=False,
        rich_help_panel="Output",
    ),
]

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
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

if TYPE_CHECKING:  # the query layer loads with the first command that filters, not for --help
    from maillog_cli.store.query import Filters

F = Callable[..., Any]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def new_file(text: str) -> Path:
    """A file maillog is to write (an archive, a backup, rejects). Typer's Path drops a
    trailing "/", so `--archive backups/` wrote a FILE named backups: such a name is
    refused while the slash can still be seen."""
    from maillog_cli.paths import names_a_folder

    if names_a_folder(text):
        raise typer.BadParameter(
            f"{text!r} names a directory; give a file name, e.g. {text.rstrip('/')}/FILE"
        )
    return Path(text)


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


def _completer(values: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """Shell completion of an option's values (bash, zsh, fish): the same lists the
    command validates against, read only when the shell asks."""

    def complete(incomplete: str) -> list[str]:
        word = incomplete.lower()
        return [v for v in dict.fromkeys(values()) if v.startswith(word)]

    return complete


def _statuses() -> list[str]:
    from maillog_cli.statuses import ALIASES, STATUSES

    return [*STATUSES, *sorted(ALIASES)]


def _classes() -> tuple[str, ...]:
    from maillog_cli.store.query import BOUNCE_CLASSES

    return BOUNCE_CLASSES


def _reasons() -> list[str]:
    from maillog_cli.bounce.classify import REASONS

    return sorted(REASONS)


def _providers() -> list[str]:
    from maillog_cli.importers import all_importers

    return sorted({m.PROVIDER for m in all_importers() if getattr(m, "PROVIDER", None)})


def _categories() -> tuple[str, ...]:
    from maillog_cli.audit.queries import CATEGORIES

    return CATEGORIES


complete_status = _completer(_statuses)
complete_class = _completer(_classes)
complete_reason = _completer(_reasons)
complete_provider = _completer(_providers)
complete_category = _completer(_categories)

_FILTERS: list[tuple[str, Any, Any]] = [
    (
        "status",
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            autocompletion=complete_status,
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
            "--from",
            help="Sender: full address, local part, or a glob (*@example.com).",
            rich_help_panel="Filters",
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
            autocompletion=complete_provider,
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
            autocompletion=complete_class,
            help="hard, soft, block or undetermined.",
            rich_help_panel="Filters",
        ),
    ),
    (
        "reason",
        list[str] | None,
        typer.Option(
            "--reason",
            autocompletion=complete_reason,
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
    from maillog_cli.store.query import build

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


def _evaluated(func: F, annotation: Any) -> Any:
    """A string annotation (`from __future__ import annotations`) as the object it names."""
    if not isinstance(annotation, str):
        return annotation
    return eval(annotation, getattr(func, "__globals__", {}))  # noqa: S307 - our own source


def _extend(
    func: F,
    extra: list[inspect.Parameter],
    collect: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> F:
    # Annotations are evaluated here, but not `filters`'s: its type (the query layer) is
    # only imported for type checkers, so that --help does not load it.
    sig = inspect.signature(func)
    own = [
        p.replace(annotation=_evaluated(func, p.annotation))
        for p in sig.parameters.values()
        if p.name not in {"filters"}
    ]
    sig = sig.replace(return_annotation=_evaluated(func, sig.return_annotation))
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


def filter_options(func: F | None = None, *, omit: tuple[str, ...] = ()) -> Any:
    """Add the common filters; the command receives them as one `filters: Filters`.

    A command with a `text` parameter gets it folded into the filters as free text too.
    `@filter_options(omit=("status",))` leaves out filters a command does not take, so its
    --help never lists an option it would refuse.
    """
    if func is None:
        return functools.partial(filter_options, omit=omit)
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[typ, opt]
        )
        for name, typ, opt in _FILTERS
        if name not in omit
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


# The free-text words of the commands that search (search/ls, tail).
TextArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TEXT",
        help="Free text in subject, addresses and diagnostics.",
        show_default=False,
    ),
]
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
if TYPE_CHECKING:  # made at run time; to a type checker it is the output formats it narrows
    ObjectFormat = OutputFormat
else:
    ObjectFormat = choices("ObjectFormat", ("table", "json", "jsonl"))
# Commands whose result is one object (bounces explain, reclassify): no csv to offer.
ObjectFormatOption = Annotated[
    ObjectFormat,
    typer.Option(
        "--format",
        "-f",
        help="table (for a person), json or jsonl (the same one object on one line).",
        case_sensitive=False,
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


# --- how values show in --help ----------------------------------------------------------------
# Typer labels values by their Python type (`<bool>`, `<list[str]>`, `<int range> [x>=0]`);
# a person reads `--limit N (0 or more)`, `--status TEXT`, and no label on a flag.

_NAMES = {"int": "N", "float": "NUMBER", "str": "TEXT", "Path": "PATH", "datetime": "DATE"}


def _range_words(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low}–{high}"
    return f"{low} or more" if low is not None else f"at most {high}"


def value_label(param: Any) -> str | None:  # a TyperOption or a TyperArgument
    """The label of an option's value in help: a choice's values, N, TEXT, PATH; none for
    a flag (it takes no value) or an argument (its name says it)."""
    if isinstance(param, TyperArgument) or getattr(param, "is_flag", False):
        return None
    if param.metavar is not None:
        return param.metavar
    desc = param.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    if desc.is_path:
        label = "FILE" if desc.path_type == "file" else "PATH"
    elif desc.is_ranged:
        label = "N"
    else:
        inner = desc.annotation
        if desc.is_list:
            inner = getattr(inner, "__args__", (inner,))[0]
        label = _NAMES.get(getattr(inner, "__name__", ""), "VALUE")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        label += f" ({_range_words(low, high)})"
    return label


def install_value_labels() -> None:
    """Use value_label() in every help screen (the range is part of the label)."""
    TyperOption.display_type_rich = lambda self, ctx: value_label(self)  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: value_label(self)  # type: ignore[method-assign]
    TyperOption._get_number_range_help_str = lambda self: None  # type: ignore[method-assign]
    TyperArgument._get_number_range_help_str = lambda self: None  # type: ignore[method-assign]


def argv_text(value: Any) -> Any:
    """`value` (a str, or a list/tuple of them) with bytes that were not UTF-8 in argv
    (Python carries them as lone surrogates) replaced by U+FFFD, as the importers decode
    such bytes in a file: no text a shell can pass may crash SQLite or the terminal with
    "surrogates not allowed". Anything else (paths, numbers, enums) is left as it is."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value
    if isinstance(value, list | tuple):
        cleaned = [argv_text(v) for v in value]
        return cleaned if isinstance(value, list) else tuple(cleaned)
    return value


def install_argv_text() -> None:
    """Every text option and argument of every command goes through argv_text() once
    Typer has converted it (Path values are Paths by then, so file names keep their bytes)."""
    for cls in (TyperOption, TyperArgument):
        original = cls.process_value
        if getattr(original, "_argv_text", False):
            continue

        def wrapped(self: Any, ctx: Any, value: Any, _original: Any = original) -> Any:
            return argv_text(_original(self, ctx, value))

        wrapped._argv_text = True  # type: ignore[attr-defined]
        cls.process_value = wrapped  # type: ignore[method-assign]

"""`maillog resend`: send stored emails again over SMTP, after a look and a yes."""

from __future__ import annotations

import inspect
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, choices, filter_options
from maillog_cli.resend.settings import TLS_MODES

if TYPE_CHECKING:
    from maillog_cli.resend.plan import Plan, Selection
    from maillog_cli.resend.send import BatchResult
    from maillog_cli.resend.settings import SmtpSettings
    from maillog_cli.store.db import Store
    from maillog_cli.store.query import Filters

if TYPE_CHECKING:  # made at run time from the core's tuple, which a type checker cannot see
    TlsMode = StrEnum
else:
    TlsMode = choices("TlsMode", TLS_MODES)


def register(app: typer.Typer) -> None:
    app.command("resend")(resend)


def selection_filters(func: Any) -> Any:
    """@filter_options, with the recipient filter spelled --recipient: here --to is the new address."""

    wrapped = filter_options(func)
    sig = inspect.signature(wrapped)
    option = typer.Option(
        "--recipient",
        help="Select by recipient: full address, local part, or a glob (*@example.com).",
        rich_help_panel="Filters",
    )
    annotation = Annotated[str | None, option]
    params = [
        p.replace(annotation=annotation) if p.name == "to" else p for p in sig.parameters.values()
    ]
    wrapped.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapped.__annotations__["to"] = annotation
    return wrapped


SMTP = "SMTP (else $MAILLOG_SMTP_*, else the config file)"


@selection_filters
def resend(
    ctx: typer.Context,
    idents: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MESSAGE_ID",
            help="Messages to resend (any of their ids or a unique start of one, <> optional); or select with filters.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show envelope, server and headers; send nothing.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Send without asking (needed when stdin is not a terminal)."
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Send even to a recipient who hard-bounced, complained or is suppressed.",
        ),
    ] = False,
    to_address: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            metavar="ADDRESS",
            help="Send to this address instead of the original recipient (repeat for several).",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        str, typer.Option("--rate", help="At most this many messages: 5/s, 120/m, 1000/h.")
    ] = "5/s",
    smtp_host: Annotated[
        str | None,
        typer.Option(
            "--smtp-host", help="SMTP server host.", rich_help_panel=SMTP, show_default=False
        ),
    ] = None,
    smtp_port: Annotated[
        int | None,
        typer.Option(
            "--smtp-port",
            help="Port (default 587 for starttls, 465 for ssl, 25 for none).",
            min=1,
            max=65535,
            rich_help_panel=SMTP,
            show_default=False,
        ),
    ] = None,
    smtp_user: Annotated[
        str | None,
        typer.Option(
            "--smtp-user",
            help="Login name; the password comes from $MAILLOG_SMTP_PASSWORD or the keyring.",
            rich_help_panel=SMTP,
            show_default=False,
        ),
    ] = None,
    smtp_from: Annotated[
        str | None,
        typer.Option(
            "--smtp-from",
            help="Resent-From and envelope sender (default: the original sender).",
            rich_help_panel=SMTP,
            show_default=False,
        ),
    ] = None,
    tls: Annotated[
        TlsMode | None,
        typer.Option(
            "--tls",
            help="starttls (default), ssl, or none; certificates are always verified.",
            case_sensitive=False,
            rich_help_panel=SMTP,
            show_default=False,
        ),
    ] = None,
    cafile: Annotated[
        Path | None,
        typer.Option(
            "--cafile",
            help="PEM file of CA certificates to trust (a private CA).",
            rich_help_panel=SMTP,
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    filters: Filters = None,  # type: ignore[assignment]  # filled by @filter_options
) -> None:
    """Send stored emails again over SMTP with fresh Resent-* headers, and record each as a new message.

    Examples: maillog resend '<abc@mail.example.com>' --dry-run;
    maillog resend --status deferred --since 24h --yes;
    maillog resend MSGID --to fixed-address@example.org
    """
    from maillog_cli.commands import survive_closed_peers
    from maillog_cli.context import open_store
    from maillog_cli.resend.plan import make_plans
    from maillog_cli.resend.settings import parse_rate, resolve_settings

    survive_closed_peers()
    if not idents and filters.is_empty():
        raise MaillogError(
            "nothing selected",
            "give MESSAGE_ID..., or filters such as --status deferred --since 24h",
        )
    per_second = parse_rate(rate)
    settings = resolve_settings(
        {
            "host": smtp_host,
            "port": smtp_port,
            "user": smtp_user,
            "from": smtp_from,
            "tls": tls.value if tls else None,
            "cafile": str(cafile) if cafile else None,
        }
    )
    store = open_store(ctx, db, readonly=dry_run, create=not dry_run)
    selection = _select(store, idents or [], filters)
    plans = make_plans(store, selection.ids, to_address or (), settings.sender, force)
    if selection.without_content:
        _note(
            f"{selection.without_content} matching message(s) left out: no stored content (import the original .eml/mbox)"
        )
    if dry_run:
        _dry_run(plans, settings)
        return
    _send(store, plans, settings, per_second, ask=not yes)


def _select(store: Store, idents: list[str], filters: Filters) -> Selection:
    """The messages to resend; an error when there are none (and why)."""
    from maillog_cli.resend.plan import select

    selection = select(store, idents, filters)
    if selection.ids:
        return selection
    if selection.without_content:
        raise MaillogError(
            f"no stored content for the {selection.without_content} matching message(s)",
            "import the originals (.eml, mbox) first",
        )
    raise MaillogError(
        "no message matches the filters", "check them with: maillog search --messages …"
    )


def _dry_run(plans: list[Plan], settings: SmtpSettings) -> None:
    from maillog_cli.render.resend import show_plans

    show_plans(plans, settings, detailed=True)
    ready = sum(p.ready for p in plans)
    _note(f"dry run: nothing sent ({ready} would be sent, {len(plans) - ready} not)")


def _send(
    store: Store, plans: list[Plan], settings: SmtpSettings, per_second: float, ask: bool
) -> None:
    """Check the server settings, ask (unless --yes), send the batch, sum it up."""
    from maillog_cli.context import confirm_or_refuse
    from maillog_cli.render.resend import show_outcome, show_plans
    from maillog_cli.resend.send import send_batch
    from maillog_cli.resend.settings import ready_to_send

    ready = _ready_plans(plans, settings)
    settings = ready_to_send(settings)
    if ask:
        confirm_or_refuse(
            f"Send {len(ready)} message(s) through {settings.server}?",
            no_terminal=MaillogError(
                "not sending without confirmation: stdin is not a terminal",
                "add --yes (check first with --dry-run)",
            ),
            declined=MaillogError(
                "nothing sent", "answer y to send, or use --dry-run to look first"
            ),
            show=lambda: show_plans(plans, settings, detailed=False),
        )
    _finish(send_batch(store, plans, settings, per_second, report=show_outcome))


def _ready_plans(plans: list[Plan], settings: SmtpSettings) -> list[Plan]:
    """The plans that can be sent; an error naming why when none can."""
    ready = [p for p in plans if p.ready]
    if ready:
        return ready
    if len(plans) == 1:
        p = plans[0]
        if p.refusal:
            raise MaillogError(f"refused {p.original_id}: {p.refusal}", "--force sends anyway")
        raise MaillogError(f"cannot resend {p.original_id}: {p.problem}")
    from maillog_cli.render.resend import show_plans

    show_plans(plans, settings, detailed=False)
    raise MaillogError(
        "nothing sent: every selected message was refused or cannot be sent",
        "--force sends to refused recipients",
    )


def _note(text: str) -> None:
    from maillog_cli.render.output import visible

    sys.stderr.write(visible(text) + "\n")
    sys.stderr.flush()


def _finish(result: BatchResult) -> None:
    from collections import Counter

    counts = Counter(o.status for o in result.outcomes)
    order = ("sent", "partly sent", "failed", "refused", "skipped", "not attempted")
    _note("resend: " + ", ".join(f"{counts[s]} {s}" for s in order if counts[s]))
    if result.stopped is not None:
        raise MaillogError(result.stopped.message, result.stopped.hint)
    if not result.all_sent:
        bad = sum(n for s, n in counts.items() if s != "sent")
        raise MaillogError(
            f"{bad} of {len(result.outcomes)} message(s) not sent",
            "see the list above; maillog show ID tells more",
        )

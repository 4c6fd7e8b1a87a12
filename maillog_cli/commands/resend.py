"""`maillog resend`: send stored emails again over SMTP, after a look and a yes."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption, filter_options
from maillog_cli.store.query import Filters

if TYPE_CHECKING:
    from maillog_cli.resend.send import BatchResult, Outcome, Plan, SmtpSettings


class TlsMode(StrEnum):
    starttls = "starttls"
    ssl = "ssl"
    none = "none"


def register(app: typer.Typer) -> None:
    app.command("resend")(resend)


def selection_filters(func: Any) -> Any:
    """@filter_options, with the recipient filter spelled --recipient: here --to is the new address."""

    wrapped = filter_options(func)
    sig = wrapped.__signature__
    option = typer.Option(
        "--recipient",
        help="Select by recipient: full address, local part, or a glob (*@example.com).",
        rich_help_panel="Filters",
    )
    annotation = Annotated[str | None, option]
    params = [
        p.replace(annotation=annotation) if p.name == "to" else p for p in sig.parameters.values()
    ]
    wrapped.__signature__ = sig.replace(parameters=params)
    wrapped.__annotations__["to"] = annotation
    return wrapped


SMTP = "SMTP (else $MAILLOG_SMTP_*, else the config file)"


@selection_filters
def resend(
    ctx: typer.Context,
    idents: Annotated[
        list[str] | None,
        typer.Argument(
            help="Messages to resend (any of their ids, <> optional); or select with filters.",
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
    from maillog_cli.context import open_store
    from maillog_cli.resend import send as core

    if not idents and filters.is_empty():
        raise MaillogError(
            "nothing selected",
            "give MESSAGE_ID..., or filters such as --status deferred --since 24h",
        )
    per_second = core.parse_rate(rate)
    settings = core.resolve_settings(
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
    selection = core.select(store, idents or [], filters)
    if not selection.ids:
        if selection.without_content:
            raise MaillogError(
                f"no stored content for the {selection.without_content} matching message(s)",
                "import the originals (.eml, mbox) first",
            )
        raise MaillogError(
            "no message matches the filters", "check them with: maillog search --messages …"
        )
    plans = core.make_plans(store, selection.ids, to_address or (), settings.sender, force)
    if selection.without_content:
        _note(
            f"{selection.without_content} matching message(s) left out: no stored content (import the original .eml/mbox)"
        )
    if dry_run:
        _show_plans(plans, settings, detailed=True)
        ready = sum(p.ready for p in plans)
        _note(f"dry run: nothing sent ({ready} would be sent, {len(plans) - ready} not)")
        return
    ready = [p for p in plans if p.ready]
    if not ready:
        if len(plans) == 1:
            p = plans[0]
            if p.refusal:
                raise MaillogError(f"refused {p.original_id}: {p.refusal}", "--force sends anyway")
            raise MaillogError(f"cannot resend {p.original_id}: {p.problem}")
        _show_plans(plans, settings, detailed=False)
        raise MaillogError(
            "nothing sent: every selected message was refused or cannot be sent",
            "--force sends to refused recipients",
        )
    settings = core.ready_to_send(settings)
    if not yes:
        if not _stdin_is_terminal():
            raise MaillogError(
                "not sending without confirmation: stdin is not a terminal",
                "add --yes (check first with --dry-run)",
            )
        _show_plans(plans, settings, detailed=False)
        if not typer.confirm(
            f"Send {len(ready)} message(s) through {settings.server}?", default=False
        ):
            raise MaillogError("nothing sent", "answer y to send, or use --dry-run to look first")
    result = core.send_batch(store, plans, settings, per_second, report=_show_outcome)
    _finish(result)


def _stdin_is_terminal() -> bool:
    from maillog_cli.render.output import is_terminal

    return is_terminal(sys.stdin)  # type: ignore[arg-type]


# --- rendering ------------------------------------------------------------------------------


def _note(text: str) -> None:
    from maillog_cli.render.output import visible

    sys.stderr.write(visible(text) + "\n")
    sys.stderr.flush()


def _show_plans(plans: list[Plan], settings: SmtpSettings, detailed: bool) -> None:
    """What would be sent: per message the envelope, and (detailed) the server and headers."""
    from rich.text import Text

    from maillog_cli.render.output import console, visible
    from maillog_cli.resend.send import build_message, original_headers

    out = console()
    for plan in plans:
        t = Text()
        t.append(visible(plan.original_id), style="bold")
        t.append("\n")

        def line(label: str, value: str, style: str = "", t: Text = t) -> None:
            t.append(f"  {label:<10}", style="dim")
            t.append(visible(value), style=style)
            t.append("\n")

        if plan.problem:
            line("skipped", plan.problem, "red")
        elif plan.refusal:
            line("refused", f"{plan.refusal} (--force sends anyway)", "red")
        if plan.forced:
            line("forced", f"sending despite: {plan.forced}", "yellow")
        rcpts = " ".join(f"RCPT TO:<{r}>" for r in plan.recipients) or "no recipient"
        line("envelope", f"MAIL FROM:<{plan.envelope_from or ''}> {rcpts}")
        if detailed:
            line("server", settings.describe())
            resent = build_message(plan).resent_headers
            shown, others, body = original_headers(plan.raw)
            for i, (name, value) in enumerate(resent):
                line("headers" if i == 0 else "", f"{name}: {value}")
            for name, value in shown:
                line("", f"{name}: {value}", "dim")
            line("", f"(+ {others} more header field(s) and a {body}-byte body, unchanged)", "dim")
        t.rstrip()
        out.print(t, soft_wrap=True)


def _show_outcome(o: Outcome) -> None:
    """One line per message as it completes: a coloured line on a terminal, TSV in a pipe."""
    from rich.text import Text

    from maillog_cli.render.output import console, is_terminal, visible, write_tsv

    if not is_terminal():
        write_tsv([[o.status, o.original_id, o.resent_as or "", ", ".join(o.recipients), o.detail]])
        return
    style = {"sent": "green", "partly sent": "yellow"}.get(o.status, "red")
    t = Text()
    t.append(f"{o.status:<14}", style=style)
    t.append(visible(o.original_id))
    if o.resent_as:
        t.append(f" → {visible(o.resent_as)}", style="dim")
    t.append(f"  to {visible(', '.join(o.recipients))}")
    if o.detail:
        t.append(f"  {visible(o.detail)}", style="dim")
    console().print(t, soft_wrap=True)


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

"""What `maillog resend` shows: each plan (envelope, and with --dry-run the server and
headers) before sending, and one line per message as it completes."""

from __future__ import annotations

from rich.text import Text

from maillog_cli.render.output import console, is_terminal, visible, write_tsv
from maillog_cli.resend.plan import Plan, build_message, original_headers
from maillog_cli.resend.send import Outcome
from maillog_cli.resend.settings import SmtpSettings

OUTCOME_STYLES = {"sent": "green", "partly sent": "yellow"}  # anything else is red


def show_plans(plans: list[Plan], settings: SmtpSettings, detailed: bool) -> None:
    """What would be sent: per message the envelope, and (detailed) the server and headers."""
    out = console()
    for plan in plans:
        out.print(plan_text(plan, settings, detailed), soft_wrap=True)


def plan_text(plan: Plan, settings: SmtpSettings, detailed: bool) -> Text:
    t = Text()
    t.append(visible(plan.original_id), style="bold")
    t.append("\n")

    def line(label: str, value: str, style: str = "") -> None:
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
    return t


def show_outcome(o: Outcome) -> None:
    """One line per message as it completes: a coloured line on a terminal, TSV in a pipe."""
    if not is_terminal():
        write_tsv([[o.status, o.original_id, o.resent_as or "", ", ".join(o.recipients), o.detail]])
        return
    t = Text()
    t.append(f"{o.status:<14}", style=OUTCOME_STYLES.get(o.status, "red"))
    t.append(visible(o.original_id))
    if o.resent_as:
        t.append(f" → {visible(o.resent_as)}", style="dim")
    t.append(f"  to {visible(', '.join(o.recipients))}")
    if o.detail:
        t.append(f"  {visible(o.detail)}", style="dim")
    console().print(t, soft_wrap=True)

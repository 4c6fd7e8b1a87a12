"""Resend confirmation: what would be sent, to whom, through which server — then a yes.

All decisions are the resend command's (maillog_cli/commands/resend.py and maillog_cli/resend/): the selection (stored
content needed), the refusal of hard-bounced, complained or suppressed recipients (no
force from here: use `maillog resend --force` knowingly), the SMTP settings and their
checks, the send and its record. This screen only shows the plan and asks.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from maillog_cli.errors import MaillogError
from maillog_cli.render.output import visible
from maillog_cli.tui.data import Source


def _line(t: Text, label: str, value: str, style: str = "") -> None:
    t.append(f"{label:<10}", style="dim")
    t.append(visible(value), style=style)
    t.append("\n")


def plan_text(plan: Any, settings: Any) -> Text:
    """The envelope, server and headers of a resend plan, as the command's --dry-run shows them."""
    from maillog_cli.resend.plan import build_message, original_headers

    t = Text()
    t.append("Resend ", style="bold")
    t.append(visible(plan.original_id), style="cyan")
    t.append("\n\n")
    if plan.problem:
        _line(t, "cannot", plan.problem, "bold red")
    elif plan.refusal:
        _line(t, "refused", plan.refusal, "bold red")
        _line(t, "", "not sent from here; `maillog resend --force ID` overrides, knowingly", "dim")
    rcpts = " ".join(f"RCPT TO:<{r}>" for r in plan.recipients) or "no recipient"
    _line(t, "envelope", f"MAIL FROM:<{plan.envelope_from or ''}> {rcpts}")
    _line(t, "server", settings.describe())
    for i, (name, value) in enumerate(build_message(plan).resent_headers):
        _line(t, "headers" if i == 0 else "", f"{name}: {value}")
    shown, others, body = original_headers(plan.raw)
    for name, value in shown:
        _line(t, "", f"{name}: {value}", "dim")
    _line(t, "", f"(+ {others} more header field(s) and a {body}-byte body, unchanged)", "dim")
    return t


class ResendScreen(ModalScreen[bool]):
    """Shows the plan; `s`/Send sends only when the plan is ready and the server is set."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("s", "send", "Send"),
    ]

    def __init__(self, source: Source, message_id: str) -> None:
        super().__init__()
        self.source = source
        self.message_id = message_id
        self.plan: Any = None
        self.settings: Any = None
        self.sent = False

    def compose(self) -> ComposeResult:
        with Vertical(id="resend-box"):
            with VerticalScroll(id="resend-scroll"):
                yield Static(Text("Preparing…", style="dim"), id="resend-body")
            yield Static("", id="resend-status")
            with Horizontal(id="resend-buttons"):
                yield Button("Send (s)", id="resend-send", variant="error", disabled=True)
                yield Button("Cancel (esc)", id="resend-cancel")

    def on_mount(self) -> None:
        body = self.query_one("#resend-body", Static)
        from maillog_cli.resend.plan import make_plans, select
        from maillog_cli.resend.settings import resolve_settings

        try:
            settings = resolve_settings({})
            selection = select(self.source.store, [self.message_id], None)
            plans = make_plans(self.source.store, selection.ids, (), settings.sender, False)
        except MaillogError as exc:
            body.update(Text(f"Cannot resend: {exc}", style="bold red"))
            return
        self.plan, self.settings = plans[0], settings
        body.update(plan_text(self.plan, settings))
        ready = self.plan.ready and settings.host is not None
        self.query_one("#resend-send", Button).disabled = not ready
        status = self.query_one("#resend-status", Static)
        if self.plan.ready and settings.host is None:
            status.update(
                Text(
                    "No SMTP server configured: set $MAILLOG_SMTP_HOST or [smtp] host in the config file.",
                    style="yellow",
                )
            )
        elif ready:
            status.update(
                Text("Press s to send this message again, escape to cancel.", style="bold")
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "resend-send":
            self.action_send()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(self.sent)

    def action_send(self) -> None:
        button = self.query_one("#resend-send", Button)
        if button.disabled or self.plan is None:
            return
        button.disabled = True
        status = self.query_one("#resend-status", Static)
        status.update(Text("Sending…", style="bold"))
        plan, settings, path = self.plan, self.settings, self.source.path

        def send() -> None:
            from maillog_cli.resend.send import send_batch
            from maillog_cli.resend.settings import ready_to_send
            from maillog_cli.store.db import Store

            try:
                ready = ready_to_send(settings)
                store = Store.open(path)
                try:
                    result = send_batch(store, [plan], ready, per_second=5.0)
                finally:
                    store.close()
            except MaillogError as exc:
                self.app.call_from_thread(self._done, f"not sent: {exc}", "bold red", False)
                return
            o = result.outcomes[0]
            text = f"{o.status}: {o.detail}" if o.detail else o.status
            if o.resent_as:
                text += f" (new message {o.resent_as})"
            self.app.call_from_thread(
                self._done,
                text,
                "bold green" if o.status == "sent" else "bold red",
                o.status == "sent",
            )

        self.run_worker(send, thread=True, group="resend", name="resend")

    def _done(self, text: str, style: str, sent: bool) -> None:
        self.sent = sent
        self.query_one("#resend-status", Static).update(Text(visible(text), style=style))
        self.notify(
            visible(text), title="Resend", severity="information" if sent else "error", markup=False
        )

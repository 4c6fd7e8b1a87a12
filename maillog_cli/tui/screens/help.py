"""`?`: every key of the app, where it works, and the filter words."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from maillog_cli.statuses import STATUSES
from maillog_cli.store.query import BOUNCE_CLASSES

# (key, where, what) — the one list the help screen shows; a test checks it covers the bindings.
KEYS: tuple[tuple[str, str, str], ...] = (
    (
        "/",
        "Emails",
        "filter with the CLI's filter words (tab completes, enter applies, escape closes)",
    ),
    ("enter", "Emails", "open the highlighted message: timeline, why it bounced, what to do"),
    ("enter", "Bounces", "show the emails of the highlighted reason"),
    ("f", "Emails", "follow: new events appear at the top as other processes import"),
    ("up/down, pgup/pgdn, home/end", "lists", "move; more rows load as you scroll"),
    ("tab / shift+tab", "anywhere", "next / previous tab"),
    ("1 2 3 4", "anywhere", "Emails, Bounces, Audit, Stats"),
    ("escape", "message", "back to the list"),
    ("y", "message", "copy the message id"),
    ("r", "message", "resend (shows what would be sent; refuses suppressed recipients)"),
    ("s", "resend", "send after looking at the plan"),
    ("?", "anywhere", "this help"),
    ("q", "anywhere", "quit"),
)


def help_renderable() -> Table:
    t = Table(box=None, pad_edge=False, show_header=True, header_style="bold", expand=False)
    t.add_column("key", style="bold cyan", no_wrap=True)
    t.add_column("where", style="dim", no_wrap=True)
    t.add_column("what")
    for key, where, what in KEYS:
        t.add_row(Text(key), Text(where), Text(what))
    return t


def words_renderable() -> Text:
    t = Text()
    t.append("\nFilter words ", style="bold")
    t.append("(the same as the CLI's filters; combine them):\n")
    for word, what in (
        ("status:bounced", f"any of {', '.join(STATUSES)}; several: status:bounced,deferred"),
        ("domain:gmail.com", "recipient domain"),
        ("to:bob@example.com", "recipient: address, local part, or a glob *@example.com"),
        ("from:…  subject:…  provider:…  id:…", "sender, subject text, provider, any message id"),
        ("class:hard", f"bounce class: {', '.join(BOUNCE_CLASSES)}"),
        ("reason:mailbox_full", "bounce reason (see the Bounces tab)"),
        ("since:yesterday until:today", "2h, 7d, yesterday, last monday, 2026-01-31 …"),
        ('"free text"', "words in subject, addresses, diagnostics"),
    ):
        t.append(f"  {word:<38}", style="cyan")
        t.append(f"{what}\n")
    t.append("\nTimes are UTC. Press escape or ? to close.", style="dim")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("maillog — keys", style="bold"), id="help-title")
            yield Static(help_renderable(), id="help-keys")
            yield Static(words_renderable(), id="help-words")

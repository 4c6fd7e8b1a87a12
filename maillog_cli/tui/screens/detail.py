"""One message: what `maillog show` shows (messages.load_message), in a scrollable screen.

Headers, the event timeline with SMTP replies and diagnostics, the bounce class and reason
with what it means and what to do, SPF/DKIM/DMARC, and the metadata the sources carried,
pretty-printed. `y` copies the message id, `r` opens the resend confirmation.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from maillog_cli.render.message import message_view
from maillog_cli.render.output import visible
from maillog_cli.tui.cells import label_value
from maillog_cli.tui.data import Source, pretty_json


def detail_renderable(source: Source, message_id: str) -> tuple[Any, bool]:
    """The message as Rich renderables; False when it is not (or no longer) in the store."""
    detail = source.message(message_id)
    if detail is None:
        return Text(
            f"No message {visible(message_id)} in the store (pruned?).", style="bold red"
        ), False
    parts: list[Any] = [message_view(detail)]
    m = detail.message
    if not any(m.get(k) for k in ("spf", "dkim", "dmarc")):
        parts.append(Text(""))
        parts.append(label_value("Auth", "SPF/DKIM/DMARC not reported by this source", "dim"))
    if m.get("headers"):
        parts.append(Text("\nHeaders", style="bold underline"))
        try:
            import orjson

            parts.append(Text(pretty_json(orjson.loads(m["headers"]))))
        except ValueError:
            parts.append(Text(visible(m["headers"])))
    extras = source.event_extras(detail.message_id)
    if extras:
        parts.append(Text("\nMetadata", style="bold underline"))
        for when, value in extras:
            parts.append(Text(when, style="dim"))
            parts.append(Text(pretty_json(value)))
    return Group(*parts), True


class MessageScreen(Screen):
    """The detail of one message; escape goes back to the list."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("y", "copy_id", "Copy id"),
        Binding("r", "resend", "Resend"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, source: Source, message_id: str) -> None:
        super().__init__()
        self.source = source
        self.message_id = message_id
        self.found = False

    def compose(self) -> ComposeResult:
        title = Text()
        title.append("Message ", style="bold")
        title.append(visible(self.message_id), style="cyan")
        title.append("   escape back  y copy id  r resend", style="dim")
        yield Static(title, id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static("", id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        body, self.found = detail_renderable(self.source, self.message_id)
        self.query_one("#detail-body", Static).update(body)
        self.query_one("#detail-scroll").focus()

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.message_id)
        self.notify(f"Copied {visible(self.message_id)}", title="Message id", markup=False)

    def action_resend(self) -> None:
        from maillog_cli.tui.screens.resend import ResendScreen

        self.app.push_screen(ResendScreen(self.source, self.message_id))

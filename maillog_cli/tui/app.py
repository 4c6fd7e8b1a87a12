"""`maillog tui`: tabs for Emails, Bounces, Audit and Stats over one store.

The app wires widgets together and owns the keys; each tab's widget reads through
`data.Source` (the CLI's own query and summary functions) in worker threads, so the
screen never waits on SQLite. Untrusted text reaches the screen only as Rich `Text`
made `visible()` — never as markup.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import WorkerFailed, active_worker

from maillog_cli.store.query import Filters, with_changes
from maillog_cli.tui.data import Source
from maillog_cli.tui.screens.detail import MessageScreen
from maillog_cli.tui.screens.help import HelpScreen
from maillog_cli.tui.widgets.audit import AuditView
from maillog_cli.tui.widgets.bounces import BouncesView
from maillog_cli.tui.widgets.emails import EmailsView
from maillog_cli.tui.widgets.filter_bar import FilterInput
from maillog_cli.tui.widgets.stats import StatsView

TABS = ("emails", "bounces", "audit", "stats")


class MaillogApp(App[None]):
    """The browser. `source` is an open read-only view of the store."""

    CSS_PATH = "app.tcss"
    TITLE = "maillog"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("f", "follow", "Follow"),
        Binding("tab", "next_tab", "Tabs", priority=True),
        Binding("shift+tab", "previous_tab", "Previous tab", show=False, priority=True),
        Binding("1", "tab('emails')", "Emails", show=False),
        Binding("2", "tab('bounces')", "Bounces", show=False),
        Binding("3", "tab('audit')", "Audit", show=False),
        Binding("4", "tab('stats')", "Stats", show=False),
    ]

    def __init__(
        self,
        source: Source,
        filters: Filters | None = None,
        words: str = "",
        follow_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.source = source
        self.initial_filters = filters or Filters()
        self.initial_words = words
        self.follow_interval = follow_interval
        self.sub_title = source.path.name

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with TabbedContent(id="tabs", initial="emails"):
            with TabPane("1 Emails", id="emails"):
                yield EmailsView(
                    self.source,
                    self.initial_filters,
                    self.initial_words,
                    self.follow_interval,
                    id="emails-view",
                )
            with TabPane("2 Bounces", id="bounces"):
                yield BouncesView(self.source, id="bounces-view")
            with TabPane("3 Audit", id="audit"):
                yield AuditView(self.source, id="audit-view")
            with TabPane("4 Stats", id="stats"):
                yield StatsView(self.source, id="stats-view")
        yield Footer()

    def on_mount(self) -> None:
        self._restyle_screen()
        self.emails.table.focus()

    def _restyle_screen(self) -> None:
        """Re-apply CSS to the first screen now that the app's own rules are in place.

        Textual applies the app's CSS (where the text colour lives: `App { color:
        $foreground }`) only after composing, while the first screen can already have
        resumed, styled and painted its widgets; each widget caches its text style until its
        own rules change, so on a busy machine the Emails header drew in a transparent
        colour (invisible) for good. Re-applying clears those caches; the repaint redraws.
        """
        self.screen.update_node_styles(animate=False)
        for widget in self.screen.walk_children(with_self=True):
            widget.refresh()

    @property
    def emails(self) -> EmailsView:
        return self.query_one(EmailsView)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """List keys act on the main screen only (hidden from the footer elsewhere)."""
        if action in ("filter", "follow", "tab") and self.screen is not self.screen_stack[0]:
            return False
        return True

    # --- actions -------------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        self.tabs.active = "emails"
        self.emails.open_filter()

    def action_follow(self) -> None:
        self.tabs.active = "emails"
        on_ = self.emails.toggle_follow()
        self.notify("Following new events" if on_ else "Stopped following", timeout=2)

    def action_tab(self, name: str) -> None:
        self.tabs.active = name

    def _step_tab(self, step: int) -> None:
        focused = self.focused
        if isinstance(focused, FilterInput):
            if step > 0:
                focused.action_accept_suggestion()
            return
        if self.screen is not self.screen_stack[0]:
            if step > 0:
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
            return
        i = TABS.index(self.tabs.active) if self.tabs.active in TABS else 0
        self.tabs.active = TABS[(i + step) % len(TABS)]

    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_previous_tab(self) -> None:
        self._step_tab(-1)

    # --- wiring --------------------------------------------------------------------------
    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        name = event.pane.id
        filters = self.emails.filters
        if name == "emails":
            self.emails.table.focus()
        elif name == "bounces":
            view = self.query_one(BouncesView)
            view.show(filters)
            view.query_one("#bounces-table").focus()
        elif name == "audit":
            view_a = self.query_one(AuditView)
            view_a.show()
            view_a.query_one("#audit-table").focus()
        elif name == "stats":
            view_s = self.query_one(StatsView)
            view_s.show(filters)
            view_s.focus()  # else focus stays in the hidden tab, which then takes it back

    @on(EmailsView.OpenMessage)
    def _open_message(self, event: EmailsView.OpenMessage) -> None:
        self.push_screen(MessageScreen(self.source, event.message_id))

    @on(BouncesView.ShowReason)
    def _show_reason(self, event: BouncesView.ShowReason) -> None:
        changes: dict[str, Any] = {"reason": [event.reason] if event.reason else []}
        if event.bounce_class:
            changes["bounce_class"] = [event.bounce_class]
        filters = with_changes(self.emails.filters, **changes)
        self.tabs.active = "emails"
        self.emails.apply_filter(filters, filters.describe())

    # --- errors --------------------------------------------------------------------------
    def _handle_exception(self, error: Exception) -> None:
        """A worker that fails (a query SQLite refuses, a store that went away) must not
        end the app: its error is shown where its result would have gone (the widget's
        `show_error`, else a notification). Any other exception is a bug and exits."""
        if isinstance(error, WorkerFailed):
            worker = active_worker.get(None)
            self.show_worker_error(worker.node if worker is not None else None, error.error)
            return
        super()._handle_exception(error)

    def show_worker_error(self, node: object, error: BaseException) -> None:
        """One line naming what went wrong, never a traceback; untrusted text made visible."""
        from maillog_cli.render.output import visible

        text = visible(f"error: {error}" if str(error) else f"error: {type(error).__name__}")
        show = getattr(node, "show_error", None)
        if callable(show):
            show(text)
        else:
            self.notify(text, severity="error", timeout=8, markup=False)

    def on_unmount(self) -> None:
        self.source.interrupt_count()

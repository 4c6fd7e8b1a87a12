"""The `/` filter input: the CLI's filter words, completed as you type, checked on enter.

Parsing is `query.parse_words` (the one parser the CLI shares); a bad word shows its
MaillogError message under the input, which stays open so it can be fixed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Static

from maillog_cli.errors import MaillogError
from maillog_cli.statuses import ALIASES, STATUSES
from maillog_cli.store.query import BOUNCE_CLASSES, FILTER_WORDS, Filters, parse_words

FIELDS = tuple(w for w in FILTER_WORDS if w not in ("message-id", "bounce-class"))
WHEN = ("today", "yesterday", "1h", "24h", "7d", "30d", "last monday", "last week", "last month")


def _reasons() -> tuple[str, ...]:
    from maillog_cli.bounce.classify import REASONS

    return tuple(REASONS)


def values_for(field: str) -> tuple[str, ...]:
    """The words a field takes, for completion (free-form fields have none)."""
    field = FILTER_WORDS.get(field.lower(), "")
    if field == "statuses":
        return STATUSES + tuple(ALIASES)
    if field == "bounce_class":
        return BOUNCE_CLASSES
    if field == "reason":
        return _reasons()
    if field in ("since", "until"):
        return WHEN
    return ()


def complete(value: str) -> str | None:
    """The completed input for `value`, or None: field names, then their known values."""
    if not value or value.endswith(" "):
        return None
    head, _, word = value.rpartition(" ")
    prefix = f"{head} " if head else ""
    key, sep, rest = word.partition(":")
    if not sep:
        if word.startswith('"'):
            return None
        for f in FIELDS:
            if f.startswith(word.lower()) and f != word.lower():
                return f"{prefix}{f}:"
        return None
    done, _, part = rest.rpartition(",")
    done = f"{done}," if done else ""
    for v in values_for(key):
        if v.startswith(part.lower()) and v != part.lower():
            return f"{prefix}{key}:{done}{v}"
    return None


class FilterSuggester(Suggester):
    """Completes field names (`sta` → `status:`) and their values (`status:bou` → `status:bounced`)."""

    def __init__(self) -> None:
        super().__init__(use_cache=True, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value)


class FilterInput(Input):
    """An Input where tab accepts the suggestion (as right-arrow does)."""

    BINDINGS = [Binding("tab", "accept_suggestion", "Complete", show=False)]

    def action_accept_suggestion(self) -> None:
        if self._suggestion and self._suggestion != self.value:
            self.value = self._suggestion
            self.cursor_position = len(self.value)


class FilterBar(Vertical):
    """Input + an error line; posts Applied with the parsed Filters, or Closed."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Applied(Message):
        def __init__(self, filters: Filters, words: str) -> None:
            super().__init__()
            self.filters = filters
            self.words = words

    class Closed(Message):
        pass

    def compose(self) -> ComposeResult:
        yield FilterInput(
            placeholder='status:bounced domain:gmail.com since:7d class:hard "free text"   (tab completes)',
            suggester=FilterSuggester(),
            id="filter-input",
        )
        yield Static("", id="filter-error")

    @property
    def input(self) -> FilterInput:
        return self.query_one(FilterInput)

    def open(self, words: str) -> None:
        self.display = True
        self.show_error("")
        self.input.value = words
        self.input.cursor_position = len(words)
        self.input.focus()

    def show_error(self, message: str) -> None:
        error = self.query_one("#filter-error", Static)
        error.update(Text(message, style="bold red") if message else "")
        error.display = bool(message)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_error("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            filters = parse_words(event.value)
        except MaillogError as exc:
            self.show_error(f"error: {exc}")
            return
        self.display = False
        self.post_message(self.Applied(filters, event.value.strip()))

    def action_close(self) -> None:
        self.display = False
        self.post_message(self.Closed())

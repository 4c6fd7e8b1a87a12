"""The Audit tab: `maillog audit`'s newest entries and action counts (auditlog.py).

The highlighted entry's metadata is shown below, pretty-printed and masked as
`audit show` prints it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from maillog_cli.render.format import short_time
from maillog_cli.render.output import visible
from maillog_cli.tui.cells import fit, label_value
from maillog_cli.tui.data import Source, pretty_json, short_id_width

LIMIT = 300


class AuditView(Vertical):
    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.entries: list[dict[str, Any]] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Audit: loading…", style="dim"), id="audit-header")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        with VerticalScroll(id="audit-detail-scroll"):
            yield Static("", id="audit-detail")

    def show(self) -> None:
        if self.loaded:
            return
        self.loaded = True

        def work() -> None:
            result: Any = self.source.audit_entries(LIMIT)
            self.app.call_from_thread(self._show, result)

        self.run_worker(work, thread=True, group="audit", exclusive=True, name="audit")

    def _show(self, result: Any) -> None:
        header = self.query_one("#audit-header", Static)
        entries, actions, total = result
        self.entries = entries
        t = Text()
        t.append("Audit ", style="bold")
        t.append(
            f"{total:,} entries"
            + (f", newest {len(entries)} shown" if total > len(entries) else "")
        )
        if actions:
            t.append("\nactions: ", style="dim")
            t.append(", ".join(f"{visible(a['action'])} {a['count']:,}" for a in actions[:6]))
        header.update(t)
        if not entries:
            self.query_one("#audit-detail", Static).update(
                Text(
                    "No audit entries: import an audit log (maillog import audit.jsonl).",
                    style="dim",
                )
            )
            return
        from maillog_cli.audit.queries import actor_label, metadata_summary, target_label

        width = self.app.size.width
        cols = [
            ("time", 17),
            ("id", short_id_width(entries) + 1),  # the unique prefix `audit show` takes
            ("actor", 18 if width < 100 else 28),
            ("action", 22),
            ("target", 14 if width < 100 else 26),
        ]
        if width >= 100:
            cols.append(("ip", 16))
        used = sum(w for _, w in cols) + 3
        cols.append(("metadata", max(10, width - used)))
        table = self.query_one("#audit-table", DataTable)
        table.clear(columns=True)
        for name, w in cols:
            table.add_column(Text(name, style="bold"), width=w, key=name)
        for i, e in enumerate(entries):
            values = {
                "time": short_time(e.get("created_at"), "minute"),
                "id": e.get("short_id") or e.get("id"),
                "actor": actor_label(e),
                "action": e.get("action"),
                "target": target_label(e),
                "ip": e.get("ip"),
                "metadata": metadata_summary(e.get("metadata")),
            }
            table.add_row(
                *(
                    fit(values[name], w, "dim" if name in ("time", "id") else "")
                    for name, w in cols
                ),
                key=str(i),
            )
        self._detail(0)

    def _detail(self, index: int) -> None:
        if not 0 <= index < len(self.entries):
            return
        e = self.entries[index]
        t = Text()
        for label, key in (
            ("Id", "id"),
            ("Time", "created_at"),
            ("Actor", "actor_email"),
            ("Actor id", "actor_id"),
            ("Action", "action"),
            ("Target", "target_id"),
            ("IP", "ip"),
            ("User agent", "user_agent"),
        ):
            if e.get(key):
                t.append_text(label_value(label, e[key]))
                t.append("\n")
        t.append("Metadata\n", style="bold")
        t.append(pretty_json(e.get("metadata") or {}))
        self.query_one("#audit-detail", Static).update(t)

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

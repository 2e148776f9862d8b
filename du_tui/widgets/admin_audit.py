"""The audit tail of the admin console: the newest records of the trail, and the result of verifying it.

The screen polls the core (admin.audit_list) and hands the newest records to `show`; records not
seen before go in at the top, so the admin watches the trail grow without pressing a key. `v`
posts `VerifyRequested`; the screen asks the core (admin.audit_verify) and sets `verification`.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

KEEP = 200  # rows kept on screen: a tail, not an archive (du admin audit list pages through the rest)


class AdminAudit(Vertical):
    """Audit records newest first, keyed by record id."""

    BINDINGS = [Binding("v", "verify", "Verify trail")]

    class VerifyRequested(Message):
        """Recompute the trail's hash chains."""

    verification: reactive[Any] = reactive(None, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.records: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static("v verifies the trail's hash chains", id="audit-verify")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        for label in ("time (UTC)", "action", "outcome", "actor", "target", "from"):
            table.add_column(label, key=label)

    def show(self, newest: list[Any]) -> None:
        """Merge these records (newest first) into the tail; redraw only when some are new."""
        known = {r.id for r in self.records}
        fresh = [r for r in newest if r.id not in known]
        if not fresh and self.records:
            return
        self.records = sorted([*fresh, *self.records], key=lambda r: (r.occurred_at, r.chain, r.seq),
                              reverse=True)[:KEEP]
        table = self.query_one("#audit-table", DataTable)
        # the admin reading an older record keeps it under the cursor as new ones push it down
        keep = None
        if table.row_count and table.cursor_row > 0:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        for r in self.records:
            table.add_row(f"{r.occurred_at.astimezone(timezone.utc):%m-%d %H:%M:%S}", r.action, _outcome(r.outcome),
                          _actor(r), _target(r), r.client or "", key=str(r.id))
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    @property
    def actions(self) -> list[str]:
        """The actions of the rows shown, top first."""
        return [r.action for r in self.records]

    def focus_table(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def watch_verification(self, result: Any) -> None:
        if result is None or not self.is_mounted:
            return
        box = self.query_one("#audit-verify", Static)
        box.update(verdict(result))
        box.set_class(not result.ok, "error")

    def action_verify(self) -> None:
        self.query_one("#audit-verify", Static).update("verifying…")
        self.post_message(self.VerifyRequested())


def verdict(result: Any) -> Text:
    """"ok" with the counts, or every broken chain with its first bad record."""
    if result.ok:
        return Text(f"ok: {result.records} records in {result.chains} chains verify", style="bold green")
    text = Text(f"BROKEN: {len(result.breaches)} of {result.chains} chains fail to verify", style="bold red")
    for b in result.breaches:
        where = f"record {b.record_id}" if b.record_id else "the end of the chain"
        text.append(f"\n  chain {b.chain} seq {b.seq}, {where}: {b.reason}")
    return text


def _outcome(outcome: str) -> Text:
    return Text(outcome, style={"success": "green", "denied": "bold red"}.get(outcome, "yellow"))


def _actor(r: Any) -> str:
    if r.actor_id is None:
        return "-"
    return f"{r.actor_role or '?'} {str(r.actor_id)[:8]}"


def _target(r: Any) -> str:
    if r.target_id is None:
        return r.target_type or ""
    return f"{r.target_type or ''} {r.target_id[:12]}".strip()

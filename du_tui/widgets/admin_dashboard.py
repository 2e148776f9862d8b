"""The platform dashboard of the admin console: accounts, the day's trading, instruments and the switches.

It shows the core's `DashboardView` as given (`view`, set by the screen) and turns the admin's keys
into requests posted up: halt or resume the highlighted instrument, turn maintenance on or off. It
decides nothing itself; the screen confirms, asks the core, and sets the new view.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static


class AdminDashboard(Vertical):
    """Figures of a `DashboardView`; `h` halts or resumes the highlighted instrument, `m` flips maintenance."""

    BINDINGS = [
        Binding("h", "toggle_instrument", "Halt/resume"),
        Binding("m", "toggle_maintenance", "Maintenance"),
        Binding("r", "refresh_request", "Refresh"),
    ]

    class StatusRequested(Message):
        """Set instrument `symbol` to `status` ("halted" or "trading")."""

        def __init__(self, symbol: str, status: str) -> None:
            super().__init__()
            self.symbol = symbol
            self.status = status

    class MaintenanceRequested(Message):
        """Turn maintenance mode on or off."""

        def __init__(self, on: bool) -> None:
            super().__init__()
            self.on = on

    class RefreshRequested(Message):
        """Read the figures again now."""

    view: reactive[Any] = reactive(None, always_update=True)

    def compose(self) -> ComposeResult:
        with Horizontal(id="dash-top"):
            yield Static("loading…", id="dash-summary")
            yield DataTable(id="dash-trading", cursor_type="none", zebra_stripes=True)
        yield DataTable(id="dash-instruments", cursor_type="row")

    def on_mount(self) -> None:
        trading = self.query_one("#dash-trading", DataTable)
        trading.border_title = "last 24 h"
        for label, key in (("quote", "quote"), ("trades", "trades"), ("volume", "volume"), ("fees", "fees")):
            trading.add_column(label, key=key)
        instruments = self.query_one("#dash-instruments", DataTable)
        instruments.border_title = "instruments"
        for label, key in (("symbol", "symbol"), ("status", "status"), ("last", "last"), ("orders", "orders")):
            instruments.add_column(label, key=key)

    def watch_view(self, view: Any) -> None:
        if view is None or not self.is_mounted:
            return
        self.query_one("#dash-summary", Static).update(summary(view))
        trading = self.query_one("#dash-trading", DataTable)
        trading.clear()
        for q in view.trading_24h:
            trading.add_row(q.quote, str(q.trades), f"{q.volume:f}", f"{q.fees:f}", key=q.quote)
        table = self.query_one("#dash-instruments", DataTable)
        for i in view.instruments:
            cells = (i.symbol, status_text(i.status), "-" if i.last_price is None else f"{i.last_price:f}",
                     str(i.open_orders))
            if i.symbol in table.rows:  # in place, so the highlighted instrument stays highlighted
                for key, value in zip(("status", "last", "orders"), cells[1:]):
                    table.update_cell(i.symbol, key, value)
            else:
                table.add_row(*cells, key=i.symbol)

    @property
    def selected(self) -> Any:
        """The `InstrumentState` of the highlighted row, None before the first view."""
        table = self.query_one("#dash-instruments", DataTable)
        if self.view is None or not table.row_count:
            return None
        symbol = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((i for i in self.view.instruments if i.symbol == symbol), None)

    def focus_table(self) -> None:
        self.query_one("#dash-instruments", DataTable).focus()

    def action_toggle_instrument(self) -> None:
        inst = self.selected
        if inst is None:
            self.notify("no instrument highlighted", severity="warning")
            return
        self.post_message(self.StatusRequested(inst.symbol, "trading" if inst.status == "halted" else "halted"))

    def action_toggle_maintenance(self) -> None:
        if self.view is not None:
            self.post_message(self.MaintenanceRequested(not self.view.maintenance_mode))

    def action_refresh_request(self) -> None:
        self.post_message(self.RefreshRequested())


def status_text(status: str) -> Text:
    return Text(status, style="bold red" if status == "halted" else "green")


def _switch(on: bool, *, alarm_when_on: bool) -> Text:
    bad = on if alarm_when_on else not on
    return Text("on" if on else "off", style="bold red" if bad else "green")


def _breakdown(counts: dict[str, int]) -> str:
    return " · ".join(f"{name} {count}" for name, count in counts.items()) or "-"


def summary(view: Any) -> Text:
    """The dashboard's headline lines: accounts, the switches and live orders."""
    text = Text()
    text.append("users ", style="bold").append(f"{view.users_total}")
    text.append(f"  ({view.users_new_24h} new in 24 h)\n")
    text.append("  status  ").append(_breakdown(view.users_by_status) + "\n")
    text.append("  roles   ").append(_breakdown(view.users_by_role) + "\n")
    text.append("trading ", style="bold").append(_switch(view.trading_enabled, alarm_when_on=False))
    text.append("   maintenance ", style="bold").append(_switch(view.maintenance_mode, alarm_when_on=True))
    text.append("\nopen orders ", style="bold").append(str(view.open_orders))
    return text

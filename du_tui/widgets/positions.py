"""The trader's positions per instrument: quantity, average cost, last price and P&L in the quote currency."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import var
from textual.widgets import DataTable

if TYPE_CHECKING:
    from du_core.trading.schemas import PositionView


class Positions(DataTable):
    """Rows of the core's `PositionView`s keyed by symbol; set `positions` to show new ones."""

    positions: var[list[PositionView]] = var(list, init=False)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.border_title = "Positions"
        self.add_columns("symbol", "quantity", "avg cost", "last", "value", "unrealised", "realised")

    def watch_positions(self, rows: list[PositionView]) -> None:
        columns = [c.key for c in self.ordered_columns]
        keep = {p.symbol for p in rows}
        for key in [k for k in self.rows if k.value not in keep]:
            self.remove_row(key)
        for p in rows:
            cells = (p.symbol, f"{p.quantity:f}", f"{p.average_cost:f}", _plain(p.last_price),
                     _plain(p.market_value), pnl(p.unrealised_pnl), pnl(p.realised_pnl))
            if p.symbol in self.rows:
                for column, value in zip(columns[1:], cells[1:]):
                    self.update_cell(p.symbol, column, value)
            else:
                self.add_row(*cells, key=p.symbol)
        # no last price means no trade yet: nothing to value the position at
        self.border_subtitle = "amounts in each instrument's quote currency" if rows else "no position yet"


def _plain(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:f}"


def pnl(value: Decimal | None) -> Text:
    """A profit green, a loss red, and a P&L the core could not work out as a dash."""
    if value is None:
        return Text("—", style="dim")
    return Text(f"{value:+f}", style="green" if value > 0 else "red" if value < 0 else "")

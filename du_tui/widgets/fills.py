"""The trader's recent fills: each trade of theirs with its price, quantity, fee and liquidity."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable


class Fills(DataTable):
    """Rows of `TradeView`s (newest first) keyed by trade id; the screen gives them (`show`)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("time", "side", "price", "quantity", "fee", "liq")

    def show(self, trades: list[Any]) -> None:
        """Replace the rows with these trades, keeping the cursor on the same trade when it is still there."""
        current = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value if self.row_count else None
        self.clear()
        for t in trades:
            self.add_row(t.at.astimezone().strftime("%H:%M:%S"),
                         Text(t.side, style="green" if t.side == "buy" else "red"), f"{t.price:f}",
                         f"{t.quantity:f}", f"{t.fee:f}", t.liquidity, key=str(t.id))
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    @property
    def trade_ids(self) -> list[int]:
        return [int(str(key.value)) for key in self.rows]

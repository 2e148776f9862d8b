"""The watchlist: every instrument with its last price, 24h change and volume; selecting one drives the rest."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable


class Watchlist(DataTable):
    """Rows of market data views; posts `Selected` when the trader picks an instrument."""

    class Selected(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("symbol", "last", "24h", "volume")

    def show(self, views: list[Any]) -> None:
        """Show these `MarketDataView`s: rows already here are updated in place (the cursor stays)."""
        columns = [c.key for c in self.ordered_columns]
        for v in views:
            cells = (v.symbol, _text(v.last), _change(v.change_24h_percent), _text(v.volume_24h))
            if v.symbol in self.rows:
                for column, value in zip(columns[1:], cells[1:]):
                    self.update_cell(v.symbol, column, value)
            else:
                self.add_row(*cells, key=v.symbol)

    def set_last(self, symbol: str, price: str) -> None:
        """The last price of `symbol` moved (a trade on the feed)."""
        if symbol in self.rows:
            self.update_cell(symbol, self.ordered_columns[1].key, price)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(event.row_key.value))


def _text(value: Any) -> str:
    return "-" if value is None else f"{value:f}"


def _change(value: Any) -> Text:
    if value is None:
        return Text("-")
    return Text(f"{value:+.2f}%", style="green" if value >= 0 else "red")

"""The trades tape: the instrument's latest trades, newest on top."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class TradesTape(Static):
    """Keeps the last `size` trades its screen gives it (`add`)."""

    def __init__(self, *, size: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trades: deque[dict[str, Any]] = deque(maxlen=size)

    def clear(self) -> None:
        self.trades.clear()
        self.update(self._table())

    def add(self, trades: list[dict[str, Any]]) -> None:
        """Add trades as the feed delivers them (oldest first) and redraw."""
        for trade in trades:
            self.trades.appendleft(trade)
        self.update(self._table())

    def on_mount(self) -> None:
        self.border_title = "trades"
        self.update(self._table())

    def _table(self) -> Table:
        table = Table(expand=True, show_edge=False, box=None)
        table.add_column("time")
        table.add_column("price", justify="right")
        table.add_column("quantity", justify="right")
        for t in self.trades:  # what does not fit the widget's height is cropped
            colour = "green" if t.get("taker_side") == "buy" else "red"
            at = str(t.get("at", ""))
            table.add_row(at[11:19], Text(str(t.get("price")), style=colour), str(t.get("quantity")))
        return table

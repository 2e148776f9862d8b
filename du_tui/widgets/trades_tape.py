"""The trades tape: the instrument's latest trades, newest on top."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class TradesTape(Static):
    """Keeps the last `size` trades its screen gives it: the market's recent ones (`seed`), then the feed's.

    A trade is a dict as the feed spells it (id, price, quantity, taker_side, at). The id keeps a
    trade from showing twice: the feed may deliver one the recent trades already brought.
    """

    def __init__(self, *, size: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.capacity = size
        self.trades: deque[dict[str, Any]] = deque(maxlen=size)

    def clear(self) -> None:
        self.trades.clear()
        self.update(self._table())

    def seed(self, trades: list[dict[str, Any]]) -> None:
        """Show the market's recent trades (newest first, as `market.trades` lists them) and redraw.

        Trades the feed delivered while they were being read stay: every trade is kept once, newest on top.
        """
        held = {t.get("id") for t in self.trades}
        merged = [*self.trades, *(t for t in trades if t.get("id") not in held)]
        # one symbol's trade ids follow the order its trades happened in
        merged.sort(key=lambda t: t.get("id") or 0, reverse=True)
        self.trades = deque(merged[:self.capacity], maxlen=self.capacity)
        self.update(self._table())

    def add(self, trades: list[dict[str, Any]]) -> None:
        """Add trades as the feed delivers them (oldest first) and redraw."""
        held = {t.get("id") for t in self.trades}
        for trade in trades:
            if trade.get("id") is None or trade.get("id") not in held:
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

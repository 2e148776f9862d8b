"""The order book ladder: aggregated levels with depth bars, asks above the spread, bids below."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

BAR = 12
CHROME = 2  # rows that are not levels: the column names and the spread


class OrderBook(Widget):
    """Shows the levels its screen gives it (`show`); it never fetches anything itself.

    It draws as many levels a side as its height holds (at most `rows` when given), so the
    spread stays in the middle of a small terminal too.
    """

    def __init__(self, *, rows: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows
        self.symbol = ""
        self.bids: list[tuple[Decimal, Decimal]] = []
        self.asks: list[tuple[Decimal, Decimal]] = []

    def show(self, symbol: str, bids: Sequence[Sequence[Any]], asks: Sequence[Sequence[Any]]) -> None:
        """Replace the levels (best first) and redraw."""
        self.symbol = symbol
        self.border_title = f"{symbol} book"
        self.bids = [(Decimal(lv[0]), Decimal(lv[1])) for lv in bids]
        self.asks = [(Decimal(lv[0]), Decimal(lv[1])) for lv in asks]
        self.refresh()

    @property
    def spread(self) -> Decimal | None:
        return self.asks[0][0] - self.bids[0][0] if self.bids and self.asks else None

    @property
    def levels_shown(self) -> int:
        """Levels a side that fit the widget's height."""
        fit = max(1, (self.content_size.height - CHROME) // 2)
        return fit if self.rows is None else min(fit, self.rows)

    def render(self) -> Table:
        return self._table(self.levels_shown)

    def _table(self, rows: int) -> Table:
        bids, asks = self.bids[:rows], self.asks[:rows]
        biggest = max([q for _, q in bids + asks], default=Decimal(1)) or Decimal(1)
        table = Table(expand=True, show_edge=False, pad_edge=False, box=None)
        table.add_column("price", justify="right")
        table.add_column("quantity", justify="right")
        table.add_column("depth", justify="left", width=BAR)
        for _ in range(rows - len(asks)):  # keep the spread on the same row however deep the book is
            table.add_row("", "", "")
        for price, quantity in reversed(asks):
            table.add_row(Text(f"{price:f}", style="red"), f"{quantity:f}", _bar(quantity, biggest, "red"))
        spread = self.spread
        table.add_row(Text("spread", style="dim"), Text("-" if spread is None else f"{spread:f}", style="bold"), "")
        for price, quantity in bids:
            table.add_row(Text(f"{price:f}", style="green"), f"{quantity:f}", _bar(quantity, biggest, "green"))
        return table


def _bar(quantity: Decimal, biggest: Decimal, colour: str) -> Text:
    width = max(1, int(BAR * quantity / biggest)) if quantity > 0 else 0
    return Text("█" * width, style=colour)

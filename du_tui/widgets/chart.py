"""The price chart: one column per candle drawn with box characters, volume bars below, a price axis.

Like the other market widgets it only draws what its screen gives it (`show`); the screen reads
the candles from the core (market.history) and decides when to read them again. It draws as
many of the newest candles as its width holds, scaled to its height, so the same widget serves a
small terminal and a large one.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.widget import Widget

VOLUME_BARS = "▁▂▃▄▅▆▇█"
BODY, WICK = "┃", "│"
UP, DOWN = "green", "red"


class Chart(Widget):
    """OHLC candles (`CandleRow`s, oldest first) of one symbol at one interval."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.symbol = ""
        self.interval = ""
        self.candles: list[Any] = []
        self.note: str | None = None

    def show(self, symbol: str, interval: str, candles: Sequence[Any], note: str | None = None) -> None:
        """Replace the candles and redraw."""
        self.symbol, self.interval, self.candles, self.note = symbol, interval, list(candles), note
        self.border_title = f"{symbol} {interval}"
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size
        if not self.candles:
            return Text(self.note or "no trades yet", style="dim")
        last = self.candles[-1]
        head = Text(f"O {last.open:f} H {last.high:f} L {last.low:f} C {last.close:f} V {last.volume:f}",
                    style="dim", no_wrap=True, overflow="ellipsis")
        head.truncate(width, overflow="ellipsis")
        lines = self._plot(width, max(1, height - 2))  # the figures above, the volume below
        return Text("\n", no_wrap=True).join([head, *lines])

    def _plot(self, width: int, rows: int) -> list[Text]:
        axis = max(len(f"{c.high:f}") for c in self.candles) + 1
        columns = max(1, (width - axis) // 2)  # a candle and a gap
        shown = self.candles[-columns:]
        high = max(c.high for c in shown)
        low = min(c.low for c in shown)
        labels = {0: high, rows - 1: low}
        step = (high - low) / rows if high > low else Decimal(0)

        def row(price: Decimal) -> int:
            if not step:
                return rows // 2
            return min(rows - 1, int((high - price) / step))

        last = shown[-1].close
        last_row = row(last)
        labels[last_row] = last
        grid = [Text() for _ in range(rows)]
        volume = Text()
        biggest = max((c.volume for c in shown), default=Decimal(0))
        for c in shown:
            colour = UP if c.close >= c.open else DOWN
            body_top, body_bottom = row(max(c.open, c.close)), row(min(c.open, c.close))
            wick_top, wick_bottom = row(c.high), row(c.low)
            for r, line in enumerate(grid):
                if body_top <= r <= body_bottom:
                    line.append(BODY, style=colour)
                elif wick_top <= r <= wick_bottom:
                    line.append(WICK, style=colour)
                else:
                    line.append(" ")
                line.append(" ")
            volume.append(_bar(c.volume, biggest), style=colour)
            volume.append(" ")
        pad = 2 * (columns - len(shown))
        for r, line in enumerate(grid):
            line.append(" " * pad)
            if r in labels:
                line.append(f"{labels[r]:f}", style="bold" if r == last_row else "dim")
        return [*grid, volume]


def _bar(volume: Decimal, biggest: Decimal) -> str:
    if volume <= 0 or biggest <= 0:
        return " "
    return VOLUME_BARS[min(len(VOLUME_BARS) - 1, int(volume / biggest * len(VOLUME_BARS)))]

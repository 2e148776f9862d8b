"""Where the portfolio's value sits: one bar per holding, and the holdings that could not be valued.

The weights are the core's (`portfolio.holdings`); this widget only draws them. A holding without
a price is never drawn as an empty bar: it is listed apart with the reason the core gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

if TYPE_CHECKING:
    from du_core.portfolio.schemas import HoldingsView, HoldingView

BAR = 20  # cells of a 100 % bar: fits beside the label and figures in an 80-column terminal
EIGHTHS = " ▏▎▍▌▋▊▉"


class Allocation(Static):
    """Bars of the core's `HoldingsView`; set `holdings` to draw new ones."""

    holdings: reactive[HoldingsView | None] = reactive(None, init=False)

    def on_mount(self) -> None:
        self.border_title = "Allocation"

    def watch_holdings(self, view: HoldingsView | None) -> None:
        if view is None:
            return
        self.border_subtitle = f"of {view.total_value:f} {view.base_currency}"
        self.update(Group(*self._lines(view)))

    def _lines(self, view: HoldingsView) -> list[RenderableType]:
        valued = [h for h in view.items if h.value is not None]
        unvalued = [h for h in view.items if h.value is None]
        parts: list[RenderableType] = []
        if valued:
            table = Table.grid(padding=(0, 1))
            table.add_column()  # label
            table.add_column(no_wrap=True)  # bar
            table.add_column(justify="right", no_wrap=True)  # weight
            table.add_column(justify="right", no_wrap=True)  # value
            for h in sorted(valued, key=lambda h: -(h.weight or 0)):
                weight = "—" if h.weight is None else f"{h.weight * 100:.1f} %"
                table.add_row(_label(h), _bar(h.weight or 0.0), weight, f"{h.value:f}")
            parts.append(table)
        elif not unvalued:
            parts.append(Text("nothing held yet", style="dim"))
        for h in unvalued:
            parts.append(Text.assemble((f"{_label(h)} {h.quantity.normalize():f}", "bold"), " not valued: ",
                                       (h.reason or "", "yellow")))
        return parts


def _label(holding: HoldingView) -> str:
    return holding.symbol if holding.source == "platform" else f"{holding.symbol} ({holding.source})"


def _bar(weight: float) -> Text:
    eighths = round(max(0.0, min(weight, 1.0)) * BAR * 8)
    full, rest = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[rest] if rest else "")
    return Text(text.ljust(BAR), style="cyan")

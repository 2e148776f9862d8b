"""The portfolio in one glance: total value, cash and invested, P&L, fees, and when it was read.

The figures are the core's `portfolio.overview`; the second line says how fresh they are, or that
the last refresh failed (the figures shown are then the previous ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from du_tui.widgets.positions import pnl

if TYPE_CHECKING:
    from du_core.portfolio.schemas import OverviewView


class PortfolioSummary(Static):
    """Set `overview` (an `OverviewView`), `updated` (a time) and `problem` (why a refresh failed)."""

    overview: reactive[OverviewView | None] = reactive(None, init=False)
    updated: reactive[str] = reactive("", init=False)
    problem: reactive[str] = reactive("", init=False)

    def watch_overview(self) -> None:
        self._draw()

    def watch_updated(self) -> None:
        self._draw()

    def watch_problem(self) -> None:
        self._draw()

    def _draw(self) -> None:
        o = self.overview
        text = Text()
        if o is None:
            text.append("reading your portfolio…", style="dim")
        else:
            fees = f"{o.fees_paid.total:f}" if o.fees_paid.total is not None else \
                f"— (no rate for {', '.join(o.fees_paid.unvalued)})"
            text.append_text(Text.assemble(
                ("value ", "dim"), (f"{o.total_value:f} {o.base_currency}", "bold"),
                ("  cash ", "dim"), f"{o.cash_value:f}", ("  invested ", "dim"), f"{o.invested_value:f}",
                ("  open orders ", "dim"), str(o.open_orders), "\n",
                ("unrealised ", "dim"), pnl(o.unrealised_pnl), ("  realised ", "dim"), pnl(o.realised_pnl),
                ("  fees paid ", "dim"), fees))
            if self.updated and not self.problem:
                text.append(f"  updated {self.updated}", style="dim")
            if o.unvalued:
                text.append(f"\nnot valued (left out of the totals): {', '.join(o.unvalued)}", style="yellow")
            if o.realised_pnl is None:  # the core's notes name the instrument without a rate
                text.append("".join(f"\n{note}" for note in o.notes), style="dim")
        if self.problem:
            text.append(f"\nrefresh failed: {self.problem}", style="red")
        self.update(text)

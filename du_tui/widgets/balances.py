"""The trader's money per currency: available, held by open orders and withdrawals, and the total."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.reactive import var
from textual.widgets import DataTable

if TYPE_CHECKING:
    from du_core.financial.schemas import BalanceRow


class Balances(DataTable):
    """Rows of the core's `BalanceRow`s keyed by currency; set `balances` to show new ones."""

    balances: var[list[BalanceRow]] = var(list, init=False)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.border_title = "Balances"
        self.add_columns("currency", "available", "held", "total")

    def watch_balances(self, rows: list[BalanceRow]) -> None:
        # updated in place so the highlighted row stays where the trader left it
        columns = [c.key for c in self.ordered_columns]
        keep = {r.currency for r in rows}
        for key in [k for k in self.rows if k.value not in keep]:
            self.remove_row(key)
        for r in rows:
            cells = (r.currency, f"{r.available:f}", f"{r.held:f}", f"{r.total:f}")
            if r.currency in self.rows:
                for column, value in zip(columns[1:], cells[1:]):
                    self.update_cell(r.currency, column, value)
            else:
                self.add_row(*cells, key=r.currency)
        self.border_subtitle = "" if rows else "no money yet"

    def cells(self, currency: str) -> tuple[str, str, str]:
        """What the row of `currency` shows: available, held, total."""
        return tuple(str(c) for c in self.get_row(currency)[1:])  # type: ignore[return-value]

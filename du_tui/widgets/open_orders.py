"""The trader's live orders; the screen cancels the highlighted one."""

from __future__ import annotations

import uuid
from typing import Any

from textual.widgets import DataTable


class OpenOrders(DataTable):
    """Rows of `OrderView`s keyed by order id."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("side", "type", "price", "quantity", "filled", "status", "tif")

    def show(self, orders: list[Any]) -> None:
        """Replace the rows with these orders, keeping the highlighted one when it is still there."""
        current = self.selected
        self.clear()
        for o in orders:
            self.add_row(o.side, o.type, "-" if o.price is None else f"{o.price:f}", f"{o.quantity:f}",
                         f"{o.filled:f}", o.status, o.tif, key=str(o.id))
        if current is not None and str(current) in self.rows:
            self.move_cursor(row=self.get_row_index(str(current)))

    @property
    def order_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(str(key.value)) for key in self.rows]

    @property
    def selected(self) -> uuid.UUID | None:
        """The highlighted order, None when the table is empty."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return uuid.UUID(str(key.value)) if key.value is not None else None

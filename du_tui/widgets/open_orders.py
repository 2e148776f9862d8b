"""The trader's live orders; the screen cancels or modifies the highlighted one."""

from __future__ import annotations

import uuid
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

# what a status looks like in a narrow column
STATUS = {"pending_trigger": "waiting", "partially_filled": "partial"}


class OpenOrders(DataTable):
    """Rows of `OrderView`s keyed by order id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.orders: dict[uuid.UUID, Any] = {}

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("side", "type", "price", "stop", "quantity", "filled", "status", "tif")

    def show(self, orders: list[Any]) -> None:
        """Replace the rows with these orders, keeping the highlighted one when it is still there."""
        current = self.selected
        self.clear()
        self.orders = {o.id: o for o in orders}
        for o in orders:
            self.add_row(Text(o.side, style="green" if o.side == "buy" else "red"), o.type.replace("_", " "),
                         _amount(o.price), _amount(o.stop_price), f"{o.quantity:f}", f"{o.filled:f}",
                         STATUS.get(o.status, o.status), o.tif, key=str(o.id))
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

    @property
    def selected_order(self) -> Any | None:
        """The `OrderView` of the highlighted order."""
        selected = self.selected
        return None if selected is None else self.orders.get(selected)


def _amount(value: Any) -> str:
    return "-" if value is None else f"{value:f}"

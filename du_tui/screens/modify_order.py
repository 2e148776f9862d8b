"""The modify dialog: a new price or quantity for one live order, sent to the core from here.

It stays open until the core accepts the change, showing the core's message inline when it
refuses, so the trader can correct the figure without starting over. It dismisses with the
modified `OrderView`, or None when the trader gives up.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

if TYPE_CHECKING:
    from du_tui.app import DuApp


class ModifyOrderScreen(ModalScreen[Any]):
    """Change the price or quantity of `order` (an `OrderView`)."""

    BINDINGS = [Binding("escape", "give_up", "Cancel", tooltip="Close without changing the order")]

    def __init__(self, order: Any) -> None:
        super().__init__()
        self.order = order
        self.error = ""

    @property
    def du(self) -> DuApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        o = self.order
        at = f" @ {o.price:f}" if o.price is not None else ""
        stop = f" stop {o.stop_price:f}" if o.stop_price is not None else ""
        with Vertical(id="modify"):
            yield Label(f"modify {o.side} {o.quantity:f} {o.symbol} {o.type.replace('_', ' ')}{at}{stop}",
                        id="modify-title")
            with Horizontal(classes="field"):
                yield Label("price")
                yield Input("" if o.price is None else f"{o.price:f}", compact=True, id="modify-price",
                            disabled=o.price is None, placeholder="no limit price")
            with Horizontal(classes="field"):
                yield Label("qty")
                yield Input(f"{o.quantity:f}", compact=True, id="modify-quantity")
            yield Static("", id="modify-message")
            yield Static("enter: send  esc: cancel", id="modify-hint")

    def on_mount(self) -> None:
        first = "#modify-quantity" if self.order.price is None else "#modify-price"
        self.query_one(first, Input).focus()

    def changes(self) -> dict[str, str | None]:
        """The fields the trader changed (both as typed when neither is: the core then says why not)."""
        price = self.query_one("#modify-price", Input).value.strip()
        quantity = self.query_one("#modify-quantity", Input).value.strip()
        new_price = price if self.order.price is not None and not _same(price, self.order.price) else None
        new_quantity = quantity if not _same(quantity, self.order.quantity) else None
        if new_price is None and new_quantity is None:
            return {"price": price or None, "quantity": quantity or None}
        return {"price": new_price, "quantity": new_quantity}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._show("sending…", error=False)
        self.send(self.changes())

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.error:
            self._show("", error=False)

    @work(thread=True, exclusive=True, group="modify", exit_on_error=False)
    def send(self, changes: dict[str, str | None]) -> None:
        from du_core.trading import service
        from du_core.trading.schemas import ModifyOrder
        from du_core.validation import parse

        self.du.deliver(
            lambda: self.du.call(service.modify_order, parse(ModifyOrder, order_id=self.order.id, **changes)),
            self.dismiss, refused=partial(self._show, error=True), failed=self._failed)

    def _failed(self, exc: BaseException) -> None:
        """A bug is a notification, never a crash; the dialog stays open without a message."""
        self.du.report(exc)
        self._show("", error=False)

    def _show(self, text: str, *, error: bool) -> None:
        self.error = text if error else ""
        message = self.query_one("#modify-message", Static)
        message.update(text)
        message.set_class(error, "error")

    def action_give_up(self) -> None:
        self.dismiss(None)


def _same(text: str, value: Decimal) -> bool:
    try:
        return Decimal(text) == value
    except InvalidOperation:
        return False

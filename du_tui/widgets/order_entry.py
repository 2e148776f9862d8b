"""The order ticket: side, type, quantity, price, time in force, an estimate, and a confirmation step.

It knows nothing of the exchange's rules: it shows an estimate from what its screen gives it
(`fee_rate`, `available`) and, once confirmed, posts `Submitted` with what the trader typed. The
screen sends it to the core and sets `error` (the core's message) or `result` in return.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

TYPES = [("limit", "limit"), ("market", "market")]
TIFS = [("GTC", "gtc"), ("IOC", "ioc"), ("FOK", "fok")]


class OrderEntry(Vertical, can_focus=True):
    """The ticket. Enter in a field asks for confirmation; `y` sends, `n` or escape goes back."""

    BINDINGS = [Binding("y", "confirm", "Confirm", show=True), Binding("n,escape", "back", "Back", show=True)]

    class Submitted(Message):
        """The trader confirmed this order (fields as typed)."""

        def __init__(self, fields: dict[str, Any]) -> None:
            super().__init__()
            self.fields = fields

    side: reactive[str] = reactive("buy")
    symbol: reactive[str] = reactive("")
    quote: reactive[str] = reactive("")
    base: reactive[str] = reactive("")
    fee_rate: reactive[Decimal | None] = reactive(None)
    available: reactive[dict[str, Decimal]] = reactive(dict, always_update=True)
    error: reactive[str] = reactive("")
    result: reactive[str] = reactive("")
    confirming: reactive[bool] = reactive(False)

    def compose(self) -> ComposeResult:
        yield Label("", id="side")
        with Horizontal(classes="field"):
            yield Label("qty")
            yield Input(placeholder="quantity", compact=True, id="quantity")
        with Horizontal(classes="field"):
            yield Label("price")
            yield Input(placeholder="limit price", compact=True, id="price")
        with Horizontal(classes="field"):
            yield Label("type")
            yield Select(TYPES, value="limit", allow_blank=False, compact=True, id="type")
        with Horizontal(classes="field"):
            yield Label("tif")
            yield Select(TIFS, value="gtc", allow_blank=False, compact=True, id="tif")
        yield Static("", id="estimate")
        yield Static("", id="message")

    def start(self, side: str) -> None:
        """Begin an order on `side` with the quantity field focused."""
        self.side = side
        self.confirming = False
        self.error = ""
        self.query_one("#quantity", Input).focus()

    def fields(self) -> dict[str, Any]:
        kind = self.query_one("#type", Select).value
        price = self.query_one("#price", Input).value.strip()
        return {"symbol": self.symbol, "side": self.side, "type": kind,
                "quantity": self.query_one("#quantity", Input).value.strip(),
                "price": (price or None) if kind == "limit" else None,
                "tif": self.query_one("#tif", Select).value}

    def estimate(self) -> str:
        """What the order would cost or bring, its fee, and what it needs from the balance."""
        f = self.fields()
        try:
            quantity = Decimal(f["quantity"])
            price = Decimal(f["price"]) if f["price"] else None
        except (InvalidOperation, ValueError):
            return "enter a quantity and a price"
        if price is None:
            return f"{f['side']} {quantity:f} {self.base} at market"
        notional = quantity * price
        fee = notional * self.fee_rate if self.fee_rate is not None else None
        fee_text = "?" if fee is None else f"{fee:.2f}"
        if f["side"] == "buy":
            need, asset = notional + (fee or 0), self.quote
        else:
            need, asset = quantity, self.base
        have = self.available.get(asset)
        have_text = "?" if have is None else f"{have:f}"
        need_text = f"{need:.2f}" if asset == self.quote else f"{need:f}"
        return (f"cost {notional:.2f} {self.quote}  fee ~{fee_text}\n"
                f"needs {need_text} {asset}, has {have_text}")

    def watch_side(self, side: str) -> None:
        label = self.query_one("#side", Label)
        label.update(f"{side.upper()} {self.symbol}")
        label.set_classes(side)

    def watch_symbol(self, symbol: str) -> None:
        self.watch_side(self.side)

    def watch_error(self, error: str) -> None:
        self._message()

    def watch_result(self, result: str) -> None:
        self._message()

    def watch_confirming(self, confirming: bool) -> None:
        self._message()

    def _message(self) -> None:
        box = self.query_one("#message", Static)
        box.set_class(bool(self.error), "error")
        if self.error:
            box.update(self.error)
        elif self.confirming:
            f = self.fields()
            at = f"@ {f['price']}" if f["price"] else "at market"
            box.update(f"{f['side']} {f['quantity']} {f['symbol']} {at} {f['tif']}? y: send  n: back")
        else:
            box.update(self.result)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#estimate", Static).update(self.estimate())

    def on_select_changed(self, event: Select.Changed) -> None:
        self.query_one("#estimate", Static).update(self.estimate())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.error, self.result = "", ""
        self.query_one("#estimate", Static).update(self.estimate())
        self.confirming = True
        self.focus()

    def action_confirm(self) -> None:
        if self.confirming:
            self.confirming = False
            self.post_message(self.Submitted(self.fields()))

    def action_back(self) -> None:
        if self.confirming:
            self.confirming = False
            self.query_one("#quantity", Input).focus()

"""The order ticket: side, type, quantity, price, stop price, time in force, post-only, and a confirmation step.

It knows nothing of the exchange's rules or fees. While the trader types it posts `Changed`; its
screen asks the core for a preview (trading.preview) and hands the answer back with
`show_preview`, which the ticket shows only if the fields have not changed since. Once confirmed
it posts `Submitted` with what the trader typed; the screen sends it to the core and sets
`error` (the core's message) or `result` in return.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Checkbox, Input, Label, Select, Static

TYPES = [("limit", "limit"), ("market", "market"), ("stop", "stop"), ("stop limit", "stop_limit")]
TIFS = [("GTC", "gtc"), ("IOC", "ioc"), ("FOK", "fok")]
PRICED = ("limit", "stop_limit")  # types with a limit price
STOPPED = ("stop", "stop_limit")  # types with a stop price


def missing(fields: dict[str, Any]) -> str | None:
    """What the ticket still needs before the core can say anything about it (None: nothing)."""
    if not fields["quantity"]:
        return "enter a quantity"
    if fields["type"] in PRICED and not fields["price"]:
        return "enter a limit price"
    if fields["type"] in STOPPED and not fields["stop_price"]:
        return "enter a stop price"
    return None


class OrderEntry(Vertical, can_focus=True):
    """The ticket. Enter in a field asks for confirmation; `y` sends, `n` or escape goes back."""

    BINDINGS = [
        Binding("y", "confirm", "Confirm", show=True, tooltip="Send the order as shown"),
        Binding("n,escape", "back", "Back", show=True, tooltip="Back to the ticket without sending"),
        Binding("ctrl+t", "next_type", "Order type", show=False,
                tooltip="Cycle the order type: limit, market, stop, stop limit"),
    ]

    class Submitted(Message):
        """The trader confirmed this order (fields as typed)."""

        def __init__(self, fields: dict[str, Any]) -> None:
            super().__init__()
            self.fields = fields

    class Changed(Message):
        """The ticket's fields changed: the screen may ask the core what the order would cost."""

        def __init__(self, fields: dict[str, Any]) -> None:
            super().__init__()
            self.fields = fields

    side: reactive[str] = reactive("buy")
    symbol: reactive[str] = reactive("")
    error: reactive[str] = reactive("")
    result: reactive[str] = reactive("")
    confirming: reactive[bool] = reactive(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preview: Any | None = None  # the core's OrderPreview of the fields as they are
        self.preview_error = ""

    def compose(self) -> ComposeResult:
        yield Label("", id="side")
        with Horizontal(classes="field"):
            yield Label("qty")
            yield Input(placeholder="quantity", compact=True, id="quantity")
        with Horizontal(classes="field", id="price-field"):
            yield Label("price")
            yield Input(placeholder="limit price", compact=True, id="price")
        with Horizontal(classes="field"):
            yield Label("type")
            yield Select(TYPES, value="limit", allow_blank=False, compact=True, id="type")
        with Horizontal(classes="field", id="stop-field"):
            yield Label("stop")
            yield Input(placeholder="stop price", compact=True, id="stop_price")
        with Horizontal(classes="field"):
            yield Label("tif")
            yield Select(TIFS, value="gtc", allow_blank=False, compact=True, id="tif")
        yield Checkbox("post only", compact=True, id="post_only")
        yield Static("", id="estimate")
        yield Static("", id="message")

    def on_mount(self) -> None:
        self._show_fields()

    # -- what the trader typed -------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return str(self.query_one("#type", Select).value)

    def fields(self) -> dict[str, Any]:
        kind = self.kind
        price = self.query_one("#price", Input).value.strip()
        stop = self.query_one("#stop_price", Input).value.strip()
        return {"symbol": self.symbol, "side": self.side, "type": kind,
                "quantity": self.query_one("#quantity", Input).value.strip(),
                "price": (price or None) if kind in PRICED else None,
                "stop_price": (stop or None) if kind in STOPPED else None,
                "tif": self.query_one("#tif", Select).value,
                "post_only": kind == "limit" and self.query_one("#post_only", Checkbox).value}

    def start(self, side: str) -> None:
        """Begin an order on `side` with the quantity field focused."""
        self.side = side
        self.confirming = False
        self.error = ""
        self.query_one("#quantity", Input).focus()

    def action_next_type(self) -> None:
        kinds = [value for _, value in TYPES]
        select = self.query_one("#type", Select)
        select.value = kinds[(kinds.index(self.kind) + 1) % len(kinds)]

    # -- the core's answers ----------------------------------------------------------------------

    def show_preview(self, fields: dict[str, Any], preview: Any | None, error: str = "") -> None:
        """Show the core's preview of `fields` (or why it could not make one) if they are still the ticket's."""
        if fields != self.fields():
            return  # the trader typed on: a newer preview is on its way
        self.preview, self.preview_error = preview, error
        self.query_one("#estimate", Static).update(self.estimate())

    def estimate(self) -> Text:
        """The preview as the ticket shows it: value and fee, what it holds, and any rule it breaks."""
        f = self.fields()
        needed = missing(f)
        if needed is not None:
            return Text(needed, style="dim")
        if self.preview_error:
            return Text(self.preview_error, style="red")
        p = self.preview
        if p is None:
            return Text("…", style="dim")
        text = Text()
        if p.notional is None:
            text.append("no price to go by yet", style="dim")
        else:
            about = "~" if p.price_basis in ("book", "last") else ""
            text.append(f"value {about}{p.notional:f} {p.quote}  fee ≤ {p.fee:f}")
        text.append("\n")
        if p.hold is not None and p.hold > 0:
            text.append(f"holds {p.hold:f} {p.hold_asset}")
        elif p.needs is not None:
            text.append(f"needs {'~' if p.hold_asset == p.quote else ''}{p.needs:f} {p.hold_asset}")
        text.append(f" of {p.available:f}", style="green" if p.enough is not False else "red")
        if p.problem:
            text.append("\n" + p.problem, style="red")
        elif p.crosses:
            text.append("\ncrosses the book: trades at once", style="yellow")
        return text

    # -- showing it ------------------------------------------------------------------------------

    def watch_side(self, side: str) -> None:
        label = self.query_one("#side", Label)
        label.update(f"{side.upper()} {self.symbol}")
        label.set_classes(side)
        self._changed()

    def watch_symbol(self, symbol: str) -> None:
        self.watch_side(self.side)

    def watch_error(self, error: str) -> None:
        self._message()

    def watch_result(self, result: str) -> None:
        self._message()

    def watch_confirming(self, confirming: bool) -> None:
        self._message()

    def _show_fields(self) -> None:
        kind = self.kind
        self.query_one("#price-field").display = kind in PRICED
        self.query_one("#stop-field").display = kind in STOPPED
        self.query_one("#post_only").display = kind == "limit"

    def _message(self) -> None:
        box = self.query_one("#message", Static)
        box.set_class(bool(self.error), "error")
        if self.error:
            box.update(self.error)
        elif self.confirming:
            box.update(self.summary() + "? y: send  n: back")
        else:
            box.update(self.result)

    def summary(self) -> str:
        """The order in one line, as the confirmation asks about it."""
        f = self.fields()
        words = [f["side"], f["quantity"], f["symbol"], f["type"].replace("_", " ")]
        if f["price"]:
            words.append(f"@ {f['price']}")
        if f["stop_price"]:
            words.append(f"stop {f['stop_price']}")
        words.append(str(f["tif"]).upper() + (" post-only" if f["post_only"] else ""))
        return " ".join(words)

    def _changed(self) -> None:
        if not self.is_mounted:
            return
        self.preview, self.preview_error = None, ""
        self.query_one("#estimate", Static).update(self.estimate())
        self.post_message(self.Changed(self.fields()))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._show_fields()
        self._changed()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.error, self.result = "", ""
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

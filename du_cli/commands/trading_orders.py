"""`du trading order|orders|show|cancel|modify|close-position`: your orders on the exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional
from uuid import UUID

import typer

from du_cli.command import command
from du_cli.commands.trading import app
from du_cli.commands.users import LimitOpt, PageOpt

if TYPE_CHECKING:
    from decimal import Decimal

    from du_core.trading.schemas import PlaceOrder

SymbolArg = Annotated[str, typer.Argument(help="The instrument, e.g. BTC-USD (btc/usd works too).",
                                          metavar="SYMBOL")]
OrderIdArg = Annotated[UUID, typer.Argument(help="The order's id.", metavar="ORDER_ID")]
QuantityOpt = Annotated[str, typer.Option("--quantity", help="How much of the base asset, in plain digits on the "
                                                             "lot size: 0.4.", metavar="Q")]
PriceOpt = Annotated[Optional[str], typer.Option("--price", help="Limit price in the quote asset, on the tick "
                                                                 "size: 50000.", metavar="P")]
KeyOpt = Annotated[Optional[str], typer.Option(
    "--idempotency-key", help="Repeating the command with the same key returns the first result and trades "
                              "nothing again.", metavar="KEY")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]


@command(app, "order", title="Order")
def order(
    symbol: SymbolArg,
    side: Annotated[str, typer.Option("--side", help="buy or sell.")],
    kind: Annotated[str, typer.Option("--type", help="market, limit, stop or stop_limit (see du trading "
                                                     "algorithms).", metavar="TYPE")],
    quantity: QuantityOpt,
    price: PriceOpt = None,
    stop_price: Annotated[Optional[str], typer.Option(
        "--stop-price", help="For stop and stop_limit: the trade price that sets the order working.",
        metavar="S")] = None,
    tif: Annotated[str, typer.Option("--tif", help="Time in force: gtc (rests until cancelled), ioc (trades "
                                                   "what it can now) or fok (all now or nothing).")] = "gtc",
    post_only: Annotated[bool, typer.Option("--post-only", help="Limit orders only: cancel instead of trading "
                                                                "on arrival (always the maker fee).")] = False,
    stp: Annotated[str, typer.Option("--stp", help="Self-trade prevention: cancel_newest, cancel_oldest or "
                                                   "cancel_both.")] = "cancel_newest",
    client_order_id: Annotated[Optional[str], typer.Option(
        "--client-order-id", help="Your own unique id for the order (up to 64 characters): placing it again "
                                  "returns the original order.", metavar="ID")] = None,
    idempotency_key: KeyOpt = None,
    yes: YesOpt = False,
):
    """Place an order (standard role and up, KYC level 1); prints the order and its fills.

    A buy reserves its worst-case cost with fees, a sell its quantity. A broken rule exits 3 (details.rule).
    """
    import sys

    from du_core.trading import info, service
    from du_core.trading.schemas import PlaceOrder, SymbolRequest
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(PlaceOrder, symbol=symbol, side=side, type=kind, quantity=quantity, price=price,
                    stop_price=stop_price, tif=tif, post_only=post_only, stp=stp, client_order_id=client_order_id,
                    idempotency_key=idempotency_key)
    if not yes and sys.stdin.isatty():
        best = None
        if request.type == "market":  # no price to show: show what the book offers now
            market = call(info.market_data, parse(SymbolRequest, symbol=request.symbol))
            best = market.ask if request.side == "buy" else market.bid
        confirm(_describe(request, best=best), yes=False)
    else:
        confirm("Place this order?", yes=yes)
    return call(service.place_order, request)


def _describe(req: PlaceOrder, *, best: Decimal | None) -> str:
    """The question before placing: side, quantity and price terms; the value, or the best price at market."""
    from decimal import Decimal, InvalidOperation

    base, _, quote = req.symbol.partition("-")
    terms = {"market": "at market", "limit": f"at {req.price} limit",
             "stop": f"at market once a trade reaches {req.stop_price}",
             "stop_limit": f"at {req.price} limit once a trade reaches {req.stop_price}"}[req.type]
    question = f"{req.side.capitalize()} {req.quantity} {base} {terms} on {req.symbol}"
    if req.price is not None:
        question += f" ({req.tif.upper()})"
        try:
            question += f", worth {Decimal(req.price) * Decimal(req.quantity):f} {quote} before fees"
        except InvalidOperation:
            pass  # the exchange names the bad number once the order is sent
    elif req.type == "market":
        side = "ask" if req.side == "buy" else "bid"
        question += f" (best {side} {best:f} {quote})" if best is not None else f" (no {side} in the book now)"
    return question + "?"


@command(app, "orders", title="Orders")
def orders(
    status: Annotated[str, typer.Option(
        "--status", help="open, partially_filled, filled, cancelled, pending_trigger, live (not yet finished) "
                         "or all.")] = "all",
    symbol: Annotated[Optional[str], typer.Option("--symbol", help="Only this instrument, e.g. BTC-USD.")] = None,
    page: PageOpt = 1,
    limit: LimitOpt = 50,
):
    """List your orders, newest first."""
    from du_core.trading import service
    from du_core.trading.schemas import OrderQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.list_orders, parse(OrderQuery, status=status, symbol=symbol, page=page, limit=limit))


@command(app, "show", title="Order")
def show(order_id: OrderIdArg):
    """Show one of your orders with every fill it has had."""
    from du_core.trading import service
    from du_core.trading.schemas import OrderRef
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.show_order, parse(OrderRef, order_id=order_id))


@command(app, "cancel", title="Order")
def cancel(order_id: OrderIdArg):
    """Cancel one of your live orders and release what it reserved (works while trading is halted)."""
    from du_core.trading import service
    from du_core.trading.schemas import OrderRef
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.cancel_order, parse(OrderRef, order_id=order_id))


@command(app, "modify", title="Order")
def modify(
    order_id: OrderIdArg,
    quantity: Annotated[Optional[str], typer.Option(
        "--quantity", help="The new total quantity (above what has filled).", metavar="Q")] = None,
    price: PriceOpt = None,
):
    """Change a live order's quantity or price.

    Only a smaller quantity keeps the order's place in the queue; a price crossing the book trades at once.
    """
    from du_core.trading import service
    from du_core.trading.schemas import ModifyOrder
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.modify_order, parse(ModifyOrder, order_id=order_id, quantity=quantity, price=price))


@command(app, "close-position", title="Order")
def close_position(symbol: SymbolArg, idempotency_key: KeyOpt = None, yes: YesOpt = False):
    """Flatten your position in an instrument with one market order (IOC)."""
    import sys

    from du_core.trading import info, service
    from du_core.trading.schemas import ClosePosition, SymbolRequest
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(ClosePosition, symbol=symbol, idempotency_key=idempotency_key)
    if not yes and sys.stdin.isatty():
        held = call(info.position, parse(SymbolRequest, symbol=request.symbol))
        side = "Sell" if held.quantity > 0 else "Buy"
        if held.quantity:  # no position: the exchange says so without asking first
            confirm(f"{side} {abs(held.quantity):f} {held.base} at market to close your {request.symbol} "
                    "position?", yes=False)
    else:
        confirm(f"Close your {request.symbol} position at market?", yes=yes)
    return call(service.close_position, request)

"""The rules an order must meet before it reaches the book, and what a resting stop reserves.

`trading.place` raises these and `trading.preview` reports them to an order ticket, so they live
here once: a preview that kept its own copy would drift from what placing refuses, in rule or in
words (errors' messages and details are shown to traders and asserted by tests). `trading.modify`
uses the same quantity, price and value rules. Nothing here reads the database; the callers do,
so placing an order does no more work than it did when these lived inside it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from du_core.errors import InvalidInput, RiskLimit, TradingDisabled
from du_core.money import parse_amount
from du_core.trading.exchange import Instrument, Order
from du_core.trading.schemas import PlaceOrder

LIMIT_TYPES = ("limit", "stop_limit")  # the order types that carry a limit price
STOP_TYPES = ("stop", "stop_limit")  # the order types that wait for a stop price


def ensure_trading(settings: dict[str, Any], inst: Instrument) -> None:
    """Raise unless new orders are accepted on the platform and on this instrument.

    Raises:
        TradingDisabled: trading is off, or the instrument is halted.
    """
    if not settings["trading_enabled"]:
        raise TradingDisabled("trading is disabled on the platform; cancels are still accepted")
    if inst.status != "trading":
        raise TradingDisabled(f"{inst.symbol} is halted; cancels are still accepted",
                              details={"symbol": inst.symbol, "status": inst.status})


def check_order(inst: Instrument, settings: dict[str, Any],
                req: PlaceOrder) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """Check a new order against the instrument's rules and the platform's limits, in placing's order.

    The open-order limit is not here: it needs the trader's count, which the caller reads
    (see `check_open_orders`).

    Returns:
        (quantity, price, stop_price) parsed; a plain tuple, as this runs for every order placed.

    Raises:
        TradingDisabled: trading is off or the instrument is halted.
        InvalidInput: a field the order type needs is missing or one it takes no is given, or a
            rule of the instrument is broken (the rule is named in details).
        RiskLimit: the order's value is above the platform's limit.
    """
    ensure_trading(settings, inst)
    if (req.price is not None) != (req.type in LIMIT_TYPES):
        raise InvalidInput(f"a {req.type} order {'needs' if req.type in LIMIT_TYPES else 'takes no'} --price",
                           details={"field": "price", "type": req.type})
    if (req.stop_price is not None) != (req.type in STOP_TYPES):
        raise InvalidInput(f"a {req.type} order {'needs' if req.type in STOP_TYPES else 'takes no'} --stop-price",
                           details={"field": "stop_price", "type": req.type})
    if req.post_only and req.type != "limit":
        raise InvalidInput("post-only applies to limit orders", details={"field": "post_only"})
    size = quantity(inst, req.quantity)
    limit = price(inst, req.price, "price") if req.price is not None else None
    stop = price(inst, req.stop_price, "stop_price") if req.stop_price is not None else None
    # a market order is valued at the last trade, or not at all before it fills
    check_notional(inst, settings, size, limit or stop or inst.last_price)
    return size, limit, stop


def check_open_orders(count: int, settings: dict[str, Any]) -> None:
    """Raise if a trader with `count` live orders may not open another.

    Raises:
        RiskLimit: the trader is at the platform's maximum.
    """
    if count >= settings["max_open_orders"]:
        raise RiskLimit(f"you have the maximum of {settings['max_open_orders']} open orders",
                        details={"limit": "max_open_orders", "maximum": settings["max_open_orders"]})


def quantity(inst: Instrument, text: str) -> Decimal:
    """A quantity meeting the instrument's lot size and bounds.

    Raises:
        InvalidInput: naming the rule it breaks.
    """
    value = parse_amount(text, 18, field="quantity")  # too many places is a lot size error, said below
    if value % inst.lot:
        raise InvalidInput(f"quantity must be a multiple of the lot size {inst.lot.normalize():f}",
                           details={"rule": "lot_size", "lot_size": str(inst.lot.normalize())})
    if value < inst.min_quantity:
        raise InvalidInput(f"quantity is below the minimum of {inst.min_quantity.normalize():f}",
                           details={"rule": "min_quantity", "min_quantity": str(inst.min_quantity.normalize())})
    if value > inst.max_quantity:
        raise InvalidInput(f"quantity is above the maximum of {inst.max_quantity.normalize():f}",
                           details={"rule": "max_quantity", "max_quantity": str(inst.max_quantity.normalize())})
    return value


def price(inst: Instrument, text: str, field: str) -> Decimal:
    """A price on the instrument's tick grid; `field` names it in the message ("price", "stop_price").

    Raises:
        InvalidInput: naming the rule it breaks.
    """
    value = parse_amount(text, 18, field=field)  # too many places is a tick size error, said below
    if value % inst.tick:
        raise InvalidInput(f"{field.replace('_', ' ')} must be a multiple of the tick size "
                           f"{inst.tick.normalize():f}", details={"rule": "tick_size", "field": field,
                                                                 "tick_size": str(inst.tick.normalize())})
    return value


def check_notional(inst: Instrument, settings: dict[str, Any], quantity: Decimal, price: Decimal | None) -> None:
    """Raise if `quantity` at `price` is worth less than the instrument's minimum or more than the platform allows.

    No price (a market order on an instrument that has not traded) means no check: the value is
    only known once it fills, and placing checks it then.

    Raises:
        InvalidInput: below the instrument's minimum order value.
        RiskLimit: above the platform's maximum order value.
    """
    if price is None:
        return
    notional = price * quantity
    if notional < inst.min_notional:
        raise InvalidInput(f"order value {notional.normalize():f} {inst.quote} is below the minimum of "
                           f"{inst.min_notional.normalize():f}", details={"rule": "min_notional",
                                                                          "min_notional": str(inst.min_notional)})
    if notional > settings["max_order_notional"]:
        raise RiskLimit(f"order value {notional.normalize():f} {inst.quote} is above the limit of "
                        f"{settings['max_order_notional']:f}",
                        details={"limit": "max_order_notional", "value": str(notional),
                                 "maximum": str(settings["max_order_notional"])})


def stop_crossed(order: Order, last: Decimal | None) -> bool:
    """Whether the last trade already crossed the stop price (the order then works at once)."""
    assert order.stop_price is not None
    if last is None:
        return False
    return last >= order.stop_price if order.buy else last <= order.stop_price


def stop_hold_price(inst: Instrument, order: Order) -> Decimal:
    """The price an untriggered stop order is reserved at: its limit price, if it has one.

    A stop market order has none, so it is reserved at its stop price widened by the instrument's
    price band, the room the exchange gives a market order; once triggered, a buy spends no more
    than that reservation.
    """
    assert order.stop_price is not None
    return order.price if order.price is not None else order.stop_price * (1 + inst.band)

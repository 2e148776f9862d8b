"""What an order would cost before it is placed: value, fee, the money it would hold, and the rule it breaks.

An order ticket (the TUI's, or a script's) shows these figures while the trader types, so they
must be the exchange's own: the hold is `exchange.reserve` at the price the exchange would
reserve at, fees use the rates `fees.rates_for` gives the trader, rules are checked by `checks`,
as `trading.place` checks them, and a market order's price is estimated by running
`matching.match` against the book as it is. Nothing is written and no lock is taken, so the
answer may be stale by the time the order is placed: `trading.place` decides.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from du_core.actor import Actor, is_allowed
from du_core.admin import settings as platform
from du_core.errors import DomainError, InsufficientFunds, InvalidInput, PermissionDenied
from du_core.money import exact, parse_amount, quantize_down
from du_core.operations import operation
from du_core.trading import book, checks, exchange, fees, matching, service
from du_core.trading.exchange import Instrument, Order
from du_core.trading.schemas import PlaceOrder
from du_core.validation import Exact, View

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ZERO = Decimal(0)
BOOK_DEPTH = 200  # levels a market order's estimate walks; deeper than any order the band lets through


class OrderPreview(View):
    """The figures of a prospective order; amounts are None where the input does not give them yet."""

    symbol: str
    side: str
    type: str
    base: str
    quote: str
    quantity: Exact | None
    price: Exact | None  # the price the figures use: see price_basis
    price_basis: Literal["limit", "stop", "book", "last"] | None
    notional: Exact | None  # quantity x price in the quote asset, rounded down as fills are
    maker_fee_rate: Exact
    taker_fee_rate: Exact
    fee_rate: Exact  # the rate `fee` is counted at: the taker's for a market order, else the larger
    fee: Exact | None  # at most this (a resting order that fills as a maker pays less)
    hold: Exact | None  # moved from available to held when it is placed (0: a market order holds nothing)
    hold_asset: str
    needs: Exact | None  # what the available balance must cover
    available: Exact
    enough: bool | None
    crosses: bool  # a priced order that would trade at once against the book
    problem: str | None  # the first rule placing it would break, as trading.place says it
    problem_code: str | None


@operation("trading.preview")
def preview_order(session: Session, actor: Actor, req: PlaceOrder) -> OrderPreview:
    """Say what placing `req` would cost and hold, and which rule it would break, without placing it.

    Raises:
        NotFound: no such instrument.
    """
    from du_core.ledger import book as ledger

    settings = platform.current(session)
    inst = exchange.instrument(session, req.symbol, lock=False)
    assert actor.user_id is not None  # trading.preview needs a login
    maker_rate, taker_rate, _ = fees.rates_for(session, actor.user_id, settings)
    hold_asset = inst.quote if req.side == "buy" else inst.base
    hold_places = inst.quote_places if req.side == "buy" else inst.base_places
    parts = ledger.balances(session, actor.user_id).get(hold_asset, {})
    available = exact(parts.get("available", ZERO), hold_places)

    problem: DomainError | None = None
    try:
        _check(session, actor, settings, inst, req)
    except DomainError as err:
        problem = err

    quantity, price, stop = _number(req.quantity), _number(req.price), _number(req.stop_price)
    order = Order(id=uuid.uuid4(), seq=None, user_id=actor.user_id, symbol=inst.symbol,
                  side=req.side, type=req.type, tif=req.tif, price=price if req.type in checks.LIMIT_TYPES else None,
                  stop_price=stop if req.type in checks.STOP_TYPES else None, quantity=quantity or ZERO, filled=ZERO,
                  quote_filled=ZERO, fees=ZERO, status=None, cancel_reason=None, client_order_id=None,
                  post_only=req.post_only, stp=req.stp, hold_asset=hold_asset, held=ZERO,
                  maker_fee_rate=maker_rate, taker_fee_rate=taker_rate)
    at_once = order.stop_price is None or checks.stop_crossed(order, inst.last_price)
    best = _best_opposite(session, inst, order)
    crosses = order.price is not None and at_once and best is not None \
        and matching.crosses(order.side, order.price, best)

    basis: Literal["limit", "stop", "book", "last"] | None = None
    reference = hold = None
    if quantity is not None:
        if order.price is not None:
            reference, basis = order.price, "limit"
            hold = exchange.reserve(inst, order, quantity, order.price)
        elif not at_once:
            reference, basis = order.stop_price, "stop"
            hold = exchange.reserve(inst, order, quantity, checks.stop_hold_price(inst, order))
        else:  # a market order, or a stop market the last trade already crossed: it takes what the book has
            reference, basis = _book_price(session, inst, order, quantity), "book"
            if reference is None and inst.last_price is not None:
                reference, basis = inst.last_price, "last"
            hold = exact(ZERO, hold_places)
    if reference is None:
        basis = None
    fee_rate = taker_rate if order.price is None and at_once else max(maker_rate, taker_rate)
    notional = fee = needs = None
    if quantity is not None and reference is not None:
        notional = quantize_down(reference * quantity, inst.quote_places)
        fee = quantize_down(notional * fee_rate, inst.quote_places)
    if hold is not None and hold > 0:
        needs = hold
    elif req.side == "sell" and quantity is not None:
        needs = exact(quantity, hold_places)
    elif notional is not None and fee is not None:
        needs = notional + fee
    enough = None if needs is None else needs <= available
    if problem is None and enough is False:
        problem = _short(hold_asset, needs, available)  # type: ignore[arg-type]
    return OrderPreview(
        symbol=inst.symbol, side=req.side, type=req.type, base=inst.base, quote=inst.quote,
        quantity=None if quantity is None else exact(quantity, inst.quantity_places),
        price=None if reference is None else exact(reference, inst.price_places), price_basis=basis,
        notional=notional, maker_fee_rate=maker_rate, taker_fee_rate=taker_rate, fee_rate=fee_rate, fee=fee,
        hold=hold, hold_asset=hold_asset, needs=needs, available=available, enough=enough, crosses=crosses,
        problem=None if problem is None else problem.message, problem_code=None if problem is None else problem.code)


def _check(session: Session, actor: Actor, settings: dict[str, Any], inst: Instrument, req: PlaceOrder) -> None:
    """Raise what `trading.place` would raise for this order before it matches (its own checks, in its order)."""
    if not is_allowed(actor, "trading.place"):
        raise PermissionDenied(f"your role ({actor.role.value}) may not trade")
    service.ensure_may_trade(actor)
    checks.check_order(inst, settings, req)
    assert actor.user_id is not None
    checks.check_open_orders(service.open_orders(session, actor.user_id), settings)


def _number(text: str | None) -> Decimal | None:
    """An amount as typed, when it is one (the rules about its places are `_check`'s to report)."""
    if text is None:
        return None
    try:
        return parse_amount(text, 18)
    except InvalidInput:
        return None


def _best_opposite(session: Session, inst: Instrument, order: Order) -> Decimal | None:
    snap = book.snapshot(session, inst.symbol, 1)
    levels = snap.asks if order.buy else snap.bids
    return levels[0][0] if levels else None


def _book_price(session: Session, inst: Instrument, order: Order, quantity: Decimal) -> Decimal | None:
    """The average price a market order of `quantity` would get from the book now (None: nothing to take)."""
    snap = book.snapshot(session, inst.symbol, BOOK_DEPTH)
    levels = snap.asks if order.buy else snap.bids
    makers = [matching.Maker(n, None, price, size, n) for n, (price, size, _) in enumerate(levels)]
    outcome = matching.match(matching.Taker(order.user_id, order.side, quantity, None, "ioc", band=inst.band,
                                            lot=inst.lot), makers)
    if not outcome.filled:
        return None
    value = sum((f.price * f.quantity for f in outcome.fills), ZERO)
    return quantize_down(value / outcome.filled, inst.price_places)


def _short(asset: str, needs: Decimal, available: Decimal) -> DomainError:
    return InsufficientFunds(f"insufficient funds: {needs.normalize():f} {asset} needed, "
                             f"{available.normalize():f} available",
                             details={"asset": asset, "needs": str(needs), "available": str(available)})

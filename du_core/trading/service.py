"""The exchange's operations: placing, cancelling and modifying orders, and what traders read.

Orders go through `exchange` (the hot path); this module checks who may trade, holds what they
typed to the rules in `checks` (shared with `trading.preview`), and builds the views. An order
is its own record (who, what, when, every state it reached, its trades and journal entry), so
order operations are not duplicated into the audit trail; admin changes to instruments are.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core import idempotency
from du_core.actor import Actor
from du_core.admin import settings as platform
from du_core.db import fast
from du_core.errors import InvalidInput, InvalidState, KycRequired, NotFound, RiskLimit
from du_core.money import exact, quantize_down
from du_core.operations import operation
from du_core.trading import checks, exchange, fees, states
from du_core.trading.exchange import Batch, Instrument, Order
from du_core.trading.schemas import (
    ClosePosition, FillView, ModifyOrder, OrderPage, OrderQuery, OrderRef, OrderView, PlaceOrder,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ZERO = Decimal(0)
MIN_TRADING_KYC = 1


def ensure_may_trade(actor: Actor) -> None:
    """Raise unless the actor's KYC level allows trading (roles are checked by the permission table)."""
    if actor.kyc_level < MIN_TRADING_KYC:
        raise KycRequired(f"trading needs KYC level {MIN_TRADING_KYC}; yours is {actor.kyc_level}",
                          details={"required": MIN_TRADING_KYC, "kyc_level": actor.kyc_level})


def open_orders(session: Session, user_id: uuid.UUID) -> int:
    """How many of the user's orders are live: the count `checks.check_open_orders` limits."""
    return fast.execute(session, "SELECT count(*) FROM orders WHERE user_id = %(u)s"
                        " AND status IN ('pending_trigger', 'open', 'partially_filled')", {"u": user_id}).fetchone()[0]


def _find(session: Session, actor: Actor, order_id: uuid.UUID) -> tuple[Instrument, Order]:
    """The caller's order, read after taking its instrument's lock.

    Raises:
        NotFound: no such order of the caller's.
    """
    row = fast.execute(session, "SELECT symbol FROM orders WHERE id = %(id)s AND user_id = %(u)s",
                       {"id": order_id, "u": actor.user_id}).fetchone()
    if row is None:
        raise NotFound("no such order of yours", details={"order_id": str(order_id)})
    inst = exchange.instrument(session, row[0], lock=True)
    order = Order.from_row(fast.execute(session, exchange.SELECT_ORDER + " WHERE id = %(id)s",
                                        {"id": order_id}).fetchone())
    return inst, order


def _view(inst: Instrument, order: Order) -> OrderView:
    pp, qp = inst.price_places, inst.quantity_places
    hold_places = inst.quote_places if order.hold_asset == inst.quote else inst.base_places
    average = None
    if order.filled:
        average = quantize_down(order.quote_filled / order.filled, max(pp, inst.quote_places))
    fills = [FillView(trade_id=f["id"], price=exact(f["price"], pp), quantity=exact(f["quantity"], qp),
                      fee=exact(f["buyer_fee"] if order.buy else f["seller_fee"], inst.quote_places),
                      liquidity="taker" if f["taker_side"] == order.side else "maker", at=f["at"])
             for f in order.fills]
    return OrderView(
        id=order.id, client_order_id=order.client_order_id, symbol=order.symbol, side=order.side, type=order.type,
        tif=order.tif, price=None if order.price is None else exact(order.price, pp),
        stop_price=None if order.stop_price is None else exact(order.stop_price, pp),
        quantity=exact(order.quantity, qp), filled=exact(order.filled, qp), remaining=exact(order.remaining, qp),
        average_price=average, status=order.status or "", cancel_reason=order.cancel_reason,
        post_only=order.post_only, stp=order.stp, held=exact(order.held, hold_places), held_asset=order.hold_asset,
        fees=exact(order.fees, inst.quote_places), created_at=order.created_at, updated_at=order.updated_at,
        fills=fills)


@operation("trading.place")
def place_order(session: Session, actor: Actor, req: PlaceOrder) -> OrderView:
    """Place an order: validate it, match it, settle its fills and rest what is left.

    Raises:
        KycRequired: KYC level below 1.
        TradingDisabled: trading is off or the instrument is halted.
        InvalidInput: a rule of the instrument is broken (the rule is named in details).
        RiskLimit: the order's value or the number of open orders is above its limit.
        InsufficientFunds: the order cannot be paid for.
    """
    assert actor.user_id is not None
    ensure_may_trade(actor)
    return idempotency.once(session, user_id=actor.user_id, key=req.idempotency_key, operation="trading.place",
                            request=req, result_type=OrderView, work=lambda: _place(session, actor, req))


def _place(session: Session, actor: Actor, req: PlaceOrder) -> OrderView:
    assert actor.user_id is not None
    if req.client_order_id is not None:
        row = fast.execute(session, exchange.SELECT_ORDER + " WHERE user_id = %(u)s AND client_order_id = %(c)s",
                           {"u": actor.user_id, "c": req.client_order_id}).fetchone()
        if row is not None:  # a repeat: the original order, as it is now
            order = Order.from_row(row)
            return _view(exchange.instrument(session, order.symbol, lock=False), order)
    settings = platform.current(session)
    inst = exchange.instrument(session, req.symbol, lock=True)
    quantity, price, stop = checks.check_order(inst, settings, req)
    checks.check_open_orders(open_orders(session, actor.user_id), settings)
    maker_rate, taker_rate, _ = fees.rates_for(session, actor.user_id, settings)
    order = Order(id=uuid.uuid4(), seq=None, user_id=actor.user_id, symbol=inst.symbol, side=req.side, type=req.type,
                  tif=req.tif, price=price, stop_price=stop, quantity=quantity, filled=ZERO, quote_filled=ZERO,
                  fees=ZERO, status=None, cancel_reason=None, client_order_id=req.client_order_id,
                  post_only=req.post_only, stp=req.stp, hold_asset=inst.quote if req.side == "buy" else inst.base,
                  held=ZERO, maker_fee_rate=maker_rate, taker_fee_rate=taker_rate)
    batch = Batch(inst)
    if stop is not None and not checks.stop_crossed(order, inst.last_price):
        _rest_stop(session, inst, order)
    else:
        exchange.execute(session, batch, order, band=inst.band)
        if order.quote_filled > settings["max_order_notional"]:  # a market order could not be valued before
            raise RiskLimit(f"order value {order.quote_filled:f} {inst.quote} is above the limit of "
                            f"{settings['max_order_notional']:f}",
                            details={"limit": "max_order_notional", "value": str(order.quote_filled),
                                     "maximum": str(settings["max_order_notional"])})
        exchange.trigger_stops(session, batch)
        exchange.finish(session, batch)
    return _view(inst, order)


def _rest_stop(session: Session, inst: Instrument, order: Order) -> None:
    """Store an untriggered stop order with its worst-case cost reserved."""
    from du_core.ledger import book
    from du_core.ledger.book import Leg

    order.status = states.transition(None, "pending_trigger")
    order.held = exchange.reserve(inst, order, order.quantity, checks.stop_hold_price(inst, order))
    exchange.save(session, order)
    book.post(session, kind="order", created_by=order.user_id, reference_type="order", reference_id=order.id,
              legs=[Leg(order.user_id, order.hold_asset, "available", -order.held),
                    Leg(order.user_id, order.hold_asset, "held", order.held)])


@operation("trading.cancel")
def cancel_order(session: Session, actor: Actor, req: OrderRef) -> OrderView:
    """Cancel one of the caller's live orders and release what it reserved (also while trading is off).

    Raises:
        NotFound: no such order of the caller's.
        InvalidState: the order is already filled or cancelled.
    """
    inst, order = _find(session, actor, req.order_id)
    if order.status in states.FINISHED:
        raise InvalidState(f"this order is already {order.status}", details={"order_id": str(order.id),
                                                                             "status": order.status})
    batch = Batch(inst)
    exchange.release(session, batch, order, "user")
    exchange.finish(session, batch)
    return _view(inst, order)


@operation("trading.modify")
def modify_order(session: Session, actor: Actor, req: ModifyOrder) -> OrderView:
    """Change a live order's quantity or price.

    Reducing the quantity keeps the order's place in the queue; any other change sends it to the
    back, and a new price that crosses the book trades at once, as a taker.

    Raises:
        NotFound, InvalidState, InvalidInput, TradingDisabled, RiskLimit, InsufficientFunds.
    """
    from du_core.ledger import book
    from du_core.ledger.book import Leg

    ensure_may_trade(actor)
    if req.quantity is None and req.price is None:
        raise InvalidInput("give a new --quantity, a new --price or both", details={"field": "quantity"})
    inst, order = _find(session, actor, req.order_id)
    if order.status in states.FINISHED:
        raise InvalidState(f"this order is already {order.status}", details={"order_id": str(order.id),
                                                                             "status": order.status})
    quantity = checks.quantity(inst, req.quantity) if req.quantity is not None else order.quantity
    if req.price is not None and order.price is None:
        raise InvalidInput(f"a {order.type} order has no limit price to change", details={"field": "price"})
    price = checks.price(inst, req.price, "price") if req.price is not None else order.price
    if quantity <= order.filled:
        raise InvalidInput(f"quantity must stay above what has filled ({order.filled.normalize():f})",
                           details={"field": "quantity", "filled": str(order.filled)})
    if quantity == order.quantity and price == order.price:
        raise InvalidInput("that is the order as it is", details={"field": "quantity"})
    settings = platform.current(session)
    keeps_priority = price == order.price and quantity < order.quantity
    if not keeps_priority:
        checks.ensure_trading(settings, inst)
        checks.check_notional(inst, settings, quantity, price or order.stop_price)
    batch = Batch(inst)
    resting = order.status in states.RESTING
    if resting:
        batch.levels.add((order.side, order.price))  # type: ignore[arg-type]
        batch.changed = True
    old_held = order.held
    order.quantity, order.price = quantity, price
    if keeps_priority or not resting:
        worst = checks.stop_hold_price(inst, order) if order.status == "pending_trigger" else price
        order.held = exchange.reserve(inst, order, order.remaining, worst)
        fast.execute(session, "UPDATE orders SET quantity = %(q)s, price = %(p)s, held = %(h)s, updated_at = now()"
                     + ("" if keeps_priority else ", seq = nextval(pg_get_serial_sequence('orders', 'seq'))")
                     + " WHERE id = %(id)s", {"q": quantity, "p": price, "h": order.held, "id": order.id})
        if order.held != old_held:
            book.post(session, kind="order", created_by=order.user_id, reference_type="order",
                      reference_id=order.id,
                      legs=[Leg(order.user_id, order.hold_asset, "available", old_held - order.held),
                            Leg(order.user_id, order.hold_asset, "held", order.held - old_held)])
    else:
        order.seq = fast.execute(session, "UPDATE orders SET quantity = %(q)s, price = %(p)s, updated_at = now(),"
                                 " seq = nextval(pg_get_serial_sequence('orders', 'seq')) WHERE id = %(id)s"
                                 " RETURNING seq", {"q": quantity, "p": price, "id": order.id}).fetchone()[0]
        exchange.execute(session, batch, order, band=inst.band)
        exchange.trigger_stops(session, batch)
    exchange.finish(session, batch)
    row = fast.execute(session, "SELECT updated_at FROM orders WHERE id = %(id)s", {"id": order.id}).fetchone()
    order.updated_at = row[0]
    return _view(inst, order)


@operation("trading.order")
def show_order(session: Session, actor: Actor, req: OrderRef) -> OrderView:
    """One of the caller's orders with every fill it has had.

    Raises:
        NotFound: no such order of the caller's.
    """
    row = fast.execute(session, exchange.SELECT_ORDER + " WHERE id = %(id)s AND user_id = %(u)s",
                       {"id": req.order_id, "u": actor.user_id}).fetchone()
    if row is None:
        raise NotFound("no such order of yours", details={"order_id": str(req.order_id)})
    order = Order.from_row(row)
    for trade_id, price, quantity, taker_side, buyer_fee, seller_fee, at in fast.execute(
            session, "SELECT id, price, quantity, taker_side, buyer_fee, seller_fee, created_at FROM trades"
            " WHERE buy_order_id = %(id)s OR sell_order_id = %(id)s ORDER BY id", {"id": order.id}):
        order.fills.append({"id": trade_id, "price": price, "quantity": quantity, "taker_side": taker_side,
                            "buyer_fee": buyer_fee, "seller_fee": seller_fee, "at": at})
    return _view(exchange.instrument(session, order.symbol, lock=False), order)


@operation("trading.orders")
def list_orders(session: Session, actor: Actor, req: OrderQuery) -> OrderPage:
    """The caller's orders, newest first, by status (`live`: not yet finished) and symbol."""
    conditions = ["user_id = %(u)s"]
    params: dict[str, Any] = {"u": actor.user_id, "limit": req.limit, "offset": req.offset}
    if req.status == "live":
        conditions.append("status IN ('pending_trigger', 'open', 'partially_filled')")
    elif req.status != "all":
        conditions.append("status = %(status)s")
        params["status"] = req.status
    if req.symbol is not None:
        conditions.append("symbol = %(symbol)s")
        params["symbol"] = req.symbol
    where = " WHERE " + " AND ".join(conditions)
    total = fast.execute(session, "SELECT count(*) FROM orders" + where, params).fetchone()[0]
    rows = fast.execute(session, exchange.SELECT_ORDER + where + " ORDER BY seq DESC LIMIT %(limit)s"
                        " OFFSET %(offset)s", params).fetchall()
    instruments: dict[str, Instrument] = {}
    items = []
    for row in rows:
        order = Order.from_row(row)
        if order.symbol not in instruments:
            instruments[order.symbol] = exchange.instrument(session, order.symbol, lock=False)
        items.append(_view(instruments[order.symbol], order))
    return OrderPage(items=items, page=req.page, limit=req.limit, total=total)


@operation("trading.close_position")
def close_position(session: Session, actor: Actor, req: ClosePosition) -> OrderView:
    """Flatten the caller's position in an instrument with one market order.

    Raises:
        InvalidState: there is no position, or it is smaller than the instrument's minimum order.
    """
    assert actor.user_id is not None
    ensure_may_trade(actor)
    return idempotency.once(session, user_id=actor.user_id, key=req.idempotency_key,
                            operation="trading.close_position", request=req, result_type=OrderView,
                            work=lambda: _close(session, actor, req))


def _close(session: Session, actor: Actor, req: ClosePosition) -> OrderView:
    row = fast.execute(session, "SELECT quantity FROM positions WHERE user_id = %(u)s AND symbol = %(s)s",
                       {"u": actor.user_id, "s": req.symbol}).fetchone()
    if row is None or row[0] == 0:
        raise InvalidState(f"you have no position in {req.symbol}", details={"symbol": req.symbol})
    inst = exchange.instrument(session, req.symbol, lock=False)
    size = quantize_down(abs(row[0]), inst.quantity_places)
    size -= size % inst.lot
    if size < inst.min_quantity:
        raise InvalidState(f"the position ({abs(row[0]).normalize():f}) is below the minimum order size",
                           details={"symbol": req.symbol, "min_quantity": str(inst.min_quantity)})
    return _place(session, actor, PlaceOrder(symbol=req.symbol, side="sell" if row[0] > 0 else "buy", type="market",
                                             quantity=format(size, "f"), tif="ioc"))

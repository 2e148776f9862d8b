"""The exchange's hot path: matching an order and settling its fills, inside the placing transaction.

One order costs a handful of round trips, all through psycopg (`du_core.db.fast`): lock the
instrument row (FOR NO KEY UPDATE serialises matching per instrument and returns its freshest
state in the same trip), read the opposite side of the book page by page through its partial
index, let the pure `matching.match()` decide, then write the order, the makers' new state, one
balanced journal entry for everything the order moved, the trades, the positions, the candles, and
one statement that bumps the book's sequence number and notifies the live feed. Stop orders whose
stop price the new trades crossed are triggered in the same transaction, and match in turn.

Money: a buy reserves its worst-case cost in the quote asset (price x quantity x (1 + the larger
fee rate), rounded up); a sell reserves its quantity. A taker pays from what it reserved (or from
its available balance on arrival), a maker from its reservation; notional amounts and fees are
rounded down to the asset's places, so the sum over any split of fills never exceeds the
reservation. Fees (quote asset) go to the platform's fee account in the same entry.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from du_core.db import fast
from du_core.errors import NotFound
from du_core.ledger import book
from du_core.ledger.book import Leg
from du_core.money import quantize_down
from du_core.trading import matching, states

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ZERO = Decimal(0)
ONE = Decimal(1)
PAGE = 16  # makers read per round trip: most orders trade with one to three
MAX_NOTIFY_CHANGES = 100  # more level changes than this become a "resync" notice (8000-byte payloads)
MAX_CASCADE = 1000
TRADES_PER_NOTICE = 40  # about 5 kB of JSON: one notification holds at most 8000 bytes


@dataclass
class Instrument:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    min_notional: Decimal
    band: Decimal
    status: str
    book_seq: int
    last_price: Decimal | None
    base_places: int
    quote_places: int

    @property
    def price_places(self) -> int:
        return places(self.tick)

    @property
    def quantity_places(self) -> int:
        return places(self.lot)


def places(step: Decimal) -> int:
    """The decimal places of a step such as a tick size (0.01 -> 2, 5 -> 0)."""
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


_LOCK = (
    "SELECT i.symbol, i.base, i.quote, i.tick_size, i.lot_size, i.min_quantity, i.max_quantity, i.min_notional,"
    " i.price_band, i.status, i.book_seq, i.last_price, b.precision, q.precision"
    " FROM instruments i JOIN assets b ON b.code = i.base JOIN assets q ON q.code = i.quote"
    " WHERE i.symbol = %(s)s"
)


def instrument(session: Session, symbol: str, *, lock: bool) -> Instrument:
    """The instrument `symbol`; with `lock`, also take its matching lock until the transaction ends.

    Raises:
        NotFound: no such instrument.
    """
    row = fast.execute(session, _LOCK + (" FOR NO KEY UPDATE OF i" if lock else ""), {"s": symbol}).fetchone()
    if row is None:
        raise NotFound(f"no instrument {symbol!r}: see du trading pairs", details={"symbol": symbol})
    return Instrument(*row)


# Columns of an order as the exchange works with it, in this order.
COLUMNS = ("id", "seq", "user_id", "symbol", "side", "type", "tif", "price", "stop_price", "quantity", "filled",
           "quote_filled", "fees", "status", "cancel_reason", "client_order_id", "post_only", "stp", "hold_asset",
           "held", "maker_fee_rate", "taker_fee_rate", "created_at", "updated_at")
SELECT_ORDER = "SELECT " + ", ".join(COLUMNS) + " FROM orders"


@dataclass(eq=False)
class Order:
    """An order in the working memory of one transaction (a row of `orders`, stored or to be)."""

    id: uuid.UUID
    seq: int | None
    user_id: uuid.UUID
    symbol: str
    side: str
    type: str
    tif: str
    price: Decimal | None
    stop_price: Decimal | None
    quantity: Decimal
    filled: Decimal
    quote_filled: Decimal
    fees: Decimal
    status: str | None  # None: not stored yet
    cancel_reason: str | None
    client_order_id: str | None
    post_only: bool
    stp: str
    hold_asset: str
    held: Decimal
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal
    created_at: datetime | None = None
    updated_at: datetime | None = None
    fills: list[dict[str, Any]] = field(default_factory=list)
    stored_status: str | None = None  # what the row says now (None: no row yet)

    @classmethod
    def from_row(cls, row: Any) -> Order:
        order = cls(*row)
        order.stored_status = order.status
        return order

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def buy(self) -> bool:
        return self.side == "buy"


def reserve(inst: Instrument, order: Order, quantity: Decimal, price: Decimal | None) -> Decimal:
    """What resting `quantity` of `order` at `price` needs reserved: quote with fees for a buy, base for a sell."""
    if not order.buy:
        return quantity
    assert price is not None
    rate = max(order.maker_fee_rate, order.taker_fee_rate)
    cost = price * quantity * (ONE + rate)
    return cost.quantize(Decimal(1).scaleb(-inst.quote_places), rounding=ROUND_UP)


@dataclass
class Batch:
    """Everything one transaction changed in one instrument's book, written and announced at its end."""

    inst: Instrument
    levels: set[tuple[str, Decimal]] = field(default_factory=set)
    trades: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False


def _makers(session: Session, inst: Instrument, taker: Order, limit: Decimal | None,
            cache: dict[uuid.UUID, Order]) -> Iterator[matching.Maker]:
    """The opposite side of the book best first, read a page at a time as the matcher asks for more."""
    maker_side = "sell" if taker.buy else "buy"
    order_by = "price, seq" if maker_side == "sell" else "price DESC, seq"
    better = "<" if maker_side == "buy" else ">"
    bound = ""
    if limit is not None:
        bound = " AND price <= %(limit)s" if taker.buy else " AND price >= %(limit)s"
    after: tuple[Decimal, int] | None = None
    while True:
        cursor = ""
        if after is not None:
            cursor = f" AND (price {better} %(p)s OR (price = %(p)s AND seq > %(q)s))"
        rows = fast.execute(
            session,
            # the side is in the text, not a parameter: a generic plan could not use the side's partial index
            f"{SELECT_ORDER} WHERE symbol = %(s)s AND side = '{maker_side}' AND status IN ('open', 'partially_filled')"
            f"{bound}{cursor} ORDER BY {order_by} LIMIT {PAGE}",
            {"s": inst.symbol, "limit": limit,
             "p": after[0] if after else None, "q": after[1] if after else None},
        ).fetchall()
        for row in rows:
            order = Order.from_row(row)
            cache[order.id] = order
            yield matching.Maker(order.id, order.user_id, order.price, order.remaining, order.seq)  # type: ignore[arg-type]
        if len(rows) < PAGE:
            return
        last = cache[rows[-1][0]]
        after = (last.price, last.seq)  # type: ignore[assignment]


def execute(session: Session, batch: Batch, taker: Order, *, band: Decimal | None) -> matching.Outcome:
    """Match `taker` (new, triggered, or re-priced), settle its fills and write everything it changed.

    Raises:
        InsufficientFunds: the taker cannot pay for what it trades and reserves (nothing is written:
            the caller's transaction rolls back).
    """
    inst = batch.inst
    limit = taker.price
    held_before = taker.held
    budget = held_before if (taker.buy and taker.type in ("market", "stop") and held_before > 0) else None
    makers: dict[uuid.UUID, Order] = {}
    outcome = matching.match(
        matching.Taker(taker.user_id, taker.side, taker.remaining, limit, taker.tif, taker.post_only, taker.stp,
                       band if limit is None else None, budget, taker.taker_fee_rate, inst.lot),
        _makers(session, inst, taker, limit, makers),
    )
    quote_unit = inst.quote_places
    legs: dict[tuple[Any, str, str], Decimal] = {}

    def move(owner: uuid.UUID | None, asset: str, purpose: str, amount: Decimal) -> None:
        key = (owner, asset, purpose)
        legs[key] = legs.get(key, ZERO) + amount

    pay_asset, get_asset = (inst.quote, inst.base) if taker.buy else (inst.base, inst.quote)
    spent = received = ZERO
    touched: dict[uuid.UUID, Order] = {}
    for fill in outcome.fills:
        maker = makers[fill.maker.order_id]
        q, p = fill.quantity, fill.price
        notional = quantize_down(p * q, quote_unit)
        taker_fee = quantize_down(notional * taker.taker_fee_rate, quote_unit)
        maker_fee = quantize_down(notional * maker.maker_fee_rate, quote_unit)
        if taker.buy:
            spent += notional + taker_fee
            received += q
            maker_pays, maker_gets = q, notional - maker_fee
        else:
            spent += q
            received += notional - taker_fee
            maker_pays, maker_gets = notional + maker_fee, q
        move(maker.user_id, maker.hold_asset, "held", -maker_pays)
        move(maker.user_id, pay_asset, "available", maker_gets)  # the maker receives what the taker pays
        move(None, inst.quote, "fees", taker_fee + maker_fee)
        maker.held -= maker_pays
        maker.filled += q
        maker.quote_filled += notional
        maker.fees += maker_fee
        taker.filled += q
        taker.quote_filled += notional
        taker.fees += taker_fee
        touched[maker.id] = maker
        batch.levels.add((maker.side, p))
        buyer, seller = (taker, maker) if taker.buy else (maker, taker)
        trade = {"price": p, "quantity": q, "quote_quantity": notional, "taker_side": taker.side,
                 "buy_order_id": buyer.id, "sell_order_id": seller.id, "buyer_id": buyer.user_id,
                 "seller_id": seller.user_id, "buyer_fee": taker_fee if taker.buy else maker_fee,
                 "seller_fee": maker_fee if taker.buy else taker_fee}
        batch.trades.append(trade)
        taker.fills.append(trade)
    for cancelled in outcome.cancelled_makers:
        maker = makers[cancelled.order_id]
        maker.status = states.transition(maker.status, "cancelled")
        maker.cancel_reason = "self_trade"
        touched[maker.id] = maker
        batch.levels.add((maker.side, maker.price))  # type: ignore[arg-type]
    for maker in touched.values():
        if maker.status != "cancelled":
            maker.status = states.after_fill(maker.status, maker.quantity, maker.filled)
        if maker.status in states.FINISHED and maker.held > 0:
            move(maker.user_id, maker.hold_asset, "held", -maker.held)
            move(maker.user_id, maker.hold_asset, "available", maker.held)
            maker.held = ZERO

    # The taker: pay for the fills, reserve what rests, give back what it reserved and no longer needs.
    if outcome.rests:
        taker.status = states.after_fill(taker.status, taker.quantity, taker.filled)
        taker.held = reserve(inst, taker, taker.remaining, limit)
        batch.levels.add((taker.side, limit))  # type: ignore[arg-type]
    else:
        taker.status = states.transition(taker.status, "filled" if taker.remaining == 0 else "cancelled")
        taker.cancel_reason = None if taker.remaining == 0 else outcome.reason
        taker.held = ZERO
    move(taker.user_id, pay_asset, "available", -(spent + taker.held - held_before))
    move(taker.user_id, pay_asset, "held", taker.held - held_before)
    if received:
        move(taker.user_id, get_asset, "available", received)
    if outcome.fills or outcome.cancelled_makers or outcome.rests:
        batch.changed = True

    _write(session, batch, taker, list(touched.values()), legs)
    return outcome


_INSERT_ORDER = (
    "INSERT INTO orders (" + ", ".join(c for c in COLUMNS if c not in ("seq", "created_at", "updated_at"))
    + ") VALUES (" + ", ".join(f"%({c})s" for c in COLUMNS if c not in ("seq", "created_at", "updated_at"))
    + ") RETURNING seq, created_at, updated_at"
)
_UPDATE_ORDERS = (
    "UPDATE orders o SET filled = u.filled, quote_filled = u.quote_filled, fees = u.fees, status = u.status,"
    " cancel_reason = u.cancel_reason, held = u.held, updated_at = now()"
    " FROM unnest(%(ids)s::uuid[], %(filled)s::numeric[], %(quote_filled)s::numeric[], %(fees)s::numeric[],"
    " %(status)s::varchar[], %(reason)s::varchar[], %(held)s::numeric[])"
    " AS u(id, filled, quote_filled, fees, status, cancel_reason, held) WHERE o.id = u.id"
)


def save(session: Session, order: Order) -> None:
    """Insert a new order or write the changed state of a stored one."""
    if order.stored_status is None:
        values = {c: getattr(order, c) for c in COLUMNS if c not in ("seq", "created_at", "updated_at")}
        order.seq, order.created_at, order.updated_at = fast.execute(session, _INSERT_ORDER, values).fetchone()
    else:
        update(session, [order])
    order.stored_status = order.status


def update(session: Session, orders: list[Order]) -> None:
    fast.execute(session, _UPDATE_ORDERS, {
        "ids": [o.id for o in orders], "filled": [o.filled for o in orders],
        "quote_filled": [o.quote_filled for o in orders], "fees": [o.fees for o in orders],
        "status": [o.status for o in orders], "reason": [o.cancel_reason for o in orders],
        "held": [o.held for o in orders]})
    for o in orders:
        o.stored_status = o.status


_INSERT_TRADES = (
    "INSERT INTO trades (symbol, price, quantity, quote_quantity, taker_side, buy_order_id, sell_order_id,"
    " buyer_id, seller_id, buyer_fee, seller_fee, buyer_pnl, seller_pnl, entry_id)"
    " SELECT %(symbol)s, t.price, t.quantity, t.quote, t.taker_side, t.buy, t.sell, t.buyer, t.seller,"
    " t.buyer_fee, t.seller_fee, t.buyer_pnl, t.seller_pnl, t.entry FROM unnest(%(price)s::numeric[], %(quantity)s::numeric[], %(quote)s::numeric[],"
    " %(taker_side)s::varchar[], %(buy)s::uuid[], %(sell)s::uuid[], %(buyer)s::uuid[], %(seller)s::uuid[],"
    " %(buyer_fee)s::numeric[], %(seller_fee)s::numeric[], %(buyer_pnl)s::numeric[], %(seller_pnl)s::numeric[],"
    " %(entry)s::uuid[]) WITH ORDINALITY AS t(price, quantity, quote, taker_side, buy, sell, buyer, seller,"
    " buyer_fee, seller_fee, buyer_pnl, seller_pnl, entry, n) ORDER BY n RETURNING id, created_at"
)


def _write(session: Session, batch: Batch, taker: Order, makers: list[Order],
           legs: dict[tuple[Any, str, str], Decimal]) -> None:
    save(session, taker)
    if makers:
        update(session, makers)
    postings = [Leg(owner, asset, purpose, amount) for (owner, asset, purpose), amount in legs.items() if amount]
    if not postings:
        return
    entry = book.post(session, kind="trade" if taker.fills else "order", legs=postings, created_by=taker.user_id,
                      reference_type="order", reference_id=taker.id)
    if not taker.fills:
        return
    from du_core.trading import positions

    positions.apply(session, batch.inst, taker.fills)
    rows = taker.fills
    ids = fast.execute(session, _INSERT_TRADES, {
        "symbol": batch.inst.symbol, "price": [t["price"] for t in rows], "quantity": [t["quantity"] for t in rows],
        "quote": [t["quote_quantity"] for t in rows], "taker_side": [t["taker_side"] for t in rows],
        "buy": [t["buy_order_id"] for t in rows], "sell": [t["sell_order_id"] for t in rows],
        "buyer": [t["buyer_id"] for t in rows], "seller": [t["seller_id"] for t in rows],
        "buyer_fee": [t["buyer_fee"] for t in rows], "seller_fee": [t["seller_fee"] for t in rows],
        "buyer_pnl": [t.get("buyer_pnl") for t in rows], "seller_pnl": [t.get("seller_pnl") for t in rows],
        "entry": [entry] * len(rows)}).fetchall()
    for trade, (trade_id, at) in zip(rows, ids):
        trade["id"], trade["at"] = trade_id, at


def release(session: Session, batch: Batch, order: Order, reason: str) -> None:
    """Cancel a live order and give back what it reserved."""
    if order.stored_status in states.RESTING:
        batch.levels.add((order.side, order.price))  # type: ignore[arg-type]
        batch.changed = True
    order.status = states.transition(order.status, "cancelled")
    order.cancel_reason = reason
    held, order.held = order.held, ZERO
    update(session, [order])
    if held > 0:
        book.post(session, kind="release", created_by=order.user_id, reference_type="order", reference_id=order.id,
                  legs=[Leg(order.user_id, order.hold_asset, "held", -held),
                        Leg(order.user_id, order.hold_asset, "available", held)])


_STOPS = (
    SELECT_ORDER + " WHERE symbol = %(s)s AND status = 'pending_trigger'"
    " AND ((side = 'buy' AND stop_price <= %(high)s) OR (side = 'sell' AND stop_price >= %(low)s))"
    " ORDER BY seq LIMIT 50"
)


def trigger_stops(session: Session, batch: Batch) -> None:
    """Trigger every stop order a trade of this transaction crossed, in arrival order, and match it.

    A triggered order joins the book as a new arrival: it gets a new sequence number, so it queues
    behind the orders that were resting before it triggered. Its own trades may trigger more.
    """
    if not batch.trades:
        return
    for _ in range(MAX_CASCADE):
        prices = [t["price"] for t in batch.trades]
        rows = fast.execute(session, _STOPS, {"s": batch.inst.symbol, "high": max(prices),
                                              "low": min(prices)}).fetchall()
        if not rows:
            return
        for row in rows:
            stop = Order.from_row(row)
            stop.type = "limit" if stop.type == "stop_limit" else "market"
            stop.seq = fast.execute(session, _REQUEUE, {"id": stop.id}).fetchone()[0]
            execute(session, batch, stop, band=batch.inst.band)


_REQUEUE = "UPDATE orders SET seq = nextval(pg_get_serial_sequence('orders', 'seq')) WHERE id = %(id)s RETURNING seq"


def finish(session: Session, batch: Batch) -> None:
    """Record the candles, bump the book's sequence number and notify the live feed (on commit)."""
    inst = batch.inst
    if not batch.changed and not batch.trades:
        return
    last = batch.trades[-1]["price"] if batch.trades else None
    candles: dict[str, Any] = {}
    if batch.trades:  # the candles are written by the notifying statement, in the same round trip
        candles = {"symbol": inst.symbol, "at": [t["at"] for t in batch.trades],
                   "price": [t["price"] for t in batch.trades], "quantity": [t["quantity"] for t in batch.trades]}
    levels = sorted(batch.levels, key=lambda lv: (lv[0], lv[1]))
    resync = len(levels) > MAX_NOTIFY_CHANGES
    chunks: list[str] = []
    if batch.trades:
        price_unit, quantity_unit = Decimal(1).scaleb(-inst.price_places), Decimal(1).scaleb(-inst.quantity_places)
        tape = [{"id": t["id"], "price": format(t["price"].quantize(price_unit), "f"),
                 "quantity": format(t["quantity"].quantize(quantity_unit), "f"), "taker_side": t["taker_side"],
                 "at": t["at"].isoformat()} for t in batch.trades]
        # a notification carries at most 8000 bytes: a sweep of many makers goes out in several
        chunks = [json.dumps(tape[i:i + TRADES_PER_NOTICE]) for i in range(0, len(tape), TRADES_PER_NOTICE)]
    inst.book_seq = fast.execute(session, _notify_recording() if candles else _NOTIFY, {
        **candles, "s": inst.symbol, "last": last, "resync": resync, "pp": inst.price_places, "qp": inst.quantity_places,
        "sides": [lv[0] for lv in levels] if not resync else [],
        "prices": [lv[1] for lv in levels] if not resync else [],
        "trades": chunks[0] if chunks else None,
    }).fetchone()[0]
    for chunk in chunks[1:]:
        fast.execute(session, "SELECT pg_notify('du_market', json_build_object('topic', 'trades', 'symbol', %(s)s::text,"
                     " 'seq', %(seq)s::bigint, 'trades', %(t)s::json)::text)",
                     {"s": inst.symbol, "seq": inst.book_seq, "t": chunk})
    if last is not None:
        inst.last_price = last


# The level sums take one subquery per side, each naming its side, so that each reads that side's
# partial index (`o.side = k.side` matches neither and would scan every order ever placed).
_NOTIFY = """
WITH bumped AS (
    UPDATE instruments SET book_seq = book_seq + 1, last_price = coalesce(%(last)s::numeric, last_price)
    WHERE symbol = %(s)s RETURNING book_seq
), levels AS (
    SELECT k.side, k.price, coalesce(CASE WHEN k.side = 'buy'
        THEN (SELECT sum(o.quantity - o.filled) FROM orders o WHERE o.symbol = %(s)s AND o.side = 'buy'
              AND o.price = k.price AND o.status IN ('open', 'partially_filled'))
        ELSE (SELECT sum(o.quantity - o.filled) FROM orders o WHERE o.symbol = %(s)s AND o.side = 'sell'
              AND o.price = k.price AND o.status IN ('open', 'partially_filled')) END, 0) AS quantity
    FROM unnest(%(sides)s::varchar[], %(prices)s::numeric[]) AS k(side, price)
)
SELECT b.book_seq,
    pg_notify('du_market', CASE WHEN %(resync)s
        THEN json_build_object('topic', 'book', 'symbol', %(s)s, 'seq', b.book_seq, 'resync', true)::text
        ELSE json_build_object('topic', 'book', 'symbol', %(s)s, 'seq', b.book_seq, 'changes',
            (SELECT coalesce(json_agg(json_build_array(side, round(price, %(pp)s)::text, round(quantity, %(qp)s)::text)),
                             '[]'::json) FROM levels))::text END),
    CASE WHEN %(trades)s::text IS NOT NULL THEN pg_notify('du_market', json_build_object('topic', 'trades',
        'symbol', %(s)s, 'seq', b.book_seq, 'trades', %(trades)s::json)::text) END
FROM bumped b
"""


@functools.cache
def _notify_recording() -> str:
    """_NOTIFY that also records the transaction's trades in the candles (du_core.market.candles)."""
    from du_core.market.candles import RECORD

    return "WITH recorded AS (" + RECORD + ")," + _NOTIFY.replace("WITH bumped AS", " bumped AS", 1)

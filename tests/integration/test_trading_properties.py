"""Random order flows through the exchange on a real database keep the book and the books honest.

Hypothesis draws sequences of orders (limit, market, stop, stop-limit; GTC, IOC, FOK; post-only;
every self-trade mode; both sides), cancels and modifies, by four traders on two instruments:
BTC-USD, and ETH-BTC, whose quote asset is the other one's base, so one balance pays on both
books. Each example runs on a fresh database cloned from one where the traders were funded and a
small book placed (two levels a side on each instrument), so a failing example replays exactly.

After every operation:
- the book is not crossed (best bid < best ask on each instrument);
- the trades it made took their makers in price-time order: no order that was resting before the
  operation and is still untouched after it had a better price, or the same price and an earlier
  arrival on the book, than a maker that traded (arrival is tracked by the test itself: when an
  order started resting, or last lost its priority by a modify);
- each trade is at the maker's price, within the taker's limit, between two different users;
- no untriggered stop lies beyond the instrument's last price.

After the sequence, for every order: filled <= quantity and equal to the sum of its trades (so are
its quote total and fees), a status that agrees with its fills and type, nothing held once
finished, and while it rests enough held to pay for the rest of it as a maker. Positions net to
zero and match the trades; each user's balance of each asset is their deposit plus what their
trades moved; the fee accounts hold exactly the trades' fees; each asset is conserved (what the
accounts hold is what was deposited); no balance is negative; and `book.verify()` finds no drift,
no unbalanced entry, and held accounts equal to the live orders' reservations.
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from du_core.errors import DomainError, InsufficientFunds, InvalidInput, InvalidState
from du_core.trading.schemas import ModifyOrder, OrderRef, PlaceOrder
from tests.conftest import _admin, _with_database
from tests.integration.trading_helpers import call, trader, verify

D = Decimal
TRADERS = 4
FUNDS = {"USD": "2000.00", "BTC": "0.05", "ETH": "0.5"}  # a few orders' worth each: some are refused
RESTING = ("open", "partially_filled")
FINISHED = ("filled", "cancelled")


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    mid: Decimal
    step: Decimal  # between the prices the test uses (a multiple of the tick size)
    lot: Decimal  # the quantity unit the test uses (a multiple of the lot size, above the minimum notional)
    tick: Decimal
    lot_size: Decimal
    quote_places: int


MARKETS = (
    Market("BTC-USD", "BTC", "USD", D("50000"), D("1"), D("0.001"), D("0.01"), D("0.0001"), 2),
    Market("ETH-BTC", "ETH", "BTC", D("0.05"), D("0.00001"), D("0.01"), D("0.00001"), D("0.001"), 8),
)
BY_SYMBOL = {m.symbol: m for m in MARKETS}


# --- the operations Hypothesis draws --------------------------------------------------------

@dataclass(frozen=True)
class Place:
    who: int
    market: int
    side: str
    type: str
    lots: int
    price: int | None  # steps from the mid
    stop: int | None
    tif: str
    post_only: bool
    stp: str

    def request(self) -> dict[str, Any]:
        m = MARKETS[self.market]
        fields: dict[str, Any] = {"symbol": m.symbol, "side": self.side, "type": self.type,
                                  "quantity": str(m.lot * self.lots), "tif": self.tif,
                                  "post_only": self.post_only, "stp": self.stp}
        if self.price is not None:
            fields["price"] = str(m.mid + m.step * self.price)
        if self.stop is not None:
            fields["stop_price"] = str(m.mid + m.step * self.stop)
        return fields


@dataclass(frozen=True)
class Cancel:
    who: int
    pick: int  # which of the trader's orders (modulo how many they placed)


@dataclass(frozen=True)
class Modify:
    who: int
    pick: int
    lots: int | None
    price: int | None


Op = Place | Cancel | Modify
# Every example starts from a small book on both instruments, so that its first orders have something to trade with.
SEED = [Place(who, market, side, "limit", lots, price, None, "gtc", False, "cancel_newest")
        for market in range(len(MARKETS)) for who, lots, distance in ((0, 2, 2), (1, 1, 1))
        for side, price in (("buy", -distance), ("sell", distance))]
offsets = st.integers(-3, 3)
who = st.integers(0, TRADERS - 1)


@st.composite
def places(draw: st.DrawFn) -> Place:
    kind = draw(st.sampled_from(("limit", "limit", "limit", "market", "stop", "stop_limit")))
    return Place(
        who=draw(who), market=draw(st.integers(0, len(MARKETS) - 1)), side=draw(st.sampled_from(("buy", "sell"))),
        type=kind, lots=draw(st.integers(1, 8)),
        price=draw(offsets) if kind in ("limit", "stop_limit") else None,
        stop=draw(offsets) if kind in ("stop", "stop_limit") else None,
        tif=draw(st.sampled_from(("gtc", "gtc", "gtc", "ioc", "fok"))),
        post_only=kind == "limit" and draw(st.sampled_from((False, False, False, True))),
        stp=draw(st.sampled_from(("cancel_newest", "cancel_oldest", "cancel_both"))),
    )


cancels = st.builds(Cancel, who=who, pick=st.integers(0, 30))
modifies = st.one_of(
    st.builds(Modify, who=who, pick=st.integers(0, 30), lots=st.integers(1, 8), price=st.none()),
    st.builds(Modify, who=who, pick=st.integers(0, 30), lots=st.none(), price=offsets),
    st.builds(Modify, who=who, pick=st.integers(0, 30), lots=st.integers(1, 8), price=offsets))
flows = st.lists(st.one_of(places(), places(), places(), places(), cancels, modifies), min_size=10, max_size=40)


# --- the book as the test sees it -----------------------------------------------------------

class Resting(NamedTuple):
    symbol: str
    side: str
    price: Decimal
    seq: int
    filled: Decimal
    status: str
    type: str
    user_id: uuid.UUID


class Trade(NamedTuple):
    id: int
    symbol: str
    price: Decimal
    quantity: Decimal
    taker_side: str
    buy_order_id: uuid.UUID
    sell_order_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    maker_price: Decimal
    maker_seq: int
    maker_type: str
    taker_limit: Decimal | None  # the taker's limit price as it is after the operation

    @property
    def maker_id(self) -> uuid.UUID:
        return self.sell_order_id if self.taker_side == "buy" else self.buy_order_id

    @property
    def maker_side(self) -> str:
        return "sell" if self.taker_side == "buy" else "buy"


def better(side: str, price: Decimal, than: Decimal) -> bool:
    """Whether a resting order at `price` comes before one at `than` on `side`, by price alone."""
    return price < than if side == "sell" else price > than


class Exchange:
    """One example: its traders, the orders they placed, and when each resting order entered the book."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.traders = [trader(engine, **FUNDS) for _ in range(TRADERS)]
        self.orders: list[list[tuple[uuid.UUID, Market]]] = [[] for _ in range(TRADERS)]
        # order id -> (operation number, 0 for the operation's own order, seq): its place in the queue by time
        self.arrival: dict[uuid.UUID, tuple[int, int, int]] = {}
        self.refusals: list[str] = []
        self.resting: dict[uuid.UUID, Resting] = {}  # the book after the last operation
        self.last_trade = 0
        for number, op in enumerate(SEED):
            self.apply(number - len(SEED), op)

    def on(self, engine: Any) -> Exchange:
        """A copy of this example's state, working on `engine` (a clone of this one's database)."""
        clone = copy.deepcopy({k: v for k, v in vars(self).items() if k != "engine"})
        exchange = object.__new__(Exchange)
        vars(exchange).update(clone, engine=engine)
        return exchange

    def query(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def apply(self, number: int, op: Op) -> None:
        """Run one operation, check the refusal if any, then the invariants that hold after every operation."""
        actor = self.traders[op.who]
        own: uuid.UUID | None = None
        try:
            if isinstance(op, Place):
                own = call(self.engine, actor, "trading.place", PlaceOrder, **op.request()).id
                self.orders[op.who].append((own, MARKETS[op.market]))
            elif not self.orders[op.who]:
                return
            else:
                own, m = self.orders[op.who][op.pick % len(self.orders[op.who])]
                if isinstance(op, Cancel):
                    call(self.engine, actor, "trading.cancel", OrderRef, order_id=own)
                else:
                    fields = {"quantity": None if op.lots is None else str(m.lot * op.lots),
                              "price": None if op.price is None else str(m.mid + m.step * op.price)}
                    call(self.engine, actor, "trading.modify", ModifyOrder, order_id=own,
                         **{k: v for k, v in fields.items() if v is not None})
        except DomainError as err:
            self.refusals.append(err.code)
            assert expected_refusal(op, err), \
                f"operation {number} {op} refused unexpectedly: {err.code} {err!r} {err.details}"
        before = self.resting
        with self.engine.connect() as conn:
            self.resting = {r[0]: Resting(*r[1:]) for r in conn.execute(text(
                "SELECT id, symbol, side, price, seq, filled, status, type, user_id FROM orders"
                " WHERE status IN ('open', 'partially_filled')"))}
            trades = [Trade(*r) for r in conn.execute(text(
                "SELECT t.id, t.symbol, t.price, t.quantity, t.taker_side, t.buy_order_id, t.sell_order_id,"
                " t.buyer_id, t.seller_id, m.price, m.seq, m.type, k.price FROM trades t"
                " JOIN orders m ON m.id = CASE WHEN t.taker_side = 'buy' THEN t.sell_order_id ELSE t.buy_order_id END"
                " JOIN orders k ON k.id = CASE WHEN t.taker_side = 'buy' THEN t.buy_order_id ELSE t.sell_order_id END"
                " WHERE t.id > :t ORDER BY t.id"), {"t": self.last_trade})]
        self.last_trade = max([self.last_trade, *(t.id for t in trades)])
        self._arrivals(number, own, before, trades)
        check_book_not_crossed(self.query)
        self._check_priority(number, op, before, trades)
        self._check_trade_prices(trades)

    def _arrivals(self, number: int, own: uuid.UUID | None, before: dict[uuid.UUID, Resting],
                  trades: list[Trade]) -> None:
        """Stamp the orders that entered the book in this operation (or lost their place in it)."""
        entered = {t.maker_id: t.maker_seq for t in trades if t.maker_id not in before}
        for order_id, now in self.resting.items():
            old = before.get(order_id)
            if old is None or (now.price, now.seq) != (old.price, old.seq):
                entered[order_id] = now.seq
        for order_id, seq in entered.items():
            self.arrival[order_id] = (number, 0 if order_id == own else 1, seq)

    def _check_priority(self, number: int, op: Op, before: dict[uuid.UUID, Resting], trades: list[Trade]) -> None:
        untouched = {i: r for i, r in before.items() if self.resting.get(i) == r}
        for t in trades:
            assert t.maker_price == t.price, f"trade {t.id} at {t.price}, not at its maker's price {t.maker_price}"
            for other_id, other in untouched.items():
                if other.symbol != t.symbol or other.side != t.maker_side or other_id == t.maker_id:
                    continue
                if better(t.maker_side, t.price, other.price):
                    continue
                assert t.price == other.price and self.arrival[t.maker_id] < self.arrival[other_id], (
                    f"operation {number} {op}: trade {t.id} took maker {t.maker_id} at {t.price}"
                    f" (arrived {self.arrival[t.maker_id]}) while {other_id} rested untouched at {other.price}"
                    f" (arrived {self.arrival[other_id]})")

    def _check_trade_prices(self, trades: list[Trade]) -> None:
        for t in trades:
            assert t.buyer_id != t.seller_id, f"trade {t.id}: a user traded with themselves"
            if t.taker_limit is not None:
                assert (t.price <= t.taker_limit) if t.taker_side == "buy" else (t.price >= t.taker_limit), \
                    f"trade {t.id} at {t.price} is beyond its taker's limit {t.taker_limit}"

    def describe(self) -> None:
        """Tell Hypothesis's statistics what the example did (`pytest --hypothesis-show-statistics`)."""
        trades, triggered, self_trade = self.query(
            "SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM orders WHERE type IN ('stop', 'stop_limit')"
            " AND status <> 'pending_trigger'), (SELECT count(*) FROM orders WHERE cancel_reason = 'self_trade')")[0]
        event(f"trades: {'none' if not trades else '1-4' if trades < 5 else '5+'}")
        event(f"stops triggered: {'none' if not triggered else 'some'}")
        event(f"self-trade cancels: {'none' if not self_trade else 'some'}")
        for code in set(self.refusals):
            event(f"refused: {code}")

    def check_everything(self) -> None:
        """The invariants of the whole sequence: orders, trades, positions, balances, the ledger."""
        deposits = {a.user_id: {asset: D(amount) for asset, amount in FUNDS.items()} for a in self.traders}
        check_books(self.engine, deposits)


def expected_refusal(op: Op, err: DomainError) -> bool:
    """Whether a refusal is one this operation may meet: never a constraint the service did not foresee."""
    if isinstance(err, InvalidInput) and "constraint" in err.details:
        return False
    if isinstance(op, Place):
        return isinstance(err, InsufficientFunds)
    if isinstance(op, Cancel):
        return isinstance(err, InvalidState)
    # a modify: of a finished order, to a quantity at or below what filled, to the order as it is,
    # a price for a stop (market) order, or more than the trader can pay
    return isinstance(err, (InvalidState, InvalidInput, InsufficientFunds))


# --- the checks at the end of a sequence ------------------------------------------------------

Query = Callable[..., list[Any]]


def check_books(engine: Any, deposits: dict[uuid.UUID, dict[str, Decimal]]) -> None:
    """Check every invariant of a quiet exchange whose only money came in as `deposits` (user -> asset -> amount)."""

    def query(sql: str, **params: Any) -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    check_orders(query)
    check_trades(query)
    check_positions(query)
    check_money(query, deposits)
    check_book_not_crossed(query)
    verification = verify(engine)
    assert verification.ok, verification


def check_book_not_crossed(query: Query) -> None:
    """The best bid is below the best ask on every instrument, and no untriggered stop lies beyond the last price."""
    for symbol, bid, ask in query(
            "SELECT symbol, max(price) FILTER (WHERE side = 'buy'), min(price) FILTER (WHERE side = 'sell')"
            " FROM orders WHERE status IN ('open', 'partially_filled') GROUP BY symbol"):
        assert bid is None or ask is None or bid < ask, f"{symbol} crossed: best bid {bid} >= best ask {ask}"
    for symbol, side, stop, last in query(
            "SELECT o.symbol, o.side, o.stop_price, i.last_price FROM orders o JOIN instruments i"
            " ON i.symbol = o.symbol WHERE o.status = 'pending_trigger' AND i.last_price IS NOT NULL"):
        crossed = last >= stop if side == "buy" else last <= stop
        assert not crossed, f"a {side} stop at {stop} on {symbol} is still waiting, the last price is {last}"


def check_orders(query: Query) -> None:
    rows = query(
        "SELECT o.id, o.symbol, o.type, o.tif, o.side, o.status, o.cancel_reason, o.quantity, o.filled,"
        " o.quote_filled, o.fees, o.held, o.price, o.maker_fee_rate,"
        " coalesce(sum(t.quantity), 0) AS traded, coalesce(sum(t.quote_quantity), 0) AS traded_quote,"
        " coalesce(sum(CASE WHEN t.buy_order_id = o.id THEN t.buyer_fee ELSE t.seller_fee END), 0) AS traded_fees"
        " FROM orders o LEFT JOIN trades t ON t.buy_order_id = o.id OR t.sell_order_id = o.id GROUP BY o.id")
    for o in rows:
        where = f"order {o.id} ({o.type} {o.tif} {o.side} {o.status})"
        assert D(0) <= o.filled <= o.quantity, f"{where}: filled {o.filled} of {o.quantity}"
        assert (o.filled, o.quote_filled, o.fees) == (o.traded, o.traded_quote, o.traded_fees), \
            f"{where}: filled/quote/fees {o.filled}/{o.quote_filled}/{o.fees}, its trades say " \
            f"{o.traded}/{o.traded_quote}/{o.traded_fees}"
        assert (o.status == "filled") == (o.filled == o.quantity), f"{where}: filled {o.filled} of {o.quantity}"
        if o.status in ("open", "pending_trigger"):
            assert o.filled == 0, f"{where}: filled {o.filled}"
        if o.status == "partially_filled":
            assert 0 < o.filled < o.quantity, f"{where}: filled {o.filled} of {o.quantity}"
        assert (o.status == "cancelled") == (o.cancel_reason is not None), f"{where}: reason {o.cancel_reason}"
        if o.status in FINISHED:
            assert o.held == 0, f"{where}: still holds {o.held}"
        else:
            assert o.held > 0, f"{where}: holds nothing"
        if o.type in ("market", "stop") or o.tif in ("ioc", "fok"):
            assert o.status not in RESTING, f"{where}: rests on the book"
        if o.tif == "fok":
            assert o.filled in (0, o.quantity), f"{where}: filled {o.filled} of {o.quantity}"
        if o.status in RESTING:
            remaining = o.quantity - o.filled
            if o.side == "sell":
                assert o.held == remaining, f"{where}: holds {o.held} for {remaining}"
            else:
                needs = o.price * remaining * (1 + o.maker_fee_rate)
                assert o.held >= needs, f"{where}: holds {o.held}, its rest costs up to {needs}"


def check_trades(query: Query) -> None:
    rows = query(
        "SELECT t.id, t.symbol, t.price, t.quantity, t.quote_quantity, t.taker_side, t.buyer_fee, t.seller_fee,"
        " b.taker_fee_rate AS buyer_taker, b.maker_fee_rate AS buyer_maker, s.taker_fee_rate AS seller_taker,"
        " s.maker_fee_rate AS seller_maker, CASE WHEN t.taker_side = 'buy' THEN b.post_only ELSE s.post_only END"
        " AS taker_post_only FROM trades t JOIN orders b ON b.id = t.buy_order_id"
        " JOIN orders s ON s.id = t.sell_order_id")
    for t in rows:
        m = BY_SYMBOL[t.symbol]
        unit = D(1).scaleb(-m.quote_places)
        assert t.price % m.tick == 0 and t.quantity % m.lot_size == 0 and t.quantity > 0, f"trade {t.id}: off grid"
        assert t.quote_quantity == (t.price * t.quantity).quantize(unit, ROUND_DOWN), f"trade {t.id}: notional"
        buyer_rate = t.buyer_taker if t.taker_side == "buy" else t.buyer_maker
        seller_rate = t.seller_taker if t.taker_side == "sell" else t.seller_maker
        assert t.buyer_fee == (t.quote_quantity * buyer_rate).quantize(unit, ROUND_DOWN), f"trade {t.id}: buyer fee"
        assert t.seller_fee == (t.quote_quantity * seller_rate).quantize(unit, ROUND_DOWN), f"trade {t.id}: seller fee"
        assert not t.taker_post_only, f"trade {t.id}: a post-only order took liquidity"


def _trade_rows(query: Query) -> list[Any]:
    return query("SELECT symbol, price, quantity, quote_quantity, buyer_id, seller_id, buyer_fee, seller_fee"
                 " FROM trades")


def check_positions(query: Query) -> None:
    expected: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
    for t in _trade_rows(query):
        expected[(t.buyer_id, t.symbol)] += t.quantity
        expected[(t.seller_id, t.symbol)] -= t.quantity
    held = {(u, s): q for u, s, q in query("SELECT user_id, symbol, quantity FROM positions")}
    for key in expected.keys() | held.keys():
        assert held.get(key, D(0)) == expected.get(key, D(0)), f"position {key}: {held.get(key)} != {expected.get(key)}"
    for symbol, total in query("SELECT symbol, sum(quantity) FROM positions GROUP BY symbol"):
        assert total == 0, f"positions in {symbol} net to {total}"


def check_money(query: Query, deposits: dict[uuid.UUID, dict[str, Decimal]]) -> None:
    expected: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
    deposited: dict[str, Decimal] = defaultdict(Decimal)
    for user, amounts in deposits.items():
        for asset, amount in amounts.items():
            expected[(user, asset)] += amount
            deposited[asset] += amount
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for t in _trade_rows(query):
        m = BY_SYMBOL[t.symbol]
        expected[(t.buyer_id, m.base)] += t.quantity
        expected[(t.buyer_id, m.quote)] -= t.quote_quantity + t.buyer_fee
        expected[(t.seller_id, m.base)] -= t.quantity
        expected[(t.seller_id, m.quote)] += t.quote_quantity - t.seller_fee
        fees[m.quote] += t.buyer_fee + t.seller_fee
    owned = {(o, a): b for o, a, b in query(
        "SELECT owner_id, asset, sum(balance) FROM ledger_accounts WHERE owner_id IS NOT NULL"
        " GROUP BY owner_id, asset")}
    for key in expected.keys() | owned.keys():
        assert owned.get(key, D(0)) == expected.get(key, D(0)), \
            f"user {key[0]} holds {owned.get(key)} {key[1]}, deposits and trades say {expected.get(key)}"
    lowest = query("SELECT min(balance) FROM ledger_accounts WHERE owner_id IS NOT NULL")[0][0]
    assert lowest >= 0, f"a balance is negative: {lowest}"
    by_purpose = {(asset, purpose): total for asset, purpose, total in query(
        "SELECT a.asset, a.purpose, sum(p.amount) FROM postings p JOIN ledger_accounts a ON a.id = p.account_id"
        " WHERE a.owner_id IS NULL GROUP BY a.asset, a.purpose")}
    for asset, total in deposited.items():
        assert by_purpose.get((asset, "external")) == -total, f"{asset}: the external account moved"
        assert by_purpose.get((asset, "fees"), D(0)) == fees[asset], \
            f"{asset}: fee account {by_purpose.get((asset, 'fees'))}, trades' fees {fees[asset]}"
        inside = sum((b for (o, a), b in owned.items() if a == asset), D(0)) + fees[asset]
        assert inside == total, f"{asset}: {inside} inside the platform, {total} deposited"


# --- the tests --------------------------------------------------------------------------------

@contextmanager
def fresh_database(server_url: str, template: str) -> Iterator[Any]:
    """An engine on a new database cloned from `template`, dropped afterwards."""
    from du_core.db.engine import create

    name = f"du_prop_{uuid.uuid4().hex[:12]}"
    _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    engine = create(_with_database(server_url, name))
    try:
        yield engine
    finally:
        engine.dispose()
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def seeded(server_url: str, template_url: str) -> Iterator[tuple[str, Exchange]]:
    """A database with the traders funded and the seed book placed, to clone for every example."""
    from sqlalchemy.engine import make_url

    from du_core.db.engine import create

    name = f"du_prop_seed_{uuid.uuid4().hex[:8]}"
    _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template_url).database}"')
    engine = create(_with_database(server_url, name))
    exchange = Exchange(engine)
    engine.dispose()  # a template takes no connections
    yield name, exchange
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=flows)
def test_random_order_flows_keep_the_book_and_the_books_honest(server_url, seeded, ops):
    template, seed = seeded
    with fresh_database(server_url, template) as engine:
        exchange = seed.on(engine)
        for number, op in enumerate(ops):
            exchange.apply(number, op)
        exchange.check_everything()
        exchange.describe()


# --- what the properties found ----------------------------------------------------------------

def place(engine: Any, actor: Any, **fields: Any) -> Any:
    fields.setdefault("symbol", "BTC-USD")
    return call(engine, actor, "trading.place", PlaceOrder, **fields)


def test_a_triggered_stop_limit_queues_behind_the_orders_already_resting(engine):
    early, waiting, buyer, seller = (trader(engine, BTC="1"), trader(engine, BTC="1"),
                                     trader(engine, USD="100000.00"), trader(engine, BTC="1"))
    stop = place(engine, waiting, side="sell", type="stop_limit", quantity="0.1", price="50100", stop_price="49000")
    first = place(engine, early, side="sell", quantity="0.1", price="50100")  # on the book from now on
    place(engine, buyer, side="buy", quantity="0.1", price="49000")
    place(engine, seller, side="sell", type="market", quantity="0.1")  # trades at 49000: the stop rests at 50100
    assert call(engine, waiting, "trading.order", OrderRef, order_id=stop.id).status == "open"
    place(engine, buyer, side="buy", type="market", quantity="0.1")
    assert call(engine, early, "trading.order", OrderRef, order_id=first.id).status == "filled"


def test_every_stop_a_trade_crosses_fires_however_many_there_are(engine):
    stopper, buyer, seller = trader(engine, BTC="1"), trader(engine, USD="100000.00"), trader(engine, BTC="1")
    for _ in range(51):  # nothing below 49000 to sell into: each stop that fires is cancelled (no liquidity)
        place(engine, stopper, side="sell", type="stop", quantity="0.001", stop_price="49000")
    place(engine, buyer, side="buy", quantity="0.001", price="49000")
    place(engine, seller, side="sell", type="market", quantity="0.001")  # trades at 49000: crosses all 51
    with engine.connect() as conn:
        waiting = conn.execute(text("SELECT count(*) FROM orders WHERE status = 'pending_trigger'")).scalar_one()
    assert waiting == 0

"""The simulated traders' behaviour: makers quote ladders around the fair price, takers trade against them.

Every order and cancel is the trader's own call of `trading.place` / `trading.cancel` through the
runner, so it passes the same permission, KYC, rule, risk and funds checks as a person's. A
domain error of one order is counted by its code and the trader carries on; running short of an
asset tops it up with a sandbox deposit (at most once in `TOP_UP_PAUSE` seconds per asset). Only
`DatabaseUnavailable` escapes an agent: the run cannot go on without its database.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core.db.runner import run
from du_core.errors import DatabaseUnavailable, DomainError, InsufficientFunds
from du_core.simulation.market import FairPrice, Rules
from du_core.simulation.traders import SimTrader, deposit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from du_core.trading.schemas import OrderView

HALF_SPREAD = 0.0004  # a maker's best quotes sit 4 basis points either side of the fair price
LEVEL_STEP = 0.0003  # and each further level 3 basis points beyond the one before
QUOTE_NOTIONALS = (10.0, 60.0)  # a quote is worth this many instrument minimum notionals
MAX_QUOTE_AGE = 20.0  # seconds; older quotes are replaced even when still near their level
TAKER_REST = 2.0  # seconds a taker's resting leftover may wait before it cancels it
TOP_UP_PAUSE = 10.0
ZERO = Decimal(0)


@dataclass
class Tally:
    """The run's counts, shared by every worker thread."""

    placed: int = 0
    filled: int = 0
    partially_filled: int = 0
    rested: int = 0
    cancelled: int = 0
    trades: int = 0
    deposits: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    volume: dict[str, Decimal] = field(default_factory=dict)
    last_prices: dict[str, Decimal] = field(default_factory=dict)
    stopped_by: str | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def order(self, view: OrderView) -> None:
        """Count a placed order by what happened to it on arrival."""
        with self.lock:
            self.placed += 1
            self.trades += len(view.fills)
            for fill in view.fills:
                self.volume[view.symbol] = self.volume.get(view.symbol, ZERO) + fill.price * fill.quantity
            if view.fills:
                self.last_prices[view.symbol] = view.fills[-1].price
            if view.status == "filled":
                self.filled += 1
            elif view.filled > 0:
                self.partially_filled += 1
            elif view.status == "open":
                self.rested += 1
            else:
                self.rejected[view.cancel_reason or "cancelled"] += 1

    def reject(self, reason: str) -> None:
        with self.lock:
            self.rejected[reason] += 1

    def add(self, counter: str) -> None:
        """Count one more of `counter` ("cancelled" or "deposits")."""
        with self.lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def halt(self, stopped_by: str, error: str | None, stop: threading.Event) -> None:
        """Record why the run stops (the first reason wins) and stop every worker."""
        with self.lock:
            if self.stopped_by is None:
                self.stopped_by, self.error = stopped_by, error
        stop.set()


@dataclass
class World:
    """What all agents of a run share."""

    engine: Engine
    rules: dict[str, Rules]
    fair: dict[str, FairPrice]
    targets: dict[str, Decimal]  # funding per asset, for top-ups
    places: dict[str, int]  # decimal places per asset
    levels: int
    tally: Tally
    stop: threading.Event
    clock: Any = time.monotonic


class Agent:
    """One simulated trader's behaviour; used by one worker thread only."""

    def __init__(self, trader: SimTrader, world: World, *, rng: random.Random) -> None:
        self.trader, self.world, self.rng = trader, world, rng
        self._topped_up: dict[str, float] = {}

    def warm_up(self) -> None:
        """Prepare before the paced run (makers: quote a full ladder)."""

    def act(self) -> None:
        """Send one order, with whatever it needs (a read, a cancel)."""
        raise NotImplementedError

    def _call(self, op: Any, request: Any) -> Any:
        from du_core.errors import Unavailable

        try:
            return run(self.world.engine, op, request, actor=self.trader.actor)
        except DatabaseUnavailable:
            raise
        except InsufficientFunds as err:
            self.world.tally.reject(err.code)
            self._top_up(err.details.get("asset"))
        except Unavailable as err:  # maintenance, trading switched off: wait a little, then go on
            self.world.tally.reject(err.code)
            self.world.stop.wait(0.5)
        except DomainError as err:
            self.world.tally.reject(err.code)
        return None

    def place(self, symbol: str, side: str, *, quantity: Decimal, order_type: str = "limit",
              price: Decimal | None = None, tif: str = "gtc", post_only: bool = False) -> OrderView | None:
        from du_core.trading import service as trading
        from du_core.trading.schemas import PlaceOrder

        request = PlaceOrder(symbol=symbol, side=side, type=order_type, quantity=format(quantity, "f"),
                             price=None if price is None else format(price, "f"), tif=tif, post_only=post_only)
        view = self._call(trading.place_order, request)
        if view is not None:
            self.world.tally.order(view)
        return view

    def cancel(self, order_id: Any) -> bool:
        """Cancel an order of this trader's; False when it had filled or gone meanwhile."""
        from du_core.errors import InvalidState, NotFound
        from du_core.trading import service as trading
        from du_core.trading.schemas import OrderRef

        try:
            run(self.world.engine, trading.cancel_order, OrderRef(order_id=order_id), actor=self.trader.actor)
        except (InvalidState, NotFound):
            return False  # it filled first: not an error of the simulation
        except DatabaseUnavailable:
            raise
        except DomainError as err:
            self.world.tally.reject(f"cancel_{err.code}")
            return False
        self.world.tally.add("cancelled")
        return True

    def _top_up(self, asset: str | None) -> None:
        now = self.world.clock()
        if asset not in self.world.targets or now - self._topped_up.get(asset, -TOP_UP_PAUSE) < TOP_UP_PAUSE:
            return
        self._topped_up[asset] = now
        try:
            deposit(self.world.engine, self.trader, asset=asset, amount=self.world.targets[asset],
                    places=self.world.places[asset])
        except DatabaseUnavailable:
            raise
        except DomainError as err:
            self.world.tally.reject(f"deposit_{err.code}")
            return
        self.world.tally.add("deposits")


class Maker(Agent):
    """Quotes `levels` bids and asks per symbol around the fair price, post-only, and keeps them fresh.

    Each action reads the maker's live quotes of one symbol (its own orders only), cancels the
    most exposed stale one (the book moved away from it, or it is old), and places the missing
    level nearest the fair price on its thinner side. Quotes are larger than most taker orders,
    so one quote a maker action keeps the book's depth.
    """

    def __init__(self, trader: SimTrader, world: World, *, rng: random.Random) -> None:
        super().__init__(trader, world, rng=rng)
        symbols = list(world.rules)
        rng.shuffle(symbols)
        self._symbols = itertools.cycle(symbols)

    def warm_up(self) -> None:
        for symbol in self.world.rules:
            live = self._live(symbol)
            if live is None:
                continue
            fair = self.world.fair[symbol].now()
            for side, price in self._missing(symbol, fair, live):
                if self.world.stop.is_set():
                    return
                self._quote(symbol, side, price)

    def act(self) -> None:
        symbol = next(self._symbols)
        live = self._live(symbol)
        if live is None:
            return
        fair = self.world.fair[symbol].now()
        stale = self._stale(symbol, fair, live)
        if stale:
            worst = max(stale, key=lambda o: (o.price - Decimal(str(fair))) * (1 if o.side == "buy" else -1))
            self.cancel(worst.id)
            live = [o for o in live if o.id != worst.id]
        missing = self._missing(symbol, fair, live)
        if not missing and live:  # a calm market: refresh the oldest quote so the book keeps moving
            oldest = min(live, key=lambda o: o.created_at)
            if self.cancel(oldest.id):
                live = [o for o in live if o.id != oldest.id]
                missing = self._missing(symbol, fair, live)
        if missing:  # the nearest missing level of the thinner side: takers eat one side at a time
            thin = min(("buy", "sell"), key=lambda side: (sum(o.side == side for o in live), self.rng.random()))
            side, price = next((m for m in missing if m[0] == thin), missing[0])
            self._quote(symbol, side, price)

    def _live(self, symbol: str) -> list[OrderView] | None:
        from du_core.trading import service as trading
        from du_core.trading.schemas import OrderQuery

        page = self._call(trading.list_orders, OrderQuery(status="live", symbol=symbol, limit=200))
        return None if page is None else page.items

    def _targets(self, symbol: str, fair: float) -> list[tuple[str, Decimal]]:
        """The ladder for `fair`, nearest levels first, alternating sides."""
        rules, out = self.world.rules[symbol], []
        for i in range(self.world.levels):
            offset = HALF_SPREAD + i * LEVEL_STEP
            out.append(("buy", rules.price(fair * (1 - offset), up=False)))
            out.append(("sell", rules.price(fair * (1 + offset), up=True)))
        return list(dict.fromkeys(out))  # a coarse tick can merge levels

    def _tolerance(self, symbol: str, fair: float) -> Decimal:
        return max(self.world.rules[symbol].tick, Decimal(str(fair * LEVEL_STEP / 2)))

    def _missing(self, symbol: str, fair: float, live: list[OrderView]) -> list[tuple[str, Decimal]]:
        tolerance = self._tolerance(symbol, fair)
        return [(side, price) for side, price in self._targets(symbol, fair)
                if not any(_near(o, (side, price), tolerance) for o in live)]

    def _stale(self, symbol: str, fair: float, live: list[OrderView]) -> list[OrderView]:
        tolerance, targets = self._tolerance(symbol, fair), self._targets(symbol, fair)
        now = time.time()
        return [o for o in live if now - o.created_at.timestamp() > MAX_QUOTE_AGE
                or not any(_near(o, level, tolerance) for level in targets)]

    def _quote(self, symbol: str, side: str, price: Decimal) -> None:
        rules = self.world.rules[symbol]
        notional = rules.min_notional * Decimal(str(self.rng.uniform(*QUOTE_NOTIONALS)))
        self.place(symbol, side, quantity=rules.quantity(float(notional), price), price=price, post_only=True)


def _near(order: OrderView, level: tuple[str, Decimal], tolerance: Decimal) -> bool:
    """Whether a live quote stands for the ladder level (side, price)."""
    side, price = level
    return order.side == side and order.price is not None and abs(order.price - price) <= tolerance


class Taker(Agent):
    """Trades against the book: market orders and marketable limit orders of mixed sizes.

    Most orders are small, some medium, a few large enough to sweep several levels. A limit
    order may be IOC, FOK or GTC; a GTC leftover that rests is cancelled after `TAKER_REST`
    seconds, so takers do not become makers.
    """

    def __init__(self, trader: SimTrader, world: World, *, rng: random.Random) -> None:
        super().__init__(trader, world, rng=rng)
        self._resting: list[tuple[float, Any]] = []

    def act(self) -> None:
        now = self.world.clock()
        if self._resting and now - self._resting[0][0] > TAKER_REST:
            self.cancel(self._resting.pop(0)[1])
        symbol = self.rng.choice(list(self.world.rules))
        rules, fair = self.world.rules[symbol], self.world.fair[symbol].now()
        side = self.rng.choice(("buy", "sell"))
        notional = float(rules.min_notional) * self._size()
        if self.rng.random() < 0.45:
            quantity = rules.quantity(notional, rules.price(fair, up=side == "buy"))
            self.place(symbol, side, quantity=quantity, order_type="market", tif="ioc")
            return
        reach = self.rng.uniform(HALF_SPREAD + 0.0001, HALF_SPREAD + self.world.levels * LEVEL_STEP)
        price = rules.price(fair * (1 + reach) if side == "buy" else fair * (1 - reach), up=side == "buy")
        tif = self.rng.choices(("ioc", "gtc", "fok"), weights=(7, 2, 1))[0]
        view = self.place(symbol, side, quantity=rules.quantity(notional, price), price=price, tif=tif)
        if view is not None and view.status in ("open", "partially_filled"):
            self._resting.append((now, view.id))

    def _size(self) -> float:
        """A size in minimum notionals: mostly small, sometimes medium, rarely large."""
        roll = self.rng.random()
        if roll < 0.75:
            return self.rng.uniform(1.5, 15)
        if roll < 0.97:
            return self.rng.uniform(15, 60)
        return self.rng.uniform(60, 200)

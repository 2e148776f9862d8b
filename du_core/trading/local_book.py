"""An in-memory central limit order book for one instrument, matching by the exchange's own rules.

The exchange keeps its book in PostgreSQL; this one lives in a process, for the matching benchmark
and for backtests, where a round trip per order would measure the database instead of the rules.
It owns no rules of its own: every incoming or re-priced order goes through the same matching
function as the exchange (`matching.match_unpacked`, which is `match` without building a `Taker`),
and the book only applies the outcome (fills, self-trade cancels, the resting remainder) to its
queues.

Layout, chosen for the hot path: per side a dict price -> FIFO queue of resting orders and a
sorted list of the prices (bisect; a book has tens of levels, not millions). An order index gives
O(1) cancel: a cancelled order is only marked dead, skipped while matching and dropped when it
reaches the front of its queue, or when dead orders outnumber live ones in a queue. The front of
every queue is always live.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Context, Decimal
from itertools import count, islice
from typing import Any

from du_core.trading.matching import Maker, Outcome, match_unpacked

_ZERO = Decimal(0)
# As in `matching`: a maker's remaining quantity must not round when a fill is taken off it.
_EXACT = Context(prec=250)

Level = tuple[Decimal, Decimal, int]


class _Resting(Maker):
    """A resting order: a `Maker` plus what the book needs to cancel, modify and re-match it."""

    __slots__ = ("buy", "live", "post_only", "stp")

    # Positional and without super().__init__: one of these is built for every order that rests.
    def __init__(self, order_id: Any, user_id: Any, price: Decimal, remaining: Decimal, seq: int,
                 buy: bool, post_only: bool, stp: str) -> None:
        self.order_id = order_id
        self.user_id = user_id
        self.price = price
        self.remaining = remaining
        self.seq = seq
        self.buy = buy
        self.post_only = post_only
        self.stp = stp
        self.live = True


def _walk(levels: dict[Decimal, _Queue], prices: Iterable[Decimal]) -> Iterator[_Resting]:
    """The live orders of one side in priority order; `prices` best first."""
    for price in prices:
        for order in levels[price]:
            if order.live:
                yield order


class _Queue(deque):
    """The orders at one price, oldest first, and how many of them are live (not cancelled)."""

    __slots__ = ("live",)


class LocalBook:
    """The resting orders of one instrument and the operations that change them."""

    __slots__ = ("_orders", "_bids", "_asks", "_bid_prices", "_ask_prices", "_seq")

    def __init__(self) -> None:
        self._orders: dict[Any, _Resting] = {}
        self._bids: dict[Decimal, _Queue] = {}
        self._asks: dict[Decimal, _Queue] = {}
        self._bid_prices: list[Decimal] = []  # ascending: best bid last
        self._ask_prices: list[Decimal] = []  # ascending: best ask first
        self._seq = count(1)

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def add(self, order_id: Any, user_id: Any, side: str, quantity: Decimal, limit: Decimal | None = None,
            tif: str = "gtc", post_only: bool = False, stp: str = "cancel_newest", band: Decimal | None = None,
            *, budget: Decimal | None = None, fee_rate: Decimal = _ZERO, lot: Decimal | None = None) -> Outcome:
        """Match a new order against the opposite side, apply the outcome, rest what `match` says rests.

        Raises:
            ValueError: `order_id` is already resting, `limit` is not > 0, or `match` refuses the order.
        """
        if order_id in self._orders:
            raise ValueError(f"order {order_id!r} is already in the book")
        if limit is not None and not limit > _ZERO:
            raise ValueError(f"limit must be greater than zero, not {limit}")
        # `match` stops at the first maker its limit does not cross, so when the best opposite
        # order does not cross, offering that one alone gives the same outcome as offering the
        # whole side, without building the walk over every level: the most common case by far.
        if side == "buy":
            buy = True
            prices = self._ask_prices
            if not prices:
                makers = ()
            elif limit is not None and limit < prices[0]:
                makers = (self._asks[prices[0]][0],)
            else:
                makers = _walk(self._asks, prices)
        else:
            buy = False
            prices = self._bid_prices
            if not prices:
                makers = ()
            elif limit is not None and limit > prices[-1]:
                makers = (self._bids[prices[-1]][0],)
            else:
                makers = _walk(self._bids, reversed(prices))
        outcome = match_unpacked(user_id, side, quantity, limit, tif, post_only, stp, band, budget, fee_rate,
                                 lot, makers)
        if outcome.fills or outcome.cancelled_makers:
            self._apply(outcome)
        if outcome.rests:
            order = _Resting(order_id, user_id, limit, outcome.remaining, next(self._seq), buy, post_only, stp)
            levels = self._bids if buy else self._asks
            queue = levels.get(limit)
            if queue is None:
                queue = levels[limit] = _Queue()
                queue.live = 0
                insort(self._bid_prices if buy else self._ask_prices, limit)
            queue.append(order)
            queue.live += 1
            self._orders[order_id] = order
        return outcome

    def cancel(self, order_id: Any) -> bool:
        """Remove a resting order; False when there is no such order (filled, cancelled or unknown)."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return False
        order.live = False
        levels = self._bids if order.buy else self._asks
        queue = levels[order.price]
        queue.live -= 1
        if not queue.live:
            del levels[order.price]
            prices = self._bid_prices if order.buy else self._ask_prices
            del prices[bisect_left(prices, order.price)]
        elif queue[0] is order:
            queue.popleft()
            while not queue[0].live:
                queue.popleft()
        elif len(queue) > 2 * queue.live + 8:
            # Dead orders inside a queue are skipped, not removed; rebuild the queue once they are
            # the majority, so that its memory stays proportional to its live orders.
            alive = [o for o in queue if o.live]
            queue.clear()
            queue.extend(alive)
        return True

    def modify(self, order_id: Any, quantity: Decimal | None = None, price: Decimal | None = None) -> Outcome | None:
        """Change a resting order's open quantity and/or price.

        Reducing the quantity at the same price keeps the order's time priority; increasing it or
        changing the price sends it to the back of its (new) level with a new sequence number. A
        new price goes through `match` like a new order (tif "gtc", the order's post-only and
        self-trade settings), so a re-priced order that crosses trades at once, and a post-only
        one that would cross is cancelled; the `Outcome` of that is returned. Quantity-only
        changes return None.

        Raises:
            KeyError: no such resting order.
            ValueError: `quantity` or `price` is not > 0.
        """
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        if quantity is None:
            quantity = order.remaining
        elif not quantity > _ZERO:
            raise ValueError(f"quantity must be greater than zero, not {quantity}")
        if price is None or price == order.price:
            if quantity < order.remaining:
                order.remaining = quantity
            elif quantity > order.remaining:
                # Back of the same level: at its own price the order cannot cross, so `add` rests it.
                self.cancel(order_id)
                self.add(order_id, order.user_id, "buy" if order.buy else "sell", quantity, order.price, "gtc",
                         order.post_only, order.stp)
            return None
        if not price > _ZERO:
            raise ValueError(f"price must be greater than zero, not {price}")
        self.cancel(order_id)
        return self.add(order_id, order.user_id, "buy" if order.buy else "sell", quantity, price, "gtc",
                        order.post_only, order.stp)

    def best_bid(self) -> Decimal | None:
        """The highest resting buy price, or None."""
        prices = self._bid_prices
        return prices[-1] if prices else None

    def best_ask(self) -> Decimal | None:
        """The lowest resting sell price, or None."""
        prices = self._ask_prices
        return prices[0] if prices else None

    def depth(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best `n` levels of each side, best first: (price, total open quantity, number of orders)."""
        return (self._levels(self._bids, reversed(self._bid_prices), n),
                self._levels(self._asks, iter(self._ask_prices), n))

    def get(self, order_id: Any) -> Maker | None:
        """The resting order `order_id`, or None (the book owns it: read, do not change it)."""
        return self._orders.get(order_id)

    def resting(self, side: str) -> Iterator[Maker]:
        """The resting orders of `side`, in priority order (best price first, then oldest first)."""
        if side == "buy":
            return _walk(self._bids, reversed(self._bid_prices))
        if side == "sell":
            return _walk(self._asks, iter(self._ask_prices))
        raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")

    # --- internals ---------------------------------------------------------------------------

    def _apply(self, outcome: Outcome) -> None:
        for fill in outcome.fills:
            maker = fill.maker
            left = _EXACT.subtract(maker.remaining, fill.quantity)
            if left:
                maker.remaining = left
            else:
                self.cancel(maker.order_id)  # filled: it leaves the book the way a cancel does
        for maker in outcome.cancelled_makers:
            self.cancel(maker.order_id)

    @staticmethod
    def _levels(levels: dict[Decimal, _Queue], prices: Iterator[Decimal], n: int) -> list[Level]:
        add = _EXACT.add
        levels_out = []
        for price in islice(prices, n):
            queue = levels[price]
            total = _ZERO
            for order in queue:
                if order.live:
                    total = add(total, order.remaining)
            levels_out.append((price, total, queue.live))
        return levels_out

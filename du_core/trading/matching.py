"""The exchange's matching rules as one pure function: which resting orders an incoming order trades with.

`match(taker, makers)` decides and `crosses()` answers the one price question; neither touches a
database, a clock or a log. The exchange service reads the resting orders of the opposite side
from PostgreSQL inside the placing transaction, calls `match()` and applies the `Outcome`; the
in-memory `LocalBook` (benchmarks, backtests) does the same with its own queues. Keeping the rules
here, in one place, is what makes the two agree.

The makers arrive best first: the lowest ask for a buy taker, the highest bid for a sell taker,
equal prices by `seq` ascending (earlier first). `match()` reads them lazily, stops at the first
one it does not need and mutates none of them: the caller applies the fills.

Rules, in the order they are applied:

- Post-only. A post-only taker whose limit crosses the first maker trades with nothing and does
  not rest: reason "post_only". A post-only market order is always "post_only". A post-only
  order that crosses nothing is treated like any other.
- Price, at each maker. A limit taker trades while the maker's price crosses its limit (buy:
  price <= limit; sell: price >= limit) and stops at the first that does not. A market taker
  (limit None) trades at any price, but with a `band` only within that fraction of the FIRST
  maker's price (buy: price <= first * (1 + band); sell: price >= first * (1 - band)); it stops
  with reason "price_band" at the first maker beyond the band and with "no_liquidity" when the
  makers run out. `band` is ignored for limit takers.
- Self-trade prevention, at each maker the price rule lets it reach that belongs to the taker's
  user: "cancel_newest" (the default) stops the taker there (reason "self_trade", earlier fills
  stand); "cancel_oldest" cancels that maker (`cancelled_makers`) and goes on with the next one;
  "cancel_both" cancels that maker and stops the taker (reason "self_trade").
- Quantity. Each fill is min(taker's remaining, maker's remaining) at the maker's price.
- Budget (buy takers only; ignored for sells). The running sum of price * quantity *
  (1 + fee_rate) over the fills never exceeds `budget`. When the next full fill would exceed it,
  the taker fills the largest quantity that fits, rounded down to a multiple of `lot` (the exact
  quotient, rounded down at 28 significant digits, when `lot` is None), and stops with reason
  "budget"; a quantity of zero makes no fill.
- Time in force, for what remains once matching stopped. "gtc": a limit taker's remainder rests
  (rests True, reason None) unless self-trade prevention or the budget stopped it. "ioc": the
  remainder is cancelled with reason "ioc". "fok": all or nothing under every rule above; when
  the whole quantity cannot fill, the outcome has no fills, no cancelled makers and reason "fok"
  (a FOK that does fill keeps the cancels of "cancel_oldest"). A market order never rests,
  whatever its time in force, and keeps its precise reason ("price_band", "no_liquidity") even
  as an IOC.
- `reason` says why a remainder does not rest; it is None when nothing remains or the remainder
  rests. A stop by self-trade prevention or the budget wins over "ioc", but a FOK that did not
  fill completely always reports "fok".

Invariants: filled + remaining == quantity, filled == the sum of the fill quantities,
0 <= filled <= quantity, every fill quantity is > 0 and <= its maker's remaining quantity. All
arithmetic is exact whatever the caller's decimal context (it runs in a 250-digit context of its
own, enough for NUMERIC(38,18) operands), so these hold to the last digit; the only rounding is
the documented one of a budget-limited quotient. No float is used anywhere.

This function runs millions of times in the benchmark, so its body is one loop with the rules
inlined: no helper calls per maker, no logging, no allocation beyond the fills and the outcome.
`match_unpacked()` is the same function taking the taker's fields as positional arguments, for
callers that hold them already (the local book), since building a frozen `Taker` costs more than
matching an order against an empty book.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal
from typing import Any

SIDES = ("buy", "sell")
TIFS = ("gtc", "ioc", "fok")
STP_MODES = ("cancel_newest", "cancel_oldest", "cancel_both")
REASONS = ("ioc", "fok", "post_only", "self_trade", "price_band", "no_liquidity", "budget")

_ZERO = Decimal(0)
_ONE = Decimal(1)
# Sums and products of NUMERIC(38,18) values must not round, whatever context the caller runs in
# (the default 28 digits would); the division that sizes a partial fill rounds down so that it
# always fits in the budget.
_EXACT = Context(prec=250)
_DOWN = Context(prec=28, rounding=ROUND_DOWN)


@dataclass(slots=True)
class Maker:
    """A resting order on the opposite side, as the caller knows it."""

    order_id: Any  # uuid.UUID in the service, int in the local book
    user_id: Any
    price: Decimal
    remaining: Decimal  # > 0
    seq: int  # arrival sequence: lower = earlier (time priority)


@dataclass(slots=True, frozen=True)
class Taker:
    """The incoming order."""

    user_id: Any
    side: str  # "buy" | "sell"
    quantity: Decimal  # > 0, what is left to fill
    limit: Decimal | None = None  # None: market order
    tif: str = "gtc"
    post_only: bool = False
    stp: str = "cancel_newest"
    # Market orders only: no trade more than this fraction away from the best opposite price at
    # arrival (0.05 = 5 %).
    band: Decimal | None = None
    # Buy only: the most quote money it may spend, counted as price * qty * (1 + fee_rate).
    budget: Decimal | None = None
    fee_rate: Decimal = _ZERO
    lot: Decimal | None = None  # quantity step a budget-limited fill is rounded down to


@dataclass(slots=True, frozen=True)
class Fill:
    """One trade of the taker with one maker, at the maker's price."""

    maker: Maker
    price: Decimal
    quantity: Decimal


@dataclass(slots=True)
class Outcome:
    """What the taker did: its fills, the makers self-trade prevention removed, and what is left."""

    fills: list[Fill]
    cancelled_makers: list[Maker]  # resting orders removed by self-trade prevention
    filled: Decimal
    remaining: Decimal  # quantity - filled
    rests: bool  # the remaining quantity rests on the book
    reason: str | None  # why a remaining quantity does not rest (one of REASONS), else None


def crosses(side: str, limit: Decimal | None, price: Decimal) -> bool:
    """Tell whether a taker on `side` with `limit` (None: market) may trade at `price`.

    Raises:
        ValueError: `side` is not "buy" or "sell".
    """
    if side == "buy":
        return limit is None or price <= limit
    if side == "sell":
        return limit is None or price >= limit
    raise ValueError(f"side must be one of {SIDES}, not {side!r}")


def match(taker: Taker, makers: Iterable[Maker]) -> Outcome:
    """Match `taker` against `makers` (best first, see the module docstring) and return what happened.

    Nothing is mutated: the caller applies the fills and cancels of the `Outcome`.

    Raises:
        ValueError: the taker's side, tif or stp is unknown, or its quantity is not > 0.
    """
    return match_unpacked(taker.user_id, taker.side, taker.quantity, taker.limit, taker.tif,
                          taker.post_only, taker.stp, taker.band, taker.budget, taker.fee_rate,
                          taker.lot, makers)


def match_unpacked(user_id: Any, side: str, quantity: Decimal, limit: Decimal | None, tif: str,
                   post_only: bool, stp: str, band: Decimal | None, budget: Decimal | None,
                   fee_rate: Decimal, lot: Decimal | None, makers: Iterable[Maker]) -> Outcome:
    """Do what `match()` does, with the taker's fields as positional arguments in `Taker`'s order.

    Positional on purpose: this is the hot path, and keyword passing costs measurably there.

    Raises:
        ValueError: `side`, `tif` or `stp` is unknown, or `quantity` is not > 0.
    """
    if side == "buy":
        buy = True
    elif side == "sell":
        buy = False
    else:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    if tif not in TIFS:
        raise ValueError(f"tif must be one of {TIFS}, not {tif!r}")
    if stp not in STP_MODES:
        raise ValueError(f"stp must be one of {STP_MODES}, not {stp!r}")
    if not quantity > _ZERO:
        raise ValueError(f"quantity must be greater than zero, not {quantity}")

    it = iter(makers)
    maker = next(it, None)
    if limit is not None:
        # Most limit orders cross nothing: answer them before setting up the loop.
        if maker is None or (maker.price > limit if buy else maker.price < limit):
            if tif == "gtc":
                return Outcome([], [], _ZERO, quantity, True, None)
            return Outcome([], [], _ZERO, quantity, False, tif)
        if post_only:
            return Outcome([], [], _ZERO, quantity, False, "post_only")
        bound = limit
    else:
        if post_only:
            return Outcome([], [], _ZERO, quantity, False, "post_only")
        if maker is None:
            return Outcome([], [], _ZERO, quantity, False, "fok" if tif == "fok" else "no_liquidity")
        if band is None:
            bound = None
        elif buy:
            bound = _EXACT.multiply(maker.price, _ONE + band)
        else:
            bound = _EXACT.multiply(maker.price, _ONE - band)
    if not buy:
        budget = None
    elif budget is not None:
        fee_factor = _ONE + fee_rate
        spent = _ZERO

    fills: list[Fill] = []
    cancelled: list[Maker] = []
    remaining = quantity
    reason = None
    while maker is not None:
        price = maker.price
        if bound is not None and (price > bound if buy else price < bound):
            if limit is None:
                reason = "price_band"
            break
        if maker.user_id == user_id:
            if stp == "cancel_oldest":
                cancelled.append(maker)
                maker = next(it, None)
                continue
            if stp == "cancel_both":
                cancelled.append(maker)
            reason = "self_trade"
            break
        available = maker.remaining
        size = remaining if remaining < available else available
        if budget is not None:
            cost = _EXACT.multiply(_EXACT.multiply(price, size), fee_factor)
            if _EXACT.add(spent, cost) > budget:
                size = _largest_affordable(_EXACT.subtract(budget, spent),
                                           _EXACT.multiply(price, fee_factor), lot)
                if size > _ZERO:
                    fills.append(Fill(maker, price, size))
                    remaining = _EXACT.subtract(remaining, size)
                reason = "budget"
                break
            spent = _EXACT.add(spent, cost)
        fills.append(Fill(maker, price, size))
        remaining = _EXACT.subtract(remaining, size)
        if not remaining:
            return Outcome(fills, cancelled, quantity, remaining, False, None)
        maker = next(it, None)
    else:
        if limit is None:
            reason = "no_liquidity"

    if tif == "fok":
        return Outcome([], [], _ZERO, quantity, False, "fok")
    if reason is None:
        if tif == "gtc":
            return Outcome(fills, cancelled, _EXACT.subtract(quantity, remaining), remaining, True, None)
        reason = tif
    return Outcome(fills, cancelled, _EXACT.subtract(quantity, remaining), remaining, False, reason)


def _largest_affordable(room: Decimal, unit_cost: Decimal, lot: Decimal | None) -> Decimal:
    """The largest quantity whose cost (quantity * unit_cost) fits in `room`, in steps of `lot`."""
    if room <= _ZERO:
        return _ZERO
    if lot is None:
        return _DOWN.divide(room, unit_cost)
    # divide_int is the integer part of the exact quotient, so the product never exceeds room.
    return _EXACT.multiply(_EXACT.divide_int(room, _EXACT.multiply(unit_cost, lot)), lot)

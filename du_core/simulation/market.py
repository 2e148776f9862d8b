"""The simulated market's arithmetic: fair prices that walk, prices on the tick grid, sizes in lots, pacing.

Nothing here touches the database. Floats are fine for a simulated fair value; every price and
quantity that reaches an order is a Decimal on the instrument's grid, built by `Rules`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from du_core.errors import InvalidState, TradingDisabled

if TYPE_CHECKING:
    from du_core.trading.schemas import InstrumentView

# Where a walk starts on an instrument that has never traded.
DEFAULT_PRICES = {"BTC-USD": Decimal("60000"), "ETH-USD": Decimal("3000"), "ETH-BTC": Decimal("0.05")}


@dataclass(frozen=True)
class Rules:
    """What an order of one instrument must respect."""

    symbol: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    min_notional: Decimal
    last_price: Decimal | None

    @classmethod
    def of(cls, view: InstrumentView) -> Rules:
        """The rules of a tradable instrument.

        Raises:
            TradingDisabled: the instrument is halted.
        """
        if view.status != "trading":
            raise TradingDisabled(f"{view.symbol} is {view.status}; resume it before simulating it",
                                  details={"symbol": view.symbol, "status": view.status})
        return cls(view.symbol, view.base, view.quote, view.tick_size, view.lot_size, view.min_quantity,
                   view.max_quantity, view.min_notional, view.last_price)

    def start_price(self) -> Decimal:
        """Where the fair price starts: the last trade, else a default for well-known pairs.

        Raises:
            InvalidState: the instrument never traded and has no default.
        """
        price = self.last_price or DEFAULT_PRICES.get(self.symbol)
        if price is None:
            raise InvalidState(f"{self.symbol} has never traded, so there is no price to start a simulation from; "
                               "trade it once first", details={"symbol": self.symbol})
        return price

    def price(self, value: float | Decimal, *, up: bool) -> Decimal:
        """`value` on the tick grid, rounded up (asks) or down (bids), never below one tick."""
        steps = (Decimal(str(value)) / self.tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
        return max(steps, Decimal(1)) * self.tick

    def quantity(self, notional: float, price: Decimal) -> Decimal:
        """A quantity worth about `notional` (quote asset) at `price`: whole lots, within the instrument's bounds."""
        lots = (Decimal(str(notional)) / price / self.lot).to_integral_value(ROUND_FLOOR)
        floor = (max(self.min_quantity, self.min_notional / price) / self.lot).to_integral_value(ROUND_CEILING)
        ceiling = (self.max_quantity / self.lot).to_integral_value(ROUND_FLOOR)
        return min(max(lots, floor), ceiling) * self.lot


class FairPrice:
    """A driftless random walk of one instrument's fair value, in steps of `STEP` seconds.

    The path is a function of the seed and the step number only, so a seeded run walks the same
    prices whatever the threads do. Thread-safe; time only moves forward.
    """

    STEP = 0.1

    def __init__(self, start: Decimal, volatility: float, *, seed: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rng = random.Random(seed)
        self._sigma = volatility * math.sqrt(self.STEP)
        self._value = float(start)
        self._step = 0
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()

    def now(self) -> float:
        """The fair value at this moment."""
        target = int((self._clock() - self._origin) / self.STEP)
        with self._lock:
            while self._step < target:
                # exp(sigma Z - sigma^2 / 2) has expectation 1: no drift in the price itself
                self._value *= math.exp(self._sigma * self._rng.gauss(0.0, 1.0) - self._sigma ** 2 / 2)
                self._step += 1
            return self._value


class Pacer:
    """Hands out evenly spaced moments, `rate` a second, to any number of threads.

    A thread that falls behind gets the current moment, not a backlog: the rate is a ceiling,
    never a burst to catch up.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = clock()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until this caller's moment; False when `stop` was set meanwhile."""
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self._interval
        delay = slot - now
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()

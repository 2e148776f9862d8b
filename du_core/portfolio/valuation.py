"""What a user holds and what it is worth in one currency: the price of every holding, today and by day.

The portfolio operations and the risk service both stand on this module, so its two entry points
(`value` and `daily_closes`) keep their signatures. Holdings are the user's ledger balances
(available + held: money reserved for an open order is still the user's) plus the external
holdings they recorded. Nothing here writes.

Pricing, in the base currency (the user's profile base currency unless one is given, else USD):

    fiat cash X          1 when X is the base; else the FX rate X -> base (direct, inverse or via EUR)
    asset X (crypto)     through the instrument X-<base> if it exists, else X-USD and the FX rate
                         USD -> base (the first of the two that has a price); its price is the
                         instrument's last trade price, else its newest candle close; an asset with
                         no priced instrument falls back to an FX rate X -> base when one is set
    external symbol S    an asset code is priced as above; any other symbol (AAPL) by its own
                         candles (`du market import`), the close being in the holding's currency

A holding that cannot be priced has price and value None and a reason, and is listed in
`Valuation.unvalued`: it is never counted as 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from du_core.db import fast
from du_core.fx import rates
from du_core.market import candles
from du_core.market.models import INTERVALS
from du_core.money import quantize_down

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

DEFAULT_BASE = "USD"
ZERO = Decimal(0)
ONE = Decimal(1)
DAY = timedelta(days=1)
PRICE_PLACES = 18  # the ledger column's scale: a converted price keeps no more


@dataclass(frozen=True)
class Holding:
    """One thing held, priced in the valuation's base currency."""

    symbol: str  # an asset code (USD, BTC) or an external symbol (AAPL)
    source: str  # "platform" (ledger balance: available + held) | "external" (recorded by the user)
    quantity: Decimal
    currency: str | None  # the currency its price is in (None when it is the base currency cash itself)
    price_symbol: str | None  # the market symbol whose daily closes price it ("BTC-USD", "AAPL"); None for fiat
    price: Decimal | None  # latest price in the base currency (None: cannot be priced, see reason)
    value: Decimal | None  # quantity * price in the base currency, rounded down to its places
    average_cost: Decimal | None  # in `currency` (platform assets: from the trading position when there is one;
    # external ones: as recorded, converted at the newest rate when recorded in another currency)
    reason: str | None  # why price/value is None
    cash: bool = False  # fiat money (cash), as opposed to an invested asset or security
    native_price: Decimal | None = None  # the latest price in `currency` (before conversion)
    fx_rate: Decimal | None = None  # `currency` -> base used for `price` (1 for the base itself)


@dataclass(frozen=True)
class Valuation:
    """Every holding of a user priced in `base`; `total` counts only the valued ones."""

    base: str
    holdings: list[Holding]
    total: Decimal
    unvalued: list[str]
    as_of: datetime
    base_places: int = 2


@dataclass(frozen=True)
class Route:
    """How an asset or symbol is priced: a market symbol (or none) and the currency of its prices."""

    price_symbol: str | None
    currency: str | None
    price: Decimal | None  # in `currency`
    reason: str | None = None


def base_currency(session: Session, user_id: uuid.UUID) -> str:
    """The user's base currency (their profile's), USD when they have no profile."""
    row = fast.execute(session, "SELECT base_currency FROM user_profiles WHERE user_id = %(u)s",
                       {"u": user_id}).fetchone()
    return row[0] if row is not None and row[0] else DEFAULT_BASE


def asset_kinds(session: Session) -> dict[str, tuple[str, int]]:
    """Every asset code -> (kind, decimal places), listed or not (old balances outlive a delisting)."""
    return {code: (kind, places) for code, kind, places in
            fast.execute(session, "SELECT code, kind, precision FROM assets").fetchall()}


def instrument_prices(session: Session) -> dict[str, tuple[str, str, Decimal | None]]:
    """Every instrument symbol -> (base, quote, last trade price)."""
    return {s: (b, q, p) for s, b, q, p in
            fast.execute(session, "SELECT symbol, base, quote, last_price FROM instruments").fetchall()}


_NEWEST = """
SELECT i.name, c.start, c.close FROM unnest(%(names)s::text[]) AS i(name)
CROSS JOIN LATERAL (SELECT start, close FROM candles
                    WHERE symbol = %(s)s AND "interval" = i.name AND start < %(before)s
                    ORDER BY start DESC LIMIT 1) c
"""


def last_close(session: Session, symbol: str, *, before: datetime | None = None) -> Decimal | None:
    """The close of the candle of `symbol` that ends last (of any interval), or None without candles.

    With `before`, only candles that started before it count (the price as it stood then).
    """
    rows = fast.execute(session, _NEWEST, {"names": list(INTERVALS), "s": symbol,
                                           "before": before or candles.FAR_FUTURE}).fetchall()
    if not rows:
        return None
    # the candle whose end is latest; on a tie the finer one (listed first) wins
    best = max(rows, key=lambda r: (r[1] + timedelta(seconds=INTERVALS[r[0]]), -list(INTERVALS).index(r[0])))
    return best[2]


def route(session: Session, code: str, base: str, *, kinds: dict[str, tuple[str, int]] | None = None,
          instruments: dict[str, tuple[str, str, Decimal | None]] | None = None,
          currency: str | None = None) -> Route:
    """How `code` (an asset code or market symbol) is priced for a valuation in `base`.

    `currency` is the currency of an external symbol's prices (ignored for asset codes).
    """
    kinds = kinds if kinds is not None else asset_kinds(session)
    instruments = instruments if instruments is not None else instrument_prices(session)
    if code in kinds and kinds[code][0] == "fiat":
        return Route(None, None if code == base else code, ONE)
    if code in kinds:
        candidates = [s for s in dict.fromkeys((f"{code}-{base}", f"{code}-{DEFAULT_BASE}")) if s in instruments]
        for symbol in candidates:
            last = instruments[symbol][2]
            if last is None:
                last = last_close(session, symbol)
            if last is not None:
                return Route(symbol, instruments[symbol][1], last)
        if rates.latest(session, code, base) is not None:
            return Route(None, code, ONE)
        if candidates:
            return Route(candidates[0], instruments[candidates[0]][1], None,
                         f"no trade or candle of {candidates[0]} yet")
        pairs = " or ".join(dict.fromkeys((f"{code}-{base}", f"{code}-{DEFAULT_BASE}")))
        return Route(None, None, None, f"no instrument {pairs} and no exchange rate from {code} to {base}")
    if code in instruments:  # an instrument symbol recorded as an external holding
        last = instruments[code][2] or last_close(session, code)
        return Route(code, instruments[code][1], last, None if last is not None else f"no trade or candle of {code}")
    last = last_close(session, code)
    if last is None:
        return Route(code, currency, None, f"no candles of {code}: import its history with du market import")
    return Route(code, currency, last)


def _priced(quantity: Decimal, native: Decimal | None, rate: Decimal | None,
            base_places: int) -> tuple[Decimal | None, Decimal | None]:
    if native is None or rate is None:
        return None, None
    with localcontext() as ctx:
        ctx.prec = 80
        price = (native * rate).quantize(Decimal(1).scaleb(-PRICE_PLACES)).normalize()
        return price if price else ZERO, quantize_down(quantity * native * rate, base_places)


class Pricer:
    """Prices holdings in one base currency, reading each table and rate once per valuation."""

    def __init__(self, session: Session, base: str) -> None:
        self.session = session
        self.base = base
        self.kinds = asset_kinds(session)
        self.base_places = self.kinds.get(base, ("fiat", 2))[1]
        self.instruments = instrument_prices(session)
        self._fx: dict[str, Decimal | None] = {}

    def rate(self, currency: str | None) -> Decimal | None:
        """The newest rate `currency` -> base (1 for the base itself), or None when none is known."""
        if currency is None or currency == self.base:
            return ONE
        if currency not in self._fx:
            latest = rates.latest(self.session, currency, self.base)
            self._fx[currency] = None if latest is None else latest.rate
        return self._fx[currency]

    def holding(self, symbol: str, *, source: str, quantity: Decimal, currency: str | None = None,
                average_cost: Decimal | None = None) -> Holding:
        """`quantity` of `symbol` priced now; `currency` is an external symbol's price currency."""
        found = route(self.session, symbol, self.base, kinds=self.kinds, instruments=self.instruments,
                      currency=currency)
        reason = found.reason
        rate: Decimal | None = None
        if found.price is not None:
            rate = self.rate(found.currency)
            if rate is None:
                reason = f"no exchange rate from {found.currency} to {self.base}"
        price, value_ = _priced(quantity, found.price, rate, self.base_places)
        return Holding(symbol=symbol, source=source, quantity=quantity, currency=found.currency,
                       price_symbol=found.price_symbol, price=price, value=value_, average_cost=average_cost,
                       reason=None if price is not None else reason, cash=self.is_cash(symbol),
                       native_price=found.price, fx_rate=rate)

    def is_cash(self, symbol: str) -> bool:
        return symbol in self.kinds and self.kinds[symbol][0] == "fiat"


def value(session: Session, user_id: uuid.UUID, *, base: str | None = None) -> Valuation:
    """Every holding of the user (platform balances, then external holdings) priced in `base`.

    `base` defaults to the user's profile base currency, else USD. Assets with a zero balance are
    left out. A platform asset's average cost is that of the user's long trading position in the
    instrument that prices it, when there is one; fiat cash has none.
    """
    from dataclasses import replace

    from du_core.ledger import book

    pricer = Pricer(session, (base or base_currency(session, user_id)).upper())
    positions = {s: c for s, c in fast.execute(
        session, "SELECT symbol, average_cost FROM positions WHERE user_id = %(u)s AND quantity > 0",
        {"u": user_id}).fetchall()}
    holdings: list[Holding] = []
    for code, parts in book.balances(session, user_id).items():
        quantity = parts["available"] + parts["held"]
        if quantity == 0:
            continue
        holding = pricer.holding(code, source="platform", quantity=quantity)
        if holding.price_symbol in positions:
            holding = replace(holding, average_cost=positions[holding.price_symbol])
        holdings.append(holding)
    for symbol, quantity, cost, currency in external_rows(session, user_id):
        holding = pricer.holding(symbol, source="external", quantity=quantity, currency=currency)
        holdings.append(replace(holding, average_cost=_cost_in(session, cost, currency, holding.currency)))
    total = sum((h.value for h in holdings if h.value is not None), quantize_down(ZERO, pricer.base_places))
    return Valuation(base=pricer.base, holdings=holdings, total=total,
                     unvalued=[h.symbol for h in holdings if h.value is None], as_of=datetime.now(timezone.utc),
                     base_places=pricer.base_places)


def _cost_in(session: Session, cost: Decimal, recorded: str, currency: str | None) -> Decimal | None:
    """A recorded average cost in the currency the holding is priced in (None without a rate)."""
    if currency is None or currency == recorded:
        return cost
    found = rates.latest(session, recorded, currency)
    if found is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return (cost * found.rate).quantize(Decimal(1).scaleb(-PRICE_PLACES)).normalize()


def external_rows(session: Session, user_id: uuid.UUID) -> list[tuple[str, Decimal, Decimal, str]]:
    """The user's external holdings: (symbol, quantity, average cost, currency), by symbol."""
    return [tuple(r) for r in fast.execute(  # type: ignore[misc]
        session, "SELECT symbol, quantity, average_cost, currency FROM external_holdings WHERE user_id = %(u)s"
                 " ORDER BY symbol", {"u": user_id}).fetchall()]


# history

def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def calendar(start: date, end: date) -> list[date]:
    """Every day of [start, end] (empty when end is before start)."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _ffill(known: dict[date, Any], days: list[date]) -> list[Any]:
    """The value of each day: that day's, else the last one before it (None before the first)."""
    last = None
    if days:
        before = [d for d in known if d < days[0]]
        if before:
            last = known[max(before)]
    out = []
    for day in days:
        last = known.get(day, last)
        out.append(last)
    return out


def _fx_points(session: Session, frm: str, to: str) -> list[tuple[datetime, Decimal]]:
    """Every stored rate between two currencies as frm -> to, oldest first (direct or inverted)."""
    rows = fast.execute(session, "SELECT base, rate, as_of FROM fx_rates WHERE (base = %(b)s AND quote = %(q)s)"
                                 " OR (base = %(q)s AND quote = %(b)s) ORDER BY as_of, created_at",
                        {"b": frm, "q": to}).fetchall()
    with localcontext() as ctx:
        ctx.prec = 40
        return [(at, rate if b == frm else ONE / rate) for b, rate, at in rows]


def fx_daily(session: Session, frm: str, to: str, days: list[date]) -> list[Decimal] | None:
    """The rate frm -> to in force at the end of each of `days`, or None when no rate is known at all.

    The rate of a day is the newest one published by its end, carried forward over days without
    one. Days before the first known rate take that first rate: with no history (one rate set by
    an admin) the one rate known prices every day. Without a direct rate, the cross rate through
    EUR is used, day by day.
    """
    if frm == to:
        return [ONE] * len(days)
    points = _fx_points(session, frm, to)
    if not points:
        if rates.PIVOT in (frm, to):
            return None
        first, second = fx_daily(session, frm, rates.PIVOT, days), fx_daily(session, rates.PIVOT, to, days)
        if first is None or second is None:
            return None
        return [a * b for a, b in zip(first, second, strict=True)]
    known = {at.astimezone(timezone.utc).date(): rate for at, rate in points}  # oldest first: a day's last wins
    earliest = points[0][1]
    return [earliest if r is None else r for r in _ffill(known, days)]


_STORED_DAILY = """
SELECT s.symbol FROM unnest(%(symbols)s::text[]) AS s(symbol)
WHERE EXISTS (SELECT 1 FROM candles c WHERE c.symbol = s.symbol AND c."interval" = '1d'
              AND c.start >= %(lo)s AND c.start < %(hi)s)
"""
# The closes of stored daily candles in the window, after each symbol's last close before it (seed = 0).
_DAILY_CLOSES = """
SELECT symbol, day, close{cast} FROM (
    SELECT s.symbol, %(first)s::date AS day, b.close, 0 AS seed FROM unnest(%(symbols)s::text[]) AS s(symbol)
    CROSS JOIN LATERAL (SELECT close FROM candles WHERE symbol = s.symbol AND "interval" = '1d' AND start < %(lo)s
                        ORDER BY start DESC LIMIT 1) b
    UNION ALL
    SELECT symbol, (start AT TIME ZONE 'UTC')::date, close, 1 FROM candles
    WHERE symbol = ANY(%(symbols)s) AND "interval" = '1d' AND start >= %(lo)s AND start < %(hi)s
) x ORDER BY symbol, day, seed
"""


def _close_table(session: Session, symbols: list[str], days: list[date], *,
                 exact: bool) -> dict[str, dict[date, Any]]:
    """Daily closes of `symbols` on `days`, keyed by day (Decimal when `exact`, else float); the last close
    before the first day is that day's unless it has its own. A symbol with daily candles in the window
    is read as stored (one query for all of them); any other is read through `candles.read` (daily
    candles, else aggregated from the coarsest finer interval stored)."""
    lo, hi = _midnight(days[0]), _midnight(days[-1]) + DAY
    out: dict[str, dict[date, Any]] = {s: {} for s in symbols}
    daily = [r[0] for r in fast.execute(session, _STORED_DAILY, {"symbols": symbols, "lo": lo, "hi": hi}).fetchall()]
    if daily:
        sql = _DAILY_CLOSES.format(cast="" if exact else "::float8")
        for symbol, day, close in fast.execute(session, sql, {"symbols": daily, "first": days[0], "lo": lo,
                                                               "hi": hi}).fetchall():
            out[symbol][day] = close
    for symbol in (s for s in symbols if s not in daily):
        source = candles.source_interval("1d", candles.coverage(session, symbol).intervals)
        if source is not None:
            before = candles.read(session, symbol, "1d", source=source, hi=lo, limit=1, newest=True)
            for bar in before + candles.read(session, symbol, "1d", source=source, lo=lo, hi=hi):
                out[symbol][max(bar.start, lo).date()] = bar.close if exact else float(bar.close)
        else:  # only intervals that do not divide a day: the last close before each day ends
            for day in days:
                found = last_close(session, symbol, before=_midnight(day) + DAY)
                if found is not None:
                    out[symbol][day] = found if exact else float(found)
    return out


def _columns(holdings: Sequence[Holding]) -> dict[str, Holding]:
    """The holdings that can have a price column, one per symbol (the first of each)."""
    columns: dict[str, Holding] = {}
    for holding in holdings:
        if holding.symbol in columns:
            continue
        if holding.price_symbol is None and holding.currency is None and not holding.cash:
            continue  # not priceable
        columns[holding.symbol] = holding
    return columns


def daily_prices(session: Session, holdings: Sequence[Holding], *, days: list[date],
                 base: str) -> dict[str, list[Decimal | None]]:
    """Exact prices in `base` of each holding on each of `days` (see `daily_closes` for the rules).

    Columns with no price on any day are left out; a day before a column's first price is None.
    """
    if not days:
        return {}
    wanted = _columns(holdings)
    fx: dict[str, list[Decimal] | None] = {}
    for h in wanted.values():
        key = h.currency or base
        if key not in fx:
            fx[key] = fx_daily(session, key, base, days)
    symbols = sorted({h.price_symbol for h in wanted.values() if h.price_symbol is not None})
    closes = _close_table(session, symbols, days, exact=True) if symbols else {}
    columns: dict[str, list[Decimal | None]] = {}
    for symbol, h in wanted.items():
        converter = fx[h.currency or base]
        if converter is None:
            continue
        if h.price_symbol is None:
            columns[symbol] = list(converter)
            continue
        known = closes.get(h.price_symbol)
        if not known:
            continue
        with localcontext() as ctx:
            ctx.prec = 40
            columns[symbol] = [None if c is None else c * r
                               for c, r in zip(_ffill(known, days), converter, strict=True)]
    return {k: v for k, v in columns.items() if any(p is not None for p in v)}


def daily_closes(session: Session, holdings: Sequence[Holding], *, start: date, end: date,
                 base: str) -> pd.DataFrame:
    """The price in `base` of each holding on every day of [start, end], for analytics (floats).

    Index: the calendar days (a tz-naive DatetimeIndex named "date") of [start, end] that have at
    least one price. Columns: `Holding.symbol` (holdings of one symbol share a column). Values: the
    daily close of the holding's `price_symbol` (stored daily candles, else aggregated from finer
    ones; the last close before `start` carries into the first days), converted to `base` at the
    FX rate in force that day (`fx_daily`: the first known rate covers the days before FX history
    begins, so with no history the one rate known is used), forward-filled within each column.
    Fiat cash in `base` is 1.0; other fiat cash is its daily FX rate to `base`. A column with no
    price at all is left out. Closes are read as float8 (the nearest double to the stored decimal).
    """
    import numpy as np
    import pandas as pd

    days = calendar(start, end)
    index = pd.DatetimeIndex(pd.to_datetime(days), name="date") if days else pd.DatetimeIndex([], name="date")
    wanted = _columns(holdings) if days else {}
    fx: dict[str, np.ndarray | None] = {}
    for h in wanted.values():
        key = h.currency or base
        if key not in fx:
            found = fx_daily(session, key, base, days)
            fx[key] = None if found is None else np.array([float(r) for r in found], dtype="float64")
    symbols = sorted({h.price_symbol for h in wanted.values() if h.price_symbol is not None})
    closes = _close_table(session, symbols, days, exact=False) if symbols else {}
    first = days[0] if days else None
    columns: dict[str, np.ndarray] = {}
    for symbol, h in wanted.items():
        converter = fx[h.currency or base]
        if converter is None:
            continue
        if h.price_symbol is None:
            columns[symbol] = converter
            continue
        known = closes.get(h.price_symbol)
        if not known:
            continue
        raw = np.full(len(days), np.nan)
        for day, close in known.items():  # every key is a day of the window (the seed is on the first)
            raw[(day - first).days] = close
        last_seen = np.maximum.accumulate(np.where(np.isnan(raw), 0, np.arange(len(days))))
        filled = raw[last_seen]
        columns[symbol] = filled * converter
    frame = pd.DataFrame(columns, index=index, dtype="float64")
    frame = frame.dropna(axis=0, how="all")
    frame.index.name = "date"
    return frame


def price_at(session: Session, holding: Holding, base: str, moment: datetime) -> Decimal | None:
    """The holding's price in `base` as it stood at `moment` (the last candle started before it, the
    FX rate published by then), or None when nothing was known yet."""
    if holding.price_symbol is None:
        if holding.currency is None and not holding.cash:
            return None
        native: Decimal | None = ONE
    else:
        native = last_close(session, holding.price_symbol, before=moment)
    if native is None:
        return None
    if holding.currency is None or holding.currency == base:
        return native
    points = [r for at, r in _fx_points(session, holding.currency, base) if at <= moment]
    if points:
        return native * points[-1]
    found = rates.latest(session, holding.currency, base)  # a cross rate, or only newer rates
    return None if found is None else native * found.rate

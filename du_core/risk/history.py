"""The price history of a user's current holdings, and the risk figures computed on it.

`snapshot` is where the risk operations meet the portfolio: it values the user's holdings now
(`portfolio.valuation.value`), reads their daily closes in the base currency over a window
(`valuation.daily_closes`), keeps the days that are observations, and hands the value series
to the pure `risk.metrics`. Every holding is either used (its quantity counts on every day) or
left out with a reason; nothing unpriced is counted as 0.

    window          whole UTC days [start, end], both included: `--from`/`--to`, or `lookback`
                    days (365 by default) ending on `--to` or today
    observation     a day on which at least one held market symbol has a candle (any interval
                    that divides a day). `daily_closes` spans calendar days with prices carried
                    forward, so a stock's weekend would otherwise count as a day with a 0 return;
                    on the days kept, a symbol without a candle carries its last close (as in
                    `metrics.portfolio_values`). A portfolio of cash only keeps every day.
    quantities      the current quantity of each holding (platform and external holdings of one
                    symbol added up), the same on every day: the risk of what is held now, not
                    the account's past (that is `du portfolio performance`)
    benchmark       the symbol's daily closes (1d candles, or finer ones aggregated to UTC days)
                    in its own currency; beta and correlation use the dates both series have
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from du_core.db import fast
from du_core.market import candles
from du_core.portfolio import valuation as pv
from du_core.risk import metrics as rm
from du_core.risk.schemas import DEFAULT_LOOKBACK, HoldingUsed, LeftOut, Window

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

DAY = timedelta(days=1)


def today() -> date:
    return datetime.now(timezone.utc).date()


def window(*, lookback: int | None = None, since: date | None = None, until: date | None = None) -> Window:
    """The days a computation covers (see the module docstring).

    Raises:
        InvalidInput: the start is after the end.
    """
    from du_core.errors import InvalidInput

    end = until or today()
    start = since if since is not None else end - timedelta(days=(lookback or DEFAULT_LOOKBACK) - 1)
    if start > end:
        raise InvalidInput(f"the start day {start.isoformat()} is after the end day {end.isoformat()}",
                           details={"field": "since"})
    return Window(start=start, end=end, days=(end - start).days + 1)


@dataclass
class Snapshot:
    """A user's holdings now, their daily values over a window, and the risk figures on them."""

    user_id: uuid.UUID
    valuation: pv.Valuation
    window: Window
    closes: Any  # pd.DataFrame: observation days x used symbols, prices in the base currency
    quantities: dict[str, Decimal]  # used symbol -> quantity
    holdings: dict[str, list[pv.Holding]]  # used symbol -> its holdings
    used: list[HoldingUsed]
    left_out: list[LeftOut]
    values: Any  # pd.Series: the portfolio's value on each observation day
    figures: rm.RiskMetrics
    notes: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.valuation.base

    def cash_symbols(self) -> set[str]:
        """Used symbols that are cash in the base currency (no price risk)."""
        return {s for s, hs in self.holdings.items() if all(h.cash and h.currency is None for h in hs)}


def _tidy(quantity: Decimal) -> Decimal:
    """A stored quantity without the trailing zeros of its column (10.000000000000000000 -> 10)."""
    return quantity.normalize() if quantity else Decimal(0)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


_DAILY_DAYS = """
SELECT DISTINCT (start AT TIME ZONE 'UTC')::date FROM candles
WHERE symbol = ANY(%(s)s) AND "interval" = '1d' AND start >= %(lo)s AND start < %(hi)s
"""
_WITHOUT_DAILY = """
SELECT s FROM unnest(%(s)s::text[]) AS s WHERE NOT EXISTS (
    SELECT 1 FROM candles WHERE symbol = s AND "interval" = '1d' AND start >= %(lo)s AND start < %(hi)s)
"""
_DAYS = """
SELECT DISTINCT (start AT TIME ZONE 'UTC')::date FROM candles
WHERE symbol = %(s)s AND "interval" = %(i)s AND start >= %(lo)s AND start < %(hi)s
"""


def candle_days(session: Session, symbols: set[str], start: date, end: date) -> set[date]:
    """The UTC days of [start, end] on which any of `symbols` has a candle, read from the interval
    `daily_closes` reads: 1d where a symbol has 1d candles in the window (one query for all of
    those), else the coarsest finer interval stored (one query each)."""
    lo, hi = _midnight(start), _midnight(end) + DAY
    params = {"s": sorted(symbols), "lo": lo, "hi": hi}
    days = {d for (d,) in fast.execute(session, _DAILY_DAYS, params).fetchall()}
    for (symbol,) in fast.execute(session, _WITHOUT_DAILY, params).fetchall():
        source = candles.source_interval("1d", candles.coverage(session, symbol, lo, hi).intervals)
        if source is not None:
            days.update(d for (d,) in fast.execute(session, _DAYS, {"s": symbol, "i": source, "lo": lo,
                                                                     "hi": hi}).fetchall())
    return days


def benchmark_closes(session: Session, symbol: str, start: date, end: date) -> pd.Series:
    """The benchmark's daily closes over [start, end] (floats by day, in its own currency).

    Raises:
        NotFound: the symbol is neither an instrument nor has candles.
    """
    import pandas as pd

    from du_core.market.analysis import daily_bars
    from du_core.market.service import lookup

    info = lookup(session, symbol)
    bars, _ = daily_bars(session, info.symbol, start, end)
    return pd.Series([float(b.close) for b in bars], index=pd.DatetimeIndex([b.start.date() for b in bars]),
                     dtype="float64", name=info.symbol)


def snapshot(session: Session, user_id: uuid.UUID, span: Window, *, benchmark: str | None = None,
             risk_free_rate: float = 0.0, periods_per_year: int = 252,
             levels: tuple[float, ...] = (0.95, 0.99)) -> Snapshot:
    """Value the user's holdings and compute the risk figures of their history over `span`.

    Raises:
        NotFound: an unknown benchmark symbol.
    """
    import pandas as pd

    bench = benchmark_closes(session, benchmark, span.start, span.end) if benchmark else None
    val = pv.value(session, user_id)
    notes: list[str] = []
    left_out: list[LeftOut] = []
    groups: dict[str, list[pv.Holding]] = defaultdict(list)
    for h in val.holdings:
        if h.price is None:
            left_out.append(LeftOut(symbol=h.symbol, source=h.source, quantity=_tidy(h.quantity),
                                    reason=h.reason or "no price"))
        else:
            groups[h.symbol].append(h)

    closes = pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    if groups:
        priced = [hs[0] for hs in groups.values()]
        closes = pv.daily_closes(session, priced, start=span.start, end=span.end, base=val.base)
        markets = {hs[0].price_symbol for s, hs in groups.items() if s in closes.columns and hs[0].price_symbol}
        if markets:
            days = candle_days(session, markets, span.start, span.end)
            closes = closes[closes.index.isin(pd.DatetimeIndex(sorted(days)))]
    for symbol in list(groups):
        column = closes[symbol] if symbol in closes.columns else None
        if column is None or column.dropna().empty:
            for h in groups.pop(symbol):
                left_out.append(LeftOut(symbol=h.symbol, source=h.source, quantity=_tidy(h.quantity),
                                        reason=f"no daily price between {span.start.isoformat()} and "
                                               f"{span.end.isoformat()}"))
    quantities = {s: sum((h.quantity for h in hs), Decimal(0)) for s, hs in groups.items()}
    closes = closes[list(groups)] if groups else closes.iloc[:, :0]
    values = rm.portfolio_values(closes, quantities)
    figures = rm.metrics(values, benchmark=bench, risk_free_rate=risk_free_rate,
                         periods_per_year=periods_per_year, levels=levels)

    used = []
    for symbol, hs in groups.items():
        column = closes[symbol].dropna()
        value = sum((h.value for h in hs if h.value is not None), Decimal(0))
        used.append(HoldingUsed(
            symbol=symbol, sources=sorted({h.source for h in hs}), quantity=_tidy(quantities[symbol]),
            price_symbol=hs[0].price_symbol, currency=hs[0].currency, price=hs[0].price, value=value,
            first_day=column.index[0].date(), last_day=column.index[-1].date()))

    if not val.holdings:
        notes.append("you hold nothing: deposit or trade on the platform, or record what you hold elsewhere "
                     "with du portfolio holdings-update")
    elif not groups:
        notes.append("none of your holdings has a daily price in the window: see left_out")
    elif values.empty:
        notes.append("your holdings have no day in the window on which all of them have a price")
    if bench is not None and bench.empty:
        notes.append(f"the benchmark {benchmark} has no daily closes between {span.start.isoformat()} and "
                     f"{span.end.isoformat()}")
    return Snapshot(user_id=user_id, valuation=val, window=span, closes=closes, quantities=quantities,
                    holdings=dict(groups), used=used, left_out=left_out, values=values, figures=figures,
                    notes=notes)

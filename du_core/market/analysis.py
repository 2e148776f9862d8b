"""Statistics of daily closes: returns, volatility, ranges, drawdown and correlation, with pandas.

Everything is computed on daily candles: stored 1d candles, or finer ones aggregated to UTC days
in SQL. Prices and ranges stay Decimals (shown with the symbol's places); statistics of returns
are floats, and every float is checked finite before it leaves: a figure that cannot be computed
is None with a note saying why, never NaN and never a 0 that would read as a measurement.

    daily return r_t           close_t / close_{t-1} - 1, between consecutive daily closes
    mean daily return          mean(r)                                  needs 1 return
    daily volatility           sample standard deviation of r (n - 1)   needs 2 returns
    annualised volatility      daily volatility x sqrt(periods per year): 365 for this exchange's
                               instruments (they trade every day), 252 for imported symbols
    total return               last close / first close - 1             needs 2 closes
    max drawdown               min over t of close_t / max(close_<=t) - 1 needs 2 closes
    correlation                Pearson, of the daily returns on the days every symbol has a close
                               (a return then spans the same days for all)  needs 3 returns
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from du_core.market import candles
from du_core.market.schemas import AnalysisQuery, AnalysisView, CorrelationRow, DailyRow

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from du_core.market.service import SymbolInfo

DEFAULT_LOOKBACK = 365
MIN_CORRELATION_RETURNS = 3


def finite(value: object) -> float | None:
    """A float fit for JSON, or None (NaN and infinities are not figures)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def period(session: Session, req: AnalysisQuery, symbol: str) -> tuple[date, date] | None:
    """The days analysed, both included; None when there is no candle to anchor a lookback to.

    `until` defaults to the day of the symbol's newest candle (so an imported series that ended
    long ago is still analysed); the start is `since`, or `lookback` days back (365 by default).
    """
    until = req.until
    if until is None:
        newest = max(candles.coverage(session, symbol).last_starts.values(), default=None)
        if newest is None:
            return None
        until = newest.date()
    if req.since is not None:
        return (req.since, until) if req.since <= until else None
    return until - timedelta(days=(req.lookback or DEFAULT_LOOKBACK) - 1), until


def daily_bars(session: Session, symbol: str, first: date, last: date) -> tuple[list[candles.Bar], str | None]:
    """The daily candles of `symbol` from `first` to `last`, and the interval they come from."""
    lo, hi = _midnight(first), _midnight(last) + timedelta(days=1)
    source = candles.source_interval("1d", candles.coverage(session, symbol, lo, hi).intervals)
    if source is None:
        return [], None
    return candles.read(session, symbol, "1d", source=source, lo=lo, hi=hi), source


def _closes(bars: list[candles.Bar]) -> pd.Series:
    import pandas as pd

    return pd.Series([float(b.close) for b in bars], index=pd.Index([b.start.date() for b in bars], name="day"),
                     dtype="float64")


def _returns(closes: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Simple returns between consecutive rows (the first row has none)."""
    return (closes / closes.shift(1) - 1).iloc[1:]


def _data_places(bars: list[candles.Bar]) -> int:
    """The most decimal places any price of the series is written with."""
    exponents = (v.normalize().as_tuple().exponent for b in bars for v in (b.high, b.low, b.close))
    return min(18, max((-e for e in exponents if isinstance(e, int)), default=0))


def analyse(session: Session, req: AnalysisQuery, info: SymbolInfo, others: list[SymbolInfo]) -> AnalysisView:
    """The statistics of `info`'s daily closes over the period `req` asks for, and the correlation
    of its daily returns with those of `others` over the same days."""
    notes: list[str] = []
    ppy = info.periods_per_year
    days = period(session, req, info.symbol)
    bars: list[candles.Bar] = []
    source = None
    if days is None:
        after = f" from {req.since.isoformat()} on" if req.since is not None else " to analyse"
        notes.append(f"{info.symbol} has no candles{after}")
    else:
        bars, source = daily_bars(session, info.symbol, *days)
        if not bars:
            notes.append(f"{info.symbol} has no daily closes from {days[0].isoformat()} to {days[1].isoformat()}")
    figures = _figures(info, bars, ppy, notes)
    matrix: list[CorrelationRow] = []
    common = None
    if others:
        matrix, common = _correlation(session, info, bars, others, days, notes)
    series = None
    if req.include_series:
        rets = [None, *(finite(r) for r in _returns(_closes(bars)))] if bars else []
        series = [DailyRow(day=b.start.date(), close=info.price(b.close), daily_return=r) for b, r in zip(bars, rets)]
    return AnalysisView(
        symbol=info.symbol, periods_per_year=ppy, first_day=days[0] if days else None,
        last_day=days[1] if days else None, source_interval=source, days=len(bars), returns=max(0, len(bars) - 1),
        correlation_days=common, correlation=matrix, series=series, notes=notes, **figures,
    )


def _figures(info: SymbolInfo, bars: list[candles.Bar], ppy: int, notes: list[str]) -> dict[str, object]:
    """The single-series figures; each one that cannot be computed is None, with a note."""
    figures: dict[str, object] = dict.fromkeys(
        ("first_close", "last_close", "total_return", "mean_daily_return", "daily_volatility",
         "annualised_volatility", "high", "low", "range", "average_daily_range", "average_daily_range_ratio",
         "max_drawdown", "drawdown_peak", "drawdown_trough"))
    if not bars:
        return figures
    closes = _closes(bars)
    returns = _returns(closes)
    high, low = max(b.high for b in bars), min(b.low for b in bars)
    places = info.price_places if info.price_places is not None else _data_places(bars)
    unit = Decimal(1).scaleb(-min(18, places + 2))
    figures.update(
        first_close=info.price(bars[0].close), last_close=info.price(bars[-1].close), high=info.price(high),
        low=info.price(low), range=info.price(high - low),
        average_daily_range=(sum((b.high - b.low for b in bars), Decimal(0)) / len(bars)).quantize(
            unit, rounding=ROUND_HALF_EVEN),
        average_daily_range_ratio=finite(sum(float((b.high - b.low) / b.close) for b in bars) / len(bars)),
    )
    if len(bars) < 2:
        notes.append("one daily close only: total return, drawdown and the mean return need at least 2 closes")
    else:
        figures["total_return"] = finite(bars[-1].close / bars[0].close - 1)
        figures["mean_daily_return"] = finite(returns.mean())
        peaks = closes.cummax()
        drawdowns = closes / peaks - 1
        worst = finite(drawdowns.min())
        figures["max_drawdown"] = worst
        if worst is not None and worst < 0:
            trough = drawdowns.idxmin()
            figures.update(drawdown_trough=trough, drawdown_peak=closes.loc[:trough].idxmax())
    if len(returns) < 2:
        notes.append(f"{len(returns)} daily return{'s' if len(returns) != 1 else ''}: volatility needs at least 2")
    else:
        daily = finite(returns.std(ddof=1))
        figures["daily_volatility"] = daily
        figures["annualised_volatility"] = finite(daily * math.sqrt(ppy)) if daily is not None else None
    return figures


def _correlation(session: Session, info: SymbolInfo, bars: list[candles.Bar], others: list[SymbolInfo],
                 days: tuple[date, date] | None, notes: list[str]) -> tuple[list[CorrelationRow], int | None]:
    """The correlation matrix of daily returns on the days every symbol with data has a close."""
    import pandas as pd

    symbols = [info.symbol, *(o.symbol for o in others)]
    series: dict[str, pd.Series] = {}
    if len(bars) >= 2:
        series[info.symbol] = _closes(bars)
    for other in others:
        found = daily_bars(session, other.symbol, *days)[0] if days is not None else []
        if len(found) >= 2:
            series[other.symbol] = _closes(found)
        else:
            notes.append(f"{other.symbol} has fewer than 2 daily closes in the period: no correlation with it")
    if info.symbol not in series:
        notes.append(f"{info.symbol} has fewer than 2 daily closes in the period: no correlation")
    values: dict[tuple[str, str], float | None] = {}
    common = None
    if info.symbol in series and len(series) >= 2:
        joined = pd.concat(series, axis=1, join="inner").sort_index()
        returns = _returns(joined)
        common = len(returns)
        if common < MIN_CORRELATION_RETURNS:
            notes.append(f"{common} daily returns common to every symbol: correlation needs at least "
                         f"{MIN_CORRELATION_RETURNS}")
        else:
            corr = returns.corr()
            for a in corr.index:
                for b in corr.columns:
                    values[(a, b)] = finite(corr.loc[a, b])
            for name in corr.columns:
                if finite(returns[name].std(ddof=1)) in (None, 0.0):
                    notes.append(f"{name}'s close did not change on the common days: its correlation is undefined")
    matrix = [CorrelationRow(symbol=a, correlations={b: values.get((a, b)) for b in symbols}) for a in symbols]
    return matrix, common

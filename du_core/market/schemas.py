"""Requests and results of market data: tickers, candles, recent trades, analysis, feeds and imports.

Prices, volumes and ranges are `Exact` decimals (JSON strings): an instrument's with the places of
its tick and lot sizes, an imported symbol's as stored without trailing zeros. Statistical figures
(returns, volatility, drawdown, correlation) are floats, always finite: a figure that cannot be
computed is null and `notes` says why. Returns and ratios are fractions: 0.05 is 5 %.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from du_core.financial.schemas import DayOrTime
from du_core.validation import Exact, Request, View

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,23}", re.ASCII)


def _symbol(value: str) -> str:
    if not _SYMBOL.fullmatch(value):
        raise ValueError("a symbol is 1-24 letters, digits, dots or dashes, starting with a letter or digit "
                         "(BTC-USD, AAPL, BRK.B)")
    return value


Symbol = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=64),
                   AfterValidator(_symbol)]
Interval = Literal["1m", "5m", "15m", "1h", "4h", "1d"]  # du_core.market.models.INTERVALS

MAX_HISTORY = 5000
MAX_TRADES = 500
MAX_IMPORT_CHARS = 64_000_000  # about 500 000 daily rows of a wide CSV
MAX_LOOKBACK_DAYS = 36_500
MAX_WITH = 10


class SymbolQuery(Request):
    symbol: Symbol


class TradesQuery(Request):
    """The newest `limit` public trades of `symbol`."""

    symbol: Symbol
    limit: int = Field(default=50, ge=1, le=MAX_TRADES)


class HistoryQuery(Request):
    """Candles of `symbol` at `interval`; `since`/`until` take a time or a whole day (YYYY-MM-DD).

    Without bounds: the newest `limit` candles. With `since` only: the first `limit` from it.
    """

    symbol: Symbol
    interval: Interval = "1h"
    since: DayOrTime | None = None
    until: DayOrTime | None = None
    limit: int = Field(default=500, ge=1, le=MAX_HISTORY)


class AnalysisQuery(Request):
    """Daily statistics of `symbol` over `lookback` days (up to `until`, or its newest candle), or
    from `since` to `until` (whole days, both included); correlation against `with_symbols`."""

    symbol: Symbol
    with_symbols: list[Symbol] = Field(default_factory=list, max_length=MAX_WITH)
    lookback: int | None = Field(default=None, ge=2, le=MAX_LOOKBACK_DAYS)
    since: date | None = None
    until: date | None = None
    include_series: bool = False

    @model_validator(mode="after")
    def _one_period(self) -> AnalysisQuery:
        if self.lookback is not None and self.since is not None:
            raise ValueError("give either a lookback or a start day (--from), not both")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("the start day is after the end day")
        return self


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise ValueError("the source is an http:// or https:// URL")
    return value


SourceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ImportCandles(Request):
    """Candles of `symbol` at `interval`, from `data` (the text of a CSV or JSON file) or fetched from `url`.

    `format` is guessed when left out: from the URL's file name or content type, else from the
    first character (`[` or `{` is JSON). `source_name` records where `data` came from (a file name).
    """

    symbol: Symbol
    interval: Interval = "1d"
    data: Annotated[str, Field(max_length=MAX_IMPORT_CHARS)] | None = None
    url: Annotated[str, Field(max_length=2000), AfterValidator(_http_url)] | None = None
    format: Literal["csv", "json"] | None = None
    source_name: SourceName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImportCandles:
        if (self.data is None) == (self.url is None):
            raise ValueError("give the candles either as a file's text or as a URL, exactly one of them")
        return self


class TickerView(View):
    """The last price and the last 24 hours of one symbol."""

    symbol: str
    instrument: bool  # traded on this exchange; else an imported series
    status: str | None  # the instrument's: trading or halted
    last_price: Exact | None
    open_24h: Exact | None
    high_24h: Exact | None
    low_24h: Exact | None
    change_24h: Exact | None
    change_percent_24h: Exact | None  # 2 places
    volume_24h: Exact | None  # base units; null when unknown (an imported series with no recent candle)
    quote_volume_24h: Exact | None  # null when the candles do not say it
    trades_24h: int | None
    best_bid: Exact | None
    best_ask: Exact | None
    window_interval: str | None  # the candles the 24 h figures come from
    last_candle_at: datetime | None
    as_of: datetime


class CandleRow(View):
    start: datetime
    open: Exact
    high: Exact
    low: Exact
    close: Exact
    volume: Exact
    quote_volume: Exact | None
    trades: int | None


class HistoryView(View):
    symbol: str
    interval: str
    source_interval: str | None  # the stored interval the candles were read (or aggregated) from
    note: str | None
    items: list[CandleRow]


class MarketTrade(View):
    """One trade as the market sees it: the fields of a trade on the live feed, and nobody's identity."""

    id: int
    at: datetime
    price: Exact
    quantity: Exact
    taker_side: Literal["buy", "sell"]


class TradesView(View):
    symbol: str
    items: list[MarketTrade]  # newest first


class CorrelationRow(View):
    """One row of the correlation matrix of daily returns: this symbol against each one."""

    symbol: str
    correlations: dict[str, float | None]


class DailyRow(View):
    day: date
    close: Exact
    daily_return: float | None  # against the previous close; null for the first day


class AnalysisView(View):
    symbol: str
    periods_per_year: int  # 365 for this exchange's instruments (24/7), 252 for imported symbols
    first_day: date | None
    last_day: date | None
    source_interval: str | None  # the candles the daily closes were read or aggregated from
    days: int  # daily closes in the period
    returns: int  # daily returns (days - 1)
    first_close: Exact | None
    last_close: Exact | None
    total_return: float | None
    mean_daily_return: float | None
    daily_volatility: float | None  # sample standard deviation of the daily returns
    annualised_volatility: float | None  # daily_volatility x sqrt(periods_per_year)
    high: Exact | None
    low: Exact | None
    range: Exact | None  # high - low over the period
    average_daily_range: Exact | None  # mean of each day's high - low
    average_daily_range_ratio: float | None  # mean of each day's (high - low) / close
    max_drawdown: float | None  # the worst fall from a previous peak close, <= 0
    drawdown_peak: date | None
    drawdown_trough: date | None
    correlation_days: int | None  # daily returns common to every symbol of the matrix
    correlation: list[CorrelationRow]
    series: list[DailyRow] | None
    notes: list[str]


FeedKind = Literal["internal", "import", "external"]


class FeedView(View):
    name: str
    kind: FeedKind
    symbol: str
    interval: str | None
    source: str | None
    status: str  # internal: the instrument's (trading, halted); imports: ok or failed
    rows: int | None
    first_candle_at: datetime | None
    last_candle_at: datetime | None
    last_trade_at: datetime | None
    last_run_at: datetime | None
    error: str | None


class ImportView(View):
    feed: str
    symbol: str
    interval: str
    source: str
    format: str
    rows: int  # in the file
    inserted: int
    updated: int
    unchanged: int
    first_candle_at: datetime
    last_candle_at: datetime

"""Market data operations: prices, tickers, recent trades, candle history, analysis, feeds and imports.

Everything here reads candles (written by the exchange's trades through `candles.RECORD`, or by
`market.import`), the resting orders and the trades themselves (their public part: never who
traded); only the import writes, and only candles of source "import" and its feed's row. A symbol
is known when it is an instrument of this exchange or has candles; any other symbol is NotFound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from du_core.actor import Actor
from du_core.audit.trail import record
from du_core.db import fast
from du_core.errors import DomainError, InvalidInput, InvalidState, NotFound
from du_core.market import candles
from du_core.market.models import INTERVALS, MarketFeed
from du_core.market.schemas import (
    AnalysisQuery, AnalysisView, CandleRow, FeedView, HistoryQuery, HistoryView, ImportCandles, ImportView,
    MarketTrade, SymbolQuery, TickerView, TradesQuery, TradesView,
)
from du_core.operations import operation
from du_core.trading.models import Instrument

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DAY = timedelta(days=1)
CLOCK_SKEW = timedelta(minutes=5)  # an imported candle this far ahead of our clock is another machine's "now"
IMPORT_BATCH = 20_000
PERCENT = Decimal("0.01")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def places_of(step: Decimal) -> int:
    """The decimal places of a tick or lot size (0.010 -> 2, 1 -> 0)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def tidy(value: Decimal) -> Decimal:
    """A stored value without the trailing zeros of its column (187.150000 -> 187.15)."""
    return value.normalize() if value else Decimal(0)


@dataclass(frozen=True)
class SymbolInfo:
    """A known symbol: an instrument (with its tick and lot places) or an imported series."""

    symbol: str
    instrument: bool
    status: str | None = None
    last_price: Decimal | None = None
    price_places: int | None = None
    volume_places: int | None = None

    @property
    def periods_per_year(self) -> int:
        """Daily periods in a year: this exchange trades every day; imported markets ~252 days."""
        return 365 if self.instrument else 252

    def _shown(self, value: Decimal | None, places: int | None) -> Decimal | None:
        if value is None:
            return None
        if places is None:
            return tidy(value)
        shown = value.quantize(Decimal(1).scaleb(-places))
        return shown if shown == value else tidy(value)  # never round a stored digit away

    def price(self, value: Decimal | None) -> Decimal | None:
        return self._shown(value, self.price_places)

    def volume(self, value: Decimal | None) -> Decimal | None:
        return self._shown(value, self.volume_places)

    def quote(self, value: Decimal | None) -> Decimal | None:
        places = None if self.price_places is None else self.price_places + (self.volume_places or 0)
        return self._shown(value, places)


def lookup(session: Session, symbol: str) -> SymbolInfo:
    """What the platform knows of `symbol`.

    Raises:
        NotFound: neither an instrument of this exchange nor a symbol with candles.
    """
    found = session.execute(select(Instrument.status, Instrument.last_price, Instrument.tick_size,
                                   Instrument.lot_size).where(Instrument.symbol == symbol)).first()
    if found is not None:
        return SymbolInfo(symbol, True, found.status, found.last_price, places_of(found.tick_size),
                          places_of(found.lot_size))
    if fast.execute(session, "SELECT 1 FROM candles WHERE symbol = %(s)s LIMIT 1", {"s": symbol}).fetchone():
        return SymbolInfo(symbol, False)
    raise NotFound(f"no market data for {symbol}: it is not an instrument of this exchange and has no candles",
                   details={"symbol": symbol})


# tickers

_WINDOW = """
SELECT (array_agg(open ORDER BY start))[1], max(high), min(low), sum(volume),
       CASE WHEN count(quote_volume) = count(*) THEN sum(quote_volume) END,
       CASE WHEN count(trades) = count(*) THEN sum(trades) END
FROM candles WHERE symbol = %(symbol)s AND "interval" = %(interval)s AND start >= %(lo)s AND start <= %(now)s
"""
_LAST_CLOSE = """
SELECT close FROM candles WHERE symbol = %(symbol)s AND "interval" = %(interval)s ORDER BY start DESC LIMIT 1
"""
_BEST = """
SELECT (SELECT max(price) FROM orders WHERE symbol = %(symbol)s AND side = 'buy'
            AND status IN ('open', 'partially_filled')),
       (SELECT min(price) FROM orders WHERE symbol = %(symbol)s AND side = 'sell'
            AND status IN ('open', 'partially_filled'))
"""


def ticker_of(session: Session, info: SymbolInfo, now: datetime) -> TickerView:
    """The ticker of a known symbol at `now`: 24 h figures from the finest candles that cover the window."""
    symbol, lo = info.symbol, now - DAY
    reach = candles.coverage(session, symbol).last_starts
    last = info.last_price
    newest = max(reach.values(), default=None)
    if last is None and newest is not None:
        interval = next(name for name, start in reach.items() if start == newest)
        last = fast.execute(session, _LAST_CLOSE, {"symbol": symbol, "interval": interval}).fetchone()[0]
    window = next((name for name, start in reach.items() if start >= lo), None)
    open_ = high = low = volume = quote_volume = change = percent = None
    trades: int | None = None
    if window is not None:
        open_, high, low, volume, quote_volume, trades = fast.execute(
            session, _WINDOW, {"symbol": symbol, "interval": window, "lo": lo, "now": now}).fetchone()
        if last is not None and open_ is not None:
            change = last - open_
            percent = (change / open_ * 100).quantize(PERCENT)
    elif info.instrument:  # the exchange's own feed is complete: no candle in the window is no trade
        volume = quote_volume = Decimal(0)
        trades = 0
    bid = ask = None
    if info.instrument:
        bid, ask = fast.execute(session, _BEST, {"symbol": symbol}).fetchone()
    return TickerView(
        symbol=symbol, instrument=info.instrument, status=info.status, last_price=info.price(last),
        open_24h=info.price(open_), high_24h=info.price(high), low_24h=info.price(low),
        change_24h=info.price(change), change_percent_24h=percent, volume_24h=info.volume(volume),
        quote_volume_24h=info.quote(quote_volume), trades_24h=None if trades is None else int(trades),
        best_bid=info.price(bid), best_ask=info.price(ask), window_interval=window, last_candle_at=newest, as_of=now,
    )


_OTHER_SYMBOLS = """
WITH RECURSIVE s(symbol) AS (
    SELECT min(symbol) FROM candles
    UNION ALL
    SELECT (SELECT min(c.symbol) FROM candles c WHERE c.symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL
)
SELECT symbol FROM s WHERE symbol IS NOT NULL AND symbol NOT IN (SELECT symbol FROM instruments)
"""


@operation("market.prices")
def prices(session: Session, actor: Actor, _: None = None) -> list[TickerView]:
    """The ticker of every instrument of the exchange, then of every other symbol that has candles."""
    now = _now()
    symbols = session.scalars(select(Instrument.symbol).order_by(Instrument.symbol)).all()
    infos = [lookup(session, symbol) for symbol in symbols]
    # a skip scan of the primary key: one index probe per symbol, however many candles each has
    infos += [SymbolInfo(symbol, False) for (symbol,) in fast.execute(session, _OTHER_SYMBOLS).fetchall()]
    return [ticker_of(session, info, now) for info in infos]


@operation("market.ticker")
def ticker(session: Session, actor: Actor, req: SymbolQuery) -> TickerView:
    """The last price, 24 h change, range and volume, and the best bid and ask of one symbol.

    Raises:
        NotFound: an unknown symbol.
    """
    return ticker_of(session, lookup(session, req.symbol), _now())


# recent trades

# Newest first by id: a backward scan of ix_trades_symbol_id that stops after `limit` rows. One
# symbol's trades are written under its instrument's lock, so their ids are in the order they happened.
_RECENT_TRADES = """
SELECT id, created_at, price, quantity, taker_side FROM trades
WHERE symbol = %(symbol)s ORDER BY id DESC LIMIT %(limit)s
"""


@operation("market.trades")
def trades(session: Session, actor: Actor, req: TradesQuery) -> TradesView:
    """The newest public trades of a symbol, newest first: what the live feed says of each trade.

    An imported symbol (candles only) has none.

    Raises:
        NotFound: an unknown symbol.
    """
    info = lookup(session, req.symbol)
    if not info.instrument:  # only this exchange's instruments trade here
        return TradesView(symbol=info.symbol, items=[])
    rows = fast.execute(session, _RECENT_TRADES, {"symbol": info.symbol, "limit": req.limit}).fetchall()
    return TradesView(symbol=info.symbol, items=[
        MarketTrade(id=trade_id, at=at, price=info.price(price), quantity=info.volume(quantity), taker_side=side)
        for trade_id, at, price, quantity, side in rows])


# history


def _bound(value: datetime | date, *, end: bool) -> datetime:
    """A time filter as a UTC instant; the end is exclusive (a whole day ends where the next begins)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment + timedelta(microseconds=1) if end else moment
    start = datetime.combine(value, time(0), tzinfo=timezone.utc)
    return start + DAY if end else start


def span(interval: str, since: datetime | date | None, until: datetime | date | None) -> tuple[datetime, datetime]:
    """[lo, hi) on bucket boundaries of `interval`: every bucket that overlaps the period asked.

    Raises:
        InvalidInput: the start is after the end.
    """
    lo = _bound(since, end=False) if since is not None else candles.FAR_PAST
    hi = _bound(until, end=True) if until is not None else candles.FAR_FUTURE
    if lo >= hi:
        raise InvalidInput("the start of the period is after its end", details={"field": "since"})
    step = timedelta(seconds=INTERVALS[interval])
    if since is not None:
        lo = candles.bucket_start(lo, interval)
    if until is not None:
        start = candles.bucket_start(hi, interval)
        hi = start if start == hi else start + step
    return lo, hi


def candle_row(info: SymbolInfo, bar: candles.Bar) -> CandleRow:
    return CandleRow(start=bar.start, open=info.price(bar.open), high=info.price(bar.high), low=info.price(bar.low),
                     close=info.price(bar.close), volume=info.volume(bar.volume),
                     quote_volume=info.quote(bar.quote_volume), trades=bar.trades)


@operation("market.history")
def history(session: Session, actor: Actor, req: HistoryQuery) -> HistoryView:
    """OHLCV candles of a symbol, oldest first.

    Candles stored at the interval asked are returned as they are; where there are none in the
    period but a finer interval has some, they are aggregated from the coarsest such interval.
    Without a start, the newest `limit` candles; with one, the first `limit` from it.

    Raises:
        NotFound: an unknown symbol.
        InvalidInput: the start is after the end.
    """
    info = lookup(session, req.symbol)
    lo, hi = span(req.interval, req.since, req.until)
    available = candles.coverage(session, info.symbol, lo, hi).intervals
    source = candles.source_interval(req.interval, available)
    note = None
    if source is None:
        bars: list[candles.Bar] = []
        if available:
            note = (f"{info.symbol} has only {', '.join(available)} candles in this period, none of "
                    f"{req.interval} or finer: ask for one of those intervals")
        else:
            note = f"{info.symbol} has no candles in this period"
    else:
        bars = candles.read(session, info.symbol, req.interval, source=source, lo=lo, hi=hi, limit=req.limit,
                            newest=req.since is None)
        if source != req.interval:
            note = f"aggregated from {source} candles"
    return HistoryView(symbol=info.symbol, interval=req.interval, source_interval=source, note=note,
                       items=[candle_row(info, bar) for bar in bars])


# analysis


@operation("market.analysis")
def analysis(session: Session, actor: Actor, req: AnalysisQuery) -> AnalysisView:
    """Statistics of a symbol's daily closes: returns, volatility, ranges, drawdown, and correlation.

    Raises:
        NotFound: the symbol or one of the symbols to correlate with is unknown.
    """
    from du_core.market.analysis import analyse

    info = lookup(session, req.symbol)
    others = [lookup(session, s) for s in dict.fromkeys(req.with_symbols) if s != info.symbol]
    return analyse(session, req, info, others)


# feeds

_INTERNAL = """
SELECT i.symbol, i.status,
       (SELECT created_at FROM trades t WHERE t.symbol = i.symbol ORDER BY t.id DESC LIMIT 1),
       (SELECT min(start) FROM candles c WHERE c.symbol = i.symbol AND c."interval" = '1m' AND c.source = 'trades'),
       (SELECT max(start) FROM candles c WHERE c.symbol = i.symbol AND c."interval" = '1m' AND c.source = 'trades')
FROM instruments i ORDER BY i.symbol
"""


@operation("market.feeds")
def feeds(session: Session, actor: Actor, _: None = None) -> list[FeedView]:
    """Every source of market data: each instrument's own trades, then each import and external feed."""
    views = [
        FeedView(name=f"trades:{symbol}", kind="internal", symbol=symbol, interval=None, source="trades",
                 status=status, rows=None, first_candle_at=first, last_candle_at=last, last_trade_at=traded,
                 last_run_at=None, error=None)
        for symbol, status, traded, first, last in fast.execute(session, _INTERNAL).fetchall()
    ]
    for feed in session.scalars(select(MarketFeed).order_by(MarketFeed.kind, MarketFeed.name)):
        views.append(FeedView(
            name=feed.name, kind=feed.kind, symbol=feed.symbol, interval=feed.interval,  # type: ignore[arg-type]
            source=feed.source, status=feed.status, rows=feed.rows, first_candle_at=feed.first_candle_at,
            last_candle_at=feed.last_candle_at, last_trade_at=None, last_run_at=feed.last_run_at, error=feed.error))
    return views


# import

_TRADE_MADE = """
SELECT start FROM candles
WHERE symbol = %(symbol)s AND "interval" = %(interval)s AND start BETWEEN %(first)s AND %(last)s
  AND source = 'trades' AND start = ANY(%(starts)s::timestamptz[])
ORDER BY start LIMIT 1
"""
_UPSERT = """
INSERT INTO candles AS c (symbol, "interval", start, open, high, low, close, volume, quote_volume, trades, source)
SELECT %(symbol)s, %(interval)s, t.*, 'import'
FROM unnest(%(start)s::timestamptz[], %(open)s::numeric[], %(high)s::numeric[], %(low)s::numeric[],
            %(close)s::numeric[], %(volume)s::numeric[], %(quote_volume)s::numeric[], %(trades)s::int[]) AS t
ON CONFLICT (symbol, "interval", start) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, quote_volume = EXCLUDED.quote_volume, trades = EXCLUDED.trades
WHERE c.source = 'import'
  AND (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades)
      IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume,
                        EXCLUDED.quote_volume, EXCLUDED.trades)
RETURNING xmax = 0
"""
_FEED_OK = """
INSERT INTO market_feeds AS f (name, kind, symbol, source, "interval", rows, first_candle_at, last_candle_at,
                               last_run_at, status, error)
SELECT %(name)s, 'import', %(symbol)s::varchar, %(source)s, %(interval)s::varchar, count(*), min(start), max(start),
       now(), 'ok', NULL
FROM candles WHERE symbol = %(symbol)s::varchar AND "interval" = %(interval)s::varchar AND source = 'import'
ON CONFLICT (name) DO UPDATE SET
    source = EXCLUDED.source, rows = EXCLUDED.rows, first_candle_at = EXCLUDED.first_candle_at,
    last_candle_at = EXCLUDED.last_candle_at, last_run_at = EXCLUDED.last_run_at, status = 'ok', error = NULL
RETURNING rows
"""
# A failed run keeps the feed's source and counts: they still describe the candles stored.
_FEED_FAILED = """
INSERT INTO market_feeds AS f (name, kind, symbol, source, "interval", rows, last_run_at, status, error)
VALUES (%(name)s, 'import', %(symbol)s, %(source)s, %(interval)s, 0, now(), 'failed', %(error)s)
ON CONFLICT (name) DO UPDATE SET last_run_at = EXCLUDED.last_run_at, status = 'failed', error = EXCLUDED.error
"""


def feed_name(symbol: str, interval: str) -> str:
    return f"import:{symbol}:{interval}"


@operation("market.import")
def import_candles(session: Session, actor: Actor, req: ImportCandles) -> ImportView:
    """Store a file of candles of one symbol and interval, all of it or nothing.

    Every row is checked first; the first bad one refuses the whole file. Re-importing the same
    rows changes nothing (upsert; `unchanged` counts them). A refused or failed run is recorded
    on the feed and in the audit trail, and nothing else is written.

    Raises:
        InvalidInput: a bad file: the message names the first bad row and what is wrong with it.
        InvalidState: the file would overwrite candles made by this exchange's own trades.
        Unavailable: the URL cannot be fetched.
    """
    from du_core.market import importer

    name = feed_name(req.symbol, req.interval)
    source = importer.safe_url(req.url) if req.url else f"file:{req.source_name}" if req.source_name else "upload"
    fmt = req.format or "csv"
    try:
        if req.url is not None:
            fetched = importer.fetch(req.url)
            data = fetched.data
            fmt = req.format or importer.guess_format(data, url=req.url, content_type=fetched.content_type)
        else:
            data = (req.data or "").encode()
            fmt = req.format or importer.guess_format(data, url=req.source_name)
        rows = importer.parse(data, fmt=fmt, interval=req.interval, now=_now() + CLOCK_SKEW)
        params: dict[str, Any] = {"symbol": req.symbol, "interval": req.interval}
        clash = fast.execute(session, _TRADE_MADE, {**params, "first": rows[0].start, "last": rows[-1].start,
                                                     "starts": [r.start for r in rows]}).fetchone()
        if clash is not None:
            raise InvalidState(f"{req.symbol} already has a {req.interval} candle at {clash[0].isoformat()} made by "
                               "this exchange's trades; an import may not overwrite them",
                               details={"symbol": req.symbol, "start": clash[0].isoformat()})
    except DomainError as err:
        fast.execute(session, _FEED_FAILED, {"name": name, "symbol": req.symbol, "source": source,
                                             "interval": req.interval, "error": err.message[:1000]})
        record(session, actor, "market.import", target_type="market_feed", target_id=name, outcome="failed",
               details={"source": source, "format": fmt, "error": err.message, "code": err.code})
        err.keep_changes = True  # the feed's failed status and the audit record; no candle was written
        raise
    inserted = updated = 0
    for i in range(0, len(rows), IMPORT_BATCH):
        batch = rows[i:i + IMPORT_BATCH]
        columns = {field: [getattr(r, field) for r in batch]
                   for field in ("start", "open", "high", "low", "close", "volume", "quote_volume", "trades")}
        flags = [flag for (flag,) in fast.execute(session, _UPSERT, {**params, **columns}).fetchall()]
        inserted += sum(flags)
        updated += len(flags) - sum(flags)
    stored = fast.execute(session, _FEED_OK, {**params, "name": name, "source": source}).fetchone()[0]
    view = ImportView(feed=name, symbol=req.symbol, interval=req.interval, source=source, format=fmt, rows=len(rows),
                      inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated,
                      first_candle_at=rows[0].start, last_candle_at=rows[-1].start)
    record(session, actor, "market.import", target_type="market_feed", target_id=name,
           new={"inserted": inserted, "updated": updated, "unchanged": view.unchanged, "stored": stored},
           details={"source": source, "format": fmt, "rows": len(rows), "first_candle_at": view.first_candle_at,
                    "last_candle_at": view.last_candle_at})
    return view

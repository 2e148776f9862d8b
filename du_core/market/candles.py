"""Candles: written from the exchange's trades on the order path, read back at any interval.

`RECORD` runs inside every transaction that makes trades (du_core.trading sends it within the
statement that notifies the live feed; `record_trades` sends it alone), so it is one statement: the trades go up as three arrays, are binned into the
buckets of all six intervals at once (`date_bin`, aligned to the Unix epoch in UTC) and merged
into the stored candles with ON CONFLICT. The caller holds the instrument's matching lock, so
the trades of one symbol arrive in trade order and the last one's price is the close.

`read` returns the candles of one interval, from those stored at that interval or, where there
are none, aggregated in SQL from the coarsest finer interval that has some (an import of hourly
candles still answers a question about days).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.db import fast
from du_core.market.models import INTERVALS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["INTERVALS", "Bar", "Coverage", "bucket_start", "coverage", "read", "record_trades"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STEPS = ", ".join(f"('{name}', INTERVAL '{seconds} seconds')" for name, seconds in INTERVALS.items())

# Public: the exchange runs it inside its own notifying statement (one round trip for both).
RECORD = f"""
INSERT INTO candles AS c (symbol, "interval", start, open, high, low, close, volume, quote_volume, trades, source)
SELECT %(symbol)s, i.name, date_bin(i.step, t.at, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
       (array_agg(t.price ORDER BY t.n))[1], max(t.price), min(t.price), (array_agg(t.price ORDER BY t.n DESC))[1],
       sum(t.quantity), sum(t.price * t.quantity), count(*), 'trades'
FROM unnest(%(at)s::timestamptz[], %(price)s::numeric[], %(quantity)s::numeric[])
     WITH ORDINALITY AS t(at, price, quantity, n)
CROSS JOIN (VALUES {_STEPS}) AS i(name, step)
GROUP BY 1, 2, 3
ON CONFLICT (symbol, "interval", start) DO UPDATE SET
    high = greatest(c.high, EXCLUDED.high),
    low = least(c.low, EXCLUDED.low),
    close = EXCLUDED.close,
    volume = c.volume + EXCLUDED.volume,
    quote_volume = c.quote_volume + EXCLUDED.quote_volume,
    trades = c.trades + EXCLUDED.trades
"""


def record_trades(session: Session, symbol: str, trades: Sequence[tuple[datetime, Decimal, Decimal]]) -> None:
    """Add trades (time, price, quantity, in trade order) to the candles of every interval of `symbol`.

    One round trip, in the caller's transaction. A bucket's open is its first trade's price and
    stays so; high and low widen, the close becomes the last trade's price, volume (base),
    quote volume (price x quantity) and the trade count add up.
    """
    if not trades:
        return
    at, price, quantity = (list(column) for column in zip(*trades, strict=True))
    fast.execute(session, RECORD, {"symbol": symbol, "at": at, "price": price, "quantity": quantity})


def bucket_start(moment: datetime, interval: str) -> datetime:
    """The start of the bucket of `interval` that holds `moment` (aligned to the epoch, in UTC)."""
    seconds = INTERVALS[interval]
    offset = (moment - EPOCH) // timedelta(seconds=1)
    return EPOCH + timedelta(seconds=offset - offset % seconds)


def is_aligned(moment: datetime, interval: str) -> bool:
    """True when `moment` is the start of a bucket of `interval`."""
    return moment == bucket_start(moment, interval) and moment.microsecond == 0


@dataclass(frozen=True)
class Bar:
    """One candle as read: NULL volume figures (unknown to an import) stay None."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal | None
    trades: int | None


@dataclass(frozen=True)
class Coverage:
    """The intervals of a symbol that have candles in a window, finest first, with each one's newest start."""

    last_starts: dict[str, datetime]

    @property
    def intervals(self) -> list[str]:
        return list(self.last_starts)

    @property
    def newest(self) -> str | None:
        """The interval whose candles reach furthest (the finest of those that reach as far)."""
        if not self.last_starts:
            return None
        latest = max(self.last_starts.values())
        return next(name for name, last in self.last_starts.items() if last == latest)


_COVERAGE = """
SELECT i.name, (SELECT max(start) FROM candles c
                WHERE c.symbol = %(symbol)s AND c."interval" = i.name AND c.start >= %(lo)s AND c.start < %(hi)s)
FROM unnest(%(names)s::text[]) WITH ORDINALITY AS i(name, n) ORDER BY i.n
"""

FAR_PAST = datetime(1, 1, 2, tzinfo=timezone.utc)
FAR_FUTURE = datetime(9999, 12, 30, tzinfo=timezone.utc)


def coverage(session: Session, symbol: str, lo: datetime = FAR_PAST, hi: datetime = FAR_FUTURE) -> Coverage:
    """The intervals with candles of `symbol` starting in [lo, hi): one index probe per interval."""
    rows = fast.execute(session, _COVERAGE, {"symbol": symbol, "lo": lo, "hi": hi, "names": list(INTERVALS)}).fetchall()
    return Coverage({name: last for name, last in rows if last is not None})


_STORED = """
SELECT start, open, high, low, close, volume, quote_volume, trades FROM candles
WHERE symbol = %(symbol)s AND "interval" = %(interval)s AND start >= %(lo)s AND start < %(hi)s
ORDER BY start {order} LIMIT %(limit)s
"""

# A bucket's quote volume or trade count is known only when every finer candle in it knows it.
_AGGREGATED = """
SELECT date_bin(%(step)s, start, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
       (array_agg(open ORDER BY start))[1], max(high), min(low), (array_agg(close ORDER BY start DESC))[1],
       sum(volume),
       CASE WHEN count(quote_volume) = count(*) THEN sum(quote_volume) END,
       CASE WHEN count(trades) = count(*) THEN sum(trades) END
FROM candles
WHERE symbol = %(symbol)s AND "interval" = %(finer)s AND start >= %(lo)s AND start < %(hi)s
GROUP BY bucket ORDER BY bucket {order} LIMIT %(limit)s
"""


def source_interval(interval: str, available: Sequence[str]) -> str | None:
    """The interval to read `interval` from: itself when stored, else the coarsest finer one stored."""
    if interval in available:
        return interval
    finer = [name for name in available if INTERVALS[name] < INTERVALS[interval]
             and INTERVALS[interval] % INTERVALS[name] == 0]
    return max(finer, key=INTERVALS.__getitem__, default=None)


def read(session: Session, symbol: str, interval: str, *, source: str, lo: datetime = FAR_PAST,
         hi: datetime = FAR_FUTURE, limit: int | None = None, newest: bool = False) -> list[Bar]:
    """Candles of `interval` starting in [lo, hi), oldest first, read from the `source` interval.

    `lo` and `hi` are taken to bucket boundaries of `interval`, so an aggregated bucket is never cut
    in two. With `limit`, the first `limit` buckets, or the last ones when `newest`.
    """
    if lo > FAR_PAST:
        lo = bucket_start(lo, interval)
    if hi < FAR_FUTURE:
        start = bucket_start(hi, interval)
        hi = start if start == hi else start + timedelta(seconds=INTERVALS[interval])
    params = {"symbol": symbol, "interval": interval, "finer": source, "lo": lo, "hi": hi, "limit": limit,
              "step": timedelta(seconds=INTERVALS[interval])}
    sql = (_STORED if source == interval else _AGGREGATED).format(order="DESC" if newest else "ASC")
    rows = fast.execute(session, sql, params).fetchall()
    bars = [Bar(*row[:7], trades=None if row[7] is None else int(row[7])) for row in rows]
    return bars[::-1] if newest else bars

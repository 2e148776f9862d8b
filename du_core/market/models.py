"""The tables of market data: OHLCV candles and the feeds that fill them (migration 0004).

Candles are keyed by (symbol, interval, start), buckets aligned to the Unix epoch in UTC. The
symbol is any market symbol, not only an instrument of this exchange (imported stocks such as
AAPL are analysed beside the exchange's pairs), so there is no foreign key to `instruments`.
A candle's `trades` and `quote_volume` are NULL where an import did not say them: unknown, not 0.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from du_core.db.base import Amount, Base
from du_core.db.base import created_at as stamped

# name -> seconds; the order is finest first
INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400}
CANDLE_SOURCES = ("trades", "import")
FEED_KINDS = ("internal", "import", "external")
FEED_STATES = ("ok", "failed")
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-]{0,23}$"


class Candle(Base):
    """Open, high, low, close and volume of one symbol over one bucket of one interval."""

    __tablename__ = "candles"
    __table_args__ = (
        CheckConstraint(f"symbol ~ '{SYMBOL_PATTERN}'", name="symbol"),
        CheckConstraint(f"\"interval\" IN {tuple(INTERVALS)}", name="interval"),
        CheckConstraint(f"source IN {CANDLE_SOURCES}", name="source"),
        CheckConstraint("open > 0 AND high > 0 AND low > 0 AND close > 0 AND high < 1e20", name="prices"),
        CheckConstraint("high >= low AND high >= greatest(open, close) AND low <= least(open, close)",
                        name="high_low"),
        CheckConstraint("volume >= 0 AND volume < 1e20 AND (quote_volume IS NULL OR quote_volume >= 0)",
                        name="volume"),
        CheckConstraint("trades IS NULL OR trades >= 0", name="trades"),
    )

    symbol: Mapped[str] = mapped_column(String(24), primary_key=True)
    interval: Mapped[str] = mapped_column(String(3), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    open: Mapped[Amount]
    high: Mapped[Amount]
    low: Mapped[Amount]
    close: Mapped[Amount]
    volume: Mapped[Amount]
    quote_volume: Mapped[Amount | None]
    trades: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))


class MarketFeed(Base):
    """A source of candles and how its last run went: an import, or an external venue's feed.

    The internal feed of each instrument (its own trades) is not stored here: `market.feeds` reads
    it from the trades, so the order path never writes a row that every trade would contend for.
    """

    __tablename__ = "market_feeds"
    __table_args__ = (
        CheckConstraint(f"kind IN {FEED_KINDS}", name="kind"),
        CheckConstraint(f"status IN {FEED_STATES}", name="status"),
        CheckConstraint(f"\"interval\" IS NULL OR \"interval\" IN {tuple(INTERVALS)}", name="interval"),
        CheckConstraint("rows >= 0", name="rows"),
    )

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(24))
    source: Mapped[str | None] = mapped_column(Text)  # the URL or file name it came from
    interval: Mapped[str | None] = mapped_column(String(3))
    rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    first_candle_at: Mapped[datetime | None]
    last_candle_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped()

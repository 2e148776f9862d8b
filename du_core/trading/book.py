"""The order book as others see it: aggregated price levels and the sequence number they belong to.

Live feeds start from a snapshot and apply deltas whose sequence numbers follow the snapshot's;
the snapshot and its `book_seq` are read by one statement, so they describe the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from du_core.db import fast
from du_core.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_SNAPSHOT = """
SELECT i.book_seq, i.tick_size, i.lot_size, l.side, l.price, l.quantity, l.orders
FROM instruments i
LEFT JOIN LATERAL (
    (SELECT 'buy' AS side, price, sum(quantity - filled) AS quantity, count(*) AS orders FROM orders
     WHERE symbol = i.symbol AND side = 'buy' AND status IN ('open', 'partially_filled')
     GROUP BY price ORDER BY price DESC LIMIT %(depth)s)
    UNION ALL
    (SELECT 'sell', price, sum(quantity - filled), count(*) FROM orders
     WHERE symbol = i.symbol AND side = 'sell' AND status IN ('open', 'partially_filled')
     GROUP BY price ORDER BY price LIMIT %(depth)s)
) l ON true
WHERE i.symbol = %(symbol)s
"""


def _step(size: Decimal) -> Decimal:
    """The quantum of a tick or lot size as stored (0.010000... -> 0.01), to show levels with its places."""
    from du_core.trading.exchange import places

    return Decimal(1).scaleb(-places(size))


@dataclass
class Snapshot:
    """Levels best first: (price, total remaining quantity, number of orders)."""

    symbol: str
    seq: int
    bids: list[tuple[Decimal, Decimal, int]] = field(default_factory=list)
    asks: list[tuple[Decimal, Decimal, int]] = field(default_factory=list)


def snapshot(session: Session, symbol: str, depth: int | None = None) -> Snapshot:
    """The aggregated book of `symbol` (every level when `depth` is None) and its sequence number.

    Raises:
        NotFound: no such instrument.
    """
    rows = fast.execute(session, _SNAPSHOT, {"symbol": symbol, "depth": depth}).fetchall()
    if not rows:
        raise NotFound(f"no instrument {symbol!r}", details={"symbol": symbol})
    book = Snapshot(symbol=symbol, seq=rows[0][0])
    for _seq, tick, lot, side, price, quantity, orders in rows:
        if side is not None:
            level = (price.quantize(_step(tick)), quantity.quantize(_step(lot)), orders)
            (book.bids if side == "buy" else book.asks).append(level)
    return book

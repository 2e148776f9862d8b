"""The live market feed as the TUI consumes it: a thread listening to the database.

`MarketFeed.run` is meant for a worker thread. It opens its own event loop, LISTENs through
`du_core.market.live.Listener`, then takes a book snapshot (listen first, snapshot second: the
order `du_core.market.live` explains) and keeps one symbol's `BookState` current, taking a new
snapshot on every gap or reconnection. Book changes are coalesced: the latest levels wait in
`latest` for the UI to pick up on its timer; trades are handed to `on_trades` as they come.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from du_core.market.live import BookState, Listener, Notice, Outcome, Resync


@dataclass(frozen=True)
class BookLevels:
    """One picture of the book: levels best first as (price, quantity, orders or None)."""

    symbol: str
    seq: int
    bids: Sequence[tuple[Any, Any, Any]]
    asks: Sequence[tuple[Any, Any, Any]]


class MarketFeed:
    """One symbol's live book and every symbol's trades, from the database's notifications."""

    def __init__(self, url: str, symbol: str, *, snapshot: Callable[[str], Any],
                 on_trades: Callable[[str, list[dict[str, Any]]], None],
                 on_status: Callable[[str], None], depth: int = 20) -> None:
        self.url = url
        self.symbol = symbol
        self.depth = depth
        self._snapshot = snapshot
        self._on_trades = on_trades
        self._on_status = on_status
        self._lock = threading.Lock()
        self._latest: BookLevels | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: Listener | None = None
        self._stopped = False
        self.book = BookState(symbol)

    def take_latest(self) -> BookLevels | None:
        """The book as it is now if it changed since the last call, else None (any thread)."""
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End `run` soon (any thread)."""
        self._stopped = True
        loop, listener = self._loop, self._listener
        if loop is not None and listener is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(lambda: loop.create_task(listener.close()))
            except RuntimeError:
                pass  # the loop ended meanwhile

    def run(self) -> None:
        """Listen until `stop` (blocking: run it in a worker thread)."""
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        listener = Listener(self.url, heartbeat=1.0, log=lambda line: None)
        self._listener = listener
        await listener.connect()
        try:
            if self._stopped:
                return
            await self._resync()
            self._on_status("live")
            async for event in listener:
                if self._stopped:
                    break
                if isinstance(event, Resync):
                    self._on_status("reconnected")
                    self.book.invalidate()
                    await self._resync()
                    self._on_status("live")
                else:
                    await self._handle(event)
        finally:
            await listener.close()

    async def _handle(self, notice: Notice) -> None:
        if notice.topic == "trades" and isinstance(notice.payload.get("trades"), list):
            self._on_trades(notice.symbol or "", list(notice.payload["trades"]))
        if notice.topic == "book" and notice.symbol == self.symbol:
            outcome = self.book.handle(notice.payload)
            if outcome is Outcome.RESYNC:
                await self._resync()
            elif outcome is Outcome.APPLIED:
                self._publish()

    async def _resync(self) -> None:
        """Take snapshots until one follows on from the buffered deltas, then publish the book."""
        for _ in range(5):
            view = await asyncio.to_thread(self._snapshot, self.symbol)
            levels = ([(lv.price, lv.quantity, lv.orders) for lv in side] for side in (view.bids, view.asks))
            if self.book.load(view.seq, *levels):
                break
        self._publish()

    def _publish(self) -> None:
        levels = BookLevels(self.symbol, self.book.seq or 0, self.book.bids(self.depth), self.book.asks(self.depth))
        with self._lock:
            self._latest = levels

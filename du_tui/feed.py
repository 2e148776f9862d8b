"""The live market feed as the TUI consumes it: a thread listening to the exchange.

Two sources give the same thing — one symbol's live book and the trades as they happen:

- `MarketFeed` LISTENs to the database through `du_core.market.live.Listener` (the default);
- `WebSocketFeed` subscribes to a `du market serve` server (`du tui --feed ws://...`), for a
  workstation that has no route to the database's notifications.

Both are meant for a worker thread: `run` opens its own event loop and returns after `stop`.
Both keep a `BookState` with sequence checks and take a fresh snapshot on every gap or
reconnection. Book changes are coalesced: the latest levels wait in `take_latest` for the UI's
timer; trades go to `on_trades` as they come, and the connection's state to `on_status` ("live",
or a sentence for the banner when it is lost or coming back).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from du_core.market.live import BookState, Listener, Notice, Outcome, Resync

LIVE = "live"
LOST = "connection to the exchange lost: reconnecting…"


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
        self._stopped = False
        self._listener: Listener | None = None
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
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(lambda: loop.create_task(self._close()))
            except RuntimeError:
                pass  # the loop ended meanwhile

    def run(self) -> None:
        """Listen until `stop` (blocking: run it in a worker thread)."""
        asyncio.run(self._start())

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._main()

    # -- the database source ---------------------------------------------------------------------

    async def _close(self) -> None:
        if self._listener is not None:
            await self._listener.close()

    def _log(self, line: str) -> None:
        # the Listener says so when it loses the connection; it retries by itself
        if line.startswith("lost") and not self._stopped:
            self._on_status(LOST)

    async def _main(self) -> None:
        listener = Listener(self.url, heartbeat=1.0, log=self._log)
        self._listener = listener
        await listener.connect()
        try:
            if self._stopped:
                return
            await self._resync()
            self._on_status(LIVE)
            async for event in listener:
                if self._stopped:
                    break
                if isinstance(event, Resync):
                    self.book.invalidate()
                    await self._resync()
                    self._on_status(LIVE)
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


class WebSocketFeed(MarketFeed):
    """The same feed from a `du market serve` server: snapshots and deltas arrive on the socket.

    `watch` lists other symbols whose trades are wanted too (the watchlist's); they are
    subscribed with a one-level book, which is the least the server sends.
    """

    def __init__(self, url: str, symbol: str, *, on_trades: Callable[[str, list[dict[str, Any]]], None],
                 on_status: Callable[[str], None], depth: int = 20, watch: Sequence[str] = (),
                 min_backoff: float = 0.1, max_backoff: float = 5.0) -> None:
        super().__init__(url, symbol, snapshot=lambda s: None, on_trades=on_trades, on_status=on_status,
                         depth=depth)
        self.watch = [s for s in watch if s != symbol]
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._ws: Any = None

    async def _close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def _main(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        delay, was_live = self.min_backoff, False
        while not self._stopped:
            try:
                async with await connect(self.url, open_timeout=5, close_timeout=1, max_size=2**24) as ws:
                    self._ws = ws
                    delay = self.min_backoff
                    await self._subscribe(ws)
                    was_live = True
                    await self._receive(ws)
            except InvalidURI:
                self._on_status(f"not a WebSocket address: {self.url}")
                return
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
                pass
            finally:
                self._ws = None
            if self._stopped:
                return
            self.book.invalidate()
            self._on_status(LOST if was_live else f"no market feed at {self.url}: retrying…")
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(self.max_backoff, delay * 2)

    async def _subscribe(self, ws: Any, *, only_book: bool = False) -> None:
        await ws.send(json.dumps({"op": "subscribe", "symbols": [self.symbol], "depth": self.depth}))
        if self.watch and not only_book:
            await ws.send(json.dumps({"op": "subscribe", "symbols": self.watch, "depth": 1}))

    async def _receive(self, ws: Any) -> None:
        last_seq: dict[str, int] = {}
        async for raw in ws:
            if self._stopped:
                return
            msg = json.loads(raw)
            kind, symbol = msg.get("type"), msg.get("symbol")
            if kind == "error":
                self._on_status(f"the market feed refused: {msg.get('message')}")
                continue
            seq = msg.get("seq")
            gap = symbol is not None and seq is not None and seq != last_seq.get(symbol, 0) + 1
            if seq is not None and symbol is not None:
                last_seq[symbol] = seq
            if kind == "trade":
                self._on_trades(symbol or "", [msg])
            if symbol != self.symbol:
                continue
            if kind == "snapshot":
                self.book.load(msg["book_seq"], msg["bids"], msg["asks"])
                self._publish()
                self._on_status(LIVE)
            elif gap:
                self.book.invalidate()  # the server skipped us ahead: its snapshot follows
            elif kind == "book":
                outcome = self.book.apply(msg["book_seq"], msg["changes"])
                if outcome is Outcome.RESYNC:
                    await self._subscribe(ws, only_book=True)  # a fresh snapshot, please
                elif outcome is Outcome.APPLIED:
                    self._publish()

"""The live market feed over WebSocket: one database listener fanned out to every subscriber.

`du market serve` runs it; `du market watch` and the TUI are its clients. The server keeps no
state of its own apart from its subscriptions: books come from the database (snapshots) and from
the exchange's notifications (`du_core.market.live`), so several servers can run side by side,
each listening to the same database. It binds 127.0.0.1 unless told otherwise, and it does not
authenticate clients: market data is public on this platform, and reaching it from another
machine is a decision for whoever runs it.

Protocol (JSON text frames)
---------------------------
Client -> server:

    {"op": "subscribe", "symbols": ["BTC-USD"], "depth": 20}     depth: 1..500, default 20
    {"op": "unsubscribe", "symbols": ["BTC-USD"]}

Subscribing again to a symbol asks for a fresh snapshot (with the new depth). Symbols are spelt as
users type them (`btc-usd`, `BTC/USD`). Server -> client, for each subscribed symbol, first

    {"type": "snapshot", "symbol": "BTC-USD", "seq": 1, "book_seq": 124,
     "bids": [["50000.00", "1.2345", 3], ...], "asks": [["50010.00", "0.5000", 1], ...]}

levels best first as [price, total quantity, number of orders], at most `depth` per side, then

    {"type": "book", "symbol", "seq", "book_seq", "changes": [["buy", "50000.00", "1.2345"], ...]}
        each change is the new total quantity at that price on that side; "0": the level is gone.
        book_seq follows the snapshot's without gaps: 125, 126, ...
    {"type": "trade", "symbol", "seq", "book_seq", "id", "price", "quantity", "taker_side", "at"}
        one per trade, with the book_seq of the book change the trade made
    {"type": "ticker", "symbol", "seq", ...the fields of `du market ticker`...}
        after trades, at most a few per second per symbol
    {"type": "status", "symbol", "seq", "status": "trading" | "halted"}
        an admin halted or resumed the instrument

and, not tied to a subscription,

    {"type": "error", "code": "validation_error" | "not_found", "message": "...", "symbol"?: "..."}
        a bad request, or an unknown symbol (that subscription is dropped).

`seq` counts the messages of one symbol on one connection: 1, 2, 3, ... A jump means the server
dropped messages for this client (it read too slowly), and a fresh `snapshot` always follows.
Whenever the server itself must start the book again (its database connection came back, the
exchange sent a change too big to notify, or a book_seq gap), it sends a fresh `snapshot`: a
client replaces its book with every snapshot it receives. Deltas with a book_seq at or below the
last snapshot's are never sent.

Depth limits what a snapshot shows; changes are sent for every price, so a client keeping the
top N levels may see levels appear beyond them (keep or ignore them) and its view can thin out
as levels inside it empty: subscribe again for a deeper one.

Slow clients
------------
A slow subscriber never holds up the others: the database listener only appends to each
connection's bounded queue, and one task per connection writes it out. When a queue is full the
connection's queued book changes, snapshots and tickers are dropped and fresh snapshots are
taken instead (the client skips ahead). A connection that overflows `max_skips` times in a row
without ever emptying its queue is closed with code 1008 and the reason "too slow: fell behind
the market feed".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from du_core.market.live import Listener, Notice, Resync

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from websockets.asyncio.server import Server, ServerConnection

    from du_core.trading.book import Snapshot

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_DEPTH = 20
MAX_DEPTH = 500
MAX_SYMBOLS = 100  # per connection
MAX_PENDING = 10_000  # notifications kept per subscription while its snapshot is being read
CLOSE_TOO_SLOW = 1008
TOO_SLOW = "too slow: fell behind the market feed"
_log = logging.getLogger(__name__)

# (notice, [(message type, message fields after "seq" as JSON)]): serialised once per notification
Item = tuple[Notice, list[tuple[str, str]]]


def _fields(data: dict[str, Any]) -> str:
    """A dict as the inside of a JSON object, to splice into a frame after the per-client seq."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)[1:-1]


def _frame(kind: str, symbol: str, seq: int, fields: str) -> str:
    head = f'{{"type":"{kind}","symbol":{json.dumps(symbol)},"seq":{seq}'
    return f"{head},{fields}}}" if fields else head + "}"


@dataclass(eq=False)
class _Subscription:
    client: _Client
    symbol: str
    depth: int
    seq: int = 0  # the last message seq given to the client for this symbol
    book_seq: int = -1  # the book_seq the client's book is at
    pending: deque[Item] | None = None  # not None while a snapshot is awaited: notifications to replay
    generation: int = 0  # bumped by every resync; a snapshot read for an older one is read again
    task: asyncio.Task[None] | None = None
    active: bool = True


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    peer: str
    subs: dict[str, _Subscription] = field(default_factory=dict)
    queue: deque[tuple[str | None, str, str]] = field(default_factory=deque)  # (symbol, type, frame)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    skips: int = 0  # overflows since the queue was last empty
    closing: bool = False


class FeedServer:
    """The websocket server of the live feed: `await start(...)`, later `await close()` (or use `serve`).

    `url` is the database URL for the listener (default: the engine's). `queue_size` bounds each
    connection's outgoing queue (messages); `send_buffer` sets the kernel's send buffer of each
    client socket in bytes (default: the kernel's own sizing, which lets a client that stopped
    reading hold megabytes before it counts as behind); `ticker_interval` is the least time
    between two ticker computations of one symbol; `log` receives one line per client connect and
    disconnect and per incident (default: this module's logger).
    """

    def __init__(self, engine: Engine, *, url: str | None = None, queue_size: int = 1000, max_skips: int = 3,
                 send_buffer: int | None = None, ticker_interval: float = 0.5, heartbeat: float = 15.0,
                 close_timeout: float = 2.0, log: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.queue_size = queue_size
        self.send_buffer = send_buffer
        self.max_skips = max_skips
        self.ticker_interval = ticker_interval
        self.close_timeout = close_timeout
        self._log = log or _log.info
        self.listener = Listener(url or engine.url.render_as_string(hide_password=False), heartbeat=heartbeat,
                                 log=self._log)
        self._server: Server | None = None
        self._pump: asyncio.Task[None] | None = None
        self._clients: set[_Client] = set()
        self._by_symbol: dict[str, set[_Subscription]] = {}
        self._tickers: dict[str, asyncio.Task[None]] = {}
        self._ticker_due: set[str] = set()
        self._last_trade: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        """Listen to the database, then accept clients on host:port (0: any free port).

        Raises:
            DatabaseUnavailable: the database cannot be reached.
            OSError: the address is taken or not ours.
        """
        from websockets.asyncio.server import serve

        await self.listener.connect()  # before any snapshot: see du_core.market.live
        try:
            self._server = await serve(self._handle, host, port, close_timeout=self.close_timeout,
                                       max_size=2**16, max_queue=16)
        except BaseException:
            await self.listener.close()
            raise
        self._pump = asyncio.create_task(self._run_listener())

    @property
    def port(self) -> int:
        """The port it accepts clients on (the one chosen when started with port 0)."""
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        """Say goodbye to every client (1001), stop listening and release the database."""
        if self._pump is not None:
            self._pump.cancel()
        for task in [*self._tickers.values(), *self._tasks]:
            task.cancel()
        closing = [self._close_ws(c.ws, 1001, "the market feed is shutting down") for c in self._clients]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), self.close_timeout + 1)
        await self.listener.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- clients ---------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        host, port, *_ = ws.remote_address
        if self.send_buffer is not None:
            import socket

            ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        client = _Client(ws=ws, peer=f"{host}:{port}")
        self._clients.add(client)
        self._log(f"client {client.peer} connected ({len(self._clients)} connected)")
        writer = asyncio.create_task(self._write(client))
        try:
            async for raw in ws:
                self._request(client, raw)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            client.closing = True
            for sub in client.subs.values():
                self._drop(sub)
            client.subs.clear()
            writer.cancel()
            code, reason = ws.close_code, ws.close_reason
            why = f"{code} {reason}".strip() if code is not None else "connection lost"
            self._log(f"client {client.peer} disconnected ({why}; {len(self._clients)} connected)")

    async def _write(self, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                while not client.queue:
                    client.skips = 0  # caught up
                    client.wake.clear()
                    await client.wake.wait()
                _symbol, _kind, frame = client.queue.popleft()
                await client.ws.send(frame)
        except ConnectionClosed:
            pass

    async def _close_ws(self, ws: ServerConnection, code: int, reason: str) -> None:
        """Close with a reason; a peer that does not read even that is cut off after close_timeout."""
        try:
            await asyncio.wait_for(ws.close(code, reason), self.close_timeout)
        except (TimeoutError, OSError):
            ws.transport.abort()

    def _kick(self, client: _Client, reason: str = TOO_SLOW) -> None:
        client.closing = True
        client.queue.clear()
        for sub in client.subs.values():
            self._drop(sub)
        client.subs.clear()
        self._log(f"client {client.peer}: closing, {reason}")
        self._spawn(self._close_ws(client.ws, CLOSE_TOO_SLOW, reason))

    def _make_room(self, client: _Client) -> bool:
        """Room for one more message: skip ahead if the queue is full; False if the client was closed."""
        if client.closing:
            return False
        if len(client.queue) < self.queue_size:
            return True
        if client.skips >= self.max_skips:
            self._kick(client)
            return False
        client.skips += 1
        kept: deque[tuple[str | None, str, str]] = deque()
        stale: set[str] = set()
        for entry in client.queue:
            symbol, kind, _ = entry
            if kind in ("book", "snapshot"):
                stale.add(symbol)  # type: ignore[arg-type]
            elif kind != "ticker":  # a newer ticker will come
                kept.append(entry)
        if len(kept) >= self.queue_size:  # nothing to skip: only trades and errors queued
            self._kick(client)
            return False
        client.queue = kept
        for symbol in stale:
            if (sub := client.subs.get(symbol)) is not None:
                self._resync(sub)
        self._log(f"client {client.peer} is behind: skipped ahead, {len(stale)} book(s) to resend as snapshots")
        return True

    def _push(self, sub: _Subscription, kind: str, fields: str) -> None:
        sub.seq += 1
        sub.client.queue.append((sub.symbol, kind, _frame(kind, sub.symbol, sub.seq, fields)))
        sub.client.wake.set()

    def _error(self, client: _Client, code: str, message: str, symbol: str | None = None) -> None:
        if not self._make_room(client):
            return
        doc: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if symbol is not None:
            doc["symbol"] = symbol
        client.queue.append((None, "error", json.dumps(doc, ensure_ascii=False)))
        client.wake.set()

    def _request(self, client: _Client, raw: str | bytes) -> None:
        from du_core.trading.schemas import clean_symbol

        if client.closing:
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or msg.get("op") not in ("subscribe", "unsubscribe"):
            self._error(client, "validation_error",
                        'a request is {"op": "subscribe" or "unsubscribe", "symbols": [...], "depth": N}')
            return
        names = msg.get("symbols")
        if not isinstance(names, list) or not names or not all(isinstance(s, str) for s in names):
            self._error(client, "validation_error", '"symbols" must be a non-empty list of symbols like "BTC-USD"')
            return
        depth = msg.get("depth", DEFAULT_DEPTH)
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
            self._error(client, "validation_error", f'"depth" must be a whole number from 1 to {MAX_DEPTH}')
            return
        symbols = []
        for name in names:
            try:
                symbols.append(clean_symbol(name))
            except ValueError as exc:
                self._error(client, "validation_error", str(exc), symbol=name[:40])
                return
        if msg["op"] == "unsubscribe":
            for symbol in symbols:
                if (sub := client.subs.pop(symbol, None)) is not None:
                    self._drop(sub)
            client.queue = deque(e for e in client.queue if e[0] not in symbols)
            return
        if len(set(client.subs) | set(symbols)) > MAX_SYMBOLS:
            self._error(client, "validation_error", f"at most {MAX_SYMBOLS} symbols per connection")
            return
        for symbol in dict.fromkeys(symbols):
            sub = client.subs.get(symbol)
            if sub is None:
                sub = client.subs[symbol] = _Subscription(client=client, symbol=symbol, depth=depth)
                self._by_symbol.setdefault(symbol, set()).add(sub)
            sub.depth = depth
            self._resync(sub)

    def _drop(self, sub: _Subscription) -> None:
        sub.active = False
        subs = self._by_symbol.get(sub.symbol)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_symbol[sub.symbol]
        if sub.task is not None:
            sub.task.cancel()

    # -- books -----------------------------------------------------------------------------------

    async def _run_listener(self) -> None:
        async for event in self.listener:
            try:
                self._dispatch(event)
            except Exception:  # noqa: BLE001 - one bad notification must not stop the feed
                _log.exception("live feed: could not dispatch %r", event)
                self._log(f"could not dispatch a notification ({event!r:.80}); see the log")
            # Let the writers run between two notifications of a burst (psycopg hands over every
            # notification it has read without yielding), so a queue fills only when its client lags.
            await asyncio.sleep(0)

    def _dispatch(self, event: Notice | Resync) -> None:
        if isinstance(event, Resync):
            for subs in self._by_symbol.values():
                for sub in subs:
                    self._resync(sub)
            return
        subs = self._by_symbol.get(event.symbol or "")
        if not subs:
            return
        item = (event, self._messages(event))
        for sub in list(subs):
            self._feed(sub, item)
        if event.topic == "trades" and item[1]:
            self._want_ticker(event.symbol or "", event)

    @staticmethod
    def _messages(notice: Notice) -> list[tuple[str, str]]:
        """The client messages a notification becomes (without type, symbol and seq)."""
        p = notice.payload
        if notice.topic == "book" and not p.get("resync") and isinstance(p.get("changes"), list):
            return [("book", _fields({"book_seq": notice.seq, "changes": p["changes"]}))]
        if notice.topic == "trades" and isinstance(p.get("trades"), list):
            return [("trade", _fields({"book_seq": notice.seq, **{k: v for k, v in t.items()
                                                                  if k not in ("type", "symbol", "seq")}}))
                    for t in p["trades"] if isinstance(t, dict)]
        if notice.topic == "instrument" and isinstance(p.get("status"), str):
            return [("status", _fields({"status": p["status"]}))]
        return []

    def _feed(self, sub: _Subscription, item: Item) -> None:
        """Send one notification to one subscription, keeping its book gapless."""
        notice, messages = item
        if sub.pending is None and notice.topic == "book":
            seq = notice.seq
            if seq is not None and seq <= sub.book_seq:
                return  # already in the client's snapshot
            if seq is None or seq != sub.book_seq + 1 or not messages:
                self._resync(sub)  # a gap, or a change too big to notify
        if sub.pending is not None:
            sub.pending.append(item)
            return
        if not messages or not self._make_room(sub.client):
            return
        if sub.pending is not None:  # making room skipped this book ahead: the snapshot will cover it
            sub.pending.append(item)
            return
        if notice.topic == "book":
            sub.book_seq = notice.seq  # type: ignore[assignment]
        for kind, fields in messages:
            self._push(sub, kind, fields)

    def _resync(self, sub: _Subscription) -> None:
        """Take a fresh snapshot for this subscription; buffer its notifications until then."""
        if not sub.active:
            return
        sub.generation += 1
        if sub.pending is None:
            sub.pending = deque(maxlen=MAX_PENDING)
        if sub.task is None or sub.task.done():
            sub.task = asyncio.create_task(self._snapshot_loop(sub))

    async def _snapshot_loop(self, sub: _Subscription) -> None:
        from du_core.errors import NotFound

        delay = 0.1
        while sub.active and sub.pending is not None:
            generation = sub.generation
            try:
                snap = await asyncio.to_thread(self._read_snapshot, sub.symbol, sub.depth)
            except NotFound as err:
                self._error(sub.client, "not_found", err.message, symbol=sub.symbol)
                sub.client.subs.pop(sub.symbol, None)
                self._drop(sub)
                return
            except Exception as exc:  # noqa: BLE001 - the database is away: try again, it comes back
                self._log(f"could not read the {sub.symbol} book ({type(exc).__name__}); retrying")
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            if not sub.active or generation != sub.generation or not _follows(snap.seq, sub.pending):
                continue  # asked again meanwhile, or notifications were lost after it: read another
            self._deliver(sub, snap)

    def _read_snapshot(self, symbol: str, depth: int) -> Snapshot:
        from sqlalchemy.orm import Session

        from du_core.trading.book import snapshot

        with Session(self.engine) as session, session.begin():
            return snapshot(session, symbol, depth)

    def _deliver(self, sub: _Subscription, snap: Snapshot) -> None:
        if not self._make_room(sub.client):
            return
        pending, sub.pending = sub.pending or deque(), None
        sub.book_seq = snap.seq
        self._push(sub, "snapshot", _fields({
            "book_seq": snap.seq,
            "bids": [[format(p, "f"), format(q, "f"), n] for p, q, n in snap.bids],
            "asks": [[format(p, "f"), format(q, "f"), n] for p, q, n in snap.asks],
        }))
        for item in pending:
            self._feed(sub, item)

    # -- tickers ---------------------------------------------------------------------------------

    def _want_ticker(self, symbol: str, notice: Notice) -> None:
        trades = [t for t in notice.payload.get("trades", []) if isinstance(t, dict)]
        if trades:
            self._last_trade[symbol] = trades[-1]
        task = self._tickers.get(symbol)
        if task is not None and not task.done():
            self._ticker_due.add(symbol)  # the running one computes again after its pause
            return
        self._tickers[symbol] = asyncio.create_task(self._ticker_loop(symbol))

    async def _ticker_loop(self, symbol: str) -> None:
        while symbol in self._by_symbol:
            self._ticker_due.discard(symbol)
            try:
                data = await asyncio.to_thread(self._read_ticker, symbol)
            except Exception as exc:  # noqa: BLE001 - a ticker is a courtesy: never a reason to stop
                self._log(f"could not compute the {symbol} ticker ({type(exc).__name__})")
                data = self._fallback_ticker(symbol)
            if data:
                fields = _fields({k: v for k, v in data.items() if k not in ("type", "symbol", "seq")})
                for sub in list(self._by_symbol.get(symbol, ())):
                    if sub.pending is None and self._make_room(sub.client) and sub.pending is None:
                        self._push(sub, "ticker", fields)
            await asyncio.sleep(self.ticker_interval)
            if symbol not in self._ticker_due:
                return

    def _read_ticker(self, symbol: str) -> dict[str, Any] | None:
        """The ticker of `market.ticker` (24 h figures, best bid and ask), as `du market ticker` shows it."""
        from du_core.actor import Actor
        from du_core.db.runner import run
        from du_core.errors import DomainError
        from du_core.market import service
        from du_core.market.schemas import SymbolQuery

        try:
            view = run(self.engine, service.ticker, SymbolQuery(symbol=symbol), actor=Actor.anonymous())
        except DomainError:  # maintenance mode: the last trade's price is still news
            return self._fallback_ticker(symbol)
        return view.model_dump(mode="json")

    def _fallback_ticker(self, symbol: str) -> dict[str, Any] | None:
        last = self._last_trade.get(symbol)
        return None if last is None else {"last_price": last.get("price"), "at": last.get("at")}


def _follows(snapshot_seq: int, pending: Iterable[Item] | None) -> bool:
    """True when the buffered book changes continue a snapshot at `snapshot_seq` without a gap."""
    seq = snapshot_seq
    for notice, messages in pending or ():
        if notice.topic != "book" or (notice.seq is not None and notice.seq <= seq):
            continue
        if notice.seq != seq + 1 or not messages:
            return False
        seq += 1
    return True


async def serve(engine: Engine, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, stop: asyncio.Event,
                log: Callable[[str], None] | None = None,
                ready: Callable[[FeedServer], None] | None = None, **options: Any) -> None:
    """Run a feed server on host:port until `stop` is set, then close it.

    Raises:
        DatabaseUnavailable: the database cannot be reached at start.
        OSError: the address cannot be bound.
    """
    server = FeedServer(engine, log=log, **options)
    await server.start(host, port)
    try:
        if ready is not None:
            ready(server)
        await stop.wait()
    finally:
        await server.close()

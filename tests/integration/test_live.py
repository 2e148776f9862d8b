"""The live feed on a real database and real websockets over 127.0.0.1.

The exchange's side of the contract is played here by SQL: each book change bumps
`instruments.book_seq` by one and sends its notification in the same transaction, with the new
total quantity of every level it touched, exactly as du_core/trading/exchange.py does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from du_core.errors import DatabaseUnavailable
from du_core.market.feed_server import TOO_SLOW, serve
from du_core.market.live import BookState, Listener, Notice, Outcome, Resync
from du_core.trading.book import snapshot

D = Decimal
SYMBOL = "BTC-USD"


# -- the exchange's side, in SQL ----------------------------------------------------------------

def publish(engine: Any, payload: dict[str, Any] | None = None, *, symbol: str = SYMBOL,
            trades: list[dict[str, Any]] | None = None, skip: int = 0) -> int:
    """Commit one book change: book_seq + 1 (+ `skip` lost ones) and its notifications; return the seq."""
    with engine.begin() as conn:
        seq = conn.execute(text("UPDATE instruments SET book_seq = book_seq + 1 + :k WHERE symbol = :s"
                                " RETURNING book_seq"), {"s": symbol, "k": skip}).scalar_one()
        if payload is not None:
            notify(conn, {"topic": "book", "symbol": symbol, "seq": seq, **payload})
        if trades:
            notify(conn, {"topic": "trades", "symbol": symbol, "seq": seq, "trades": trades})
    return seq


def notify(conn: Any, payload: dict[str, Any]) -> None:
    conn.execute(text("SELECT pg_notify('du_market', :p)"), {"p": json.dumps(payload)})


def rest(engine: Any, owner: uuid.UUID, side: str, price: str, quantity: str, *, symbol: str = SYMBOL,
         skip: int = 0) -> dict[str, Any]:
    """Rest one order and notify its level's new total, as the exchange does; return the payload."""
    with engine.begin() as conn:
        change = _rest(conn, owner, side, price, quantity, symbol)
        seq = conn.execute(text("UPDATE instruments SET book_seq = book_seq + 1 + :k WHERE symbol = :s"
                                " RETURNING book_seq"), {"s": symbol, "k": skip}).scalar_one()
        payload = {"topic": "book", "symbol": symbol, "seq": seq, "changes": [change]}
        notify(conn, payload)
    return payload


def _rest(conn: Any, owner: uuid.UUID, side: str, price: str, quantity: str, symbol: str) -> list[str]:
    conn.execute(text(
        "INSERT INTO orders (id, user_id, symbol, side, type, tif, price, quantity, status, hold_asset,"
        " maker_fee_rate, taker_fee_rate) VALUES (:id, :u, :s, :side, 'limit', 'gtc', :p, :q, 'open', :h, 0, 0)"),
        {"id": uuid.uuid4(), "u": owner, "s": symbol, "side": side, "p": D(price), "q": D(quantity),
         "h": "USD" if side == "buy" else "BTC"})
    return [side, *conn.execute(text(_LEVEL + " AND price = :p GROUP BY price"),
                                {"s": symbol, "side": side, "p": D(price)}).one()]


# the new total of levels, spelt as the exchange's notifications spell them
_LEVEL = ("SELECT trim_scale(price)::text, trim_scale(sum(quantity - filled))::text FROM orders"
          " WHERE symbol = :s AND side = :side AND status IN ('open', 'partially_filled')")


def churn(engine: Any, owner: uuid.UUID, rounds: int, *, levels: int = 60) -> int:
    """`rounds` real book changes, each resting one more order at every one of `levels` bid prices."""
    seq = 0
    for _ in range(rounds):
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))  # a test's burst, not a durability test
            conn.execute(text(
                "INSERT INTO orders (id, user_id, symbol, side, type, tif, price, quantity, status, hold_asset,"
                " maker_fee_rate, taker_fee_rate) SELECT gen_random_uuid(), :u, :s, 'buy', 'limit', 'gtc',"
                " 10000 + i, 0.01, 'open', 'USD', 0, 0 FROM generate_series(0, :n - 1) AS i"),
                {"u": owner, "s": SYMBOL, "n": levels})
            changes = [["buy", p, q] for p, q in conn.execute(text(
                _LEVEL + " AND price >= 10000 AND price < 10000 + :n GROUP BY price ORDER BY price"),
                {"s": SYMBOL, "side": "buy", "n": levels})]
            seq = conn.execute(text("UPDATE instruments SET book_seq = book_seq + 1 WHERE symbol = :s"
                                    " RETURNING book_seq"), {"s": SYMBOL}).scalar_one()
            notify(conn, {"topic": "book", "symbol": SYMBOL, "seq": seq, "changes": changes})
    return seq


def book_of(engine: Any, depth: int | None = None) -> Any:
    with Session(engine) as s:
        return snapshot(s, SYMBOL, depth)


@pytest.fixture
def owner(engine: Any) -> uuid.UUID:
    uid = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, phone, password_hash) VALUES (:id, :e, '+84912345678', 'x')"),
                     {"id": uid, "e": f"{uid.hex[:8]}@example.com"})
    return uid


# -- a feed server in a thread, and clients --------------------------------------------------------

class FeedThread:
    """A real FeedServer on an ephemeral port of 127.0.0.1, run by its own event loop in a thread."""

    def __init__(self, engine: Any, **options: Any) -> None:
        self.engine, self.options = engine, options
        self.logs: list[str] = []
        self.server: Any = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)

    def __enter__(self) -> FeedThread:
        self._thread.start()
        assert self._ready.wait(10), "the feed server did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await serve(self.engine, host="127.0.0.1", port=0, stop=self._stop, log=self.logs.append,
                        ready=self._started, **self.options)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc
            self._ready.set()

    def _started(self, server: Any) -> None:
        self.server = server
        self._ready.set()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def wait_log(self, fragment: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.logs):
                if fragment in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no log line with {fragment!r} in {self.logs}")


@contextlib.contextmanager
def subscribe(url: str, *symbols: str, depth: int = 20, **options: Any) -> Iterator[ClientConnection]:
    with connect(url, open_timeout=5, close_timeout=1, **options) as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": list(symbols or [SYMBOL]), "depth": depth}))
        yield ws


def recv(ws: ClientConnection | RawClient, timeout: float = 5) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def until(ws: ClientConnection | RawClient, done: Any, timeout: float = 10) -> list[dict[str, Any]]:
    """Messages up to and including the first for which done(message) is true."""
    got, deadline = [], time.monotonic() + timeout
    while True:
        got.append(recv(ws, max(0.01, deadline - time.monotonic())))
        if done(got[-1]):
            return got


def follow(messages: list[dict[str, Any]], state: BookState | None = None) -> BookState:
    """Apply a client's messages to a local book, as du market watch does."""
    state = state or BookState(SYMBOL)
    for m in messages:
        if m["type"] == "snapshot":
            assert state.load(m["book_seq"], m["bids"], m["asks"])
        elif m["type"] == "book":
            assert state.apply(m["book_seq"], m["changes"]) is Outcome.APPLIED, m
    return state


def levels(book: Any) -> tuple[list[tuple[D, D]], list[tuple[D, D]]]:
    """(bids, asks) as (price, quantity), from a Snapshot or a BookState."""
    bids = book.bids() if callable(book.bids) else book.bids
    asks = book.asks() if callable(book.asks) else book.asks
    return [(p, q) for p, q, *_ in bids], [(p, q) for p, q, *_ in asks]


def seqs_are_gapless(messages: list[dict[str, Any]]) -> bool:
    seqs = [m["seq"] for m in messages]
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


# -- the listener --------------------------------------------------------------------------------

def test_listener_yields_what_another_connection_committed_and_nothing_rolled_back(engine, db_url):
    async def scenario() -> Notice:
        async with Listener(db_url) as listener:
            events = listener.events()
            with engine.connect() as conn:  # notified, then rolled back: never delivered
                notify(conn, {"topic": "book", "symbol": SYMBOL, "seq": 99, "changes": []})
                conn.rollback()
            await asyncio.to_thread(publish, engine, {"changes": [["buy", "100.00", "1.5"]]})
            return await asyncio.wait_for(anext(events), 5)

    event = asyncio.run(scenario())
    assert isinstance(event, Notice) and event.topic == "book" and event.symbol == SYMBOL and event.seq == 1
    assert event.payload["changes"] == [["buy", "100.00", "1.5"]]


def test_listener_reconnects_by_itself_and_says_resync_when_its_connection_is_killed(engine, db_url):
    async def scenario() -> tuple[Any, Any, int, int | None]:
        async with Listener(db_url, min_backoff=0.02) as listener:
            events, pid = listener.events(), listener.pid
            await asyncio.to_thread(_terminate, engine, pid)
            first = await asyncio.wait_for(anext(events), 10)
            await asyncio.to_thread(publish, engine, {"changes": []})
            second = await asyncio.wait_for(anext(events), 5)
            return first, second, pid, listener.pid

    first, second, old_pid, new_pid = asyncio.run(scenario())
    assert isinstance(first, Resync)
    assert isinstance(second, Notice) and second.seq == 1
    assert new_pid is not None and new_pid != old_pid


def _terminate(engine: Any, pid: int | None) -> None:
    with engine.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()


def test_listener_on_an_unreachable_database_raises_database_unavailable():
    with pytest.raises(DatabaseUnavailable, match="unreachable"):
        asyncio.run(Listener("postgresql://du@127.0.0.1:1/du", connect_timeout=2).connect())


# -- the book state ------------------------------------------------------------------------------

def test_book_state_replays_onto_its_snapshot_skips_what_it_holds_and_resyncs_on_a_gap(engine, owner):
    rest(engine, owner, "buy", "100.00", "1")
    second = rest(engine, owner, "sell", "101.00", "2")
    state = BookState(SYMBOL)
    assert state.handle(second) is Outcome.BUFFERED  # arrived while the snapshot was being read
    snap = book_of(engine)
    third = rest(engine, owner, "buy", "100.00", "0.5")
    assert state.handle(third) is Outcome.BUFFERED
    assert snap.seq == 2 and state.load_snapshot(snap) and state.seq == 3
    assert state.bids() == [(D("100"), D("1.5"), None)]  # changed by a delta: count unknown
    assert state.asks() == [(D("101"), D("2"), 1)]  # straight from the snapshot
    assert state.handle(third) is Outcome.STALE

    rest(engine, owner, "buy", "99.00", "1")  # its notification is lost
    fifth = rest(engine, owner, "buy", "100.00", "1")
    assert state.handle(fifth) is Outcome.RESYNC and not state.synced
    sixth = rest(engine, owner, "sell", "102.00", "1")
    assert state.handle(sixth) is Outcome.BUFFERED
    assert state.load_snapshot(book_of(engine)) and state.synced and state.seq == 6
    assert levels(state) == levels(book_of(engine))

    assert state.handle({"topic": "book", "symbol": SYMBOL, "seq": 7, "resync": True}) is Outcome.RESYNC


def test_book_state_refuses_a_snapshot_older_than_a_gap_in_what_it_buffered(engine, owner):
    rest(engine, owner, "buy", "100.00", "1")
    old = book_of(engine)
    rest(engine, owner, "buy", "100.00", "1")  # lost
    state = BookState(SYMBOL)
    state.handle(rest(engine, owner, "buy", "100.00", "1"))
    assert not state.load_snapshot(old) and not state.synced
    assert state.load_snapshot(book_of(engine)) and state.bids() == [(D("100"), D("3"), 3)]


# -- the server ----------------------------------------------------------------------------------

def test_a_subscriber_gets_a_snapshot_then_gapless_deltas_trades_a_ticker_and_status(engine, owner):
    rest(engine, owner, "buy", "100.00", "1")
    with FeedThread(engine, ticker_interval=0.05) as feed, subscribe(feed.url, depth=5) as ws:
        snap = recv(ws)
        assert {k: v for k, v in snap.items() if k != "bids"} == {
            "type": "snapshot", "symbol": SYMBOL, "seq": 1, "book_seq": 1, "asks": []}
        assert [(D(p), D(q), n) for p, q, n in snap["bids"]] == [(D("100"), D("1"), 1)]
        rest(engine, owner, "sell", "101.00", "2")
        trade = {"id": 981, "price": "100.00", "quantity": "0.4000", "taker_side": "sell",
                 "at": "2026-11-30T01:02:03.123456+00:00"}
        publish(engine, {"changes": [["buy", "100.00", "0.6"]]}, trades=[trade])
        with engine.begin() as conn:
            notify(conn, {"topic": "instrument", "symbol": SYMBOL, "status": "halted"})
        got: list[dict[str, Any]] = []
        while not {"status", "ticker"} <= {m["type"] for m in got}:
            got.append(recv(ws))
    messages = [snap, *got]
    assert seqs_are_gapless(messages)
    book = [m for m in messages if m["type"] == "book"]
    assert [m["book_seq"] for m in book] == [2, 3]
    assert book[0]["changes"] == [["sell", "101", "2"]]
    assert [m for m in messages if m["type"] == "trade"] == [
        {"type": "trade", "symbol": SYMBOL, "seq": 4, "book_seq": 3, **trade}]
    ticker = [m for m in messages if m["type"] == "ticker"]
    assert [m["status"] for m in messages if m["type"] == "status"] == ["halted"]
    assert ticker[-1]["symbol"] == SYMBOL and "last_price" in ticker[-1]
    assert levels(follow(messages)) == ([(D("100"), D("0.6"))], [(D("101"), D("2"))])
    assert any("connected" in line for line in feed.logs) and any("disconnected" in line for line in feed.logs)


def test_bad_requests_and_unknown_symbols_get_errors_and_the_connection_stays_usable(engine):
    with FeedThread(engine) as feed, connect(feed.url, open_timeout=5) as ws:
        for request, code in (("not json", "validation_error"), ('{"op": "dance"}', "validation_error"),
                              ('{"op": "subscribe", "symbols": ["BTC-USD"], "depth": 0}', "validation_error"),
                              ('{"op": "subscribe", "symbols": ["nope"]}', "validation_error"),
                              ('{"op": "subscribe", "symbols": ["NOPE-USD"]}', "not_found")):
            ws.send(request)
            error = recv(ws)
            assert error["type"] == "error" and error["code"] == code and error["message"], request
        ws.send('{"op": "subscribe", "symbols": ["btc/usd"]}')
        assert recv(ws)["type"] == "snapshot"
        ws.send('{"op": "unsubscribe", "symbols": ["BTC-USD"]}')
        publish(engine, {"changes": []})
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


def test_a_resync_notice_or_a_book_seq_gap_gives_a_fresh_snapshot(engine, owner):
    with FeedThread(engine) as feed, subscribe(feed.url) as ws:
        assert recv(ws)["book_seq"] == 0
        rest(engine, owner, "buy", "100.00", "1")
        publish(engine, {"resync": True})  # too big to notify
        got = until(ws, lambda m: m["type"] == "snapshot")
        assert got[-1]["book_seq"] == 2 and [D(q) for _, q, _ in got[-1]["bids"]] == [D(1)]
        rest(engine, owner, "buy", "99.00", "1", skip=1)  # a notification that never came
        got += until(ws, lambda m: m["type"] == "snapshot")
        assert got[-1]["book_seq"] == 4 and len(got[-1]["bids"]) == 2
        assert seqs_are_gapless([{"seq": 1}, *got])


def test_a_subscriber_that_never_reads_is_closed_and_holds_up_no_one(engine, owner):
    churn(engine, owner, 1)
    with FeedThread(engine, queue_size=8, max_skips=2, send_buffer=SMALL, close_timeout=0.5) as feed:
        stuck = RawClient(feed.url)
        with subscribe(feed.url) as ws:
            first = recv(ws)
            started = time.monotonic()
            last = churn(engine, owner, ROUNDS)
            got = until(ws, lambda m: m.get("book_seq") == last, timeout=15)
            elapsed = time.monotonic() - started
            feed.wait_log(TOO_SLOW)
            assert seqs_are_gapless([first, *got]) and all(m["type"] == "book" for m in got)
            assert levels(follow([first, *got])) == levels(book_of(engine))
            assert elapsed < 10
            deadline = time.monotonic() + 5
            while feed.server.clients != 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert feed.server.clients == 1
        stuck.close()


ROUNDS = 100  # book changes of about 1.5 kB each: far more than a slow client's buffers hold
SMALL = 16_384  # the server's kernel send buffer per client: a stuck one shows within a few changes


class RawClient:
    """A bare WebSocket client with a tiny receive window that reads only when asked to."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("ws://").split(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        self.sock.connect((host, int(port)))
        self.sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        self.buffer = b""
        self.handshake_done = False
        self.send(json.dumps({"op": "subscribe", "symbols": [SYMBOL]}))

    def send(self, message: str) -> None:
        data, mask = message.encode(), b"\x01\x02\x03\x04"
        assert len(data) < 126
        self.sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self, timeout: float = 5) -> str:
        """The next text message; ConnectionError when the server closed."""
        self.sock.settimeout(timeout)
        if not self.handshake_done:
            while b"\r\n\r\n" not in self.buffer:
                self._fill()
            self.buffer = self.buffer.split(b"\r\n\r\n", 1)[1]
            self.handshake_done = True
        head = self._read(2)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(self._read(2), "big")
        elif size == 127:
            size = int.from_bytes(self._read(8), "big")
        payload = self._read(size)
        if head[0] & 0x0F == 0x8:
            raise ConnectionError(f"closed by the server: {int.from_bytes(payload[:2], 'big')} {payload[2:].decode()}")
        return payload.decode()

    def close(self) -> None:
        self.sock.close()


def test_a_subscriber_that_falls_behind_skips_ahead_to_a_fresh_snapshot_and_ends_up_right(engine, owner):
    churn(engine, owner, 1)
    with FeedThread(engine, queue_size=8, max_skips=10_000, send_buffer=SMALL) as feed:
        slow = RawClient(feed.url)
        with subscribe(feed.url) as fast:
            first = recv(fast)
            last = churn(engine, owner, ROUNDS)
            got = until(fast, lambda m: m.get("book_seq") == last, timeout=15)
            assert seqs_are_gapless([first, *got]) and all(m["type"] == "book" for m in got)
        feed.wait_log("skipped ahead")
        behind = until(slow, lambda m: m.get("book_seq") == last, timeout=15)
        slow.close()
    gap = next(i for i in range(1, len(behind)) if behind[i]["seq"] != behind[i - 1]["seq"] + 1)
    assert behind[gap]["type"] == "snapshot"  # a jump is always followed by a fresh snapshot
    assert levels(follow(behind)) == levels(book_of(engine))


def test_when_the_database_connection_is_killed_clients_get_a_fresh_snapshot(engine, owner):
    with FeedThread(engine) as feed, subscribe(feed.url) as ws:
        first = recv(ws)
        with engine.begin() as conn:  # the order rests while the listener is away
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE application_name = 'du-market-feed' AND datname = current_database()"))
        rest(engine, owner, "buy", "100.00", "1")
        got = until(ws, lambda m: m["type"] == "snapshot")  # the fresh one
        if got[-1]["book_seq"] < 1:
            got += until(ws, lambda m: m.get("book_seq") == 1)
        feed.wait_log("lost the database connection")
        rest(engine, owner, "sell", "101.00", "1")
        got += until(ws, lambda m: m.get("book_seq") == 2)
    assert seqs_are_gapless([first, *got])
    assert levels(follow([first, *got])) == ([(D("100"), D("1"))], [(D("101"), D("1"))])


def test_stopping_the_server_says_going_away_to_its_clients(engine):
    with FeedThread(engine) as feed, subscribe(feed.url) as ws:
        recv(ws)
        feed.stop()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


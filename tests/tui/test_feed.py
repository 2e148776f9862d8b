"""The workstation's live feed: a lost connection is shown and mends itself; `--feed ws://` works too."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import make_url

from tests.cli.test_trading import trader
from tests.conftest import _admin
from tests.integration.test_live import FeedThread
from tests.tui.helpers import app_for, place_limit, ready, token_of, until

D = Decimal


def test_a_lost_database_connection_shows_a_banner_that_goes_away_when_it_comes_back(du, home, engine, db_url,
                                                                                    server_url):
    from du_core.market.live import APPLICATION_NAME
    from du_tui.feed import LIVE, LOST

    trader(du, "t", USD="10000.00")
    trader(du, "m", BTC="1")
    token, maker = token_of(home, "t"), token_of(home, "m")
    name = make_url(db_url).database

    def outage(allow: bool) -> None:
        _admin(server_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            _admin(server_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               f" WHERE datname = '{name}' AND application_name = '{APPLICATION_NAME}'")

    async def scenario() -> None:
        async with app_for(engine, token).run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            banner = screen.query_one("#banner")
            assert not banner.display
            outage(allow=False)
            try:
                await until(pilot, lambda: screen.feed_status == LOST, "the lost-connection banner")
                assert banner.display and "reconnecting" in str(banner.render())
            finally:
                outage(allow=True)
            await until(pilot, lambda: screen.feed_status == LIVE, "the feed back by itself", timeout=15)
            assert not banner.display
            place_limit(engine, maker, "sell", "0.01", "50000")
            place_limit(engine, token, "buy", "0.01", "50000")
            tape = screen.query_one("TradesTape")
            await until(pilot, lambda: [str(t["price"]) for t in tape.trades] == ["50000.00"],
                        "a trade made after the outage in the tape")

    asyncio.run(scenario())


class Recorder:
    """What a feed hands its owner, kept for the test to look at."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.trades: list[tuple[str, dict[str, Any]]] = []

    def on_trades(self, symbol: str, trades: list[dict[str, Any]]) -> None:
        self.trades.extend((symbol, t) for t in trades)

    def wait(self, condition: Any, what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; statuses {self.statuses}")
            time.sleep(0.02)


def run_feed(feed: Any) -> threading.Thread:
    thread = threading.Thread(target=feed.run, daemon=True)
    thread.start()
    return thread


def test_the_websocket_feed_keeps_the_book_and_brings_trades_of_watched_symbols(du, home, engine):
    from du_tui.feed import LIVE, WebSocketFeed

    trader(du, "t", USD="10000.00")
    trader(du, "m", BTC="1")
    token, maker = token_of(home, "t"), token_of(home, "m")
    place_limit(engine, maker, "sell", "0.5", "51000")
    seen = Recorder()
    with FeedThread(engine) as server:
        feed = WebSocketFeed(server.url, "BTC-USD", on_trades=seen.on_trades, on_status=seen.statuses.append,
                             watch=["ETH-USD", "BTC-USD"])
        thread = run_feed(feed)
        try:
            seen.wait(lambda: LIVE in seen.statuses, "the snapshot")
            seen.wait(lambda: (latest := feed.take_latest()) is not None and [a[:2] for a in latest.asks]
                      == [(D("51000.00"), D("0.5"))], "the resting ask in the book")
            place_limit(engine, token, "buy", "0.1", "51000")
            seen.wait(lambda: [t["price"] for _, t in seen.trades] == ["51000.00"], "the trade")
            assert [s for s, _ in seen.trades] == ["BTC-USD"]
            seen.wait(lambda: (latest := feed.take_latest()) is not None and [a[:2] for a in latest.asks]
                      == [(D("51000.00"), D("0.4"))], "the ask reduced by the trade")
        finally:
            feed.stop()
            thread.join(5)
    assert not thread.is_alive()


def test_the_websocket_feed_says_when_there_is_no_server_and_keeps_trying():
    import socket

    from du_tui.feed import LIVE, WebSocketFeed

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen = Recorder()
    feed = WebSocketFeed(f"ws://127.0.0.1:{port}", "BTC-USD", on_trades=seen.on_trades,
                         on_status=seen.statuses.append, max_backoff=0.2)
    thread = run_feed(feed)
    try:
        seen.wait(lambda: sum("no market feed" in s for s in seen.statuses) >= 3, "the no-server status, again")
        assert LIVE not in seen.statuses
    finally:
        feed.stop()
        thread.join(5)
    assert not thread.is_alive()


def test_the_trader_screen_on_a_websocket_feed_shows_trades_made_elsewhere_in_the_tape_and_ladder(du, home, engine):
    trader(du, "t", USD="10000.00")
    trader(du, "m", BTC="1")
    token, maker = token_of(home, "t"), token_of(home, "m")

    async def scenario(url: str) -> None:
        async with app_for(engine, token, feed_url=url).run_test(size=(160, 50)) as pilot:
            screen = await ready(pilot)
            assert isinstance(screen._feed, WebSocketFeed) and "ETH-USD" in screen._feed.watch
            place_limit(engine, maker, "sell", "0.5", "52000")
            book = screen.query_one("OrderBook")
            await until(pilot, lambda: book.asks[:1] == [(D("52000.00"), D("0.5"))], "the ask in the ladder")
            place_limit(engine, token, "buy", "0.1", "52000")
            tape = screen.query_one("TradesTape")
            await until(pilot, lambda: [str(t["price"]) for t in tape.trades] == ["52000.00"], "the trade in the tape")
            await until(pilot, lambda: book.asks[:1] == [(D("52000.00"), D("0.4"))], "the ask reduced")

    from du_tui.feed import WebSocketFeed

    with FeedThread(engine) as server:
        asyncio.run(scenario(server.url))

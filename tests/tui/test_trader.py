"""The trader screen driven with keys through Textual's Pilot, against a real database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.cli.test_trading import trader

D = Decimal


def token_of(home, profile: str) -> str:
    """The access token `du auth login --insecure-storage` kept for `profile`."""
    return json.loads((home / "config" / "credentials" / f"{profile}.json").read_text())["access_token"]


def as_user(engine, token: str, op: Callable[..., Any], request: Any = None) -> Any:
    """Call the core the way another process would: outside the app, as that user."""
    from du_core.db.runner import run

    return run(engine, op, request, token=token)


def app_for(engine, token: str):
    from du_tui.app import DuApp

    return DuApp(engine, lambda expired: token)


async def until(pilot, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def ready(pilot) -> Any:
    """The trader screen once its feed is live and its first reads are in."""
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "TraderScreen", "the trader screen")
    screen = pilot.app.screen
    await until(pilot, lambda: getattr(screen, "feed_status", "") == "live", "the live feed")
    await until(pilot, lambda: screen.query_one("OrderEntry").symbol == "BTC-USD", "the first load")
    return screen


async def place_with_keys(pilot, side: str, quantity: str, price: str) -> None:
    await pilot.press(side[0])
    await pilot.press(*quantity, "tab", *price, "enter")
    await pilot.press("y")


def book_levels(screen) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    book = screen.query_one("OrderBook")
    return book.bids, book.asks


def live_orders(engine, token: str) -> list[Any]:
    from du_core.trading import service
    from du_core.trading.schemas import OrderQuery
    from du_core.validation import parse

    return as_user(engine, token, service.list_orders, parse(OrderQuery, status="live")).items


def balances(engine, token: str) -> dict[str, tuple[Decimal, Decimal]]:
    from du_core.financial.service import balance

    return {b.currency: (b.available, b.held) for b in as_user(engine, token, balance).balances}


def test_a_limit_order_placed_with_keys_shows_in_the_ladder_and_in_open_orders(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            await place_with_keys(pilot, "buy", "0.01", "50000")
            table = screen.query_one("OpenOrders")
            await until(pilot, lambda: table.row_count == 1, "the order in open orders")
            await until(pilot, lambda: book_levels(screen)[0] == [(D("50000"), D("0.01"))], "the bid in the ladder")
            [order] = live_orders(engine, token)
            assert table.order_ids == [order.id]
            assert (order.side, order.price, order.quantity) == ("buy", D("50000"), D("0.01"))

    asyncio.run(scenario())


def test_cancelling_from_the_open_orders_table_removes_the_order_from_the_table_and_the_ladder(du, home, engine):
    from du_core.trading import service
    from du_core.trading.schemas import PlaceOrder
    from du_core.validation import parse

    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    as_user(engine, token, service.place_order, parse(PlaceOrder, symbol="BTC-USD", side="buy", type="limit",
                                                      quantity="0.01", price="50000"))
    before = balances(engine, token)
    assert before["USD"][1] > 0

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            table = screen.query_one("OpenOrders")
            await until(pilot, lambda: table.row_count == 1, "the order in open orders")
            assert book_levels(screen)[0] == [(D("50000"), D("0.01"))]
            await pilot.press("c")
            await until(pilot, lambda: table.row_count == 0, "the order gone from open orders")
            await until(pilot, lambda: book_levels(screen)[0] == [], "the bid gone from the ladder")
            assert live_orders(engine, token) == []

    asyncio.run(scenario())
    assert balances(engine, token)["USD"] == (D("10000.00"), D("0"))


def test_an_order_the_core_rejects_shows_its_message_and_changes_nothing(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    before = balances(engine, token)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            entry = screen.query_one("OrderEntry")
            await place_with_keys(pilot, "buy", "0.00005", "50000")
            await until(pilot, lambda: bool(entry.error), "the core's message")
            assert entry.error == "quantity must be a multiple of the lot size 0.0001"
            assert "lot size" in str(entry.query_one("#message").render())

            await pilot.press("escape", "b", "end", "ctrl+u", "1", "enter", "y")  # 1 BTC at 50000: 50000 USD
            await until(pilot, lambda: "insufficient" in entry.error.lower() or "not enough" in entry.error.lower(),
                        f"an insufficient funds message (got {entry.error!r})")
            await pilot.pause(0.2)
            assert screen.query_one("OpenOrders").row_count == 0
            assert book_levels(screen) == ([], [])

    asyncio.run(scenario())
    assert live_orders(engine, token) == []
    assert balances(engine, token) == before


def test_a_trade_made_outside_the_app_appears_in_the_tape_and_the_ladder_without_a_key(du, home, engine):
    from du_core.trading import service
    from du_core.trading.schemas import PlaceOrder
    from du_core.validation import parse

    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1")
    token, seller = token_of(home, "t"), token_of(home, "seller")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            await asyncio.to_thread(as_user, engine, seller, service.place_order, parse(
                PlaceOrder, symbol="BTC-USD", side="sell", type="limit", quantity="0.05", price="51000"))
            await until(pilot, lambda: book_levels(screen)[1] == [(D("51000"), D("0.05"))], "the ask in the ladder")

            await asyncio.to_thread(as_user, engine, token, service.place_order, parse(
                PlaceOrder, symbol="BTC-USD", side="buy", type="market", quantity="0.02", tif="ioc"))
            tape = screen.query_one("TradesTape")
            await until(pilot, lambda: len(tape.trades) == 1, "the trade in the tape")
            trade = tape.trades[0]
            assert (D(trade["price"]), D(trade["quantity"]), trade["taker_side"]) == (D("51000"), D("0.02"), "buy")
            await until(pilot, lambda: book_levels(screen)[1] == [(D("51000"), D("0.03"))], "the ask reduced")
            watchlist = screen.query_one("Watchlist")
            await until(pilot, lambda: str(watchlist.get_row("BTC-USD")[3]) == "0.0200", "the day's volume",
                        timeout=8.0)

    asyncio.run(scenario())


def test_du_tui_without_a_session_exits_5_and_says_to_log_in(du):
    r = du("tui")
    assert (r.exit_code, r.stdout) == (5, "")
    assert "log in first: du auth login" in r.stderr


def test_du_tui_opens_the_workstation_on_the_profiles_session(du, home, monkeypatch):
    from du_tui.app import DuApp

    du.user_as("standard", profile="desk")
    seen: dict[str, Any] = {}
    monkeypatch.setattr(DuApp, "run", lambda self: seen.update(token=self.token_provider(None), symbol=self.symbol))
    r = du("--profile", "desk", "tui", "--symbol", "eth-usd")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert seen == {"token": token_of(home, "desk"), "symbol": "ETH-USD"}

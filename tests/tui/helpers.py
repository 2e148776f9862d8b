"""What the workstation's Pilot tests share: an app for a profile's session, waiting on it, and the core.

The core is read here the way another process would read it (`as_user`, outside the app), so a test
compares what a screen shows with what the core has, not with the app's own idea of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def token_of(home, profile: str) -> str:
    """The access token `du auth login --insecure-storage` kept for `profile`."""
    return json.loads((home / "config" / "credentials" / f"{profile}.json").read_text())["access_token"]


def app_for(engine, token: str, **options: Any):
    """The workstation on `token`'s session; `options` go to DuApp (live=False, feed_url, preferences)."""
    from du_tui.app import DuApp

    return DuApp(engine, lambda expired: token, **options)


def screen_name(pilot) -> str:
    return type(pilot.app.screen).__name__


async def until(pilot, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def ready(pilot) -> Any:
    """The trader screen once its feed is live and its first reads are in."""
    await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
    screen = pilot.app.screen
    await until(pilot, lambda: getattr(screen, "feed_status", "") == "live", "the live feed")
    await until(pilot, lambda: screen.query_one("OrderEntry").symbol == "BTC-USD", "the first load")
    return screen


async def console(pilot) -> Any:
    """Open the admin console with F4 from the trader screen; return it once its figures are in."""
    await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
    await pilot.press("f4")
    await until(pilot, lambda: screen_name(pilot) == "AdminScreen", "the admin console")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.query_one("AdminDashboard").view is not None, "the dashboard's figures")
    return screen


async def place_with_keys(pilot, side: str, quantity: str, price: str) -> None:
    await pilot.press(side[0])
    await pilot.press(*quantity, "tab", *price, "enter")
    await pilot.press("y")


def book_levels(screen) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    book = screen.query_one("OrderBook")
    return book.bids, book.asks


# -- the core, as another process sees it ---------------------------------------------------------


def as_user(engine, token: str, op: Callable[..., Any], request: Any = None) -> Any:
    """Call the core the way another process would: outside the app, as that user."""
    from du_core.db.runner import run

    return run(engine, op, request, token=token)


def place_as(engine, token: str, **fields: Any) -> Any:
    """Place an order as `token`'s user (in BTC-USD unless `fields` name a symbol)."""
    from du_core.trading import service
    from du_core.trading.schemas import PlaceOrder
    from du_core.validation import parse

    fields.setdefault("symbol", "BTC-USD")
    return as_user(engine, token, service.place_order, parse(PlaceOrder, **fields))


def place_limit(engine, token: str, side: str, quantity: str, price: str) -> Any:
    """A BTC-USD limit order, placed as `token`'s user."""
    return place_as(engine, token, side=side, type="limit", quantity=quantity, price=price)


def live_orders(engine, token: str) -> list[Any]:
    from du_core.trading import service
    from du_core.trading.schemas import OrderQuery
    from du_core.validation import parse

    return as_user(engine, token, service.list_orders, parse(OrderQuery, status="live")).items


def balances(engine, token: str) -> dict[str, tuple[Decimal, Decimal]]:
    from du_core.financial.service import balance

    return {b.currency: (b.available, b.held) for b in as_user(engine, token, balance).balances}

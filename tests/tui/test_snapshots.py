"""What the trader screen and the admin console look like at 80x24 and 160x50 (SVG snapshots).

Each snapshot is taken on a fresh database filled the same way every time: fixed accounts, a
fixed book, no trades (a trade's time would change from run to run). The screen is shot once its
reads are in and the live feed is up, so the picture is the steady one a user sees. A changed
layout fails here; review the new pictures and accept them with `pytest --snapshot-update`.
"""

from __future__ import annotations

import pytest

from tests.tui.helpers import app_for, console, place_limit, ready, token_of, until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 50), id="160x50")]


def fixed_user(du, profile: str, email: str, phone: str, role: str = "standard", **funds: str) -> str:
    """A user with a fixed email and phone (the header shows the email), funded, logged in under `profile`."""
    du.user_as("standard", email, phone=phone, profile=profile, name="Snap Shot")
    du.set_role(email, "standard", 1)
    for asset, amount in funds.items():
        r = du("--profile", profile, "financial", "deposit", f"--amount={amount}", "--currency", asset,
               "--method", "sandbox", "--yes", "--json")
        assert r.exit_code == 0, r.stderr
    du.set_role(email, role, 1)
    return email


@pytest.fixture
def market(du, home, engine) -> dict[str, str]:
    """A maker's two-sided book and a trader with one resting bid; the tokens of the trader and an admin."""
    fixed_user(du, "maker", "maker@snap.example", "+84910000001", BTC="2", USD="200000.00")
    fixed_user(du, "trader", "trader@snap.example", "+84910000002", USD="10000.00")
    fixed_user(du, "admin", "admin@snap.example", "+84910000003", role="admin")
    maker, trader = token_of(home, "maker"), token_of(home, "trader")
    for price, quantity in (("50100", "0.25"), ("50200", "0.5"), ("50350", "1.2")):
        place_limit(engine, maker, "sell", quantity, price)
    for price, quantity in (("49900", "0.3"), ("49800", "0.75"), ("49500", "1.5")):
        place_limit(engine, maker, "buy", quantity, price)
    place_limit(engine, trader, "buy", "0.01", "49000")
    return {"trader": trader, "admin": token_of(home, "admin")}


async def trader_ready(pilot) -> None:
    screen = await ready(pilot)
    await until(pilot, lambda: screen.query_one("OpenOrders").row_count == 1, "the trader's open order")
    await until(pilot, lambda: len(screen.query_one("OrderBook").asks) == 3, "the ladder")
    await pilot.pause(0.3)  # the coalesced redraws and the watchlist's figures


@pytest.mark.parametrize("size", SIZES)
def test_the_trader_screen_looks_as_accepted(snap_compare, engine, market, size: tuple[int, int]):
    assert snap_compare(app_for(engine, market["trader"]), terminal_size=size, run_before=trader_ready)


async def admin_ready(pilot) -> None:
    await console(pilot)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_the_admin_console_looks_as_accepted(snap_compare, engine, market, size: tuple[int, int]):
    assert snap_compare(app_for(engine, market["admin"]), terminal_size=size, run_before=admin_ready)

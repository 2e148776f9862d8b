"""The workstation never freezes while the database is slow: every read waits in a worker."""

from __future__ import annotations

import asyncio
import time

import psycopg

from tests.cli.test_trading import trader
from tests.tui.helpers import app_for, place_limit, screen_name, token_of, until


def test_keys_work_while_every_read_of_orders_waits_on_a_lock_and_the_reads_land_once_it_goes(du, home, engine,
                                                                                             db_url):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    place_limit(engine, token, "buy", "0.01", "50000")
    blocker = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"))
    blocker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")  # held until rollback: reads of orders wait

    async def scenario() -> None:
        async with app_for(engine, token).run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
            screen = pilot.app.screen
            await pilot.pause(0.5)
            assert screen.query_one("OpenOrders").row_count == 0, "the read of open orders is still waiting"
            started = time.monotonic()
            await pilot.press("b", "1")
            entry = screen.query_one("OrderEntry")
            await until(pilot, lambda: entry.query_one("#quantity").value == "1", "typing in the ticket")
            await pilot.press("f3")
            await until(pilot, lambda: screen_name(pilot) == "PortfolioScreen", "the portfolio screen")
            await pilot.press("f2")
            await until(pilot, lambda: pilot.app.screen is screen, "the trader screen again")
            assert time.monotonic() - started < 3, "keys answered at once, not after the database"
            blocker.rollback()
            await until(pilot, lambda: screen.query_one("OpenOrders").row_count == 1, "the open order once it can be read",
                        timeout=10)

    try:
        asyncio.run(scenario())
    finally:
        blocker.rollback()
        blocker.close()

"""A trade made by another process — the real `du` command — reaches the open workstation by itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.cli.test_trading import trader
from tests.tui.helpers import app_for, ready, token_of, until

D = Decimal
DU = str(Path(sys.executable).parent / "du")


def du_process(db_url: str, *args: str) -> dict:
    """Run `du` as its own process on the test database and return its JSON."""
    env = {**os.environ, "DU_DATABASE_URL": db_url}
    done = subprocess.run([DU, *args, "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_trade_placed_with_the_du_command_shows_in_the_tape_ladder_and_watchlist(du, home, engine, db_url):
    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1")
    token = token_of(home, "t")

    async def scenario() -> None:
        async with app_for(engine, token).run_test(size=(160, 50)) as pilot:
            screen = await ready(pilot)
            await asyncio.to_thread(du_process, db_url, "--profile", "seller", "trading", "order", "BTC-USD",
                                    "--side", "sell", "--type", "limit", "--quantity", "0.05", "--price", "51000",
                                    "--yes")
            book = screen.query_one("OrderBook")
            await until(pilot, lambda: book.asks == [(D("51000"), D("0.05"))], "the CLI's ask in the ladder",
                        timeout=10)
            await asyncio.to_thread(du_process, db_url, "--profile", "t", "trading", "order", "BTC-USD",
                                    "--side", "buy", "--type", "market", "--quantity", "0.02", "--yes")
            tape = screen.query_one("TradesTape")
            await until(pilot, lambda: [(D(t["price"]), D(t["quantity"])) for t in tape.trades]
                        == [(D("51000"), D("0.02"))], "the CLI's trade in the tape", timeout=10)
            await until(pilot, lambda: book.asks == [(D("51000"), D("0.03"))], "the ask reduced")
            await until(pilot, lambda: str(screen.query_one("Watchlist").get_row("BTC-USD")[1]) == "51000.00",
                        "the last price in the watchlist", timeout=8)

    asyncio.run(scenario())

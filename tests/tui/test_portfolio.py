"""The portfolio screen (F3) driven through Textual's Pilot, against a real database.

Every figure on screen is compared with what the core returns for the same user, read the way
another process would (`as_user`), so the screen is checked to show the core's numbers, not its own.
"""

from __future__ import annotations

import asyncio
import io
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_trading import trader
from tests.tui.helpers import app_for, as_user, balances, place_limit, token_of, until

LOADED = 10.0  # seconds the first read may take on a busy machine (the first one imports pandas)


def hold_outside(engine, token: str, symbol: str, quantity: str, cost: str) -> None:
    from du_core.portfolio import service
    from du_core.portfolio.schemas import UpdateHolding
    from du_core.validation import parse

    as_user(engine, token, service.holdings_update, parse(UpdateHolding, symbol=symbol, quantity=quantity,
                                                          average_cost=cost))


async def portfolio(pilot) -> Any:
    """Open the portfolio screen with F3 once the app knows its user; return it after its first read."""
    app = pilot.app
    await until(pilot, lambda: type(app.screen).__name__ == "TraderScreen", "the trader screen")
    await pilot.press("f3")
    await until(pilot, lambda: type(app.screen).__name__ == "PortfolioScreen", "the portfolio screen")
    screen = app.screen
    await until(pilot, lambda: screen.loads >= 1, "the first read", timeout=LOADED)
    return screen


def text_of(widget) -> str:
    """What a Static shows, as plain text."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def line_of(text: str, label: str) -> str:
    """The line of `text` that starts with `label` (a row of a figure table)."""
    return next(line for line in text.splitlines() if line.startswith(label))


def errors(app) -> list[Any]:
    return [n for n in app._notifications if n.severity == "error"]


def test_the_screen_shows_the_cores_balances_positions_allocation_and_no_made_up_risk_figures(du, home, engine):
    from du_core.portfolio import service as portfolio_service
    from du_core.risk import service as risk_service
    from du_core.trading import info

    trader(du, "t", USD="10000.00")
    trader(du, "u", USD="1000.00", BTC="1.0")
    t, u = token_of(home, "t"), token_of(home, "u")
    place_limit(engine, u, "sell", "0.1", "50000")
    place_limit(engine, t, "buy", "0.1", "50000")  # filled: t holds 0.1 BTC at 50000
    place_limit(engine, u, "sell", "0.02", "52000")
    place_limit(engine, t, "buy", "0.02", "52000")  # filled: the average cost moves, the last price is 52000
    place_limit(engine, t, "buy", "0.01", "40000")  # rests: USD held
    hold_outside(engine, t, "ETH", "2", "3000")  # ETH-USD has never traded: ETH cannot be valued
    money = balances(engine, t)
    [position] = as_user(engine, t, info.account).positions
    holdings = as_user(engine, t, portfolio_service.holdings)
    metrics = as_user(engine, t, risk_service.metrics)
    assert money["USD"][1] > 0 and position.unrealised_pnl > 0 and metrics.observations == 0
    [eth] = [h for h in holdings.items if h.symbol == "ETH"]
    assert eth.value is None and eth.reason

    async def scenario() -> None:
        app = app_for(engine, t)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await portfolio(pilot)
            table = screen.query_one("Balances")
            for currency, (available, held) in money.items():
                assert table.cells(currency) == (f"{available:f}", f"{held:f}", f"{available + held:f}")

            row = screen.query_one("Positions").get_row("BTC-USD")
            assert row[:4] == ["BTC-USD", f"{position.quantity:f}", f"{position.average_cost:f}",
                               f"{position.last_price:f}"]
            unrealised = row[5]
            assert (unrealised.plain, unrealised.style) == (f"{position.unrealised_pnl:+f}", "green")

            allocation = " ".join(text_of(screen.query_one("Allocation")).split())
            for h in holdings.items:
                if h.value is not None:
                    assert f"{h.weight * 100:.1f} % {h.value:f}" in allocation
            assert f"ETH (external) 2 not valued: {eth.reason}" in allocation

            risk = text_of(screen.query_one("RiskFigures"))
            assert "Not enough history yet for risk figures: 0 daily returns" in risk
            sharpe, var = line_of(risk, "Sharpe"), line_of(risk, "VaR 95% 1d")
            assert "—" in sharpe and metrics.reasons["sharpe"] in sharpe
            assert "—" in var and metrics.tail[0].reasons["historical_var"] in var
            assert "%" not in risk.replace("95%", "").replace("99%", "")  # no percentage was made up

            # narrow: the sections are stacked; wide: side by side
            b, p = screen.query_one("Balances").region, screen.query_one("Positions").region
            assert "-narrow" in screen.classes and p.y > b.y and p.x == b.x
            await pilot.resize_terminal(160, 50)
            await until(pilot, lambda: "-wide" in screen.classes, "the wide layout")
            await pilot.pause(0.2)
            b, p = screen.query_one("Balances").region, screen.query_one("Positions").region
            r = screen.query_one("RiskFigures").region
            assert p.y == b.y and p.x > b.x and r.y > p.y and r.x == p.x

    asyncio.run(scenario())


def usd_shows(table, engine, token: str):
    """A condition: the USD row shows the available and held amounts the core has now."""
    available, held = balances(engine, token)["USD"]
    return lambda: table.cells("USD")[:2] == (f"{available:f}", f"{held:f}")


@pytest.mark.slow
def test_the_timer_and_the_refresh_key_pick_up_orders_placed_outside_the_app(du, home, engine):
    from du_tui.screens.portfolio import REFRESH_EVERY

    trader(du, "t", USD="10000.00")
    t = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, t)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await portfolio(pilot)
            table = screen.query_one("Balances")
            assert table.cells("USD") == ("10000.00", "0.00", "10000.00")

            place_limit(engine, t, "buy", "0.01", "40000")  # another process places an order
            await until(pilot, usd_shows(table, engine, t), "the hold, read by the timer", timeout=REFRESH_EVERY + 3)
            assert "open orders 1" in text_of(screen.query_one("PortfolioSummary"))

            # just after a timed read the next one is seconds away: only the key can show this in time
            place_limit(engine, t, "buy", "0.01", "30000")
            await pilot.press("r")
            await until(pilot, usd_shows(table, engine, t), "the second hold, read on r", timeout=2.0)
            assert "open orders 2" in text_of(screen.query_one("PortfolioSummary"))

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_hidden_screen_reads_nothing_and_reads_again_when_shown(du, home, engine):
    from du_tui.screens.portfolio import REFRESH_EVERY

    trader(du, "t", USD="10000.00")
    t = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, t)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await portfolio(pilot)
            table = screen.query_one("Balances")
            await pilot.press("f2")
            await until(pilot, lambda: type(app.screen).__name__ == "TraderScreen", "the trader screen")
            loads = screen.loads
            place_limit(engine, t, "buy", "0.01", "40000")
            await pilot.pause(REFRESH_EVERY + 1)
            assert screen.loads == loads and table.cells("USD") == ("10000.00", "0.00", "10000.00")
            await pilot.press("f3")
            await until(pilot, usd_shows(table, engine, t), "the hold, read on return", timeout=2.0)
            assert screen.loads == loads + 1

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_session_ended_elsewhere_is_one_notification_and_the_last_figures_stay(du, home, engine):
    from du_core.auth.service import logout
    from du_tui.screens.portfolio import REFRESH_EVERY

    trader(du, "t", USD="10000.00")
    t = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, t)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await portfolio(pilot)
            as_user(engine, t, logout)  # e.g. `du auth logout` in another terminal
            loads = screen.loads
            await pilot.press("r")
            await until(pilot, lambda: bool(errors(app)), "a notification")
            [note] = errors(app)
            assert note.title == "auth_required" and "session has ended" in note.message
            assert app.is_running and app.screen is screen and screen.loads == loads + 1
            assert screen.query_one("Balances").cells("USD") == ("10000.00", "0.00", "10000.00")
            assert "refresh failed: your session has ended" in text_of(screen.query_one("PortfolioSummary"))

            # the timer keeps failing the same way: said once, not every few seconds
            await until(pilot, lambda: screen.loads > loads + 1, "a timed refresh", timeout=REFRESH_EVERY + 3)
            assert len(errors(app)) == 1
            await pilot.press("r")  # asked for again: said again
            await until(pilot, lambda: len(errors(app)) == 2, "a second notification")

    asyncio.run(scenario())


def _closes(days: int) -> str:
    """A CSV of `days` daily candles ending today, with a price that moves every day."""
    today = date.today()
    rows = []
    for i in range(days):
        price = 100 + 5 * math.sin(i / 3) + i / 10
        rows.append(f"{(today - timedelta(days=days - 1 - i)).isoformat()},{price:.2f},{price:.2f},{price:.2f},"
                    f"{price:.2f}")
    return "date,open,high,low,close\n" + "\n".join(rows) + "\n"


def test_with_enough_history_the_risk_figures_are_the_cores_and_the_rest_say_why_not(du, home, engine,
                                                                                     tmp_path: Path):
    from du_core.risk import service as risk_service

    du.user_as("admin", profile="ops")
    csv = tmp_path / "acme.csv"
    csv.write_text(_closes(40))
    r = du("--profile", "ops", "market", "import", "ACME", "--csv", str(csv), "--interval", "1d", "--json")
    assert r.exit_code == 0, r.stderr
    trader(du, "t", USD="1000.00")
    t = token_of(home, "t")
    hold_outside(engine, t, "ACME", "10", "90")
    m = as_user(engine, t, risk_service.metrics)
    [var95] = [x for x in m.tail if (x.level, x.horizon) == (0.95, "1d")]
    [var99] = [x for x in m.tail if (x.level, x.horizon) == (0.99, "1d")]
    assert m.sharpe is not None and var95.historical_var is not None and var99.historical_var is None

    async def scenario() -> None:
        app = app_for(engine, t)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await portfolio(pilot)
            risk = text_of(screen.query_one("RiskFigures"))
            assert "Not enough history" not in risk
            assert f"Sharpe {m.sharpe:.2f} " in " ".join(line_of(risk, "Sharpe").split()) + " "
            assert f"{m.annual_volatility * 100:.2f}%" in line_of(risk, "volatility (yr)")
            assert f"{var95.historical_var * 100:.2f}% ({var95.historical_var_amount:.2f})" in line_of(risk,
                                                                                                     "VaR 95% 1d")
            var = line_of(risk, "VaR 99% 1d")
            assert "—" in var and var99.reasons["historical_var"] in var

    asyncio.run(scenario())

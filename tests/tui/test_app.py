"""The app around the screens: function keys and palette commands between screens, the theme kept, and
how a worker's core call gets back to the screen."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.cli.test_trading import trader
from tests.tui.helpers import app_for, screen_name, token_of, until


async def signed_in(pilot) -> None:
    """The trader screen, mounted and read: leaving while Textual still mounts it races its widgets."""
    await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen")
    entry = pilot.app.screen.query_one("OrderEntry")
    await until(pilot, lambda: entry.is_mounted and entry.symbol == "BTC-USD", "the trader screen's first read")


def test_function_keys_switch_between_the_trader_and_portfolio_screens(du, home, engine):
    trader(du, "t", USD="100.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        async with app_for(engine, token, live=False).run_test(size=(120, 40)) as pilot:
            await signed_in(pilot)
            await pilot.press("f3")
            await until(pilot, lambda: screen_name(pilot) == "PortfolioScreen", "the portfolio screen")
            await pilot.press("f2")
            await until(pilot, lambda: screen_name(pilot) == "TraderScreen", "the trader screen again")
            assert pilot.app.user is not None and pilot.app.user.role == "standard"

    asyncio.run(scenario())


def test_the_palette_opens_a_screen_by_name(du, home, engine):
    trader(du, "t", USD="100.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        async with app_for(engine, token, live=False).run_test(size=(120, 40)) as pilot:
            await signed_in(pilot)
            await pilot.press("ctrl+p")
            await until(pilot, lambda: screen_name(pilot) == "CommandPalette", "the command palette")
            await pilot.press(*"open portfolio")
            await pilot.pause(0.3)
            await pilot.press("down", "enter")
            await until(pilot, lambda: screen_name(pilot) == "PortfolioScreen", "the portfolio screen")

    asyncio.run(scenario())


def test_the_chosen_theme_is_kept_for_the_next_start_and_a_broken_file_means_the_default(du, home, engine, tmp_path):
    trader(du, "t", USD="100.00")
    token = token_of(home, "t")
    preferences = tmp_path / "tui.json"

    async def choose(theme: str) -> None:
        async with app_for(engine, token, live=False, preferences=preferences).run_test(size=(80, 24)) as pilot:
            await signed_in(pilot)
            pilot.app.theme = theme
            await pilot.pause(0.1)

    async def started_theme() -> str:
        async with app_for(engine, token, live=False, preferences=preferences).run_test(size=(80, 24)) as pilot:
            await signed_in(pilot)
            return pilot.app.theme

    asyncio.run(choose("nord"))
    assert asyncio.run(started_theme()) == "nord"
    preferences.write_text("{not json")
    assert asyncio.run(started_theme()) == "textual-dark"
    preferences.write_text('{"theme": "no-such-theme"}')
    assert asyncio.run(started_theme()) == "textual-dark"


def test_a_workers_result_reaches_the_main_thread_a_refusal_the_form_and_anything_else_a_notification(
        du, home, engine):
    from du_core.errors import InvalidInput
    from du_core.trading import info, service
    from du_core.trading.schemas import PlaceOrder
    from du_core.validation import parse

    trader(du, "t", USD="100.00")
    app = app_for(engine, token_of(home, "t"), live=False)
    seen: list[tuple[str, Any, bool]] = []

    def kept(kind: str):
        return lambda value: seen.append((kind, value, threading.current_thread() is threading.main_thread()))

    def bad_order() -> Any:  # refused before it reaches the core: a quantity that is not a number
        return app.call(service.place_order, parse(PlaceOrder, symbol="BTC-USD", side="buy", type="limit",
                                                   quantity="lots", price="50000"))

    with pytest.raises(InvalidInput) as refusal:
        bad_order()
    reason = refusal.value.message

    def errors() -> list[tuple[str, str]]:
        return [(n.title, n.message) for n in app._notifications if n.severity == "error"]

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await signed_in(pilot)
            app.run_worker(lambda: app.deliver(lambda: app.call(info.pairs), kept("then")), thread=True)
            app.run_worker(lambda: app.deliver(bad_order, kept("then"), refused=kept("refused")), thread=True)
            await until(pilot, lambda: len(seen) == 2, "both answers")
            app.run_worker(lambda: app.deliver(bad_order, kept("then")), thread=True)
            app.run_worker(lambda: app.deliver(lambda: 1 / 0, kept("then"), refused=kept("refused")), thread=True)
            await until(pilot, lambda: len(errors()) == 2, "two notifications")
            await pilot.pause(0.2)

    asyncio.run(scenario())
    answers = {kind: (value, on_main) for kind, value, on_main in seen}
    assert len(seen) == 2 and set(answers) == {"then", "refused"}, seen  # a failure never reaches `then`
    pairs, on_main = answers["then"]
    assert "BTC-USD" in {p.symbol for p in pairs} and on_main
    assert answers["refused"] == (reason, True)
    assert len(errors()) == 2
    assert set(errors()) == {("validation_error", reason), ("", "internal error (ZeroDivisionError)")}


def test_du_tui_passes_the_feed_address_and_the_profiles_preferences_file(du, home, monkeypatch):
    from du_tui.app import DuApp

    du.user_as("standard", profile="desk")
    seen: dict[str, object] = {}
    monkeypatch.setattr(DuApp, "run", lambda self: seen.update(feed=self.feed_url, preferences=self.preferences))
    r = du("--profile", "desk", "tui", "--feed", "ws://127.0.0.1:8765")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert seen["feed"] == "ws://127.0.0.1:8765"
    assert seen["preferences"] == home / "config" / "tui.json"


def test_du_tui_refuses_a_feed_that_is_not_a_websocket_address_before_opening(du, monkeypatch):
    from du_tui.app import DuApp

    du.user_as("standard", profile="desk")
    opened: list[DuApp] = []
    monkeypatch.setattr(DuApp, "run", lambda self: opened.append(self))
    r = du("--profile", "desk", "tui", "--feed", "http://127.0.0.1:8765", "--json")
    assert (r.exit_code, r.stdout, opened) == (3, "", [])
    assert "ws://" in r.stderr

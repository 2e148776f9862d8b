"""The trader screen driven with keys through Textual's Pilot, against a real database."""

from __future__ import annotations

import asyncio
import io
import json
from decimal import Decimal
from typing import Any

from rich.console import Console

from tests.cli.test_trading import trader
from tests.tui.helpers import (
    app_for, as_user, balances, book_levels, live_orders, place_as, place_limit, place_with_keys, ready, token_of, until,
)

D = Decimal


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
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    place_limit(engine, token, "buy", "0.01", "50000")
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
    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1")
    token, seller = token_of(home, "t"), token_of(home, "seller")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            await asyncio.to_thread(place_limit, engine, seller, "sell", "0.05", "51000")
            await until(pilot, lambda: book_levels(screen)[1] == [(D("51000"), D("0.05"))], "the ask in the ladder")

            await asyncio.to_thread(place_as, engine, token, side="buy", type="market", quantity="0.02", tif="ioc")
            tape = screen.query_one("TradesTape")
            await until(pilot, lambda: len(tape.trades) == 1, "the trade in the tape")
            trade = tape.trades[0]
            assert (D(trade["price"]), D(trade["quantity"]), trade["taker_side"]) == (D("51000"), D("0.02"), "buy")
            await until(pilot, lambda: book_levels(screen)[1] == [(D("51000"), D("0.03"))], "the ask reduced")
            watchlist = screen.query_one("Watchlist")
            await until(pilot, lambda: str(watchlist.get_row("BTC-USD")[3]) == "0.0200", "the day's volume",
                        timeout=8.0)

    asyncio.run(scenario())


def recent_trades(engine, token: str, symbol: str = "BTC-USD") -> list[Any]:
    """The market's newest trades of `symbol`, as the core gives them to anyone."""
    from du_core.market import service
    from du_core.market.schemas import TradesQuery
    from du_core.validation import parse

    return as_user(engine, token, service.trades, parse(TradesQuery, symbol=symbol)).items


def renotify(engine, symbol: str, trade: Any) -> None:
    """Send a trade's notification again, as the exchange spells it: the feed delivering a trade that
    the first read already brought (its notification came after that read)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        seq = conn.execute(text("SELECT book_seq FROM instruments WHERE symbol = :s"), {"s": symbol}).scalar_one()
        payload = {"topic": "trades", "symbol": symbol, "seq": seq, "trades": [trade.model_dump(mode="json")]}
        conn.execute(text("SELECT pg_notify('du_market', :p)"), {"p": json.dumps(payload)})


def tape_rows(tape) -> list[str]:
    """The tape's rows as drawn at its width (time, price, quantity), newest first."""
    console = Console(width=tape.content_size.width, file=io.StringIO(), record=True)
    console.print(tape.content)
    return [line.strip() for line in console.export_text().splitlines()[1:]]


def test_the_tape_opens_with_the_markets_recent_trades_and_a_new_trade_goes_on_top_once(du, home, engine):
    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1")
    token, seller = token_of(home, "t"), token_of(home, "seller")
    place_limit(engine, seller, "sell", "0.05", "51000")
    place_as(engine, token, side="buy", type="market", quantity="0.02", tif="ioc")
    [before] = recent_trades(engine, token)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await ready(pilot)
            tape = screen.query_one("TradesTape")
            assert [(t["id"], t["price"], t["quantity"], t["taker_side"]) for t in tape.trades] == [
                (before.id, "51000.00", "0.0200", "buy")]
            [row] = tape_rows(tape)
            assert row.split()[1:] == ["51000.00", "0.0200"]

            await asyncio.to_thread(renotify, engine, "BTC-USD", before)
            await asyncio.to_thread(place_as, engine, token, side="buy", type="market", quantity="0.01", tif="ioc")
            await until(pilot, lambda: len(tape.trades) >= 2, "the new trade in the tape")
            await pilot.pause(0.3)
            after, _ = recent_trades(engine, token)
            assert [(t["id"], t["quantity"]) for t in tape.trades] == [(after.id, "0.0100"), (before.id, "0.0200")]
            assert [row.split()[1:] for row in tape_rows(tape)] == [["51000.00", "0.0100"], ["51000.00", "0.0200"]]

    asyncio.run(scenario())


def test_choosing_another_pair_in_the_watchlist_shows_that_pairs_recent_trades(du, home, engine):
    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1", ETH="1")
    token, seller = token_of(home, "t"), token_of(home, "seller")
    place_limit(engine, seller, "sell", "0.05", "51000")
    place_as(engine, token, side="buy", type="market", quantity="0.02", tif="ioc")
    place_as(engine, seller, symbol="ETH-USD", side="sell", type="limit", quantity="0.5", price="3000")
    place_as(engine, token, symbol="ETH-USD", side="buy", type="market", quantity="0.01", tif="ioc")
    [btc], [eth] = recent_trades(engine, token), recent_trades(engine, token, "ETH-USD")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await ready(pilot)
            tape = screen.query_one("TradesTape")
            assert [t["id"] for t in tape.trades] == [btc.id]
            watchlist = screen.query_one("Watchlist")
            watchlist.focus()
            watchlist.move_cursor(row=watchlist.get_row_index("ETH-USD"))
            await pilot.press("enter")
            await until(pilot, lambda: [t["id"] for t in tape.trades] == [eth.id], "the ETH-USD trade in the tape")
            assert [(t["price"], t["quantity"]) for t in tape.trades] == [("3000.00", "0.010")]

    asyncio.run(scenario())


def test_du_tui_without_a_session_or_a_keyring_exits_8_before_opening_and_names_insecure_storage(du, monkeypatch):
    from du_tui.app import DuApp

    opened: list[DuApp] = []
    monkeypatch.setattr(DuApp, "run", lambda self: opened.append(self))
    r = du("tui", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert (r.exit_code, r.stdout, opened) == (8, "", [])
    assert "--insecure-storage" in r.stderr


def test_du_tui_opens_the_workstation_on_the_profiles_session(du, home, monkeypatch):
    from du_tui.app import DuApp

    du.user_as("standard", profile="desk")
    seen: dict[str, Any] = {}
    monkeypatch.setattr(DuApp, "run", lambda self: seen.update(token=self.token_provider(None), symbol=self.symbol))
    r = du("--profile", "desk", "tui", "--symbol", "eth-usd")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert seen == {"token": token_of(home, "desk"), "symbol": "ETH-USD"}


# -- stop orders, modify, fills, the chart, the preview and the layout -----------------------------


def cells(table, row: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(row)]


def test_a_stop_limit_order_placed_with_keys_waits_in_open_orders_with_its_stop_price(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            entry = screen.query_one("OrderEntry")
            assert not entry.query_one("#stop-field").display  # a limit order has no stop price
            await pilot.press("b", *"0.01", "tab", *"52100", "tab")  # on to the order type
            await pilot.press("enter", "down", "down", "down", "enter")  # limit -> market -> stop -> stop limit
            await until(pilot, lambda: entry.fields()["type"] == "stop_limit", "the stop limit type")
            assert entry.query_one("#stop-field").display and entry.query_one("#price-field").display
            await pilot.press("tab", *"52000", "enter")
            assert "stop limit @ 52100 stop 52000" in str(entry.query_one("#message").render())
            await pilot.press("y")
            table = screen.query_one("OpenOrders")
            await until(pilot, lambda: table.row_count == 1, "the order in open orders")
            assert cells(table, 0)[:4] == ["buy", "stop limit", "52100.00", "52000.00"]
            assert cells(table, 0)[6] == "waiting"
            await pilot.pause(0.3)
            assert book_levels(screen) == ([], [])  # an untriggered stop is not in the book

    asyncio.run(scenario())
    [order] = live_orders(engine, token)
    assert (order.type, order.price, order.stop_price, order.status) == (
        "stop_limit", D("52100"), D("52000"), "pending_trigger")


def test_modifying_the_highlighted_order_moves_it_in_the_table_and_the_ladder(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    placed = place_as(engine, token, side="buy", type="limit", quantity="0.01", price="50000")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            table = screen.query_one("OpenOrders")
            await until(pilot, lambda: table.row_count == 1, "the order in open orders")
            await until(pilot, lambda: book_levels(screen)[0] == [(D("50000"), D("0.01"))], "the bid in the ladder")
            await pilot.press("m")
            await until(pilot, lambda: type(app.screen).__name__ == "ModifyOrderScreen", "the modify dialog")
            assert app.screen.query_one("#modify-price").value == "50000.00"
            await pilot.press("ctrl+u", *"49900", "tab", "ctrl+u", *"0.02", "enter")
            await until(pilot, lambda: app.screen is screen, "the dialog closed")
            await until(pilot, lambda: cells(table, 0)[2] == "49900.00", "the new price in open orders")
            assert cells(table, 0)[4] == "0.0200"
            await until(pilot, lambda: book_levels(screen)[0] == [(D("49900"), D("0.02"))], "the bid moved")

    asyncio.run(scenario())
    [order] = live_orders(engine, token)
    assert (order.id, order.price, order.quantity) == (placed.id, D("49900"), D("0.02"))


def test_a_modify_the_core_refuses_shows_its_message_in_the_dialog_and_changes_nothing(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    place_as(engine, token, side="buy", type="limit", quantity="0.01", price="50000")
    before = balances(engine, token)

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            table = screen.query_one("OpenOrders")
            await until(pilot, lambda: table.row_count == 1, "the order in open orders")
            await pilot.press("m")
            await until(pilot, lambda: type(app.screen).__name__ == "ModifyOrderScreen", "the modify dialog")
            dialog = app.screen
            await pilot.press("ctrl+u", *"49900.005", "enter")
            await until(pilot, lambda: bool(dialog.error), "the core's message")
            assert dialog.error == "price must be a multiple of the tick size 0.01"
            assert "tick size" in str(dialog.query_one("#modify-message").render())
            assert app.screen is dialog  # still open, to correct the figure
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen, "the dialog closed")
            await pilot.pause(0.3)
            assert cells(table, 0)[2] == "50000.00"
            assert book_levels(screen)[0] == [(D("50000"), D("0.01"))]

    asyncio.run(scenario())
    [order] = live_orders(engine, token)
    assert (order.price, order.quantity) == (D("50000"), D("0.01"))
    assert balances(engine, token) == before


def test_the_chart_draws_candles_of_trades_made_elsewhere_and_rereads_when_the_interval_changes(du, home, engine):
    from du_core.market.candles import bucket_start

    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1")
    token, seller = token_of(home, "t"), token_of(home, "seller")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            chart = screen.query_one("Chart")
            assert (chart.interval, chart.candles) == ("1h", [])
            await asyncio.to_thread(place_as, engine, seller, side="sell", type="limit", quantity="0.05",
                                    price="51000")
            buy = await asyncio.to_thread(place_as, engine, token, side="buy", type="market", quantity="0.02",
                                          tif="ioc")
            at = buy.fills[0].at
            await until(pilot, lambda: len(chart.candles) == 1, "a candle in the chart")
            [candle] = chart.candles
            assert (candle.start, candle.close, candle.volume) == (bucket_start(at, "1h"), D("51000"), D("0.02"))
            picture = drawn(chart)
            assert "51000.00" in picture and "┃" in picture and "█" in picture  # a body, the price, a volume bar

            await pilot.press("i")
            await until(pilot, lambda: chart.interval == "4h", "the 4h chart")
            assert chart.border_title == "BTC-USD 4h"
            assert [c.start for c in chart.candles] == [bucket_start(at, "4h")]

            await pilot.press("ctrl+p")
            await pilot.press(*"chart 1d", "enter")  # every interval is in the command palette
            await until(pilot, lambda: chart.interval == "1d" and chart.candles[0].start == bucket_start(at, "1d"),
                        "the 1d chart")

            await asyncio.to_thread(place_as, engine, token, side="buy", type="market", quantity="0.01", tif="ioc")
            await until(pilot, lambda: sum(c.volume for c in chart.candles) == D("0.03"), "the chart following a trade")

    asyncio.run(scenario())


def test_recent_fills_show_the_trade_once_the_traders_order_fills(du, home, engine):
    trader(du, "t", USD="10000.00")
    trader(du, "seller", BTC="1")
    token, seller = token_of(home, "t"), token_of(home, "seller")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await ready(pilot)
            fills = screen.query_one("Fills")
            await place_with_keys(pilot, "buy", "0.01", "50000")
            orders = screen.query_one("OpenOrders")
            await until(pilot, lambda: orders.row_count == 1, "the order in open orders")
            assert fills.row_count == 0
            await asyncio.to_thread(place_as, engine, seller, side="sell", type="market", quantity="0.01", tif="ioc")
            await until(pilot, lambda: fills.row_count == 1, "the fill in recent fills")
            assert cells(fills, 0)[1:] == ["buy", "50000.00", "0.0100", "0.50", "maker"]  # maker fee 0.1 %
            await until(pilot, lambda: orders.row_count == 0, "the filled order gone from open orders")

    asyncio.run(scenario())
    from du_core.trading import info
    from du_core.trading.schemas import TradeQuery
    from du_core.validation import parse

    [trade] = as_user(engine, token, info.trades, parse(TradeQuery)).items
    assert (trade.price, trade.fee, trade.liquidity) == (D("50000"), D("0.50"), "maker")


def test_the_ticket_previews_exactly_what_placing_the_order_then_holds(du, home, engine):
    trader(du, "t", USD="1000.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            entry = screen.query_one("OrderEntry")
            await pilot.press("b", *"0.0123", "tab", *"50000.01")
            await until(pilot, lambda: entry.preview is not None, "the core's preview")
            preview = entry.preview
            assert (preview.notional, preview.fee, preview.hold, preview.available) == (
                D("615.00"), D("1.23"), D("616.24"), D("1000.00"))
            shown = str(entry.query_one("#estimate").render())
            assert "value 615.00 USD" in shown and "fee ≤ 1.23" in shown and "holds 616.24 USD of 1000.00" in shown
            assert balances(engine, token)["USD"] == (D("1000.00"), D("0"))  # a preview holds nothing
            await pilot.press("enter", "y")
            await until(pilot, lambda: screen.query_one("OpenOrders").row_count == 1, "the order placed")
            assert balances(engine, token)["USD"] == (D("1000.00") - preview.hold, preview.hold)

    asyncio.run(scenario())


def test_the_ticket_shows_the_rule_an_order_breaks_before_it_is_sent(du, home, engine):
    trader(du, "t", USD="1000.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ready(pilot)
            entry = screen.query_one("OrderEntry")
            await pilot.press("b", *"0.00005", "tab", *"50000")
            await until(pilot, lambda: entry.preview is not None, "the core's preview")
            assert entry.preview.problem == "quantity must be a multiple of the lot size 0.0001"
            assert "lot size 0.0001" in str(entry.query_one("#estimate").render())
            await pilot.press("shift+tab", "end", "ctrl+u", "1")  # 1 BTC at 50000 is more than the balance
            await until(pilot, lambda: entry.preview is not None and entry.preview.enough is False, "a new preview")
            assert "insufficient funds: 50100 USD needed, 1000 available" in str(
                entry.query_one("#estimate").render())
            assert entry.error == ""  # nothing was sent

    asyncio.run(scenario())
    assert live_orders(engine, token) == []


def drawn(widget) -> str:
    """What `widget` draws, as plain text at its width."""
    console = Console(width=widget.content_size.width, file=io.StringIO(), record=True)
    console.print(widget.render())
    return console.export_text()


def _visible(widget) -> bool:
    region = widget.region
    return widget.display and region.width > 0 and region.height > 0


def test_at_80x24_the_book_the_ticket_and_the_open_orders_have_room_and_the_rest_take_turns(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")
    place_as(engine, token, side="buy", type="limit", quantity="0.01", price="50000")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await ready(pilot)
            assert screen.has_class("-narrow")
            book, entry, orders = (screen.query_one(n) for n in ("OrderBook", "OrderEntry", "OpenOrders"))
            await until(pilot, lambda: orders.row_count == 1, "the order in open orders")
            for widget in (book, entry, orders):
                assert _visible(widget), widget
                assert widget.region.right <= 80 and widget.region.bottom <= 23, widget  # above the footer
            assert not book.region.overlaps(entry.region) and not orders.region.overlaps(entry.region)
            assert book.levels_shown >= 3
            for field in ("#quantity", "#price", "#type", "#tif", "#estimate"):
                assert _visible(entry.query_one(field)), field
            await until(pilot, lambda: book_levels(screen)[0] == [(D("50000"), D("0.01"))], "the bid")
            assert "spread" in drawn(book) and "50000.00" in drawn(book)

            # the others take turns: the chart beside the book, then the tape, then the watchlist
            assert [_visible(screen.query_one(n)) for n in ("Chart", "TradesTape", "Watchlist")] == [True, False, False]
            await pilot.press("v")
            assert [_visible(screen.query_one(n)) for n in ("Chart", "TradesTape", "Watchlist")] == [False, True, False]
            await pilot.press("v")
            assert [_visible(screen.query_one(n)) for n in ("Chart", "TradesTape", "Watchlist")] == [False, False, True]
            await pilot.press("f")
            assert not _visible(orders) and _visible(screen.query_one("Fills"))
            assert _visible(book) and _visible(entry)

    asyncio.run(scenario())


def test_at_160x50_every_panel_is_in_view_and_the_turn_keys_are_not_offered(du, home, engine):
    trader(du, "t", USD="10000.00")
    token = token_of(home, "t")

    async def scenario() -> None:
        app = app_for(engine, token)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await ready(pilot)
            assert screen.has_class("-widest") and screen.has_class("-tall")
            names = ("Watchlist", "OrderBook", "Chart", "TradesTape", "OpenOrders", "Fills", "OrderEntry")
            panels = [screen.query_one(n) for n in names]
            assert all(_visible(p) for p in panels), [n for n, p in zip(names, panels) if not _visible(p)]
            assert screen.query_one("Chart").region.width >= 50  # the chart takes the room that is left
            keys = {b.binding.key for b in screen.active_bindings.values()}
            assert "v" not in keys and "f" not in keys
            assert {"b", "s", "c", "m", "i"} <= keys
            await pilot.resize_terminal(80, 24)
            await until(pilot, lambda: screen.has_class("-narrow"), "the narrow layout")
            assert "v" in {b.binding.key for b in screen.active_bindings.values()}

    asyncio.run(scenario())


def test_every_key_of_the_trader_screen_says_what_it_does_for_the_footer_help_and_palette():
    from textual.binding import Binding

    from du_core.market.models import INTERVALS as CORE_INTERVALS
    from du_tui.screens.modify_order import ModifyOrderScreen
    from du_tui.screens.trader import INTERVALS, TraderScreen
    from du_tui.widgets.order_entry import OrderEntry

    for owner in (TraderScreen, OrderEntry, ModifyOrderScreen):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.description and binding.tooltip, (owner, binding)
    screen = TraderScreen()
    names = [name for name, _help, _run in screen.commands()]
    assert {"Buy", "Sell", "Cancel", "Modify", "Interval"} <= set(names)
    assert [f"Chart {i}" for i in INTERVALS] == [n for n in names if n.startswith("Chart ")]
    assert INTERVALS == tuple(CORE_INTERVALS)  # the chart offers exactly the intervals the core keeps

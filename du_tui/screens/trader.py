"""The trader screen: watchlist, book ladder, chart, trades tape, order ticket, open orders and fills.

The screen is the widgets' parent: it feeds them data (attributes down), reacts to their messages
(messages up), and does every blocking call in a worker thread through `DuApp.call`. Its layout
follows the terminal (HORIZONTAL_BREAKPOINTS): from 160 columns every panel is in view; below,
the book and the ticket always are, and the others take turns (key `v`: chart, tape or
watchlist beside the book; key `f`: open orders or fills beside the ticket).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from du_tui.widgets.chart import Chart
from du_tui.widgets.fills import Fills
from du_tui.widgets.open_orders import OpenOrders
from du_tui.widgets.order_book import OrderBook
from du_tui.widgets.order_entry import OrderEntry, missing
from du_tui.widgets.trades_tape import TradesTape
from du_tui.widgets.watchlist import Watchlist

if TYPE_CHECKING:
    from du_tui.app import DuApp
    from du_tui.feed import MarketFeed

REDRAW_EVERY = 0.1  # seconds: book changes are coalesced to at most ten redraws a second
ORDERS_EVERY = 1.0  # seconds: trades on the feed re-read the open orders and fills at most this often
MARKET_EVERY = 2.0  # seconds: trades on the feed re-read the watchlist's 24 h figures at most this often
CHART_EVERY = 1.0  # seconds: trades on the feed re-read the chart's candles at most this often
PREVIEW_AFTER = 0.15  # seconds after the last keystroke in the ticket before the core is asked for a preview
INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")  # the core's candle intervals (du_core.market.models)
CANDLES = 300  # newest candles read: more than the widest chart shows
FILLS = 50
VIEWS = ("chart", "tape", "watchlist")  # what takes turns beside the book (below 120 columns)
WIDE_VIEWS = ("chart", "tape")  # what takes turns beside the watchlist and the book (120 to 159)
LISTS = ("orders", "fills")  # what takes turns beside the ticket (below 160 columns)


class TraderCommands(Provider):
    """The trader screen's actions in the command palette (each with the words its help gives)."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        if isinstance(screen, TraderScreen):
            yield from screen.commands()

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class TraderScreen(Screen):
    """Where a trader watches one instrument and trades it."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (160, "-widest")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    COMMANDS = {TraderCommands}
    BINDINGS = [
        Binding("b", "start('buy')", "Buy", tooltip="Start a buy order in the ticket"),
        Binding("s", "start('sell')", "Sell", tooltip="Start a sell order in the ticket"),
        Binding("c", "cancel_order", "Cancel", tooltip="Cancel the highlighted open order"),
        Binding("m", "modify_order", "Modify", tooltip="Change the price or quantity of the highlighted order"),
        Binding("i", "next_interval(1)", "Interval", tooltip="Next chart interval (1m 5m 15m 1h 4h 1d)"),
        Binding("I", "next_interval(-1)", "Interval back", show=False, key_display="shift+i",
                tooltip="Previous chart interval"),
        Binding("v", "next_view", "View", tooltip="Show the chart, the tape or the watchlist beside the book"),
        Binding("f", "toggle_list", "Fills", tooltip="Show open orders or recent fills beside the ticket"),
        Binding("q", "app.quit", "Quit", show=False, tooltip="Quit the workstation"),
        Binding("question_mark", "app.help", "Help", key_display="?", tooltip="Show or hide the keys"),
    ]

    def __init__(self, symbol: str = "BTC-USD") -> None:
        super().__init__()
        self.symbol = symbol
        self.interval = "1h"  # the demo and imports bring hours of history; 1m starts empty
        self.top_view = VIEWS[0]
        self.bottom_view = LISTS[0]
        self.feed_status = "connecting"
        self._feed: MarketFeed | None = None
        self._orders_stale = False
        self._chart_stale = False
        self._market_stale: set[str] = set()
        self._preview_timer: Timer | None = None

    @property
    def du(self) -> DuApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("connecting to the market feed…", id="banner")
        with Horizontal(id="top"):
            yield Watchlist(id="watchlist")
            yield OrderBook(id="book")
            yield Chart(id="chart")
            yield TradesTape(id="tape")
        with Horizontal(id="bottom"):
            yield OpenOrders(id="orders")
            yield Fills(id="fills")
            yield OrderEntry(id="entry")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for widget_id, title in (("watchlist", "markets"), ("book", f"{self.symbol} book"),
                                 ("chart", f"{self.symbol} {self.interval}"), ("orders", "open orders"),
                                 ("fills", "recent fills"), ("entry", "ticket")):
            self.query_one(f"#{widget_id}").border_title = title
        self._show_panels()
        self.query_one(OpenOrders).focus()
        if self.du.live:
            self.start_feed()  # first: the ladder is what a trader looks at first
        self.load()
        self.reload_chart()
        self.set_interval(REDRAW_EVERY, self.redraw_book)
        self.set_interval(ORDERS_EVERY, self._refresh_stale_orders)
        self.set_interval(MARKET_EVERY, self._refresh_stale_market)
        self.set_interval(CHART_EVERY, self._refresh_stale_chart)

    def on_unmount(self) -> None:
        if self._feed is not None:
            self._feed.stop()

    def on_resize(self) -> None:
        self.refresh_bindings()  # `v` and `f` are offered only where the panels take turns

    # -- data in ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        """Read what the screen shows once (the feed keeps the book and tape current after)."""
        from du_core.trading import info

        symbol, size = self.symbol, self.query_one(TradesTape).capacity

        def read() -> tuple[list[Any], list[Any], list[Any], list[dict[str, Any]]]:
            market = self._market([p.symbol for p in self.du.call(info.pairs)])
            orders, fills = self._orders_and_fills()
            return market, orders, fills, self._recent_trades(symbol, size)

        self.du.deliver(read, lambda found: self._loaded(symbol, *found))

    def _recent_trades(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        """The market's newest trades of `symbol`, newest first, spelt as the feed spells them (blocking)."""
        from du_core.market import service
        from du_core.market.schemas import TradesQuery
        from du_core.validation import parse

        view = self.du.call(service.trades, parse(TradesQuery, symbol=symbol, limit=limit))
        return [trade.model_dump(mode="json") for trade in view.items]  # money and time as strings, like the feed

    def _market(self, symbols: list[str]) -> list[Any]:
        """The 24 h figures of each of `symbols` (blocking)."""
        from du_core.trading import info
        from du_core.trading.schemas import SymbolRequest
        from du_core.validation import parse

        return [self.du.call(info.market_data, parse(SymbolRequest, symbol=s)) for s in symbols]

    def _orders_and_fills(self) -> tuple[list[Any], list[Any]]:
        """The trader's live orders and latest fills in the screen's symbol (blocking)."""
        from du_core.trading import info, service
        from du_core.trading.schemas import OrderQuery, TradeQuery
        from du_core.validation import parse

        orders = self.du.call(service.list_orders, parse(OrderQuery, status="live", symbol=self.symbol, limit=100))
        fills = self.du.call(info.trades, parse(TradeQuery, symbol=self.symbol, limit=FILLS))
        return orders.items, fills.items

    def _loaded(self, symbol: str, market: list[Any], orders: list[Any], fills: list[Any],
                trades: list[dict[str, Any]]) -> None:
        self.query_one(Watchlist).show(market)
        if symbol == self.symbol:  # else the trader moved on and a newer load is on its way
            self.query_one(TradesTape).seed(trades)
        self.query_one(OrderEntry).symbol = self.symbol
        self._orders_loaded(orders, fills)

    @work(thread=True, exclusive=True, group="orders", exit_on_error=False)
    def reload_orders(self) -> None:
        self.du.deliver(self._orders_and_fills, lambda found: self._orders_loaded(*found))

    def _orders_loaded(self, orders: list[Any], fills: list[Any]) -> None:
        self.query_one(OpenOrders).show(orders)
        self.query_one(Fills).show(fills)
        self.ask_preview(self.query_one(OrderEntry).fields())  # the balance it is measured against moved

    @work(thread=True, exclusive=True, group="chart", exit_on_error=False)
    def reload_chart(self) -> None:
        """Read the newest candles of the screen's symbol at its interval."""
        from du_core.market import service
        from du_core.market.schemas import HistoryQuery
        from du_core.validation import parse

        symbol, interval = self.symbol, self.interval
        self.du.deliver(
            lambda: self.du.call(service.history, parse(HistoryQuery, symbol=symbol, interval=interval, limit=CANDLES)),
            partial(self._chart_loaded, symbol, interval))

    def _chart_loaded(self, symbol: str, interval: str, view: Any) -> None:
        if (symbol, interval) == (self.symbol, self.interval):  # else a newer read is on its way
            self.query_one(Chart).show(symbol, interval, view.items, view.note)

    @work(thread=True, exclusive=True, group="feed", exit_on_error=False)
    def start_feed(self) -> None:
        """Listen to the exchange until the screen goes away; reconnects by itself."""
        try:
            feed = self.du.market_feed(
                self.symbol, on_trades=lambda symbol, trades: self.app.call_from_thread(self._trades, symbol, trades),
                on_status=lambda text: self.app.call_from_thread(self._status, text))
        except Exception as exc:  # noqa: BLE001 - shown; the screen works on without the feed
            self.app.call_from_thread(self.du.report, exc)
            return
        self._feed = feed
        try:
            feed.run()
        except Exception as exc:  # noqa: BLE001
            if not feed.stopped:
                self.app.call_from_thread(self._status, f"market feed stopped: {exc}")

    def _status(self, text: str) -> None:
        self.feed_status = text
        banner = self.query_one("#banner", Static)
        banner.update("" if text == "live" else text)
        banner.set_class(text != "live", "warning")

    def _trades(self, symbol: str, trades: list[dict[str, Any]]) -> None:
        if trades:
            self.query_one(Watchlist).set_last(symbol, str(trades[-1].get("price")))
            self._market_stale.add(symbol)  # its 24 h change and volume moved too
        if symbol == self.symbol:
            self.query_one(TradesTape).add(trades)
            self._orders_stale = True  # some of them may have filled the trader's orders
            self._chart_stale = True

    def _refresh_stale_orders(self) -> None:
        if self._orders_stale:
            self._orders_stale = False
            self.reload_orders()

    def _refresh_stale_market(self) -> None:
        if self._market_stale:
            symbols, self._market_stale = sorted(self._market_stale), set()
            self.reload_market(symbols)

    def _refresh_stale_chart(self) -> None:
        if self._chart_stale:
            self._chart_stale = False
            self.reload_chart()

    @work(thread=True, exclusive=True, group="market", exit_on_error=False)
    def reload_market(self, symbols: list[str]) -> None:
        self.du.deliver(partial(self._market, symbols), lambda views: self.query_one(Watchlist).show(views))

    def redraw_book(self) -> None:
        latest = self._feed.take_latest() if self._feed is not None else None
        if latest is not None:
            self.query_one(OrderBook).show(latest.symbol, latest.bids, latest.asks)

    # -- the ticket ------------------------------------------------------------------------------

    def action_start(self, side: str) -> None:
        self.query_one(OrderEntry).start(side)

    def on_order_entry_changed(self, message: OrderEntry.Changed) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_AFTER, partial(self.ask_preview, message.fields))

    def ask_preview(self, fields: dict[str, Any]) -> None:
        if fields["symbol"] and missing(fields) is None:
            self.preview(fields)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def preview(self, fields: dict[str, Any]) -> None:
        """Ask the core what the ticket's order would cost and hold (trading.preview)."""
        from du_core.trading import preview
        from du_core.trading.schemas import PlaceOrder
        from du_core.validation import parse

        entry = self.query_one(OrderEntry)
        self.du.deliver(lambda: self.du.call(preview.preview_order, parse(PlaceOrder, **fields)),
                        partial(entry.show_preview, fields),
                        refused=lambda problem: entry.show_preview(fields, None, problem))

    def on_order_entry_submitted(self, message: OrderEntry.Submitted) -> None:
        self.place(message.fields)

    @work(thread=True, exclusive=True, group="place", exit_on_error=False)
    def place(self, fields: dict[str, Any]) -> None:
        from du_core.trading import service
        from du_core.trading.schemas import PlaceOrder
        from du_core.validation import parse

        self.du.deliver(lambda: self.du.call(service.place_order, parse(PlaceOrder, **fields)), self._placed,
                        refused=self._not_placed)

    def _placed(self, order: Any) -> None:
        entry = self.query_one(OrderEntry)
        entry.result = f"{order.side} {order.quantity:f} {order.symbol}: {order.status.replace('_', ' ')}"
        entry.error = ""
        self.reload_orders()

    def _not_placed(self, problem: str) -> None:
        entry = self.query_one(OrderEntry)
        entry.result, entry.error = "", problem

    # -- open orders -----------------------------------------------------------------------------

    def action_cancel_order(self) -> None:
        selected = self.query_one(OpenOrders).selected
        if selected is None:
            self.notify("no open order to cancel", severity="warning")
        else:
            self.cancel(selected)

    @work(thread=True, exclusive=True, group="cancel", exit_on_error=False)
    def cancel(self, order_id: Any) -> None:
        from du_core.trading import service
        from du_core.trading.schemas import OrderRef

        self.du.deliver(lambda: self.du.call(service.cancel_order, OrderRef(order_id=order_id)),
                        lambda _order: self.reload_orders())

    def action_modify_order(self) -> None:
        from du_tui.screens.modify_order import ModifyOrderScreen

        order = self.query_one(OpenOrders).selected_order
        if order is None:
            self.notify("no open order to modify", severity="warning")
        else:
            self.app.push_screen(ModifyOrderScreen(order), self._modified)

    def _modified(self, order: Any | None) -> None:
        if order is not None:
            at = f" @ {order.price:f}" if order.price is not None else ""
            self.notify(f"{order.side} {order.quantity:f} {order.symbol}{at}: {order.status.replace('_', ' ')}",
                        title="order modified")
            self.reload_orders()

    # -- the market ------------------------------------------------------------------------------

    def on_watchlist_selected(self, message: Watchlist.Selected) -> None:
        if message.symbol != self.symbol:
            self.symbol = message.symbol
            if self._feed is not None:
                self._feed.stop()
            self.query_one(TradesTape).clear()
            self.query_one(OrderBook).show(self.symbol, [], [])
            self.query_one(Chart).show(self.symbol, self.interval, [])
            self.load()
            self.reload_chart()
            if self.du.live:
                self.start_feed()

    def action_interval(self, interval: str) -> None:
        """Show the chart at `interval` (one of INTERVALS)."""
        if interval in INTERVALS and interval != self.interval:
            self.interval = interval
            self.reload_chart()

    def action_next_interval(self, step: int) -> None:
        self.action_interval(INTERVALS[(INTERVALS.index(self.interval) + step) % len(INTERVALS)])

    # -- layout ----------------------------------------------------------------------------------

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_view", "toggle_list"):
            return not self.has_class("-widest")  # hidden where every panel is in view
        return True

    def action_next_view(self) -> None:
        views = VIEWS if self.narrow else WIDE_VIEWS
        self.top_view = views[(views.index(self.top_view) + 1) % len(views)] if self.top_view in views else views[0]
        self._show_panels()

    def action_toggle_list(self) -> None:
        self.bottom_view = LISTS[(LISTS.index(self.bottom_view) + 1) % len(LISTS)]
        self._show_panels()
        self.query_one(f"#{self.bottom_view}").focus()

    def _show_panels(self) -> None:
        """Say which panels a narrow terminal shows (the stylesheet hides the others)."""
        self.set_classes_of("view", VIEWS, self.top_view)
        self.set_classes_of("list", LISTS, self.bottom_view)

    def set_classes_of(self, prefix: str, names: tuple[str, ...], chosen: str) -> None:
        self.update_classes({f"-{prefix}-{name}": name == chosen for name in names})

    def commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        """What the command palette offers on this screen: its keys, and each chart interval."""
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            action = binding.action
            if action.startswith("app.") or self.check_action(action.split("(")[0], ()) is False:
                continue
            yield binding.description, binding.tooltip, partial(self.run_action, action)
        for interval in INTERVALS:
            yield f"Chart {interval}", f"Show {interval} candles in the chart", partial(self.action_interval,
                                                                                         interval)

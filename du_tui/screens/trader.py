"""The trader screen: watchlist, book ladder, trades tape, order ticket and open orders.

The screen is the widgets' parent: it feeds them data (attributes down), reacts to their messages
(messages up), and does every blocking call in a worker thread through `DuApp.call`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from du_tui.widgets.open_orders import OpenOrders
from du_tui.widgets.order_book import OrderBook
from du_tui.widgets.order_entry import OrderEntry
from du_tui.widgets.trades_tape import TradesTape
from du_tui.widgets.watchlist import Watchlist

if TYPE_CHECKING:
    from du_tui.app import DuApp
    from du_tui.feed import MarketFeed

REDRAW_EVERY = 0.1  # seconds: book changes are coalesced to at most ten redraws a second
ORDERS_EVERY = 1.0  # seconds: trades on the feed re-read the open orders at most this often
MARKET_EVERY = 2.0  # seconds: trades on the feed re-read the watchlist's 24 h figures at most this often


class TraderScreen(Screen):
    """Where a trader watches one instrument and trades it."""

    BINDINGS = [
        Binding("b", "start('buy')", "Buy"),
        Binding("s", "start('sell')", "Sell"),
        Binding("c", "cancel_order", "Cancel order"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    def __init__(self, symbol: str = "BTC-USD") -> None:
        super().__init__()
        self.symbol = symbol
        self.feed_status = "connecting"
        self._feed: MarketFeed | None = None
        self._orders_stale = False
        self._market_stale: set[str] = set()

    @property
    def du(self) -> DuApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("connecting to the market feed…", id="banner")
        with Horizontal(id="top"):
            yield Watchlist(id="watchlist")
            yield OrderBook(id="book")
            yield TradesTape(id="tape")
        with Horizontal(id="bottom"):
            yield OpenOrders(id="orders")
            yield OrderEntry(id="entry")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OpenOrders).focus()
        self.load()
        if self.du.live:
            self.start_feed()
        self.set_interval(REDRAW_EVERY, self.redraw_book)
        self.set_interval(ORDERS_EVERY, self._refresh_stale_orders)
        self.set_interval(MARKET_EVERY, self._refresh_stale_market)

    def on_unmount(self) -> None:
        if self._feed is not None:
            self._feed.stop()

    # -- data in ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        """Read what the screen shows once (the feed keeps the book and tape current after)."""
        from du_core.financial.service import balance
        from du_core.trading import info, service
        from du_core.trading.schemas import OrderQuery, SymbolRequest
        from du_core.validation import parse

        try:
            pairs = self.du.call(info.pairs)
            market = [self.du.call(info.market_data, parse(SymbolRequest, symbol=p.symbol)) for p in pairs]
            account = self.du.call(info.account)
            money = self.du.call(balance)
            orders = self.du.call(service.list_orders, parse(OrderQuery, status="live", symbol=self.symbol,
                                                             limit=100))
        except Exception as exc:  # noqa: BLE001 - a failed read is a notification, never a crash
            self.app.call_from_thread(self.du.report, exc)
            return
        self.app.call_from_thread(self._loaded, pairs, market, account, money, orders.items)

    def _loaded(self, pairs: list[Any], market: list[Any], account: Any, money: Any, orders: list[Any]) -> None:
        self.query_one(Watchlist).show(market)
        entry = self.query_one(OrderEntry)
        inst = next((p for p in pairs if p.symbol == self.symbol), None)
        if inst is not None:
            entry.base, entry.quote = inst.base, inst.quote
        entry.symbol = self.symbol
        entry.fee_rate = account.taker_fee_rate
        entry.available = {b.currency: b.available for b in money.balances}
        self.query_one(OpenOrders).show(orders)

    @work(thread=True, exclusive=True, group="orders", exit_on_error=False)
    def reload_orders(self) -> None:
        from du_core.financial.service import balance
        from du_core.trading import service
        from du_core.trading.schemas import OrderQuery
        from du_core.validation import parse

        try:
            orders = self.du.call(service.list_orders, parse(OrderQuery, status="live", symbol=self.symbol,
                                                             limit=100))
            money = self.du.call(balance)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.du.report, exc)
            return
        self.app.call_from_thread(self._orders_loaded, orders.items, money)

    def _orders_loaded(self, orders: list[Any], money: Any) -> None:
        self.query_one(OpenOrders).show(orders)
        self.query_one(OrderEntry).available = {b.currency: b.available for b in money.balances}

    @work(thread=True, exclusive=True, group="feed", exit_on_error=False)
    def start_feed(self) -> None:
        """Listen to the exchange until the screen goes away; reconnects by itself."""
        from du_tui.feed import MarketFeed

        feed = MarketFeed(self.du.database_url, self.symbol, snapshot=self.du.snapshot,
                          on_trades=lambda symbol, trades: self.app.call_from_thread(self._trades, symbol, trades),
                          on_status=lambda text: self.app.call_from_thread(self._status, text))
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

    def _refresh_stale_orders(self) -> None:
        if self._orders_stale:
            self._orders_stale = False
            self.reload_orders()

    def _refresh_stale_market(self) -> None:
        if self._market_stale:
            symbols, self._market_stale = sorted(self._market_stale), set()
            self.reload_market(symbols)

    @work(thread=True, exclusive=True, group="market", exit_on_error=False)
    def reload_market(self, symbols: list[str]) -> None:
        from du_core.trading import info
        from du_core.trading.schemas import SymbolRequest
        from du_core.validation import parse

        try:
            views = [self.du.call(info.market_data, parse(SymbolRequest, symbol=s)) for s in symbols]
        except Exception as exc:  # noqa: BLE001 - a failed read is a notification, never a crash
            self.app.call_from_thread(self.du.report, exc)
            return
        self.app.call_from_thread(self.query_one(Watchlist).show, views)

    def redraw_book(self) -> None:
        latest = self._feed.take_latest() if self._feed is not None else None
        if latest is not None:
            self.query_one(OrderBook).show(latest.symbol, latest.bids, latest.asks)

    # -- actions ---------------------------------------------------------------------------------

    def action_start(self, side: str) -> None:
        self.query_one(OrderEntry).start(side)

    def on_order_entry_submitted(self, message: OrderEntry.Submitted) -> None:
        self.place(message.fields)

    def on_watchlist_selected(self, message: Watchlist.Selected) -> None:
        if message.symbol != self.symbol:
            self.symbol = message.symbol
            if self._feed is not None:
                self._feed.stop()
            self.query_one(TradesTape).clear()
            self.query_one(OrderBook).show(self.symbol, [], [])
            self.load()
            if self.du.live:
                self.start_feed()

    @work(thread=True, exclusive=True, group="place", exit_on_error=False)
    def place(self, fields: dict[str, Any]) -> None:
        from du_core.errors import DomainError
        from du_core.trading import service
        from du_core.trading.schemas import PlaceOrder
        from du_core.validation import parse

        try:
            order = self.du.call(service.place_order, parse(PlaceOrder, **fields))
        except DomainError as err:
            self.app.call_from_thread(self._placed, "", err.message)
            return
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.du.report, exc)
            return
        self.app.call_from_thread(self._placed, f"{order.side} {order.quantity:f} {order.symbol}: {order.status}", "")

    def _placed(self, result: str, error: str) -> None:
        entry = self.query_one(OrderEntry)
        entry.result, entry.error = result, error
        if not error:
            self.reload_orders()

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

        try:
            self.du.call(service.cancel_order, OrderRef(order_id=order_id))
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.du.report, exc)
            return
        self.reload_orders()

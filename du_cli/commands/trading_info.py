"""`du trading market-data|orderbook|trades|position|account|statistics|pairs|rules|algorithms|risk-assessment`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from du_cli.command import command
from du_cli.commands.trading import app
from du_cli.commands.users import LimitOpt, PageOpt

if TYPE_CHECKING:
    from du_core.trading.schemas import Level, OrderBookView

SymbolArg = Annotated[str, typer.Argument(help="The instrument, e.g. BTC-USD (btc/usd works too).",
                                          metavar="SYMBOL")]
SymbolFilter = Annotated[Optional[str], typer.Option("--symbol", help="Only this instrument, e.g. BTC-USD.")]


@command(app, "market-data", title="Market data")
def market_data(symbol: SymbolArg):
    """Last price, best bid and ask, and the last 24 hours of an instrument."""
    from du_core.trading import info
    from du_core.trading.schemas import SymbolRequest
    from du_core.validation import parse

    from du_cli.context import call

    return call(info.market_data, parse(SymbolRequest, symbol=symbol))


@command(app, "orderbook", title="Order book")
def orderbook(
    symbol: SymbolArg,
    depth: Annotated[int, typer.Option("--depth", help="Price levels a side (1-1000).")] = 20,
):
    """The book of an instrument by price level, best first, with the spread.

    On screen a ladder: asks above, the spread, bids below. JSON: bids, asks, spread, mid, seq.
    """
    from du_core.trading import info
    from du_core.trading.schemas import BookRequest
    from du_core.validation import parse

    from du_cli.context import call

    book = call(info.orderbook, parse(BookRequest, symbol=symbol, depth=depth))
    fmt = _format()
    if fmt == "table":
        return _ladder(book)
    if fmt == "csv":
        return [{"side": side, **level.model_dump(mode="json")}
                for side, levels in (("bid", book.bids), ("ask", book.asks)) for level in levels]
    return book


def _format() -> str:
    """The output format this invocation renders in (the book is drawn differently on screen)."""
    from typer._click.globals import get_current_context

    from du_cli.command import output_format

    ctx = get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    return output_format(bool(params.get("json_flag")), params.get("output"))


def _ladder(book: OrderBookView) -> list[dict[str, Any]]:
    """Rows of a price ladder: asks from the highest down, the spread, bids from the best down."""

    def row(bid: Level | None = None, ask: Level | None = None, *, price: str = "") -> dict[str, Any]:
        level = bid or ask
        return {"bid_orders": bid.orders if bid else None, "bid_quantity": f"{bid.quantity:f}" if bid else None,
                "price": f"{level.price:f}" if level else price,
                "ask_quantity": f"{ask.quantity:f}" if ask else None, "ask_orders": ask.orders if ask else None}

    rows = [row(ask=level) for level in reversed(book.asks)]
    if book.bids and book.asks:
        rows.append(row(price=f"spread {book.spread:f}"))
    rows += [row(bid=level) for level in book.bids]
    return rows


@command(app, "trades", title="Trades")
def trades(symbol: SymbolFilter = None, page: PageOpt = 1, limit: LimitOpt = 50):
    """Your fills, newest first, with the fee and the realised P&L of each."""
    from du_core.trading import info
    from du_core.trading.schemas import TradeQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(info.trades, parse(TradeQuery, symbol=symbol, page=page, limit=limit))


@command(app, "position", title="Position")
def position(symbol: SymbolArg):
    """Your position in one instrument: quantity, average cost, market value, realised and unrealised P&L."""
    from du_core.trading import info
    from du_core.trading.schemas import SymbolRequest
    from du_core.validation import parse

    from du_cli.context import call

    return call(info.position, parse(SymbolRequest, symbol=symbol))


@command(app, "account", title="Trading account")
def account():
    """Your trading account: whether you may trade, your fee rates, balances, positions and open orders."""
    from du_core.trading import info

    from du_cli.context import call

    return call(info.account)


@command(app, "statistics", title="Trading statistics")
def statistics(period: Annotated[str, typer.Option(
        "--period", help="How far back: a number and d, w, m or y (7d, 4w, 6m, 1y), or all.")] = "30d"):
    """Your volume, fees, realised P&L and win rate over a period, per quote asset and per instrument."""
    from du_core.trading import info
    from du_core.trading.schemas import StatisticsQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(info.statistics, parse(StatisticsQuery, period=period))


@command(app, "pairs", title="Pairs")
def pairs():
    """Every instrument of the exchange with its status, rules and last price (no login needed)."""
    from du_core.trading import info

    from du_cli.context import call

    return call(info.pairs, auth=False)


@command(app, "rules", title="Trading rules")
def rules(symbol: Annotated[Optional[str], typer.Argument(help="Only this instrument, e.g. BTC-USD.",
                                                          metavar="[SYMBOL]")] = None):
    """Tick and lot sizes, minimums, the fee tiers and the platform's limits (no login needed)."""
    from du_core.trading import info
    from du_core.trading.schemas import OptionalSymbol
    from du_core.validation import parse

    from du_cli.context import call

    return call(info.rules, parse(OptionalSymbol, symbol=symbol), auth=False)


@command(app, "algorithms", title="Order types and options")
def algorithms():
    """The order types, times in force and execution options the exchange offers."""
    from du_core.trading import info

    from du_cli.context import call

    return call(info.algorithms)


@command(app, "risk-assessment", title="Risk assessment")
def risk_assessment():
    """Your open exposure per instrument and your use of the platform's limits (ok, warn or breach)."""
    from du_core.trading import info

    from du_cli.context import call

    return call(info.risk_assessment)

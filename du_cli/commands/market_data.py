"""`du market prices|ticker|trades|history|analysis|feeds|import`: market data from candles and trades."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from du_cli.command import command
from du_cli.commands.market import app

SymbolArg = Annotated[str, typer.Argument(help="A market symbol: BTC-USD, ETH-BTC, AAPL (any case).",
                                          metavar="SYMBOL")]
FromOpt = Annotated[Optional[str], typer.Option(
    "--from", help="From this day (YYYY-MM-DD) or time (ISO 8601; UTC without an offset).", metavar="WHEN")]
ToOpt = Annotated[Optional[str], typer.Option("--to", help="Up to this day (included) or time.", metavar="WHEN")]


@command(app, "prices", title="Prices")
def prices():
    """The ticker of every pair of the exchange and of every imported symbol (no login needed)."""
    from du_core.market import service

    from du_cli.context import call

    return call(service.prices, auth=False)


@command(app, "ticker", title="Ticker")
def ticker(symbol: SymbolArg):
    """Last price, 24 h open, change, high, low and volume, and the best bid and ask (no login needed)."""
    from du_core.market import service
    from du_core.market.schemas import SymbolQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.ticker, parse(SymbolQuery, symbol=symbol), auth=False)


@command(app, "trades", title="Recent trades")
def trades(
    symbol: SymbolArg,
    limit: Annotated[int, typer.Option("--limit", help="At most this many trades (1-500), the newest ones.")] = 50,
):
    """The newest trades of a pair, newest first: time, price, quantity and taker side (no login needed)."""
    from du_core.market import service
    from du_core.market.schemas import TradesQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.trades, parse(TradesQuery, symbol=symbol, limit=limit), auth=False)


@command(app, "history", title="Candles")
def history(
    symbol: SymbolArg,
    interval: Annotated[str, typer.Option("--interval", help="Candle interval: 1m, 5m, 15m, 1h, 4h or 1d.",
                                          metavar="INTERVAL")] = "1h",
    since: FromOpt = None,
    until: ToOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many candles (1-5000): the newest ones, "
                                                       "or the first ones from --from.")] = 500,
):
    """OHLCV candles, oldest first; aggregated from a finer interval where none are stored (no login needed)."""
    from du_core.market import service
    from du_core.market.schemas import HistoryQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.history, parse(HistoryQuery, symbol=symbol, interval=interval, since=since, until=until,
                                       limit=limit), auth=False)


@command(app, "analysis", title="Analysis")
def analysis(
    symbol: SymbolArg,
    with_symbols: Annotated[Optional[list[str]], typer.Option(
        "--with", help="Correlate daily returns with this symbol too (repeat for several).",
        metavar="SYMBOL")] = None,
    lookback: Annotated[Optional[int], typer.Option(
        "--lookback", help="Analyse this many days up to --to or the newest candle (default 365).",
        metavar="DAYS")] = None,
    since: Annotated[Optional[str], typer.Option("--from", help="First day (YYYY-MM-DD).", metavar="DAY")] = None,
    until: Annotated[Optional[str], typer.Option("--to", help="Last day (YYYY-MM-DD, included).",
                                                 metavar="DAY")] = None,
    series: Annotated[bool, typer.Option("--series", help="Also list every daily close and return.")] = False,
):
    """Daily returns, volatility, ranges, max drawdown, and correlation with other symbols."""
    from du_core.market import service
    from du_core.market.schemas import AnalysisQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.analysis, parse(AnalysisQuery, symbol=symbol, with_symbols=with_symbols or [],
                                        lookback=lookback, since=since, until=until, include_series=series))


@command(app, "feeds", title="Market data feeds")
def feeds():
    """Every source of market data and its status: each pair's own trades, imports, external feeds."""
    from du_core.market import service

    from du_cli.context import call

    return call(service.feeds)


@command(app, "import", title="Import")
def import_candles(
    symbol: SymbolArg,
    path: Annotated[Optional[str], typer.Option(
        "--csv", "--file", help="Read the candles from this file (CSV, or JSON with --format json).",
        metavar="PATH")] = None,
    url: Annotated[Optional[str], typer.Option("--source", help="Fetch the candles from this http(s) URL.",
                                               metavar="URL")] = None,
    interval: Annotated[str, typer.Option("--interval", help="The candles' interval: 1m, 5m, 15m, 1h, 4h or 1d.",
                                          metavar="INTERVAL")] = "1d",
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help="csv or json (guessed from the file name or content when left out).",
        metavar="FORMAT")] = None,
):
    """Import OHLCV candles of a symbol (admin): every row is checked, and a bad one refuses the whole file."""
    from pathlib import Path

    from du_core.errors import InvalidInput
    from du_core.market import service
    from du_core.market.schemas import ImportCandles
    from du_core.validation import parse

    from du_cli.context import call

    if (path is None) == (url is None):
        raise InvalidInput("give the candles with either --csv PATH or --source URL")
    data = name = None
    if path is not None:
        file = Path(path)
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror or type(exc).__name__}",
                               details={"path": path}) from None
        try:
            data = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start})", details={"path": path}) from None
        name = file.name
    return call(service.import_candles, parse(ImportCandles, symbol=symbol, interval=interval, data=data, url=url,
                                              format=fmt, source_name=name))

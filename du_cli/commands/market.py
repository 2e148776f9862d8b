"""`du market`: prices, tickers, candles, analysis, feeds, history import, and the live feed."""

from __future__ import annotations

import typer

app = typer.Typer(help="Market data: prices, tickers, candles, analysis, imports and the live feed.",
                  no_args_is_help=True)

# Registration happens on import; the order here is the order of `du market --help`.
from du_cli.commands import market_data, market_live, market_sim  # noqa: E402, F401

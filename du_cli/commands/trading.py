"""`du trading`: the exchange. The commands live in modules that register on this app."""

from __future__ import annotations

import typer

app = typer.Typer(help="The exchange: pairs and rules, orders, positions, the book, trades and account.",
                  no_args_is_help=True)

# Registration happens on import; the order here is the order of `du trading --help`.
from du_cli.commands import trading_orders, trading_info  # noqa: E402, F401

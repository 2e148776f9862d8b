"""`du financial`: money. The commands live in two modules that register on these apps."""

from __future__ import annotations

import typer

app = typer.Typer(help="Money: deposits, withdrawals, balances, exchange, statements and reports.",
                  no_args_is_help=True)
payments_app = typer.Typer(help="Payments behind deposits and withdrawals: status, process, cancel, history.",
                           no_args_is_help=True)
app.add_typer(payments_app, name="payments")

# Registration happens on import; the order here is the order of `du financial --help`.
from du_cli.commands import financial_payments, financial_accounts  # noqa: E402, F401

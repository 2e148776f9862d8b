"""`du financial balance|transactions|reports|exchange|rates|assets`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from du_cli.command import command
from du_cli.commands.financial import app

CurrencyOpt = Annotated[Optional[str], typer.Option("--currency", help="Only this currency, e.g. USD.")]


@command(app, "balance", title="Balance")
def balance():
    """Your available, held and total money per currency, and the total in your base currency."""
    from du_core.financial import service

    from du_cli.context import call

    return call(service.balance)


@command(app, "transactions", title="Transactions")
def transactions(
    currency: CurrencyOpt = None,
    kind: Annotated[Optional[str], typer.Option(
        "--type", help="Only entries of this kind: deposit, withdrawal, hold, release, exchange, ...")] = None,
    since: Annotated[Optional[str], typer.Option(
        "--from", help="From this day (YYYY-MM-DD) or time (ISO 8601; UTC without an offset).",
        metavar="WHEN")] = None,
    until: Annotated[Optional[str], typer.Option(
        "--to", help="Up to this day (included) or time.", metavar="WHEN")] = None,
    page: Annotated[int, typer.Option("--page", help="Page number, from 1.")] = 1,
    limit: Annotated[int, typer.Option("--limit", help="Rows per page (1-200).")] = 50,
):
    """Your postings, newest first: every change to your available and held money."""
    from du_core.financial import service
    from du_core.financial.schemas import TransactionQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.transactions, parse(TransactionQuery, currency=currency, kind=kind, since=since,
                                            until=until, page=page, limit=limit))


@command(app, "reports", title="Statement")
def reports(
    year: Annotated[int, typer.Option("--year", help="The calendar year (UTC).")],
    period: Annotated[str, typer.Option("--period", help="monthly, quarterly or yearly.")] = "monthly",
    currency: CurrencyOpt = None,
):
    """Your statement: opening balance, inflows, outflows, fees and closing balance per period and currency."""
    from du_core.financial import service
    from du_core.financial.schemas import ReportQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.reports, parse(ReportQuery, period=period, year=year, currency=currency))


@command(app, "exchange", title="Exchange")
def exchange(
    from_currency: Annotated[str, typer.Option("--from", help="The currency you sell, e.g. USD.", metavar="CUR")],
    to_currency: Annotated[str, typer.Option("--to", help="The currency you buy, e.g. EUR.", metavar="CUR")],
    amount: Annotated[str, typer.Option("--amount", help="How much you sell, in plain digits: 1250.50.",
                                                   metavar="AMOUNT")],
    idempotency_key: Annotated[Optional[str], typer.Option(
        "--idempotency-key", help="Repeating the command with the same key exchanges only once.",
        metavar="KEY")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
):
    """Convert available money to another currency at the current rate, less the platform's spread."""
    import sys

    from du_core.fx import service
    from du_core.fx.schemas import Exchange
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(Exchange, from_currency=from_currency, to_currency=to_currency, amount=amount,
                    idempotency_key=idempotency_key)
    if not yes and sys.stdin.isatty():
        quote = call(service.exchange, request.model_copy(update={"quote_only": True}))
        confirm(f"Sell {quote.from_amount:f} {quote.from_currency} for {quote.to_amount:f} {quote.to_currency} "
                f"(rate {quote.rate:f}, fee {quote.fee:f} {quote.to_currency})?", yes=False)
    else:
        confirm("Exchange now?", yes=yes)
    return call(service.exchange, request)


@command(app, "rates", title="Exchange rates")
def rates(base: Annotated[Optional[str], typer.Option(
        "--base", help="Show this currency against every other one (directly, inverted or across EUR).")] = None):
    """Exchange rates in force, with their age; stale ones refuse to convert."""
    from du_core.fx import service
    from du_core.fx.schemas import RateQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.list_rates, parse(RateQuery, base=base))


@command(app, "assets", title="Assets")
def assets():
    """The currencies the platform lists and their decimal places (no login needed)."""
    from du_core.financial import service

    from du_cli.context import call

    return call(service.list_assets, auth=False)

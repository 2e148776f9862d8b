"""`du risk metrics|exposure|scoring|mitigation|monitoring`: the risk of what you hold."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from du_cli.command import command

app = typer.Typer(help="Risk: value at risk and other metrics, exposure, a risk score, limits and what to do "
                       "about them.", no_args_is_help=True)

AllOpt = Annotated[bool, typer.Option("--all", help="The whole platform (admins only).")]


@command(app, "metrics", title="Risk metrics")
def metrics(
    lookback: Annotated[Optional[int], typer.Option(
        "--lookback", help="This many days up to --to or today (default 365).", metavar="DAYS")] = None,
    since: Annotated[Optional[str], typer.Option("--from", help="First day (YYYY-MM-DD).", metavar="DAY")] = None,
    until: Annotated[Optional[str], typer.Option("--to", help="Last day (YYYY-MM-DD, included; default today).",
                                                 metavar="DAY")] = None,
    benchmark: Annotated[Optional[str], typer.Option(
        "--benchmark", help="Beta and correlation against this symbol's daily closes (BTC-USD, an imported "
                            "index).", metavar="SYMBOL")] = None,
    risk_free_rate: Annotated[float, typer.Option(
        "--risk-free-rate", help="Annual risk-free rate for Sharpe and Sortino, as a fraction (0.03).",
        metavar="R")] = 0.0,
    periods_per_year: Annotated[int, typer.Option(
        "--periods-per-year", help="Trading days a year, for annualising (252; 365 for markets that never "
                                   "close).", metavar="N")] = 252,
):
    """Value at risk and expected shortfall (95 % and 99 %, 1 day and 1 week), volatility, Sharpe,
    Sortino, max drawdown and beta of your current holdings over their price history.

    Figures that cannot be computed (no holdings, too little history) are null, with the reason in
    `reasons`; `conventions` states every definition used.
    """
    from du_core.risk import service
    from du_core.risk.schemas import MetricsQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.metrics, parse(MetricsQuery, lookback=lookback, since=since, until=until,
                                       benchmark=benchmark, risk_free_rate=risk_free_rate,
                                       periods_per_year=periods_per_year))


@command(app, "exposure", title="Exposure")
def exposure(
    all_users: AllOpt = False,
    top: Annotated[int, typer.Option("--top", help="With --all: this many users, largest gross exposure "
                                                   "first (1-100).")] = 10,
):
    """Gross and net exposure by asset and by currency, holdings and open orders, in your base currency."""
    from du_core.risk import service
    from du_core.risk.schemas import ExposureQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.exposure, parse(ExposureQuery, all=all_users, top=top))


@command(app, "scoring", title="Risk score")
def scoring(user: Annotated[Optional[str], typer.Option(
        "--user", help="Another user's score, by id (compliance and admins).", metavar="ID")] = None):
    """A 0-100 risk score (higher = riskier) from volatility, concentration, drawdown and account
    status, with each component's contribution and the formula."""
    from du_core.risk import service
    from du_core.risk.schemas import ScoringQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.scoring, parse(ScoringQuery, user_id=user))


@command(app, "mitigation", title="Risk mitigation")
def mitigation():
    """Each limit you are near or over, with the orders, cancels or sales that bring it back."""
    from du_core.risk import service

    from du_cli.context import call

    return call(service.mitigation)


@command(app, "monitoring", title="Risk monitoring")
def monitoring(
    all_users: AllOpt = False,
    history: Annotated[int, typer.Option("--history", help="Alerts to show, newest first (0-500).")] = 20,
):
    """Your risk limits (platform limits tightened by your risk tolerance), each ok, warn or breach,
    and the history of alerts; admins with --all see every user in breach."""
    from du_core.risk import service
    from du_core.risk.schemas import MonitoringQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.monitoring, parse(MonitoringQuery, all=all_users, history=history))

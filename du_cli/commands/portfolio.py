"""`du portfolio overview|holdings|holdings-update|performance|rebalance|analytics`: what you hold and how it did."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from du_cli.command import command

if TYPE_CHECKING:
    from du_core.portfolio.schemas import PerformanceView, RebalanceView

app = typer.Typer(help="Your portfolio: holdings on and off the platform, value, performance, analytics and "
                       "rebalancing.", no_args_is_help=True)

PeriodOpt = Annotated[str, typer.Option("--period", help="1w, 1m, 3m, 6m, 1y or all (since your first entry).")]


def _format() -> str:
    """The output format this invocation renders in (some results are drawn differently on screen)."""
    from typer._click.globals import get_current_context

    from du_cli.command import output_format

    ctx = get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    return output_format(bool(params.get("json_flag")), params.get("output"))


@command(app, "overview", title="Portfolio")
def overview():
    """Your portfolio at a glance: value, cash vs invested, 24h change, P&L, fees, open orders.

    Values are in your base currency; platform and external holdings are shown apart, and what
    cannot be valued is listed, never counted as 0.
    """
    from du_core.portfolio import service

    from du_cli.context import call

    return call(service.overview)


@command(app, "holdings", title="Holdings")
def holdings():
    """Every holding with price, value, weight, average cost and P&L in your base currency.

    Platform balances (available + held) and the holdings you recorded; one that cannot be priced
    says why.
    """
    from du_core.portfolio import service

    from du_cli.context import call

    return call(service.holdings)


@command(app, "holdings-update", title="External holding")
def holdings_update(
    symbol: Annotated[str, typer.Option("--symbol", help="An asset code (BTC) or a market symbol with imported "
                                                         "prices (AAPL).", metavar="S")],
    quantity: Annotated[str, typer.Option("--quantity", help="How much you hold, in plain digits; 0 removes the "
                                                             "record.", metavar="Q")],
    average_cost: Annotated[Optional[str], typer.Option(
        "--average-cost", help="Price paid per unit in --currency (0 if unknown); needed unless --quantity is 0.",
        metavar="C")] = None,
    currency: Annotated[str, typer.Option("--currency", help="The currency of the cost and of the symbol's "
                                                             "prices.")] = "USD",
    note: Annotated[Optional[str], typer.Option("--note", help="Where it is held, up to 200 characters.")] = None,
):
    """Record a holding kept outside the platform, so it is valued and analysed with the rest (audited)."""
    from du_core.portfolio import service
    from du_core.portfolio.schemas import UpdateHolding
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.holdings_update, parse(UpdateHolding, symbol=symbol, quantity=quantity,
                                               average_cost=average_cost, currency=currency, note=note))


@command(app, "performance", title="Performance")
def performance(period: PeriodOpt = "1y"):
    """Your equity curve rebuilt from the ledger, with time- and money-weighted returns.

    Deposits and withdrawals are flows, not performance. On a terminal the curve is drawn; --json
    gives every daily point {date, value, flow, return}; -o csv the points alone.
    """
    import sys

    from du_core.portfolio import service
    from du_core.portfolio.schemas import PeriodQuery
    from du_core.validation import parse

    from du_cli.context import call

    view = call(service.performance, parse(PeriodQuery, period=period))
    fmt = _format()
    if fmt == "csv":
        return [p.model_dump(mode="json") for p in view.points]
    if fmt == "table":
        if sys.stdout.isatty():
            return _drawn(view)
        return _summary(view)
    return view


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f} %"


def _summary(view: PerformanceView) -> dict[str, Any]:
    data = view.model_dump(mode="json")
    for name in ("points", "conventions"):
        data.pop(name)
    return data


def _drawn(view: PerformanceView) -> str:
    import shutil

    from du_cli.charts import line

    lines = [f"Performance ({view.period}, {view.base_currency})"]
    values = [None if p.value is None else float(p.value) for p in view.points]
    if view.points:
        width = max(20, min(100, shutil.get_terminal_size((80, 24)).columns - 20))
        lines.append(line(values, width=width, height=12, first=view.points[0].date.isoformat(),
                          last=view.points[-1].date.isoformat()))
    rows = [("start value", view.start_value), ("end value", view.end_value), ("deposits", view.deposits),
            ("withdrawals", view.withdrawals), ("profit", view.profit),
            ("time-weighted return", _percent(view.time_weighted_return)),
            ("money-weighted return", _percent(view.money_weighted_return)),
            ("money-weighted, annualised", _percent(view.money_weighted_return_annualised))]
    lines += [f"{name:<28}{'n/a' if value is None else value}" for name, value in rows]
    lines += [f"{name}: {reason}" for name, reason in view.reasons.items()]
    lines += [f"note: {note}" for note in view.notes]
    return "\n".join(lines)


@command(app, "analytics", title="Portfolio analytics")
def analytics(period: PeriodOpt = "1y"):
    """Allocation, concentration, P&L by instrument, fees, turnover and best/worst contributors.

    Allocation by asset, currency and kind; concentration as the largest weight and the Herfindahl
    index; turnover is the traded volume over the period divided by the average equity.
    """
    from du_core.portfolio import service
    from du_core.portfolio.schemas import PeriodQuery
    from du_core.validation import parse

    from du_cli.context import call

    return call(service.analytics, parse(PeriodQuery, period=period))


@command(app, "rebalance", title="Rebalance")
def rebalance(
    targets: Annotated[Optional[list[str]], typer.Argument(
        help="More targets SYMBOL=WEIGHT after --target: --target BTC=0.4 ETH=0.3 USD=0.3.",
        metavar="SYMBOL=WEIGHT", show_default=False)] = None,
    target: Annotated[Optional[list[str]], typer.Option(
        "--target", help="A target weight SYMBOL=WEIGHT (exact decimals summing to 1; the cash, e.g. USD, "
                         "may be one).", metavar="SYMBOL=WEIGHT")] = None,
    execute: Annotated[bool, typer.Option("--execute", help="Place the orders (market orders, sells first); "
                                                            "without it only the plan is shown.")] = False,
    idempotency_key: Annotated[Optional[str], typer.Option(
        "--idempotency-key", help="Repeating --execute with the same key returns the first result and places "
                                  "nothing again.", metavar="KEY")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
):
    """Plan the orders that bring your holdings to target weights; --execute places them.

    Each asset lands within one lot of its target at the shown prices; lot sizes and minimum order
    values are respected, sells come before buys. --execute places market orders in one go (all or
    none), each with an idempotency key derived from --idempotency-key (or the plan).
    """
    import sys

    from du_core.portfolio import service
    from du_core.portfolio.schemas import RebalanceRequest, targets_from_pairs
    from du_core.validation import parse

    from du_cli.context import call, confirm

    request = parse(RebalanceRequest, targets=targets_from_pairs([*(target or []), *(targets or [])]),
                    execute=execute, idempotency_key=idempotency_key)
    if not execute:
        return call(service.rebalance, request)
    if not yes and sys.stdin.isatty():
        plan = call(service.rebalance, request.model_copy(update={"execute": False}))
        confirm(_describe(plan), yes=False)
    else:
        confirm("Place the rebalancing orders?", yes=yes)
    return call(service.rebalance, request)


def _describe(plan: RebalanceView) -> str:
    legs = [f"{leg.side} {leg.quantity:f} {leg.symbol} at about {leg.price:f}" for leg in plan.legs
            if leg.skipped is None]
    if not legs:
        return "Nothing to place: every asset is within one lot of its target. Continue?"
    return f"Place {len(legs)} market order(s): {'; '.join(legs)}?"

"""Requests to the portfolio operations and the views they return.

Money and quantities are exact decimals (strings in JSON); weights and returns are ratios and
floats, never NaN: a figure that cannot be computed is None and its reason is given beside it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from du_core.trading.schemas import OrderView
from du_core.validation import AmountText, Exact, IdempotencyKey, Request, View, clean_text

SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,23}")
PERIODS = ("1w", "1m", "3m", "6m", "1y", "all")
Period = Literal["1w", "1m", "3m", "6m", "1y", "all"]


def clean_symbol(value: str) -> str:
    """A holding's symbol: an asset code (BTC) or a market symbol (AAPL, BRK.B), upper case."""
    symbol = value.strip().upper()
    if not SYMBOL.fullmatch(symbol):
        raise ValueError("a symbol is 1-24 letters, digits, dots or dashes, starting with a letter or digit "
                         "(BTC, AAPL, BRK.B)")
    return symbol


HoldingSymbol = Annotated[str, AfterValidator(clean_symbol)]
CurrencyCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=2, max_length=10)]


class UpdateHolding(Request):
    """Record (or with quantity 0 remove) a holding kept outside the platform."""

    symbol: HoldingSymbol
    quantity: AmountText
    average_cost: AmountText | None = None
    currency: CurrencyCode = "USD"
    note: Annotated[str, AfterValidator(lambda v: clean_text(v, field="note", max_length=200))] | None = None


class PeriodQuery(Request):
    period: Period = "1y"


class RebalanceRequest(Request):
    """Target weights by symbol (exact decimals as typed, summing to exactly 1)."""

    targets: dict[str, AmountText] = Field(min_length=1, max_length=50)
    execute: bool = False
    idempotency_key: IdempotencyKey | None = None

    @field_validator("targets")
    @classmethod
    def _symbols(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned: dict[str, str] = {}
        for symbol, weight in value.items():
            key = clean_symbol(symbol)
            if key in cleaned:
                raise ValueError(f"{key} is given twice")
            cleaned[key] = weight
        return cleaned


def targets_from_pairs(pairs: list[str]) -> dict[str, str]:
    """Targets as typed on a command line (`BTC=0.5 USD=0.5`) -> {symbol: weight text}.

    Raises:
        InvalidInput: an item that is not SYMBOL=WEIGHT.
    """
    from du_core.errors import InvalidInput

    targets: dict[str, str] = {}
    for pair in pairs:
        symbol, sep, weight = pair.partition("=")
        if not sep or not symbol.strip() or not weight.strip():
            raise InvalidInput("a target is SYMBOL=WEIGHT, like BTC=0.5", details={"field": "target"})
        key = symbol.strip().upper()
        if key in targets:
            raise InvalidInput(f"{key} is given twice", details={"field": "target", "symbol": key})
        targets[key] = weight.strip()
    if not targets:
        raise InvalidInput("give the target weights, like --target BTC=0.5 USD=0.5", details={"field": "target"})
    return targets


# views

class HoldingRecordView(View):
    """An external holding as stored (or as it was, when `removed`)."""

    symbol: str
    quantity: Exact
    average_cost: Exact
    currency: str
    note: str | None
    updated_at: datetime
    removed: bool = False


class HoldingView(View):
    symbol: str
    source: str  # platform | external
    kind: str  # cash | asset | security
    quantity: Exact
    currency: str | None  # the currency of its price and average cost
    price_symbol: str | None
    price: Exact | None  # in the base currency
    value: Exact | None  # in the base currency
    weight: float | None  # value / total valued
    average_cost: Exact | None  # in `currency`
    cost: Exact | None  # quantity x average cost, in the base currency
    unrealised_pnl: Exact | None  # value - cost, in the base currency
    realised_pnl: Exact | None  # from the trading position, in the base currency
    reason: str | None


class HoldingsView(View):
    base_currency: str
    total_value: Exact
    unvalued: list[str]
    as_of: datetime
    items: list[HoldingView]


class FeesPaid(View):
    total: Exact | None  # in the base currency; None when a fee currency has no rate
    trading: dict[str, Exact]  # by fee currency (the instruments' quote)
    exchange: dict[str, Exact]  # currency exchange spread, by currency received
    unvalued: list[str] = []


class OverviewView(View):
    base_currency: str
    total_value: Exact
    cash_value: Exact
    invested_value: Exact
    platform_value: Exact
    external_value: Exact
    change_24h: Exact | None
    change_24h_percent: float | None
    change_24h_reason: str | None
    realised_pnl: Exact | None
    unrealised_pnl: Exact | None
    fees_paid: FeesPaid
    open_orders: int
    holdings: int
    unvalued: list[str]
    as_of: datetime
    notes: list[str]


class CurvePoint(View):
    model_config = ConfigDict(from_attributes=True, defer_build=True, serialize_by_alias=True,
                              validate_by_name=True)

    date: date
    value: Exact | None  # equity at the end of the day, in the base currency
    flow: Exact | None  # deposits (+) and withdrawals (-) of the day, valued that day
    # named "return" in JSON: (value - flow) / previous value - 1
    return_: float | None = Field(default=None, alias="return")


class PerformanceView(View):
    base_currency: str
    period: str
    start: date | None
    end: date
    start_value: Exact | None
    end_value: Exact | None
    deposits: Exact | None
    withdrawals: Exact | None
    net_flows: Exact | None
    profit: Exact | None  # end value - start value - net flows
    time_weighted_return: float | None
    money_weighted_return: float | None  # over the period (comparable with the TWR)
    money_weighted_return_annualised: float | None
    reasons: dict[str, str]  # why a figure is None
    conventions: dict[str, str]
    notes: list[str]
    points: list[CurvePoint]


class AllocationRow(View):
    key: str
    value: Exact
    weight: float


class Concentration(View):
    largest: str | None
    largest_weight: float | None
    herfindahl: float | None  # sum of squared weights, 1/n (spread) .. 1 (one holding)
    effective_holdings: float | None  # 1 / herfindahl


class InstrumentPnl(View):
    symbol: str
    quote: str
    quantity: Exact
    average_cost: Exact
    last_price: Exact | None
    realised_pnl: Exact  # in the quote currency
    unrealised_pnl: Exact | None
    fees: Exact
    volume: Exact
    net_pnl_base: Exact | None  # realised + unrealised - fees, in the base currency


class Contributor(View):
    symbol: str
    contribution: Exact  # price effect on the quantity held each day, in the base currency
    contribution_return: float | None  # contribution / average equity


class AnalyticsView(View):
    base_currency: str
    period: str
    total_value: Exact
    by_asset: list[AllocationRow]
    by_currency: list[AllocationRow]
    by_kind: list[AllocationRow]
    concentration: Concentration
    pnl_by_instrument: list[InstrumentPnl]
    fees_paid: FeesPaid
    traded_volume: Exact | None  # over the period, in the base currency
    average_equity: Exact | None
    turnover: float | None
    best: list[Contributor]
    worst: list[Contributor]
    unvalued: list[str]
    reasons: dict[str, str]
    notes: list[str]


class PlanLeg(View):
    index: int
    symbol: str  # the instrument
    asset: str
    side: str | None  # None: skipped
    quantity: Exact
    price: Exact  # the price the plan used, in the instrument's quote currency
    notional: Exact
    current_quantity: Exact
    target_quantity: Exact
    expected_quantity: Exact
    skipped: str | None = None  # why no order is placed for this leg


class ExpectedWeight(View):
    symbol: str
    target: Exact
    current: float | None
    expected: float | None


class RebalanceView(View):
    base_currency: str
    cash: str
    total_value: Exact
    executed: bool
    order_type: str
    legs: list[PlanLeg]
    weights: list[ExpectedWeight]
    orders: list[OrderView]  # the orders placed (with execute), as trading.place returned them
    notes: list[str]

"""Requests and results of the risk operations: metrics, exposure, scoring, mitigation, monitoring.

Amounts and quantities are `Exact` decimals (JSON strings) in the valuation's base currency.
Statistical figures (VaR fractions, volatility, ratios, weights, scores) are floats, always
finite: a figure that cannot be computed is null and a reason says why, never NaN and never a 0
that would read as a measurement. Fractions are fractions: 0.05 is 5 %.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from du_core.market.schemas import MAX_LOOKBACK_DAYS, Symbol
from du_core.validation import Exact, Request, View

DEFAULT_LOOKBACK = 365
Status = Literal["ok", "warn", "breach", "unknown"]


# requests


class MetricsQuery(Request):
    """Risk figures of the caller's current holdings over `lookback` days up to `until` (today by
    default), or from `since` to `until` (whole UTC days, both included)."""

    lookback: int | None = Field(default=None, ge=2, le=MAX_LOOKBACK_DAYS)
    since: date | None = None
    until: date | None = None
    benchmark: Symbol | None = None
    risk_free_rate: float = Field(default=0.0, ge=-1.0, le=1.0, allow_inf_nan=False)
    periods_per_year: int = Field(default=252, ge=1, le=366)

    @model_validator(mode="after")
    def _one_period(self) -> MetricsQuery:
        if self.lookback is not None and self.since is not None:
            raise ValueError("give either a lookback or a start day (--from), not both")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("the start day is after the end day")
        return self


class ExposureQuery(Request):
    """The caller's exposure, or with `all` (admins) the platform's, with its `top` users."""

    all: bool = False
    top: int = Field(default=10, ge=1, le=100)


class ScoringQuery(Request):
    """The caller's risk score, or (compliance and admins) that of `user_id`."""

    user_id: uuid.UUID | None = None


class MonitoringQuery(Request):
    """The caller's limits and alert history, or with `all` (admins) every user in breach."""

    all: bool = False
    history: int = Field(default=20, ge=0, le=500)


# metrics


class Window(View):
    """The days asked for, both included (the figures' own first and last days are `start`/`end`)."""

    start: date
    end: date
    days: int


class HoldingUsed(View):
    """A holding priced over the window: its quantity counts in the value series."""

    symbol: str
    sources: list[str]
    quantity: Exact
    price_symbol: str | None
    currency: str | None
    price: Exact | None  # latest, in the base currency
    value: Exact | None
    first_day: date | None  # its first daily close in the window
    last_day: date | None


class LeftOut(View):
    """A holding the figures leave out, and why (no price, no history in the window)."""

    symbol: str
    source: str
    quantity: Exact
    reason: str


class TailRiskView(View):
    """VaR and expected shortfall at one level over one horizon (positive = a loss)."""

    level: float
    horizon: str
    observations: int
    historical_var: float | None
    historical_var_amount: float | None
    historical_es: float | None
    historical_es_amount: float | None
    parametric_var: float | None
    parametric_var_amount: float | None
    parametric_es: float | None
    parametric_es_amount: float | None
    reasons: dict[str, str]


class MetricsView(View):
    """Every figure of `du_core.risk.metrics` on the current holdings, with what it rests on.

    The figures and `conventions` are `metrics.to_json` as is; `reasons` names why each null
    figure is null; `notes` says what limited the whole computation.
    """

    base: str
    window: Window
    benchmark: str | None
    holdings: list[HoldingUsed]
    left_out: list[LeftOut]
    notes: list[str]
    observations: int
    start: date | None
    end: date | None
    current_value: float | None
    tail: list[TailRiskView]
    annual_return: float | None
    cagr: float | None
    annual_volatility: float | None
    sharpe: float | None
    downside_deviation: float | None
    sortino: float | None
    max_drawdown: float | None
    max_drawdown_peak: date | None
    max_drawdown_trough: date | None
    max_drawdown_recovery: date | None
    benchmark_observations: int
    beta: float | None
    correlation: float | None
    conventions: dict[str, Any]
    reasons: dict[str, str]


# exposure


class AssetExposure(View):
    """Exposure to one asset in the base currency: holdings plus open orders that trade it."""

    asset: str
    currency: str  # the currency its price is quoted in
    cash: bool
    holdings: Exact
    open_buy: Exact
    open_sell: Exact
    gross: Exact
    net: Exact
    share: float | None  # gross / total gross (cash in the base currency excluded)


class CurrencyExposure(View):
    currency: str
    holdings: Exact
    open_buy: Exact
    open_sell: Exact
    gross: Exact
    net: Exact


class Unvalued(View):
    symbol: str
    source: str
    quantity: Exact
    reason: str


class ExposureView(View):
    """The caller's gross and net exposure by asset and by currency, in `base`."""

    user_id: uuid.UUID
    base: str
    total_value: Exact
    gross_exposure: Exact
    net_exposure: Exact
    base_cash: Exact
    open_orders: int
    by_asset: list[AssetExposure]
    by_currency: list[CurrencyExposure]
    unvalued: list[Unvalued]
    definitions: dict[str, str]


class UserExposure(View):
    user_id: uuid.UUID
    email: str
    gross: Exact
    net: Exact
    largest_asset: str | None
    largest_share: float | None


class PlatformExposureView(View):
    """Every user's holdings and open orders added up per asset and currency, and the top users."""

    base: str
    users: int
    gross_exposure: Exact
    net_exposure: Exact
    base_cash: Exact
    open_orders: int
    by_asset: list[AssetExposure]
    by_currency: list[CurrencyExposure]
    top_users: list[UserExposure]
    unvalued: list[Unvalued]
    definitions: dict[str, str]


# monitoring


class LimitStatus(View):
    """One limit: the user's value against it, and the status that follows."""

    name: str
    description: str
    value: float | None
    limit: float
    platform_limit: float
    warn_at: float
    ratio: float | None  # value / limit
    status: Status
    subject: str | None  # what the value is about (the largest holding for concentration)
    message: str


class AlertView(View):
    id: uuid.UUID
    limit: str
    status: str
    value: float | None
    limit_value: float
    message: str
    created_at: datetime


class MonitoringView(View):
    """The caller's risk limits now, and the history of their changes (newest first)."""

    user_id: uuid.UUID
    status: Status  # the worst of the limits (unknown counts below warn)
    risk_tolerance: str | None
    tolerance_factor: float
    limits: list[LimitStatus]
    new_alerts: int
    alerts: list[AlertView]


class UserBreach(View):
    user_id: uuid.UUID
    email: str
    breached: list[str]
    limits: list[LimitStatus]


class PlatformMonitoringView(View):
    """The users in breach of a limit, among those with holdings (at most `evaluated` of them)."""

    candidates: int
    evaluated: int
    truncated: bool
    new_alerts: int
    in_breach: list[UserBreach]


# mitigation


class Action(View):
    """One step that brings a limit back: an order, a cancel, an exchange, or an outside trade."""

    kind: Literal["sell", "cancel", "exchange", "sell_outside", "note"]
    symbol: str | None
    quantity: Exact | None
    order_id: uuid.UUID | None
    description: str
    command: str | None


class Remedy(View):
    """A limit in warn or breach, where its value must go, and the actions that take it there."""

    limit: str
    status: Status
    value: float | None
    limit_value: float
    target: float
    expected_value: float | None  # the limit's value once every action is done (at today's prices)
    actions: list[Action]


class MitigationView(View):
    user_id: uuid.UUID
    status: Status
    remedies: list[Remedy]
    notes: list[str]


# scoring


class ScoreComponent(View):
    """One part of the score: contribution = weight x sub_score."""

    name: str
    weight: float
    measure: float | None  # the raw figure the sub-score comes from
    sub_score: float  # 0 (no risk) to 1 (the most)
    contribution: float
    rule: str
    reason: str | None


class ScoreView(View):
    """A 0-100 risk score, higher = riskier, and each component's part in it."""

    user_id: uuid.UUID
    score: float
    band: Literal["low", "moderate", "high", "severe"]
    higher_is_riskier: bool
    formula: str
    components: list[ScoreComponent]
    window: Window
    as_of: datetime

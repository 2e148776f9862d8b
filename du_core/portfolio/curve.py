"""The equity curve of an account, rebuilt from its ledger, and the returns measured on it.

No snapshot job: the balance of each asset at the end of a day is the sum of the postings on the
user's accounts (available + held) whose journal entry was made up to that day's end (UTC), and
it is valued with that day's close (`valuation.daily_prices`). External holdings have no history:
they count at their current quantity on every day, and the result says so.

Conventions (also returned with every result):

    value V_t      sum over assets of balance_t x price_t, each rounded down to the base's places;
                   None on a day when a held asset has no price yet
    flow F_t       deposits (+) and withdrawals (-) of day t (journal entries of the payment kinds),
                   valued at day t's price: money that came in or left, not performance
    daily return   r_t = (V_t - F_t) / V_{t-1} - 1: flows land at the END of the day, so a day's
                   performance is earned on the previous day's value; undefined when V_{t-1} <= 0
    TWR            prod(1 + r_t) - 1 over the period's defined daily returns
    MWR            the internal rate of return r (per day, daily compounding) solving
                   sum CF_i (1 + r)^(T - t_i) = 0 with the opening value and each deposit as money
                   put in, each withdrawal and the final value as money taken out; t counts days
                   from the end of the day before the first point; over the period it is
                   (1 + r)^(T - t_first) - 1 (t_first: the first money put in), annualised
                   (1 + r)^365 - 1; solved by bisection on log(1 + r)
    contribution   sum over t of balance_{t-1} x (price_t - price_{t-1}): an asset's price effect

The first three functions are pure (unit-tested); `build` reads the database.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from du_core.db import fast
from du_core.money import quantize_down
from du_core.portfolio import valuation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

FLOW_KINDS = ("deposit", "withdrawal")
ZERO = Decimal(0)
DAYS_A_YEAR = 365
CONVENTIONS = {
    "value": "end-of-day balance (available + held, from ledger postings by journal entry time, UTC) x that "
             "day's close converted at that day's FX rate, rounded down to the base currency's places",
    "flow": "deposits (+) and withdrawals (-) of the day (journal entries of kind deposit/withdrawal), valued "
            "at the day's prices",
    "daily_return": "r_t = (V_t - F_t) / V_{t-1} - 1: flows at the end of the day; undefined when V_{t-1} <= 0",
    "time_weighted_return": "prod(1 + r_t) - 1 over the period, not annualised",
    "money_weighted_return": "internal rate of return of the opening value, the flows and the final value, daily "
                             "compounding, solved by bisection; shown over the period ((1 + r)^days - 1, days "
                             "from the first money put in) and annualised ((1 + r)^365 - 1)",
    "external_holdings": "counted at their current quantity on every day of the period (they have no history)",
}


def daily_returns(values: Sequence[Decimal | None], flows: Sequence[Decimal | None],
                  opening: Decimal | None = ZERO) -> list[float | None]:
    """r_t = (V_t - F_t) / V_{t-1} - 1 for each day; V_{-1} is `opening`. None where undefined."""
    out: list[float | None] = []
    previous = opening
    for value, flow in zip(values, flows, strict=True):
        r: float | None = None
        if previous is not None and previous > 0 and value is not None and flow is not None:
            with localcontext() as ctx:
                ctx.prec = 40
                ratio = float((value - flow) / previous - 1)
            r = ratio if math.isfinite(ratio) else None
        out.append(r)
        previous = value
    return out


def time_weighted_return(returns: Sequence[float | None]) -> float | None:
    """Chain the defined daily returns; None when there is none."""
    defined = [r for r in returns if r is not None]
    if not defined:
        return None
    growth = math.prod(1.0 + r for r in defined) - 1.0
    return growth if math.isfinite(growth) else None


@dataclass(frozen=True)
class Irr:
    """The money-weighted return: the daily rate, over the period and annualised, or why not."""

    daily: float | None
    period: float | None
    annualised: float | None
    reason: str | None = None


def money_weighted_return(cash_flows: Sequence[tuple[float, float]], final_time: float, final_value: float) -> Irr:
    """The internal rate of return of `cash_flows` [(time in days, amount put in; negative = taken out)]
    and the final value taken out at `final_time`.

    Solves sum_i -a_i x^(T - t_i) + V = 0 for x = 1 + daily rate by bisection on g = log x in
    [-1, 1] (a log-sum-exp shift keeps every power finite over decades of days).
    """
    flows = [(t, -a) for t, a in cash_flows if a != 0] + [(final_time, final_value)]
    invested = [t for t, a in flows if a < 0]
    if not invested:
        return Irr(None, None, None, "no money was put in over the period")
    if not any(a > 0 for _, a in flows):
        return Irr(None, None, None, "nothing was taken out and the final value is 0")
    if final_time - min(invested) <= 0:
        return Irr(None, None, None, "needs at least one day between the first money put in and the end of the "
                                     "period")

    def npv_sign(g: float) -> float:
        exponents = [g * (final_time - t) for t, _ in flows]
        top = max(exponents)
        return sum(a * math.exp(e - top) for (_, a), e in zip(flows, exponents, strict=True))

    lo, hi = -1.0, 1.0
    f_lo, f_hi = npv_sign(lo), npv_sign(hi)
    if f_lo == 0:
        hi = lo
    elif f_hi == 0:
        lo = hi
    elif (f_lo > 0) == (f_hi > 0):
        return Irr(None, None, None, "the flows have no internal rate of return between -63% and +172% a day")
    for _ in range(200):
        if hi - lo < 1e-15:
            break
        mid = (lo + hi) / 2
        f_mid = npv_sign(mid)
        if f_mid == 0:
            lo = hi = mid
            break
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    g = (lo + hi) / 2
    span = final_time - min(invested)
    try:
        daily, period, annual = math.expm1(g), math.expm1(g * span), math.expm1(g * DAYS_A_YEAR)
    except OverflowError:
        return Irr(None, None, None, "the internal rate of return is too large to express")
    if not all(math.isfinite(x) for x in (daily, period, annual)):
        return Irr(None, None, None, "the internal rate of return is too large to express")
    return Irr(daily, period, annual)


def contributions(quantities: dict[str, list[Decimal]], prices: dict[str, list[Decimal | None]],
                  places: int) -> dict[str, Decimal]:
    """Each symbol's price effect: sum over days of the previous day's quantity x the price change."""
    out: dict[str, Decimal] = {}
    for symbol, qty in quantities.items():
        series = prices.get(symbol)
        if series is None:
            continue
        total = ZERO
        for t in range(1, len(qty)):
            before, now = series[t - 1], series[t]
            if before is not None and now is not None and qty[t - 1]:
                total += qty[t - 1] * (now - before)
        out[symbol] = total.quantize(Decimal(1).scaleb(-places))
    return out


@dataclass
class Curve:
    """An account's equity by day over [days[0], days[-1]], with what it was made of."""

    base: str
    base_places: int
    days: list[date]
    values: list[Decimal | None]
    flows: list[Decimal | None]
    returns: list[float | None]
    opening: Decimal | None  # the value at the end of the day before days[0] (0: nothing yet)
    quantities: dict[str, list[Decimal]]  # by symbol, platform + external
    prices: dict[str, list[Decimal | None]]  # in the base currency
    prices_before: dict[str, Decimal | None] = field(default_factory=dict)  # the day before days[0]
    quantities_before: dict[str, Decimal] = field(default_factory=dict)  # the day before days[0]
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    has_history: bool = False  # the ledger has postings up to the end


_DAILY = """
SELECT (j.created_at AT TIME ZONE 'UTC')::date AS day, p.asset, sum(p.amount),
       coalesce(sum(p.amount) FILTER (WHERE j.kind = ANY(%(flows)s)), 0)
FROM postings p JOIN ledger_accounts a ON a.id = p.account_id JOIN journal_entries j ON j.id = p.entry_id
WHERE a.owner_id = %(u)s AND j.created_at < %(hi)s
GROUP BY 1, 2 ORDER BY 1, 2
"""


def first_day(session: Session, user_id: uuid.UUID) -> date | None:
    """The day (UTC) of the user's first posting, or None without any."""
    row = fast.execute(session, "SELECT min(j.created_at) FROM postings p JOIN ledger_accounts a ON"
                                " a.id = p.account_id JOIN journal_entries j ON j.id = p.entry_id"
                                " WHERE a.owner_id = %(u)s", {"u": user_id}).fetchone()
    return None if row[0] is None else row[0].astimezone(timezone.utc).date()


def build(session: Session, user_id: uuid.UUID, *, start: date, end: date, base: str) -> Curve:
    """The user's equity curve over [start, end] in `base` (start <= end)."""
    pricer = valuation.Pricer(session, base)
    days = valuation.calendar(start - timedelta(days=1), end)  # the day before gives the opening value
    hi = datetime.combine(end, time(0), tzinfo=timezone.utc) + timedelta(days=1)
    change: dict[str, dict[date, Decimal]] = {}
    flow_qty: dict[str, dict[date, Decimal]] = {}
    opening_qty: dict[str, Decimal] = {}
    rows = fast.execute(session, _DAILY, {"u": user_id, "hi": hi, "flows": list(FLOW_KINDS)}).fetchall()
    for day, asset, amount, flowed in rows:
        if day < days[0]:
            opening_qty[asset] = opening_qty.get(asset, ZERO) + amount
        else:
            change.setdefault(asset, {})[day] = amount
            if flowed:
                flow_qty.setdefault(asset, {})[day] = flowed
    quantities: dict[str, list[Decimal]] = {}
    for asset in sorted(set(change) | set(opening_qty)):
        running = opening_qty.get(asset, ZERO)
        series = []
        for day in days:
            running += change.get(asset, {}).get(day, ZERO)
            series.append(running)
        if any(series):
            quantities[asset] = series
    notes: list[str] = []
    externals = valuation.external_rows(session, user_id)
    holdings: dict[str, valuation.Holding] = {
        a: pricer.holding(a, source="platform", quantity=q[-1]) for a, q in quantities.items()}
    if externals:
        notes.append("external holdings count at their current quantity on every day: they have no history")
    for symbol, quantity, _cost, currency in externals:
        if symbol not in holdings:
            holdings[symbol] = pricer.holding(symbol, source="external", quantity=quantity, currency=currency)
        current = quantities.get(symbol, [ZERO] * len(days))
        quantities[symbol] = [q + quantity for q in current]
    for asset in flow_qty:
        if asset not in holdings:  # deposited and withdrawn within a day: priced for its flow all the same
            holdings[asset] = pricer.holding(asset, source="platform", quantity=ZERO)
    prices = valuation.daily_prices(session, list(holdings.values()), days=days, base=base)
    left_out = sorted(s for s in quantities if s not in prices)
    for symbol in left_out:
        reason = holdings[symbol].reason or "no price on any day of the period"
        notes.append(f"{symbol} is left out of the curve: {reason}")
    places = pricer.base_places
    values: list[Decimal | None] = []
    flows: list[Decimal | None] = []
    for t in range(len(days)):
        total: Decimal | None = quantize_down(ZERO, places)
        for symbol, series in quantities.items():
            if symbol in left_out or not series[t]:
                continue
            price = prices[symbol][t]
            if price is None or total is None:
                total = None
                continue
            total += quantize_down(series[t] * price, places)
        values.append(total)
        flow: Decimal | None = quantize_down(ZERO, places)
        for asset, by_day in flow_qty.items():
            amount = by_day.get(days[t])
            if not amount or asset in left_out:
                continue
            price = prices.get(asset, [None] * len(days))[t]
            if price is None or flow is None:
                flow = None
                continue
            with localcontext() as ctx:
                ctx.prec = 60
                flow += quantize_down(amount * price, places)  # towards zero, as values are
        flows.append(flow)
    opening = values[0]
    curve_returns = daily_returns(values[1:], flows[1:], opening)
    return Curve(base=base, base_places=places, days=days[1:], values=values[1:], flows=flows[1:],
                 returns=curve_returns, opening=opening,
                 quantities={k: v[1:] for k, v in quantities.items() if k not in left_out},
                 prices={k: v[1:] for k, v in prices.items()},
                 prices_before={k: v[0] for k, v in prices.items()},
                 quantities_before={k: v[0] for k, v in quantities.items() if k not in left_out},
                 notes=notes, left_out=left_out,
                 has_history=bool(rows))


def irr_of(curve: Curve) -> Irr:
    """The money-weighted return of a curve: opening value at t=0, day i's flow at t=i+1, final at T."""
    if not curve.days or curve.values[-1] is None or curve.opening is None:
        return Irr(None, None, None, "the value at the start or the end of the period is unknown")
    if any(f is None for f in curve.flows):
        return Irr(None, None, None, "a flow could not be valued (no price that day)")
    cash = [(0.0, float(curve.opening))] + [(float(i + 1), float(f)) for i, f in enumerate(curve.flows) if f]
    return money_weighted_return(cash, float(len(curve.days)), float(curve.values[-1]))


def contributions_of(curve: Curve) -> dict[str, Decimal]:
    """Each symbol's price effect over the curve's days, the first day's move (from the day before) included."""
    quantities = {k: [curve.quantities_before.get(k, ZERO), *v] for k, v in curve.quantities.items()}
    prices = {k: [curve.prices_before.get(k), *v] for k, v in curve.prices.items()}
    return contributions(quantities, prices, curve.base_places)

"""The portfolio operations: holdings and their value, overview, performance, analytics, rebalancing.

Everything reads through `valuation` (what is held and what it is worth) and `curve` (the equity
curve rebuilt from the ledger); only `holdings_update` writes (the user's external holdings, with
an audit record) and `rebalance --execute` places orders, through the real `trading.place`.
Money is exact (Decimal, rounded down to the base currency's places); weights and returns are
floats, and a figure that cannot be computed is None with its reason, never NaN or a made-up 0.
Realised and unrealised P&L use average cost (see du_core.trading.positions).
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

from du_core.actor import Actor
from du_core.audit.trail import record
from du_core.db import fast
from du_core.errors import InvalidInput, NotFound
from du_core.money import exact, parse_amount, quantize_down
from du_core.operations import operation
from du_core.portfolio import curve as curves
from du_core.portfolio import valuation
from du_core.portfolio.schemas import (
    AllocationRow, AnalyticsView, Concentration, Contributor, CurvePoint, FeesPaid, HoldingRecordView, HoldingsView,
    HoldingView, InstrumentPnl, OverviewView, PerformanceView, PeriodQuery, RebalanceRequest, RebalanceView,
    UpdateHolding,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ZERO = Decimal(0)
PERIOD_DAYS = {"1w": 7, "1m": 30, "3m": 91, "6m": 182, "1y": 365}
ALL_WITHOUT_HISTORY_DAYS = 365
CONTRIBUTORS = 3
COST_PLACES = 18
_ZERO_TEXT = ("0", "0.0", "0.00")


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _user(actor: Actor) -> uuid.UUID:
    assert actor.user_id is not None
    return actor.user_id


def _ratio(numerator: Decimal, denominator: Decimal) -> float | None:
    if denominator == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 40
        value = float(numerator / denominator)
    return value if math.isfinite(value) else None


# external holdings

def _is_zero(text: str) -> bool:
    integer, _, fraction = text.partition(".")
    return integer == "0" and set(fraction) <= {"0"} and (fraction != "" or "." not in text)


def _known_symbol(session: Session, symbol: str) -> bool:
    return fast.execute(session, "SELECT EXISTS (SELECT 1 FROM assets WHERE code = %(s)s)"
                                 " OR EXISTS (SELECT 1 FROM instruments WHERE symbol = %(s)s)"
                                 " OR EXISTS (SELECT 1 FROM candles WHERE symbol = %(s)s)",
                        {"s": symbol}).fetchone()[0]


@operation("portfolio.holdings_update")
def holdings_update(session: Session, actor: Actor, req: UpdateHolding) -> HoldingRecordView:
    """Record a holding kept outside the platform (quantity and average cost), or remove it with quantity 0.

    The symbol must be one the platform can price: an asset code, an instrument, or a symbol with
    imported candles. The average cost is per unit, in `currency`.

    Raises:
        InvalidInput: a bad quantity, cost, currency or an unknown symbol.
        NotFound: quantity 0 for a symbol that has no record.
    """
    from du_core.ledger import book
    from du_core.portfolio.models import ExternalHolding

    user = _user(actor)
    existing = session.get(ExternalHolding, (user, req.symbol), with_for_update=True)
    old = None if existing is None else {"quantity": existing.quantity, "average_cost": existing.average_cost,
                                         "currency": existing.currency, "note": existing.note}
    if _is_zero(req.quantity):
        if existing is None:
            raise NotFound(f"you have no external holding of {req.symbol} to remove", details={"symbol": req.symbol})
        view = HoldingRecordView(symbol=existing.symbol, quantity=existing.quantity,
                                 average_cost=existing.average_cost, currency=existing.currency, note=existing.note,
                                 updated_at=datetime.now(timezone.utc), removed=True)
        session.delete(existing)
        session.flush()
        record(session, actor, "portfolio.holdings_update", target_type="external_holding", target_id=req.symbol,
               old=old, new=None, details={"removed": True})
        return view
    currency = book.asset(session, req.currency)  # raises, listing the known ones
    places = 18
    if req.symbol in valuation.asset_kinds(session):
        places = book.asset(session, req.symbol).precision
    quantity = parse_amount(req.quantity, places, field="quantity")
    if req.average_cost is None:
        raise InvalidInput("average cost is needed: the price paid per unit, in the currency (0 if unknown)",
                           details={"field": "average_cost"})
    cost = ZERO if _is_zero(req.average_cost) else parse_amount(req.average_cost, COST_PLACES, field="average_cost")
    if not _known_symbol(session, req.symbol):
        raise InvalidInput(f"unknown symbol {req.symbol}: not an asset, an instrument or a symbol with market data "
                           "(an admin can import its history with du market import)",
                           details={"field": "symbol", "symbol": req.symbol})
    now = datetime.now(timezone.utc)
    if existing is None:
        existing = ExternalHolding(user_id=user, symbol=req.symbol, quantity=quantity, average_cost=cost,
                                   currency=currency.code, note=req.note, updated_at=now)
        session.add(existing)
    else:
        existing.quantity, existing.average_cost, existing.currency = quantity, cost, currency.code
        existing.note, existing.updated_at = req.note, now
    session.flush()
    new = {"quantity": quantity, "average_cost": cost, "currency": currency.code, "note": req.note}
    record(session, actor, "portfolio.holdings_update", target_type="external_holding", target_id=req.symbol,
           old=old, new=new)
    return HoldingRecordView(symbol=req.symbol, quantity=quantity, average_cost=cost, currency=currency.code,
                             note=req.note, updated_at=now)


# holdings

def _kind(pricer_kinds: dict[str, tuple[str, int]], h: valuation.Holding) -> str:
    if h.cash:
        return "cash"
    return "asset" if h.symbol in pricer_kinds else "security"


def _realised(session: Session, user: uuid.UUID) -> dict[str, tuple[str, Decimal, Decimal, Decimal, Decimal,
                                                                    Decimal, Decimal]]:
    """The user's positions: symbol -> (quote, quantity, average cost, realised, fees, volume, quote places)."""
    return {r[0]: tuple(r[1:]) for r in fast.execute(  # type: ignore[misc]
        session, "SELECT p.symbol, i.quote, p.quantity, p.average_cost, p.realised_pnl, p.fees, p.volume, a.precision"
                 " FROM positions p JOIN instruments i ON i.symbol = p.symbol JOIN assets a ON a.code = i.quote"
                 " WHERE p.user_id = %(u)s ORDER BY p.symbol", {"u": user}).fetchall()}


def _convert(pricer: valuation.Pricer, amount: Decimal, currency: str | None) -> Decimal | None:
    rate = pricer.rate(currency)
    if rate is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return quantize_down(amount * rate, pricer.base_places) if amount >= 0 else \
            -quantize_down(-amount * rate, pricer.base_places)


def _holding_views(session: Session, user: uuid.UUID, val: valuation.Valuation,
                   pricer: valuation.Pricer) -> list[HoldingView]:
    positions = _realised(session, user)
    views = []
    for h in val.holdings:
        cost = unrealised = realised = None
        if h.average_cost is not None and h.value is not None:
            cost = _convert(pricer, h.quantity * h.average_cost, h.currency)
            if cost is not None:
                unrealised = h.value - cost
        if h.source == "platform" and h.price_symbol in positions:
            quote, *_rest = positions[h.price_symbol]
            realised = _convert(pricer, positions[h.price_symbol][3], quote)
        places = pricer.kinds.get(h.symbol, ("", 18))[1]
        views.append(HoldingView(
            symbol=h.symbol, source=h.source, kind=_kind(pricer.kinds, h),
            quantity=exact(h.quantity, places) if h.symbol in pricer.kinds else h.quantity.normalize(),
            currency=h.currency, price_symbol=h.price_symbol, price=h.price, value=h.value,
            weight=None if h.value is None else _ratio(h.value, val.total),
            average_cost=None if h.average_cost is None else h.average_cost.normalize(),
            cost=cost, unrealised_pnl=unrealised, realised_pnl=realised, reason=h.reason))
    return views


@operation("portfolio.holdings")
def holdings(session: Session, actor: Actor, _: None = None) -> HoldingsView:
    """Every holding (platform balances and external ones) with price, value, weight and P&L in the base currency."""
    user = _user(actor)
    val = valuation.value(session, user)
    pricer = valuation.Pricer(session, val.base)
    return HoldingsView(base_currency=val.base, total_value=val.total, unvalued=val.unvalued, as_of=val.as_of,
                        items=_holding_views(session, user, val, pricer))


# overview

def fees_paid(session: Session, user: uuid.UUID, pricer: valuation.Pricer, *,
              since: datetime | None = None) -> FeesPaid:
    """Trading fees (by quote currency) and currency exchange fees (by currency received) the user paid."""
    params = {"u": user, "since": since or datetime(1970, 1, 1, tzinfo=timezone.utc)}
    trading = {q: amount for q, amount in fast.execute(
        session, "SELECT i.quote, sum(CASE WHEN t.buyer_id = %(u)s THEN t.buyer_fee ELSE 0 END"
                 " + CASE WHEN t.seller_id = %(u)s THEN t.seller_fee ELSE 0 END)"
                 " FROM trades t JOIN instruments i ON i.symbol = t.symbol"
                 " WHERE (t.buyer_id = %(u)s OR t.seller_id = %(u)s) AND t.created_at >= %(since)s"
                 " GROUP BY i.quote ORDER BY i.quote", params).fetchall() if amount}
    exchange = {a: amount for a, amount in fast.execute(
        session, "SELECT p.asset, sum(p.amount) FROM journal_entries j JOIN postings p ON p.entry_id = j.id"
                 " JOIN ledger_accounts f ON f.id = p.account_id AND f.purpose = 'fees'"
                 " WHERE j.kind = 'exchange' AND j.created_at >= %(since)s AND j.id IN (SELECT up.entry_id"
                 " FROM postings up JOIN ledger_accounts ua ON ua.id = up.account_id WHERE ua.owner_id = %(u)s)"
                 " GROUP BY p.asset ORDER BY p.asset", params).fetchall() if amount}
    total: Decimal | None = quantize_down(ZERO, pricer.base_places)
    unvalued = []
    for currency, amount in [*trading.items(), *exchange.items()]:
        converted = _convert(pricer, amount, currency)
        if converted is None:
            unvalued.append(currency)
        elif total is not None:
            total += converted
    places = pricer.kinds
    return FeesPaid(total=None if unvalued else total,
                    trading={k: exact(v, places.get(k, ("", 2))[1]) for k, v in trading.items()},
                    exchange={k: exact(v, places.get(k, ("", 2))[1]) for k, v in exchange.items()},
                    unvalued=sorted(set(unvalued)))


def _change_24h(session: Session, val: valuation.Valuation) -> tuple[Decimal | None, float | None, str | None]:
    moment = datetime.now(timezone.utc) - timedelta(days=1)
    before = now = ZERO
    missing = []
    for h in val.holdings:
        if h.value is None:
            continue
        then = valuation.price_at(session, h, val.base, moment)
        if then is None:
            missing.append(h.symbol)
            continue
        before += quantize_down(h.quantity * then, val.base_places)
        now += h.value
    counted = [h for h in val.holdings if h.value is not None and h.symbol not in missing]
    if not counted:
        return None, None, "no holding had a price 24 hours ago" if val.holdings else "nothing is held"
    reason = f"left out (no price 24 hours ago): {', '.join(sorted(set(missing)))}" if missing else None
    return now - before, _ratio(now - before, before), reason


@operation("portfolio.overview")
def overview(session: Session, actor: Actor, _: None = None) -> OverviewView:
    """The whole portfolio at a glance: value in the base currency, cash vs invested, platform vs external,
    24h change, realised/unrealised P&L, fees paid, open orders and what could not be valued."""
    from du_core.trading.service import open_orders

    user = _user(actor)
    val = valuation.value(session, user)
    pricer = valuation.Pricer(session, val.base)
    zero = quantize_down(ZERO, val.base_places)
    views = _holding_views(session, user, val, pricer)
    cash = sum((h.value for h in val.holdings if h.value is not None and h.cash), zero)
    platform = sum((h.value for h in val.holdings if h.value is not None and h.source == "platform"), zero)
    unrealised: Decimal | None = sum((v.unrealised_pnl for v in views if v.unrealised_pnl is not None), zero)
    realised: Decimal | None = zero
    notes = ["P&L at average cost; unrealised P&L counts holdings with a known average cost"]
    for symbol, (quote, _q, _c, pnl, _f, _v, _p) in _realised(session, user).items():
        converted = _convert(pricer, pnl, quote)
        if converted is None:
            realised = None
            notes.append(f"realised P&L of {symbol} has no rate from {quote} to {val.base}")
        elif realised is not None:
            realised += converted
    change, percent, reason = _change_24h(session, val)
    if val.unvalued:
        notes.append(f"not valued (left out of every total): {', '.join(val.unvalued)}")
    return OverviewView(
        base_currency=val.base, total_value=val.total, cash_value=cash, invested_value=val.total - cash,
        platform_value=platform, external_value=val.total - platform, change_24h=change,
        change_24h_percent=percent, change_24h_reason=reason, realised_pnl=realised, unrealised_pnl=unrealised,
        fees_paid=fees_paid(session, user, pricer), open_orders=open_orders(session, user),
        holdings=len(val.holdings), unvalued=val.unvalued, as_of=val.as_of, notes=notes)


# performance

def window(session: Session, user: uuid.UUID, period: str) -> tuple[date, date, list[str]]:
    """The days [start, end] a period covers for this user, and notes on how it was cut."""
    end = _today()
    first = curves.first_day(session, user)
    notes = []
    if period == "all":
        if first is None:
            notes.append(f"no ledger history: the period is the last {ALL_WITHOUT_HISTORY_DAYS} days")
            return end - timedelta(days=ALL_WITHOUT_HISTORY_DAYS), end, notes
        return min(first, end), end, notes
    start = end - timedelta(days=PERIOD_DAYS[period])
    if first is not None and first > start:
        notes.append(f"the account's history starts on {first.isoformat()}")
        start = min(first, end)
    return start, end, notes


def _build(session: Session, user: uuid.UUID, period: str) -> tuple[curves.Curve | None, date, date, list[str], str]:
    base = valuation.base_currency(session, user)
    start, end, notes = window(session, user, period)
    has_externals = bool(valuation.external_rows(session, user))
    if curves.first_day(session, user) is None and not has_externals:
        return None, start, end, notes, base
    built = curves.build(session, user, start=start, end=end, base=base)
    return built, start, end, notes + built.notes, base


@operation("portfolio.performance")
def performance(session: Session, actor: Actor, req: PeriodQuery) -> PerformanceView:
    """The equity curve over the period, rebuilt from the ledger, with time- and money-weighted returns.

    Deposits and withdrawals are flows, not performance. Where a figure cannot be computed (too
    little history, a missing price) it is None and `reasons` says why.
    """
    user = _user(actor)
    built, start, end, notes, base = _build(session, user, req.period)
    conventions = dict(curves.CONVENTIONS)
    reasons: dict[str, str] = {}
    if built is None:
        why = "no history: the account has no ledger postings and no external holdings"
        for name in ("start_value", "end_value", "net_flows", "profit", "time_weighted_return",
                     "money_weighted_return", "money_weighted_return_annualised"):
            reasons[name] = why
        return PerformanceView(base_currency=base, period=req.period, start=None, end=end, start_value=None,
                               end_value=None, deposits=None, withdrawals=None, net_flows=None, profit=None,
                               time_weighted_return=None, money_weighted_return=None,
                               money_weighted_return_annualised=None, reasons=reasons, conventions=conventions,
                               notes=notes, points=[])
    points = [CurvePoint(date=d, value=v, flow=f, return_=r)
              for d, v, f, r in zip(built.days, built.values, built.flows, built.returns, strict=True)]
    end_value = built.values[-1] if built.values else None
    flows_known = all(f is not None for f in built.flows)
    zero = quantize_down(ZERO, built.base_places)
    deposits = sum((f for f in built.flows if f is not None and f > 0), zero) if flows_known else None
    withdrawals = -sum((f for f in built.flows if f is not None and f < 0), zero) if flows_known else None
    net = None if deposits is None or withdrawals is None else deposits - withdrawals
    profit = None
    if end_value is None or built.opening is None:
        reasons["end_value" if end_value is None else "start_value"] = "a held asset has no price that day"
    if net is None:
        reasons["net_flows"] = "a flow could not be valued (no price that day)"
    if end_value is not None and built.opening is not None and net is not None:
        profit = end_value - built.opening - net
    else:
        reasons["profit"] = "the start or end value or a flow is unknown"
    twr = curves.time_weighted_return(built.returns)
    first_valued = next((i for i, v in enumerate(built.values) if v is not None), None)
    gap = first_valued is not None and any(v is None for v in built.values[first_valued:])
    if gap:
        twr = None
        reasons["time_weighted_return"] = "the value is unknown on some days of the period (a held asset had no price)"
    elif twr is None:
        reasons["time_weighted_return"] = ("needs the value at the end of two consecutive days, the first above 0 "
                                           "(the account is too new or was empty)")
    irr = curves.irr_of(built)
    if irr.reason is not None:
        reasons["money_weighted_return"] = reasons["money_weighted_return_annualised"] = irr.reason
    return PerformanceView(
        base_currency=base, period=req.period, start=built.days[0] if built.days else start, end=end,
        start_value=built.opening, end_value=end_value, deposits=deposits, withdrawals=withdrawals, net_flows=net,
        profit=profit, time_weighted_return=twr, money_weighted_return=irr.period,
        money_weighted_return_annualised=irr.annualised, reasons=reasons, conventions=conventions, notes=notes,
        points=points)


# analytics

def _allocation(groups: dict[str, Decimal], total: Decimal) -> list[AllocationRow]:
    rows = [AllocationRow(key=k, value=v, weight=_ratio(v, total) or 0.0) for k, v in groups.items()]
    return sorted(rows, key=lambda r: (-r.value, r.key))


@operation("portfolio.analytics")
def analytics(session: Session, actor: Actor, req: PeriodQuery) -> AnalyticsView:
    """Allocation by asset, currency and kind, concentration, P&L by instrument, fees, turnover over the
    period (traded volume / average equity) and the best and worst contributors (price effect)."""
    user = _user(actor)
    val = valuation.value(session, user)
    pricer = valuation.Pricer(session, val.base)
    zero = quantize_down(ZERO, val.base_places)
    by_asset: dict[str, Decimal] = {}
    by_currency: dict[str, Decimal] = {}
    by_kind: dict[str, Decimal] = {}
    for h in val.holdings:
        if h.value is None:
            continue
        by_asset[h.symbol] = by_asset.get(h.symbol, zero) + h.value
        currency = h.symbol if h.cash else (h.currency or val.base)
        by_currency[currency] = by_currency.get(currency, zero) + h.value
        kind = _kind(pricer.kinds, h)
        by_kind[kind] = by_kind.get(kind, zero) + h.value
    assets = _allocation(by_asset, val.total)
    reasons: dict[str, str] = {}
    weights = [r.weight for r in assets]
    if val.total > 0 and assets:
        herfindahl = sum(w * w for w in weights)
        concentration = Concentration(largest=assets[0].key, largest_weight=assets[0].weight, herfindahl=herfindahl,
                                      effective_holdings=1 / herfindahl if herfindahl > 0 else None)
    else:
        concentration = Concentration(largest=None, largest_weight=None, herfindahl=None, effective_holdings=None)
        reasons["concentration"] = "nothing of value is held"
    pnl_rows = []
    instruments = valuation.instrument_prices(session)
    for symbol, (quote, quantity, cost, realised, paid, volume, qp) in _realised(session, user).items():
        last = instruments.get(symbol, (None, None, None))[2] or valuation.last_close(session, symbol)
        unrealised = None if last is None else exact(quantity * (last - cost), qp)
        net = None if unrealised is None else _convert(pricer, realised + unrealised - paid, quote)
        pnl_rows.append(InstrumentPnl(symbol=symbol, quote=quote, quantity=quantity.normalize(),
                                      average_cost=cost.normalize(), last_price=last, realised_pnl=exact(realised, qp),
                                      unrealised_pnl=unrealised, fees=exact(paid, qp), volume=exact(volume, qp),
                                      net_pnl_base=net))
    built, start, _end, notes, _base = _build(session, user, req.period)
    since = datetime.combine(start, datetime.min.time(), tzinfo=timezone.utc)
    traded: Decimal | None = zero
    for quote, volume in fast.execute(
            session, "SELECT i.quote, sum(t.quote_quantity) FROM trades t JOIN instruments i ON i.symbol = t.symbol"
                     " WHERE (t.buyer_id = %(u)s OR t.seller_id = %(u)s) AND t.created_at >= %(since)s"
                     " GROUP BY i.quote", {"u": user, "since": since}).fetchall():
        converted = _convert(pricer, volume, quote)
        traded = None if converted is None or traded is None else traded + converted
    if traded is None:
        reasons["traded_volume"] = "a quote currency of your trades has no rate to the base currency"
    average = turnover = None
    best: list[Contributor] = []
    worst: list[Contributor] = []
    if built is not None:
        known = [v for v in built.values if v is not None]
        if known:
            with localcontext() as ctx:
                ctx.prec = 60
                average = quantize_down(sum(known, ZERO) / len(known), val.base_places)
        parts = curves.contributions_of(built)
        ranked = sorted(((v, s) for s, v in parts.items() if not pricer.is_cash(s) or v), reverse=True)
        rows = [Contributor(symbol=s, contribution=v, contribution_return=None if not average else _ratio(v, average))
                for v, s in ranked]
        best = [r for r in rows if r.contribution > 0][:CONTRIBUTORS]
        worst = [r for r in reversed(rows) if r.contribution < 0][:CONTRIBUTORS]
    if not average:
        reasons["turnover"] = "no equity over the period"
    elif traded is not None:
        turnover = _ratio(traded, average)
    return AnalyticsView(
        base_currency=val.base, period=req.period, total_value=val.total, by_asset=assets,
        by_currency=_allocation(by_currency, val.total), by_kind=_allocation(by_kind, val.total),
        concentration=concentration, pnl_by_instrument=pnl_rows, fees_paid=fees_paid(session, user, pricer,
                                                                                     since=None),
        traded_volume=traded, average_equity=average, turnover=turnover, best=best, worst=worst,
        unvalued=val.unvalued, reasons=reasons,
        notes=notes + ["allocation by currency: the currency a holding is priced in (cash: its own)",
                       "contribution: the price effect on the quantity held each day, in the base currency",
                       "turnover: traded quote volume over the period (at today's FX rates) / average equity",
                       "fees paid: since the account opened"])


# rebalancing

@operation("portfolio.rebalance")
def rebalance(session: Session, actor: Actor, req: RebalanceRequest) -> RebalanceView:
    """A plan of orders that brings the platform holdings to the target weights; with `execute`, place them.

    See du_core.portfolio.rebalance for the rules of the plan.

    Raises:
        InvalidInput: weights that are not exact decimals summing to 1, an unknown symbol, an asset
            without an instrument.
        InvalidState: an instrument without a price.
        PermissionDenied, KycRequired, InsufficientFunds, ...: from trading.place with `execute`.
    """
    from du_core.portfolio import rebalance as planner

    user = _user(actor)
    if not req.execute:
        return planner.plan(session, user, req).view()
    from du_core import idempotency

    return idempotency.once(session, user_id=user, key=req.idempotency_key, operation="portfolio.rebalance",
                            request=req, result_type=RebalanceView,
                            work=lambda: planner.execute(session, actor, planner.plan(session, user, req),
                                                         key=req.idempotency_key))

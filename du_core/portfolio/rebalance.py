"""Rebalancing: the orders that bring a user's platform holdings to target weights, and placing them.

The plan:
- Weights are exact decimals as typed (0 <= w <= 1) and must sum to exactly 1. One fiat symbol
  may be named: the cash the instruments trade against (USD for BTC-USD); it is the residual,
  so it ends where the orders leave it.
- Only platform holdings are rebalanced (external holdings cannot be traded); the total is their
  value in the base currency. A held asset that is not named has the target 0. An asset is
  traded through the instrument A-<base>, else A-USD; one without an instrument is refused.
- Prices are those of the valuation (last trade, else newest candle close). Each order's
  quantity rounds toward the target, DOWN to a multiple of the lot size, so every asset lands
  within one lot of its target at the shown prices. A leg below the minimum quantity or the
  minimum order value is skipped with its reason. Sells come first; a buy is reduced to what the
  cash (after the sells, less the taker fee) pays. A sell never exceeds the available quantity
  (money reserved by open orders is not sold).
- `execute` places MARKET orders through `trading.place` (the exchange bounds them by the
  instrument's price band), all in one transaction: if one is refused, none is placed. Each
  order's idempotency key is derived from the request's key (or, without one, a hash of the
  plan) and the leg's index, so a repeat never places an order twice.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import TYPE_CHECKING, Any

from du_core.errors import InvalidInput, InvalidState
from du_core.money import exact, plain
from du_core.portfolio import valuation
from du_core.portfolio.schemas import ExpectedWeight, PlanLeg, RebalanceRequest, RebalanceView

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from du_core.actor import Actor
    from du_core.trading.exchange import Instrument

ZERO = Decimal(0)
ONE = Decimal(1)
ORDER_TYPE = "market"
_WEIGHT = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,18})?", re.ASCII)


def parse_weights(targets: dict[str, str]) -> dict[str, Decimal]:
    """Exact weights from text; each in [0, 1], together exactly 1.

    Raises:
        InvalidInput: a weight that is not a plain decimal in [0, 1], or a sum other than 1 (named).
    """
    weights: dict[str, Decimal] = {}
    for symbol, text in targets.items():
        if not _WEIGHT.fullmatch(text):
            raise InvalidInput(f"weight of {symbol} must be a plain decimal between 0 and 1, like 0.25",
                               details={"field": "target", "symbol": symbol})
        weight = Decimal(text)
        if weight > 1:
            raise InvalidInput(f"weight of {symbol} is above 1", details={"field": "target", "symbol": symbol})
        weights[symbol] = weight
    total = sum(weights.values(), ZERO)
    if total != 1:
        raise InvalidInput(f"target weights sum to {plain(total.normalize())}, not 1",
                           details={"field": "target", "sum": plain(total.normalize())})
    return weights


def _floor(value: Decimal, step: Decimal) -> Decimal:
    if value <= 0:
        return ZERO
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass
class Leg:
    asset: str
    inst: Instrument
    price: Decimal  # in the instrument's quote
    price_base: Decimal  # in the base currency
    current: Decimal
    available: Decimal
    target: Decimal  # quantity
    side: str | None = None
    quantity: Decimal = ZERO
    skipped: str | None = None

    @property
    def signed(self) -> Decimal:
        if self.skipped is not None or self.side is None:
            return ZERO
        return self.quantity if self.side == "buy" else -self.quantity


@dataclass
class Plan:
    base: str
    base_places: int
    cash: str
    cash_places: int
    total: Decimal
    weights: dict[str, Decimal]
    legs: list[Leg]
    current_values: dict[str, Decimal]  # base currency, platform holdings valued
    cash_before: Decimal
    cash_after: Decimal
    cash_rate: Decimal  # cash -> base
    taker_fee_rate: Decimal
    notes: list[str] = field(default_factory=list)
    orders: list[Any] = field(default_factory=list)
    executed: bool = False

    def fingerprint(self) -> str:
        body = "|".join(f"{leg.inst.symbol}:{leg.side}:{plain(leg.quantity)}" for leg in self.legs
                        if leg.skipped is None)
        body += "|" + ",".join(f"{k}={plain(v)}" for k, v in sorted(self.weights.items()))
        return hashlib.sha256(body.encode()).hexdigest()

    def expected_values(self) -> dict[str, Decimal]:
        values = {k: v for k, v in self.current_values.items()}
        for leg in self.legs:
            values[leg.asset] = (leg.current + leg.signed) * leg.price_base
        values[self.cash] = self.cash_after * self.cash_rate
        return values

    def view(self) -> RebalanceView:
        before, after = self.current_values, self.expected_values()
        total_after = sum(after.values(), ZERO)
        symbols = list(dict.fromkeys([*self.weights, *[leg.asset for leg in self.legs],
                                      *[s for s, v in before.items() if v]]))

        def share(values: dict[str, Decimal], symbol: str, total: Decimal) -> float | None:
            if total <= 0:
                return None
            return float(values.get(symbol, ZERO) / total)

        qp = {leg.asset: leg.inst.quantity_places for leg in self.legs}
        legs = [PlanLeg(index=i, symbol=leg.inst.symbol, asset=leg.asset, side=leg.side,
                        quantity=exact(leg.quantity, qp[leg.asset]), price=exact(leg.price, leg.inst.price_places),
                        notional=exact(leg.quantity * leg.price, leg.inst.quote_places),
                        current_quantity=leg.current.normalize(), target_quantity=leg.target.normalize(),
                        expected_quantity=(leg.current + leg.signed).normalize(), skipped=leg.skipped)
                for i, leg in enumerate(self.legs)]
        weights = [ExpectedWeight(symbol=s, target=self.weights.get(s, ZERO), current=share(before, s, self.total),
                                  expected=share(after, s, total_after)) for s in symbols]
        return RebalanceView(base_currency=self.base, cash=self.cash, total_value=self.total, executed=self.executed,
                             order_type=ORDER_TYPE, legs=legs, weights=weights, orders=self.orders, notes=self.notes)


def _instrument_for(session: Session, asset: str, base: str,
                    instruments: dict[str, tuple[str, str, Decimal | None]]) -> Instrument:
    from du_core.trading import exchange

    for symbol in dict.fromkeys((f"{asset}-{base}", f"{asset}-{valuation.DEFAULT_BASE}")):
        if symbol in instruments:
            return exchange.instrument(session, symbol, lock=False)
    raise InvalidInput(f"{asset} cannot be traded here: there is no instrument {asset}-{base}"
                       + ("" if base == valuation.DEFAULT_BASE else f" or {asset}-{valuation.DEFAULT_BASE}")
                       + " (see du trading pairs)", details={"field": "target", "symbol": asset})


def plan(session: Session, user_id: uuid.UUID, req: RebalanceRequest) -> Plan:
    """The orders that bring the user's platform holdings to `req.targets` (see the module's rules).

    Raises:
        InvalidInput: bad weights, an unknown symbol, an asset without an instrument, two cash
            currencies, or a cash target that is not the instruments' quote currency.
        InvalidState: an instrument without a price, or nothing of value to rebalance.
    """
    from du_core.admin import settings as platform
    from du_core.ledger import book
    from du_core.trading import fees

    weights = parse_weights(req.targets)
    val = valuation.value(session, user_id)
    base = val.base
    pricer = valuation.Pricer(session, base)
    for symbol in weights:
        if symbol not in pricer.kinds:
            raise InvalidInput(f"unknown asset {symbol}: targets are asset codes such as BTC or USD",
                               details={"field": "target", "symbol": symbol})
    platform_holdings = {h.symbol: h for h in val.holdings if h.source == "platform"}
    balances = book.balances(session, user_id)
    notes: list[str] = []
    named_cash = [s for s in weights if pricer.is_cash(s)]
    non_cash = [s for s in dict.fromkeys([*weights, *platform_holdings]) if not pricer.is_cash(s)]
    instruments: dict[str, Instrument] = {}
    for asset in non_cash:
        if asset not in weights:
            try:
                instruments[asset] = _instrument_for(session, asset, base, pricer.instruments)
            except InvalidInput:
                notes.append(f"{asset} is held but cannot be traded: it is left as it is")
                continue
            notes.append(f"{asset} is not in the targets: its target weight is 0")
        else:
            instruments[asset] = _instrument_for(session, asset, base, pricer.instruments)
    quotes = sorted({inst.quote for inst in instruments.values()})
    if len(quotes) > 1:
        raise InvalidInput(f"the targets trade against different currencies ({', '.join(quotes)}): rebalance one "
                           "cash currency at a time", details={"field": "target", "quotes": quotes})
    cash = quotes[0] if quotes else (named_cash[0] if named_cash else base)
    if len(named_cash) > 1 or (named_cash and named_cash[0] != cash):
        raise InvalidInput(f"the cash target must be {cash}, the currency the instruments trade against",
                           details={"field": "target", "cash": cash})
    cash_rate = pricer.rate(cash)
    if cash_rate is None:
        raise InvalidState(f"no exchange rate from {cash} to {base}", details={"from": cash, "to": base})
    current_values = {h.symbol: h.value for h in platform_holdings.values() if h.value is not None}
    total = sum(current_values.values(), ZERO)
    unvalued = [h.symbol for h in platform_holdings.values() if h.value is None]
    if unvalued:
        notes.append(f"not valued, left out of the total: {', '.join(unvalued)}")
    if total <= 0:
        raise InvalidState("nothing of value is held on the platform to rebalance: deposit first")
    settings = platform.current(session)
    _maker, taker, _volume = fees.rates_for(session, user_id, settings)
    legs: list[Leg] = []
    with localcontext() as ctx:
        ctx.prec = 60
        for asset, inst in instruments.items():
            holding = platform_holdings.get(asset)
            price = valuation.route(session, inst.symbol, base, kinds=pricer.kinds,
                                    instruments=pricer.instruments).price
            if price is None and asset not in weights:
                notes.append(f"{asset} is held but {inst.symbol} has no price yet: it is left as it is")
                continue
            if price is None:
                raise InvalidState(f"no price for {inst.symbol}: it has no trade or candle yet",
                                   details={"symbol": inst.symbol})
            price_base = price * cash_rate
            current = holding.quantity if holding is not None else ZERO
            available = balances.get(asset, {}).get("available", ZERO)
            target = weights.get(asset, ZERO) * total / price_base
            legs.append(Leg(asset=asset, inst=inst, price=price, price_base=price_base, current=current,
                            available=available, target=target))
        cash_balance = balances.get(cash, {}).get("available", ZERO)
        for leg in legs:
            delta = leg.target - leg.current
            leg.side = "buy" if delta > 0 else "sell"
            leg.quantity = _floor(abs(delta), leg.inst.lot)
            if leg.side == "sell" and leg.quantity > leg.available:
                leg.quantity = _floor(leg.available, leg.inst.lot)
                notes.append(f"{leg.asset}: only the available {plain(leg.available.normalize())} can be sold "
                             "(the rest is reserved by open orders)")
            _check_rules(leg)
        legs.sort(key=lambda leg: (leg.side != "sell", leg.asset))
        cash_places = pricer.kinds.get(cash, ("fiat", 2))[1]
        for leg in legs:
            if leg.skipped is not None or leg.side != "sell":
                continue
            notional = leg.quantity * leg.price
            cash_balance += notional - notional * taker
        for leg in legs:
            if leg.skipped is not None or leg.side != "buy":
                continue
            unit_cost = leg.price * (1 + taker)
            if leg.quantity * unit_cost > cash_balance:
                leg.quantity = _floor(cash_balance / unit_cost, leg.inst.lot)
                notes.append(f"{leg.asset}: the buy is reduced to what the cash after the sells pays (fees included)")
                _check_rules(leg)
                if leg.skipped is not None:
                    continue
            cash_balance -= leg.quantity * unit_cost
        cash_before = balances.get(cash, {}).get("available", ZERO) + balances.get(cash, {}).get("held", ZERO)
        cash_after = cash_before + sum((-leg.signed * leg.price - abs(leg.signed) * leg.price * taker
                                        for leg in legs), ZERO)
    notes.append(f"orders are {ORDER_TYPE} orders at the shown prices; a fill may differ within the price band")
    return Plan(base=base, base_places=val.base_places, cash=cash, cash_places=cash_places, total=total,
                weights=weights, legs=legs, current_values=current_values, cash_before=cash_before,
                cash_after=cash_after, cash_rate=cash_rate, taker_fee_rate=taker, notes=notes)


def _check_rules(leg: Leg) -> None:
    """Skip a leg that is empty or breaks the instrument's minimums; cap it at the maximum quantity."""
    inst = leg.inst
    leg.skipped = None
    if leg.quantity == 0:
        leg.skipped = "within one lot of the target already"
    elif leg.quantity < inst.min_quantity:
        leg.skipped = f"below the minimum quantity of {plain(inst.min_quantity.normalize())}"
    elif leg.quantity * leg.price < inst.min_notional:
        leg.skipped = (f"order value below the minimum of {plain(inst.min_notional.normalize())} {inst.quote}")
    elif leg.quantity > inst.max_quantity:
        leg.quantity = _floor(inst.max_quantity, inst.lot)
    if leg.skipped is not None and leg.quantity == 0:
        leg.side = None


def leg_key(prefix: str, index: int) -> str:
    return f"rebalance-{prefix}-{index}"


def execute(session: Session, actor: Actor, plan_: Plan, *, key: str | None) -> RebalanceView:
    """Place the plan's orders (sells first) through `trading.place`; returns the plan with the orders."""
    from du_core.trading.schemas import PlaceOrder
    from du_core.trading.service import place_order
    from du_core.validation import parse

    seed = f"{actor.user_id}:{key}" if key is not None else plan_.fingerprint()
    prefix = hashlib.sha256(seed.encode()).hexdigest()[:32]
    for index, leg in enumerate(plan_.legs):
        if leg.skipped is not None or leg.side is None:
            continue
        order = place_order(session, actor, parse(
            PlaceOrder, symbol=leg.inst.symbol, side=leg.side, type=ORDER_TYPE,
            quantity=plain(exact(leg.quantity, leg.inst.quantity_places)), idempotency_key=leg_key(prefix, index)))
        plan_.orders.append(order)
    plan_.executed = True
    return plan_.view()
